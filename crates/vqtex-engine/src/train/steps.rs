//! `steps.bin`: the fixed ROIs' reconstructions at every epoch, so that a run can be scrubbed by
//! epoch without a dataset or a checkpoint per epoch.
//!
//! The fixed ROIs are [`fixed_rois`]: 2 healthy and 2 steatotic test ROIs, the ones the workbench's
//! Train pane and the Reconstructions pane show by default. The file, little-endian:
//!
//! ```text
//! header   magic "VQTXSTEP" | version u32 (1) | header_len u32 | n u32 | width u32 | height u32
//!          n x (label u8: 0 healthy, 1 steatosis | name_len u8 | name, UTF-8)
//!          n x width*height u8: the originals
//! records  epoch u32 | n x width*height u8: the reconstructions, clamped to [0, 1] and scaled to
//!          0..=255
//! ```
//!
//! A record is appended whole and synced after each epoch, as `metrics.jsonl` is; a reader ignores a
//! torn last record (another process mid-write, or a kill), and keeps the last record of an epoch
//! written twice. A resumed training first cuts the records after the epoch it resumes from.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::data::{Label, Roi, ROI_PIXELS, ROI_SIZE};

/// The file's name in a run folder.
pub const FILE: &str = "steps.bin";
const MAGIC: &[u8; 8] = b"VQTXSTEP";
const VERSION: u32 = 1;
/// Fixed part of the header: magic, version, header_len, n, width, height.
const FIXED: usize = 8 + 5 * 4;
/// The most ROIs a file may declare (a damaged or hostile header cannot size a huge allocation).
const MAX_ROIS: usize = 256;

/// One pixel of a reconstruction (model output in [0, 1]) as a grey level.
pub fn quantise(v: f32) -> u8 {
    // NaN becomes 0.
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// 2 healthy and 2 steatotic test ROIs spread over the test set (`test` in dataset order); `pick`
/// moves to other ones. The workbench's panes show `pick_rois(test, 0)` by default.
pub fn pick_rois<'a>(test: &[&'a Roi], pick: usize) -> Vec<&'a Roi> {
    let mut out = Vec::new();
    for label in Label::ALL {
        let of: Vec<&Roi> = test.iter().copied().filter(|r| r.label == label).collect();
        if of.is_empty() {
            continue;
        }
        let stride = (of.len() / 2).max(1);
        for k in 0..2 {
            out.push(of[(pick * 7 + k * stride) % of.len()]);
        }
    }
    out
}

/// The ROIs whose reconstructions a training keeps at every epoch.
pub fn fixed_rois<'a>(test: &[&'a Roi]) -> Vec<&'a Roi> {
    pick_rois(test, 0)
}

/// Where a fixed ROI comes from, as the header keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRoi {
    pub label: Label,
    /// The ROI's file name, cut to 255 bytes.
    pub name: String,
    pub pixels: [u8; ROI_PIXELS],
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

fn header_bytes(rois: &[StepRoi]) -> Vec<u8> {
    let mut names = Vec::new();
    for r in rois {
        let mut end = r.name.len().min(255);
        while !r.name.is_char_boundary(end) {
            end -= 1;
        }
        names.push(r.label.index() as u8);
        names.push(end as u8);
        names.extend_from_slice(&r.name.as_bytes()[..end]);
    }
    let len = FIXED + names.len() + rois.len() * ROI_PIXELS;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    for v in [VERSION, len as u32, rois.len() as u32, 28, 28] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&names);
    for r in rois {
        out.extend_from_slice(&r.pixels);
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Reads and checks a header; returns the ROIs and the header's length.
fn read_header(f: &mut File, path: &Path) -> io::Result<(Vec<StepRoi>, u64)> {
    let mut fixed = [0u8; FIXED];
    f.read_exact(&mut fixed)
        .map_err(|_| invalid(path, "shorter than its header"))?;
    if &fixed[..8] != MAGIC {
        return Err(invalid(path, "not a vqtex steps file"));
    }
    let version = u32_at(&fixed, 8);
    if version != VERSION {
        return Err(invalid(
            path,
            format!("version {version}, this vqtex reads 1"),
        ));
    }
    let (len, n) = (u32_at(&fixed, 12) as usize, u32_at(&fixed, 16) as usize);
    let (w, h) = (u32_at(&fixed, 20) as usize, u32_at(&fixed, 24) as usize);
    if (w, h) != (ROI_SIZE, ROI_SIZE) {
        return Err(invalid(path, format!("{w}x{h} images, not 28x28")));
    }
    if n == 0 || n > MAX_ROIS {
        return Err(invalid(path, format!("{n} ROIs (1 to {MAX_ROIS})")));
    }
    // Names take at most 257 bytes each.
    let most = FIXED + n * (257 + ROI_PIXELS);
    if len < FIXED + n * (2 + ROI_PIXELS) || len > most {
        return Err(invalid(
            path,
            format!("a header of {len} bytes for {n} ROIs"),
        ));
    }
    let mut rest = vec![0u8; len - FIXED];
    f.read_exact(&mut rest)
        .map_err(|_| invalid(path, "shorter than its header"))?;
    let mut at = 0;
    let mut rois = Vec::with_capacity(n);
    for _ in 0..n {
        let bad = || invalid(path, "damaged ROI names");
        let label = match rest.get(at) {
            Some(0) => Label::Healthy,
            Some(1) => Label::Steatosis,
            _ => return Err(bad()),
        };
        let k = *rest.get(at + 1).ok_or_else(bad)? as usize;
        let name = rest.get(at + 2..at + 2 + k).ok_or_else(bad)?;
        rois.push(StepRoi {
            label,
            name: String::from_utf8_lossy(name).into_owned(),
            pixels: [0; ROI_PIXELS],
        });
        at += 2 + k;
    }
    if rest.len() - at != n * ROI_PIXELS {
        return Err(invalid(path, "the header's length does not match its ROIs"));
    }
    for (r, px) in rois.iter_mut().zip(rest[at..].chunks_exact(ROI_PIXELS)) {
        r.pixels.copy_from_slice(px);
    }
    Ok((rois, len as u64))
}

/// A run's step images, read lazily: the header and the epochs on opening, one record on asking.
#[derive(Debug, Clone, PartialEq)]
pub struct StepImages {
    path: PathBuf,
    rois: Vec<StepRoi>,
    header_len: u64,
    /// Whole records' epochs, in file order.
    records: Vec<u32>,
}

impl StepImages {
    /// Opens the steps file of the run folder `run`. `Ok(None)` when the run has none (trained
    /// before vqtex kept them, or no epoch has finished yet).
    pub fn open(run: &Path) -> io::Result<Option<StepImages>> {
        Self::open_file(&run.join(FILE))
    }

    /// Opens a steps file by its path.
    pub fn open_file(path: &Path) -> io::Result<Option<StepImages>> {
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !f.metadata()?.is_file() {
            return Err(invalid(path, "not a regular file"));
        }
        let (rois, header_len) = read_header(&mut f, path)?;
        let mut s = StepImages {
            path: path.to_path_buf(),
            rois,
            header_len,
            records: Vec::new(),
        };
        s.scan(&mut f)?;
        Ok(Some(s))
    }

    fn record_len(&self) -> u64 {
        4 + (self.rois.len() * ROI_PIXELS) as u64
    }

    /// Reads the epochs of the whole records (a torn last one is left out).
    fn scan(&mut self, f: &mut File) -> io::Result<()> {
        let len = f.metadata()?.len();
        let whole = len.saturating_sub(self.header_len) / self.record_len();
        self.records.clear();
        let mut epoch = [0u8; 4];
        for i in 0..whole {
            f.seek(SeekFrom::Start(self.header_len + i * self.record_len()))?;
            f.read_exact(&mut epoch)?;
            self.records.push(u32::from_le_bytes(epoch));
        }
        Ok(())
    }

    /// The fixed ROIs: labels, names and originals.
    pub fn rois(&self) -> &[StepRoi] {
        &self.rois
    }

    /// The epochs that have a record, ascending, each once.
    pub fn epochs(&self) -> Vec<u32> {
        let mut e = self.records.clone();
        e.sort_unstable();
        e.dedup();
        e
    }

    /// The newest epoch with a record at or before `epoch`.
    pub fn at_or_before(&self, epoch: u32) -> Option<u32> {
        self.records.iter().copied().filter(|&e| e <= epoch).max()
    }

    /// The reconstructions of `epoch` (the last record written for it), one per fixed ROI; `None`
    /// when it has no record.
    pub fn at(&self, epoch: u32) -> io::Result<Option<Vec<[u8; ROI_PIXELS]>>> {
        let Some(i) = self.records.iter().rposition(|&e| e == epoch) else {
            return Ok(None);
        };
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(
            self.header_len + i as u64 * self.record_len() + 4,
        ))?;
        let mut bytes = vec![0u8; self.rois.len() * ROI_PIXELS];
        f.read_exact(&mut bytes)?;
        Ok(Some(
            bytes
                .chunks_exact(ROI_PIXELS)
                .map(|c| {
                    let mut img = [0u8; ROI_PIXELS];
                    img.copy_from_slice(c);
                    img
                })
                .collect(),
        ))
    }
}

/// The training's end: writes the header once and appends a record per epoch.
#[derive(Debug)]
pub struct StepWriter {
    path: PathBuf,
    n: usize,
    /// The length of the file up to its last whole record.
    len: u64,
}

impl StepWriter {
    /// Prepares `path` for the records after `resume_from` (0 for a new run): a file with the same
    /// fixed ROIs keeps its records up to that epoch (a torn tail and later epochs are cut);
    /// otherwise (none, damaged, other ROIs) a new file with only the header is written.
    pub fn start(path: &Path, rois: &[&Roi], resume_from: usize) -> io::Result<StepWriter> {
        let fixed: Vec<StepRoi> = rois
            .iter()
            .map(|r| {
                let mut pixels = [0u8; ROI_PIXELS];
                // A ROI always has 784 pixels; a short one is padded with black, never a panic.
                let k = r.pixels.len().min(ROI_PIXELS);
                pixels[..k].copy_from_slice(&r.pixels[..k]);
                StepRoi {
                    label: r.label,
                    name: r.file.clone(),
                    pixels,
                }
            })
            .collect();
        if fixed.is_empty() || fixed.len() > MAX_ROIS {
            return Err(invalid(path, format!("{} fixed ROIs", fixed.len())));
        }
        let header = header_bytes(&fixed);
        let kept = match StepImages::open_file(path) {
            Ok(Some(old)) if old.rois == fixed && resume_from > 0 => {
                // Records are in epoch order: keep those up to the first one after the resume.
                let keep = old
                    .records
                    .iter()
                    .position(|&e| e as usize > resume_from)
                    .unwrap_or(old.records.len());
                Some(old.header_len + keep as u64 * old.record_len())
            }
            _ => None,
        };
        let len = match kept {
            Some(len) => {
                let f = OpenOptions::new().write(true).open(path)?;
                if f.metadata()?.len() != len {
                    f.set_len(len)?;
                    f.sync_all()?;
                }
                len
            }
            None => {
                crate::fs::write_atomic(path, &header)?;
                header.len() as u64
            }
        };
        Ok(StepWriter {
            path: path.to_path_buf(),
            n: fixed.len(),
            len,
        })
    }

    /// Appends `epoch`'s reconstructions (one per fixed ROI, values in [0, 1]) and syncs. On an
    /// error the file is cut back to its last whole record.
    pub fn append(&mut self, epoch: usize, recons: &[Vec<f32>]) -> io::Result<()> {
        if recons.len() != self.n || recons.iter().any(|r| r.len() != ROI_PIXELS) {
            return Err(invalid(
                &self.path,
                format!(
                    "{} reconstructions for {} fixed ROIs of {ROI_PIXELS} pixels",
                    recons.len(),
                    self.n
                ),
            ));
        }
        let epoch = u32::try_from(epoch).map_err(|_| invalid(&self.path, "epoch past u32"))?;
        let mut record = Vec::with_capacity(4 + self.n * ROI_PIXELS);
        record.extend_from_slice(&epoch.to_le_bytes());
        for r in recons {
            record.extend(r.iter().map(|&v| quantise(v)));
        }
        let mut f = OpenOptions::new().append(true).open(&self.path)?;
        let written = f
            .write_all(&record)
            .and_then(|()| f.flush())
            .and_then(|()| f.sync_data());
        match written {
            Ok(()) => {
                self.len += record.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = f.set_len(self.len);
                Err(e)
            }
        }
    }
}

/// The size of a steps file with `n` fixed ROIs (names of `names` bytes in all) and `epochs`
/// records.
pub fn file_size(n: usize, names: usize, epochs: usize) -> u64 {
    (FIXED + 2 * n + names + n * ROI_PIXELS + epochs * (4 + n * ROI_PIXELS)) as u64
}

#[cfg(test)]
mod tests;

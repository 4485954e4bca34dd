//! ROI extraction from full frames: a coords CSV (`file,liver_x,liver_y,kidney_x,kidney_y`, top-left
//! corners of 28x28 boxes) over a frames folder gives HI-normalised liver ROIs in a ROI folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::contain::{check_apart, check_relative, out_name};
use super::folder::{read_gray_png, write_folder};
use super::frames::{find_column, read_frames_csv_with, FrameRecord, StagedDir};
use super::roi::{normalise, HiError};
use super::{DataError, Roi, ROI_SIZE};

/// Columns of a coords CSV, in the order vqtex writes them.
pub const COORDS_HEADER: [&str; 5] = ["file", "liver_x", "liver_y", "kidney_x", "kidney_y"];

/// Top-left corners of a frame's liver and kidney boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Boxes {
    pub liver: (u32, u32),
    pub kidney: (u32, u32),
}

/// The 28x28 box at (x, y) of a row-major `width x height` image, or why it does not fit. All
/// arithmetic is done in u64, so corners near `u32::MAX` are refused, never wrapped around.
pub fn crop(pixels: &[u8], width: u32, height: u32, (x, y): (u32, u32)) -> Result<Vec<u8>, String> {
    let s = ROI_SIZE as u64;
    let (x, y, w, h) = (x as u64, y as u64, width as u64, height as u64);
    if x + s > w || y + s > h {
        return Err(format!(
            "box at x={x}, y={y} ends at ({}, {}), outside the {width}x{height} frame",
            x + s - 1,
            y + s - 1
        ));
    }
    if (pixels.len() as u64) < w * h {
        return Err(format!(
            "the {width}x{height} frame holds only {} pixels",
            pixels.len()
        ));
    }
    let mut out = Vec::with_capacity(ROI_SIZE * ROI_SIZE);
    for r in y..y + s {
        // In bounds: r < h and x + s <= w, so start + s <= w * h <= pixels.len().
        let start = (r * w + x) as usize;
        out.extend_from_slice(&pixels[start..start + ROI_SIZE]);
    }
    Ok(out)
}

/// Reads a coords CSV, keyed by file name, with the line of each row. Bad rows go to `problems`.
pub fn read_coords(
    path: &Path,
    problems: &mut Vec<String>,
) -> Result<BTreeMap<String, (Boxes, u64)>, DataError> {
    if !path.is_file() {
        return Err(DataError::MissingLabels(path.to_path_buf()));
    }
    let csv_err = |e: csv::Error| DataError::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let mut idx = [0usize; 5];
    for (i, name) in COORDS_HEADER.iter().enumerate() {
        idx[i] = find_column(&headers, name).ok_or_else(|| DataError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            available: headers.iter().collect::<Vec<_>>().join(", "),
            hint: "a coords CSV has columns file,liver_x,liver_y,kidney_x,kidney_y",
        })?;
    }
    let mut out = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at = format!("{}, line {line}", path.display());
        let file = record.get(idx[0]).unwrap_or("").to_string();
        let mut v = [0u32; 4];
        let mut ok = !file.is_empty();
        if !ok {
            problems.push(format!("{at}: empty file name"));
        } else if let Err(why) = check_relative(&file) {
            problems.push(format!("{at}: {why}"));
            ok = false;
        }
        for k in 0..4 {
            let s = record.get(idx[k + 1]).unwrap_or("");
            match s.parse::<u32>() {
                Ok(n) => v[k] = n,
                Err(_) => {
                    problems.push(format!(
                        "{at}: {} '{s}' is not a whole number of pixels >= 0",
                        COORDS_HEADER[k + 1]
                    ));
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let boxes = Boxes {
            liver: (v[0], v[1]),
            kidney: (v[2], v[3]),
        };
        if let Some((_, first)) = out.insert(file.clone(), (boxes, line)) {
            problems.push(format!("{at}: '{file}' already has boxes on line {first}"));
        }
    }
    Ok(out)
}

/// Writes a coords CSV (atomically: a partly done set survives a crash).
pub fn write_coords(path: &Path, rows: &[(String, Boxes)]) -> Result<(), DataError> {
    let mut text = COORDS_HEADER.join(",");
    text.push('\n');
    for (file, b) in rows {
        text.push_str(&format!(
            "{file},{},{},{},{}\n",
            b.liver.0, b.liver.1, b.kidney.0, b.kidney.1
        ));
    }
    crate::fs::write_atomic(path, text.as_bytes()).map_err(|e| DataError::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The liver and kidney ROIs of a frame, the HI and the normalised liver ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub liver: Vec<u8>,
    pub kidney: Vec<u8>,
    pub hi: f64,
    pub normalised: Vec<u8>,
}

/// Crops both boxes of a frame and normalises the liver ROI by the HI.
pub fn extract_frame(
    pixels: &[u8],
    width: u32,
    height: u32,
    b: Boxes,
) -> Result<Extracted, String> {
    let liver = crop(pixels, width, height, b.liver).map_err(|e| format!("liver {e}"))?;
    let kidney = crop(pixels, width, height, b.kidney).map_err(|e| format!("kidney {e}"))?;
    let (normalised, hi) = normalise(&liver, &kidney).map_err(|e| match e {
        HiError::ZeroKidney => {
            "the kidney ROI has mean 0 (all black): move the kidney box onto the renal cortex"
                .to_string()
        }
        other => other.to_string(),
    })?;
    // A liver box on black pixels gives HI 0, which training refuses: say so here, naming the box.
    if !(hi.is_finite() && hi > 0.0) {
        return Err(format!(
            "the liver ROI at x={}, y={} has mean 0 (all black), so the HI would be {hi}: move the \
             liver box onto liver tissue",
            b.liver.0, b.liver.1
        ));
    }
    Ok(Extracted {
        liver,
        kidney,
        hi,
        normalised,
    })
}

/// What `roi extract` did.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractSummary {
    pub rois: usize,
    pub patients: usize,
    pub out: PathBuf,
}

/// Extracts the HI-normalised liver ROI of every frame of a frames folder into a new ROI folder with
/// `labels.csv` (`file,patient,label,hi`). Every frame needs boxes and every row of boxes a frame;
/// all problems are listed together and nothing is written unless all frames succeed. Frames are
/// read only from inside the frames folder; ROI file names are derived from frame names
/// ([`out_name`]) and written only inside `out`, which must lie apart from the frames folder.
pub fn extract_rois(
    frames_dir: &Path,
    coords: &Path,
    out: &Path,
) -> Result<ExtractSummary, DataError> {
    extract_rois_with(frames_dir, coords, out, false)
}

/// [`extract_rois`], optionally reading frames through symbolic links that lead out of the frames
/// folder (`--allow-links`; writes never follow input names).
pub fn extract_rois_with(
    frames_dir: &Path,
    coords: &Path,
    out: &Path,
    allow_links: bool,
) -> Result<ExtractSummary, DataError> {
    check_apart(out, frames_dir)?;
    let frames = read_frames_csv_with(frames_dir, allow_links)?;
    let staged = StagedDir::new(out)?;
    let mut problems = Vec::new();
    // Output names, derived from frame names, must not collide (even ignoring case).
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for f in &frames {
        let name = out_name(&f.file);
        if let Some(other) = names.insert(name.to_lowercase(), &f.file) {
            problems.push(format!(
                "frames '{other}' and '{}' would both be written as ROI '{name}': rename one in {}",
                f.file,
                frames_dir.join(super::frames::FRAMES_CSV).display()
            ));
        }
    }
    let boxes = read_coords(coords, &mut problems)?;
    let by_file: BTreeMap<&str, &FrameRecord> =
        frames.iter().map(|f| (f.file.as_str(), f)).collect();
    for (file, (_, line)) in &boxes {
        if !by_file.contains_key(file.as_str()) {
            problems.push(format!(
                "{}, line {line}: boxes for '{file}', which is not a frame of {}",
                coords.display(),
                frames_dir.join(super::frames::FRAMES_CSV).display()
            ));
        }
    }
    let missing: Vec<&str> = frames
        .iter()
        .filter(|f| !boxes.contains_key(&f.file))
        .map(|f| f.file.as_str())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} frame{} without boxes in {}: {}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            coords.display(),
            missing.join(", ")
        ));
    }
    let mut rois = Vec::new();
    for f in &frames {
        let Some((b, line)) = boxes.get(&f.file) else {
            continue;
        };
        let path = frames_dir.join(&f.file);
        let img = match read_gray_png(&path) {
            Ok(img) => img,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let (w, h) = img.dimensions();
        match extract_frame(img.as_raw(), w, h, *b) {
            Ok(e) => rois.push(Roi {
                file: out_name(&f.file),
                patient: f.patient.clone(),
                label: f.label,
                pixels: e.normalised,
                hi: Some(e.hi),
                split: None,
                fat: f.fat,
            }),
            Err(msg) => problems.push(format!(
                "{}, line {line} ({}): {msg}",
                coords.display(),
                f.file
            )),
        }
    }
    if !problems.is_empty() {
        return Err(DataError::Problems(problems));
    }
    write_folder(staged.path(), &rois)?;
    staged.commit()?;
    let patients = rois
        .iter()
        .map(|r| &r.patient)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Ok(ExtractSummary {
        rois: rois.len(),
        patients,
        out: out.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::frames::{save_gray, write_frames_csv};
    use crate::data::{load_folder, Label, LoadOptions, PatientId};

    /// A 60x40 frame: liver (left half) at `liver`, kidney (right half) at `kidney`.
    fn frames_dir(dir: &Path, kidney: u8) {
        std::fs::create_dir_all(dir).unwrap();
        let mut recs = Vec::new();
        for (i, p) in ["01", "02"].iter().enumerate() {
            let file = format!("p{p}_f0.png");
            let px: Vec<u8> = (0..40 * 60)
                .map(|k| if k % 60 < 30 { 120 } else { kidney })
                .collect();
            save_gray(&dir.join(&file), 60, 40, px).unwrap();
            recs.push(FrameRecord {
                file,
                patient: PatientId(p.to_string()),
                frame: 0,
                label: if i == 0 {
                    Label::Healthy
                } else {
                    Label::Steatosis
                },
                fat: None,
            });
        }
        write_frames_csv(dir, &recs).unwrap();
    }

    #[test]
    fn extracts_normalised_rois_with_hi() {
        let tmp = tempfile::tempdir().unwrap();
        let frames = tmp.path().join("frames");
        frames_dir(&frames, 80);
        let coords = tmp.path().join("coords.csv");
        std::fs::write(
            &coords,
            "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,0,0,32,12\np02_f0.png,2,5,31,0\n",
        )
        .unwrap();
        let out = tmp.path().join("rois");
        let s = extract_rois(&frames, &coords, &out).unwrap();
        assert_eq!((s.rois, s.patients), (2, 2));
        let d = load_folder(&out, &LoadOptions::default()).unwrap();
        assert_eq!(d.rois.len(), 2);
        // HI = 120 / 80 = 1.5; 120 * 1.5 = 180.
        assert!(d
            .rois
            .iter()
            .all(|r| r.hi == Some(1.5) && r.pixels.iter().all(|&p| p == 180)));
        assert_eq!(d.rois[1].label, Label::Steatosis);
    }

    #[test]
    fn every_problem_is_listed_and_nothing_written() {
        let tmp = tempfile::tempdir().unwrap();
        let frames = tmp.path().join("frames");
        frames_dir(&frames, 0);
        let coords = tmp.path().join("coords.csv");
        // p01: kidney box is black; p02 missing; a box outside; a row for a missing frame.
        std::fs::write(
            &coords,
            "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,0,0,32,12\nghost.png,0,0,0,0\nx.png,0,0,50,0\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("c2.csv"),
            "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,0,0,40,0\np02_f0.png,0,20,30,0\n",
        )
        .unwrap();
        let out = tmp.path().join("rois");
        let e = extract_rois(&frames, &coords, &out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mean 0"), "{e}");
        assert!(
            e.contains("'ghost.png', which is not a frame") && e.contains("'x.png'"),
            "{e}"
        );
        assert!(
            e.contains("1 frame without boxes") && e.contains("p02_f0.png"),
            "{e}"
        );
        assert!(!out.exists());
        let e = extract_rois(&frames, &tmp.path().join("c2.csv"), &out)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("kidney box at x=40, y=0") && e.contains("outside the 60x40 frame"),
            "{e}"
        );
        assert!(e.contains("liver box at x=0, y=20"), "{e}");
        assert!(!out.exists());
    }

    /// The TUI picker's `r` calls [`extract_rois`]: hostile frames.csv names are refused there too,
    /// and nothing outside the output is written.
    #[test]
    fn hostile_frame_names_are_refused_and_nothing_outside_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim.png");
        save_gray(&victim, 60, 40, vec![9; 2400]).unwrap();
        let before = std::fs::read(&victim).unwrap();
        let frames = tmp.path().join("frames");
        frames_dir(&frames, 80);
        let abs = victim.display().to_string();
        for name in ["../victim.png", abs.as_str()] {
            let csv = std::fs::read_to_string(frames.join("frames.csv")).unwrap();
            let csv = csv.replace("p02_f0.png", name);
            std::fs::write(frames.join("frames.csv"), &csv).unwrap();
            let coords = tmp.path().join("coords.csv");
            std::fs::write(
                &coords,
                format!(
                    "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,0,0,32,12\n{name},0,0,32,12\n"
                ),
            )
            .unwrap();
            let out = tmp.path().join("frames-rois");
            let e = extract_rois(&frames, &coords, &out)
                .unwrap_err()
                .to_string();
            assert!(e.contains("frames.csv, line 3"), "{e}");
            assert!(!out.exists());
            assert_eq!(std::fs::read(&victim).unwrap(), before);
            std::fs::write(frames.join("frames.csv"), csv.replace(name, "p02_f0.png")).unwrap();
        }
    }

    #[test]
    fn coords_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("c.csv");
        let rows = vec![(
            "a.png".to_string(),
            Boxes {
                liver: (1, 2),
                kidney: (3, 4),
            },
        )];
        write_coords(&p, &rows).unwrap();
        let mut problems = Vec::new();
        let got = read_coords(&p, &mut problems).unwrap();
        assert!(problems.is_empty());
        assert_eq!(got["a.png"], (rows[0].1, 2));
    }
}

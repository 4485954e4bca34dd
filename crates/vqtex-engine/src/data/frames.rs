//! Full B-mode frames on disk: 8-bit gray PNGs plus `frames.csv` (`file,patient,frame,label,fat`),
//! made by `vqtex import` from the Byra .mat file, a folder of PNG frames or DICOM files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use regex::Regex;

use super::contain::{
    canonical_dir, check_apart, check_relative, resolve, resolved_as_far_as_it_exists, Resolved,
};
use super::dicom::{is_dicom, read_dicom};
use super::folder::read_gray_png;
use super::mat::{ByraReader, MatPatient};
use super::{patient_order, DataError, Label, PatientId};

/// Name of the frames table inside a frames folder.
pub const FRAMES_CSV: &str = "frames.csv";

/// One frame of a frames folder.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    /// File name relative to the folder.
    pub file: String,
    pub patient: PatientId,
    /// Position of the frame within its patient, from 0.
    pub frame: usize,
    pub label: Label,
    /// Fat percentage, when known.
    pub fat: Option<f64>,
}

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    pub patients: usize,
    pub frames: usize,
    pub healthy: usize,
    pub steatotic: usize,
}

impl ImportSummary {
    fn of(records: &[FrameRecord]) -> ImportSummary {
        let mut patients: BTreeMap<&PatientId, Label> = BTreeMap::new();
        for r in records {
            patients.insert(&r.patient, r.label);
        }
        ImportSummary {
            patients: patients.len(),
            frames: records.len(),
            healthy: patients.values().filter(|&&l| l == Label::Healthy).count(),
            steatotic: patients
                .values()
                .filter(|&&l| l == Label::Steatosis)
                .count(),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An output folder filled in a hidden sibling (`.NAME.partial-PID`) and renamed into place on
/// [`StagedDir::commit`]: an error part way (or a panic) leaves nothing behind, a folder that is not
/// empty is refused up front, and so is an output that is a symbolic link (the writes would land
/// wherever it points). Partial folders of the same output left by processes that no longer run (a
/// kill) are removed on creation.
#[derive(Debug)]
pub struct StagedDir {
    out: PathBuf,
    tmp: PathBuf,
    done: bool,
}

/// Whether process `pid` may still be running on this host. Only Linux can tell (`/proc/PID`);
/// elsewhere every process counts as alive, so no one else's partial folder is ever touched.
fn may_be_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes `.NAME.partial-PID` folders in `parent` whose process is gone (real folders only: a link
/// of that name is left alone).
fn remove_dead_partials(parent: &Path, name: &str) {
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if is_dir && pid != std::process::id() && !may_be_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl StagedDir {
    pub fn new(out: &Path) -> Result<StagedDir, DataError> {
        // `rois/` and `rois/.` name `rois`: a trailing slash must not hide a link.
        let mut out: PathBuf = out.components().collect();
        if let (Some(parent), Some(name)) = (out.parent(), out.file_name()) {
            if parent
                .components()
                .any(|c| c == std::path::Component::ParentDir)
            {
                // `new/../rois`: resolve the parent against what exists (never creating `new`);
                // the last component stays as given, so a link there is still seen.
                out = resolved_as_far_as_it_exists(parent).join(name);
            }
        }
        let unsafe_out = |message: String| DataError::Unsafe {
            path: out.clone(),
            message,
        };
        if let Ok(meta) = std::fs::symlink_metadata(&out) {
            if meta.file_type().is_symlink() {
                let to = std::fs::read_link(&out)
                    .map(|t| format!(" (to {})", t.display()))
                    .unwrap_or_default();
                return Err(unsafe_out(format!(
                    "is a symbolic link{to}: give the folder itself as the output (nothing was written)"
                )));
            }
            if !meta.is_dir() {
                return Err(unsafe_out(
                    "exists and is not a folder: choose an empty or new folder (nothing was written)"
                        .into(),
                ));
            }
            let mut entries = std::fs::read_dir(&out).map_err(io_err(&out))?;
            if entries.next().is_some() {
                return Err(DataError::NotEmpty(out.clone()));
            }
        }
        let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return Err(unsafe_out(
                "cannot be an output folder: name a new or empty folder (nothing was written)"
                    .into(),
            ));
        };
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        remove_dead_partials(&parent, &name);
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if let Ok(meta) = std::fs::symlink_metadata(&tmp) {
            // Ours from an earlier StagedDir of this process (or a reused pid): never follow a link.
            if meta.is_dir() {
                std::fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
            } else {
                std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
            }
        }
        std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        Ok(StagedDir {
            out,
            tmp,
            done: false,
        })
    }

    /// Where to write meanwhile.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the finished folder into place.
    pub fn commit(mut self) -> Result<(), DataError> {
        if let Ok(meta) = std::fs::symlink_metadata(&self.out) {
            if !meta.is_dir() {
                return Err(DataError::Unsafe {
                    path: self.out.clone(),
                    message: "appeared while writing and is not a folder (nothing was written)"
                        .into(),
                });
            }
            std::fs::remove_dir(&self.out).map_err(io_err(&self.out))?;
        }
        std::fs::rename(&self.tmp, &self.out).map_err(io_err(&self.out))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes an 8-bit gray PNG.
pub fn save_gray(path: &Path, width: u32, height: u32, pixels: Vec<u8>) -> Result<(), DataError> {
    let img =
        image::GrayImage::from_raw(width, height, pixels).ok_or_else(|| DataError::BadImage {
            path: path.to_path_buf(),
            message: format!("pixel count does not match {width}x{height}"),
        })?;
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| DataError::BadImage {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A patient id made safe for a file name.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file name vqtex gives frame `frame` of a patient: `pNN_fK.png`.
pub fn frame_file(patient: &str, frame: usize) -> String {
    format!("p{}_f{frame}.png", file_safe(patient))
}

/// Writes `frames.csv` into `dir`.
pub fn write_frames_csv(dir: &Path, records: &[FrameRecord]) -> Result<(), DataError> {
    let path = dir.join(FRAMES_CSV);
    let mut w = csv::Writer::from_path(&path).map_err(|e| DataError::Csv {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let csv_err = |e: csv::Error| DataError::Csv {
        path: path.clone(),
        message: e.to_string(),
    };
    w.write_record(["file", "patient", "frame", "label", "fat"])
        .map_err(csv_err)?;
    for r in records {
        let fat = r.fat.map(|f| format!("{f}")).unwrap_or_default();
        w.write_record([
            r.file.as_str(),
            &r.patient.0,
            &r.frame.to_string(),
            r.label.as_str(),
            &fat,
        ])
        .map_err(csv_err)?;
    }
    w.flush().map_err(io_err(&path))
}

/// Position of a column by name, case-insensitively.
pub(crate) fn find_column(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

fn need_column(
    headers: &csv::StringRecord,
    name: &str,
    path: &Path,
    hint: &'static str,
) -> Result<usize, DataError> {
    find_column(headers, name).ok_or_else(|| DataError::MissingColumn {
        path: path.to_path_buf(),
        column: name.into(),
        available: headers.iter().collect::<Vec<_>>().join(", "),
        hint,
    })
}

/// Reads `frames.csv` of a frames folder. Every file must lie inside the folder (symbolic links
/// leading out are refused) and be listed once.
pub fn read_frames_csv(dir: &Path) -> Result<Vec<FrameRecord>, DataError> {
    read_frames_csv_with(dir, false)
}

/// [`read_frames_csv`], optionally following symbolic links that lead out of the folder (for
/// reading: `--allow-links`).
pub fn read_frames_csv_with(dir: &Path, allow_links: bool) -> Result<Vec<FrameRecord>, DataError> {
    let path = dir.join(FRAMES_CSV);
    if !path.is_file() {
        return Err(DataError::MissingLabels(path));
    }
    let csv_err = |e: csv::Error| DataError::Csv {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(&path)
        .map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let hint = "frames.csv is written by `vqtex import`";
    let file_i = need_column(&headers, "file", &path, hint)?;
    let patient_i = need_column(&headers, "patient", &path, hint)?;
    let label_i = need_column(&headers, "label", &path, hint)?;
    let frame_i = find_column(&headers, "frame");
    let fat_i = find_column(&headers, "fat");
    let mut out = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let dir_canon = canonical_dir(dir)?;
    // Each file's real path (its name when missing) and the line that named it first.
    let mut lines: HashMap<PathBuf, (u64, String)> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let row_err = |message: String| DataError::Row {
            path: path.clone(),
            line,
            message,
        };
        let get = |i: usize| record.get(i).unwrap_or("");
        let (file, patient, label_text) = (get(file_i), get(patient_i), get(label_i));
        if file.is_empty() || patient.is_empty() {
            return Err(row_err("empty file or patient".into()));
        }
        let key = match resolve(
            &dir_canon,
            file,
            allow_links,
            "pass --allow-links to read it",
        )
        .map_err(&row_err)?
        {
            Resolved::Inside(real) => real,
            Resolved::Missing => dir_canon.join(file),
        };
        if let Some((first, name)) = lines.get(&key) {
            return Err(row_err(if name == file {
                format!("'{file}' is listed twice: first on line {first}")
            } else {
                format!("'{file}' is the same file as '{name}' on line {first}")
            }));
        }
        lines.insert(key, (line, file.to_string()));
        let label = Label::parse(label_text).ok_or_else(|| {
            row_err(format!(
                "unknown label '{label_text}' (expected healthy, steatosis, 0 or 1)"
            ))
        })?;
        let next = counts.entry(patient.to_string()).or_insert(0);
        let frame = match frame_i.map(get).filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse()
                .map_err(|_| row_err(format!("frame '{s}' is not a whole number")))?,
            None => *next,
        };
        *next += 1;
        let fat = match fat_i.map(get).filter(|s| !s.is_empty()) {
            Some(s) => Some(
                s.parse()
                    .map_err(|_| row_err(format!("fat '{s}' is not a number")))?,
            ),
            None => None,
        };
        out.push(FrameRecord {
            file: file.into(),
            patient: PatientId(patient.into()),
            frame,
            label,
            fat,
        });
    }
    if out.is_empty() {
        return Err(DataError::Empty(path));
    }
    Ok(out)
}

/// Imports the Byra .mat file: each patient's frames as PNGs and `frames.csv`, one patient in memory
/// at a time. `progress` sees each patient once its frames are written.
pub fn import_mat(
    file: &Path,
    out: &Path,
    mut progress: impl FnMut(&MatPatient),
) -> Result<ImportSummary, DataError> {
    let mat_err = |source| DataError::Mat {
        path: file.to_path_buf(),
        source,
    };
    let reader = ByraReader::open(file).map_err(mat_err)?;
    let staged = StagedDir::new(out)?;
    let mut records = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for patient in reader {
        let p = patient.map_err(mat_err)?;
        if let Some(first) = seen.insert(file_safe(&p.id), p.index) {
            return Err(DataError::Problems(vec![format!(
                "{}: patients {first} and {} have the same id '{}'",
                file.display(),
                p.index,
                p.id
            )]));
        }
        for f in 0..p.frames {
            let name = frame_file(&p.id, f);
            save_gray(
                &staged.path().join(&name),
                p.width as u32,
                p.height as u32,
                p.frame(f),
            )?;
            records.push(FrameRecord {
                file: name,
                patient: PatientId(p.id.clone()),
                frame: f,
                label: p.label,
                fat: p.fat,
            });
        }
        progress(&p);
    }
    if records.is_empty() {
        return Err(DataError::Problems(vec![format!(
            "{}: 'data' holds no patients",
            file.display()
        )]));
    }
    write_frames_csv(staged.path(), &records)?;
    staged.commit()?;
    Ok(ImportSummary::of(&records))
}

/// Where the labels of imported PNG or DICOM frames come from: a CSV with a row per input file.
#[derive(Debug, Clone)]
pub struct LabelSheet {
    pub csv: PathBuf,
    pub file_col: String,
    pub label_col: String,
    pub patient_col: String,
    /// Derive the patient from the file name (the regex's first group) instead of a column.
    pub patient_from: Option<Regex>,
    /// Read input files that are symbolic links leading out of the input folder (`--allow-links`).
    pub allow_links: bool,
}

impl LabelSheet {
    pub fn new(csv: PathBuf) -> LabelSheet {
        LabelSheet {
            csv,
            file_col: "file".into(),
            label_col: "label".into(),
            patient_col: "patient".into(),
            patient_from: None,
            allow_links: false,
        }
    }
}

#[derive(Debug, Clone)]
struct SheetRow {
    /// The line of the sheet naming the file.
    line: u64,
    patient: Option<String>,
    label: Label,
    fat: Option<f64>,
}

/// Reads a label sheet, keyed by file name. Bad rows are collected into `problems`.
fn read_sheet(
    sheet: &LabelSheet,
    problems: &mut Vec<String>,
) -> Result<(bool, BTreeMap<String, SheetRow>), DataError> {
    let path = &sheet.csv;
    if !path.is_file() {
        return Err(DataError::MissingLabels(path.clone()));
    }
    let csv_err = |e: csv::Error| DataError::Csv {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let file_i = need_column(&headers, &sheet.file_col, path, "name it with --file-col")?;
    let label_i = need_column(&headers, &sheet.label_col, path, "name it with --label-col")?;
    let patient_i = find_column(&headers, &sheet.patient_col);
    let fat_i = find_column(&headers, "fat");
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at = format!("{}, line {line}", path.display());
        let get = |i: usize| record.get(i).unwrap_or("");
        let file = get(file_i).to_string();
        if file.is_empty() {
            problems.push(format!("{at}: empty file name"));
            continue;
        }
        if let Err(why) = check_relative(&file) {
            problems.push(format!("{at}: {why}"));
            continue;
        }
        if let Some(first) = rows.get(&file).map(|r: &SheetRow| r.line) {
            problems.push(format!(
                "{at}: '{file}' is listed twice: first on line {first}"
            ));
            continue;
        }
        let Some(label) = Label::parse(get(label_i)) else {
            problems.push(format!(
                "{at}: unknown label '{}' (expected healthy, steatosis, 0 or 1)",
                get(label_i)
            ));
            continue;
        };
        let patient = match &sheet.patient_from {
            Some(re) => match re.captures(&file).and_then(|c| c.get(1)) {
                Some(m) => Some(m.as_str().to_string()),
                None => {
                    problems.push(format!(
                        "{at}: file name '{file}' does not match --patient-from '{}'",
                        re.as_str()
                    ));
                    continue;
                }
            },
            None => patient_i
                .map(get)
                .filter(|s| !s.is_empty())
                .map(String::from),
        };
        let fat = match fat_i.map(get).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<f64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    problems.push(format!("{at}: fat '{s}' is not a number"));
                    continue;
                }
            },
        };
        rows.insert(
            file,
            SheetRow {
                line,
                patient,
                label,
                fat,
            },
        );
    }
    Ok((patient_i.is_some() || sheet.patient_from.is_some(), rows))
}

/// Orders file names as people do: `f2` before `f10` (runs of digits compare as numbers).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, p), (true, q)) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then_with(|| p.cmp(q))
            }
            ((_, p), (_, q)) => p.cmp(q),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Which kind of frame files to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Png,
    Dicom,
}

/// Imports a folder of PNG or DICOM frames with a label sheet into a frames folder. Every input file
/// must be in the sheet and every sheet row must name an input file; all problems are listed together.
/// For DICOM without a patient column or `--patient-from`, the patient is the file's PatientID.
pub fn import_files(
    dir: &Path,
    kind: FrameKind,
    sheet: &LabelSheet,
    out: &Path,
) -> Result<ImportSummary, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingFolder(dir.to_path_buf()));
    }
    check_apart(out, dir)?;
    let dir_canon = canonical_dir(dir)?;
    let mut problems = Vec::new();
    let (has_patient, rows) = read_sheet(sheet, &mut problems)?;
    if kind == FrameKind::Png && !has_patient {
        problems.push(format!(
            "{}: no column '{}': name it with --patient-col, or derive it from file names with --patient-from REGEX",
            sheet.csv.display(),
            sheet.patient_col
        ));
    }
    let sheet_canon = sheet.csv.canonicalize().ok();
    let mut files: Vec<String> = Vec::new();
    let mut links_out: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() || name.starts_with('.') || path.canonicalize().ok() == sheet_canon {
            continue;
        }
        // A link leading out of the folder is never read (not even its magic) unless allowed.
        if let Err(why) = resolve(
            &dir_canon,
            &name,
            sheet.allow_links,
            "pass --allow-links to read it",
        ) {
            if let Some(row) = rows.get(&name) {
                problems.push(format!("{}, line {}: {why}", sheet.csv.display(), row.line));
            }
            links_out.insert(name);
            continue;
        }
        let wanted = match kind {
            FrameKind::Png => path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png")),
            FrameKind::Dicom => is_dicom(&path),
        };
        if wanted {
            files.push(name);
        }
    }
    files.sort_by(|a, b| natural_cmp(a, b));
    for f in &files {
        if !rows.contains_key(f) {
            problems.push(format!(
                "{}: not in {}",
                dir.join(f).display(),
                sheet.csv.display()
            ));
        }
    }
    for (f, row) in &rows {
        if !files.contains(f) && !links_out.contains(f) {
            problems.push(format!(
                "{}, line {}: lists '{f}', which is not a {} file in {}",
                sheet.csv.display(),
                row.line,
                match kind {
                    FrameKind::Png => "PNG",
                    FrameKind::Dicom => "DICOM",
                },
                dir.display()
            ));
        }
    }
    if files.is_empty() && rows.is_empty() {
        problems.push(format!("{}: no frames found", dir.display()));
    }
    if !problems.is_empty() {
        return Err(DataError::Problems(problems));
    }
    // Read and convert everything before writing anything.
    let staged = StagedDir::new(out)?;
    let mut labels: HashMap<String, Label> = HashMap::new();
    let mut per_patient: BTreeMap<String, usize> = BTreeMap::new();
    let mut safe_names: HashMap<String, String> = HashMap::new();
    let mut records = Vec::new();
    for f in &files {
        let row = &rows[f];
        let path = dir.join(f);
        let (frames, w, h, tag_patient): (Vec<Vec<u8>>, u32, u32, Option<String>) = match kind {
            FrameKind::Png => match read_gray_png(&path) {
                Ok(img) => {
                    let (w, h) = img.dimensions();
                    (vec![img.into_raw()], w, h, None)
                }
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            },
            FrameKind::Dicom => match read_dicom(&path) {
                Ok(d) => (d.frames, d.width, d.height, d.patient_id),
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            },
        };
        let Some(patient) = row.patient.clone().or(tag_patient) else {
            problems.push(format!(
                "{}: no patient: the sheet has no patient column and the file no PatientID (use --patient-from)",
                path.display()
            ));
            continue;
        };
        if let Some(&l) = labels.get(&patient) {
            if l != row.label {
                problems.push(format!(
                    "{}: patient {patient} has two labels: {l} and {}",
                    sheet.csv.display(),
                    row.label
                ));
                continue;
            }
        }
        labels.insert(patient.clone(), row.label);
        match safe_names.get(&file_safe(&patient)) {
            Some(other) if other != &patient => {
                problems.push(format!(
                    "patients '{other}' and '{patient}' would share the file names p{}_fK.png: rename one",
                    file_safe(&patient)
                ));
                continue;
            }
            _ => {
                safe_names.insert(file_safe(&patient), patient.clone());
            }
        }
        for frame in frames {
            let k = per_patient.entry(patient.clone()).or_insert(0);
            let name = frame_file(&patient, *k);
            save_gray(&staged.path().join(&name), w, h, frame)?;
            records.push(FrameRecord {
                file: name,
                patient: PatientId(patient.clone()),
                frame: *k,
                label: row.label,
                fat: row.fat,
            });
            *k += 1;
        }
    }
    if !problems.is_empty() {
        return Err(DataError::Problems(problems));
    }
    records.sort_by(|a, b| patient_order(&a.patient, &b.patient).then(a.frame.cmp(&b.frame)));
    write_frames_csv(staged.path(), &records)?;
    staged.commit()?;
    Ok(ImportSummary::of(&records))
}

#[cfg(test)]
mod tests;

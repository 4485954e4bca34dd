//! The ROI folder format: 28x28 PNGs plus a CSV naming them (`file,patient,label[,split][,hi]
//! [,fat]`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use super::contain::{canonical_dir, check_out_name, resolve, Resolved};
use super::{DataError, Dataset, Label, PatientId, Roi, Side, ROI_SIZE};

/// How to read a ROI folder whose CSV may name things differently.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The labels CSV; `labels.csv` inside the folder when `None`.
    pub labels: Option<PathBuf>,
    pub file_col: String,
    pub label_col: String,
    pub patient_col: String,
    /// Derive the patient id from the file name: the regex's first capture group.
    pub patient_from: Option<Regex>,
    /// Resize ROIs that are not 28x28 instead of rejecting them.
    pub resize: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            labels: None,
            file_col: "file".into(),
            label_col: "label".into(),
            patient_col: "patient".into(),
            patient_from: None,
            resize: false,
        }
    }
}

impl LoadOptions {
    /// Compiles a `--patient-from` pattern, checking it has a capture group.
    pub fn pattern(pattern: &str) -> Result<Regex, DataError> {
        let re = Regex::new(pattern)
            .map_err(|e| DataError::Option(format!("--patient-from '{pattern}': {e}")))?;
        if re.captures_len() < 2 {
            return Err(DataError::Option(format!(
                "--patient-from '{pattern}' needs a capture group, e.g. 'ROI_(\\d+)_'"
            )));
        }
        Ok(re)
    }
}

fn column(
    headers: &csv::StringRecord,
    name: &str,
    path: &Path,
    hint: &'static str,
) -> Result<usize, DataError> {
    headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
        .ok_or_else(|| DataError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            available: headers.iter().collect::<Vec<_>>().join(", "),
            hint,
        })
}

/// Largest PNG file read (a B-mode frame is about 636x434, a ROI 28x28).
pub const MAX_PNG_FILE_BYTES: u64 = 256 << 20;
/// Largest PNG width and height read.
pub const MAX_PNG_SIDE: u32 = 8192;

/// Reads one PNG as 8-bit grayscale, converting RGB and 16-bit images. The file is streamed, never
/// read whole (bytes after the image are not read), and the size its header claims is checked
/// against [`MAX_PNG_SIDE`] and against what the file's bytes can inflate to (deflate expands at
/// most 1032 times) before the pixels are allocated.
pub fn read_gray_png(path: &Path) -> Result<image::GrayImage, DataError> {
    use image::ImageDecoder;
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |message: String| DataError::BadImage {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    if len > MAX_PNG_FILE_BYTES {
        return Err(bad(format!(
            "the file is {len} bytes, more than the {MAX_PNG_FILE_BYTES} vqtex reads as one PNG"
        )));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PNG_SIDE);
    limits.max_image_height = Some(MAX_PNG_SIDE);
    limits.max_alloc = Some(1 << 30);
    let reader = std::io::BufReader::new(file);
    let decoder = image::codecs::png::PngDecoder::with_limits(reader, limits)
        .map_err(|e| bad(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    let need = decoder.total_bytes();
    if need > len.saturating_mul(1040).saturating_add(1 << 16) {
        return Err(bad(format!(
            "its header claims {w}x{h} pixels ({need} bytes), more than its {len} bytes can hold"
        )));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| bad(e.to_string()))?;
    Ok(img.into_luma8())
}

/// Loads a ROI folder. Every problem is an error naming the file and row: nothing is skipped silently.
pub fn load_folder(dir: &Path, opts: &LoadOptions) -> Result<Dataset, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingFolder(dir.to_path_buf()));
    }
    let labels = opts
        .labels
        .clone()
        .unwrap_or_else(|| dir.join("labels.csv"));
    if !labels.is_file() {
        return Err(DataError::MissingLabels(labels));
    }
    let csv_err = |e: csv::Error| DataError::Csv {
        path: labels.clone(),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(&labels)
        .map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let file_i = column(&headers, &opts.file_col, &labels, "name it with --file-col")?;
    let label_i = column(
        &headers,
        &opts.label_col,
        &labels,
        "name it with --label-col",
    )?;
    let patient_i = if opts.patient_from.is_some() {
        None
    } else {
        Some(column(
            &headers,
            &opts.patient_col,
            &labels,
            "name it with --patient-col, or derive it from file names with --patient-from REGEX",
        )?)
    };
    let split_i = headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("split"));
    let hi_i = headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("hi"));
    let fat_i = headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("fat"));

    let mut rois = Vec::new();
    let mut patient_labels: HashMap<String, (Label, u64)> = HashMap::new();
    // Each patient's fat and the line that gave it first.
    let mut patient_fat: HashMap<String, (Option<f64>, u64)> = HashMap::new();
    let dir_canon = canonical_dir(dir)?;
    // Each file's real path and the line (and name) that listed it first.
    let mut listed: HashMap<PathBuf, (u64, String)> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let row_err = |message: String| DataError::Row {
            path: labels.clone(),
            line,
            message,
        };
        let field = |i: usize, name: &str| -> Result<&str, DataError> {
            match record.get(i) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(row_err(format!("empty or missing field '{name}'"))),
            }
        };
        let file = field(file_i, &opts.file_col)?.to_string();
        // Inside the folder once links are followed, and listed once.
        let path = dir.join(&file);
        let real = match resolve(&dir_canon, &file, false, "copy the file into the folder")
            .map_err(&row_err)?
        {
            Resolved::Inside(real) if real.is_file() => real,
            _ => {
                return Err(row_err(format!(
                    "file '{file}' does not exist ({})",
                    path.display()
                )))
            }
        };
        if let Some((first, name)) = listed.get(&real) {
            return Err(row_err(if *name == file {
                format!("'{file}' is listed twice: first on line {first}")
            } else {
                format!("'{file}' is the same file as '{name}' on line {first}")
            }));
        }
        listed.insert(real, (line, file.clone()));
        let label_text = field(label_i, &opts.label_col)?;
        let label = Label::parse(label_text).ok_or_else(|| {
            row_err(format!(
                "unknown label '{label_text}' (expected healthy, steatosis, 0 or 1)"
            ))
        })?;
        let patient = match (&opts.patient_from, patient_i) {
            (Some(re), _) => {
                let name = Path::new(&file)
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| file.clone());
                re.captures(&name)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
                    .ok_or_else(|| {
                        row_err(format!(
                            "file name '{name}' does not match --patient-from '{}'",
                            re.as_str()
                        ))
                    })?
            }
            (None, Some(i)) => field(i, &opts.patient_col)?.to_string(),
            (None, None) => unreachable!("patient column resolved above"),
        };
        let split =
            match split_i
                .and_then(|i| record.get(i))
                .filter(|s| !s.is_empty())
            {
                None => None,
                Some(s) => Some(Side::parse(s).ok_or_else(|| {
                    row_err(format!("unknown split '{s}' (expected train or test)"))
                })?),
            };
        let hi = match hi_i.and_then(|i| record.get(i)).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| row_err(format!("hi '{s}' is not a positive number")))?,
            ),
        };
        let fat = match fat_i.and_then(|i| record.get(i)).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_fat(s).map_err(&row_err)?),
        };
        match patient_fat.get(&patient) {
            Some(&(first, first_line)) if first != fat => {
                let say = |f: Option<f64>| f.map_or("none".to_string(), |f| format!("{f}"));
                return Err(row_err(format!(
                    "patient {patient} has fat {} here but {} on line {first_line}: a patient's \
                     ROIs must all have the same fat",
                    say(fat),
                    say(first)
                )));
            }
            Some(_) => {}
            None => {
                patient_fat.insert(patient.clone(), (fat, line));
            }
        }
        match patient_labels.get(&patient) {
            Some(&(first, _)) if first != label => {
                return Err(DataError::ConflictingLabels {
                    path: labels.clone(),
                    line,
                    patient,
                    first,
                    second: label,
                })
            }
            Some(_) => {}
            None => {
                patient_labels.insert(patient.clone(), (label, line));
            }
        }
        let mut img = read_gray_png(&path)?;
        if img.width() as usize != ROI_SIZE || img.height() as usize != ROI_SIZE {
            if !opts.resize {
                return Err(DataError::WrongSize {
                    path,
                    width: img.width(),
                    height: img.height(),
                });
            }
            img = image::imageops::resize(
                &img,
                ROI_SIZE as u32,
                ROI_SIZE as u32,
                image::imageops::FilterType::Triangle,
            );
        }
        rois.push(Roi {
            file,
            patient: PatientId(patient),
            label,
            pixels: img.into_raw(),
            hi,
            split,
            fat,
        });
    }
    if rois.is_empty() {
        return Err(DataError::Empty(labels));
    }
    Ok(Dataset {
        root: dir.to_path_buf(),
        rois,
    })
}

/// Parses a `fat` field: percent liver fat, a number in 0..=100.
pub fn parse_fat(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=100.0).contains(v))
        .ok_or_else(|| format!("fat '{s}' is not a percentage (a number from 0 to 100)"))
}

/// Writes a ROI folder: one PNG per ROI and `labels.csv` (`file,patient,label,hi`, and `fat` when
/// any ROI has one). Each ROI's
/// `file` must be one plain file name (see [`check_out_name`]), distinct from the others even
/// ignoring case: nothing is written outside `dir` and no ROI overwrites another.
pub fn write_folder(dir: &Path, rois: &[Roi]) -> Result<(), DataError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    let mut names = std::collections::HashSet::new();
    for roi in rois {
        check_out_name(&roi.file, &["labels.csv"]).map_err(|message| DataError::Unsafe {
            path: dir.to_path_buf(),
            message,
        })?;
        if !names.insert(roi.file.to_lowercase()) {
            return Err(DataError::Unsafe {
                path: dir.to_path_buf(),
                message: format!("two ROIs would be written as '{}'", roi.file),
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let with_fat = rois.iter().any(|r| r.fat.is_some());
    let mut csv_text = String::from(if with_fat {
        "file,patient,label,hi,fat\n"
    } else {
        "file,patient,label,hi\n"
    });
    for roi in rois {
        let path = dir.join(&roi.file);
        let img = image::GrayImage::from_raw(ROI_SIZE as u32, ROI_SIZE as u32, roi.pixels.clone())
            .ok_or_else(|| DataError::BadImage {
                path: path.clone(),
                message: "ROI does not have 784 pixels".into(),
            })?;
        img.save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| DataError::BadImage {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let hi = roi.hi.map(|h| format!("{h:.4}")).unwrap_or_default();
        csv_text.push_str(&format!(
            "{},{},{},{}",
            roi.file, roi.patient, roi.label, hi
        ));
        if with_fat {
            csv_text.push(',');
            if let Some(f) = roi.fat {
                csv_text.push_str(&format!("{f}"));
            }
        }
        csv_text.push('\n');
    }
    let labels = dir.join("labels.csv");
    std::fs::write(&labels, csv_text).map_err(io(&labels))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roi(file: &str, patient: &str, fat: Option<f64>) -> Roi {
        Roi {
            file: file.into(),
            patient: PatientId(patient.into()),
            label: Label::Steatosis,
            pixels: vec![100; ROI_SIZE * ROI_SIZE],
            hi: None,
            split: None,
            fat,
        }
    }

    /// A folder of 3 ROIs (patients a, a, b) whose labels.csv is `csv`.
    fn folder(csv: &str) -> (tempfile::TempDir, Result<Dataset, DataError>) {
        let tmp = tempfile::tempdir().unwrap();
        let rois = [
            roi("x.png", "a", None),
            roi("y.png", "a", None),
            roi("z.png", "b", None),
        ];
        write_folder(tmp.path(), &rois).unwrap();
        std::fs::write(tmp.path().join("labels.csv"), csv).unwrap();
        let d = load_folder(tmp.path(), &LoadOptions::default());
        (tmp, d)
    }

    #[test]
    fn fat_is_read_per_roi_and_written_back_when_any_roi_has_one() {
        let (_t, d) = folder(
            "file,patient,label,fat\nx.png,a,steatosis,12.5\ny.png,a,steatosis,12.5\nz.png,b,1,0\n",
        );
        let d = d.unwrap();
        let fat: Vec<Option<f64>> = d.rois.iter().map(|r| r.fat).collect();
        assert_eq!(fat, [Some(12.5), Some(12.5), Some(0.0)]);
        let tmp = tempfile::tempdir().unwrap();
        write_folder(tmp.path(), &d.rois).unwrap();
        let text = std::fs::read_to_string(tmp.path().join("labels.csv")).unwrap();
        assert!(
            text.starts_with("file,patient,label,hi,fat\nx.png,a,steatosis,,12.5\n"),
            "{text}"
        );
        let again = load_folder(tmp.path(), &LoadOptions::default()).unwrap();
        assert_eq!(again.rois, d.rois);
        // Without fat, no column, and none read.
        let (_t, d) = folder("file,patient,label\nx.png,a,1\ny.png,a,1\nz.png,b,1\n");
        assert!(d.unwrap().rois.iter().all(|r| r.fat.is_none()));
        let tmp = tempfile::tempdir().unwrap();
        write_folder(tmp.path(), &[roi("x.png", "a", None)]).unwrap();
        let text = std::fs::read_to_string(tmp.path().join("labels.csv")).unwrap();
        assert!(text.starts_with("file,patient,label,hi\n"), "{text}");
    }

    #[test]
    fn bad_or_disagreeing_fat_is_an_error_naming_the_line() {
        for (csv, needles) in [
            (
                "file,patient,label,fat\nx.png,a,1,10\ny.png,a,1,lots\nz.png,b,1,3\n",
                vec!["line 3", "fat 'lots' is not a percentage"],
            ),
            (
                "file,patient,label,fat\nx.png,a,1,10\ny.png,a,1,10\nz.png,b,1,120\n",
                vec!["line 4", "fat '120'"],
            ),
            (
                "file,patient,label,fat\nx.png,a,1,10\ny.png,a,1,-1\nz.png,b,1,3\n",
                vec!["line 3", "fat '-1'"],
            ),
            (
                "file,patient,label,fat\nx.png,a,1,10\ny.png,a,1,11\nz.png,b,1,3\n",
                vec!["line 3", "patient a has fat 11 here but 10 on line 2"],
            ),
            (
                "file,patient,label,fat\nx.png,a,1,10\ny.png,a,1,\nz.png,b,1,3\n",
                vec!["line 3", "patient a has fat none here but 10 on line 2"],
            ),
        ] {
            let (_t, d) = folder(csv);
            let e = d.unwrap_err().to_string();
            assert!(e.contains("labels.csv"), "{e}");
            for n in needles {
                assert!(e.contains(n), "{csv}: {e}");
            }
        }
    }
}

//! Datasets of 28x28 liver ROIs: loading, splitting, HI normalisation and the synthetic generator.

pub mod contain;
pub mod dicom;
pub mod extract;
pub mod folder;
pub mod frames;
pub mod mat;
pub mod roi;
pub mod split;
pub mod synth;
pub mod synth_frames;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use folder::{load_folder, LoadOptions};
pub use split::{Side, Split};

/// Side length of a ROI in pixels (the paper's 28x28 patches).
pub const ROI_SIZE: usize = 28;
/// Number of pixels of a ROI.
pub const ROI_PIXELS: usize = ROI_SIZE * ROI_SIZE;

/// Diagnosis of a patient (biopsy: more than 5% fat is steatosis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Healthy,
    Steatosis,
}

impl Label {
    pub const ALL: [Label; 2] = [Label::Healthy, Label::Steatosis];

    /// Parses `healthy|steatosis` (also `steatotic`, `0`, `1`), case-insensitively.
    pub fn parse(s: &str) -> Option<Label> {
        match s.trim().to_ascii_lowercase().as_str() {
            "healthy" | "normal" | "0" => Some(Label::Healthy),
            "steatosis" | "steatotic" | "1" => Some(Label::Steatosis),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Healthy => "healthy",
            Label::Steatosis => "steatosis",
        }
    }

    /// 1 for steatosis (the positive class), 0 for healthy.
    pub fn index(self) -> usize {
        match self {
            Label::Healthy => 0,
            Label::Steatosis => 1,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A patient identifier as written in the labels CSV.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PatientId(pub String);

impl fmt::Display for PatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One 28x28 8-bit grayscale liver ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    /// File name relative to the dataset folder.
    pub file: String,
    pub patient: PatientId,
    pub label: Label,
    /// Row-major pixels, `ROI_PIXELS` long.
    pub pixels: Vec<u8>,
    /// Hepatorenal index used to normalise this ROI, when known.
    pub hi: Option<f64>,
    /// Split side forced by the labels CSV, when it has a `split` column.
    pub split: Option<Side>,
    /// The patient's liver fat in percent (0-100), when the labels CSV has a `fat` column (the
    /// same for every ROI of a patient).
    pub fat: Option<f64>,
}

impl Roi {
    /// Pixels scaled to [0, 1].
    pub fn to_unit(&self) -> Vec<f32> {
        self.pixels.iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// Mean, standard deviation (population), min and max of the 8-bit pixels.
    pub fn stats(&self) -> RoiStats {
        RoiStats::of(&self.pixels)
    }
}

/// Simple intensity statistics of a ROI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoiStats {
    pub mean: f64,
    pub sd: f64,
    pub min: u8,
    pub max: u8,
}

impl RoiStats {
    pub fn of(pixels: &[u8]) -> RoiStats {
        let n = pixels.len().max(1) as f64;
        let mean = pixels.iter().map(|&p| p as f64).sum::<f64>() / n;
        let var = pixels
            .iter()
            .map(|&p| (p as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        RoiStats {
            mean,
            sd: var.sqrt(),
            min: pixels.iter().copied().min().unwrap_or(0),
            max: pixels.iter().copied().max().unwrap_or(0),
        }
    }
}

/// A loaded collection of ROIs.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The folder the ROIs came from.
    pub root: PathBuf,
    pub rois: Vec<Roi>,
}

/// A patient with its label and ROI count.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientInfo {
    pub id: PatientId,
    pub label: Label,
    pub rois: usize,
    /// Mean HI over the patient's ROIs, when known.
    pub hi: Option<f64>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.rois.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rois.is_empty()
    }

    /// Patients sorted by id (numerically when ids are numbers).
    pub fn patients(&self) -> Vec<PatientInfo> {
        let mut map: std::collections::BTreeMap<&PatientId, (Label, usize, f64, usize)> =
            Default::default();
        for r in &self.rois {
            let e = map.entry(&r.patient).or_insert((r.label, 0, 0.0, 0));
            e.1 += 1;
            if let Some(hi) = r.hi {
                e.2 += hi;
                e.3 += 1;
            }
        }
        let mut v: Vec<PatientInfo> = map
            .into_iter()
            .map(|(id, (label, rois, hi_sum, hi_n))| PatientInfo {
                id: id.clone(),
                label,
                rois,
                hi: (hi_n > 0).then(|| hi_sum / hi_n as f64),
            })
            .collect();
        v.sort_by(|a, b| patient_order(&a.id, &b.id));
        v
    }

    /// Indices of the ROIs on one side of a split.
    pub fn indices(&self, split: &Split, side: Side) -> Vec<usize> {
        (0..self.rois.len())
            .filter(|&i| split.side(&self.rois[i].patient) == side)
            .collect()
    }
}

/// Orders patient ids numerically when both are numbers, else as strings.
pub fn patient_order(a: &PatientId, b: &PatientId) -> std::cmp::Ordering {
    match (a.0.parse::<u64>(), b.0.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.0.cmp(&b.0)),
        _ => a.0.cmp(&b.0),
    }
}

/// Errors of loading and splitting data. Each names the file, row or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data folder {0} does not exist")]
    MissingFolder(PathBuf),
    #[error("labels file {0} does not exist (pass --labels to name another)")]
    MissingLabels(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{path}: no column named '{column}' (columns are: {available}); {hint}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
        hint: &'static str,
    },
    #[error("{path}, line {line}: {message}")]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: not a readable PNG image ({message})")]
    BadImage { path: PathBuf, message: String },
    #[error("{path}: ROI is {width}x{height}, expected 28x28 (pass --resize to resize it)")]
    WrongSize {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("patient {patient} has two labels: {first} and {second} (line {line} of {path})")]
    ConflictingLabels {
        path: PathBuf,
        line: u64,
        patient: String,
        first: Label,
        second: Label,
    },
    #[error("the dataset {0} is empty: its labels file lists no ROIs")]
    Empty(PathBuf),
    #[error("too few {label} patients to split: {found} found, at least 2 are needed (one for training, one for testing)")]
    TooFewPatients { label: Label, found: usize },
    #[error("split {path}: {message}")]
    BadSplit { path: PathBuf, message: String },
    #[error("invalid option: {0}")]
    Option(String),
    #[error("{path}: {source}")]
    Mat {
        path: PathBuf,
        source: mat::MatError,
    },
    #[error("{path}: not a readable DICOM image ({message})")]
    Dicom { path: PathBuf, message: String },
    #[error("{} is not empty: choose an empty or new folder (nothing was written)", .0.display())]
    NotEmpty(PathBuf),
    /// A path that would read or write outside the folder it belongs to.
    #[error("{}: {message}", .path.display())]
    Unsafe { path: PathBuf, message: String },
    #[error("{} problem{} (nothing was written):\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("\n  "))]
    Problems(Vec<String>),
}

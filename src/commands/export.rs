//! `vqtex export features`: the feature matrices vqtex classifies, for a notebook. One row per
//! ROI: `file,patient,label` and one column per feature (`.csv`), or the matrix as float64
//! (`.npy`) with its rows in `<stem>-rows.csv` and its columns in `<stem>-columns.txt`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ndarray::{concatenate, Array2, Axis};

use super::{load_data, open_run};
use crate::cli::ExportFeaturesArgs;
use crate::cv::results::csv_field;
use crate::cv::{self, FeatureSet};
use crate::data::{Dataset, Roi};

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fs::write_atomic(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn rows_csv(data: &Dataset) -> String {
    let mut s = String::from("file,patient,label\n");
    for r in &data.rois {
        s.push_str(&format!(
            "{},{},{}\n",
            csv_field(&r.file),
            csv_field(&r.patient.0),
            r.label.as_str()
        ));
    }
    s
}

/// A `.npy` file (format 1.0) of a C-ordered float64 matrix.
pub fn npy(x: &Array2<f64>) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        x.nrows(),
        x.ncols()
    );
    // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64 and
    // ended by a newline.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * x.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in x.iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

pub fn export_features(args: &ExportFeaturesArgs) -> Result<()> {
    let sets: Vec<FeatureSet> = args
        .features
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(FeatureSet::parse)
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    if sets.is_empty() {
        bail!("--features names no feature set");
    }
    let run = match &args.run {
        Some(path) => Some(open_run(path, args.device)?),
        None => None,
    };
    let data = match &run {
        Some(r) => r.dataset.clone(),
        None => load_data(&args.data)?.2,
    };
    let rois: Vec<&Roi> = data.rois.iter().collect();
    let mut blocks = Vec::new();
    let mut names = Vec::new();
    for &set in &sets {
        let model = match (set.model(), &run) {
            (None, _) => None,
            (Some(k), Some(r)) if r.config.model.kind() == k => Some(r.model.as_ref()),
            (Some(k), Some(r)) => bail!(
                "feature set '{set}' needs a {k} run; {} is a {} run",
                args.run.as_deref().unwrap_or(Path::new("")).display(),
                r.config.model.kind()
            ),
            (Some(k), None) => bail!("feature set '{set}' needs a {k} run: give its folder"),
        };
        let x = cv::features(set, &rois, model)?;
        names.extend(cv::column_names(set, x.ncols()));
        blocks.push(x);
    }
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    let x = concatenate(Axis(1), &views)?;
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => {
            let mut s = format!("file,patient,label,{}\n", names.join(","));
            for (r, row) in data.rois.iter().zip(x.outer_iter()) {
                s.push_str(&format!(
                    "{},{},{}",
                    csv_field(&r.file),
                    csv_field(&r.patient.0),
                    r.label.as_str()
                ));
                for v in row {
                    s.push_str(&format!(",{v}"));
                }
                s.push('\n');
            }
            write(&args.out, s.as_bytes())?;
        }
        "npy" => {
            let stem = args.out.with_extension("");
            let side = |suffix: &str| {
                let mut p = stem.clone().into_os_string();
                p.push(suffix);
                std::path::PathBuf::from(p)
            };
            write(&args.out, &npy(&x))?;
            write(&side("-rows.csv"), rows_csv(&data).as_bytes())?;
            write(&side("-columns.txt"), (names.join("\n") + "\n").as_bytes())?;
        }
        _ => bail!("--out {}: name a .csv or a .npy file", args.out.display()),
    }
    crate::outln!(
        "{} ROIs x {} features ({}) written to {}",
        x.nrows(),
        x.ncols(),
        sets.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_the_values_follow_little_endian() {
        let x = Array2::from_shape_vec((2, 3), vec![1.0, 2.0, 3.0, 4.0, 5.0, -0.5]).unwrap();
        let b = npy(&x);
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(
            header.contains("'shape': (2, 3)") && header.ends_with('\n'),
            "{header}"
        );
        let data = &b[10 + hlen..];
        assert_eq!(data.len(), 48);
        assert_eq!(f64::from_le_bytes(data[40..48].try_into().unwrap()), -0.5);
    }
}

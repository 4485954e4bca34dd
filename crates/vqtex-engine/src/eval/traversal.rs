//! Latent traversals (the paper's Fig. 4): one latent variable moved from -2 sd to +2 sd and
//! decoded, either from one real ROI's own latent map ([`anchored`], the default of `traverse`
//! and Fig. 4) or from the mean latent map of the training ROIs ([`traverse`], `--from mean`).

use std::path::Path;

use candle_core::{Device, Tensor};

use super::EvalError;
use crate::data::{Roi, Side};
use crate::model::{roi_tensor, Autoencoder};
use crate::train::LoadedRun;

pub mod anchored;
pub use anchored::{
    anchor_by_file, anchor_default, anchor_latent, block_sd, find_roi, latent_sd, mean_block_sd,
    medoid, traverse_from_roi, AnchorLatent, Anchored, RowKind, ANCHOR_CLASS,
};
#[cfg(test)]
mod anchored_tests;

/// How many steps a traversal may have: the two ends at least; at most a strip of 64 images (the
/// images are decoded in one batch).
pub const STEPS: std::ops::RangeInclusive<usize> = 2..=64;

/// The largest range, in sd, a traversal may span on each side of the mean.
pub const MAX_RANGE: f64 = 10.0;

/// `range` (sd on each side): finite, above 0, at most [`MAX_RANGE`].
pub fn check_range(range: f64) -> Result<(), String> {
    if !range.is_finite() || range <= 0.0 || range > MAX_RANGE {
        return Err(format!(
            "range {range} is out of bounds: expected a number above 0 and at most {MAX_RANGE} (sd)"
        ));
    }
    Ok(())
}

/// The limits of [`traverse`] on `steps` and `range`, checked before anything is computed.
pub fn check_limits(steps: usize, range: f64) -> Result<(), EvalError> {
    if !STEPS.contains(&steps) {
        return Err(EvalError::Invalid(format!(
            "a traversal has {} to {} steps, not {steps}",
            STEPS.start(),
            STEPS.end()
        )));
    }
    check_range(range).map_err(EvalError::Invalid)
}

/// A traversal: `steps` decoded 28x28 images and the offsets (in sd) that made them.
#[derive(Debug, Clone)]
pub struct Traversal {
    pub dim: usize,
    pub offsets: Vec<f64>,
    pub images: Vec<Vec<f32>>,
}

/// `steps` offsets evenly from -range to +range (sd).
pub fn offsets(steps: usize, range: f64) -> Vec<f64> {
    (0..steps)
        .map(|i| -range + 2.0 * range * i as f64 / (steps.max(2) - 1) as f64)
        .collect()
}

/// Decodes the mean latent (map or vector) of the training ROIs with variable `dim` shifted by each
/// offset, in units of that variable's sd across the training ROIs' latent vectors (the 32-d
/// summary the SVM uses). The mean map carries no texture: see [`anchored`].
pub fn traverse(
    run: &LoadedRun,
    dim: usize,
    steps: usize,
    range: f64,
) -> Result<Traversal, EvalError> {
    let train: Vec<&Roi> = run
        .dataset
        .indices(&run.split, Side::Train)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    traverse_mean(run.model.as_ref(), &train, &run.device, dim, steps, range)
}

/// [`traverse`] for a model and its training ROIs.
pub fn traverse_mean(
    model: &dyn Autoencoder,
    train: &[&Roi],
    device: &Device,
    dim: usize,
    steps: usize,
    range: f64,
) -> Result<Traversal, EvalError> {
    check_limits(steps, range)?;
    if train.is_empty() {
        return Err(EvalError::Invalid(
            "no training ROIs to traverse from".into(),
        ));
    }
    let x = roi_tensor(train, device)?;
    // The latent the decoder takes: a map [N, D, 7, 7] (VQ-VAE, CAE) or a vector [N, D] (VAEs).
    let z = super::batched(&x, super::EVAL_BATCH, |b| model.encode(b))?;
    let d = z.dim(1)?;
    if dim >= d {
        return Err(EvalError::Invalid(format!(
            "--dim {dim} is out of range: the model has {d} latent variables (0..{})",
            d - 1
        )));
    }
    let mean = z.mean_keepdim(0)?;
    let summary = super::batched(&x, super::EVAL_BATCH, |b| model.latent_summary(b))?; // [N, D]
    let col: Vec<f32> = summary.narrow(1, dim, 1)?.flatten_all()?.to_vec1()?;
    let m = col.iter().map(|&v| v as f64).sum::<f64>() / col.len() as f64;
    let sd = (col.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / col.len() as f64).sqrt();
    let offsets = offsets(steps, range);
    // A one-hot shift of variable `dim`, broadcast over the spatial positions of a map.
    let mut shape = vec![1usize; z.rank()];
    shape[1] = d;
    let mut maps = Vec::new();
    for &o in &offsets {
        let mut onehot = vec![0f32; d];
        onehot[dim] = (o * sd) as f32;
        let delta = Tensor::from_vec(onehot, shape.as_slice(), device)?;
        maps.push(mean.broadcast_add(&delta)?);
    }
    let batch = Tensor::cat(&maps, 0)?;
    let images = model.decode(&batch)?.flatten_from(1)?.to_vec2::<f32>()?;
    Ok(Traversal {
        dim,
        offsets,
        images,
    })
}

/// Writes images side by side as a grayscale PNG, each scaled up `scale` times, with a 1-pixel
/// (scaled) white gap between them.
pub fn write_strip(images: &[Vec<f32>], scale: u32, path: &Path) -> Result<(), EvalError> {
    write_grid(&[images.to_vec()], scale, path)
}

/// Writes rows of 28x28 images as one grayscale PNG grid (white gaps between cells).
pub fn write_grid(rows: &[Vec<Vec<f32>>], scale: u32, path: &Path) -> Result<(), EvalError> {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u32;
    let cell = 28 * scale;
    let gap = scale;
    let width = (cols * cell + cols.saturating_sub(1) * gap).max(1);
    let n_rows = rows.len() as u32;
    let height = (n_rows * cell + n_rows.saturating_sub(1) * gap).max(1);
    let mut img = image::GrayImage::from_pixel(width, height, image::Luma([255]));
    for (i, row) in rows.iter().enumerate() {
        let y0 = i as u32 * (cell + gap);
        for (k, pixels) in row.iter().enumerate() {
            let x0 = k as u32 * (cell + gap);
            for y in 0..cell {
                for x in 0..cell {
                    let v = pixels[((y / scale) * 28 + x / scale) as usize];
                    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    img.put_pixel(x0 + x, y0 + y, image::Luma([g]));
                }
            }
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| EvalError::Write {
            path: parent.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| EvalError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_huge_steps_and_bad_ranges() {
        assert!(check_limits(5, 2.0).is_ok());
        assert!(check_limits(2, MAX_RANGE).is_ok());
        assert!(check_limits(64, 0.1).is_ok());
        for (steps, range) in [
            (1, 2.0),
            (65, 2.0),
            (1_000_000, 2.0),
            (5, 0.0),
            (5, -1.0),
            (5, 10.5),
            (5, f64::NAN),
            (5, f64::INFINITY),
        ] {
            let e = check_limits(steps, range).unwrap_err().to_string();
            assert!(e.contains("steps") || e.contains("range"), "{e}");
        }
    }
}

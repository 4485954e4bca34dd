//! Out-of-distribution scores (the paper's future work: "exploring reconstruction error and
//! density measures in latent space"). Per ROI, three measures, each larger when the ROI looks less
//! like the training ROIs:
//!
//! - `recon_error`: the MSE of the model's reconstruction;
//! - `density`: the mean Euclidean distance from the ROI's latent vector to its k nearest training
//!   latent vectors (a training ROI leaves itself out);
//! - `vq_distance` (VQ models): the mean distance of the encoder's vectors to their nearest codes;
//! - `texture`: the mean distance to the k nearest training ROIs in a space of speckle statistics
//!   (the grey histogram's mean, sd, skewness, kurtosis and entropy; the axial and lateral
//!   autocorrelation at lags 1 and 2), each standardised over the training ROIs. Ultrasound
//!   speckle is skewed (Rayleigh-like) and elongated laterally by the point-spread function: an
//!   inverted or rotated ROI can reconstruct and encode like a training ROI of the other class, but
//!   its speckle statistics are not those of any training ROI.
//!
//! Each is log-transformed and standardised with the training ROIs' mean and sd; the sum of their
//! squares (unusual in either direction counts: a rotated ROI can sit closer to the codes than
//! any training ROI) is calibrated on the training ROIs: `score` is the percentage of training ROIs whose sum is lower
//! (0 to 100; above 95, fewer than 5% of the training ROIs look as unusual).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{latents, reconstruct, EvalError, RoiMetrics};
use crate::data::{Roi, Side};
use crate::model::{roi_tensor, Autoencoder};
use crate::train::LoadedRun;

/// Neighbours of the latent density.
pub const K: usize = 5;

/// One scored ROI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodRoi {
    pub file: String,
    pub recon_error: f64,
    pub density: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vq_distance: Option<f64>,
    pub texture: f64,
    /// Percentile among the training ROIs (0 to 100).
    pub score: f64,
}

/// The training ROIs' latent vectors and the calibration of the score.
pub struct Ood {
    train: Array2<f64>,
    /// The training ROIs' speckle statistics, standardised, and the mean and sd used.
    texture: Array2<f64>,
    texture_norm: Vec<(f64, f64)>,
    /// Mean and sd of each log measure over the training ROIs.
    norm: Vec<(f64, f64)>,
    /// The training ROIs' combined values, sorted.
    calibration: Vec<f64>,
}

/// Mean distance of each ROI's encoder vectors to their codes, for VQ models.
fn vq_distances(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Option<Vec<f64>>, EvalError> {
    if model.codebook_size().is_none() {
        return Ok(None);
    }
    let device = super::model_device(model).clone();
    let mut out = Vec::with_capacity(rois.len());
    for chunk in rois.chunks(256) {
        let x = roi_tensor(chunk, &device)?;
        let Some((_, z_e)) = model.codes(&x)? else {
            return Ok(None);
        };
        let z_q = model.encode(&x)?;
        // [B, D, H, W]: the distance at each position, then the mean over positions.
        let d = (z_e - z_q)?.sqr()?.sum(1)?.sqrt()?.mean((1, 2))?;
        out.extend(d.to_vec1::<f32>()?.into_iter().map(f64::from));
    }
    Ok(Some(out))
}

fn recon_errors(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Vec<f64>, EvalError> {
    let recon = reconstruct(model, rois)?;
    Ok(rois
        .iter()
        .zip(&recon)
        .map(|(r, y)| RoiMetrics::of(&r.to_unit(), y).mse)
        .collect())
}

/// Mean distance of each row of `z` to its `K` nearest rows of `train`; `skip_self` leaves out
/// the row of `train` with the same index (when `z` is `train`).
fn knn_distances(z: &Array2<f64>, train: &Array2<f64>, skip_self: bool) -> Vec<f64> {
    z.outer_iter()
        .enumerate()
        .map(|(i, a)| {
            let mut d: Vec<f64> = train
                .outer_iter()
                .enumerate()
                .filter(|(j, _)| !(skip_self && *j == i))
                .map(|(_, b)| {
                    a.iter()
                        .zip(b.iter())
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            let k = K.min(d.len());
            if k == 0 {
                return 0.0;
            }
            d.select_nth_unstable_by(k - 1, f64::total_cmp);
            d[..k].iter().sum::<f64>() / k as f64
        })
        .collect()
}

/// Speckle statistics of one ROI: first-order (5) and the axial and lateral autocorrelation at
/// lags 1 and 2.
pub fn speckle_stats(pixels: &[u8]) -> [f64; 9] {
    let f = crate::features::firstorder(pixels);
    let (axial, lateral) = crate::data::synth::autocorrelation(&[pixels], 2);
    [
        f[0], f[1], f[2], f[3], f[4], axial[1], axial[2], lateral[1], lateral[2],
    ]
}

fn speckle_matrix(rois: &[&Roi], norm: &[(f64, f64)]) -> Array2<f64> {
    let mut x = Array2::zeros((rois.len(), 9));
    for (i, r) in rois.iter().enumerate() {
        for (j, v) in speckle_stats(&r.pixels).into_iter().enumerate() {
            let (m, s) = norm[j];
            x[(i, j)] = (v - m) / s;
        }
    }
    x
}

/// The measures of `rois`, one vector per measure (recon, density, and vq when the model has
/// codes).
fn measures(
    model: &dyn Autoencoder,
    rois: &[&Roi],
    train: &Array2<f64>,
    skip_self: bool,
) -> Result<Vec<Vec<f64>>, EvalError> {
    let z = latents(model, rois)?;
    let mut m = vec![
        recon_errors(model, rois)?,
        knn_distances(&z, train, skip_self),
    ];
    if let Some(v) = vq_distances(model, rois)? {
        m.push(v);
    }
    Ok(m)
}

fn log(v: f64) -> f64 {
    v.max(1e-12).ln()
}

impl Ood {
    /// Fits the scorer on the run's training ROIs.
    pub fn fit(run: &LoadedRun) -> Result<Ood, EvalError> {
        let rois: Vec<&Roi> = run
            .dataset
            .indices(&run.split, Side::Train)
            .into_iter()
            .map(|i| &run.dataset.rois[i])
            .collect();
        if rois.len() < 2 {
            return Err(EvalError::Invalid(
                "the run has fewer than 2 training ROIs to calibrate on".into(),
            ));
        }
        let train = latents(run.model.as_ref(), &rois)?;
        let raw = speckle_matrix(&rois, &[(0.0, 1.0); 9]);
        let texture_norm: Vec<(f64, f64)> = raw
            .columns()
            .into_iter()
            .map(|c| {
                let m = c.mean().unwrap_or(0.0);
                (m, c.std(0.0).max(1e-9))
            })
            .collect();
        let texture = speckle_matrix(&rois, &texture_norm);
        let mut m = measures(run.model.as_ref(), &rois, &train, true)?;
        m.push(knn_distances(&texture, &texture, true));
        let norm: Vec<(f64, f64)> = m
            .iter()
            .map(|v| {
                let logs: Vec<f64> = v.iter().map(|&x| log(x)).collect();
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                let var = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / logs.len() as f64;
                (mean, var.sqrt().max(1e-9))
            })
            .collect();
        let mut ood = Ood {
            train,
            texture,
            texture_norm,
            norm,
            calibration: Vec::new(),
        };
        let mut c: Vec<f64> = (0..rois.len())
            .map(|i| ood.combined(&m.iter().map(|v| v[i]).collect::<Vec<_>>()))
            .collect();
        c.sort_by(f64::total_cmp);
        ood.calibration = c;
        Ok(ood)
    }

    fn combined(&self, values: &[f64]) -> f64 {
        values
            .iter()
            .zip(&self.norm)
            .map(|(&v, &(m, s))| ((log(v) - m) / s).powi(2))
            .sum()
    }

    /// The percentage of training ROIs whose combined value is below `c`.
    fn percentile(&self, c: f64) -> f64 {
        let below = self.calibration.partition_point(|&x| x < c);
        100.0 * below as f64 / self.calibration.len().max(1) as f64
    }

    /// Scores ROIs with the run's model (the one the scorer was fitted with).
    pub fn score(&self, run: &LoadedRun, rois: &[&Roi]) -> Result<Vec<OodRoi>, EvalError> {
        if rois.is_empty() {
            return Ok(Vec::new());
        }
        let mut m = measures(run.model.as_ref(), rois, &self.train, false)?;
        let x = speckle_matrix(rois, &self.texture_norm);
        m.push(knn_distances(&x, &self.texture, false));
        let vq = m.len() == 4;
        Ok(rois
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let values: Vec<f64> = m.iter().map(|v| v[i]).collect();
                OodRoi {
                    file: r.file.clone(),
                    recon_error: values[0],
                    density: values[1],
                    vq_distance: vq.then(|| values[2]),
                    texture: values[values.len() - 1],
                    score: self.percentile(self.combined(&values)),
                }
            })
            .collect())
    }
}

/// AUROC of telling `outside` from `inside` by score (outside is the positive class).
pub fn auroc(inside: &[OodRoi], outside: &[OodRoi]) -> Option<f64> {
    let truth: Vec<crate::data::Label> = inside
        .iter()
        .map(|_| crate::data::Label::Healthy)
        .chain(outside.iter().map(|_| crate::data::Label::Steatosis))
        .collect();
    let s: Vec<f64> = inside.iter().chain(outside).map(|r| r.score).collect();
    super::binary::roc_auc(&truth, &s)
}

/// Image changes that make ROIs out of distribution, for tests and demonstrations.
pub mod shift {
    use crate::data::{ROI_PIXELS, ROI_SIZE};

    /// Rotated by 90 degrees (speckle grains wide laterally become tall).
    pub fn rotate90(p: &[u8]) -> Vec<u8> {
        let n = ROI_SIZE;
        let mut out = vec![0u8; ROI_PIXELS];
        for r in 0..n {
            for c in 0..n {
                out[c * n + (n - 1 - r)] = p[r * n + c];
            }
        }
        out
    }

    /// A 5x5 box blur (edges clamped).
    pub fn blur(p: &[u8]) -> Vec<u8> {
        let n = ROI_SIZE as isize;
        let mut out = vec![0u8; ROI_PIXELS];
        for r in 0..n {
            for c in 0..n {
                let mut s = 0u32;
                for dr in -2..=2 {
                    for dc in -2..=2 {
                        let rr = (r + dr).clamp(0, n - 1);
                        let cc = (c + dc).clamp(0, n - 1);
                        s += u32::from(p[(rr * n + cc) as usize]);
                    }
                }
                out[(r * n + c) as usize] = (s as f64 / 25.0).round() as u8;
            }
        }
        out
    }

    /// The grey levels inverted (255 - v).
    pub fn invert(p: &[u8]) -> Vec<u8> {
        p.iter().map(|&v| 255 - v).collect()
    }
}

#[cfg(test)]
mod tests;

//! Sensitivity analysis (the paper's future work): which latent variable controls what a
//! sonographer sees.
//!
//! For each latent variable `d` and each anchor ROI (by default up to [`DEFAULT_ROIS`] test ROIs,
//! spread evenly over the test side), the anchor's own decoder latent — as the anchored traversal
//! takes it ([`super::traversal::anchored`]): the continuous z_e for the VQ-VAE (not
//! re-quantised, so that a small shift is not swallowed by the nearest code), the 7x7 map of the
//! CAE and the MAE, the latent vector of the VAEs — has variable `d` shifted by -1 and by +1 sd at
//! every position (its sd over every training ROI and position) and is decoded. The decoded
//! images are read as 8-bit ROIs and measured with [`crate::features::texture`]: echogenicity
//! (mean grey, [0, 1]), heterogeneity (mean local sd, [0, 1]) and granularity (speckle size,
//! pixels). A variable's **raw effect** on a measure is the mean over the anchors of
//! `(value(+1 sd) - value(-1 sd)) / 2`, the change per sd; granularity is undefined on a flat
//! image, and anchors where either end is flat are left out of its mean.
//!
//! The raw effects are in different units, so each is also **standardised**: divided by the sd
//! of that measure over the run's training ROIs (population sd; granularity over the ROIs where
//! it is defined). A standardised effect of 0.5 means one sd of the latent variable moves the
//! decoded ROI's measure by half the spread of real ROIs. A row's **dominant** measure is the one
//! with the largest absolute standardised effect.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::traversal::anchored::decoder_latent;
use super::traversal::latent_sd;
use super::{batched, EvalError, EVAL_BATCH};
use crate::data::{Roi, Side, ROI_SIZE};
use crate::features::texture;
use crate::model::{roi_tensor, Autoencoder};
use crate::train::LoadedRun;

/// Anchor ROIs per analysis unless told otherwise.
pub const DEFAULT_ROIS: usize = 32;
/// The most anchor ROIs one analysis takes.
pub const MAX_ROIS: usize = 4096;

/// What a sonographer reads in a texture ([`crate::features::texture`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    Echogenicity,
    Heterogeneity,
    Granularity,
}

impl Measure {
    pub const ALL: [Measure; 3] = [
        Measure::Echogenicity,
        Measure::Heterogeneity,
        Measure::Granularity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Echogenicity => "echogenicity",
            Measure::Heterogeneity => "heterogeneity",
            Measure::Granularity => "granularity",
        }
    }

    /// The measure of one 28x28 8-bit image.
    fn of(self, pixels: &[u8]) -> f64 {
        match self {
            Measure::Echogenicity => texture::echogenicity(pixels, ROI_SIZE),
            Measure::Heterogeneity => texture::heterogeneity(pixels, ROI_SIZE),
            Measure::Granularity => texture::granularity(pixels, ROI_SIZE),
        }
    }
}

/// One value per measure; `None` where undefined (granularity of flat images only).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    pub echogenicity: Option<f64>,
    pub heterogeneity: Option<f64>,
    pub granularity: Option<f64>,
}

impl Effects {
    pub fn get(&self, m: Measure) -> Option<f64> {
        match m {
            Measure::Echogenicity => self.echogenicity,
            Measure::Heterogeneity => self.heterogeneity,
            Measure::Granularity => self.granularity,
        }
    }

    fn from_fn(mut f: impl FnMut(Measure) -> Option<f64>) -> Effects {
        Effects {
            echogenicity: f(Measure::Echogenicity),
            heterogeneity: f(Measure::Heterogeneity),
            granularity: f(Measure::Granularity),
        }
    }
}

/// One latent variable's effect on the decoded ROI's texture, per sd of the variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivityRow {
    /// The latent variable (channel of the latent map, or entry of the latent vector).
    pub dim: usize,
    /// Standardised effects: the raw effect over the measure's sd over the training ROIs.
    pub echogenicity: Option<f64>,
    pub heterogeneity: Option<f64>,
    pub granularity: Option<f64>,
    /// The measure with the largest absolute standardised effect.
    pub dominant: Measure,
    /// Raw effects, in the measure's units (grey level in [0, 1], grey level, pixels) per sd.
    pub raw: Effects,
    /// Anchors whose decodings had a granularity at both ends (the others are left out of it).
    pub granularity_rois: usize,
    /// The variable's sd (latent units) over the training ROIs: the size of the shift.
    pub latent_sd: f64,
}

impl SensitivityRow {
    /// The standardised effect on `m`.
    pub fn effect(&self, m: Measure) -> Option<f64> {
        match m {
            Measure::Echogenicity => self.echogenicity,
            Measure::Heterogeneity => self.heterogeneity,
            Measure::Granularity => self.granularity,
        }
    }
}

/// The sensitivity table of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// Anchor ROIs the effects average over.
    pub rois: usize,
    /// Each measure's sd over the training ROIs, which the standardised effects divide by.
    pub training_sd: Effects,
    /// One row per latent variable, by variable.
    pub rows: Vec<SensitivityRow>,
}

impl Sensitivity {
    /// The `k` variables with the largest absolute standardised effect on `m`, largest first
    /// (variables where it is undefined are left out).
    pub fn top(&self, m: Measure, k: usize) -> Vec<&SensitivityRow> {
        let mut rows: Vec<&SensitivityRow> = self
            .rows
            .iter()
            .filter(|r| r.effect(m).is_some_and(f64::is_finite))
            .collect();
        rows.sort_by(|a, b| {
            let v = |r: &SensitivityRow| r.effect(m).map_or(0.0, f64::abs);
            v(b).total_cmp(&v(a)).then(a.dim.cmp(&b.dim))
        });
        rows.truncate(k);
        rows
    }
}

/// An image in [0, 1] as the 8-bit ROI it would be saved as.
fn to_u8(img: &[f32]) -> Vec<u8> {
    img.iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// Population mean and sd of the finite values; `None` when fewer than two.
fn mean_sd(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    Some((
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    ))
}

/// Each measure's sd over `rois` (`None` when undefined or 0).
pub fn measure_sd(rois: &[&Roi]) -> Effects {
    Effects::from_fn(|m| {
        mean_sd(rois.iter().map(|r| m.of(&r.pixels)))
            .map(|(_, sd)| sd)
            .filter(|&sd| sd > 0.0)
    })
}

/// `n` indices spread evenly over `0..len` (all of them when `n >= len`).
fn spread(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// Up to `n` of the run's test ROIs, spread evenly over the test side (both classes and every
/// test patient when `n` allows), as indices into `run.dataset.rois`.
pub fn sample_test(run: &LoadedRun, n: usize) -> Vec<usize> {
    let test = run.dataset.indices(&run.split, Side::Test);
    spread(test.len(), n).into_iter().map(|i| test[i]).collect()
}

/// The sensitivity table of a run's model over up to `n` of its test ROIs (see the module's
/// documentation).
pub fn sensitivity(run: &LoadedRun, n: usize) -> Result<Sensitivity, EvalError> {
    if !(1..=MAX_ROIS).contains(&n) {
        return Err(EvalError::Invalid(format!(
            "--rois {n} is out of range: expected 1 to {MAX_ROIS}"
        )));
    }
    let train: Vec<&Roi> = run
        .dataset
        .indices(&run.split, Side::Train)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    let anchors: Vec<&Roi> = sample_test(run, n)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    if anchors.is_empty() {
        return Err(EvalError::Invalid(
            "the run has no test ROIs to measure the sensitivity on".into(),
        ));
    }
    sensitivity_of(run.model.as_ref(), &train, &anchors, &run.device)
}

/// The sensitivity table of `model`: latent sds and measure sds over `train`, effects averaged
/// over `anchors`.
pub fn sensitivity_of(
    model: &dyn Autoencoder,
    train: &[&Roi],
    anchors: &[&Roi],
    device: &Device,
) -> Result<Sensitivity, EvalError> {
    if anchors.is_empty() {
        return Err(EvalError::Invalid(
            "no anchor ROIs to measure the sensitivity on".into(),
        ));
    }
    let training_sd = measure_sd(train);
    for m in [Measure::Echogenicity, Measure::Heterogeneity] {
        if training_sd.get(m).is_none() {
            return Err(EvalError::Invalid(format!(
                "the {} training ROIs do not vary in {}: nothing to standardise the effects by",
                train.len(),
                m.as_str()
            )));
        }
    }
    let sd = latent_sd(model, train, device)?;
    let x = roi_tensor(anchors, device)?;
    let z = batched(&x, EVAL_BATCH, |b| decoder_latent(model, b))?.detach();
    let d = z.dim(1)?;
    if d != sd.len() {
        return Err(EvalError::Invalid(format!(
            "the anchors' latent has {d} variables but the training ROIs' has {}",
            sd.len()
        )));
    }
    let n = anchors.len();
    let mut shape = vec![1usize; z.rank()];
    shape[1] = d;
    let mut rows = Vec::with_capacity(d);
    for (dim, &sd_dim) in sd.iter().enumerate() {
        let mut onehot = vec![0f32; d];
        onehot[dim] = sd_dim as f32;
        let delta = Tensor::from_vec(onehot, shape.as_slice(), device)?;
        // Rows 0..n: +1 sd; rows n..2n: -1 sd.
        let shifted = Tensor::cat(&[z.broadcast_add(&delta)?, z.broadcast_sub(&delta)?], 0)?;
        let images = batched(&shifted, EVAL_BATCH, |b| model.decode(b))?
            .flatten_from(1)?
            .to_vec2::<f32>()?;
        let images: Vec<Vec<u8>> = images.iter().map(|i| to_u8(i)).collect();
        let mut granularity_rois = 0;
        let raw = Effects::from_fn(|m| {
            let diffs: Vec<f64> = (0..n)
                .map(|i| (m.of(&images[i]) - m.of(&images[n + i])) / 2.0)
                .filter(|v| v.is_finite())
                .collect();
            if m == Measure::Granularity {
                granularity_rois = diffs.len();
            }
            (!diffs.is_empty()).then(|| diffs.iter().sum::<f64>() / diffs.len() as f64)
        });
        let std = Effects::from_fn(|m| Some(raw.get(m)? / training_sd.get(m)?));
        let dominant = Measure::ALL
            .into_iter()
            .filter(|&m| std.get(m).is_some())
            .fold(None, |best: Option<Measure>, m| match best {
                Some(b) if std.get(b).map_or(0.0, f64::abs) >= std.get(m).map_or(0.0, f64::abs) => {
                    Some(b)
                }
                _ => Some(m),
            })
            .unwrap_or(Measure::Echogenicity);
        rows.push(SensitivityRow {
            dim,
            echogenicity: std.echogenicity,
            heterogeneity: std.heterogeneity,
            granularity: std.granularity,
            dominant,
            raw,
            granularity_rois,
            latent_sd: sd_dim,
        });
    }
    Ok(Sensitivity {
        rois: n,
        training_sd,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synth::{generate, SynthConfig};
    use crate::model::{Cae, CaeConfig, Vae, VaeConfig, VqVae, VqVaeConfig};

    fn rois() -> Vec<Roi> {
        generate(&SynthConfig {
            seed: 13,
            healthy: 2,
            steatotic: 2,
            frames: 6,
        })
    }

    #[test]
    fn spread_takes_every_index_or_an_even_sample() {
        assert_eq!(spread(3, 10), vec![0, 1, 2]);
        assert_eq!(spread(10, 4), vec![0, 2, 5, 7]);
        assert!(spread(0, 4).is_empty());
    }

    #[test]
    fn one_row_per_latent_variable_for_maps_and_vectors() {
        let rois = rois();
        let all: Vec<&Roi> = rois.iter().collect();
        let (train, anchors) = all.split_at(18);
        let vq = VqVae::new(VqVaeConfig::default(), 2, &Device::Cpu).unwrap();
        vq.begin_training(&roi_tensor(train, &Device::Cpu).unwrap(), 2)
            .unwrap();
        let models: Vec<Box<dyn Autoencoder>> = vec![
            Box::new(vq),
            Box::new(Cae::new(CaeConfig::default(), 2, &Device::Cpu).unwrap()),
            Box::new(Vae::new(VaeConfig::default(), 2, &Device::Cpu).unwrap()),
        ];
        for m in models {
            let name = m.name();
            let s = sensitivity_of(m.as_ref(), train, anchors, &Device::Cpu).unwrap();
            assert_eq!(s.rois, 6, "{name}");
            assert_eq!(s.rows.len(), 32, "{name}");
            for (i, r) in s.rows.iter().enumerate() {
                assert_eq!(r.dim, i);
                for m in [Measure::Echogenicity, Measure::Heterogeneity] {
                    let (v, raw) = (r.effect(m).unwrap(), r.raw.get(m).unwrap());
                    assert!(v.is_finite() && raw.is_finite(), "{name}: {r:?}");
                    let want = raw / s.training_sd.get(m).unwrap();
                    assert!((v - want).abs() < 1e-12);
                }
                let top = r.effect(r.dominant).unwrap().abs();
                for m in Measure::ALL {
                    assert!(r.effect(m).map_or(0.0, f64::abs) <= top, "{name}: {r:?}");
                }
                assert!(r.granularity_rois <= 6);
            }
            // Some variable moves the decoded ROIs' brightness.
            let top = s.top(Measure::Echogenicity, 3);
            assert_eq!(top.len(), 3);
            assert!(top[0].echogenicity.unwrap().abs() > 0.0, "{name}");
            assert!(
                top[0].echogenicity.unwrap().abs() >= top[2].echogenicity.unwrap().abs(),
                "{name}"
            );
        }
    }

    #[test]
    fn shifting_up_and_down_measures_the_change_per_sd() {
        // A decoder that is the identity on a [N, 1, 28, 28] "latent": +1 sd of the only
        // variable brightens every pixel by sd, so the echogenicity moves by sd per sd and the
        // heterogeneity does not move.
        struct Identity(crate::model::Params);
        impl Autoencoder for Identity {
            fn name(&self) -> &'static str {
                "identity"
            }
            fn params(&self) -> &crate::model::Params {
                &self.0
            }
            fn forward(&self, _: &Tensor, _: bool) -> candle_core::Result<crate::model::Output> {
                candle_core::bail!("not used")
            }
            fn encode(&self, x: &Tensor) -> candle_core::Result<Tensor> {
                Ok(x.clone())
            }
            fn decode(&self, z: &Tensor) -> candle_core::Result<Tensor> {
                z.clamp(0f32, 1f32)
            }
            fn latent_summary(&self, x: &Tensor) -> candle_core::Result<Tensor> {
                x.mean((2, 3))
            }
            fn latent_dim(&self) -> usize {
                1
            }
        }
        let rois = rois();
        let all: Vec<&Roi> = rois.iter().collect();
        let m = Identity(crate::model::Params::default());
        let s = sensitivity_of(&m, &all, &all[..4], &Device::Cpu).unwrap();
        assert_eq!(s.rows.len(), 1);
        let r = &s.rows[0];
        let sd = latent_sd(&m, &all, &Device::Cpu).unwrap()[0];
        assert!((r.latent_sd - sd).abs() < 1e-12);
        let echo = r.raw.echogenicity.unwrap();
        // Clamping at 0 and 1 and 8-bit rounding take a little off.
        assert!(echo > 0.8 * sd && echo <= sd + 0.01, "{echo} vs sd {sd}");
        assert!(r.raw.heterogeneity.unwrap().abs() < 0.2 * echo);
        assert_eq!(r.dominant, Measure::Echogenicity);
    }
}

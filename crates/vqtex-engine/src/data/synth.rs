//! The synthetic liver-ultrasound generator behind `sample-data/`.
//!
//! Physically motivated and calibrated to the measured statistics of real HI-normalised ROIs
//! (../shared/DATA.md): complex Gaussian scatterers (so envelope amplitudes are Rayleigh distributed),
//! convolved with an anisotropic point-spread function (short axially, wide laterally), envelope,
//! log-compression, then a per-patient echogenicity and contrast. Each patient gets a liver and a
//! kidney-cortex region; every frame of one heartbeat moves the window a little, decorrelates part of
//! the speckle and wobbles the gain. The HI is *computed* from the 8-bit liver and kidney ROIs by the
//! same function real data uses ([`super::roi::normalise`]), never assumed.
//!
//! Each patient also gets a liver fat percentage (the labels' `fat` column): below 5% for healthy
//! patients, 6-60% for steatotic ones, and a steatotic liver's echogenicity rises with its fat, so
//! that regressing fat on ROI features has something to find (`vqtex cv`'s "Degrees of
//! steatosis").

use rand::Rng as _;
use rand_distr::{Beta, Distribution, Normal};

use super::roi::normalise;
use super::{Label, PatientId, Roi, ROI_SIZE};
use crate::rng::{seeded, Rng};

/// Parameters of the generator. The defaults reproduce the real dataset's design: 55 patients x 10
/// frames, 17 healthy and 38 steatotic.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub seed: u64,
    pub healthy: usize,
    pub steatotic: usize,
    pub frames: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 2024,
            healthy: 17,
            steatotic: 38,
            frames: 10,
        }
    }
}

/// Per-class targets, in the HI-normalised 0-255 scale, from DATA.md's table.
struct ClassModel {
    /// Mean and sd across patients of the normalised ROI mean.
    mean: (f64, f64),
    /// Mean and sd of the ratio mean / within-ROI sd.
    ratio: (f64, f64),
    /// Mean, sd and range of the hepatorenal index.
    hi: (f64, f64, f64, f64),
}

fn class_model(label: Label) -> ClassModel {
    match label {
        Label::Healthy => ClassModel {
            mean: (99.8, 17.0),
            ratio: (5.4, 0.45),
            hi: (1.033, 0.124, 0.81, 1.49),
        },
        Label::Steatosis => ClassModel {
            mean: (153.8, 26.0),
            ratio: (6.2, 0.65),
            hi: (1.474, 0.230, 0.94, 2.19),
        },
    }
}

/// Steatotic fat is `FAT_MIN + FAT_SPAN * Beta(FAT_BETA)`: 6-60%, mean about 26%, skewed to mild
/// (as biopsy series are).
const FAT_MIN: f64 = 6.0;
const FAT_SPAN: f64 = 54.0;
const FAT_BETA: (f64, f64) = (1.5, 2.5);
/// Mean steatotic fat of that distribution.
const FAT_MEAN: f64 = FAT_MIN + FAT_SPAN * FAT_BETA.0 / (FAT_BETA.0 + FAT_BETA.1);
/// Rise of the steatotic class's normalised ROI mean per percent of fat, and the sd left to
/// other causes: 1.6 x 11.7 (the fat sd) and 18 together keep the class's spread across patients
/// at about the measured 26, with fat explaining about half of its variance.
const FAT_SLOPE: f64 = 1.6;
const FAT_RESIDUAL_SD: f64 = 18.0;

/// A patient's liver fat in percent, one decimal: below 5% when healthy (0.5-4.5, uniform), 6-60%
/// when steatotic. From a stream of its own, so the patient's other draws do not depend on it.
pub fn patient_fat(seed: u64, index: usize, label: Label) -> f64 {
    let mut rng = seeded(seed, &format!("fat-{index}"));
    let f = match label {
        Label::Healthy => rng.random_range(0.5..4.5),
        Label::Steatosis => {
            let b = Beta::new(FAT_BETA.0, FAT_BETA.1).expect("positive shape parameters");
            FAT_MIN + FAT_SPAN * b.sample(&mut rng)
        }
    };
    (f * 10.0).round() / 10.0
}

/// Axial (down the rows) and lateral (along the columns) widths of the point-spread function, in
/// pixels (Gaussian sigma of the field's PSF). Tuned so the log-compressed images reproduce the
/// measured autocorrelation (axial lag 1 about 0.47, lateral lag 1 about 0.83).
const PSF_AXIAL: f64 = 1.05;
pub(crate) const PSF_LATERAL: f64 = 2.35;
/// How far a frame may drift from the patient's reference window (pixels).
const DRIFT: usize = 3;
/// Fraction of the speckle (in amplitude) that is renewed between frames.
pub(crate) const DECORRELATION: f64 = 0.35;

/// A patient's simulated frames: liver ROIs before normalisation and kidney-cortex ROIs.
pub struct PatientFrames {
    pub patient: PatientId,
    pub label: Label,
    /// Liver fat, percent ([`patient_fat`]).
    pub fat: f64,
    pub liver: Vec<Vec<u8>>,
    pub kidney: Vec<Vec<u8>>,
}

pub(crate) fn gauss(rng: &mut Rng, mean: f64, sd: f64) -> f64 {
    Normal::new(mean, sd).expect("finite sd").sample(rng)
}

fn kernel(sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i as f64).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm = k.iter().map(|v| v * v).sum::<f64>().sqrt();
    k.into_iter().map(|v| v / norm).collect()
}

/// A speckle field: standardised log-envelope of complex Gaussian scatterers convolved with the PSF.
/// `noise` holds the complex scatterers (re, im) on an `n x n` grid; the output is `(n - 2r)^2`.
fn speckle(noise: &[(f64, f64)], n: usize) -> (Vec<f64>, usize) {
    let (out, m, _) = speckle_rect(noise, n, n);
    (out, m)
}

/// [`speckle`] of a `rows x cols` grid of scatterers: the output loses the PSF margin `r` on every
/// side, `(rows - 2r) x (cols - 2r)`, returned with its row and column counts.
pub(crate) fn speckle_rect(
    noise: &[(f64, f64)],
    rows: usize,
    cols: usize,
) -> (Vec<f64>, usize, usize) {
    let ka = kernel(PSF_AXIAL);
    let kl = kernel(PSF_LATERAL);
    let (ra, rl) = (ka.len() / 2, kl.len() / 2);
    let r = ra.max(rl);
    let (mr, mc) = (rows - 2 * r, cols - 2 * r);
    // Lateral pass (along columns), then axial pass (down rows).
    let mut tmp = vec![(0.0, 0.0); rows * mc];
    for row in 0..rows {
        for c in 0..mc {
            let (mut re, mut im) = (0.0, 0.0);
            for (j, w) in kl.iter().enumerate() {
                let (a, b) = noise[row * cols + c + r + j - rl];
                re += w * a;
                im += w * b;
            }
            tmp[row * mc + c] = (re, im);
        }
    }
    let mut out = vec![0.0; mr * mc];
    for row in 0..mr {
        for c in 0..mc {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, w) in ka.iter().enumerate() {
                let (a, b) = tmp[(row + r + i - ra) * mc + c];
                re += w * a;
                im += w * b;
            }
            // Log-compressed envelope. ln of a Rayleigh amplitude with E|z|^2 = 2 has mean
            // (ln 2 - euler_gamma) / 2 and variance pi^2 / 24: standardise with the exact values.
            let env = (re * re + im * im).sqrt().max(1e-12);
            let mu = (std::f64::consts::LN_2 - 0.577_215_664_901_532_9) / 2.0;
            let sd = (std::f64::consts::PI.powi(2) / 24.0).sqrt();
            out[row * mc + c] = soft_floor((env.ln() - mu) / sd);
        }
    }
    (out, mr, mc)
}

/// The dark tail of log-compressed speckle ends at the system's noise floor: values below -3 sd are
/// squeezed smoothly into [-4, -3] (real ROIs never reach 0: their minimum is 7-11).
fn soft_floor(v: f64) -> f64 {
    if v < -3.0 {
        -3.0 - (1.0 - (v + 3.0).exp())
    } else {
        v
    }
}

pub(crate) fn complex_noise(rng: &mut Rng, len: usize) -> Vec<(f64, f64)> {
    let normal = Normal::new(0.0, 1.0).expect("unit normal");
    (0..len)
        .map(|_| (normal.sample(rng), normal.sample(rng)))
        .collect()
}

/// Renders one tissue region's frames: a speckle window per frame, with drift and partial
/// decorrelation, mapped to 8-bit with the given mean and within-ROI sd.
fn tissue_frames(rng: &mut Rng, frames: usize, mean: f64, sd: f64) -> Vec<Vec<u8>> {
    let pad = (3.0 * PSF_LATERAL).ceil() as usize;
    let field = ROI_SIZE + 2 * DRIFT;
    let n = field + 2 * pad;
    let base = complex_noise(rng, n * n);
    let keep = (1.0 - DECORRELATION * DECORRELATION).sqrt();
    let (mut dy, mut dx) = (DRIFT as isize, DRIFT as isize);
    let mut out = Vec::with_capacity(frames);
    for _ in 0..frames {
        let fresh = complex_noise(rng, n * n);
        let mixed: Vec<(f64, f64)> = base
            .iter()
            .zip(&fresh)
            .map(|(&(a, b), &(c, d))| (keep * a + DECORRELATION * c, keep * b + DECORRELATION * d))
            .collect();
        let (g, m) = speckle(&mixed, n);
        debug_assert_eq!(m, field);
        let gain = 1.0 + gauss(rng, 0.0, 0.03);
        let mut roi = Vec::with_capacity(ROI_SIZE * ROI_SIZE);
        for r in 0..ROI_SIZE {
            for c in 0..ROI_SIZE {
                let v = g[(r + dy as usize) * m + c + dx as usize];
                roi.push((gain * (mean + sd * v)).round().clamp(0.0, 255.0) as u8);
            }
        }
        out.push(roi);
        // One heartbeat: the window wanders by at most one pixel a frame.
        dy = (dy + rng.random_range(-1i64..=1) as isize).clamp(0, 2 * DRIFT as isize);
        dx = (dx + rng.random_range(-1i64..=1) as isize).clamp(0, 2 * DRIFT as isize);
    }
    out
}

/// A patient's raw (before HI normalisation) liver and kidney-cortex intensities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TissueParams {
    pub liver_mean: f64,
    pub liver_sd: f64,
    pub kidney_mean: f64,
    pub kidney_sd: f64,
}

/// Draws a patient's tissue intensities from its class model; returns the patient's RNG, ready for
/// the speckle. With a `fat`, a steatotic patient's mean brightness is drawn around the class mean
/// shifted by its fat ([`FAT_SLOPE`]); without one (the frame generator), from the class alone.
/// Either way the same number of draws is made, so the speckle that follows is the same.
pub(crate) fn patient_params(
    seed: u64,
    index: usize,
    label: Label,
    fat: Option<f64>,
) -> (Rng, TissueParams) {
    let mut rng = seeded(seed, &format!("patient-{index}"));
    let model = class_model(label);
    let (lo, hi_max) = (model.hi.2, model.hi.3);
    let hi = gauss(&mut rng, model.hi.0, model.hi.1).clamp(lo, hi_max);
    let (mean, sd) = match (label, fat) {
        (Label::Steatosis, Some(f)) => (model.mean.0 + FAT_SLOPE * (f - FAT_MEAN), FAT_RESIDUAL_SD),
        _ => model.mean,
    };
    let target_mean = gauss(&mut rng, mean, sd).clamp(45.0, 235.0);
    let ratio = gauss(&mut rng, model.ratio.0, model.ratio.1).clamp(3.5, 9.0);
    // Normalised liver = raw liver x HI, and HI = liver / kidney, so in raw units:
    let liver_mean = target_mean / hi;
    let liver_sd = target_mean / ratio / hi;
    let kidney_mean = liver_mean / hi;
    let kidney_ratio = gauss(&mut rng, 5.0, 0.5).clamp(3.5, 8.0);
    let t = TissueParams {
        liver_mean,
        liver_sd,
        kidney_mean,
        kidney_sd: kidney_mean / kidney_ratio,
    };
    (rng, t)
}

/// Simulates one patient's raw liver and kidney ROIs (before HI normalisation).
pub fn simulate_patient(cfg: &SynthConfig, index: usize, label: Label) -> PatientFrames {
    let fat = patient_fat(cfg.seed, index, label);
    let (mut rng, t) = patient_params(cfg.seed, index, label, Some(fat));
    let liver = tissue_frames(&mut rng, cfg.frames, t.liver_mean, t.liver_sd);
    let kidney = tissue_frames(&mut rng, cfg.frames, t.kidney_mean, t.kidney_sd);
    PatientFrames {
        patient: PatientId(format!("{:02}", index + 1)),
        label,
        fat,
        liver,
        kidney,
    }
}

/// The whole synthetic dataset: HI-normalised liver ROIs with their patient's fat, patients
/// `01`..`55` (healthy first, as in the Byra dataset), files `pNN_fK.png`.
pub fn generate(cfg: &SynthConfig) -> Vec<Roi> {
    let labels = std::iter::repeat_n(Label::Healthy, cfg.healthy)
        .chain(std::iter::repeat_n(Label::Steatosis, cfg.steatotic));
    let mut rois = Vec::new();
    for (index, label) in labels.enumerate() {
        let p = simulate_patient(cfg, index, label);
        for (f, (liver, kidney)) in p.liver.iter().zip(&p.kidney).enumerate() {
            let (pixels, hi) = normalise(liver, kidney).expect("simulated kidney is never black");
            rois.push(Roi {
                file: format!("p{}_f{f}.png", p.patient),
                patient: p.patient.clone(),
                label,
                pixels,
                hi: Some(hi),
                split: None,
                fat: Some(p.fat),
            });
        }
    }
    rois
}

/// Averaged normalised autocorrelation of ROIs at lags 0..=max_lag, down the rows (axial) and along
/// the columns (lateral). Each ROI's correlation uses its own mean and variance.
pub fn autocorrelation(rois: &[&[u8]], max_lag: usize) -> (Vec<f64>, Vec<f64>) {
    let n = ROI_SIZE;
    let mut axial = vec![0.0; max_lag + 1];
    let mut lateral = vec![0.0; max_lag + 1];
    let mut count = 0.0f64;
    for roi in rois {
        let mean = roi.iter().map(|&p| p as f64).sum::<f64>() / (n * n) as f64;
        let x: Vec<f64> = roi.iter().map(|&p| p as f64 - mean).collect();
        let var = x.iter().map(|v| v * v).sum::<f64>() / (n * n) as f64;
        if var <= 0.0 {
            continue;
        }
        count += 1.0;
        for lag in 0..=max_lag {
            let (mut a, mut l) = (0.0, 0.0);
            for r in 0..n {
                for c in 0..n {
                    if r + lag < n {
                        a += x[r * n + c] * x[(r + lag) * n + c];
                    }
                    if c + lag < n {
                        l += x[r * n + c] * x[r * n + c + lag];
                    }
                }
            }
            let pairs = ((n - lag) * n) as f64;
            axial[lag] += a / pairs / var;
            lateral[lag] += l / pairs / var;
        }
    }
    for v in axial.iter_mut().chain(lateral.iter_mut()) {
        *v /= count.max(1.0);
    }
    (axial, lateral)
}

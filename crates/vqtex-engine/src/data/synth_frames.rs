//! Synthetic full B-mode frames for the frames -> boxes -> ROIs path: a fan-shaped sector of liver
//! speckle with a kidney (renal cortex) on the left, the same per-patient intensities and speckle as
//! [`super::synth`], and the liver and kidney boxes of every frame (a coords CSV), so HI extraction
//! runs end to end on a fresh clone.

use rand::Rng as _;

use super::extract::Boxes;
use super::synth::{
    complex_noise, gauss, patient_params, speckle_rect, DECORRELATION, PSF_LATERAL,
};
use super::{Label, PatientId, ROI_SIZE};

/// Parameters of the frame generator. The defaults are sample-data/frames: 2 healthy and 2
/// steatotic patients, 3 frames each, 180x120 pixels.
#[derive(Debug, Clone)]
pub struct FrameSynthConfig {
    pub seed: u64,
    pub healthy: usize,
    pub steatotic: usize,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
}

impl Default for FrameSynthConfig {
    fn default() -> Self {
        FrameSynthConfig {
            seed: 2024,
            healthy: 2,
            steatotic: 2,
            frames: 3,
            width: 180,
            height: 120,
        }
    }
}

/// One synthetic frame and where its liver and kidney are.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthFrame {
    pub patient: PatientId,
    pub label: Label,
    pub frame: usize,
    pub width: usize,
    pub height: usize,
    /// Row-major 8-bit pixels.
    pub pixels: Vec<u8>,
    pub boxes: Boxes,
}

impl FrameSynthConfig {
    /// Labels of the patients, healthy first (as the Byra dataset).
    pub fn labels(&self) -> Vec<Label> {
        std::iter::repeat_n(Label::Healthy, self.healthy)
            .chain(std::iter::repeat_n(Label::Steatosis, self.steatotic))
            .collect()
    }
}

/// Kidney ellipse (centre row, centre column, semi-axes) for a frame size, before the frame's shift.
fn kidney_ellipse(h: usize, w: usize) -> (f64, f64, f64, f64) {
    (
        0.62 * h as f64,
        0.30 * w as f64,
        0.17 * h as f64,
        0.20 * w as f64,
    )
}

fn in_sector(r: usize, c: usize, h: usize, w: usize) -> bool {
    let (hf, wf) = (h as f64, w as f64);
    let (r, dx) = (r as f64, c as f64 - wf / 2.0);
    r >= 0.04 * hf && r <= 0.97 * hf && dx.abs() <= (r + 0.15 * hf) * 40f64.to_radians().tan()
}

/// One patient's frames (patient `index` from 0, as [`super::synth::generate`] numbers them).
pub fn patient_frames(cfg: &FrameSynthConfig, index: usize, label: Label) -> Vec<SynthFrame> {
    let (h, w) = (cfg.height, cfg.width);
    assert!(
        h >= 100 && w >= 150,
        "frames must be at least 150x100 pixels"
    );
    let (mut rng, t) = patient_params(cfg.seed ^ 0x6672_616d_6573, index, label, None);
    let pad = (3.0 * PSF_LATERAL).ceil() as usize;
    let (rows, cols) = (h + 2 * pad, w + 2 * pad);
    let base = complex_noise(&mut rng, rows * cols);
    let keep = (1.0 - DECORRELATION * DECORRELATION).sqrt();
    let (mut dy, mut dx) = (0i64, 0i64);
    let half = ROI_SIZE as f64 / 2.0;
    let mut out = Vec::with_capacity(cfg.frames);
    for frame in 0..cfg.frames {
        let fresh = complex_noise(&mut rng, rows * cols);
        let mixed: Vec<(f64, f64)> = base
            .iter()
            .zip(&fresh)
            .map(|(&(a, b), &(c, d))| (keep * a + DECORRELATION * c, keep * b + DECORRELATION * d))
            .collect();
        let (field, fr, fc) = speckle_rect(&mixed, rows, cols);
        debug_assert_eq!((fr, fc), (h, w));
        let gain = 1.0 + gauss(&mut rng, 0.0, 0.03);
        let (kr, kc, ry, rx) = kidney_ellipse(h, w);
        let (kr, kc) = (kr + dy as f64, kc + dx as f64);
        let mut pixels = vec![0u8; h * w];
        for r in 0..h {
            for c in 0..w {
                if !in_sector(r, c, h, w) {
                    continue;
                }
                let e = ((r as f64 - kr) / ry).powi(2) + ((c as f64 - kc) / rx).powi(2);
                // The renal capsule: a bright rim around the cortex, outside any box.
                let capsule = 1.7 * t.liver_mean.max(t.kidney_mean);
                let (mean, sd) = if e <= 0.85 {
                    (t.kidney_mean, t.kidney_sd)
                } else if e <= 1.0 {
                    (capsule, capsule / 5.0)
                } else {
                    (t.liver_mean, t.liver_sd)
                };
                let v = gain * (mean + sd * field[r * w + c]);
                pixels[r * w + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        let corner =
            |row: f64, col: f64| ((col - half).round() as u32, (row - half).round() as u32);
        let boxes = Boxes {
            liver: corner(0.40 * h as f64 + dy as f64, 0.64 * w as f64 + dx as f64),
            kidney: corner(kr, kc),
        };
        out.push(SynthFrame {
            patient: PatientId(format!("{:02}", index + 1)),
            label,
            frame,
            width: w,
            height: h,
            pixels,
            boxes,
        });
        // One heartbeat: the anatomy wanders by at most a pixel a frame, at most 3 in all.
        dy = (dy + rng.random_range(-1i64..=1)).clamp(-3, 3);
        dx = (dx + rng.random_range(-1i64..=1)).clamp(-3, 3);
    }
    out
}

/// All patients' frames.
pub fn generate_frames(cfg: &FrameSynthConfig) -> Vec<SynthFrame> {
    cfg.labels()
        .into_iter()
        .enumerate()
        .flat_map(|(i, l)| patient_frames(cfg, i, l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::extract::extract_frame;

    #[test]
    fn boxes_sit_on_liver_and_kidney_and_give_the_patients_hi() {
        let cfg = FrameSynthConfig::default();
        let frames = generate_frames(&cfg);
        assert_eq!(frames.len(), 12);
        for f in &frames {
            let (_, t) = patient_params(
                cfg.seed ^ 0x6672_616d_6573,
                f.patient.0.parse::<usize>().unwrap() - 1,
                f.label,
                None,
            );
            let e = extract_frame(&f.pixels, f.width as u32, f.height as u32, f.boxes).unwrap();
            let want = t.liver_mean / t.kidney_mean;
            assert!(
                (e.hi - want).abs() < 0.12 * want,
                "{:?} frame {}: hi {} vs {want}",
                f.patient,
                f.frame,
                e.hi
            );
            // The kidney is on the left, the liver box right of it; outside the fan is black.
            assert!(f.boxes.kidney.0 < f.boxes.liver.0);
            assert_eq!(f.pixels[0], 0);
        }
        let healthy = frames.iter().filter(|f| f.label == Label::Healthy).count();
        assert_eq!(healthy, 6);
    }
}

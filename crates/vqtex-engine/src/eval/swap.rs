//! Controlled code manipulation (the paper's future work): edit a VQ-VAE ROI's 7x7 code map and
//! decode it, to see what a code stands for in place.
//!
//! An edit either replaces every use of code I by code J ([`Edit::Replace`]) or sets one cell of
//! the map to code J ([`Edit::Cell`]). The edited map is decoded by looking each code up in the
//! codebook (the model's parameter named `codebook`, as [`super::traversal::anchored`] reads it)
//! and passing those rows to the decoder as z_q — exactly what the model decodes for an
//! unedited ROI, so the unedited map gives the model's own reconstruction. One ROI is decoded as
//! a single 1x1 batch ([`CodeEditor::decode`]), fast enough to follow a cursor in the workbench.

use candle_core::{Device, Tensor};

use super::traversal::anchor_by_file;
use super::EvalError;
use crate::data::Roi;
use crate::model::{roi_tensor, Autoencoder};
use crate::train::LoadedRun;

/// A change to a ROI's code map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Every cell quantised to code `from` gets code `to`.
    Replace { from: u32, to: u32 },
    /// The cell at `row`, `col` (0-based, row-major over the map) gets code `to`.
    Cell { row: usize, col: usize, to: u32 },
}

impl Edit {
    /// The code the edit writes.
    pub fn to(self) -> u32 {
        match self {
            Edit::Replace { to, .. } | Edit::Cell { to, .. } => to,
        }
    }
}

impl std::fmt::Display for Edit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Edit::Replace { from, to } => write!(f, "code {from} -> {to} everywhere"),
            Edit::Cell { row, col, to } => write!(f, "cell ({row},{col}) -> code {to}"),
        }
    }
}

/// A VQ model's codebook, ready to encode ROIs to code maps and decode code maps to images.
pub struct CodeEditor<'a> {
    model: &'a dyn Autoencoder,
    /// `[K, D]`, detached.
    codebook: Tensor,
    /// Rows and columns of the code map (7x7 for the paper's models).
    side: (usize, usize),
}

impl<'a> CodeEditor<'a> {
    /// The codebook of `model`; an error when the model does not quantise. The map's size is
    /// read by encoding one blank ROI on `device`.
    pub fn new(model: &'a dyn Autoencoder, device: &Device) -> Result<CodeEditor<'a>, EvalError> {
        let not_vq = || {
            EvalError::Invalid(format!(
                "the {} model has no codebook: code manipulation needs a VQ-VAE run",
                model.name()
            ))
        };
        model.codebook_size().ok_or_else(not_vq)?;
        let codebook = model
            .params()
            .iter()
            .find(|(name, _)| name == "codebook")
            .map(|(_, v)| v.as_tensor().detach())
            .ok_or_else(|| {
                EvalError::Invalid(format!(
                    "the {} model quantises but has no parameter named codebook",
                    model.name()
                ))
            })?;
        let blank = Tensor::zeros((1, 1, 28, 28), candle_core::DType::F32, device)?;
        let (_, z_e) = model.codes(&blank)?.ok_or_else(not_vq)?;
        let (_, _, h, w) = z_e.dims4()?;
        Ok(CodeEditor {
            model,
            codebook,
            side: (h, w),
        })
    }

    /// Codebook entries.
    pub fn codebook_size(&self) -> usize {
        self.codebook.dims().first().copied().unwrap_or(0)
    }

    /// Rows and columns of a code map.
    pub fn side(&self) -> (usize, usize) {
        self.side
    }

    /// The code map of one ROI, row-major (`rows * cols` codes).
    pub fn codes_of(&self, roi: &Roi) -> Result<Vec<u32>, EvalError> {
        let x = roi_tensor(&[roi], self.codebook.device())?;
        let (codes, _) = self.model.codes(&x)?.ok_or_else(|| {
            EvalError::Invalid(format!("the {} model gives no codes", self.model.name()))
        })?;
        Ok(codes.to_vec1::<u32>()?)
    }

    fn check_code(&self, code: u32, what: &str) -> Result<(), EvalError> {
        let k = self.codebook_size();
        if code as usize >= k {
            return Err(EvalError::Invalid(format!(
                "{what} code {code} is out of range: the codebook has {k} codes (0..{})",
                k.saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// Checks an edit against the codebook and the map's size.
    pub fn check(&self, edit: Edit) -> Result<(), EvalError> {
        match edit {
            Edit::Replace { from, to } => {
                self.check_code(from, "the source")?;
                self.check_code(to, "the target")
            }
            Edit::Cell { row, col, to } => {
                let (h, w) = self.side;
                if row >= h || col >= w {
                    return Err(EvalError::Invalid(format!(
                        "cell ({row},{col}) is out of range: the code map is {h}x{w} (rows \
                         0..{}, columns 0..{})",
                        h.saturating_sub(1),
                        w.saturating_sub(1)
                    )));
                }
                self.check_code(to, "the target")
            }
        }
    }

    /// `codes` with `edit` applied (checked first).
    pub fn apply(&self, codes: &[u32], edit: Edit) -> Result<Vec<u32>, EvalError> {
        self.check(edit)?;
        let mut out = codes.to_vec();
        match edit {
            Edit::Replace { from, to } => {
                for c in out.iter_mut().filter(|c| **c == from) {
                    *c = to;
                }
            }
            Edit::Cell { row, col, to } => {
                let cell = out.get_mut(row * self.side.1 + col).ok_or_else(|| {
                    EvalError::Invalid(format!(
                        "a code map of {} codes has no cell ({row},{col})",
                        codes.len()
                    ))
                })?;
                *cell = to;
            }
        }
        Ok(out)
    }

    /// Decodes one code map (row-major) to a 28x28 image in [0, 1]: the codebook rows as z_q,
    /// in a single 1x1 batch.
    pub fn decode(&self, codes: &[u32]) -> Result<Vec<f32>, EvalError> {
        let (h, w) = self.side;
        if codes.len() != h * w {
            return Err(EvalError::Invalid(format!(
                "a code map has {} codes ({h}x{w}), not {}",
                h * w,
                codes.len()
            )));
        }
        if let Some(&c) = codes.iter().find(|&&c| c as usize >= self.codebook_size()) {
            self.check_code(c, "the")?;
        }
        let d = self.codebook.dim(1)?;
        let ids = Tensor::from_slice(codes, codes.len(), self.codebook.device())?;
        let z_q = self
            .codebook
            .embedding(&ids)?
            .reshape((1, h, w, d))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        Ok(self.model.decode(&z_q)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// One edit of one ROI's code map and what it decodes to.
#[derive(Debug, Clone)]
pub struct Swap {
    /// The ROI, as an index into the run's dataset.
    pub roi: usize,
    pub edit: Edit,
    /// Rows and columns of the code maps.
    pub side: (usize, usize),
    /// The ROI's code map, row-major, before and after the edit.
    pub before: Vec<u32>,
    pub after: Vec<u32>,
    /// The ROI's own pixels in [0, 1].
    pub original: Vec<f32>,
    /// The decoding of its unedited code map (the model's reconstruction).
    pub recon: Vec<f32>,
    /// The decoding of the edited map.
    pub edited: Vec<f32>,
}

impl Swap {
    /// The cells the edit changed: (row, column, code before, code after).
    pub fn changed(&self) -> Vec<(usize, usize, u32, u32)> {
        let cols = self.side.1.max(1);
        self.before
            .iter()
            .zip(&self.after)
            .enumerate()
            .filter(|(_, (b, a))| b != a)
            .map(|(i, (&b, &a))| (i / cols, i % cols, b, a))
            .collect()
    }
}

/// Applies `edit` to the code map of `roi` and decodes the map before and after.
pub fn swap_roi(
    model: &dyn Autoencoder,
    device: &Device,
    roi: &Roi,
    edit: Edit,
) -> Result<Swap, EvalError> {
    let editor = CodeEditor::new(model, device)?;
    editor.check(edit)?;
    let before = editor.codes_of(roi)?;
    let after = editor.apply(&before, edit)?;
    let recon = editor.decode(&before)?;
    let edited = if after == before {
        recon.clone()
    } else {
        editor.decode(&after)?
    };
    Ok(Swap {
        roi: 0,
        edit,
        side: editor.side(),
        before,
        after,
        original: roi.to_unit(),
        recon,
        edited,
    })
}

/// [`swap_roi`] on the ROI of a run's dataset named `file` (as [`super::traversal::find_roi`]
/// matches it).
pub fn swap(run: &LoadedRun, file: &str, edit: Edit) -> Result<Swap, EvalError> {
    // Refuse a model without a codebook before looking for the ROI.
    CodeEditor::new(run.model.as_ref(), &run.device)?.check(edit)?;
    let i = anchor_by_file(run, file)?;
    let mut s = swap_roi(run.model.as_ref(), &run.device, &run.dataset.rois[i], edit)?;
    s.roi = i;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synth::{generate, SynthConfig};
    use crate::model::{Cae, CaeConfig, VqVae, VqVaeConfig};

    /// Synthetic ROIs and a VQ-VAE whose codebook starts from their encoder outputs (so codes
    /// are spread like a trained model's, and decode to different images).
    fn setup() -> (Vec<Roi>, VqVae) {
        let rois = generate(&SynthConfig {
            seed: 11,
            healthy: 2,
            steatotic: 2,
            frames: 8,
        });
        let m = VqVae::new(VqVaeConfig::default(), 4, &Device::Cpu).unwrap();
        let refs: Vec<&Roi> = rois.iter().collect();
        m.begin_training(&roi_tensor(&refs, &Device::Cpu).unwrap(), 4)
            .unwrap();
        (rois, m)
    }

    fn mean_abs(a: &[f32], b: &[f32], keep: impl Fn(usize, usize) -> bool) -> f64 {
        let (mut s, mut n) = (0.0, 0usize);
        for i in 0..a.len() {
            if keep(i / 28, i % 28) {
                s += f64::from((a[i] - b[i]).abs());
                n += 1;
            }
        }
        s / n.max(1) as f64
    }

    #[test]
    fn unedited_maps_decode_to_the_models_reconstruction() {
        let (rois, m) = setup();
        let e = CodeEditor::new(&m, &Device::Cpu).unwrap();
        assert_eq!(e.side(), (7, 7));
        assert_eq!(e.codebook_size(), 64);
        let s = swap_roi(&m, &Device::Cpu, &rois[0], Edit::Replace { from: 3, to: 3 }).unwrap();
        assert_eq!(s.before.len(), 49);
        let recon = crate::eval::reconstruct(&m, &[&rois[0]]).unwrap();
        let d = mean_abs(&s.recon, &recon[0], |_, _| true);
        assert!(d < 1e-5, "{d}");
        assert_eq!(s.original, rois[0].to_unit());
    }

    #[test]
    fn replacing_a_code_by_itself_changes_nothing() {
        let (rois, m) = setup();
        let e = CodeEditor::new(&m, &Device::Cpu).unwrap();
        let codes = e.codes_of(&rois[1]).unwrap();
        let used = codes[24];
        let s = swap_roi(
            &m,
            &Device::Cpu,
            &rois[1],
            Edit::Replace {
                from: used,
                to: used,
            },
        )
        .unwrap();
        assert_eq!(s.before, s.after);
        assert!(s.changed().is_empty());
        assert_eq!(s.recon, s.edited);
        // And a real replacement changes every cell of that code, and only those.
        let other = (used + 1) % 64;
        let s = swap_roi(
            &m,
            &Device::Cpu,
            &rois[1],
            Edit::Replace {
                from: used,
                to: other,
            },
        )
        .unwrap();
        let n = codes.iter().filter(|&&c| c == used).count();
        assert_eq!(s.changed().len(), n);
        assert!(s
            .changed()
            .iter()
            .all(|&(r, c, b, a)| b == used && a == other && codes[r * 7 + c] == used));
        assert!(mean_abs(&s.recon, &s.edited, |_, _| true) > 0.0);
    }

    #[test]
    fn a_cell_edit_changes_that_cell_and_mostly_the_pixels_near_it() {
        let (rois, m) = setup();
        let e = CodeEditor::new(&m, &Device::Cpu).unwrap();
        for (roi, (row, col)) in rois.iter().zip([(0, 0), (3, 3), (6, 2), (1, 5)]) {
            let codes = e.codes_of(roi).unwrap();
            // The code farthest from the cell's own, so that the edit shows.
            let book = e.codebook.to_vec2::<f32>().unwrap();
            let own = &book[codes[row * 7 + col] as usize];
            let far = (0..book.len())
                .max_by(|&a, &b| {
                    let d = |k: usize| -> f32 {
                        book[k].iter().zip(own).map(|(x, y)| (x - y).powi(2)).sum()
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap() as u32;
            let s = swap_roi(&m, &Device::Cpu, roi, Edit::Cell { row, col, to: far }).unwrap();
            assert_eq!(s.changed(), vec![(row, col, codes[row * 7 + col], far)]);
            // The cell stands for the 4x4 block at 4x its coordinates.
            let (cy, cx) = (row as f64 * 4.0 + 1.5, col as f64 * 4.0 + 1.5);
            let dist = |y: usize, x: usize| (y as f64 - cy).abs().max((x as f64 - cx).abs());
            let near = mean_abs(&s.recon, &s.edited, |y, x| dist(y, x) <= 4.0);
            let away = mean_abs(&s.recon, &s.edited, |y, x| dist(y, x) >= 10.0);
            assert!(near > 1e-4, "cell ({row},{col}): nothing changed near it");
            assert!(
                away < 0.25 * near,
                "cell ({row},{col}): {away} far away vs {near} near"
            );
        }
    }

    #[test]
    fn bad_edits_and_models_without_a_codebook_are_refused() {
        let (rois, m) = setup();
        let e = CodeEditor::new(&m, &Device::Cpu).unwrap();
        let codes = e.codes_of(&rois[0]).unwrap();
        let msg = |edit| e.apply(&codes, edit).unwrap_err().to_string();
        assert!(msg(Edit::Replace { from: 64, to: 1 })
            .contains("the source code 64 is out of range: the codebook has 64 codes (0..63)"));
        assert!(msg(Edit::Replace { from: 1, to: 99 }).contains("target code 99"));
        assert!(msg(Edit::Cell {
            row: 7,
            col: 0,
            to: 1
        })
        .contains("cell (7,0) is out of range: the code map is 7x7"));
        assert!(msg(Edit::Cell {
            row: 0,
            col: 0,
            to: 64
        })
        .contains("code 64 is out of range"));
        assert!(e.decode(&codes[..48]).is_err());
        let cae = Cae::new(CaeConfig::default(), 1, &Device::Cpu).unwrap();
        let err = swap_roi(
            &cae,
            &Device::Cpu,
            &rois[0],
            Edit::Replace { from: 0, to: 1 },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("the cae model has no codebook"), "{err}");
    }

    /// `cargo test -p vqtex-engine --features timing --lib eval::swap -- --ignored --nocapture`.
    #[cfg(feature = "timing")]
    #[test]
    #[ignore = "timing, not a test"]
    fn decode_one_roi_time() {
        let (rois, m) = setup();
        let e = CodeEditor::new(&m, &Device::Cpu).unwrap();
        let codes = e.codes_of(&rois[0]).unwrap();
        let edited = e
            .apply(
                &codes,
                Edit::Cell {
                    row: 3,
                    col: 3,
                    to: 5,
                },
            )
            .unwrap();
        e.decode(&edited).unwrap();
        let mut ms: Vec<f64> = (0..50)
            .map(|_| {
                let t = std::time::Instant::now();
                std::hint::black_box(e.decode(&edited).unwrap());
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "decode of one edited 7x7 code map: median {:.2} ms, max {:.2} ms (50 runs)",
            ms[25], ms[49]
        );
    }
}

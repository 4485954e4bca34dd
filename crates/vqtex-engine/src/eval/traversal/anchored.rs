//! Traversals anchored on one real ROI. Decoding the *mean* latent map of the training ROIs
//! averages away all spatial texture (a 4x4-block sd of about 0.01 on real ROIs, against 0.06 in
//! a real ROI); here the traversal starts from one ROI's own latent map, so the texture the model
//! encoded for that ROI is kept and one variable's effect on it shows.
//!
//! The latent is what the model's decoder takes: for the VQ-VAE the continuous encoder output z_e
//! (before quantisation), for the CAE and the MAE their 7x7 maps, for the VAE and the VAE+NF
//! (which have no spatial map) the ROI's own latent vector. Variable `dim` is moved by the same
//! amount at every position, in units of its sd over the training ROIs' latents (every ROI and
//! every position). The VQ-VAE gives two rows: the shifted z_e decoded as it is, and re-quantised
//! to the nearest codes first (what the model itself can produce).

use candle_core::{Device, Tensor};

use super::{check_limits, offsets, Traversal};
use crate::data::{Label, Roi, Side};
use crate::eval::{batched, EvalError, EVAL_BATCH};
use crate::model::{roi_tensor, Autoencoder};
use crate::train::LoadedRun;

/// Which decoding a row of an anchored traversal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// The shifted latent decoded as it is (the only row of models without a codebook).
    Latent,
    /// The VQ-VAE's shifted continuous z_e, decoded without quantisation.
    ZE,
    /// The VQ-VAE's shifted z_e re-quantised to the nearest codebook entries, then decoded.
    Requantised,
}

impl RowKind {
    /// How figures label the row (after the variable).
    pub fn label(self) -> &'static str {
        match self {
            RowKind::Latent => "",
            RowKind::ZE => "z_e",
            RowKind::Requantised => "re-quantised",
        }
    }

    /// The row's label in a figure: `var 3`, `var 3 z_e`, `var 3 re-quantised`.
    pub fn row_label(self, dim: usize) -> String {
        match self {
            RowKind::Latent => format!("var {dim}"),
            k => format!("var {dim} {}", k.label()),
        }
    }
}

/// One latent variable's anchored traversal: one row per [`RowKind`] the model has.
#[derive(Debug, Clone)]
pub struct Anchored {
    pub dim: usize,
    /// Offsets in sd, one per column.
    pub offsets: Vec<f64>,
    /// The sd (latent units) one offset step of 1 stands for.
    pub sd: f64,
    pub rows: Vec<(RowKind, Vec<Vec<f32>>)>,
}

/// A model's decoder latent for one anchor ROI, ready to be shifted and decoded: the anchor's
/// latent, the sd of every latent variable over the training ROIs and, for VQ models, the codebook.
pub struct AnchorLatent<'a> {
    model: &'a dyn Autoencoder,
    /// `[1, D, H, W]` (a map) or `[1, D]` (a vector).
    z: Tensor,
    /// Per variable, over every training ROI and position.
    sd: Vec<f64>,
    codebook: Option<Tensor>,
}

/// Whether the model quantises (and so has a z_e before quantisation and a codebook).
fn is_vq(model: &dyn Autoencoder) -> bool {
    model.codebook_size().is_some()
}

/// The latent the decoder takes, before any quantisation: z_e for VQ models, `encode` otherwise.
pub(crate) fn decoder_latent(model: &dyn Autoencoder, x: &Tensor) -> candle_core::Result<Tensor> {
    if is_vq(model) {
        match model.codes(x)? {
            Some((_, z_e)) => Ok(z_e),
            None => candle_core::bail!("the {} model gives no z_e", model.name()),
        }
    } else {
        model.encode(x)
    }
}

/// `[N, D, ...]` to one row per variable of all its values (every ROI, every position).
fn per_variable(z: &Tensor) -> Result<Vec<Vec<f32>>, EvalError> {
    let by_var = match z.rank() {
        2 => z.t()?.contiguous()?,
        4 => z.permute((1, 0, 2, 3))?.contiguous()?.flatten_from(1)?,
        r => {
            return Err(EvalError::Invalid(format!(
                "the model's latent has {r} dimensions; a traversal needs a vector [N, D] or a \
                 map [N, D, H, W]"
            )))
        }
    };
    Ok(by_var.to_vec2::<f32>()?)
}

/// The sd of every latent variable of the decoder's latent over `rois` (every ROI and every
/// position of its map), population sd.
pub fn latent_sd(
    model: &dyn Autoencoder,
    rois: &[&Roi],
    device: &Device,
) -> Result<Vec<f64>, EvalError> {
    if rois.is_empty() {
        return Err(EvalError::Invalid(
            "no training ROIs to measure the latent sd on".into(),
        ));
    }
    let x = roi_tensor(rois, device)?;
    let z = batched(&x, EVAL_BATCH, |b| decoder_latent(model, b))?;
    Ok(per_variable(&z)?
        .iter()
        .map(|v| {
            let n = v.len().max(1) as f64;
            let m = v.iter().map(|&a| a as f64).sum::<f64>() / n;
            (v.iter().map(|&a| (a as f64 - m).powi(2)).sum::<f64>() / n).sqrt()
        })
        .collect())
}

impl<'a> AnchorLatent<'a> {
    /// Encodes `anchor` and measures the latent sd over `train`.
    pub fn new(
        model: &'a dyn Autoencoder,
        train: &[&Roi],
        anchor: &Roi,
        device: &Device,
    ) -> Result<AnchorLatent<'a>, EvalError> {
        let sd = latent_sd(model, train, device)?;
        let z = decoder_latent(model, &roi_tensor(&[anchor], device)?)?.detach();
        let codebook = if is_vq(model) {
            let book = model
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
            Some(book)
        } else {
            None
        };
        Ok(AnchorLatent {
            model,
            z,
            sd,
            codebook,
        })
    }

    /// How many latent variables the decoder's latent has.
    pub fn dims(&self) -> usize {
        self.sd.len()
    }

    /// The sd of variable `dim` over the training ROIs.
    pub fn sd(&self, dim: usize) -> Option<f64> {
        self.sd.get(dim).copied()
    }

    /// Whether the model has a codebook to re-quantise to (two rows).
    pub fn can_requantise(&self) -> bool {
        self.codebook.is_some()
    }

    /// The rows this model's anchored traversal has.
    pub fn row_kinds(&self) -> Vec<RowKind> {
        if self.can_requantise() {
            vec![RowKind::ZE, RowKind::Requantised]
        } else {
            vec![RowKind::Latent]
        }
    }

    fn check_dim(&self, dim: usize) -> Result<f64, EvalError> {
        self.sd(dim).ok_or_else(|| {
            EvalError::Invalid(format!(
                "--dim {dim} is out of range: the model has {} latent variables (0..{})",
                self.dims(),
                self.dims().saturating_sub(1)
            ))
        })
    }

    /// The anchor's latent with variable `dim` moved by each offset (in sd) at every position,
    /// decoded; `requantise` snaps every shifted vector to its nearest code first (VQ only).
    pub fn decode_shifted(
        &self,
        dim: usize,
        offsets: &[f64],
        requantise: bool,
    ) -> Result<Vec<Vec<f32>>, EvalError> {
        let sd = self.check_dim(dim)?;
        let d = self.dims();
        let device = self.z.device();
        let mut delta = vec![0f32; offsets.len() * d];
        for (i, &o) in offsets.iter().enumerate() {
            delta[i * d + dim] = (o * sd) as f32;
        }
        let mut shape = vec![1usize; self.z.rank()];
        shape[0] = offsets.len();
        shape[1] = d;
        let delta = Tensor::from_vec(delta, shape.as_slice(), device)?;
        let mut z = self.z.broadcast_add(&delta)?;
        if requantise {
            let Some(book) = &self.codebook else {
                return Err(EvalError::Invalid(format!(
                    "the {} model has no codebook to re-quantise to",
                    self.model.name()
                )));
            };
            z = requantised(&z, book)?;
        }
        let y = batched(&z, EVAL_BATCH, |b| self.model.decode(b))?;
        Ok(y.flatten_from(1)?.to_vec2::<f32>()?)
    }

    /// Every row of variable `dim`'s traversal from -range to +range sd in `steps` steps.
    pub fn traverse(&self, dim: usize, steps: usize, range: f64) -> Result<Anchored, EvalError> {
        check_limits(steps, range)?;
        let sd = self.check_dim(dim)?;
        let offsets = offsets(steps, range);
        let mut rows = Vec::new();
        for kind in self.row_kinds() {
            let images = self.decode_shifted(dim, &offsets, kind == RowKind::Requantised)?;
            rows.push((kind, images));
        }
        Ok(Anchored {
            dim,
            offsets,
            sd,
            rows,
        })
    }
}

/// Every vector of a `[B, D, H, W]` map replaced by its nearest codebook entry.
fn requantised(z: &Tensor, codebook: &Tensor) -> Result<Tensor, EvalError> {
    if z.rank() != 4 {
        return Err(EvalError::Invalid(
            "only a latent map can be re-quantised".into(),
        ));
    }
    let (b, d, h, w) = z.dims4()?;
    let flat = z
        .permute((0, 2, 3, 1))?
        .contiguous()?
        .reshape((b * h * w, d))?;
    let codes = crate::model::vqvae::nearest_codes(&flat, codebook)?;
    Ok(codebook
        .embedding(&codes)?
        .reshape((b, h, w, d))?
        .permute((0, 3, 1, 2))?
        .contiguous()?)
}

/// The training ROIs of a run.
fn train_rois(run: &LoadedRun) -> Vec<&Roi> {
    run.dataset
        .indices(&run.split, Side::Train)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect()
}

/// The anchor of a run's traversals, ready to decode: `anchor` indexes `run.dataset.rois`.
pub fn anchor_latent(run: &LoadedRun, anchor: usize) -> Result<AnchorLatent<'_>, EvalError> {
    let roi = run.dataset.rois.get(anchor).ok_or_else(|| {
        EvalError::Invalid(format!(
            "ROI {anchor} is out of range: the dataset has {} ROIs",
            run.dataset.rois.len()
        ))
    })?;
    AnchorLatent::new(run.model.as_ref(), &train_rois(run), roi, &run.device)
}

/// One row of a traversal anchored on ROI `anchor` (an index into `run.dataset.rois`): its own
/// latent with variable `dim` moved from -range to +range sd at every position, decoded; with
/// `requantise` (VQ models only) the shifted z_e goes through the codebook first.
pub fn traverse_from_roi(
    run: &LoadedRun,
    anchor: usize,
    dim: usize,
    steps: usize,
    range: f64,
    requantise: bool,
) -> Result<Traversal, EvalError> {
    check_limits(steps, range)?;
    let a = anchor_latent(run, anchor)?;
    let offsets = offsets(steps, range);
    let images = a.decode_shifted(dim, &offsets, requantise)?;
    Ok(Traversal {
        dim,
        offsets,
        images,
    })
}

/// The class whose medoid anchors traversals by default.
pub const ANCHOR_CLASS: Label = Label::Steatosis;

/// The medoid of `rois` in the model's latent space ([`Autoencoder::latent_summary`], Euclidean):
/// the ROI with the smallest sum of distances to the others (the first such one on ties), as an
/// index into `rois`. `None` when `rois` is empty.
pub fn medoid(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Option<usize>, EvalError> {
    if rois.is_empty() {
        return Ok(None);
    }
    let z = crate::eval::latents(model, rois)?;
    let n = z.nrows();
    let mut best: Option<(usize, f64)> = None;
    for i in 0..n {
        let total: f64 = (0..n)
            .map(|j| {
                let diff = &z.row(i) - &z.row(j);
                diff.dot(&diff).sqrt()
            })
            .sum();
        if best.is_none_or(|(_, b)| total < b) {
            best = Some((i, total));
        }
    }
    Ok(best.map(|(i, _)| i))
}

/// The default anchor of a run's traversals, as an index into `run.dataset.rois`: the medoid
/// ([`medoid`]) of the test ROIs of the steatotic class ([`ANCHOR_CLASS`]), so the ROI most
/// typical of steatosis that the model never trained on; the medoid of the healthy test ROIs when
/// the test side has no steatotic ROI.
pub fn anchor_default(run: &LoadedRun) -> Result<usize, EvalError> {
    let test = run.dataset.indices(&run.split, Side::Test);
    if test.is_empty() {
        return Err(EvalError::Invalid(
            "the run has no test ROIs to anchor a traversal on; pick one with --roi FILE".into(),
        ));
    }
    let of = |label: Label| -> Vec<usize> {
        test.iter()
            .copied()
            .filter(|&i| run.dataset.rois[i].label == label)
            .collect()
    };
    let mut class = of(ANCHOR_CLASS);
    if class.is_empty() {
        class = of(Label::Healthy);
    }
    let rois: Vec<&Roi> = class.iter().map(|&i| &run.dataset.rois[i]).collect();
    let m = medoid(run.model.as_ref(), &rois)?
        .ok_or_else(|| EvalError::Invalid("no test ROI of either class".into()))?;
    Ok(class[m])
}

/// The ROI named `file` in `rois`: its file name as in the dataset (relative to the data folder),
/// or, when that matches nothing, its last path component if exactly one ROI has it.
pub fn find_roi(rois: &[Roi], file: &str) -> Result<usize, String> {
    if let Some(i) = rois.iter().position(|r| r.file == file) {
        return Ok(i);
    }
    let base = |s: &str| {
        std::path::Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    let wanted = base(file);
    let hits: Vec<usize> = (0..rois.len())
        .filter(|&i| wanted.is_some() && base(&rois[i].file) == wanted)
        .collect();
    match hits.as_slice() {
        [i] => Ok(*i),
        [] => {
            let examples: Vec<&str> = rois.iter().take(3).map(|r| r.file.as_str()).collect();
            Err(format!(
                "no ROI named {file:?} in the run's dataset ({} ROIs; names are file names as in \
                 the data folder, e.g. {})",
                rois.len(),
                examples.join(", ")
            ))
        }
        many => Err(format!(
            "{file:?} names {} ROIs ({}, ...); give the path inside the data folder",
            many.len(),
            rois[many[0]].file
        )),
    }
}

/// [`find_roi`] over a run's dataset.
pub fn anchor_by_file(run: &LoadedRun, file: &str) -> Result<usize, EvalError> {
    find_roi(&run.dataset.rois, file).map_err(EvalError::Invalid)
}

/// Texture: the mean over the `block` x `block` blocks of a `side` x `side` image of the
/// (population) sd of the pixels inside each block. Flat grey gives 0; real liver ROIs about 0.06
/// with 4x4 blocks and pixels in [0, 1]. Blocks that do not fit whole are left out; 0 when none
/// fits.
pub fn block_sd(img: &[f32], side: usize, block: usize) -> f64 {
    if block == 0 || block > side || img.len() < side * side {
        return 0.0;
    }
    let per = side / block;
    let mut total = 0.0;
    for by in 0..per {
        for bx in 0..per {
            let px: Vec<f64> = (0..block * block)
                .map(|k| img[(by * block + k / block) * side + bx * block + k % block] as f64)
                .collect();
            let m = px.iter().sum::<f64>() / px.len() as f64;
            total += (px.iter().map(|v| (v - m).powi(2)).sum::<f64>() / px.len() as f64).sqrt();
        }
    }
    total / (per * per) as f64
}

/// The mean [`block_sd`] (28x28, 4x4 blocks) of a set of images.
pub fn mean_block_sd(images: &[Vec<f32>]) -> f64 {
    if images.is_empty() {
        return 0.0;
    }
    images.iter().map(|i| block_sd(i, 28, 4)).sum::<f64>() / images.len() as f64
}

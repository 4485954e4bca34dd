//! Evaluation of a trained run: reconstruction metrics, SVMs on pixels vs latents, latent traversals
//! and the report against the paper's numbers.

pub mod binary;
pub mod codes;
pub mod compare;
pub mod figures;
pub mod metrics;
pub mod ood;
pub mod regress;
pub mod report;
pub mod sensitivity;
pub mod stats;
pub mod svm;
pub mod swap;
pub mod table;
pub mod traversal;

use candle_core::Tensor;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::{Label, PatientId, Roi, Side};
use crate::model::{roi_tensor, Autoencoder};
use crate::train::LoadedRun;
pub use metrics::{RoiMetrics, Summary};
pub use svm::{Protocol, Scores};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("model error: {0}")]
    Model(#[from] candle_core::Error),
    #[error(transparent)]
    Svm(#[from] svm::SvmError),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
}

/// Runs `f` over `x` in batches and concatenates the results along dim 0. Each result is
/// detached: evaluation needs no gradients, and a result that kept its op graph would keep every
/// intermediate activation of its batch alive (gigabytes for the MAE).
/// ROIs per evaluation forward: small enough that the MAE's activations stay in the hundreds of MB.
pub(crate) const EVAL_BATCH: usize = 32;

/// `f` over `x` in parts of `batch` ROIs, each result detached (its op graph freed before the
/// next part runs), concatenated.
pub fn batched(
    x: &Tensor,
    batch: usize,
    f: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> candle_core::Result<Tensor> {
    let n = x.dim(0)?;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        parts.push(f(&x.narrow(0, start, len)?)?.detach());
        start += len;
    }
    Tensor::cat(&parts, 0)
}

/// Reconstructions of ROIs, each as 784 floats in [0, 1].
pub fn reconstruct(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Vec<Vec<f32>>, EvalError> {
    let x = roi_tensor(rois, model_device(model))?;
    let y = batched(&x, EVAL_BATCH, |b| Ok(model.forward(b, false)?.recon))?;
    Ok(y.flatten_from(1)?.to_vec2::<f32>()?)
}

/// The per-ROI latent vectors (32-d for the paper's models).
pub fn latents(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Array2<f64>, EvalError> {
    let x = roi_tensor(rois, model_device(model))?;
    let z = batched(&x, EVAL_BATCH, |b| model.latent_summary(b))?;
    let (n, d) = z.dims2()?;
    let v: Vec<f64> = z
        .flatten_all()?
        .to_vec1::<f32>()?
        .into_iter()
        .map(f64::from)
        .collect();
    Array2::from_shape_vec((n, d), v).map_err(|e| EvalError::Invalid(e.to_string()))
}

/// Raw pixels in [0, 1], one row of 784 per ROI.
pub fn pixels(rois: &[&Roi]) -> Array2<f64> {
    let v: Vec<f64> = rois
        .iter()
        .flat_map(|r| r.pixels.iter().map(|&p| p as f64 / 255.0))
        .collect();
    Array2::from_shape_vec((rois.len(), crate::data::ROI_PIXELS), v).expect("784 pixels per ROI")
}

/// The device a model's parameters live on (CPU for a model without parameters).
pub(crate) fn model_device(model: &dyn Autoencoder) -> &candle_core::Device {
    model
        .params()
        .iter()
        .next()
        .map(|(_, v)| v.device())
        .unwrap_or(&candle_core::Device::Cpu)
}

/// Per-ROI metrics of the test ROIs and their summary.
pub struct Evaluation {
    pub summary: Summary,
    /// File and metrics of each test ROI, in the split's order (the same for every model of a
    /// split, so two evaluations pair up ROI by ROI).
    pub per_roi: Vec<(String, RoiMetrics)>,
    /// Whose ROI each row of `per_roi` is.
    pub patients: Vec<PatientId>,
}

fn test_rois(run: &LoadedRun) -> Vec<&Roi> {
    run.dataset
        .indices(&run.split, Side::Test)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect()
}

fn evaluation_of(test: &[&Roi], recon: &[Vec<f32>]) -> Evaluation {
    let per_roi: Vec<(String, RoiMetrics)> = test
        .iter()
        .zip(recon)
        .map(|(roi, y)| (roi.file.clone(), RoiMetrics::of(&roi.to_unit(), y)))
        .collect();
    let rows: Vec<RoiMetrics> = per_roi.iter().map(|(_, m)| *m).collect();
    Evaluation {
        summary: Summary::of(&rows),
        per_roi,
        patients: test.iter().map(|r| r.patient.clone()).collect(),
    }
}

/// Reconstruction metrics of the run's test ROIs.
pub fn evaluate(run: &LoadedRun) -> Result<Evaluation, EvalError> {
    let test = test_rois(run);
    let recon = reconstruct(run.model.as_ref(), &test)?;
    Ok(evaluation_of(&test, &recon))
}

/// Reconstructions with nothing of the input to copy ([`Autoencoder::recon_no_copy`]), for the
/// models that have them.
pub fn reconstruct_no_copy(
    model: &dyn Autoencoder,
    rois: &[&Roi],
) -> Result<Option<Vec<Vec<f32>>>, EvalError> {
    let x = roi_tensor(rois, model_device(model))?;
    if model
        .recon_no_copy(&x.narrow(0, 0, 1.min(rois.len()))?)?
        .is_none()
    {
        return Ok(None);
    }
    let y = batched(&x, EVAL_BATCH, |b| {
        model
            .recon_no_copy(b)?
            .ok_or_else(|| candle_core::Error::Msg("recon_no_copy stopped answering".into()))
    })?;
    Ok(Some(y.flatten_from(1)?.to_vec2::<f32>()?))
}

/// As [`evaluate`], with every patch predicted from context (`None` for models whose
/// reconstruction copies nothing anyway).
pub fn evaluate_no_copy(run: &LoadedRun) -> Result<Option<Evaluation>, EvalError> {
    let test = test_rois(run);
    Ok(reconstruct_no_copy(run.model.as_ref(), &test)?.map(|r| evaluation_of(&test, &r)))
}

/// Table 2 for one protocol: SVM on pixels vs on the model's latent vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub protocol: Protocol,
    /// ROIs classified (30 for the paper protocol, every test ROI for lopo).
    pub n: usize,
    pub pixels: Scores,
    pub latents: Scores,
}

/// Patient-level bootstrap draws behind each accuracy interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Runs both SVMs on the run's test patients, whose ROIs the autoencoder never saw.
pub fn classify(run: &LoadedRun, protocol: Protocol) -> Result<Classification, EvalError> {
    let test = test_rois(run);
    let labels: Vec<Label> = test.iter().map(|r| r.label).collect();
    let patients: Vec<PatientId> = test.iter().map(|r| r.patient.clone()).collect();
    let seed = run.config.train.seed;
    let pixels = svm::predict(&pixels(&test), &labels, &patients, protocol, seed)?.scores_with_ci(
        &patients,
        BOOTSTRAP_RESAMPLES,
        seed,
    );
    let z = latents(run.model.as_ref(), &test)?;
    let latents = svm::predict(&z, &labels, &patients, protocol, seed)?.scores_with_ci(
        &patients,
        BOOTSTRAP_RESAMPLES,
        seed,
    );
    let n = pixels.confusion.iter().flatten().sum();
    Ok(Classification {
        protocol,
        n,
        pixels,
        latents,
    })
}

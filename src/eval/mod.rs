//! Evaluation of a trained run: reconstruction metrics, SVMs on pixels vs latents, latent traversals
//! and the report against the paper's numbers.

pub mod metrics;
pub mod report;
pub mod svm;
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

/// Runs `f` over `x` in batches and concatenates the results along dim 0.
fn batched(
    x: &Tensor,
    batch: usize,
    f: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
) -> candle_core::Result<Tensor> {
    let n = x.dim(0)?;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        parts.push(f(&x.narrow(0, start, len)?)?);
        start += len;
    }
    Tensor::cat(&parts, 0)
}

/// Reconstructions of ROIs, each as 784 floats in [0, 1].
pub fn reconstruct(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Vec<Vec<f32>>, EvalError> {
    let x = roi_tensor(rois, model_device(model))?;
    let y = batched(&x, 256, |b| Ok(model.forward(b, false)?.recon))?;
    Ok(y.flatten_from(1)?.to_vec2::<f32>()?)
}

/// The per-ROI latent vectors (32-d for the paper's models).
pub fn latents(model: &dyn Autoencoder, rois: &[&Roi]) -> Result<Array2<f64>, EvalError> {
    let x = roi_tensor(rois, model_device(model))?;
    let z = batched(&x, 256, |b| model.latent_summary(b))?;
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

fn model_device(model: &dyn Autoencoder) -> &candle_core::Device {
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
    pub per_roi: Vec<(String, RoiMetrics)>,
    /// For models whose reconstruction copies input pixels (the MAE's visible patches): the
    /// summary of the reconstruction that copies nothing ([`Autoencoder::recon_no_copy`]).
    pub no_copy: Option<Summary>,
}

/// Reconstructions that copy no input pixel, for the models that offer them.
pub fn reconstruct_no_copy(
    model: &dyn Autoencoder,
    rois: &[&Roi],
) -> Result<Option<Vec<Vec<f32>>>, EvalError> {
    if rois.is_empty() {
        return Ok(None);
    }
    let x = roi_tensor(rois, model_device(model))?;
    let mut out = Vec::with_capacity(rois.len());
    for start in (0..rois.len()).step_by(256) {
        let len = 256.min(rois.len() - start);
        let Some(y) = model.recon_no_copy(&x.narrow(0, start, len)?)? else {
            return Ok(None);
        };
        out.extend(y.flatten_from(1)?.to_vec2::<f32>()?);
    }
    Ok(Some(out))
}

pub fn evaluate(run: &LoadedRun) -> Result<Evaluation, EvalError> {
    let test: Vec<&Roi> = run
        .dataset
        .indices(&run.split, Side::Test)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    let recon = reconstruct(run.model.as_ref(), &test)?;
    let per_roi: Vec<(String, RoiMetrics)> = test
        .iter()
        .zip(&recon)
        .map(|(roi, y)| (roi.file.clone(), RoiMetrics::of(&roi.to_unit(), y)))
        .collect();
    let rows: Vec<RoiMetrics> = per_roi.iter().map(|(_, m)| *m).collect();
    let no_copy = reconstruct_no_copy(run.model.as_ref(), &test)?.map(|recon| {
        let rows: Vec<RoiMetrics> = test
            .iter()
            .zip(&recon)
            .map(|(roi, y)| RoiMetrics::of(&roi.to_unit(), y))
            .collect();
        Summary::of(&rows)
    });
    Ok(Evaluation {
        summary: Summary::of(&rows),
        per_roi,
        no_copy,
    })
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

/// Runs both SVMs on the run's test patients, whose ROIs the autoencoder never saw.
pub fn classify(run: &LoadedRun, protocol: Protocol) -> Result<Classification, EvalError> {
    let test: Vec<&Roi> = run
        .dataset
        .indices(&run.split, Side::Test)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    let labels: Vec<Label> = test.iter().map(|r| r.label).collect();
    let patients: Vec<PatientId> = test.iter().map(|r| r.patient.clone()).collect();
    let seed = run.config.train.seed;
    let pixels = svm::classify(&pixels(&test), &labels, &patients, protocol, seed)?;
    let z = latents(run.model.as_ref(), &test)?;
    let latents = svm::classify(&z, &labels, &patients, protocol, seed)?;
    let n = pixels.confusion.iter().flatten().sum();
    Ok(Classification {
        protocol,
        n,
        pixels,
        latents,
    })
}

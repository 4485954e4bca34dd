//! Whole-pipeline cross-validation by patient (`vqtex cv`): can a representation tell healthy
//! from steatotic liver, with error bars, against the baselines a reviewer asks for?
//!
//! Patients (all of them, not a test split) are dealt into k folds stratified by class; with
//! `repeats` the dealing is done again with other seeds. In each fold every autoencoder is trained
//! on the fold's training patients only (a normal run folder, `r{repeat}-f{fold}-{model}`), and
//! each feature set's SVM (the `classify` SVM: standardised, RBF, C 1, gamma 'scale',
//! class-balanced) is fit on the training patients' ROIs and gives a decision value for each
//! held-out ROI. [`results`] turns the pooled out-of-fold decisions into scores per ROI and per
//! patient with intervals, and writes the outputs.
//!
//! When every ROI has a `fat` (percent liver fat), each set also regresses fat on the features in
//! each fold ([`fold_fat_predictions`]: ridge and an RBF SVR, fit on the training ROIs, predicting
//! the held-out ones): the degrees of steatosis, scored by Spearman correlation and mean absolute
//! error ([`crate::eval::regress`]).

use ndarray::Array2;
use rand::Rng as _;

use crate::data::split::k_fold_by_patient;
use crate::data::{Dataset, Label, PatientId, Roi, Split, ROI_SIZE};
use crate::eval::{self, regress, svm, EvalError};
use crate::model::{roi_tensor, Autoencoder, ModelKind};

pub mod results;

/// A representation of an ROI that an SVM classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeatureSet {
    /// The 784 grey levels in [0, 1].
    Pixels,
    /// Mean, sd, skewness, kurtosis and entropy of the grey levels.
    FirstOrder,
    /// Grey-level co-occurrence texture features (5 properties at distances 1, 2, 4).
    Glcm,
    /// A model's 32-d latent summary (the paper's latent vector).
    Latent(ModelKind),
    /// The VQ-VAE's code-use histogram over its 7x7 map (64 bins, fractions).
    VqCodes,
    /// The VQ-VAE's continuous encoder output before quantisation, averaged over positions.
    VqZe,
}

impl FeatureSet {
    /// The name outputs use: `pixels`, `firstorder`, `glcm`, a model's name, `vqvae-codes`,
    /// `vqvae-ze`.
    pub fn name(&self) -> String {
        match self {
            FeatureSet::Pixels => "pixels".into(),
            FeatureSet::FirstOrder => "firstorder".into(),
            FeatureSet::Glcm => "glcm".into(),
            FeatureSet::Latent(k) => k.name().into(),
            FeatureSet::VqCodes => "vqvae-codes".into(),
            FeatureSet::VqZe => "vqvae-ze".into(),
        }
    }

    pub fn parse(s: &str) -> Result<FeatureSet, String> {
        let s = s.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "pixels" => FeatureSet::Pixels,
            "firstorder" => FeatureSet::FirstOrder,
            "glcm" => FeatureSet::Glcm,
            "vqvae-codes" => FeatureSet::VqCodes,
            "vqvae-ze" => FeatureSet::VqZe,
            other => FeatureSet::Latent(other.parse::<ModelKind>().map_err(|_| {
                format!(
                    "'{s}' is not a feature set: pixels, firstorder, glcm, vqvae-codes, vqvae-ze \
                     or a model ({})",
                    ModelKind::ALL.map(|k| k.name()).join(", ")
                )
            })?),
        })
    }

    /// The model whose fold runs the set is computed from, if any.
    pub fn model(&self) -> Option<ModelKind> {
        match self {
            FeatureSet::Latent(k) => Some(*k),
            FeatureSet::VqCodes | FeatureSet::VqZe => Some(ModelKind::Vqvae),
            _ => None,
        }
    }

    /// Every set that the given models allow: the three baselines, each model's latents, and
    /// the VQ-VAE's codes and encoder output when it is among them.
    pub fn defaults(models: &[ModelKind]) -> Vec<FeatureSet> {
        let mut v = vec![FeatureSet::Pixels, FeatureSet::FirstOrder, FeatureSet::Glcm];
        v.extend(models.iter().map(|&k| FeatureSet::Latent(k)));
        if models.contains(&ModelKind::Vqvae) {
            v.extend([FeatureSet::VqCodes, FeatureSet::VqZe]);
        }
        v
    }
}

impl std::fmt::Display for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Column names of a feature matrix of `set` with `width` columns: `px_0`.., the first-order and
/// GLCM names, `{model}_z0`.., `code_0`.., `ze_0`...
pub fn column_names(set: FeatureSet, width: usize) -> Vec<String> {
    match set {
        FeatureSet::FirstOrder => crate::features::FIRSTORDER_NAMES
            .iter()
            .map(|n| n.to_string())
            .collect(),
        FeatureSet::Glcm => crate::features::glcm_names(),
        FeatureSet::Pixels => (0..width).map(|i| format!("px_{i}")).collect(),
        FeatureSet::Latent(k) => (0..width).map(|i| format!("{k}_z{i}")).collect(),
        FeatureSet::VqCodes => (0..width).map(|i| format!("code_{i}")).collect(),
        FeatureSet::VqZe => (0..width).map(|i| format!("ze_{i}")).collect(),
    }
}

/// One fold of one repeat: its split (the held-out patients are the split's test side).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldPlan {
    /// From 1.
    pub repeat: usize,
    /// From 1.
    pub fold: usize,
    pub split: Split,
}

/// The folds of every repeat. Each repeat deals the patients with its own seed, derived from
/// `seed`: the same seed gives the same folds.
pub fn plan(
    data: &Dataset,
    folds: usize,
    repeats: usize,
    seed: u64,
) -> Result<Vec<FoldPlan>, String> {
    let patients: Vec<PatientId> = data.rois.iter().map(|r| r.patient.clone()).collect();
    let labels: Vec<Label> = data.rois.iter().map(|r| r.label).collect();
    let infos = data.patients();
    let per_class = |l: Label| infos.iter().filter(|p| p.label == l).count();
    let fewest = per_class(Label::Healthy).min(per_class(Label::Steatosis));
    if folds < 2 {
        return Err(format!("--folds {folds}: at least 2"));
    }
    if fewest < 2 {
        return Err(format!(
            "{} healthy and {} steatotic patients: cross-validation needs at least 2 of each",
            per_class(Label::Healthy),
            per_class(Label::Steatosis)
        ));
    }
    if folds > infos.len() {
        return Err(format!(
            "--folds {folds} is more than the {} patients",
            infos.len()
        ));
    }
    if repeats == 0 {
        return Err("--repeats 0: at least 1".into());
    }
    let mut out = Vec::new();
    for r in 1..=repeats {
        let s: u64 = crate::rng::seeded(seed, &format!("cv-repeat-{r}")).random();
        for (f, fold) in k_fold_by_patient(&patients, &labels, folds, s)
            .into_iter()
            .enumerate()
        {
            out.push(FoldPlan {
                repeat: r,
                fold: f + 1,
                split: Split {
                    test: fold.held_out.into_iter().collect(),
                },
            });
        }
    }
    Ok(out)
}

/// The run folder name of a model's run in a fold.
pub fn run_name(repeat: usize, fold: usize, model: ModelKind) -> String {
    format!("r{repeat}-f{fold}-{model}")
}

/// Per-ROI code-use histograms and mean encoder outputs.
pub type VqFeatures = (Array2<f64>, Array2<f64>);

/// The VQ-VAE's code-use histograms (`k` bins, fractions of the positions) and mean encoder
/// outputs of `rois`; `None` for models without codes.
pub fn vq_features(
    model: &dyn Autoencoder,
    rois: &[&Roi],
) -> Result<Option<VqFeatures>, EvalError> {
    let Some(k) = model.codebook_size() else {
        return Ok(None);
    };
    let device = eval::model_device(model).clone();
    let mut hist = Vec::with_capacity(rois.len() * k);
    let mut ze = Vec::new();
    let mut dim = 0;
    for chunk in rois.chunks(256) {
        let x = roi_tensor(chunk, &device)?;
        let Some((codes, z_e)) = model.codes(&x)? else {
            return Ok(None);
        };
        let codes = codes.to_vec1::<u32>()?;
        let per = codes.len() / chunk.len().max(1);
        for c in codes.chunks(per.max(1)) {
            let mut h = vec![0.0f64; k];
            for &i in c {
                if let Some(b) = h.get_mut(i as usize) {
                    *b += 1.0 / per as f64;
                }
            }
            hist.extend(h);
        }
        let m = z_e.mean((2, 3))?;
        dim = m.dims2()?.1;
        ze.extend(
            m.flatten_all()?
                .to_vec1::<f32>()?
                .into_iter()
                .map(f64::from),
        );
    }
    let n = rois.len();
    let shape = |e: ndarray::ShapeError| EvalError::Invalid(e.to_string());
    Ok(Some((
        Array2::from_shape_vec((n, k), hist).map_err(shape)?,
        Array2::from_shape_vec((n, dim), ze).map_err(shape)?,
    )))
}

/// The feature matrix of `set` for `rois` (one row each). `model` is the fold's run of the
/// set's model, for the learned sets.
pub fn features(
    set: FeatureSet,
    rois: &[&Roi],
    model: Option<&dyn Autoencoder>,
) -> Result<Array2<f64>, EvalError> {
    let need = || {
        model.ok_or_else(|| EvalError::Invalid(format!("feature set {set} needs its model's run")))
    };
    let pixels: Vec<&[u8]> = rois.iter().map(|r| r.pixels.as_slice()).collect();
    Ok(match set {
        FeatureSet::Pixels => eval::pixels(rois),
        FeatureSet::FirstOrder => crate::features::firstorder_matrix(&pixels),
        FeatureSet::Glcm => crate::features::glcm_matrix(&pixels, ROI_SIZE),
        FeatureSet::Latent(_) => eval::latents(need()?, rois)?,
        FeatureSet::VqCodes | FeatureSet::VqZe => {
            let (codes, ze) = vq_features(need()?, rois)?.ok_or_else(|| {
                EvalError::Invalid(format!("feature set {set}: the model has no codebook"))
            })?;
            if set == FeatureSet::VqCodes {
                codes
            } else {
                ze
            }
        }
    })
}

/// One held-out ROI's decision under one feature set.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub file: String,
    pub patient: PatientId,
    pub repeat: usize,
    pub fold: usize,
    pub features: FeatureSet,
    pub truth: Label,
    /// The SVM's decision value: steatosis when `>= 0`.
    pub decision: f64,
}

impl Prediction {
    pub fn predicted(&self) -> Label {
        if self.decision >= 0.0 {
            Label::Steatosis
        } else {
            Label::Healthy
        }
    }
}

/// Fits the SVM on the fold's training ROIs (rows of `x`, one per ROI of `data`) and returns the
/// decisions of its held-out ROIs.
pub fn fold_predictions(
    set: FeatureSet,
    x: &Array2<f64>,
    data: &Dataset,
    fold: &FoldPlan,
) -> Result<Vec<Prediction>, svm::SvmError> {
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..data.len()).partition(|&i| fold.split.test.contains(&data.rois[i].patient));
    let y: Vec<Label> = train.iter().map(|&i| data.rois[i].label).collect();
    let rows = |idx: &[usize]| x.select(ndarray::Axis(0), idx);
    let d = svm::fit_decide(&rows(&train), &y, &rows(&test))?;
    Ok(test
        .iter()
        .zip(d)
        .map(|(&i, decision)| {
            let r = &data.rois[i];
            Prediction {
                file: r.file.clone(),
                patient: r.patient.clone(),
                repeat: fold.repeat,
                fold: fold.fold,
                features: set,
                truth: r.label,
                decision,
            }
        })
        .collect())
}

/// Every ROI's fat, in the order of `data`'s ROIs, when every ROI has one.
pub fn fat_targets(data: &Dataset) -> Option<Vec<f64>> {
    data.rois.iter().map(|r| r.fat).collect()
}

/// One held-out ROI's predicted fat under one feature set, by both regressors.
#[derive(Debug, Clone, PartialEq)]
pub struct FatPrediction {
    pub file: String,
    pub patient: PatientId,
    pub repeat: usize,
    pub fold: usize,
    pub features: FeatureSet,
    pub label: Label,
    /// The ROI's (its patient's) fat, percent.
    pub truth: f64,
    /// Ridge regression's prediction ([`regress::Ridge`], alpha [`regress::RIDGE_ALPHA`]).
    pub ridge: f64,
    /// The RBF SVR's ([`regress::svr_fit_predict`]).
    pub svr: f64,
}

/// Fits both regressors of fat (`fat`, one per ROI of `data`) on the fold's training ROIs (rows
/// of `x`) and predicts its held-out ROIs.
pub fn fold_fat_predictions(
    set: FeatureSet,
    x: &Array2<f64>,
    data: &Dataset,
    fold: &FoldPlan,
    fat: &[f64],
) -> Result<Vec<FatPrediction>, regress::RegressError> {
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..data.len()).partition(|&i| fold.split.test.contains(&data.rois[i].patient));
    let y: Vec<f64> = train.iter().map(|&i| fat[i]).collect();
    let rows = |idx: &[usize]| x.select(ndarray::Axis(0), idx);
    let (xtr, xte) = (rows(&train), rows(&test));
    let ridge = regress::Ridge::fit(&xtr, &y, regress::RIDGE_ALPHA)?.predict(&xte);
    let svr = regress::svr_fit_predict(&xtr, &y, &xte)?;
    Ok(test
        .iter()
        .zip(ridge.into_iter().zip(svr))
        .map(|(&i, (ridge, svr))| {
            let r = &data.rois[i];
            FatPrediction {
                file: r.file.clone(),
                patient: r.patient.clone(),
                repeat: fold.repeat,
                fold: fold.fold,
                features: set,
                label: r.label,
                truth: fat[i],
                ridge,
                svr,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests;

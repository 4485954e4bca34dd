//! SVM classification of healthy vs steatotic ROIs (linfa-svm, Gaussian kernel, standardised
//! features), with patient-level protocols so that no patient is on both sides.

use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::data::split::{leave_one_patient_out, stratified_patient_holdout, Fold};
use crate::data::{Label, PatientId};

/// How the test ROIs are used to fit and evaluate the SVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The paper's: the test patients split again by patient, about 80 ROIs to fit and 30 to test.
    Paper,
    /// Leave one test patient out: each ROI is classified by an SVM that never saw its patient.
    Lopo,
}

impl std::str::FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Protocol, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "paper" => Ok(Protocol::Paper),
            "lopo" => Ok(Protocol::Lopo),
            _ => Err(format!("'{s}' is not a protocol: paper or lopo")),
        }
    }
}

impl Protocol {
    pub const NAMES: [&'static str; 2] = ["paper", "lopo"];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Paper => "paper",
            Protocol::Lopo => "lopo",
        }
    }
}

/// Confusion matrix and scores, steatosis positive. `confusion` rows are the true class
/// (healthy, steatosis), columns the predicted: `[[tn, fp], [fn, tp]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub confusion: [[usize; 2]; 2],
    pub accuracy: f64,
    pub sensitivity: f64,
    pub specificity: f64,
    pub f1: f64,
    /// 95% interval for the accuracy, by resampling patients (see [`super::stats`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_ci95: Option<[f64; 2]>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Scores {
    pub fn from_predictions(truth: &[Label], predicted: &[Label]) -> Scores {
        let mut m = [[0usize; 2]; 2];
        for (t, p) in truth.iter().zip(predicted) {
            m[t.index()][p.index()] += 1;
        }
        Scores::from_confusion(m)
    }

    pub fn from_confusion(m: [[usize; 2]; 2]) -> Scores {
        let [[tn, fp], [fn_, tp]] = m;
        let total = tn + fp + fn_ + tp;
        Scores {
            confusion: m,
            accuracy: ratio(tn + tp, total),
            sensitivity: ratio(tp, tp + fn_),
            specificity: ratio(tn, tn + fp),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            accuracy_ci95: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SvmError {
    #[error("SVM fit failed: {0}")]
    Fit(String),
    #[error("not enough patients to classify: {0}")]
    TooFew(String),
}

/// Standardises columns with the training rows' mean and sd (sd 0 -> 1).
fn standardise(train: &Array2<f64>, test: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let Some(mean) = train.mean_axis(Axis(0)) else {
        return (train.clone(), test.clone());
    };
    let mut sd = train.std_axis(Axis(0), 0.0);
    sd.mapv_inplace(|s| if s > 1e-12 { s } else { 1.0 });
    ((train - &mean) / &sd, (test - &mean) / &sd)
}

/// Fits an RBF SVM (C = 1, gamma = scikit-learn's 'scale') and predicts the test rows.
pub fn fit_predict(
    train: &Array2<f64>,
    labels: &[Label],
    test: &Array2<f64>,
) -> Result<Vec<Label>, SvmError> {
    Ok(fit_decide(train, labels, test)?
        .into_iter()
        .map(|d| {
            if d >= 0.0 {
                Label::Steatosis
            } else {
                Label::Healthy
            }
        })
        .collect())
}

/// As [`fit_predict`], returning each test row's decision value (the signed distance-like score
/// of the SVM: steatosis when `>= 0`), from which ROC curves and patient means are made. With one
/// class in `labels` every decision is +1 (steatosis) or -1 (healthy).
pub fn fit_decide(
    train: &Array2<f64>,
    labels: &[Label],
    test: &Array2<f64>,
) -> Result<Vec<f64>, SvmError> {
    let first = labels.first().copied().unwrap_or(Label::Healthy);
    if labels.iter().all(|&l| l == first) {
        // One class only: the SVM has nothing to separate; predict that class.
        let d = if first == Label::Steatosis { 1.0 } else { -1.0 };
        return Ok(vec![d; test.nrows()]);
    }
    if train.nrows() == 0 {
        return Err(SvmError::TooFew("no training rows".into()));
    }
    let (xtr, xte) = standardise(train, test);
    // linfa's Gaussian kernel is exp(-||x - y||^2 / eps): eps = 1 / gamma, and gamma 'scale' is
    // 1 / (n_features * var(X)).
    let var = xtr.var(0.0).max(1e-12);
    let eps = xtr.ncols() as f64 * var;
    let y: Array1<bool> = labels.iter().map(|&l| l == Label::Steatosis).collect();
    // Class-balanced penalties (scikit-learn's class_weight='balanced'): C_k = C n / (2 n_k). With
    // the paper's 17:38 imbalance an unweighted SVM mostly predicts steatosis for everyone.
    let n = y.len() as f64;
    let n_pos = y.iter().filter(|&&t| t).count() as f64;
    let (c_pos, c_neg) = (n / (2.0 * n_pos), n / (2.0 * (n - n_pos)));
    let model = Svm::<f64, bool>::params()
        .gaussian_kernel(eps)
        .pos_neg_weights(c_pos, c_neg)
        .eps(1e-3)
        // linfa-svm 0.8.1's shrinking heuristic indexes out of bounds on some problems (it panicked
        // on the sample data's latent vectors, solver_smo.rs:601): keep it off.
        .shrinking(false)
        .fit(&DatasetBase::new(xtr, y))
        .map_err(|e| SvmError::Fit(e.to_string()))?;
    // linfa predicts steatosis when weighted_sum - rho >= 0: that difference is the decision.
    Ok(xte
        .outer_iter()
        .map(|row| model.weighted_sum(&row) - model.rho)
        .collect())
}

fn rows(x: &Array2<f64>, idx: &[usize]) -> Array2<f64> {
    x.select(Axis(0), idx)
}

/// Classifies with the given protocol. `features` has one row per ROI; `labels` and `patients` say
/// whose ROI each row is.
pub fn classify(
    features: &Array2<f64>,
    labels: &[Label],
    patients: &[PatientId],
    protocol: Protocol,
    seed: u64,
) -> Result<Scores, SvmError> {
    let p = predict(features, labels, patients, protocol, seed)?;
    Ok(Scores::from_predictions(&p.truth, &p.predicted))
}

/// Which rows a protocol classified, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Row of `features` of each classified ROI.
    pub rows: Vec<usize>,
    pub truth: Vec<Label>,
    pub predicted: Vec<Label>,
    /// The SVM's decision value of each (steatosis when `>= 0`), for ROC curves and patient means.
    pub decision: Vec<f64>,
}

impl Predictions {
    /// Scores, with a 95% accuracy interval from `resamples` patient-level bootstrap draws.
    pub fn scores_with_ci(&self, patients: &[PatientId], resamples: usize, seed: u64) -> Scores {
        let mut s = Scores::from_predictions(&self.truth, &self.predicted);
        let correct: Vec<bool> = self
            .truth
            .iter()
            .zip(&self.predicted)
            .map(|(t, p)| t == p)
            .collect();
        let who: Vec<PatientId> = self.rows.iter().map(|&i| patients[i].clone()).collect();
        s.accuracy_ci95 =
            super::stats::bootstrap_accuracy_ci(&correct, &who, &self.truth, resamples, seed);
        s
    }
}

/// As [`classify`], returning each classified ROI's prediction.
pub fn predict(
    features: &Array2<f64>,
    labels: &[Label],
    patients: &[PatientId],
    protocol: Protocol,
    seed: u64,
) -> Result<Predictions, SvmError> {
    let folds: Vec<Fold> = match protocol {
        Protocol::Paper => vec![stratified_patient_holdout(
            patients,
            labels,
            30.0 / 110.0,
            seed,
        )],
        Protocol::Lopo => leave_one_patient_out(patients),
    };
    if folds
        .iter()
        .any(|f| f.train.is_empty() || f.test.is_empty())
    {
        return Err(SvmError::TooFew(format!(
            "{} patients; the {} protocol needs at least two of each class",
            folds.len(),
            protocol.as_str()
        )));
    }
    let mut out = Predictions {
        rows: Vec::new(),
        truth: Vec::new(),
        predicted: Vec::new(),
        decision: Vec::new(),
    };
    for fold in &folds {
        let y: Vec<Label> = fold.train.iter().map(|&i| labels[i]).collect();
        let d = fit_decide(
            &rows(features, &fold.train),
            &y,
            &rows(features, &fold.test),
        )?;
        out.rows.extend(&fold.test);
        out.truth.extend(fold.test.iter().map(|&i| labels[i]));
        out.predicted.extend(d.iter().map(|&v| {
            if v >= 0.0 {
                Label::Steatosis
            } else {
                Label::Healthy
            }
        }));
        out.decision.extend(d);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_from_the_papers_confusion_matrix() {
        // SVM on pixels in the paper: [[2, 8], [1, 19]] -> accuracy 0.70.
        let s = Scores::from_confusion([[2, 8], [1, 19]]);
        assert!((s.accuracy - 0.7).abs() < 1e-12);
        assert!((s.sensitivity - 19.0 / 20.0).abs() < 1e-12);
        assert!((s.specificity - 0.2).abs() < 1e-12);
        assert!((s.f1 - 38.0 / 47.0).abs() < 1e-12);
    }

    #[test]
    fn separable_classes_are_classified_by_patient() {
        // Two well separated clusters, 6 patients x 5 ROIs.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        let mut patients = Vec::new();
        for p in 0..6 {
            let label = if p < 3 {
                Label::Healthy
            } else {
                Label::Steatosis
            };
            for r in 0..5 {
                let base = if p < 3 { -2.0 } else { 2.0 };
                rows.extend([
                    base + 0.1 * r as f64,
                    base - 0.05 * p as f64,
                    0.3 * r as f64,
                ]);
                labels.push(label);
                patients.push(PatientId(p.to_string()));
            }
        }
        let x = Array2::from_shape_vec((30, 3), rows).unwrap();
        let s = classify(&x, &labels, &patients, Protocol::Lopo, 1).unwrap();
        assert_eq!(s.confusion, [[15, 0], [0, 15]]);
        let s = classify(&x, &labels, &patients, Protocol::Paper, 1).unwrap();
        let total: usize = s.confusion.iter().flatten().sum();
        assert_eq!(total, 10, "one patient of each class held out");
        assert_eq!(s.accuracy, 1.0);
    }
}

//! Paired comparison of two models' reconstructions of the same test ROIs: Wilcoxon signed-rank and
//! paired t-tests on each metric, over ROIs and over per-patient means (a patient's ROIs are not
//! independent, so the per-patient tests are the honest ones; the per-ROI tests are the paper's).

use serde::{Deserialize, Serialize};

use super::metrics::RoiMetrics;
use super::stats::{paired_t, per_patient_means, wilcoxon, TestResult};
use super::{EvalError, Evaluation};

/// Reads one metric of a ROI's metrics.
pub type MetricOf = fn(&RoiMetrics) -> f64;

/// The four metrics, by name, with how to read each from a ROI's metrics.
pub const METRICS: [(&str, MetricOf); 4] = [
    ("mse", |m| m.mse),
    ("mae", |m| m.mae),
    ("ssim", |m| m.ssim),
    ("psnr", |m| m.psnr),
];

/// Tests of one metric, `reference - other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricTests {
    pub metric: String,
    /// Over the test ROIs.
    pub roi_wilcoxon: Option<TestResult>,
    pub roi_t: Option<TestResult>,
    /// Over the test patients, each the mean of its ROIs.
    pub patient_wilcoxon: Option<TestResult>,
    pub patient_t: Option<TestResult>,
}

/// The reference model (the VQ-VAE) against one other model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub reference: String,
    pub other: String,
    pub rois: usize,
    pub patients: usize,
    pub tests: Vec<MetricTests>,
}

/// Compares two evaluations of the same test ROIs.
pub fn compare(
    reference: (&str, &Evaluation),
    other: (&str, &Evaluation),
) -> Result<Comparison, EvalError> {
    let (a, b) = (reference.1, other.1);
    let same = a.per_roi.len() == b.per_roi.len()
        && a.per_roi.iter().zip(&b.per_roi).all(|(x, y)| x.0 == y.0)
        && a.patients == b.patients;
    if !same {
        return Err(EvalError::Invalid(format!(
            "{} and {} were evaluated on different test ROIs: paired tests need the same split",
            reference.0, other.0
        )));
    }
    let mut tests = Vec::new();
    let mut n_patients = 0;
    for (metric, get) in METRICS {
        let va: Vec<f64> = a.per_roi.iter().map(|(_, m)| get(m)).collect();
        let vb: Vec<f64> = b.per_roi.iter().map(|(_, m)| get(m)).collect();
        let (_, pa) = per_patient_means(&va, &a.patients);
        let (_, pb) = per_patient_means(&vb, &b.patients);
        n_patients = pa.len();
        tests.push(MetricTests {
            metric: metric.to_string(),
            roi_wilcoxon: wilcoxon(&va, &vb),
            roi_t: paired_t(&va, &vb),
            patient_wilcoxon: wilcoxon(&pa, &pb),
            patient_t: paired_t(&pa, &pb),
        });
    }
    Ok(Comparison {
        reference: reference.0.to_string(),
        other: other.0.to_string(),
        rois: a.per_roi.len(),
        patients: n_patients,
        tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::PatientId;
    use crate::eval::metrics::Summary;

    fn evaluation(mse: &[f64], patients: &[&str]) -> Evaluation {
        let per_roi: Vec<(String, RoiMetrics)> = mse
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                (
                    format!("roi{i}.png"),
                    RoiMetrics {
                        mse: m,
                        mae: m.sqrt(),
                        ssim: 1.0 - m,
                        psnr: -10.0 * m.log10(),
                    },
                )
            })
            .collect();
        let rows: Vec<RoiMetrics> = per_roi.iter().map(|(_, m)| *m).collect();
        Evaluation {
            summary: Summary::of(&rows),
            per_roi,
            patients: patients.iter().map(|p| PatientId(p.to_string())).collect(),
        }
    }

    #[test]
    fn a_consistently_better_model_is_significant_per_roi_and_less_so_per_patient() {
        let patients: Vec<String> = (0..40).map(|i| format!("p{}", i / 10)).collect();
        let patients: Vec<&str> = patients.iter().map(String::as_str).collect();
        let good: Vec<f64> = (0..40).map(|i| 0.01 + 0.0001 * (i % 7) as f64).collect();
        let bad: Vec<f64> = good.iter().map(|m| m * 2.0).collect();
        let c = compare(
            ("vqvae", &evaluation(&good, &patients)),
            ("cae", &evaluation(&bad, &patients)),
        )
        .unwrap();
        assert_eq!((c.rois, c.patients), (40, 4));
        assert_eq!(c.tests.len(), 4);
        let mse = &c.tests[0];
        assert_eq!(mse.metric, "mse");
        assert!(mse.roi_wilcoxon.unwrap().p < 1e-6);
        assert!(mse.roi_t.unwrap().p < 1e-6);
        // Four patients: the exact Wilcoxon cannot go below 2 / 2^4.
        let pw = mse.patient_wilcoxon.unwrap();
        assert_eq!(pw.n, 4);
        assert!((pw.p - 0.125).abs() < 1e-12);
        assert!(mse.patient_t.unwrap().p < 0.01);
        // The reference is lower in MSE: every difference negative, t negative.
        assert!(mse.roi_t.unwrap().statistic < 0.0);
    }

    #[test]
    fn different_test_sets_are_refused() {
        let a = evaluation(&[0.1, 0.2], &["a", "b"]);
        let b = evaluation(&[0.1, 0.2], &["a", "c"]);
        let err = compare(("vqvae", &a), ("cae", &b)).unwrap_err();
        assert!(err.to_string().contains("different test ROIs"));
    }
}

//! Regression of a continuous target (liver fat, percent) on ROI features, and its scores: the
//! "degrees of steatosis" of `vqtex cv`.
//!
//! Two regressors, both on features standardised with the training rows' mean and sd:
//! [`Ridge`] (closed form, with intercept, the penalty `alpha` on the weights only, as
//! scikit-learn's `Ridge` on `StandardScaler`ed features) and [`svr_fit_predict`] (linfa's epsilon
//! SVR with an RBF kernel, C 1, epsilon 0.1, gamma 'scale', fit on the standardised target and
//! mapped back to percent).
//!
//! Scores: Spearman's rank correlation (tied values take their average rank, as
//! `scipy.stats.spearmanr`; pinned against it, `scripts/reference/regress.py`) and the mean
//! absolute error, with 95% percentile intervals by a patient-level bootstrap stratified by class,
//! in the style of [`super::binary`]: a drawn patient brings all its units, and a draw only
//! reweights the units (tie groups are found once), so no draw sorts or copies.

use std::collections::BTreeMap;

use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, Axis};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::data::{Label, PatientId};

#[derive(Debug, thiserror::Error)]
pub enum RegressError {
    #[error("regression needs training rows: {0}")]
    TooFew(String),
    #[error("SVR fit failed: {0}")]
    Fit(String),
}

/// Column means and sds (population, sd 0 -> 1) of the training rows.
fn scaler(train: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
    let mean = train
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(train.ncols()));
    let mut sd = train.std_axis(Axis(0), 0.0);
    sd.mapv_inplace(|s| if s > 1e-12 { s } else { 1.0 });
    (mean, sd)
}

/// Solves `a x = b` for a symmetric positive definite `a` (Cholesky). `None` if it is not.
fn solve_spd(a: &Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[[i, i]] = s.sqrt();
            } else {
                l[[i, j]] = s / l[[j, j]];
            }
        }
    }
    let mut y = Array1::<f64>::zeros(n);
    for i in 0..n {
        let s = b[i] - (0..i).map(|k| l[[i, k]] * y[k]).sum::<f64>();
        y[i] = s / l[[i, i]];
    }
    let mut x = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        let s = y[i] - (i + 1..n).map(|k| l[[k, i]] * x[k]).sum::<f64>();
        x[i] = s / l[[i, i]];
    }
    Some(x)
}

/// A fitted ridge regression on standardised features.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    mean: Array1<f64>,
    sd: Array1<f64>,
    /// Weights of the standardised features.
    pub weights: Array1<f64>,
    pub intercept: f64,
}

impl Ridge {
    /// Fits `y ~ intercept + standardise(x) . w`, minimising `|y - ...|^2 + alpha |w|^2`, in closed
    /// form: `w = (Z'Z + alpha I)^-1 Z'(y - mean y)` with `Z` the standardised rows, or its dual
    /// `Z'(ZZ' + alpha I)^-1 (y - mean y)` when there are more features than rows.
    pub fn fit(x: &Array2<f64>, y: &[f64], alpha: f64) -> Result<Ridge, RegressError> {
        if x.nrows() == 0 || x.nrows() != y.len() {
            return Err(RegressError::TooFew(format!(
                "{} rows and {} targets",
                x.nrows(),
                y.len()
            )));
        }
        let (mean, sd) = scaler(x);
        let z = (x - &mean) / &sd;
        let y_mean = y.iter().sum::<f64>() / y.len() as f64;
        let yc: Array1<f64> = y.iter().map(|v| v - y_mean).collect();
        let alpha = alpha.max(1e-12);
        let singular = || RegressError::Fit("the ridge system is not positive definite".into());
        let weights = if z.ncols() <= z.nrows() {
            let mut g = z.t().dot(&z);
            g.diag_mut().mapv_inplace(|v| v + alpha);
            solve_spd(&g, &z.t().dot(&yc)).ok_or_else(singular)?
        } else {
            let mut g = z.dot(&z.t());
            g.diag_mut().mapv_inplace(|v| v + alpha);
            z.t().dot(&solve_spd(&g, &yc).ok_or_else(singular)?)
        };
        Ok(Ridge {
            mean,
            sd,
            weights,
            intercept: y_mean,
        })
    }

    pub fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        let z = (x - &self.mean) / &self.sd;
        z.dot(&self.weights)
            .iter()
            .map(|v| v + self.intercept)
            .collect()
    }
}

/// Ridge's penalty in `vqtex cv`.
pub const RIDGE_ALPHA: f64 = 1.0;

/// Fits an RBF epsilon-SVR (C 1, epsilon 0.1, gamma 'scale' as [`super::svm`]) on standardised
/// features and a standardised target, and predicts the test rows in the target's units. A
/// constant target is predicted as that constant.
pub fn svr_fit_predict(
    train: &Array2<f64>,
    y: &[f64],
    test: &Array2<f64>,
) -> Result<Vec<f64>, RegressError> {
    if train.nrows() == 0 || train.nrows() != y.len() {
        return Err(RegressError::TooFew(format!(
            "{} rows and {} targets",
            train.nrows(),
            y.len()
        )));
    }
    let n = y.len() as f64;
    let y_mean = y.iter().sum::<f64>() / n;
    let y_sd = (y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n).sqrt();
    if y_sd <= 1e-12 {
        return Ok(vec![y_mean; test.nrows()]);
    }
    let (mean, sd) = scaler(train);
    let xtr = (train - &mean) / &sd;
    let xte = (test - &mean) / &sd;
    // linfa's Gaussian kernel is exp(-||x - y||^2 / eps): eps = 1 / gamma = n_features * var(X).
    let eps = xtr.ncols() as f64 * xtr.var(0.0).max(1e-12);
    let target: Array1<f64> = y.iter().map(|v| (v - y_mean) / y_sd).collect();
    let model = Svm::<f64, f64>::params()
        .c_svr(1.0, Some(0.1))
        .gaussian_kernel(eps)
        .eps(1e-3)
        // As for the classifier: linfa-svm 0.8.1's shrinking heuristic can index out of bounds.
        .shrinking(false)
        .fit(&DatasetBase::new(xtr, target))
        .map_err(|e| RegressError::Fit(e.to_string()))?;
    Ok(xte
        .outer_iter()
        .map(|row| y_mean + y_sd * (model.weighted_sum(&row) - model.rho))
        .collect())
}

/// Average ranks from 1 (tied values share the mean of their ranks), as `scipy.stats.rankdata`.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let w = vec![1u64; v.len()];
    let order = TieOrder::new(v);
    order.weighted_ranks(&w)
}

/// Pearson correlation of `a` and `b` with integer weights (a unit of weight k counts k times).
/// `None` when either is constant over the weighted units.
fn weighted_pearson(a: &[f64], b: &[f64], w: &[u64]) -> Option<f64> {
    let total: f64 = w.iter().map(|&k| k as f64).sum();
    if total == 0.0 {
        return None;
    }
    let ma = a.iter().zip(w).map(|(x, &k)| x * k as f64).sum::<f64>() / total;
    let mb = b.iter().zip(w).map(|(x, &k)| x * k as f64).sum::<f64>() / total;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for ((x, y), &k) in a.iter().zip(b).zip(w) {
        let (dx, dy, k) = (x - ma, y - mb, k as f64);
        sab += k * dx * dy;
        saa += k * dx * dx;
        sbb += k * dy * dy;
    }
    let d = (saa * sbb).sqrt();
    (d > 1e-12 * total).then(|| (sab / d).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation (average ranks for ties, as `scipy.stats.spearmanr`). `None` for
/// fewer than 2 values or when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    weighted_pearson(&ranks(a), &ranks(b), &vec![1; a.len()])
}

/// Mean absolute error (NaN for no values).
pub fn mae(truth: &[f64], predicted: &[f64]) -> f64 {
    let n = truth.len().min(predicted.len());
    truth
        .iter()
        .zip(predicted)
        .map(|(t, p)| (t - p).abs())
        .sum::<f64>()
        / n as f64
}

/// Values sorted once, with their tie groups, to rank any reweighting of them.
struct TieOrder {
    /// Groups of equal values, in increasing order: the unit indices of each.
    groups: Vec<Vec<usize>>,
    n: usize,
}

impl TieOrder {
    fn new(v: &[f64]) -> TieOrder {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for i in idx {
            match groups.last_mut() {
                Some(g) if v[g[0]] == v[i] => g.push(i),
                _ => groups.push(vec![i]),
            }
        }
        TieOrder { groups, n: v.len() }
    }

    /// The average rank of each unit when unit i is repeated `w[i]` times (units of weight 0 take
    /// no rank; theirs is left 0).
    fn weighted_ranks(&self, w: &[u64]) -> Vec<f64> {
        let mut r = vec![0.0; self.n];
        let mut below = 0u64;
        for g in &self.groups {
            let k: u64 = g.iter().map(|&i| w[i]).sum();
            let mid = below as f64 + (k as f64 + 1.0) / 2.0;
            for &i in g {
                r[i] = mid;
            }
            below += k;
        }
        r
    }
}

/// One scored unit (an ROI, or a patient's mean prediction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Whose unit this is (the bootstrap resamples patients).
    pub patient: PatientId,
    /// The patient's class (the bootstrap's strata).
    pub label: Label,
    /// The true fat.
    pub truth: f64,
    pub predicted: f64,
}

/// Scores of a set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressScores {
    pub n: usize,
    /// `None` when the truth or the predictions are constant.
    pub spearman: Option<f64>,
    pub mae: f64,
}

/// 95% percentile intervals over a stratified patient-level bootstrap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressIntervals {
    /// `None` when the correlation is undefined in every draw.
    pub spearman: Option<[f64; 2]>,
    pub mae: [f64; 2],
}

pub fn scores(units: &[Unit]) -> RegressScores {
    let t: Vec<f64> = units.iter().map(|u| u.truth).collect();
    let p: Vec<f64> = units.iter().map(|u| u.predicted).collect();
    RegressScores {
        n: units.len(),
        spearman: spearman(&t, &p),
        mae: mae(&t, &p),
    }
}

/// Per patient: the mean of its units' predictions (and of their truths, which agree).
pub fn per_patient(units: &[Unit]) -> Vec<Unit> {
    let mut per: BTreeMap<&PatientId, (Label, f64, f64, usize)> = BTreeMap::new();
    for u in units {
        let e = per.entry(&u.patient).or_insert((u.label, 0.0, 0.0, 0));
        e.1 += u.truth;
        e.2 += u.predicted;
        e.3 += 1;
    }
    per.into_iter()
        .map(|(patient, (label, t, p, n))| Unit {
            patient: patient.clone(),
            label,
            truth: t / n as f64,
            predicted: p / n as f64,
        })
        .collect()
}

/// 95% percentile intervals of Spearman's correlation and the MAE, resampling patients with
/// replacement within each class (a drawn patient brings all its units), `resamples` draws from a
/// stream seeded by `seed`. `None` for no units or no resamples.
pub fn bootstrap_intervals(
    units: &[Unit],
    resamples: usize,
    seed: u64,
) -> Option<RegressIntervals> {
    if units.is_empty() || resamples == 0 {
        return None;
    }
    let t: Vec<f64> = units.iter().map(|u| u.truth).collect();
    let p: Vec<f64> = units.iter().map(|u| u.predicted).collect();
    let err: Vec<f64> = t.iter().zip(&p).map(|(a, b)| (a - b).abs()).collect();
    let (t_order, p_order) = (TieOrder::new(&t), TieOrder::new(&p));
    let mut index: BTreeMap<&PatientId, usize> = BTreeMap::new();
    let mut label_of = Vec::new();
    let unit_patient: Vec<usize> = units
        .iter()
        .map(|u| {
            *index.entry(&u.patient).or_insert_with(|| {
                label_of.push(u.label);
                label_of.len() - 1
            })
        })
        .collect();
    let strata: Vec<Vec<usize>> = Label::ALL
        .iter()
        .map(|l| (0..label_of.len()).filter(|&q| label_of[q] == *l).collect())
        .filter(|s: &Vec<usize>| !s.is_empty())
        .collect();
    let mut rng = crate::rng::seeded(seed, "regress-bootstrap");
    let mut counts = vec![0u64; label_of.len()];
    let mut w = vec![0u64; units.len()];
    let (mut rhos, mut maes) = (Vec::with_capacity(resamples), Vec::with_capacity(resamples));
    for _ in 0..resamples {
        counts.fill(0);
        for s in &strata {
            for _ in 0..s.len() {
                counts[s[rng.random_range(0..s.len())]] += 1;
            }
        }
        for (wi, &q) in w.iter_mut().zip(&unit_patient) {
            *wi = counts[q];
        }
        let total: u64 = w.iter().sum();
        if total == 0 {
            continue;
        }
        maes.push(err.iter().zip(&w).map(|(e, &k)| e * k as f64).sum::<f64>() / total as f64);
        let (rt, rp) = (t_order.weighted_ranks(&w), p_order.weighted_ranks(&w));
        if let Some(r) = weighted_pearson(&rt, &rp, &w) {
            rhos.push(r);
        }
    }
    Some(RegressIntervals {
        spearman: super::binary::interval95(&mut rhos),
        mae: super::binary::interval95(&mut maes).unwrap_or([f64::NAN; 2]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference set of scripts/reference/regress.py.
    const TRUTH: [f64; 16] = [
        2.0, 2.0, 4.5, 10.0, 10.0, 10.0, 18.5, 25.0, 25.0, 31.0, 40.0, 47.5, 3.0, 60.0, 12.0, 31.0,
    ];
    const PREDICTED: [f64; 16] = [
        5.0, 1.5, 5.0, 9.0, 14.0, 5.0, 20.0, 22.5, 30.0, 22.5, 35.0, 52.0, 9.0, 41.0, 14.0, 28.0,
    ];

    const RANKS_TRUTH: [f64; 16] = [
        1.5, 1.5, 4.0, 6.0, 6.0, 6.0, 9.0, 10.5, 10.5, 12.5, 14.0, 15.0, 3.0, 16.0, 8.0, 12.5,
    ];
    const RANKS_PREDICTED: [f64; 16] = [
        3.0, 1.0, 3.0, 5.5, 7.5, 3.0, 9.0, 10.5, 13.0, 10.5, 14.0, 16.0, 5.5, 15.0, 7.5, 12.0,
    ];
    const SPEARMAN: f64 = 0.949_479_940_564_635_9;
    const SPEARMAN_6: f64 = 0.754_199_711_151_546;
    const MAE: f64 = 4.4375;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12
    }

    // Reference values from scipy 1.17.1 (numpy 2.4.6) (scripts/reference/regress.py):
    // scipy.stats.rankdata, spearmanr(TRUTH, PREDICTED).statistic, mean(|TRUTH - PREDICTED|).
    #[test]
    fn spearman_and_mae_match_scipy() {
        assert_eq!(ranks(&TRUTH), RANKS_TRUTH.to_vec());
        assert_eq!(ranks(&PREDICTED), RANKS_PREDICTED.to_vec());
        assert!(close(spearman(&TRUTH, &PREDICTED).unwrap(), SPEARMAN));
        assert!(close(
            spearman(&TRUTH[..6], &PREDICTED[..6]).unwrap(),
            SPEARMAN_6
        ));
        assert!(close(mae(&TRUTH, &PREDICTED), MAE));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0], &[1.0]), None);
    }

    #[test]
    fn a_reweighted_draw_ranks_like_its_expanded_units() {
        let w = [0u64, 2, 1, 3, 0, 1, 1, 2, 0, 1, 1, 1, 2, 1, 0, 1];
        let (mut et, mut ep) = (Vec::new(), Vec::new());
        for (i, &k) in w.iter().enumerate() {
            for _ in 0..k {
                et.push(TRUTH[i]);
                ep.push(PREDICTED[i]);
            }
        }
        let rt = TieOrder::new(&TRUTH).weighted_ranks(&w);
        let rp = TieOrder::new(&PREDICTED).weighted_ranks(&w);
        let got = weighted_pearson(&rt, &rp, &w).unwrap();
        assert!((got - spearman(&et, &ep).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn ridge_recovers_a_noiseless_linear_problem() {
        // y = 3 + 2 x0 - 0.5 x1 + 0 x2, with a constant column; a tiny penalty recovers it.
        let rows: Vec<[f64; 4]> = (0..40)
            .map(|i| {
                let i = i as f64;
                [
                    i.sin() * 3.0,
                    (i * 0.7).cos() * 5.0 + i * 0.1,
                    (i * 1.3).sin(),
                    7.0,
                ]
            })
            .collect();
        let y: Vec<f64> = rows.iter().map(|r| 3.0 + 2.0 * r[0] - 0.5 * r[1]).collect();
        let x = Array2::from_shape_vec((40, 4), rows.concat()).unwrap();
        let m = Ridge::fit(&x, &y, 1e-9).unwrap();
        for (p, t) in m.predict(&x).iter().zip(&y) {
            assert!((p - t).abs() < 1e-6, "{p} vs {t}");
        }
        assert!(m.weights[2].abs() < 1e-6 && m.weights[3] == 0.0, "{m:?}");
        // Alpha 1 shrinks a little but still fits closely; more features than rows (dual form)
        // fits the training rows nearly exactly.
        let m1 = Ridge::fit(&x, &y, 1.0).unwrap();
        assert!(mae(&m1.predict(&x), &y) < 0.2);
        let wide = Array2::from_shape_fn((10, 30), |(i, j)| {
            (((i * 31 + j * 7) as f64).powi(2) * 0.37).sin()
        });
        let yw: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let mw = Ridge::fit(&wide, &yw, 1e-6).unwrap();
        assert!(mae(&mw.predict(&wide), &yw) < 1e-3);
    }

    #[test]
    fn svr_follows_a_smooth_target() {
        let x = Array2::from_shape_fn((60, 2), |(i, j)| (i as f64 / 6.0) * (1.0 + j as f64));
        let y: Vec<f64> = (0..60).map(|i| 10.0 + 2.0 * (i as f64 / 6.0)).collect();
        let p = svr_fit_predict(&x, &y, &x).unwrap();
        assert!(spearman(&y, &p).unwrap() > 0.99);
        assert!(mae(&y, &p) < 1.5, "{}", mae(&y, &p));
        assert_eq!(svr_fit_predict(&x, &[4.0; 60], &x).unwrap(), vec![4.0; 60]);
    }

    fn units(noise: f64) -> Vec<Unit> {
        let mut v = Vec::new();
        for p in 0..12 {
            let truth = if p < 4 { 2.0 } else { 5.0 * p as f64 };
            for r in 0..3 {
                v.push(Unit {
                    patient: PatientId(format!("p{p}")),
                    label: if p < 4 {
                        Label::Healthy
                    } else {
                        Label::Steatosis
                    },
                    truth,
                    predicted: truth + noise * (((p * 3 + r) as f64 * 2.1).sin() * 10.0),
                });
            }
        }
        v
    }

    #[test]
    fn intervals_are_seeded_and_bracket_the_scores() {
        let u = units(1.0);
        let s = scores(&u);
        let a = bootstrap_intervals(&u, 500, 3).unwrap();
        assert_eq!(a, bootstrap_intervals(&u, 500, 3).unwrap());
        let [lo, hi] = a.spearman.unwrap();
        let rho = s.spearman.unwrap();
        assert!(lo <= rho && rho <= hi, "{lo} {rho} {hi}");
        assert!(a.mae[0] <= s.mae && s.mae <= a.mae[1], "{a:?} {s:?}");
        // Perfect predictions: every draw correlates 1 with no error.
        let p = bootstrap_intervals(&units(0.0), 200, 1).unwrap();
        assert_eq!(p.mae, [0.0, 0.0]);
        assert!(close(p.spearman.unwrap()[0], 1.0));
        assert!(bootstrap_intervals(&[], 10, 1).is_none());
    }

    #[test]
    fn per_patient_means_predictions() {
        let pp = per_patient(&units(1.0));
        assert_eq!(pp.len(), 12);
        let u = units(1.0);
        let want = (u[0].predicted + u[1].predicted + u[2].predicted) / 3.0;
        assert!(close(pp[0].predicted, want));
        assert_eq!(pp[0].truth, 2.0);
    }
}

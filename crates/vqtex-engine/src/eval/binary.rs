//! Binary classification scores (healthy vs steatosis) from signed decision values, at the ROI or
//! the patient level: the confusion matrix and the rates behind it, ROC AUC and the ROC curve,
//! per-patient aggregation (mean decision and majority vote), patient-level bootstrap intervals and
//! a paired bootstrap test of two feature sets' AUCs.
//!
//! Steatosis is the positive class, and a decision value `>= 0` means predicted steatosis. The
//! scores follow scikit-learn so they can be checked against it (`scripts/reference/
//! binary_scores.py`): [`roc_auc`] equals `roc_auc_score` (ties count one half, the Mann-Whitney
//! statistic with mid-ranks), [`roc_curve`] equals `roc_curve(drop_intermediate=False)`, and a rate
//! whose class is absent is 0 (sklearn's `zero_division` default) while balanced accuracy averages
//! the recalls of the classes present (as `balanced_accuracy_score` does).
//!
//! Decisions are expected to be finite. `-0.0` and `0.0` are the same value (a tie, and both
//! predict steatosis); a NaN, were one to slip in, sorts above every number.
//!
//! The bootstrap resamples patients, not ROIs: the ROIs of one patient are not independent, so
//! resampling them one by one would give intervals that are too narrow. Patients are drawn with
//! replacement within each class (stratified, so both classes of the data stay in every draw) and
//! a drawn patient brings all its units along. The units are sorted by decision once; a draw only
//! reweights them, so a draw costs O(units + patients) with no sorting and no allocation.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::data::{Label, PatientId};

/// One scored unit (an ROI or a patient).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Whose unit this is (the bootstrap resamples patients).
    pub patient: PatientId,
    /// The true class.
    pub truth: Label,
    /// The signed decision value: `>= 0` predicts steatosis, larger means more steatotic.
    pub decision: f64,
}

/// Scores of a set of decisions, steatosis being the positive class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryScores {
    /// Units scored.
    pub n: usize,
    /// `confusion[truth][predicted]`, rows and columns in the order (healthy, steatosis)
    /// ([`Label::index`]).
    pub confusion: [[usize; 2]; 2],
    /// Share of units classified correctly (0 for no units).
    pub accuracy: f64,
    /// Mean of sensitivity and specificity over the classes present (sklearn's
    /// `balanced_accuracy_score`; 0 for no units).
    pub balanced_accuracy: f64,
    /// Recall of steatosis, TP / (TP + FN); 0 without steatotic units.
    pub sensitivity: f64,
    /// Recall of healthy, TN / (TN + FP); 0 without healthy units.
    pub specificity: f64,
    /// F1 of steatosis, 2 TP / (2 TP + FP + FN); 0 when that denominator is 0.
    pub f1: f64,
    /// ROC AUC of the decision values; `None` when one class is absent.
    pub auc: Option<f64>,
}

/// Scores of `decisions`, predicting steatosis where `decision >= 0`.
pub fn scores(decisions: &[Decision]) -> BinaryScores {
    let mut confusion = [[0usize; 2]; 2];
    for d in decisions {
        confusion[d.truth.index()][usize::from(predicts_steatosis(d.decision))] += 1;
    }
    let truth: Vec<Label> = decisions.iter().map(|d| d.truth).collect();
    let decision: Vec<f64> = decisions.iter().map(|d| d.decision).collect();
    let c = confusion.map(|row| row.map(|v| v as u64));
    rates(c, confusion, roc_auc(&truth, &decision))
}

fn predicts_steatosis(decision: f64) -> bool {
    decision >= 0.0
}

/// The scores of a (possibly weighted) confusion matrix `c`; `confusion` is what gets reported.
fn rates(c: [[u64; 2]; 2], confusion: [[usize; 2]; 2], auc: Option<f64>) -> BinaryScores {
    let [[tn, fp], [fn_, tp]] = c;
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let n = tn + fp + fn_ + tp;
    let sensitivity = ratio(tp, tp + fn_);
    let specificity = ratio(tn, tn + fp);
    // Recalls of the classes present only (no allocation: this runs once per bootstrap draw).
    let (sum, classes) = [(tn + fp, specificity), (tp + fn_, sensitivity)]
        .iter()
        .filter(|(count, _)| *count > 0)
        .fold((0.0, 0u32), |(s, k), &(_, r)| (s + r, k + 1));
    let balanced_accuracy = if classes == 0 {
        0.0
    } else {
        sum / f64::from(classes)
    };
    BinaryScores {
        n: confusion.iter().flatten().sum(),
        confusion,
        accuracy: ratio(tn + tp, n),
        balanced_accuracy,
        sensitivity,
        specificity,
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        auc,
    }
}

/// The order of a total ranking of decision values: `-0.0` equals `0.0`, NaN sorts last.
fn cmp_decision(a: f64, b: f64) -> Ordering {
    // Adding 0.0 turns -0.0 into 0.0 and leaves everything else as it is.
    (a + 0.0).total_cmp(&(b + 0.0))
}

/// Units sorted by decision (ascending) with their tie groups, computed once per decision set.
struct Ranked {
    /// Unit indices in ascending order of decision.
    order: Vec<usize>,
    /// For each sorted position, whether it ends a group of tied decisions.
    group_end: Vec<bool>,
}

impl Ranked {
    fn new(decision: &[f64]) -> Ranked {
        let mut order: Vec<usize> = (0..decision.len()).collect();
        order.sort_by(|&i, &j| cmp_decision(decision[i], decision[j]));
        let group_end = (0..order.len())
            .map(|k| {
                k + 1 == order.len()
                    || cmp_decision(decision[order[k]], decision[order[k + 1]]) != Ordering::Equal
            })
            .collect();
        Ranked { order, group_end }
    }

    /// AUC with unit `i` counted `weight(i)` times: the share of (positive, negative) pairs the
    /// decisions order correctly, ties counting one half. Computed in integers (twice the pair
    /// count), so the result is the correctly rounded ratio. `None` without positives or negatives.
    fn auc(&self, positive: &[bool], weight: impl Fn(usize) -> u64) -> Option<f64> {
        let (mut twice, mut neg_below, mut pos_total) = (0u64, 0u64, 0u64);
        let (mut p, mut q) = (0u64, 0u64);
        for (&i, &end) in self.order.iter().zip(&self.group_end) {
            let w = weight(i);
            if positive[i] {
                p += w;
            } else {
                q += w;
            }
            if end {
                twice += 2 * p * neg_below + p * q;
                neg_below += q;
                pos_total += p;
                p = 0;
                q = 0;
            }
        }
        let pairs = pos_total * neg_below;
        (pairs > 0).then(|| twice as f64 / (2 * pairs) as f64)
    }
}

/// ROC AUC of `decision` for steatosis, equal to `sklearn.metrics.roc_auc_score(truth, decision)`
/// including ties (the Mann-Whitney U with mid-ranks, divided by positives × negatives). `None`
/// when a class is absent or the lengths differ.
pub fn roc_auc(truth: &[Label], decision: &[f64]) -> Option<f64> {
    if truth.len() != decision.len() {
        return None;
    }
    let positive: Vec<bool> = truth.iter().map(|&t| t == Label::Steatosis).collect();
    Ranked::new(decision).auc(&positive, |_| 1)
}

/// The ROC curve as `(false positive rate, true positive rate)` points, from `(0, 0)` through one
/// point per distinct decision value (thresholds descending, tied decisions collapsed into one
/// step) to `(1, 1)`: `sklearn.metrics.roc_curve(truth, decision, drop_intermediate=False)`. Empty
/// when a class is absent or the lengths differ.
pub fn roc_curve(truth: &[Label], decision: &[f64]) -> Vec<(f64, f64)> {
    if truth.len() != decision.len() {
        return Vec::new();
    }
    let pos = truth.iter().filter(|&&t| t == Label::Steatosis).count();
    let neg = truth.len() - pos;
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let ranked = Ranked::new(decision);
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    // Walk from the highest decision down; a group ends where the ascending order's group starts.
    for k in (0..ranked.order.len()).rev() {
        if truth[ranked.order[k]] == Label::Steatosis {
            tp += 1;
        } else {
            fp += 1;
        }
        if k == 0 || ranked.group_end[k - 1] {
            points.push((fp as f64 / neg as f64, tp as f64 / pos as f64));
        }
    }
    points
}

/// One patient's ROIs summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientDecision {
    pub patient: PatientId,
    /// The patient's class (that of its first ROI; a patient's ROIs share their label).
    pub truth: Label,
    /// Mean of the ROIs' decisions: the patient's decision by averaging.
    pub mean_decision: f64,
    /// Share of the ROIs predicted steatosis (`decision >= 0`); a share `>= 0.5` is a steatosis
    /// majority.
    pub vote_share: f64,
    /// ROIs of the patient.
    pub n_rois: usize,
}

/// Aggregates ROI decisions per patient (mean decision and vote share), sorted by patient.
pub fn per_patient(rois: &[Decision]) -> Vec<PatientDecision> {
    // Per patient: truth, sum of decisions, ROIs predicted steatosis, ROIs.
    let mut per: BTreeMap<&PatientId, (Label, f64, usize, usize)> = BTreeMap::new();
    for r in rois {
        let e = per.entry(&r.patient).or_insert((r.truth, 0.0, 0, 0));
        e.1 += r.decision;
        e.2 += usize::from(predicts_steatosis(r.decision));
        e.3 += 1;
    }
    per.into_iter()
        .map(|(patient, (truth, sum, votes, n))| PatientDecision {
            patient: patient.clone(),
            truth,
            mean_decision: sum / n as f64,
            vote_share: votes as f64 / n as f64,
            n_rois: n,
        })
        .collect()
}

/// Patient-level decisions by majority vote: `vote_share - 0.5`, so `>= 0` is a steatosis
/// majority. A tie (exactly half of the ROIs) counts as steatosis.
pub fn vote_decisions(p: &[PatientDecision]) -> Vec<Decision> {
    p.iter()
        .map(|d| Decision {
            patient: d.patient.clone(),
            truth: d.truth,
            decision: d.vote_share - 0.5,
        })
        .collect()
}

/// Patient-level decisions by averaging: each patient's mean ROI decision.
pub fn mean_decisions(p: &[PatientDecision]) -> Vec<Decision> {
    p.iter()
        .map(|d| Decision {
            patient: d.patient.clone(),
            truth: d.truth,
            decision: d.mean_decision,
        })
        .collect()
}

/// 95% percentile intervals (2.5% and 97.5% quantiles, linearly interpolated as numpy's default)
/// of every score over a stratified patient-level bootstrap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    pub accuracy: [f64; 2],
    pub balanced_accuracy: [f64; 2],
    pub sensitivity: [f64; 2],
    pub specificity: [f64; 2],
    pub f1: [f64; 2],
    /// `None` when the AUC is undefined in every draw (a class without patients).
    pub auc: Option<[f64; 2]>,
}

/// The units of a decision set grouped for the patient bootstrap.
struct Resampler {
    /// Patient index of each unit.
    unit_patient: Vec<usize>,
    /// Whether each unit is steatotic.
    positive: Vec<bool>,
    /// Per patient, its units' confusion counts `[[tn, fp], [fn, tp]]`.
    confusion: Vec<[[u64; 2]; 2]>,
    /// Patient indices of each class present (the strata).
    strata: Vec<Vec<usize>>,
    /// Times each patient was drawn in the current draw.
    counts: Vec<u64>,
}

impl Resampler {
    fn new(decisions: &[Decision]) -> Resampler {
        let mut index: BTreeMap<&PatientId, usize> = BTreeMap::new();
        let mut truth_of = Vec::new();
        let unit_patient: Vec<usize> = decisions
            .iter()
            .map(|d| {
                *index.entry(&d.patient).or_insert_with(|| {
                    truth_of.push(d.truth);
                    truth_of.len() - 1
                })
            })
            .collect();
        let mut confusion = vec![[[0u64; 2]; 2]; truth_of.len()];
        for (d, &p) in decisions.iter().zip(&unit_patient) {
            confusion[p][d.truth.index()][usize::from(predicts_steatosis(d.decision))] += 1;
        }
        let strata = Label::ALL
            .iter()
            .map(|l| (0..truth_of.len()).filter(|&p| truth_of[p] == *l).collect())
            .filter(|s: &Vec<usize>| !s.is_empty())
            .collect();
        Resampler {
            positive: decisions
                .iter()
                .map(|d| d.truth == Label::Steatosis)
                .collect(),
            unit_patient,
            confusion,
            strata,
            counts: vec![0; truth_of.len()],
        }
    }

    /// Draws each stratum's patients with replacement, as many as it has, into `counts`.
    fn draw(&mut self, rng: &mut crate::rng::Rng) {
        self.counts.fill(0);
        for s in &self.strata {
            for _ in 0..s.len() {
                self.counts[s[rng.random_range(0..s.len())]] += 1;
            }
        }
    }

    fn auc(&self, ranked: &Ranked) -> Option<f64> {
        ranked.auc(&self.positive, |i| self.counts[self.unit_patient[i]])
    }

    fn confusion(&self) -> [[u64; 2]; 2] {
        let mut c = [[0u64; 2]; 2];
        for (pc, &k) in self.confusion.iter().zip(&self.counts) {
            for (row, prow) in c.iter_mut().zip(pc) {
                for (v, pv) in row.iter_mut().zip(prow) {
                    *v += k * pv;
                }
            }
        }
        c
    }
}

/// The 2.5% and 97.5% quantiles of `values` (sorted here), linearly interpolated. `None` if empty.
pub(crate) fn interval95(values: &mut [f64]) -> Option<[f64; 2]> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let q = |f: f64| {
        let pos = f * (values.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
    };
    Some([q(0.025), q(0.975)])
}

/// 95% percentile intervals of every score by resampling patients with replacement within each
/// class (the units of a drawn patient come along as a block), `resamples` draws from a stream
/// seeded by `seed`. Draws where the AUC is undefined are skipped for the AUC's interval only;
/// stratification keeps every class of the data in every draw, so that happens only when a class
/// has no patients at all, and then `auc` is `None`. `None` for no decisions or no resamples.
pub fn bootstrap_intervals(
    decisions: &[Decision],
    resamples: usize,
    seed: u64,
) -> Option<Intervals> {
    if decisions.is_empty() || resamples == 0 {
        return None;
    }
    let decision: Vec<f64> = decisions.iter().map(|d| d.decision).collect();
    let ranked = Ranked::new(&decision);
    let mut sampler = Resampler::new(decisions);
    let mut rng = crate::rng::seeded(seed, "binary-bootstrap");
    let mut draws: [Vec<f64>; 5] = std::array::from_fn(|_| Vec::with_capacity(resamples));
    let mut aucs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        sampler.draw(&mut rng);
        let s = rates(sampler.confusion(), [[0; 2]; 2], None);
        let values = [
            s.accuracy,
            s.balanced_accuracy,
            s.sensitivity,
            s.specificity,
            s.f1,
        ];
        for (d, v) in draws.iter_mut().zip(values) {
            d.push(v);
        }
        if let Some(a) = sampler.auc(&ranked) {
            aucs.push(a);
        }
    }
    let [accuracy, balanced_accuracy, sensitivity, specificity, f1] =
        draws.map(|mut d| interval95(&mut d).unwrap_or([f64::NAN; 2]));
    Some(Intervals {
        accuracy,
        balanced_accuracy,
        sensitivity,
        specificity,
        f1,
        auc: interval95(&mut aucs),
    })
}

/// A paired comparison of two decision sets' AUCs on the same units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedAuc {
    /// AUC(a) - AUC(b) on all units.
    pub diff: f64,
    /// 95% percentile interval of the difference over the bootstrap draws.
    pub ci95: [f64; 2],
    /// Two-sided bootstrap p-value of "no difference":
    /// `min(1, 2 min((#{diff* <= 0} + 1) / (B + 1), (#{diff* >= 0} + 1) / (B + 1)))`.
    pub p: f64,
    /// Draws `B` behind the interval and the p-value.
    pub resamples: usize,
}

/// Compares two feature sets' decisions on the same units by a paired, stratified patient-level
/// bootstrap: each draw resamples patients once and scores both sets on the same draw. `a` and `b`
/// must list the same units in the same order (same patients, same truths); `None` when they do
/// not, when they are empty, when `resamples` is 0, or when the AUC is undefined (a class absent).
pub fn paired_auc(
    a: &[Decision],
    b: &[Decision],
    resamples: usize,
    seed: u64,
) -> Option<PairedAuc> {
    if a.is_empty()
        || resamples == 0
        || a.len() != b.len()
        || a.iter()
            .zip(b)
            .any(|(x, y)| x.patient != y.patient || x.truth != y.truth)
    {
        return None;
    }
    let ranked_of = |d: &[Decision]| Ranked::new(&d.iter().map(|d| d.decision).collect::<Vec<_>>());
    let (ra, rb) = (ranked_of(a), ranked_of(b));
    let mut sampler = Resampler::new(a);
    let ones = |_| 1;
    let diff = ra.auc(&sampler.positive, ones)? - rb.auc(&sampler.positive, ones)?;
    let mut rng = crate::rng::seeded(seed, "paired-auc");
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        sampler.draw(&mut rng);
        if let (Some(x), Some(y)) = (sampler.auc(&ra), sampler.auc(&rb)) {
            diffs.push(x - y);
        }
    }
    let m = diffs.len() as f64;
    let le = diffs.iter().filter(|&&d| d <= 0.0).count() as f64;
    let ge = diffs.iter().filter(|&&d| d >= 0.0).count() as f64;
    let p = (2.0 * ((le + 1.0) / (m + 1.0)).min((ge + 1.0) / (m + 1.0))).min(1.0);
    let resamples = diffs.len();
    Some(PairedAuc {
        diff,
        ci95: interval95(&mut diffs)?,
        p,
        resamples,
    })
}

/// Mean and sample standard deviation (ddof 1) of `values`, e.g. a score over folds or repeats.
/// The sd of one value is 0; both are NaN for no values.
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(i: u8) -> Label {
        if i == 1 {
            Label::Steatosis
        } else {
            Label::Healthy
        }
    }

    // The reference set of scripts/reference/binary_scores.py (0 = healthy, 1 = steatosis).
    const TRUTH: [u8; 20] = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1];
    const DECISION: [f64; 20] = [
        -1.5, -0.25, 0.75, 0.0, -0.25, 2.0, 0.5, -0.25, 0.75, 0.0, -1.5, 1.25, -0.75, 0.5, -0.75,
        0.75, 0.0, -2.0, 0.5, 1.25,
    ];

    fn reference() -> Vec<Decision> {
        TRUTH
            .iter()
            .zip(DECISION)
            .enumerate()
            .map(|(i, (&t, d))| Decision {
                patient: PatientId(format!("p{i:02}")),
                truth: label(t),
                decision: d,
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12
    }

    // Reference values from scikit-learn 1.9.1 (numpy 2.4.6), scripts/reference/binary_scores.py:
    // confusion_matrix(TRUTH, DECISION >= 0), roc_auc_score(TRUTH, DECISION),
    // balanced_accuracy_score(TRUTH, DECISION >= 0), f1_score(TRUTH, DECISION >= 0).
    #[test]
    fn scores_match_sklearn() {
        let s = scores(&reference());
        assert_eq!(s.n, 20);
        assert_eq!(s.confusion, [[6, 4], [2, 8]]);
        assert!(close(s.auc.unwrap(), 0.785), "{s:?}");
        assert!(close(s.balanced_accuracy, 0.7), "{s:?}");
        assert!(close(s.f1, 0.7272727272727273), "{s:?}");
        assert!(close(s.accuracy, 0.7), "{s:?}");
        assert!(close(s.sensitivity, 0.8), "{s:?}");
        assert!(close(s.specificity, 0.6), "{s:?}");
    }

    // Reference values from scikit-learn 1.9.1, scripts/reference/binary_scores.py:
    // roc_curve(TRUTH, DECISION, drop_intermediate=False) (fpr, tpr), thresholds
    // [inf, 2.0, 1.25, 0.75, 0.5, 0.0, -0.25, -0.75, -1.5, -2.0].
    #[test]
    fn roc_curve_matches_sklearn() {
        let truth: Vec<Label> = TRUTH.iter().map(|&t| label(t)).collect();
        let curve = roc_curve(&truth, &DECISION);
        let fpr = [0.0, 0.0, 0.0, 0.1, 0.3, 0.4, 0.6, 0.7, 0.9, 1.0];
        let tpr = [0.0, 0.1, 0.3, 0.5, 0.6, 0.8, 0.9, 1.0, 1.0, 1.0];
        assert_eq!(curve.len(), fpr.len(), "{curve:?}");
        for ((x, y), (f, t)) in curve.iter().zip(fpr.iter().zip(tpr)) {
            assert!(close(*x, *f) && close(*y, t), "{curve:?}");
        }
        assert!(roc_curve(&truth[..1], &DECISION[..1]).is_empty());
        assert!(roc_curve(&truth, &DECISION[..3]).is_empty());
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let truth = [Label::Healthy, Label::Steatosis];
        assert_eq!(roc_auc(&truth, &[0.0, -0.0]), Some(0.5));
        assert_eq!(
            roc_curve(&truth, &[0.0, -0.0]),
            vec![(0.0, 0.0), (1.0, 1.0)]
        );
    }

    fn separable(sign: f64) -> Vec<Decision> {
        // 12 patients, 3 ROIs each; steatotic patients score above every healthy one.
        (0..36)
            .map(|i| {
                let p = i / 3;
                let truth = label((p % 2) as u8);
                let base = if truth == Label::Steatosis { 1.0 } else { -1.0 };
                Decision {
                    patient: PatientId(format!("p{p:02}")),
                    truth,
                    decision: sign * (base + 0.01 * i as f64),
                }
            })
            .collect()
    }

    #[test]
    fn perfect_separation_gives_auc_one_and_flipped_gives_zero() {
        let s = scores(&separable(1.0));
        assert_eq!(s.auc, Some(1.0));
        assert_eq!(s.accuracy, 1.0);
        let ci = bootstrap_intervals(&separable(1.0), 500, 1).unwrap();
        assert_eq!(ci.auc, Some([1.0, 1.0]));
        assert_eq!(ci.accuracy, [1.0, 1.0]);
        assert_eq!(ci.balanced_accuracy, [1.0, 1.0]);
        assert_eq!(ci.f1, [1.0, 1.0]);
        let flipped = scores(&separable(-1.0));
        assert_eq!(flipped.auc, Some(0.0));
        assert_eq!(flipped.accuracy, 0.0);
        assert_eq!(
            bootstrap_intervals(&separable(-1.0), 500, 1).unwrap().auc,
            Some([0.0, 0.0])
        );
    }

    /// A noisy set: 40 patients with 5 ROIs each, decisions = signal * class + hashed noise.
    fn noisy(signal: f64, salt: u64) -> Vec<Decision> {
        (0..200u64)
            .map(|i| {
                let p = i / 5;
                let truth = label((p % 2) as u8);
                let mut h = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt;
                h ^= h >> 29;
                h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                h ^= h >> 32;
                let noise = (h % 10_000) as f64 / 10_000.0 - 0.5;
                let sign = if truth == Label::Steatosis { 1.0 } else { -1.0 };
                Decision {
                    patient: PatientId(format!("p{p:02}")),
                    truth,
                    decision: signal * sign + noise,
                }
            })
            .collect()
    }

    #[test]
    fn intervals_are_seeded_and_bracket_the_scores() {
        let d = noisy(0.15, 7);
        let s = scores(&d);
        let ci = bootstrap_intervals(&d, 1000, 5).unwrap();
        assert_eq!(ci, bootstrap_intervals(&d, 1000, 5).unwrap());
        assert_ne!(ci, bootstrap_intervals(&d, 1000, 6).unwrap());
        let auc = ci.auc.unwrap();
        assert!(
            auc[0] < s.auc.unwrap() && s.auc.unwrap() < auc[1],
            "{ci:?} {s:?}"
        );
        assert!(ci.accuracy[0] < s.accuracy && s.accuracy < ci.accuracy[1]);
        assert!(ci.f1[0] <= ci.f1[1] && ci.sensitivity[0] <= ci.sensitivity[1]);
        assert!(bootstrap_intervals(&[], 100, 5).is_none());
        assert!(bootstrap_intervals(&d, 0, 5).is_none());
    }

    #[test]
    fn one_class_gives_no_auc_interval() {
        let healthy: Vec<Decision> = noisy(0.0, 3)
            .into_iter()
            .filter(|d| d.truth == Label::Healthy)
            .collect();
        let s = scores(&healthy);
        assert_eq!(s.auc, None);
        assert_eq!(s.sensitivity, 0.0);
        assert_eq!(s.balanced_accuracy, s.specificity);
        let ci = bootstrap_intervals(&healthy, 200, 1).unwrap();
        assert_eq!(ci.auc, None);
        assert!(paired_auc(&healthy, &healthy, 200, 1).is_none());
    }

    #[test]
    fn paired_auc_of_a_set_with_itself_is_zero_with_p_one() {
        let d = noisy(0.1, 11);
        let r = paired_auc(&d, &d, 1000, 2).unwrap();
        assert_eq!(r.diff, 0.0);
        assert_eq!(r.ci95, [0.0, 0.0]);
        assert_eq!(r.p, 1.0);
        assert_eq!(r.resamples, 1000);
    }

    #[test]
    fn paired_auc_finds_a_clearly_better_set() {
        let better = noisy(0.4, 11);
        let mut worse = noisy(0.02, 12);
        // Same units: the patients and truths of `better`.
        assert!(better
            .iter()
            .zip(&worse)
            .all(|(a, b)| a.patient == b.patient && a.truth == b.truth));
        let r = paired_auc(&better, &worse, 2000, 4).unwrap();
        assert!(r.diff > 0.2, "{r:?}");
        assert!(r.ci95[0] > 0.0, "{r:?}");
        assert!(r.p < 0.05, "{r:?}");
        // Same seed, same answer; the other way round, the opposite difference.
        assert_eq!(r, paired_auc(&better, &worse, 2000, 4).unwrap());
        let back = paired_auc(&worse, &better, 2000, 4).unwrap();
        assert_eq!(back.diff, -r.diff);
        assert_eq!(back.p, r.p);
        // Units that do not pair up.
        worse[0].truth = Label::Steatosis;
        assert!(paired_auc(&better, &worse, 100, 4).is_none());
        assert!(paired_auc(&better, &better[1..], 100, 4).is_none());
        let mut swapped = better.clone();
        swapped[0].patient = PatientId("other".into());
        assert!(paired_auc(&better, &swapped, 100, 4).is_none());
    }

    #[test]
    fn per_patient_means_and_votes() {
        let roi = |p: &str, t: Label, d: f64| Decision {
            patient: PatientId(p.into()),
            truth: t,
            decision: d,
        };
        let rois = vec![
            roi("b", Label::Steatosis, 1.0),
            roi("a", Label::Healthy, -1.0),
            roi("b", Label::Steatosis, -0.5),
            roi("a", Label::Healthy, 0.0),
            roi("b", Label::Steatosis, 2.0),
            roi("a", Label::Healthy, -2.0),
            roi("c", Label::Healthy, 0.5),
            roi("c", Label::Healthy, -3.5),
        ];
        let p = per_patient(&rois);
        let ids: Vec<&str> = p.iter().map(|d| d.patient.0.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(p[0].truth, Label::Healthy);
        assert_eq!(p[0].n_rois, 3);
        assert_eq!(p[0].mean_decision, -1.0);
        assert!(close(p[0].vote_share, 1.0 / 3.0));
        assert_eq!(p[1].truth, Label::Steatosis);
        assert!(close(p[1].mean_decision, 2.5 / 3.0));
        assert!(close(p[1].vote_share, 2.0 / 3.0));
        assert_eq!(
            (p[2].mean_decision, p[2].vote_share, p[2].n_rois),
            (-1.5, 0.5, 2)
        );

        let votes = vote_decisions(&p);
        assert!(votes[0].decision < 0.0);
        assert!(votes[1].decision > 0.0);
        // Half the ROIs: a tie, counted as steatosis.
        assert_eq!(votes[2].decision, 0.0);
        assert_eq!(scores(&votes).confusion, [[1, 1], [0, 1]]);
        let means = mean_decisions(&p);
        assert_eq!(
            means.iter().map(|d| d.decision).collect::<Vec<_>>(),
            vec![-1.0, p[1].mean_decision, -1.5]
        );
        assert_eq!(scores(&means).confusion, [[2, 0], [0, 1]]);
        assert_eq!(means[1].patient, PatientId("b".into()));
    }

    #[test]
    fn a_reweighted_draw_scores_like_its_expanded_units() {
        // The bootstrap reweights the once-sorted units; scoring the drawn patients' units
        // written out (a patient drawn k times, its units k times) must give the same numbers.
        let mut d = reference();
        for (i, u) in d.iter_mut().enumerate() {
            u.patient = PatientId(format!("q{}", i % 7 + 10 * u.truth.index()));
        }
        let ranked = Ranked::new(&d.iter().map(|u| u.decision).collect::<Vec<_>>());
        let mut sampler = Resampler::new(&d);
        let mut rng = crate::rng::seeded(9, "test");
        for _ in 0..50 {
            sampler.draw(&mut rng);
            let expanded: Vec<Decision> = d
                .iter()
                .zip(&sampler.unit_patient)
                .flat_map(|(u, &p)| std::iter::repeat_n(u.clone(), sampler.counts[p] as usize))
                .collect();
            let want = scores(&expanded);
            let got = rates(sampler.confusion(), want.confusion, sampler.auc(&ranked));
            assert_eq!(got, want);
        }
    }

    #[test]
    fn mean_sd_uses_ddof_one() {
        let (m, s) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        // Sum of squares 32 over 7.
        assert!(close(s, (32.0f64 / 7.0).sqrt()));
        assert_eq!(mean_sd(&[3.5]), (3.5, 0.0));
        assert!(mean_sd(&[]).0.is_nan());
    }
}

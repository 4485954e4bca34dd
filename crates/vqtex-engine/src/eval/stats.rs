//! Paired significance tests (Wilcoxon signed-rank, paired t) for comparing two models on the same
//! test ROIs, per-patient averaging for the tests at the level where observations are independent,
//! and a patient-level bootstrap for accuracy intervals.
//!
//! The tests follow scipy.stats' defaults, so numbers can be checked against it. `wilcoxon`: zeros
//! dropped; without ties or zeros and up to 50 pairs, the exact null distribution; with ties or
//! zeros and up to 13 pairs, every sign flip enumerated (scipy's permutation test); otherwise the
//! normal approximation with the tie correction and no continuity correction. `ttest_rel`:
//! two-sided.

use std::collections::BTreeMap;

use rand::Rng as _;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::data::{Label, PatientId};

/// The result of a two-sided paired test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Pairs used (for Wilcoxon, those with a non-zero difference).
    pub n: usize,
    /// The test statistic (Wilcoxon: the smaller rank sum; t: Student's t).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Wilcoxon signed-rank test of `a - b` (two-sided). `None` when fewer than one non-zero
/// difference remains or the lengths differ.
pub fn wilcoxon(a: &[f64], b: &[f64]) -> Option<TestResult> {
    if a.len() != b.len() {
        return None;
    }
    let all: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|d| d.is_finite())
        .collect();
    let d: Vec<f64> = all.iter().copied().filter(|d| *d != 0.0).collect();
    let zeros = all.len() - d.len();
    let n = d.len();
    if n == 0 {
        return None;
    }
    // Average ranks of |d|, with the tie groups' sizes for the variance correction.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].abs().total_cmp(&d[j].abs()));
    let mut ranks = vec![0.0; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && d[order[j]].abs() == d[order[i]].abs() {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0; // ranks i+1 ..= j
        for &k in &order[i..j] {
            ranks[k] = avg;
        }
        if j - i > 1 {
            ties.push(j - i);
        }
        i = j;
    }
    let r_plus: f64 = (0..n).filter(|&k| d[k] > 0.0).map(|k| ranks[k]).sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let r_minus = total - r_plus;
    let t = r_plus.min(r_minus);
    let p = if ties.is_empty() && zeros == 0 && n <= 50 {
        exact_signed_rank_p(n, t)
    } else if all.len() <= 13 {
        sign_flip_p(&ranks, &d, r_plus)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let tie_term: f64 = ties.iter().map(|&t| (t * t * t - t) as f64).sum::<f64>() / 48.0;
        let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term;
        if var <= 0.0 {
            1.0
        } else {
            let z = (t - mean) / var.sqrt();
            2.0 * std_normal().cdf(-z.abs())
        }
    };
    Some(TestResult {
        n,
        statistic: t,
        p: p.min(1.0),
    })
}

/// `2 P(W <= t)` under the null, from the exact distribution of the signed-rank statistic.
fn exact_signed_rank_p(n: usize, t: f64) -> f64 {
    let max = n * (n + 1) / 2;
    // counts[s] = number of subsets of {1..n} summing to s (exact in f64 up to n = 50: < 2^53).
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            counts[s] += counts[s - k];
        }
    }
    let t = t.floor() as usize;
    let below: f64 = counts[..=t.min(max)].iter().sum();
    2.0 * below / 2f64.powi(n as i32)
}

/// Two-sided p of `r_plus` over all `2^n` sign assignments of the (average) ranks.
fn sign_flip_p(ranks: &[f64], d: &[f64], r_plus: f64) -> f64 {
    let n = d.len();
    let tol = 1e-9 * r_plus.abs().max(1.0);
    let (mut le, mut ge) = (0u64, 0u64);
    for mask in 0u64..(1 << n) {
        let r: f64 = (0..n)
            .filter(|&k| mask >> k & 1 == 1)
            .map(|k| ranks[k])
            .sum();
        le += u64::from(r <= r_plus + tol);
        ge += u64::from(r >= r_plus - tol);
    }
    let total = (1u64 << n) as f64;
    2.0 * (le.min(ge) as f64 / total)
}

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("valid normal")
}

/// Paired (related-samples) t-test of `a - b`, two-sided. `None` for fewer than two pairs.
pub fn paired_t(a: &[f64], b: &[f64]) -> Option<TestResult> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let n = a.len();
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let (t, p) = if se == 0.0 {
        // Identical differences: no spread to test against.
        if mean == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(mean), 0.0)
        }
    } else {
        let t = mean / se;
        let dist = StudentsT::new(0.0, 1.0, (n - 1) as f64).expect("valid t distribution");
        (t, 2.0 * dist.cdf(-t.abs()))
    };
    Some(TestResult {
        n,
        statistic: t,
        p: p.min(1.0),
    })
}

/// Averages `values` per patient, in the order patients first appear. Returns the patients and
/// their means.
pub fn per_patient_means(values: &[f64], patients: &[PatientId]) -> (Vec<PatientId>, Vec<f64>) {
    let mut order: Vec<PatientId> = Vec::new();
    let mut sums: BTreeMap<&PatientId, (f64, usize)> = BTreeMap::new();
    for (v, p) in values.iter().zip(patients) {
        let e = sums.entry(p).or_insert_with(|| {
            order.push(p.clone());
            (0.0, 0)
        });
        e.0 += v;
        e.1 += 1;
    }
    let means = order
        .iter()
        .map(|p| {
            let (s, c) = sums[p];
            s / c as f64
        })
        .collect();
    (order, means)
}

/// A 95% percentile interval for accuracy by resampling patients with replacement, within each
/// class so that both classes stay represented (the ROIs of one patient are not independent, so
/// resampling ROIs would give intervals that are too narrow). `correct[i]`, `patients[i]` and
/// `labels[i]` describe one classified ROI.
pub fn bootstrap_accuracy_ci(
    correct: &[bool],
    patients: &[PatientId],
    labels: &[Label],
    resamples: usize,
    seed: u64,
) -> Option<[f64; 2]> {
    if correct.is_empty() || resamples == 0 {
        return None;
    }
    // Per patient: (label, correct, total).
    let mut per: BTreeMap<&PatientId, (Label, usize, usize)> = BTreeMap::new();
    for ((c, p), l) in correct.iter().zip(patients).zip(labels) {
        let e = per.entry(p).or_insert((*l, 0, 0));
        e.1 += usize::from(*c);
        e.2 += 1;
    }
    let groups: Vec<Vec<(usize, usize)>> = Label::ALL
        .iter()
        .map(|l| {
            per.values()
                .filter(|(pl, _, _)| pl == l)
                .map(|&(_, c, t)| (c, t))
                .collect()
        })
        .filter(|g: &Vec<(usize, usize)>| !g.is_empty())
        .collect();
    let mut rng = crate::rng::seeded(seed, "bootstrap-accuracy");
    let mut acc = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut c, mut t) = (0, 0);
        for g in &groups {
            for _ in 0..g.len() {
                let (gc, gt) = g[rng.random_range(0..g.len())];
                c += gc;
                t += gt;
            }
        }
        acc.push(c as f64 / t as f64);
    }
    acc.sort_by(f64::total_cmp);
    let q = |f: f64| {
        let pos = f * (resamples - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        acc[lo] + (acc[hi] - acc[lo]) * (pos - lo as f64)
    };
    Some([q(0.025), q(0.975)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    // Reference values from scipy 1.17: scipy.stats.wilcoxon(a, b) and scipy.stats.ttest_rel(a, b).
    const A: [f64; 12] = [
        0.71, 0.64, 0.83, 0.52, 0.77, 0.69, 0.91, 0.58, 0.66, 0.74, 0.80, 0.61,
    ];
    const B: [f64; 12] = [
        0.65, 0.66, 0.70, 0.49, 0.70, 0.60, 0.85, 0.60, 0.52, 0.75, 0.69, 0.50,
    ];

    #[test]
    fn wilcoxon_with_ties_enumerates_sign_flips_like_scipy() {
        let r = wilcoxon(&A, &B).unwrap();
        assert_eq!(r.n, 12);
        assert_eq!(r.statistic, 6.0);
        assert!(close(r.p, 0.00634765625, 1e-9), "p {}", r.p);
    }

    #[test]
    fn wilcoxon_exact_distribution_matches_scipy() {
        // No ties, no zeros: scipy.stats.wilcoxon([2, 3, 4, 5, 0.5], [1] * 5) -> (1.0, 0.125).
        let r = wilcoxon(&[2.0, 3.0, 4.0, 5.0, 0.5], &[1.0; 5]).unwrap();
        assert_eq!(r.statistic, 1.0);
        assert!(close(r.p, 0.125, 1e-12));
    }

    #[test]
    fn wilcoxon_normal_approximation_with_ties_matches_scipy() {
        let a: Vec<f64> = (0..60).map(|i| ((i * 7) % 13) as f64).collect();
        let b: Vec<f64> = (0..60).map(|i| ((i * 5) % 11) as f64 + 0.5).collect();
        let r = wilcoxon(&a, &b).unwrap();
        assert_eq!(r.statistic, 855.5);
        assert!(close(r.p, 0.6609538483537225, 1e-9), "p {}", r.p);
    }

    #[test]
    fn wilcoxon_drops_zero_differences_and_rejects_bad_input() {
        assert!(wilcoxon(&[1.0, 2.0], &[1.0, 2.0]).is_none());
        assert!(wilcoxon(&[1.0], &[1.0, 2.0]).is_none());
        let r = wilcoxon(&[1.0, 2.0, 3.0, 4.0], &[1.0, 1.0, 1.0, 1.0]).unwrap();
        assert_eq!(r.n, 3);
        // All three differences positive: W = 0, p = 2 / 2^3.
        assert_eq!(r.statistic, 0.0);
        assert!(close(r.p, 0.25, 1e-12));
    }

    #[test]
    fn paired_t_matches_scipy() {
        let r = paired_t(&A, &B).unwrap();
        assert_eq!(r.n, 12);
        assert!(
            close(r.statistic, 3.7937952060695967, 1e-9),
            "t {}",
            r.statistic
        );
        assert!(close(r.p, 0.002975086061683055, 1e-7), "p {}", r.p);
    }

    #[test]
    fn paired_t_edge_cases() {
        assert!(paired_t(&[1.0], &[2.0]).is_none());
        assert_eq!(paired_t(&[1.0, 2.0], &[1.0, 2.0]).unwrap().p, 1.0);
        assert_eq!(paired_t(&[2.0, 3.0], &[1.0, 2.0]).unwrap().p, 0.0);
    }

    #[test]
    fn per_patient_means_keep_first_appearance_order() {
        let p = |s: &str| PatientId(s.into());
        let (ids, m) = per_patient_means(&[1.0, 3.0, 10.0, 5.0], &[p("b"), p("b"), p("a"), p("b")]);
        assert_eq!(ids, vec![p("b"), p("a")]);
        assert_eq!(m, vec![3.0, 10.0]);
    }

    #[test]
    fn bootstrap_interval_brackets_the_accuracy_and_is_seeded() {
        let mut correct = Vec::new();
        let mut patients = Vec::new();
        let mut labels = Vec::new();
        for p in 0..10 {
            for r in 0..10 {
                // Patient p gets p ROIs right.
                correct.push(r < p);
                patients.push(PatientId(p.to_string()));
                labels.push(if p % 2 == 0 {
                    Label::Healthy
                } else {
                    Label::Steatosis
                });
            }
        }
        let ci = bootstrap_accuracy_ci(&correct, &patients, &labels, 2000, 3).unwrap();
        assert!(ci[0] < 0.45 && 0.45 < ci[1], "{ci:?}");
        assert!(ci[0] > 0.2 && ci[1] < 0.7, "{ci:?}");
        assert_eq!(
            ci,
            bootstrap_accuracy_ci(&correct, &patients, &labels, 2000, 3).unwrap()
        );
        // Every patient perfect: no spread at all.
        let all = vec![true; correct.len()];
        assert_eq!(
            bootstrap_accuracy_ci(&all, &patients, &labels, 500, 3).unwrap(),
            [1.0, 1.0]
        );
    }
}

//! Codes tied to texture and disease: for each entry of a VQ-VAE's codebook, how the run's test
//! ROIs use it by class (with an odds ratio, Fisher's exact test and a Benjamini–Hochberg
//! correction over the codes), and the texture of the image patches it stands for.
//!
//! **Association.** A test ROI "uses" a code when at least one of its 7x7 latent positions is
//! quantised to it. For each code, the 2x2 table of ROIs (steatotic, healthy) x (uses, does not
//! use) gives the odds ratio of steatosis vs healthy, its 95% Woolf (log) interval — with 0.5
//! added to every cell when one is 0 (Haldane) — and the two-sided Fisher exact p-value
//! ([`fisher_exact`], scipy's definition). The p-values of the codes some test ROI uses are
//! adjusted together by Benjamini–Hochberg ([`benjamini_hochberg`], scipy's
//! `false_discovery_control(method='bh')`); a code no test ROI uses has p = 1 and enters no
//! correction. `scripts/reference/codes.py` computes the reference values pinned in the tests.
//! Test ROIs of one patient are not independent, so the p-values are descriptive: they rank
//! codes, they do not prove an effect per patient.
//!
//! **Texture.** A position of the 7x7 map stands for the 4x4-pixel block of the 28x28 ROI at 4x
//! its coordinates (stride 4). The encoder sees more than that block (its convolutions reach
//! neighbouring pixels), so each position's texture is measured on the 8x8 patch centred on its
//! block — two pixels of context on each side — shifted inwards at the border so that every patch
//! is a full 8x8 (positions in the first and last row or column share their patch edge with the
//! image's). A code's echogenicity, heterogeneity and granularity
//! ([`crate::features::texture`]) are the means over every position of every test ROI that uses
//! it (granularity over the patches that are not constant, where it is undefined).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::EvalError;
use crate::data::{Label, Roi, ROI_SIZE};
use crate::features::texture;
use crate::model::roi_tensor;
use crate::train::LoadedRun;

/// Side of the image patch whose texture each latent position stands for.
pub const PATCH: usize = 8;

/// Two-sided 95% normal quantile.
const Z95: f64 = 1.959963984540054;

/// Relative tolerance under which two tables' probabilities count as equal in [`fisher_exact`].
const FISHER_TIE: f64 = 1e-7;

/// One codebook entry: its use by class in the test ROIs, its association with steatosis and the
/// texture it covers. Pairs are `[healthy, steatotic]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeStats {
    pub code: u32,
    /// Latent positions quantised to the code, over the healthy and the steatotic test ROIs.
    pub positions: [u64; 2],
    /// Test ROIs with at least one position quantised to the code.
    pub rois: [u64; 2],
    /// Odds of using the code in a steatotic ROI over the odds in a healthy one (Haldane's 0.5
    /// added to every cell when one is 0).
    pub odds_ratio: f64,
    /// 95% Woolf interval of the odds ratio.
    pub or_ci95: [f64; 2],
    /// Two-sided Fisher exact p-value (1 for a code no test ROI uses).
    pub p: f64,
    /// Benjamini–Hochberg adjusted p over the codes some test ROI uses (1 for the others).
    pub p_bh: f64,
    /// Mean grey level in [0, 1] of the patches the code covers; `None` for an unused code.
    pub echogenicity: Option<f64>,
    /// Mean local standard deviation of those patches.
    pub heterogeneity: Option<f64>,
    /// Mean speckle size in pixels of those patches (see [`texture::granularity`]).
    pub granularity: Option<f64>,
}

impl CodeStats {
    /// Whether any test ROI uses the code.
    pub fn used(&self) -> bool {
        self.positions.iter().sum::<u64>() > 0
    }
}

/// A column to sort a code table by. Codes ascending; odds ratio descending (codes of steatosis
/// first); p ascending (ties: p_bh, then code); the texture columns descending. Unused codes go
/// last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeSort {
    #[default]
    Code,
    OddsRatio,
    P,
    Echogenicity,
    Heterogeneity,
    Granularity,
}

impl CodeSort {
    pub const ALL: [CodeSort; 6] = [
        CodeSort::Code,
        CodeSort::OddsRatio,
        CodeSort::P,
        CodeSort::Echogenicity,
        CodeSort::Heterogeneity,
        CodeSort::Granularity,
    ];
    /// The names `--sort` accepts, in [`CodeSort::ALL`]'s order.
    pub const NAMES: [&'static str; 6] = ["code", "or", "p", "echo", "hetero", "gran"];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeSort::Code => "code",
            CodeSort::OddsRatio => "or",
            CodeSort::P => "p",
            CodeSort::Echogenicity => "echo",
            CodeSort::Heterogeneity => "hetero",
            CodeSort::Granularity => "gran",
        }
    }

    /// Sorts `codes` by this column (see [`CodeSort`]); stable.
    pub fn sort(self, codes: &mut [CodeStats]) {
        let desc = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => b.total_cmp(&a),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        codes.sort_by(|a, b| {
            let by = match self {
                CodeSort::Code => Ordering::Equal,
                CodeSort::OddsRatio => desc(
                    a.used().then_some(a.odds_ratio),
                    b.used().then_some(b.odds_ratio),
                ),
                CodeSort::P => b
                    .used()
                    .cmp(&a.used())
                    .then(a.p.total_cmp(&b.p))
                    .then(a.p_bh.total_cmp(&b.p_bh)),
                CodeSort::Echogenicity => desc(a.echogenicity, b.echogenicity),
                CodeSort::Heterogeneity => desc(a.heterogeneity, b.heterogeneity),
                CodeSort::Granularity => desc(a.granularity, b.granularity),
            };
            by.then(a.code.cmp(&b.code))
        });
    }
}

impl std::str::FromStr for CodeSort {
    type Err = String;

    fn from_str(s: &str) -> Result<CodeSort, String> {
        let s = s.trim().to_ascii_lowercase();
        CodeSort::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a column to sort codes by: {}",
                    CodeSort::NAMES.join(", ")
                )
            })
    }
}

/// Two-sided Fisher exact p-value of a 2x2 table of counts, as `scipy.stats.fisher_exact`: the
/// probability, under the hypergeometric distribution of the top-left cell given the margins, of
/// the tables no more likely than the observed one. Probabilities within a relative 1e-7 of the
/// observed count as equal (R's tolerance; scipy 1.17 uses 1e-14 on its own rounding, the same
/// tables for integer counts). 1 when a margin leaves a single possible table.
pub fn fisher_exact(table: [[u64; 2]; 2]) -> f64 {
    let [[a, b], [c, d]] = table;
    let (n1, n2, n) = (a + b, c + d, a + c);
    let lo = n.saturating_sub(n2);
    let hi = n.min(n1);
    if lo == hi {
        return 1.0;
    }
    // Probabilities relative to the mode's (1), by the ratio of consecutive hypergeometric
    // probabilities: no factorial overflows, and the far tails underflow harmlessly to 0.
    let mode = u64::try_from(u128::from(n + 1) * u128::from(n1 + 1) / u128::from(n1 + n2 + 2))
        .unwrap_or(hi)
        .clamp(lo, hi);
    let f = |v: u64| v as f64;
    let len = usize::try_from(hi - lo).unwrap_or(usize::MAX - 1) + 1;
    let mut w = vec![0.0f64; len];
    let at = |x: u64| usize::try_from(x - lo).unwrap_or(0);
    w[at(mode)] = 1.0;
    for x in mode..hi {
        w[at(x + 1)] = w[at(x)] * f(n1 - x) * f(n - x) / (f(x + 1) * f(n2 + x + 1 - n));
    }
    for x in (lo + 1..=mode).rev() {
        w[at(x - 1)] = w[at(x)] * f(x) * f(n2 + x - n) / (f(n1 - x + 1) * f(n - x + 1));
    }
    let observed = w[at(a)] * (1.0 + FISHER_TIE);
    let total: f64 = w.iter().sum();
    let extreme: f64 = w.iter().filter(|&&v| v <= observed).sum();
    (extreme / total).min(1.0)
}

/// Odds ratio `(a d) / (b c)` of a 2x2 table `[[a, b], [c, d]]` and its 95% Woolf interval
/// `exp(ln OR ± 1.96 sqrt(1/a + 1/b + 1/c + 1/d))`, with 0.5 added to every cell when one is 0
/// (Haldane), so both are always finite and positive.
pub fn odds_ratio(table: [[u64; 2]; 2]) -> (f64, [f64; 2]) {
    let cells = table.concat();
    let add = if cells.contains(&0) { 0.5 } else { 0.0 };
    let [a, b, c, d] = [0, 1, 2, 3].map(|k| cells[k] as f64 + add);
    let log_or = (a * d / (b * c)).ln();
    let se = (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt();
    (
        log_or.exp(),
        [(log_or - Z95 * se).exp(), (log_or + Z95 * se).exp()],
    )
}

/// Benjamini–Hochberg adjusted p-values, in the input's order, as
/// `scipy.stats.false_discovery_control(p, method='bh')`: `p_(i) m / i` over the sorted p,
/// made monotone from the largest down, clipped to [0, 1].
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![0.0; m];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * (m as f64 / (rank + 1) as f64));
        out[i] = running.clamp(0.0, 1.0);
    }
    out
}

/// The top-left corner of the [`PATCH`] x [`PATCH`] patch of position `k` along one axis of a
/// `grid`-wide latent map: centred on the position's block, shifted inside the image.
fn patch_start(k: usize, grid: usize) -> usize {
    let stride = ROI_SIZE / grid;
    (k * stride + stride / 2)
        .saturating_sub(PATCH / 2)
        .min(ROI_SIZE - PATCH)
}

/// One ROI's [`PATCH`] x [`PATCH`] patch at latent position (`r`, `c`), row by row.
pub fn patch_at(roi: &Roi, r: usize, c: usize, grid: usize) -> [u8; PATCH * PATCH] {
    let (r0, c0) = (patch_start(r, grid), patch_start(c, grid));
    let mut patch = [0u8; PATCH * PATCH];
    for (k, p) in patch.iter_mut().enumerate() {
        *p = roi.pixels[(r0 + k / PATCH) * ROI_SIZE + c0 + k % PATCH];
    }
    patch
}

/// The texture descriptors of one ROI's patch at latent position (`r`, `c`).
fn patch_texture(roi: &Roi, r: usize, c: usize, grid: usize) -> [f64; 3] {
    let patch = patch_at(roi, r, c, grid);
    [
        texture::echogenicity(&patch, PATCH),
        texture::heterogeneity(&patch, PATCH),
        texture::granularity(&patch, PATCH),
    ]
}

/// The code table of ROIs and their codes (`codes`: the codes of every latent position, ROI by
/// ROI, each ROI's square map row by row), for a codebook of `k` entries.
pub fn tabulate(k: usize, rois: &[&Roi], codes: &[u32]) -> Result<Vec<CodeStats>, EvalError> {
    let invalid = |m: String| Err(EvalError::Invalid(m));
    if rois.is_empty() {
        return invalid("no test ROIs to tabulate codes over".into());
    }
    let per = codes.len() / rois.len();
    let grid = (1..=ROI_SIZE).find(|g| g * g == per).unwrap_or(0);
    if codes.len() != per * rois.len() || grid == 0 || !ROI_SIZE.is_multiple_of(grid) {
        return invalid(format!(
            "{} codes for {} ROIs: not one square latent map dividing {ROI_SIZE} pixels per ROI",
            codes.len(),
            rois.len()
        ));
    }
    if let Some(bad) = codes.iter().find(|&&c| c as usize >= k) {
        return invalid(format!("code {bad} outside a codebook of {k}"));
    }
    if let Some(roi) = rois.iter().find(|r| r.pixels.len() != ROI_SIZE * ROI_SIZE) {
        return invalid(format!("{}: not a {ROI_SIZE}x{ROI_SIZE} ROI", roi.file));
    }
    let class = |l: Label| usize::from(l == Label::Steatosis);
    let mut positions = vec![[0u64; 2]; k];
    let mut users = vec![[0u64; 2]; k];
    let mut n = [0u64; 2];
    // Sums of echogenicity, heterogeneity, granularity, and the number of finite granularities.
    let mut sums = vec![[0.0f64; 4]; k];
    for (roi, map) in rois.iter().zip(codes.chunks(per)) {
        let l = class(roi.label);
        n[l] += 1;
        let mut used = vec![false; k];
        for (pos, &code) in map.iter().enumerate() {
            let j = code as usize;
            positions[j][l] += 1;
            used[j] = true;
            let [e, h, g] = patch_texture(roi, pos / grid, pos % grid, grid);
            let s = &mut sums[j];
            s[0] += e;
            s[1] += h;
            if g.is_finite() {
                s[2] += g;
                s[3] += 1.0;
            }
        }
        for (u, _) in users.iter_mut().zip(used).filter(|(_, used)| *used) {
            u[l] += 1;
        }
    }
    let mut stats: Vec<CodeStats> = (0..k)
        .map(|j| {
            let [h, s] = users[j];
            let table = [[s, n[1] - s], [h, n[0] - h]];
            let (or, ci) = odds_ratio(table);
            let count = positions[j].iter().sum::<u64>() as f64;
            let mean = |v: f64, of: f64| (of > 0.0).then(|| v / of);
            CodeStats {
                code: u32::try_from(j).unwrap_or(u32::MAX),
                positions: positions[j],
                rois: users[j],
                odds_ratio: or,
                or_ci95: ci,
                p: fisher_exact(table),
                p_bh: 1.0,
                echogenicity: mean(sums[j][0], count),
                heterogeneity: mean(sums[j][1], count),
                granularity: mean(sums[j][2], sums[j][3]),
            }
        })
        .collect();
    let used: Vec<usize> = (0..k).filter(|&j| stats[j].used()).collect();
    let adjusted = benjamini_hochberg(&used.iter().map(|&j| stats[j].p).collect::<Vec<_>>());
    for (&j, q) in used.iter().zip(adjusted) {
        stats[j].p_bh = q;
    }
    Ok(stats)
}

/// The code table of a VQ-VAE run over its test ROIs (see the module's documentation); an error
/// for a model without a codebook.
pub fn code_stats(run: &LoadedRun) -> Result<Vec<CodeStats>, EvalError> {
    let model = run.model.as_ref();
    let no_codebook = || {
        EvalError::Invalid(format!(
            "the {} model has no codebook: codes need a VQ-VAE run",
            run.config.model.kind()
        ))
    };
    let k = model.codebook_size().ok_or_else(no_codebook)?;
    let test = super::test_rois(run);
    let device = super::model_device(model);
    let mut codes = Vec::with_capacity(test.len() * 49);
    for chunk in test.chunks(super::EVAL_BATCH) {
        let x = roi_tensor(chunk, device)?;
        let (c, _) = model.codes(&x)?.ok_or_else(no_codebook)?;
        codes.extend(c.to_vec1::<u32>()?);
    }
    tabulate(k, &test, &codes)
}

/// What each code looks like in real ROIs: for every code, the image patches ([`PATCH`] x
/// [`PATCH`], centred on the position's block) of the `n` training-ROI positions whose encoder
/// vectors z_e lie nearest to the code (the receptive fields the code stands for most
/// typically), nearest first. A code with no position near it gets fewer patches.
pub fn code_patches(run: &LoadedRun, n: usize) -> Result<Vec<Vec<[u8; PATCH * PATCH]>>, EvalError> {
    let model = run.model.as_ref();
    let k = model.codebook_size().ok_or_else(|| {
        EvalError::Invalid(format!(
            "the {} model has no codebook",
            run.config.model.kind()
        ))
    })?;
    let book = model
        .params()
        .iter()
        .find(|(name, _)| name == "codebook")
        .map(|(_, v)| v.as_tensor().detach())
        .ok_or_else(|| EvalError::Invalid("the model has no codebook parameter".into()))?;
    let book: Vec<Vec<f32>> = book.to_vec2::<f32>()?;
    let train: Vec<&Roi> = run
        .dataset
        .indices(&run.split, crate::data::Side::Train)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    let device = super::model_device(model);
    // Per code: the n nearest (distance, roi, position) seen so far, kept sorted.
    let mut best: Vec<Vec<(f32, usize, usize)>> = vec![Vec::with_capacity(n + 1); k];
    let mut grid = 7;
    for (chunk_i, chunk) in train.chunks(super::EVAL_BATCH).enumerate() {
        let x = roi_tensor(chunk, device)?;
        let Some((_, z_e)) = model.codes(&x)? else {
            return Ok(vec![Vec::new(); k]);
        };
        let (b, d, h, w) = z_e.dims4()?;
        grid = h;
        // [B, H, W, D] rows.
        let v = z_e
            .permute((0, 2, 3, 1))?
            .contiguous()?
            .reshape((b * h * w, d))?
            .to_vec2::<f32>()?;
        for (row, z) in v.iter().enumerate() {
            let roi = chunk_i * super::EVAL_BATCH + row / (h * w);
            let pos = row % (h * w);
            for (c, code) in book.iter().enumerate() {
                let dist: f32 = z.iter().zip(code).map(|(a, b)| (a - b) * (a - b)).sum();
                let list = &mut best[c];
                if list.len() < n || list.last().is_some_and(|l| dist < l.0) {
                    let at = list.partition_point(|e| e.0 <= dist);
                    list.insert(at, (dist, roi, pos));
                    list.truncate(n);
                }
            }
        }
    }
    Ok(best
        .into_iter()
        .map(|list| {
            list.into_iter()
                .map(|(_, roi, pos)| patch_at(train[roi], pos / grid, pos % grid, grid))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    //! Reference values from `scripts/reference/codes.py` (numpy 2.4.6, scipy 1.17.1).
    use super::*;
    use crate::data::PatientId;

    fn close(got: f64, want: f64, what: &str) {
        let tol = 1e-9 * want.abs();
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got:e}, want {want:e}"
        );
    }

    /// A table `[[steatotic using, steatotic not], [healthy using, healthy not]]` and scipy's
    /// p-value, the odds ratio and its interval.
    type Case = ([[u64; 2]; 2], f64, f64, [f64; 2]);

    const CASES: [Case; 10] = [
        (
            [[8, 2], [1, 5]],
            0.034965034965034975,
            19.999999999999996,
            [1.4161851393939529, 282.44894602634895],
        ),
        (
            [[0, 5], [7, 3]],
            0.025641025641025637,
            0.04242424242424243,
            [0.0017983091017625217, 1.000838144847786],
        ),
        (
            [[3, 0], [0, 4]],
            0.028571428571428567,
            62.99999999999999,
            [0.9819238261667534, 4042.065070866272],
        ),
        (
            [[0, 10], [0, 12]],
            1.0,
            1.1904761904761905,
            [0.021698344836592103, 65.31528421931422],
        ),
        (
            [[10, 0], [12, 0]],
            1.0,
            0.84,
            [0.015310352116699392, 46.08646454514812],
        ),
        (
            [[2, 3], [3, 2]],
            1.0,
            0.4444444444444444,
            [0.035393296542515926, 5.581024755923722],
        ),
        (
            [[12, 3], [4, 10]],
            0.009220570313398513,
            10.000000000000002,
            [1.7975962537192431, 55.629844462069336],
        ),
        (
            [[95, 5], [60, 40]],
            1.6250693013145114e-09,
            12.666666666666666,
            [4.733680871705737, 33.89422497901297],
        ),
        (
            [[530, 470], [480, 520]],
            0.028393696370678335,
            1.2216312056737588,
            [1.0249605068576362, 1.456039323165072],
        ),
        (
            [[1, 299], [40, 260]],
            1.0133524817072716e-11,
            0.021739130434782608,
            [0.002967896707136323, 0.15923390828398676],
        ),
    ];

    #[test]
    fn fisher_and_odds_ratio_match_scipy() {
        for (table, p, or, ci) in CASES {
            let what = format!("{table:?}");
            close(fisher_exact(table), p, &format!("{what} p"));
            let (got_or, got_ci) = odds_ratio(table);
            close(got_or, or, &format!("{what} or"));
            close(got_ci[0], ci[0], &format!("{what} ci low"));
            close(got_ci[1], ci[1], &format!("{what} ci high"));
        }
    }

    #[test]
    fn fisher_is_symmetric_in_rows_and_columns() {
        for (t, p, _, _) in CASES {
            let [[a, b], [c, d]] = t;
            for other in [[[c, d], [a, b]], [[b, a], [d, c]], [[a, c], [b, d]]] {
                close(fisher_exact(other), p, &format!("{other:?}"));
            }
        }
        assert_eq!(fisher_exact([[0, 0], [0, 0]]), 1.0);
    }

    #[test]
    fn bh_matches_scipy() {
        let p = [0.01, 0.04, 0.03, 0.2, 0.04, 0.9, 1.0, 0.0005, 0.5, 0.012];
        let want = [
            0.04,
            0.06666666666666667,
            0.06666666666666667,
            0.28571428571428575,
            0.06666666666666667,
            1.0,
            1.0,
            0.005,
            0.625,
            0.04,
        ];
        for (k, (g, w)) in benjamini_hochberg(&p).into_iter().zip(want).enumerate() {
            close(g, w, &format!("bh[{k}]"));
        }
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[0.3]), [0.3]);
    }

    #[test]
    fn patches_are_centred_and_stay_inside() {
        let starts: Vec<usize> = (0..7).map(|k| patch_start(k, 7)).collect();
        assert_eq!(starts, [0, 2, 6, 10, 14, 18, 20]);
    }

    fn roi(label: Label, f: impl Fn(usize, usize) -> u8) -> Roi {
        Roi {
            file: "x.png".into(),
            patient: PatientId("p".into()),
            label,
            pixels: (0..ROI_SIZE * ROI_SIZE)
                .map(|k| f(k / ROI_SIZE, k % ROI_SIZE))
                .collect(),
            hi: None,
            split: None,
            fat: None,
        }
    }

    #[test]
    fn tabulate_counts_tests_and_measures() {
        // Healthy ROIs: dark and flat, code 0 everywhere but one position of code 2 in two of
        // them.
        // Steatotic ROIs: bright and speckled, code 1 everywhere.
        let healthy: Vec<Roi> = (0..6).map(|_| roi(Label::Healthy, |_, _| 50)).collect();
        let steatotic: Vec<Roi> = (0..5)
            .map(|_| {
                roi(
                    Label::Steatosis,
                    |r, c| if (r + c) % 2 == 0 { 150 } else { 250 },
                )
            })
            .collect();
        let rois: Vec<&Roi> = healthy.iter().chain(&steatotic).collect();
        let mut codes = Vec::new();
        for (i, r) in rois.iter().enumerate() {
            let mut map = vec![if r.label == Label::Healthy { 0 } else { 1 }; 49];
            if i < 2 {
                map[24] = 2;
            }
            codes.extend(map);
        }
        let t = tabulate(4, &rois, &codes).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].positions, [6 * 49 - 2, 0]);
        assert_eq!(t[1].positions, [0, 5 * 49]);
        assert_eq!(t[2].positions, [2, 0]);
        assert_eq!(t[3].positions, [0, 0]);
        let total: u64 = t.iter().flat_map(|s| s.positions).sum();
        assert_eq!(total, 11 * 49);
        assert_eq!(t[0].rois, [6, 0]);
        assert_eq!(t[1].rois, [0, 5]);
        // Code 1: used by every steatotic ROI and no healthy one.
        assert_eq!(t[1].p, fisher_exact([[5, 0], [0, 6]]));
        assert!(t[1].odds_ratio > 1.0 && t[0].odds_ratio < 1.0);
        // Code 0 the mirror image, code 2 weaker; the unused code 3 enters no correction.
        assert_eq!(t[0].p, t[1].p);
        assert!(t[2].p > t[0].p);
        assert_eq!(t[3].p, 1.0);
        assert_eq!(t[3].p_bh, 1.0);
        let want = benjamini_hochberg(&[t[0].p, t[1].p, t[2].p]);
        assert_eq!([t[0].p_bh, t[1].p_bh, t[2].p_bh], want[..]);
        assert!(t.iter().all(|s| s.p_bh >= s.p));
        // Texture: the flat dark codes against the bright speckled one.
        assert!((t[0].echogenicity.unwrap() - 50.0 / 255.0).abs() < 1e-12);
        assert_eq!(t[0].heterogeneity, Some(0.0));
        assert_eq!(
            t[0].granularity, None,
            "constant patches have no speckle size"
        );
        assert!(t[1].echogenicity.unwrap() > t[0].echogenicity.unwrap());
        assert!(t[1].heterogeneity.unwrap() > 0.1);
        assert!((t[1].granularity.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(t[3].echogenicity, None);
        assert_eq!(t[3].heterogeneity, None);

        // Sorting; the unused code always last.
        let order = |s: &[CodeStats]| s.iter().map(|c| c.code).collect::<Vec<_>>();
        let mut s = t.clone();
        CodeSort::OddsRatio.sort(&mut s);
        assert_eq!(order(&s), [1, 2, 0, 3]);
        CodeSort::P.sort(&mut s);
        assert_eq!(order(&s), [0, 1, 2, 3]);
        CodeSort::Echogenicity.sort(&mut s);
        assert_eq!((s[0].code, s[3].code), (1, 3));
        CodeSort::Heterogeneity.sort(&mut s);
        assert_eq!(order(&s), [1, 0, 2, 3]);
        CodeSort::Code.sort(&mut s);
        assert_eq!(s, t);
    }

    #[test]
    fn tabulate_refuses_what_does_not_fit() {
        let r = roi(Label::Healthy, |_, _| 9);
        assert!(tabulate(4, &[], &[]).is_err());
        assert!(tabulate(4, &[&r], &[0; 48]).is_err());
        assert!(
            tabulate(4, &[&r], &[0; 25]).is_err(),
            "5 does not divide 28"
        );
        let e = tabulate(4, &[&r], &[4; 49]).unwrap_err().to_string();
        assert!(e.contains("code 4 outside a codebook of 4"), "{e}");
    }

    #[test]
    fn sort_names_round_trip() {
        for (c, name) in CodeSort::ALL.into_iter().zip(CodeSort::NAMES) {
            assert_eq!(c.as_str(), name);
            assert_eq!(name.parse::<CodeSort>(), Ok(c));
        }
        assert!("x".parse::<CodeSort>().unwrap_err().contains("code, or, p"));
    }

    #[test]
    fn code_stats_serialise_unused_texture_as_null() {
        let r = roi(Label::Steatosis, |_, _| 9);
        let t = tabulate(2, &[&r], &[0; 49]).unwrap();
        let v = serde_json::to_value(&t[1]).unwrap();
        assert!(v["echogenicity"].is_null());
        assert_eq!(v["positions"], serde_json::json!([0, 0]));
        assert!(v["or_ci95"].is_array());
    }
}

//! First-order (histogram) radiomics of one ROI: the moments of its grey levels and the Shannon
//! entropy of its grey histogram. Each value matches the numpy/scipy call named on it (see
//! `scripts/reference/features.py`).

/// The names of the values [`firstorder`] returns, in order.
pub const FIRSTORDER_NAMES: [&str; 5] = ["mean", "sd", "skewness", "kurtosis", "entropy"];

/// First-order features of one ROI, in the order of [`FIRSTORDER_NAMES`].
///
/// `pixels` are the grey levels 0..=255 of one ROI, in any order and of any length >= 1 (the
/// values do not depend on the order: they come from the 256-bin histogram). For the moments the
/// grey levels are scaled to [0, 1] as `x = v / 255`:
///
/// - `mean`: the mean of `x` (`numpy.mean(x)`).
/// - `sd`: the population standard deviation of `x`, `sqrt(m2)` with `m2 = mean((x - mean)^2)`
///   (`numpy.std(x)`, ddof = 0).
/// - `skewness`: `m3 / m2^1.5` with `m3 = mean((x - mean)^3)` (`scipy.stats.skew(x)`, bias = True).
/// - `kurtosis`: the excess (Fisher) kurtosis `m4 / m2^2 - 3` with `m4 = mean((x - mean)^4)`
///   (`scipy.stats.kurtosis(x)`, fisher = True, bias = True).
/// - `entropy`: the Shannon entropy in bits of the 256-bin histogram of the raw grey levels,
///   `-sum p_k log2 p_k` over the non-empty bins with `p_k = count_k / n`
///   (`scipy.stats.entropy(numpy.bincount(pixels, minlength=256), base=2)`); it does not depend on
///   the scaling.
///
/// A constant ROI (all pixels equal, so `sd` = 0) has `skewness` = 0 and `kurtosis` = 0 by
/// definition here, where scipy returns nan; its `sd` is exactly 0 (numpy may give a rounding
/// residue such as 5.6e-17) and its `entropy` 0. An empty slice gives nan for all five values, as
/// numpy and scipy do.
pub fn firstorder(pixels: &[u8]) -> [f64; 5] {
    if pixels.is_empty() {
        return [f64::NAN; 5];
    }
    let mut hist = [0u64; 256];
    for &v in pixels {
        hist[usize::from(v)] += 1;
    }
    let n = pixels.len() as f64;
    // The sum of the grey levels is exact in integers; one division gives the mean of v / 255.
    let sum: u64 = hist.iter().enumerate().map(|(v, &k)| v as u64 * k).sum();
    let mean = sum as f64 / (n * 255.0);

    let (mut m2, mut m3, mut m4, mut entropy) = (0.0, 0.0, 0.0, 0.0);
    let mut levels = 0usize;
    for (v, &k) in hist.iter().enumerate() {
        if k == 0 {
            continue;
        }
        levels += 1;
        let w = k as f64 / n;
        let d = v as f64 / 255.0 - mean;
        let d2 = d * d;
        m2 += w * d2;
        m3 += w * d2 * d;
        m4 += w * d2 * d2;
        entropy -= w * w.log2();
    }
    if levels == 1 {
        // Constant ROI: no spread, so no shape; scipy's nan becomes 0 (documented above).
        return [mean, 0.0, 0.0, 0.0, 0.0];
    }
    let skewness = m3 / m2.powf(1.5);
    let kurtosis = m4 / (m2 * m2) - 3.0;
    [mean, m2.sqrt(), skewness, kurtosis, entropy]
}

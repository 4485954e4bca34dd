//! Grey-level co-occurrence matrix (GLCM, Haralick) texture features of one square ROI, matching
//! scikit-image's `graycomatrix` and `graycoprops` (see `scripts/reference/features.py`).

use std::f64::consts::PI;

/// Grey levels of the GLCM: a grey level `v` in 0..=255 is quantised to `v / 8` (0..=31).
pub const GLCM_LEVELS: usize = 32;

/// Pixel distances of the co-occurrences, in pixels.
pub const GLCM_DISTANCES: [usize; 3] = [1, 2, 4];

/// The properties [`glcm`] computes, in order (each for every distance in [`GLCM_DISTANCES`]).
pub const GLCM_PROPS: [&str; 5] = [
    "contrast",
    "dissimilarity",
    "homogeneity",
    "energy",
    "correlation",
];

/// The angles, in radians, whose properties are averaged: 0, pi/4, pi/2 and 3pi/4.
const ANGLES: [f64; 4] = [0.0, PI / 4.0, PI / 2.0, 3.0 * PI / 4.0];

/// A GLCM, counts or normalised: entry (i, j) at `i * GLCM_LEVELS + j`.
type Matrix = [f64; GLCM_LEVELS * GLCM_LEVELS];

/// The number of values [`glcm`] returns: one per property and distance.
const GLCM_LEN: usize = GLCM_PROPS.len() * GLCM_DISTANCES.len();

/// The names of the values [`glcm`] returns, in order: `contrast_d1`, `contrast_d2`,
/// `contrast_d4`, `dissimilarity_d1`, ... , `correlation_d4`.
pub fn glcm_names() -> Vec<String> {
    GLCM_PROPS
        .iter()
        .flat_map(|prop| GLCM_DISTANCES.iter().map(move |d| format!("{prop}_d{d}")))
        .collect()
}

/// GLCM features of one `side` x `side` ROI (`pixels` row-major, grey levels 0..=255), ordered
/// property-major by distance as [`glcm_names`] names them: `contrast_d1`, `contrast_d2`,
/// `contrast_d4`, `dissimilarity_d1`, ... . Each is the mean over the four angles 0, 45, 90 and
/// 135 degrees. This is exactly
///
/// ```text
/// P = skimage.feature.graycomatrix(img // 8, distances=[1, 2, 4],
///         angles=[0, pi/4, pi/2, 3*pi/4], levels=32, symmetric=True, normed=True)
/// [graycoprops(P, prop).mean(axis=1) for prop in GLCM_PROPS]   # then flattened
/// ```
///
/// The GLCM for distance `d` and angle `a` counts the pairs of pixels (r, c) and
/// (r + dr, c + dc), both inside the ROI, with `dr = round(d sin a)` and `dc = round(d cos a)`
/// (rows grow downwards), as scikit-image 0.26 does: angle 0 pairs (r, c) with (r, c + d), pi/4 with
/// (r + k, c + k), pi/2 with (r + d, c) and 3pi/4 with (r + k, c - k), where `k = round(d / sqrt 2)`,
/// so 1, 1 and 3 for the distances 1, 2 and 4 (not 2 and 4 pixels along the diagonal). Checked against
/// scikit-image itself: its docstring draws the angles upwards (pi/4 towards (r - k, c + k)), but
/// the pairs it counts are these; with symmetric GLCMs and the mean over the four angles the
/// features do not depend on that. The GLCM is made symmetric (each pair counted both ways,
/// P + P^T) and normalised to sum 1. With i, j the grey
/// levels (0..32) and P(i, j) the normalised matrix:
///
/// - contrast = sum P(i,j) (i - j)^2
/// - dissimilarity = sum P(i,j) |i - j|
/// - homogeneity = sum P(i,j) / (1 + (i - j)^2)
/// - energy = sqrt(sum P(i,j)^2)
/// - correlation = sum P(i,j) (i - mu_i)(j - mu_j) / (sigma_i sigma_j), with mu_i = sum i P(i,j),
///   sigma_i^2 = sum P(i,j) (i - mu_i)^2 and likewise for j. Where sigma_i or sigma_j is below
///   1e-15 (a GLCM with a single grey level, as of a constant ROI) the correlation is 1, as in
///   scikit-image.
///
/// A distance and angle with no pair inside the ROI (the distance at least `side` along that
/// direction, e.g. d = 4 on a 3x3 ROI) gives an all-zero GLCM, as scikit-image leaves it when
/// normalising a zero sum: contrast, dissimilarity, homogeneity and energy 0, correlation 1; those
/// values enter the mean over the angles like any other.
///
/// # Panics
///
/// If `pixels.len()` is not `side * side`.
pub fn glcm(pixels: &[u8], side: usize) -> [f64; GLCM_LEN] {
    assert_eq!(
        pixels.len(),
        side * side,
        "glcm: {} pixels for a {side}x{side} ROI",
        pixels.len()
    );
    let nd = GLCM_DISTANCES.len();
    // The quantised grey levels present lie in lo..=hi: the properties only visit that block.
    let (lo, hi) = pixels.iter().fold((u8::MAX, 0), |(lo, hi), &v| {
        (lo.min(v >> 3), hi.max(v >> 3))
    });
    let levels = usize::from(lo)..usize::from(hi) + 1;
    let mut out = [0.0; GLCM_LEN];
    let mut counts: Matrix = [0.0; GLCM_LEVELS * GLCM_LEVELS];
    for (di, &d) in GLCM_DISTANCES.iter().enumerate() {
        for &angle in &ANGLES {
            let (dr, dc) = offset(d, angle);
            let pairs = cooccurrence(pixels, side, dr, dc, &mut counts);
            let props = properties(&counts, pairs, levels.clone());
            for (k, v) in props.iter().enumerate() {
                out[k * nd + di] += v / ANGLES.len() as f64;
            }
        }
    }
    out
}

/// scikit-image's pixel offset (rows, columns) for a distance and an angle.
fn offset(distance: usize, angle: f64) -> (isize, isize) {
    let d = distance as f64;
    // The products are never halfway between integers for these distances and angles, so the
    // rounding mode does not matter.
    (
        (angle.sin() * d).round() as isize,
        (angle.cos() * d).round() as isize,
    )
}

/// Fills `counts` with the symmetric co-occurrence counts of the ROI's quantised grey levels for
/// one offset (each pair counted at (i, j) and at (j, i)) and returns the number of pairs (0 when
/// none fits inside the ROI; the counts are then all zero).
fn cooccurrence(pixels: &[u8], side: usize, dr: isize, dc: isize, counts: &mut Matrix) -> usize {
    counts.fill(0.0);
    // The rows and columns whose neighbour at (dr, dc) is inside the ROI (empty when none is).
    let span = |o: isize| {
        let (start, end) = ((-o).max(0), (side as isize).min(side as isize - o));
        (start as usize)..(end.max(start) as usize)
    };
    let (rows, cols) = (span(dr), span(dc));
    let pairs = rows.len() * cols.len();
    for r in rows {
        let row = &pixels[r * side..(r + 1) * side];
        let nr = (r as isize + dr) as usize;
        let nrow = &pixels[nr * side..(nr + 1) * side];
        for c in cols.clone() {
            let nc = (c as isize + dc) as usize;
            let i = usize::from(row[c] >> 3);
            let j = usize::from(nrow[nc] >> 3);
            counts[i * GLCM_LEVELS + j] += 1.0;
            counts[j * GLCM_LEVELS + i] += 1.0;
        }
    }
    pairs
}

/// contrast, dissimilarity, homogeneity, energy and correlation of the GLCM normalised from
/// symmetric `counts` of `pairs` pairs, whose non-zero entries lie in the block `levels` x
/// `levels`. With no pair the normalised GLCM is all zero (skimage divides by 1 instead of 0).
fn properties(counts: &Matrix, pairs: usize, levels: std::ops::Range<usize>) -> [f64; 5] {
    // Sums of the counts, normalised at the end by their total (2 per pair).
    let total = if pairs == 0 { 1.0 } else { (2 * pairs) as f64 };
    // Homogeneity's weight 1 / (1 + (i - j)^2) by |i - j|.
    let mut inverse = [0.0; GLCM_LEVELS];
    for (k, w) in inverse.iter_mut().enumerate() {
        *w = 1.0 / (1.0 + (k * k) as f64);
    }
    let (mut contrast, mut dissimilarity, mut homogeneity, mut squares) = (0.0, 0.0, 0.0, 0.0);
    let (mut sum_i, mut sum_j) = (0.0, 0.0);
    for i in levels.clone() {
        for j in levels.clone() {
            let x = counts[i * GLCM_LEVELS + j];
            if x == 0.0 {
                continue;
            }
            let diff = i.abs_diff(j);
            contrast += x * (diff * diff) as f64;
            dissimilarity += x * diff as f64;
            homogeneity += x * inverse[diff];
            squares += x * x;
            sum_i += x * i as f64;
            sum_j += x * j as f64;
        }
    }
    let (mean_i, mean_j) = (sum_i / total, sum_j / total);
    let (mut var_i, mut var_j, mut cov) = (0.0, 0.0, 0.0);
    for i in levels.clone() {
        for j in levels.clone() {
            let x = counts[i * GLCM_LEVELS + j];
            if x == 0.0 {
                continue;
            }
            let (a, b) = (i as f64 - mean_i, j as f64 - mean_j);
            var_i += x * a * a;
            var_j += x * b * b;
            cov += x * a * b;
        }
    }
    let (sd_i, sd_j) = ((var_i / total).sqrt(), (var_j / total).sqrt());
    // skimage: a standard deviation below 1e-15 (one grey level, or no pair) gives correlation 1.
    let correlation = if sd_i < 1e-15 || sd_j < 1e-15 {
        1.0
    } else {
        cov / total / (sd_i * sd_j)
    };
    [
        contrast / total,
        dissimilarity / total,
        homogeneity / total,
        squares.sqrt() / total,
        correlation,
    ]
}

//! What a sonographer reads in a liver texture, as three numbers of a square grey image (a whole
//! ROI, or the patch of it a latent code covers):
//!
//! - **echogenicity**: how bright the tissue is, the mean grey level in [0, 1];
//! - **heterogeneity**: how much the grey level varies locally, the mean standard deviation of
//!   the 3x3 windows ([`LOCAL_WINDOW`]) that fit in the image, in [0, 1] grey units. Local
//!   windows, not the whole image's sd, so that a smooth brightness ramp (depth attenuation) does
//!   not count as heterogeneous tissue;
//! - **granularity**: the speckle size, in pixels: the lag at which the normalised
//!   autocorrelation, averaged over the horizontal and vertical directions, first falls to 0.5
//!   (half the width of its central peak at half height), linearly interpolated between integer
//!   lags. Coarse speckle stays correlated over more pixels than fine speckle.
//!
//! The functions take row-major `u8` pixels of a `side` x `side` image and panic if the length is
//! not `side * side` (a caller's bug, as in [`super::glcm`]).

/// Side of the sliding windows whose standard deviations [`heterogeneity`] averages.
pub const LOCAL_WINDOW: usize = 3;

fn check(pixels: &[u8], side: usize, what: &str) {
    assert_eq!(
        pixels.len(),
        side * side,
        "{what}: {} pixels for a {side}x{side} image",
        pixels.len()
    );
}

/// Mean grey level in [0, 1]; NaN for an empty image.
///
/// # Panics
///
/// If `pixels` does not have `side * side` values.
pub fn echogenicity(pixels: &[u8], side: usize) -> f64 {
    check(pixels, side, "echogenicity");
    pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / pixels.len() as f64 / 255.0
}

/// Population standard deviation of some values.
fn sd(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let mean = sum / n as f64;
    (values.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
}

/// Mean standard deviation (grey levels in [0, 1]) of the [`LOCAL_WINDOW`] x [`LOCAL_WINDOW`]
/// windows that lie inside the image, every position; the whole image's standard deviation when
/// it is smaller than a window. 0 for a constant image, NaN for an empty one.
///
/// # Panics
///
/// If `pixels` does not have `side * side` values.
pub fn heterogeneity(pixels: &[u8], side: usize) -> f64 {
    check(pixels, side, "heterogeneity");
    // Grey levels as integers until the end, so that a constant image's sd is exactly 0.
    if side < LOCAL_WINDOW {
        return sd(pixels.iter().map(|&p| f64::from(p))) / 255.0;
    }
    let w = LOCAL_WINDOW;
    let mut total = 0.0;
    let mut windows = 0usize;
    for r in 0..=side - w {
        for c in 0..=side - w {
            let window = (0..w * w).map(|k| f64::from(pixels[(r + k / w) * side + c + k % w]));
            total += sd(window);
            windows += 1;
        }
    }
    total / windows as f64 / 255.0
}

/// Normalised autocorrelation at `lag` along one direction: the mean over the pixel pairs `lag`
/// apart of the product of their deviations from the image's mean, over the image's variance.
fn autocorrelation(x: &[f64], side: usize, mean: f64, var: f64, lag: usize) -> f64 {
    let mut sum = 0.0;
    for r in 0..side {
        for c in 0..side - lag {
            // Horizontal pair, then vertical pair (the transpose).
            sum += (x[r * side + c] - mean) * (x[r * side + c + lag] - mean);
            sum += (x[c * side + r] - mean) * (x[(c + lag) * side + r] - mean);
        }
    }
    sum / (2 * side * (side - lag)) as f64 / var
}

/// Speckle size in pixels: the lag where the normalised autocorrelation (mean of horizontal and
/// vertical, pairs averaged so that every lag is unbiased) first falls to 0.5, interpolated
/// linearly between integer lags (it is 1 at lag 0). Lags go up to `side / 2`; an image still
/// correlated above 0.5 there gets `side / 2`. NaN for a constant image, whose autocorrelation is
/// undefined, and for images under 2 pixels wide.
///
/// A one-pixel checkerboard gets 0.25 (its autocorrelation is -1 at lag 1); blocks of `s` pixels
/// get about `s / 2`, growing with the block size.
///
/// # Panics
///
/// If `pixels` does not have `side * side` values.
pub fn granularity(pixels: &[u8], side: usize) -> f64 {
    check(pixels, side, "granularity");
    if side < 2 {
        return f64::NAN;
    }
    // Raw grey levels (the autocorrelation does not depend on the scale): a constant image's
    // variance is then exactly 0.
    let x: Vec<f64> = pixels.iter().map(|&p| f64::from(p)).collect();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64;
    if var <= 0.0 {
        return f64::NAN;
    }
    let max_lag = side / 2;
    let mut prev = 1.0;
    for lag in 1..=max_lag {
        let rho = autocorrelation(&x, side, mean, var, lag);
        if rho <= 0.5 {
            // prev > 0.5 >= rho: where the segment from (lag - 1, prev) to (lag, rho) hits 0.5.
            return (lag - 1) as f64 + (prev - 0.5) / (prev - rho);
        }
        prev = rho;
    }
    max_lag as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `side` x `side` image from a formula of (row, column).
    fn image(side: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..side * side).map(|k| f(k / side, k % side)).collect()
    }

    /// Checkerboard of `block` x `block` squares of 40 and 200.
    fn checkerboard(side: usize, block: usize) -> Vec<u8> {
        image(side, |r, c| {
            if (r / block + c / block).is_multiple_of(2) {
                40
            } else {
                200
            }
        })
    }

    #[test]
    fn constant_images() {
        for v in [0u8, 90, 255] {
            let img = image(8, |_, _| v);
            assert_eq!(heterogeneity(&img, 8), 0.0);
            assert!((echogenicity(&img, 8) - f64::from(v) / 255.0).abs() < 1e-15);
            assert!(granularity(&img, 8).is_nan());
        }
        // Smaller than a window: the whole image's sd.
        assert_eq!(heterogeneity(&[7, 7, 7, 7], 2), 0.0);
        assert!((heterogeneity(&[0, 255, 255, 0], 2) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn brighter_is_more_echogenic() {
        let dark = checkerboard(8, 2);
        let bright: Vec<u8> = dark.iter().map(|&p| p + 50).collect();
        assert!(echogenicity(&bright, 8) > echogenicity(&dark, 8));
        assert!((echogenicity(&bright, 8) - echogenicity(&dark, 8) - 50.0 / 255.0).abs() < 1e-12);
        // A shift changes neither the local variation nor the speckle size.
        assert!((heterogeneity(&bright, 8) - heterogeneity(&dark, 8)).abs() < 1e-12);
        assert!((granularity(&bright, 8) - granularity(&dark, 8)).abs() < 1e-12);
    }

    #[test]
    fn coarse_speckle_is_more_granular() {
        let fine = granularity(&checkerboard(8, 1), 8);
        let medium = granularity(&checkerboard(8, 2), 8);
        let coarse = granularity(&checkerboard(8, 4), 8);
        assert!((fine - 0.25).abs() < 1e-12, "{fine}");
        assert!(fine < medium && medium < coarse, "{fine} {medium} {coarse}");
        // 4-pixel blocks on 8 pixels: rho(1) = 5/7, rho(2) = 1/3 (pairs per lag), so 1 + (5/7 -
        // 1/2) / (5/7 - 1/3) = 1.5625.
        assert!((coarse - 1.5625).abs() < 1e-12, "{coarse}");
        // The same on a whole 28x28 ROI.
        assert!(granularity(&checkerboard(28, 1), 28) < granularity(&checkerboard(28, 4), 28));
        // Stripes along rows: correlated forever horizontally, anti-correlated vertically.
        let stripes = image(8, |r, _| if r % 2 == 0 { 0 } else { 255 });
        assert!((granularity(&stripes, 8) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_smooth_ramp_is_granular_but_hardly_heterogeneous() {
        let ramp = image(28, |r, c| (r * 4 + c * 4) as u8);
        let speckle = checkerboard(28, 1);
        assert!(granularity(&ramp, 28) > granularity(&checkerboard(28, 4), 28));
        assert!(heterogeneity(&ramp, 28) < 0.1 * heterogeneity(&speckle, 28));
        // A 1-pixel checkerboard of 40/200: every 3x3 window has 5 of one and 4 of the other.
        let want = (160.0 / 255.0) * (20.0f64).sqrt() / 9.0;
        assert!((heterogeneity(&speckle, 28) - want).abs() < 1e-12);
    }

    #[test]
    fn degenerate_sizes() {
        assert!(echogenicity(&[], 0).is_nan());
        assert!(heterogeneity(&[], 0).is_nan());
        assert!(granularity(&[], 0).is_nan());
        assert!(granularity(&[9], 1).is_nan());
    }

    #[test]
    #[should_panic(expected = "granularity: 10 pixels for a 3x3 image")]
    fn wrong_side_panics() {
        granularity(&[0; 10], 3);
    }
}

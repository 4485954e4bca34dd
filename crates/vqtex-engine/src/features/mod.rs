//! Hand-crafted radiomics baselines for the patient-level cross-validation: first-order
//! (histogram) features and GLCM (Haralick) texture features of the 28x28 ROIs, defined to match
//! numpy/scipy and scikit-image exactly (`scripts/reference/features.py` computes the reference
//! values pinned in the tests).

pub mod firstorder;
pub mod glcm;
pub mod texture;

pub use firstorder::{firstorder, FIRSTORDER_NAMES};
pub use glcm::{glcm, glcm_names, GLCM_DISTANCES, GLCM_LEVELS, GLCM_PROPS};

use ndarray::Array2;

/// First-order features of many ROIs: one row per ROI, the columns [`FIRSTORDER_NAMES`] (see
/// [`firstorder`]).
pub fn firstorder_matrix(rois: &[&[u8]]) -> Array2<f64> {
    let mut m = Array2::zeros((rois.len(), FIRSTORDER_NAMES.len()));
    for (mut row, roi) in m.rows_mut().into_iter().zip(rois) {
        for (x, v) in row.iter_mut().zip(firstorder(roi)) {
            *x = v;
        }
    }
    m
}

/// GLCM features of many `side` x `side` ROIs: one row per ROI, the columns [`glcm_names`] (see
/// [`glcm`]).
///
/// # Panics
///
/// If a ROI does not have `side * side` pixels.
pub fn glcm_matrix(rois: &[&[u8]], side: usize) -> Array2<f64> {
    let mut m = Array2::zeros((rois.len(), GLCM_PROPS.len() * GLCM_DISTANCES.len()));
    for (mut row, roi) in m.rows_mut().into_iter().zip(rois) {
        for (x, v) in row.iter_mut().zip(glcm(roi, side)) {
            *x = v;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    //! Reference values from `scripts/reference/features.py` with numpy 2.4.6, scipy 1.17.1 and
    //! scikit-image 0.26.0 (Python 3.11):
    //!
    //! ```text
    //! x = img.ravel() / 255.0
    //! [np.mean(x), np.std(x), scipy.stats.skew(x), scipy.stats.kurtosis(x),
    //!  scipy.stats.entropy(np.bincount(img.ravel(), minlength=256), base=2)]
    //! P = skimage.feature.graycomatrix(img // 8, distances=[1, 2, 4],
    //!         angles=[0, np.pi/4, np.pi/2, 3*np.pi/4], levels=32, symmetric=True, normed=True)
    //! [v for prop in PROPS for v in skimage.feature.graycoprops(P, prop).mean(axis=1)]
    //! ```
    use super::*;

    /// A `side` x `side` image, row-major, from a formula of (row, column).
    fn image(side: usize, f: impl Fn(usize, usize) -> usize) -> Vec<u8> {
        (0..side * side)
            .map(|k| u8::try_from(f(k / side, k % side) % 256).unwrap())
            .collect()
    }
    /// 28x28 pseudo-texture.
    fn texture() -> Vec<u8> {
        image(28, |r, c| r * 37 + c * 11 + (r * c) % 23)
    }
    /// 28x28 constant.
    fn constant() -> Vec<u8> {
        image(28, |_, _| 77)
    }
    /// 28x28 smooth gradient.
    fn gradient() -> Vec<u8> {
        image(28, |r, c| r * 7 + c * 2)
    }
    /// 5x5: distance 4 leaves few pairs.
    fn small5() -> Vec<u8> {
        image(5, |r, c| r * 53 + c * 29 + r * c * 7)
    }
    /// 3x3: no pair at distance 4 in any direction.
    fn tiny3() -> Vec<u8> {
        image(3, |r, c| r * 90 + c * 40)
    }

    /// Relative tolerance 1e-9, with an absolute floor of 1e-12 for values that are zero up to
    /// rounding in the reference (the gradient's skewness -5.5e-16, the constant's numpy sd
    /// 5.6e-17 where ours is exactly 0).
    fn assert_close(got: &[f64], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            let tol = (1e-9 * w.abs()).max(1e-12);
            assert!((g - w).abs() <= tol, "{what}[{k}]: got {g:e}, want {w:e}");
        }
    }

    #[test]
    fn firstorder_matches_numpy_and_scipy() {
        let cases: [(&str, Vec<u8>, [f64; 5]); 5] = [
            (
                "texture",
                texture(),
                [
                    0.4949679871948779,
                    0.2894882139781819,
                    -0.0001899446174531488,
                    -1.2075176604826505,
                    7.749345833295118,
                ],
            ),
            (
                "gradient",
                gradient(),
                [
                    0.47647058823529415,
                    0.23061524451661952,
                    -5.542061839018564e-16,
                    -1.0351756600636435,
                    7.802035290466512,
                ],
            ),
            (
                "small5",
                small5(),
                [
                    0.4316862745098039,
                    0.2736927223490249,
                    0.07179566731222753,
                    -1.1518436750680225,
                    4.563856189774724,
                ],
            ),
            (
                "tiny3",
                tiny3(),
                [
                    0.3982570806100218,
                    0.2919871192414732,
                    0.07197666371420433,
                    -1.30509704111684,
                    3.1699250014423126,
                ],
            ),
            // scipy gives nan for skewness and kurtosis here; ours are 0 by definition.
            (
                "constant",
                constant(),
                [0.3019607843137254, 5.551115123125783e-17, 0.0, 0.0, 0.0],
            ),
        ];
        for (name, img, want) in cases {
            assert_close(&firstorder(&img), &want, name);
        }
    }

    #[test]
    fn firstorder_of_a_constant_roi_is_exact() {
        assert_eq!(firstorder(&constant()), [77.0 / 255.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(firstorder(&[255]), [1.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(firstorder(&[]).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn firstorder_ignores_pixel_order() {
        let img = texture();
        let mut shuffled = img.clone();
        shuffled.reverse();
        shuffled.rotate_left(123);
        assert_ne!(img, shuffled);
        assert_eq!(firstorder(&img), firstorder(&shuffled));
        // Two equal halves: entropy 1 bit, no skew, the most negative excess kurtosis (-2).
        let [mean, sd, skew, kurt, entropy] = firstorder(&[0, 255, 255, 0]);
        assert_eq!((mean, sd, skew, entropy), (0.5, 0.5, 0.0, 1.0));
        assert!((kurt + 2.0).abs() < 1e-15);
    }

    #[test]
    fn glcm_matches_scikit_image() {
        let cases: [(&str, Vec<u8>, usize, [f64; 15]); 5] = [
            (
                "texture",
                texture(),
                28,
                [
                    102.55489417989428,
                    132.78683353683383,
                    214.02077083333293,
                    6.495272388790912,
                    8.354246747765282,
                    13.392236309523794,
                    0.14716832688077772,
                    0.08423326927804103,
                    0.012333859260141614,
                    0.06632057486398006,
                    0.06411682819586355,
                    0.06470945151854192,
                    0.3939242904459183,
                    0.2147166685652916,
                    -0.25815764493424975,
                ],
            ),
            (
                "gradient",
                gradient(),
                28,
                [
                    0.7756344307270231,
                    1.4330418381344312,
                    7.174600000000005,
                    0.7152777777777777,
                    0.9976851851851851,
                    2.4350000000000005,
                    0.6483967764060352,
                    0.5446930727023317,
                    0.22576823529411766,
                    0.1269398572204581,
                    0.11640696555677009,
                    0.11795436247350122,
                    0.9923773570194788,
                    0.9854585825445572,
                    0.920270939532147,
                ],
            ),
            (
                "small5",
                small5(),
                5,
                [
                    147.72187499999998,
                    178.571875,
                    145.05,
                    9.846874999999997,
                    11.855208333333335,
                    10.175,
                    0.06350045581755939,
                    0.054415375072201115,
                    0.05106913482843029,
                    0.16880542700684759,
                    0.18103557842016582,
                    0.33489057830505586,
                    0.05849996597049681,
                    -0.12679618943059784,
                    -0.10436285725106198,
                ],
            ),
            // Distance 4 has no pair in a 3x3 ROI: all-zero GLCMs, correlation 1 (skimage).
            (
                "tiny3",
                tiny3(),
                3,
                [
                    152.16666666666666,
                    219.0,
                    0.0,
                    10.833333333333332,
                    13.500000000000002,
                    0.0,
                    0.017601336290907904,
                    0.010720230844949403,
                    0.0,
                    0.3409790904187797,
                    0.4007656683533048,
                    0.0,
                    0.004591739627620162,
                    -0.25409031813975624,
                    1.0,
                ],
            ),
            // One grey level: zero variance, so skimage's correlation is 1.
            (
                "constant",
                constant(),
                28,
                [
                    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
                ],
            ),
        ];
        for (name, img, side, want) in cases {
            assert_close(&glcm(&img, side), &want, name);
        }
    }

    #[test]
    fn glcm_of_a_constant_roi() {
        for v in [0, 77, 255] {
            let g = glcm(&[v; 28 * 28], 28);
            let [contrast, dissimilarity, homogeneity, energy, correlation] =
                [0, 1, 2, 3, 4].map(|k| &g[k * 3..k * 3 + 3]);
            assert_eq!(contrast, [0.0; 3]);
            assert_eq!(dissimilarity, [0.0; 3]);
            assert_eq!(homogeneity, [1.0; 3]);
            assert_eq!(energy, [1.0; 3]);
            assert_eq!(correlation, [1.0; 3]);
        }
    }

    #[test]
    fn glcm_quantises_by_eight_and_ignores_transposition() {
        let img = texture();
        // Adding 0..=7 within each bin of 8 leaves the quantised image, so the GLCMs, unchanged.
        let jittered: Vec<u8> = img
            .iter()
            .enumerate()
            .map(|(k, &v)| (v & !7) | (k % 8) as u8)
            .collect();
        assert_eq!(glcm(&img, 28), glcm(&jittered, 28));
        // The transpose swaps angles 0 and pi/2 and maps the two diagonals onto themselves; the
        // mean over the angles does not change.
        let transposed: Vec<u8> = (0..28 * 28).map(|k| img[(k % 28) * 28 + k / 28]).collect();
        assert_close(&glcm(&transposed, 28), &glcm(&img, 28), "transposed");
    }

    #[test]
    fn glcm_of_an_empty_roi_has_no_pairs() {
        let want = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0,
        ];
        assert_eq!(glcm(&[], 0), want);
        // A 1x1 ROI: no pair at any distance.
        assert_eq!(glcm(&[200], 1), want);
    }

    #[test]
    #[should_panic(expected = "glcm: 10 pixels for a 3x3 ROI")]
    fn glcm_rejects_a_wrong_side() {
        glcm(&[0; 10], 3);
    }

    #[test]
    fn names_match_the_values() {
        let names = glcm_names();
        assert_eq!(names.len(), 15);
        assert_eq!(
            names[..4],
            [
                "contrast_d1",
                "contrast_d2",
                "contrast_d4",
                "dissimilarity_d1"
            ]
        );
        assert_eq!(names[14], "correlation_d4");
        assert_eq!(FIRSTORDER_NAMES.len(), firstorder(&[1, 2]).len());
        assert_eq!(GLCM_LEVELS, 256 / 8);
    }

    #[test]
    fn matrices_have_one_row_per_roi() {
        let imgs = [texture(), constant(), gradient()];
        let rois: Vec<&[u8]> = imgs.iter().map(Vec::as_slice).collect();
        let f = firstorder_matrix(&rois);
        let g = glcm_matrix(&rois, 28);
        assert_eq!(f.dim(), (3, 5));
        assert_eq!(g.dim(), (3, 15));
        for (k, img) in imgs.iter().enumerate() {
            assert_eq!(f.row(k).to_vec(), firstorder(img));
            assert_eq!(g.row(k).to_vec(), glcm(img, 28));
        }
        assert_eq!(firstorder_matrix(&[]).dim(), (0, 5));
        assert_eq!(glcm_matrix(&[], 28).dim(), (0, 15));
    }
}

// Timing, not tests: built only with `--features timing` (see docs/PERFORMANCE.md).
#[cfg(all(test, feature = "timing"))]
mod timing {
    use super::*;
    use std::time::Instant;

    /// The data set's size: 550 ROIs of 28x28, both matrices well under 100 ms.
    #[test]
    #[ignore = "timing, not a test"]
    fn matrices_of_550_rois() {
        let imgs: Vec<Vec<u8>> = (0..550usize)
            .map(|s| {
                (0..28 * 28)
                    .map(|k| ((k / 28 * 37 + k % 28 * 11 + (k * s) % 23 + s) % 256) as u8)
                    .collect()
            })
            .collect();
        let rois: Vec<&[u8]> = imgs.iter().map(Vec::as_slice).collect();
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let f = firstorder_matrix(&rois);
            let g = glcm_matrix(&rois, 28);
            best = best.min(t.elapsed().as_secs_f64());
            assert!(f.iter().chain(g.iter()).all(|v| v.is_finite()));
        }
        eprintln!(
            "features of 550 ROIs (first-order + GLCM): {:.1} ms",
            best * 1e3
        );
        assert!(best < 0.1, "{best} s");
    }
}

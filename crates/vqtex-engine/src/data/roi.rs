//! Hepatorenal-index (HI) normalisation, as in the paper: HI = mean(liver ROI) / mean(kidney ROI),
//! and the liver ROI multiplied by HI, rounded and clamped to [0, 255].

/// Why an HI could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HiError {
    #[error("the kidney ROI has mean 0: the hepatorenal index is undefined")]
    ZeroKidney,
    #[error("liver and kidney ROIs must be non-empty")]
    Empty,
}

fn mean(pixels: &[u8]) -> f64 {
    pixels.iter().map(|&p| p as f64).sum::<f64>() / pixels.len() as f64
}

/// The hepatorenal index of a liver ROI and a kidney ROI.
pub fn hepatorenal_index(liver: &[u8], kidney: &[u8]) -> Result<f64, HiError> {
    if liver.is_empty() || kidney.is_empty() {
        return Err(HiError::Empty);
    }
    let k = mean(kidney);
    if k <= 0.0 {
        return Err(HiError::ZeroKidney);
    }
    Ok(mean(liver) / k)
}

/// Multiplies every pixel by `hi`, rounds half away from zero and clamps to [0, 255].
pub fn apply_hi(liver: &[u8], hi: f64) -> Vec<u8> {
    liver
        .iter()
        .map(|&p| (p as f64 * hi).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Computes the HI of a frame's liver and kidney ROIs and returns the normalised liver ROI with it.
pub fn normalise(liver: &[u8], kidney: &[u8]) -> Result<(Vec<u8>, f64), HiError> {
    let hi = hepatorenal_index(liver, kidney)?;
    Ok((apply_hi(liver, hi), hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hi_is_ratio_of_means_and_scales_the_liver() {
        let liver = [100u8, 120, 140, 160];
        let kidney = [50u8, 70, 90, 110];
        let (out, hi) = normalise(&liver, &kidney).unwrap();
        assert!((hi - 130.0 / 80.0).abs() < 1e-12);
        // 100 * 1.625 = 162.5 -> 163 (half away from zero), 160 * 1.625 = 260 -> 255.
        assert_eq!(out, vec![163, 195, 228, 255]);
    }

    #[test]
    fn zero_kidney_is_an_error() {
        assert_eq!(
            hepatorenal_index(&[10, 20], &[0, 0]),
            Err(HiError::ZeroKidney)
        );
        assert_eq!(hepatorenal_index(&[], &[1]), Err(HiError::Empty));
    }
}

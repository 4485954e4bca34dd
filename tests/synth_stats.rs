//! The synthetic generator reproduces the measured statistics of real HI-normalised ROIs
//! (../shared/DATA.md), so sample-data behaves like the real thing.

use vqtex::data::synth::{autocorrelation, generate, SynthConfig};
use vqtex::data::{Label, Roi, RoiStats};

struct ClassStats {
    n: usize,
    patients: usize,
    mean_of_means: f64,
    sd_of_means: f64,
    mean_sd: f64,
    hi_mean: f64,
    saturated: f64,
    min_pixel: u8,
}

fn class_stats(rois: &[&Roi]) -> ClassStats {
    let stats: Vec<RoiStats> = rois.iter().map(|r| r.stats()).collect();
    let n = stats.len() as f64;
    let mean_of_means = stats.iter().map(|s| s.mean).sum::<f64>() / n;
    let sd_of_means = (stats
        .iter()
        .map(|s| (s.mean - mean_of_means).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let mut patients: Vec<&str> = rois.iter().map(|r| r.patient.0.as_str()).collect();
    patients.dedup();
    ClassStats {
        n: rois.len(),
        patients: patients.len(),
        mean_of_means,
        sd_of_means,
        mean_sd: stats.iter().map(|s| s.sd).sum::<f64>() / n,
        hi_mean: rois.iter().map(|r| r.hi.unwrap()).sum::<f64>() / n,
        saturated: rois
            .iter()
            .map(|r| r.pixels.iter().filter(|&&p| p == 255).count())
            .sum::<usize>() as f64
            / (n * 784.0),
        min_pixel: stats.iter().map(|s| s.min).min().unwrap(),
    }
}

#[test]
fn generated_statistics_fall_within_the_measured_ranges() {
    let rois = generate(&SynthConfig::default());
    assert_eq!(rois.len(), 550);
    let healthy: Vec<&Roi> = rois.iter().filter(|r| r.label == Label::Healthy).collect();
    let steatotic: Vec<&Roi> = rois
        .iter()
        .filter(|r| r.label == Label::Steatosis)
        .collect();
    let h = class_stats(&healthy);
    let s = class_stats(&steatotic);
    eprintln!(
        "healthy: mean {:.1} +- {:.1}, sd {:.1}, HI {:.3}, sat {:.4}, min {}",
        h.mean_of_means, h.sd_of_means, h.mean_sd, h.hi_mean, h.saturated, h.min_pixel
    );
    eprintln!(
        "steatotic: mean {:.1} +- {:.1}, sd {:.1}, HI {:.3}, sat {:.4}, min {}",
        s.mean_of_means, s.sd_of_means, s.mean_sd, s.hi_mean, s.saturated, s.min_pixel
    );
    assert_eq!((h.n, h.patients), (170, 17));
    assert_eq!((s.n, s.patients), (380, 38));
    // Measured: healthy 99.8 +- 21.3, sd 18.7 +- 3.4, HI 1.033; steatotic 153.8 +- 32.2, sd 25.2
    // +- 5.4, HI 1.474. With 17 and 38 patients the class means wander by about sd/sqrt(patients).
    assert!((h.mean_of_means - 99.8).abs() < 12.0, "healthy mean");
    assert!((s.mean_of_means - 153.8).abs() < 12.0, "steatotic mean");
    assert!((10.0..35.0).contains(&h.sd_of_means), "healthy spread");
    assert!((18.0..45.0).contains(&s.sd_of_means), "steatotic spread");
    assert!(
        (h.mean_sd - 18.7).abs() < 3.4,
        "healthy within-ROI sd {}",
        h.mean_sd
    );
    assert!(
        (s.mean_sd - 25.2).abs() < 5.4,
        "steatotic within-ROI sd {}",
        s.mean_sd
    );
    assert!(
        (h.hi_mean - 1.033).abs() < 0.124,
        "healthy HI {}",
        h.hi_mean
    );
    assert!(
        (s.hi_mean - 1.474).abs() < 0.23,
        "steatotic HI {}",
        s.hi_mean
    );
    assert!(h.saturated < 0.005, "healthy ROIs barely saturate");
    assert!(
        s.saturated > 0.0 && s.saturated < 0.05,
        "steatotic saturation {}",
        s.saturated
    );
    assert!(h.min_pixel < 40 && s.min_pixel < 40, "dark speckle tails");
    assert!(
        s.mean_of_means > h.mean_of_means,
        "steatotic liver is brighter"
    );
}

#[test]
fn speckle_correlation_matches_the_measured_shape() {
    let rois = generate(&SynthConfig::default());
    let pixels: Vec<&[u8]> = rois.iter().map(|r| r.pixels.as_slice()).collect();
    let (axial, lateral) = autocorrelation(&pixels, 5);
    eprintln!("axial {axial:.3?}\nlateral {lateral:.3?}");
    // Measured axial 1.00, 0.47, 0.00, -0.08; lateral 1.00, 0.83, 0.55, 0.31, 0.16, 0.08.
    assert!((axial[0] - 1.0).abs() < 1e-9);
    assert!((axial[1] - 0.47).abs() < 0.1, "axial lag 1 {}", axial[1]);
    assert!(axial[2].abs() < 0.12, "axial lag 2 {}", axial[2]);
    assert!(
        (lateral[1] - 0.83).abs() < 0.08,
        "lateral lag 1 {}",
        lateral[1]
    );
    assert!(
        (lateral[2] - 0.55).abs() < 0.12,
        "lateral lag 2 {}",
        lateral[2]
    );
    assert!(
        (lateral[3] - 0.31).abs() < 0.15,
        "lateral lag 3 {}",
        lateral[3]
    );
    assert!(lateral[5] < 0.2, "lateral lag 5 {}", lateral[5]);
}

#[test]
fn the_generator_is_deterministic_for_a_seed() {
    let cfg = SynthConfig {
        healthy: 2,
        steatotic: 2,
        ..SynthConfig::default()
    };
    assert_eq!(generate(&cfg), generate(&cfg));
    let other = SynthConfig {
        seed: 99,
        ..cfg.clone()
    };
    assert_ne!(generate(&cfg)[0].pixels, generate(&other)[0].pixels);
}

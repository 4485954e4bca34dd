//! Per-image reconstruction metrics on images in [0, 1]: MSE, MAE, SSIM and PSNR.

use serde::{Deserialize, Serialize};

pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64
}

pub fn mae(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / a.len().max(1) as f64
}

/// PSNR in dB for data range 1: 10 log10(1 / MSE). Infinite for identical images.
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let m = mse(a, b);
    if m == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (1.0 / m).log10()
    }
}

/// SSIM as in Wang et al. 2004 with scikit-image's defaults: 7x7 uniform window, sample covariance
/// (NP / (NP - 1)), K1 = 0.01, K2 = 0.03, data range 1; the mean over the windows that lie fully
/// inside the image (scikit-image crops (7 - 1) / 2 pixels off each border).
pub fn ssim(a: &[f32], b: &[f32], width: usize, height: usize) -> f64 {
    const WIN: usize = 7;
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let np = (WIN * WIN) as f64;
    let cov_norm = np / (np - 1.0);
    if width < WIN || height < WIN {
        return f64::NAN;
    }
    let mut total = 0.0;
    let mut count = 0usize;
    for r in 0..=height - WIN {
        for c in 0..=width - WIN {
            let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for i in 0..WIN {
                for j in 0..WIN {
                    let k = (r + i) * width + c + j;
                    let (x, y) = (a[k] as f64, b[k] as f64);
                    sx += x;
                    sy += y;
                    sxx += x * x;
                    syy += y * y;
                    sxy += x * y;
                }
            }
            let (ux, uy) = (sx / np, sy / np);
            let vx = cov_norm * (sxx / np - ux * ux);
            let vy = cov_norm * (syy / np - uy * uy);
            let vxy = cov_norm * (sxy / np - ux * uy);
            let s = ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            total += s;
            count += 1;
        }
    }
    total / count as f64
}

/// The four metrics of one reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoiMetrics {
    pub mse: f64,
    pub mae: f64,
    pub ssim: f64,
    pub psnr: f64,
}

impl RoiMetrics {
    /// Metrics of a 28x28 reconstruction.
    pub fn of(original: &[f32], recon: &[f32]) -> RoiMetrics {
        RoiMetrics {
            mse: mse(original, recon),
            mae: mae(original, recon),
            ssim: ssim(original, recon, 28, 28),
            psnr: psnr(original, recon),
        }
    }
}

/// Mean and standard deviation (population, as numpy's default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(values: impl IntoIterator<Item = f64>) -> MeanStd {
        let v: Vec<f64> = values.into_iter().collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Table 1's row for one model: `{"n", "mse", "mae", "ssim", "psnr"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mse: MeanStd,
    pub mae: MeanStd,
    pub ssim: MeanStd,
    pub psnr: MeanStd,
}

impl Summary {
    /// An error naming the first metric whose mean or sd is not a finite number (a model whose
    /// reconstructions are NaN): such a table must never be printed as if it were a result.
    pub fn check_finite(&self) -> Result<(), String> {
        for (name, m) in [
            ("MSE", &self.mse),
            ("MAE", &self.mae),
            ("SSIM", &self.ssim),
            ("PSNR", &self.psnr),
        ] {
            if !(m.mean.is_finite() && m.std.is_finite()) {
                return Err(format!(
                    "the test {name} is {} +- {}: the model's reconstructions are not finite \
                     numbers",
                    m.mean, m.std
                ));
            }
        }
        Ok(())
    }

    pub fn of(rows: &[RoiMetrics]) -> Summary {
        Summary {
            n: rows.len(),
            mse: MeanStd::of(rows.iter().map(|r| r.mse)),
            mae: MeanStd::of(rows.iter().map(|r| r.mae)),
            ssim: MeanStd::of(rows.iter().map(|r| r.ssim)),
            psnr: MeanStd::of(rows.iter().map(|r| r.psnr)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test images defined by integer formulas; reference values computed once with scikit-image
    // 0.26 (structural_similarity(x, y, data_range=1.0), peak_signal_noise_ratio(..., data_range=1.0)).
    fn img(f: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        (0..28)
            .flat_map(|i| (0..28).map(move |j| (i, j)))
            .map(|(i, j)| f(i, j))
            .collect()
    }
    fn a(i: usize, j: usize) -> f64 {
        ((i * 7 + j * 13) % 29) as f64 / 28.0
    }
    fn b(i: usize, j: usize) -> f64 {
        ((i * 5 + j * 3 + 11) % 31) as f64 / 30.0
    }
    fn c(i: usize, j: usize) -> f64 {
        (a(i, j) + 0.1 * (((i * j) % 7) as f64 - 3.0) / 3.0).clamp(0.0, 1.0)
    }
    fn d(i: usize, j: usize) -> f64 {
        (i + j) as f64 / 54.0
    }
    fn e(i: usize, j: usize) -> f64 {
        1.0 - d(i, j)
    }

    /// SSIM in f64 on the reference images (the f32 version is checked separately).
    fn ssim64(x: &[f64], y: &[f64]) -> f64 {
        // Reuse the f32 implementation's formula by running it on f64 via a local copy.
        let np = 49.0f64;
        let cn = np / (np - 1.0);
        let (c1, c2) = (1e-4, 9e-4);
        let mut total = 0.0;
        for r in 0..22 {
            for cc in 0..22 {
                let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for i in 0..7 {
                    for j in 0..7 {
                        let k = (r + i) * 28 + cc + j;
                        sx += x[k];
                        sy += y[k];
                        sxx += x[k] * x[k];
                        syy += y[k] * y[k];
                        sxy += x[k] * y[k];
                    }
                }
                let (ux, uy) = (sx / np, sy / np);
                let vx = cn * (sxx / np - ux * ux);
                let vy = cn * (syy / np - uy * uy);
                let vxy = cn * (sxy / np - ux * uy);
                total += ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                    / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        }
        total / 484.0
    }

    const CASES: [(&str, f64, f64, f64, f64); 5] = [
        // pair, ssim, psnr, mse, mae
        (
            "AB",
            -0.01128676548549682,
            7.447312109216687,
            0.17999845984312096,
            0.34635264820213796,
        ),
        (
            "AC",
            0.973480805413612,
            23.119782298724555,
            0.004875529293349994,
            0.06002186588921282,
        ),
        (
            "DE",
            -0.5950274591649096,
            7.47117016643675,
            0.17901234567901234,
            0.3452380952380953,
        ),
        (
            "CB",
            -0.007986689219596572,
            7.41843195182306,
            0.18119942066962844,
            0.3463769436345967,
        ),
        (
            "DC",
            0.010162729794364443,
            8.774095210655293,
            0.13261433716532722,
            0.30050581740632765,
        ),
    ];

    fn pick(name: char) -> Vec<f64> {
        match name {
            'A' => img(a),
            'B' => img(b),
            'C' => img(c),
            'D' => img(d),
            _ => img(e),
        }
    }

    #[test]
    fn ssim_matches_scikit_image() {
        for (pair, s_ref, _, _, _) in CASES {
            let mut ch = pair.chars();
            let (x, y) = (pick(ch.next().unwrap()), pick(ch.next().unwrap()));
            assert!((ssim64(&x, &y) - s_ref).abs() < 1e-12, "{pair}");
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let yf: Vec<f32> = y.iter().map(|&v| v as f32).collect();
            let s = ssim(&xf, &yf, 28, 28);
            assert!((s - s_ref).abs() < 1e-5, "{pair}: {s} vs {s_ref}");
        }
        let x: Vec<f32> = img(a).iter().map(|&v| v as f32).collect();
        assert!((ssim(&x, &x, 28, 28) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mse_mae_psnr_match_scikit_image() {
        for (pair, _, p_ref, mse_ref, mae_ref) in CASES {
            let mut ch = pair.chars();
            let x: Vec<f32> = pick(ch.next().unwrap()).iter().map(|&v| v as f32).collect();
            let y: Vec<f32> = pick(ch.next().unwrap()).iter().map(|&v| v as f32).collect();
            assert!((mse(&x, &y) - mse_ref).abs() < 1e-6, "{pair}");
            assert!((mae(&x, &y) - mae_ref).abs() < 1e-6, "{pair}");
            assert!((psnr(&x, &y) - p_ref).abs() < 1e-4, "{pair}");
        }
    }

    #[test]
    fn mean_std_is_population() {
        let s = MeanStd::of([1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.mean, 2.5);
        assert!((s.std - 1.25f64.sqrt()).abs() < 1e-12);
    }
}

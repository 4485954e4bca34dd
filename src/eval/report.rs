//! Text tables beside the paper's published numbers.

use std::fmt::Write;

use super::metrics::{MeanStd, Summary};
use super::{Classification, Scores};

/// The paper's Table 1 (test ROIs, mean and sd): model, MSE, MAE, SSIM, PSNR.
pub const PAPER_TABLE1: [(&str, [(f64, f64); 4]); 5] = [
    (
        "cae",
        [
            (0.0208, 0.0047),
            (0.1157, 0.0122),
            (0.4076, 0.0684),
            (16.90, 0.88),
        ],
    ),
    (
        "vae",
        [
            (0.0324, 0.0048),
            (0.1341, 0.0142),
            (0.3822, 0.0713),
            (14.82, 0.74),
        ],
    ),
    (
        "vaenf",
        [
            (0.0301, 0.0042),
            (0.1268, 0.0133),
            (0.4015, 0.0674),
            (15.42, 0.76),
        ],
    ),
    (
        "mae",
        [
            (0.0068, 0.0021),
            (0.0615, 0.0100),
            (0.9514, 0.0130),
            (21.86, 1.27),
        ],
    ),
    (
        "vqvae",
        [
            (0.0131, 0.0025),
            (0.0909, 0.0093),
            (0.6764, 0.0496),
            (18.92, 0.85),
        ],
    ),
];

/// The paper's Table 2 confusion matrices (paper protocol, 30 ROIs): pixels, latents.
pub const PAPER_TABLE2: [(&str, [[usize; 2]; 2]); 2] = [
    ("pixels", [[2, 8], [1, 19]]),
    ("latents", [[6, 4], [5, 15]]),
];

fn ms(v: MeanStd, digits: usize) -> String {
    format!("{:.*} ± {:.*}", digits, v.mean, digits, v.std)
}

fn paper_ms(v: (f64, f64), digits: usize) -> String {
    format!("{:.*} ± {:.*}", digits, v.0, digits, v.1)
}

/// Table 1 rows for `model` (ours and the paper's), and for models whose reconstruction copies
/// input pixels (the MAE) the row of the reconstruction that copies nothing, with a note.
pub fn table1(model: &str, ours: &Summary, no_copy: Option<&Summary>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Table 1 — reconstruction of the {} test ROIs (mean ± sd)",
        ours.n
    );
    let _ = writeln!(
        s,
        "{:<14} {:>20} {:>20} {:>20} {:>18}",
        "", "MSE", "MAE", "SSIM", "PSNR (dB)"
    );
    let _ = writeln!(
        s,
        "{:<14} {:>20} {:>20} {:>20} {:>18}",
        format!("{model} (vqtex)"),
        ms(ours.mse, 4),
        ms(ours.mae, 4),
        ms(ours.ssim, 4),
        ms(ours.psnr, 2)
    );
    if let Some((_, p)) = PAPER_TABLE1.iter().find(|(m, _)| *m == model) {
        let _ = writeln!(
            s,
            "{:<14} {:>20} {:>20} {:>20} {:>18}",
            format!("{model} (paper)"),
            paper_ms(p[0], 4),
            paper_ms(p[1], 4),
            paper_ms(p[2], 4),
            paper_ms(p[3], 2)
        );
    }
    if let Some(nc) = no_copy {
        let _ = writeln!(
            s,
            "{:<14} {:>20} {:>20} {:>20} {:>18}",
            format!("{model} (no copy)"),
            ms(nc.mse, 4),
            ms(nc.mae, 4),
            ms(nc.ssim, 4),
            ms(nc.psnr, 2)
        );
        let _ = writeln!(
            s,
            "The {model} rows above it are the paper's way: the 70% visible patches are the input's own \
             pixels, copied, and only the masked 30% are predicted, so they are not comparable with \
             the other models. `no copy` predicts every patch from context (4 disjoint masks), as \
             the other models reconstruct every pixel from their latent."
        );
    }
    s
}

fn scores_line(name: &str, s: &Scores) -> String {
    format!(
        "{:<20} {:>16} {:>9.3} {:>11.3} {:>11.3} {:>7.3}",
        name,
        format!("{:?}", s.confusion),
        s.accuracy,
        s.sensitivity,
        s.specificity,
        s.f1
    )
}

/// Table 2 (ours for one protocol, and the paper's).
pub fn table2(c: &Classification) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Table 2 — SVM on pixels vs latent vectors, protocol '{}' ({} ROIs classified)",
        c.protocol.as_str(),
        c.n
    );
    let _ = writeln!(
        s,
        "{:<20} {:>16} {:>9} {:>11} {:>11} {:>7}",
        "", "confusion", "accuracy", "sensitivity", "specificity", "F1"
    );
    let _ = writeln!(s, "{}", scores_line("pixels (vqtex)", &c.pixels));
    let _ = writeln!(s, "{}", scores_line("latents (vqtex)", &c.latents));
    for (name, m) in PAPER_TABLE2 {
        let _ = writeln!(
            s,
            "{}",
            scores_line(&format!("{name} (paper)"), &Scores::from_confusion(m))
        );
    }
    let _ = writeln!(
        s,
        "rows = true healthy/steatosis, columns = predicted; steatosis is positive. A few test \
         patients make a small, noisy test set: compare protocols, not single numbers."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::RoiMetrics;

    fn summary(err: f32) -> Summary {
        let x: Vec<f32> = (0..784).map(|i| (i % 7) as f32 / 7.0).collect();
        let y: Vec<f32> = x.iter().map(|v| (v + err).min(1.0)).collect();
        Summary::of(&[RoiMetrics::of(&x, &y), RoiMetrics::of(&y, &x)])
    }

    #[test]
    fn table1_adds_the_no_copy_row_and_says_why_only_when_given_one() {
        let plain = table1("cae", &summary(0.1), None);
        assert!(plain.contains("cae (vqtex)") && plain.contains("cae (paper)"));
        assert!(!plain.contains("no copy") && !plain.contains("not comparable"));
        let mae = table1("mae", &summary(0.05), Some(&summary(0.2)));
        let row = mae
            .lines()
            .find(|l| l.starts_with("mae (no copy)"))
            .expect("a no-copy row");
        assert!(
            row.contains(&format!("{:.4}", summary(0.2).mse.mean)),
            "{row}"
        );
        assert!(mae.contains("mae (paper)"));
        assert!(mae.contains("not comparable"), "{mae}");
    }
}

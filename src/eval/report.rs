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

/// Table 1 rows for `model` (ours and the paper's).
pub fn table1(model: &str, ours: &Summary) -> String {
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

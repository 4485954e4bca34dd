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

/// One row of the all-models Table 1.
pub struct Table1Row<'a> {
    /// Model name (`vqvae`, `cae`, ...).
    pub model: &'a str,
    /// How the reconstruction was made, when a model has several (`no copy`).
    pub variant: Option<&'a str>,
    pub summary: &'a Summary,
}

fn md_row(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

fn row_label(r: &Table1Row<'_>) -> String {
    match r.variant {
        Some(v) => format!("{} ({v})", r.model),
        None => r.model.to_string(),
    }
}

/// Table 1 for several models as Markdown: ours beside the paper's.
pub fn table1_models(rows: &[Table1Row<'_>]) -> String {
    let mut s = String::new();
    let n = rows.first().map(|r| r.summary.n).unwrap_or(0);
    let _ = writeln!(
        s,
        "Table 1 — reconstruction of the {n} test ROIs (mean ± sd over ROIs)\n"
    );
    s.push_str("| model | source | MSE | MAE | SSIM | PSNR (dB) |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        let m = r.summary;
        s.push_str(&md_row(&[
            row_label(r),
            "vqtex".into(),
            ms(m.mse, 4),
            ms(m.mae, 4),
            ms(m.ssim, 4),
            ms(m.psnr, 2),
        ]));
        if r.variant.is_none() {
            if let Some((_, p)) = PAPER_TABLE1.iter().find(|(name, _)| *name == r.model) {
                s.push_str(&md_row(&[
                    r.model.to_string(),
                    "paper".into(),
                    paper_ms(p[0], 4),
                    paper_ms(p[1], 4),
                    paper_ms(p[2], 4),
                    paper_ms(p[3], 2),
                ]));
            }
        }
    }
    if rows.iter().any(|r| r.model == "mae") {
        s.push_str(
            "\nThe MAE's own reconstruction (the paper's way) shows its visible patches as they were: \
             70% of every output is the input copied, so its numbers are not comparable with the \
             other models, whose output comes entirely from a 32-d code. The `no copy` row predicts \
             every patch from context (each patch masked once, over disjoint masks).\n",
        );
    }
    s
}

fn p_cell(t: &Option<super::stats::TestResult>) -> String {
    match t {
        Some(t) if t.p < 1e-4 => format!("{:.1e}", t.p),
        Some(t) => format!("{:.4}", t.p),
        None => "–".into(),
    }
}

/// The paired tests of Table 1 as Markdown: p-values of the reference against each model.
pub fn tests_table(comparisons: &[super::compare::Comparison]) -> String {
    let mut s = String::new();
    let Some(first) = comparisons.first() else {
        return s;
    };
    let _ = writeln!(
        s,
        "Paired tests of {} against each model (two-sided p; Wilcoxon signed-rank and paired t, \
         over the {} test ROIs and over the {} test patients' means)\n",
        first.reference, first.rois, first.patients
    );
    s.push_str(
        "| model | metric | Wilcoxon p (ROIs) | t p (ROIs) | Wilcoxon p (patients) | t p (patients) |\n",
    );
    s.push_str("|---|---|---|---|---|---|\n");
    for c in comparisons {
        for t in &c.tests {
            s.push_str(&md_row(&[
                c.other.clone(),
                t.metric.to_uppercase(),
                p_cell(&t.roi_wilcoxon),
                p_cell(&t.roi_t),
                p_cell(&t.patient_wilcoxon),
                p_cell(&t.patient_t),
            ]));
        }
    }
    s.push_str(
        "\nThe ROIs of one patient are not independent: the per-patient tests are the ones to \
         trust; with few test patients they cannot reach small p-values.\n",
    );
    s
}

fn scores_cells(features: String, source: &str, s: &Scores) -> Vec<String> {
    let ci = match s.accuracy_ci95 {
        Some([lo, hi]) => format!("{:.3} [{lo:.3}, {hi:.3}]", s.accuracy),
        None => format!("{:.3}", s.accuracy),
    };
    vec![
        features,
        source.into(),
        format!("{:?}", s.confusion),
        ci,
        format!("{:.3}", s.sensitivity),
        format!("{:.3}", s.specificity),
        format!("{:.3}", s.f1),
    ]
}

/// Table 2 for several models and one protocol as Markdown: the SVM on pixels, on each model's
/// latent vectors, and the paper's two rows.
pub fn table2_models(
    protocol: super::Protocol,
    n: usize,
    pixels: &Scores,
    latents: &[(&str, &Scores)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Table 2 — SVM on pixels vs latent vectors, protocol '{}' ({n} ROIs classified; accuracy \
         with a 95% interval from resampling patients)\n",
        protocol.as_str()
    );
    s.push_str(
        "| features | source | confusion | accuracy [95% CI] | sensitivity | specificity | F1 |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|\n");
    s.push_str(&md_row(&scores_cells("pixels".into(), "vqtex", pixels)));
    for (model, sc) in latents {
        s.push_str(&md_row(&scores_cells(
            format!("{model} latents"),
            "vqtex",
            sc,
        )));
    }
    for (name, m) in PAPER_TABLE2 {
        let label = if name == "latents" {
            "vqvae latents".to_string()
        } else {
            name.to_string()
        };
        s.push_str(&md_row(&scores_cells(
            label,
            "paper",
            &Scores::from_confusion(m),
        )));
    }
    s.push_str(
        "\nConfusion rows are the true class (healthy, steatosis), columns the predicted; \
         steatosis is positive. The paper's rows used its own 30-ROI test set. An interval of \
         zero width means every resample of the few test patients gives the same accuracy (the \
         paper protocol tests one or two patients of each class): it shows no uncertainty \
         because there is too little data to show it.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::compare::{Comparison, MetricTests};
    use crate::eval::stats::TestResult;

    fn summary(mse: f64) -> Summary {
        let v = MeanStd {
            mean: mse,
            std: mse / 10.0,
        };
        Summary {
            n: 110,
            mse: v,
            mae: v,
            ssim: v,
            psnr: v,
        }
    }

    #[test]
    fn table1_puts_the_papers_row_under_each_model_and_explains_the_mae() {
        let (a, b, c) = (summary(0.0036), summary(0.002), summary(0.009));
        let t = table1_models(&[
            Table1Row {
                model: "vqvae",
                variant: None,
                summary: &a,
            },
            Table1Row {
                model: "mae",
                variant: None,
                summary: &b,
            },
            Table1Row {
                model: "mae",
                variant: Some("no copy"),
                summary: &c,
            },
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("110 test ROIs"));
        let i = lines
            .iter()
            .position(|l| l.starts_with("| vqvae | vqtex"))
            .unwrap();
        assert!(lines[i].contains("0.0036 ± 0.0004"));
        assert!(lines[i + 1].starts_with("| vqvae | paper | 0.0131 ± 0.0025"));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("| mae (no copy) | vqtex | 0.0090")));
        // No paper row for the no-copy variant: the paper did not measure it.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("| mae | paper"))
                .count(),
            1
        );
        assert!(t.contains("not comparable"));
    }

    #[test]
    fn tests_table_lists_every_metric_and_marks_missing_tests() {
        let r = |p| {
            Some(TestResult {
                n: 110,
                statistic: 1.0,
                p,
            })
        };
        let c = Comparison {
            reference: "vqvae".into(),
            other: "cae".into(),
            rois: 110,
            patients: 11,
            tests: vec![MetricTests {
                metric: "mse".into(),
                roi_wilcoxon: r(3e-9),
                roi_t: r(0.0123),
                patient_wilcoxon: r(0.5),
                patient_t: None,
            }],
        };
        let t = tests_table(&[c]);
        assert!(t.contains("over the 110 test ROIs and over the 11 test patients"));
        assert!(
            t.contains("| cae | MSE | 3.0e-9 | 0.0123 | 0.5000 | – |"),
            "{t}"
        );
        assert_eq!(tests_table(&[]), "");
    }

    #[test]
    fn table2_shows_intervals_and_the_papers_rows() {
        let mut px = Scores::from_confusion([[10, 20], [28, 52]]);
        px.accuracy_ci95 = Some([0.41, 0.7]);
        let z = Scores::from_confusion([[21, 9], [37, 43]]);
        let t = table2_models(super::super::Protocol::Lopo, 110, &px, &[("vqvae", &z)]);
        assert!(t.contains("protocol 'lopo' (110 ROIs"));
        assert!(
            t.contains("| pixels | vqtex | [[10, 20], [28, 52]] | 0.564 [0.410, 0.700] |"),
            "{t}"
        );
        assert!(t.contains("| vqvae latents | vqtex | [[21, 9], [37, 43]] | 0.582 |"));
        assert!(t.contains("| vqvae latents | paper | [[6, 4], [5, 15]] | 0.700 |"));
    }

    fn summary_err(err: f32) -> Summary {
        let x: Vec<f32> = (0..784).map(|i| (i % 7) as f32 / 7.0).collect();
        let y: Vec<f32> = x.iter().map(|v| (v + err).min(1.0)).collect();
        Summary::of(&[
            crate::eval::RoiMetrics::of(&x, &y),
            crate::eval::RoiMetrics::of(&y, &x),
        ])
    }

    #[test]
    fn table1_adds_the_no_copy_row_and_says_why_only_when_given_one() {
        let plain = table1("cae", &summary_err(0.1), None);
        assert!(plain.contains("cae (vqtex)") && plain.contains("cae (paper)"));
        assert!(!plain.contains("no copy") && !plain.contains("not comparable"));
        let mae = table1("mae", &summary_err(0.05), Some(&summary_err(0.2)));
        let row = mae
            .lines()
            .find(|l| l.starts_with("mae (no copy)"))
            .expect("a no-copy row");
        assert!(
            row.contains(&format!("{:.4}", summary_err(0.2).mse.mean)),
            "{row}"
        );
        assert!(mae.contains("mae (paper)"));
        assert!(mae.contains("not comparable"), "{mae}");
    }
}

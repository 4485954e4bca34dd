//! The paper's tables as data ([`Table`]), beside its published numbers: Table 1 (reconstruction),
//! the paired tests, Table 2 (SVMs). Built once from a compared set of runs
//! ([`crate::runs::CompareData`]); the CLI prints them as text or Markdown, the workbench as
//! styled lines.

use super::metrics::{MeanStd, Summary};
use super::table::{Cell, Row, Table, Tone};
use super::{Protocol, Scores};
use crate::model::ModelKind;
use crate::runs::CompareData;

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

fn summary_cells(s: &Summary) -> [String; 4] {
    [ms(s.mse, 4), ms(s.mae, 4), ms(s.ssim, 4), ms(s.psnr, 2)]
}

/// The paper's Table 1 row of a model, if it published one.
pub fn paper_table1(model: ModelKind) -> Option<[(f64, f64); 4]> {
    PAPER_TABLE1
        .iter()
        .find(|(m, _)| *m == model.name())
        .map(|(_, v)| *v)
}

/// One run's line in Table 1.
pub struct Table1Entry<'a> {
    /// The run's name (a run folder's name; `reproduce` names runs by model).
    pub name: &'a str,
    pub model: ModelKind,
    pub summary: &'a Summary,
    /// For models whose reconstruction copies input pixels: the one that copies nothing.
    pub no_copy: Option<&'a Summary>,
    /// The reference of the paired tests (marked `*`).
    pub reference: bool,
}

const MAE_NOTE: &str = "The MAE's own reconstruction (the paper's way) shows its visible patches as they \
    were: 70% of every output is the input copied, so its numbers are not comparable with the other \
    models, whose output comes entirely from a 32-d code. The `no copy` row predicts every patch from \
    context (each patch masked once, over disjoint masks).";

/// Table 1: each run's test metrics (mean ± sd over ROIs), the paper's row for its model under
/// it, and for models that copy input pixels the row that copies nothing.
pub fn table1(entries: &[Table1Entry<'_>]) -> Table {
    let n = entries
        .iter()
        .find(|e| e.reference)
        .or(entries.first())
        .map(|e| e.summary.n)
        .unwrap_or(0);
    let mut t = Table {
        title: format!(
            "Table 1 · reconstruction of the test ROIs (mean ± sd over ROIs; {n} ROIs for the \
             reference)"
        ),
        header: ["run", "source", "MSE", "MAE", "SSIM", "PSNR (dB)"]
            .map(String::from)
            .to_vec(),
        ..Table::default()
    };
    for e in entries {
        let mark = if e.reference && entries.len() > 1 {
            "*"
        } else {
            ""
        };
        let label = if e.name == e.model.name() {
            format!("{mark}{}", e.name)
        } else {
            format!("{mark}{} ({})", e.name, e.model)
        };
        let row = |label: String, source: &str, v: [String; 4]| {
            let [a, b, c, d] = v;
            Row::new(Tone::Ours, [label, source.to_string(), a, b, c, d])
        };
        t.rows.push(row(label, "vqtex", summary_cells(e.summary)));
        if let Some(nc) = e.no_copy {
            t.rows.push(row(
                format!("{} (no copy)", e.model),
                "vqtex",
                summary_cells(nc),
            ));
        }
        if let Some(p) = paper_table1(e.model) {
            let mut r = row(
                e.model.name().to_string(),
                "paper",
                [
                    paper_ms(p[0], 4),
                    paper_ms(p[1], 4),
                    paper_ms(p[2], 4),
                    paper_ms(p[3], 2),
                ],
            );
            r.tone = Tone::Paper;
            t.rows.push(r);
        }
    }
    if entries.iter().any(|e| e.no_copy.is_some()) {
        t.notes.push(MAE_NOTE.into());
    }
    t
}

fn p_cell(t: &Option<super::stats::TestResult>) -> Cell {
    match t {
        Some(t) if t.p < 1e-4 => Cell {
            text: format!("{:.1e}", t.p),
            strong: true,
        },
        Some(t) => Cell {
            text: format!("{:.4}", t.p),
            strong: t.p < 0.05,
        },
        None => Cell::from("–"),
    }
}

/// The paired tests of the reference against each other run: the p-values of Wilcoxon
/// signed-rank and paired t tests per metric, over the test ROIs and over the test patients'
/// means; a run on another split is listed as not paired.
pub fn paired_tests(d: &CompareData) -> Table {
    let reference = d
        .rows
        .get(d.reference)
        .map(|r| r.name.as_str())
        .unwrap_or("");
    let counts = d
        .pairings
        .iter()
        .find_map(|p| p.result.as_ref().ok())
        .map(|c| {
            format!(
                ", over the {} test ROIs and the {} test patients' means",
                c.rois, c.patients
            )
        })
        .unwrap_or_default();
    let mut t = Table {
        title: format!(
            "Paired tests of {reference} against each other run · two-sided p (Wilcoxon \
             signed-rank and paired t{counts})"
        ),
        header: [
            "run",
            "metric",
            "Wilcoxon p (ROIs)",
            "t p (ROIs)",
            "Wilcoxon p (patients)",
            "t p (patients)",
        ]
        .map(String::from)
        .to_vec(),
        ..Table::default()
    };
    for p in &d.pairings {
        let name = d.rows.get(p.other).map(|r| r.name.as_str()).unwrap_or("");
        match &p.result {
            Err(e) => {
                let why = if e.contains("different test ROIs") {
                    "not paired: another split (other test ROIs)".to_string()
                } else {
                    format!("not paired: {e}")
                };
                t.rows
                    .push(Row::message(Tone::Warn, [name.to_string(), why]));
            }
            Ok(c) => {
                for m in &c.tests {
                    let mut cells: Vec<Cell> = vec![name.into(), m.metric.to_uppercase().into()];
                    cells.extend(
                        [&m.roi_wilcoxon, &m.roi_t, &m.patient_wilcoxon, &m.patient_t].map(p_cell),
                    );
                    t.rows.push(Row {
                        cells,
                        tone: Tone::Ours,
                        spans: false,
                    });
                }
            }
        }
    }
    t.notes.push(
        "The ROIs of one patient are not independent: the per-patient tests are the ones to \
         trust; with few test patients they cannot reach small p-values."
            .into(),
    );
    t
}

/// Accuracy with its 95% interval, as the tables print it.
pub fn accuracy_cell(s: &Scores) -> String {
    match s.accuracy_ci95 {
        Some([lo, hi]) => format!("{:.3} [{lo:.3}, {hi:.3}]", s.accuracy),
        None => format!("{:.3}", s.accuracy),
    }
}

fn scores_row(tone: Tone, features: String, source: &str, s: &Scores) -> Row {
    Row::new(
        tone,
        [
            features,
            source.into(),
            format!("{:?}", s.confusion),
            accuracy_cell(s),
            format!("{:.3}", s.sensitivity),
            format!("{:.3}", s.specificity),
            format!("{:.3}", s.f1),
        ],
    )
}

/// Table 2 under one protocol from rows of (features, tone, scores), with the paper's two rows
/// under its own protocol.
pub fn table2_rows(protocol: Protocol, n: usize, rows: &[(String, Tone, &Scores)]) -> Table {
    let mut t = Table {
        title: format!(
            "Table 2 · SVM on pixels vs latents, protocol '{}' ({n} ROIs classified; accuracy \
             with a 95% interval from resampling patients)",
            protocol.as_str()
        ),
        header: [
            "features",
            "source",
            "confusion",
            "accuracy [95% CI]",
            "sensitivity",
            "specificity",
            "F1",
        ]
        .map(String::from)
        .to_vec(),
        ..Table::default()
    };
    for (features, tone, s) in rows {
        t.rows.push(scores_row(*tone, features.clone(), "vqtex", s));
    }
    if protocol == Protocol::Paper {
        for (name, m) in PAPER_TABLE2 {
            let label = if name == "latents" {
                "vqvae latents"
            } else {
                name
            };
            t.rows.push(scores_row(
                Tone::Paper,
                label.into(),
                "paper",
                &Scores::from_confusion(m),
            ));
        }
    }
    t.notes.push(
        "Confusion rows are the true class (healthy, steatosis), columns the predicted; \
         steatosis is positive. An interval of zero width means every resample of the few test \
         patients gives the same accuracy: too little data to show any uncertainty."
            .into(),
    );
    if protocol == Protocol::Paper {
        t.notes
            .push("The paper's rows used its own 30-ROI test set.".into());
    }
    t
}

/// Table 2 of a compared set under one protocol: the SVM on the reference's pixels, on each
/// run's latent vectors, and on the pixels of runs trained on another split.
pub fn table2(d: &CompareData, protocol: Protocol) -> Table {
    let Some(r) = d.rows.get(d.reference) else {
        return table2_rows(protocol, 0, &[]);
    };
    let c = r.classification(protocol);
    let mut rows = vec![("pixels".to_string(), Tone::Ours, &c.pixels)];
    for (i, row) in d.rows.iter().enumerate() {
        let rc = row.classification(protocol);
        if !d.same_split(i) {
            rows.push((
                format!("pixels ({} split)", row.name),
                Tone::Warn,
                &rc.pixels,
            ));
        }
        rows.push((format!("{} latents", row.name), Tone::Ours, &rc.latents));
    }
    table2_rows(protocol, c.n, &rows)
}

/// Every table of a compared set, in order: Table 1, the paired tests (with two runs or more),
/// Table 2 under the paper's protocol and under leave-one-patient-out.
pub fn tables(d: &CompareData) -> Vec<Table> {
    let entries: Vec<Table1Entry<'_>> = d
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| Table1Entry {
            name: &r.name,
            model: r.model,
            summary: &r.summary,
            no_copy: r.no_copy.as_ref(),
            reference: i == d.reference,
        })
        .collect();
    let mut out = vec![table1(&entries)];
    if d.rows.len() > 1 {
        out.push(paired_tests(d));
    }
    out.push(table2(d, Protocol::Paper));
    out.push(table2(d, Protocol::Lopo));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::compare::{Comparison, MetricTests};
    use crate::eval::stats::TestResult;
    use crate::eval::Classification;
    use crate::runs::{CompareRun, Pairing};

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

    fn class(
        protocol: Protocol,
        n: usize,
        px: [[usize; 2]; 2],
        lat: [[usize; 2]; 2],
    ) -> Classification {
        let mut pixels = Scores::from_confusion(px);
        pixels.accuracy_ci95 = Some([0.41, 0.7]);
        Classification {
            protocol,
            n,
            pixels,
            latents: Scores::from_confusion(lat),
        }
    }

    fn run(name: &str, model: ModelKind, mse: f64, no_copy: Option<f64>) -> CompareRun {
        CompareRun {
            path: name.into(),
            name: name.into(),
            model,
            epoch: 3,
            summary: summary(mse),
            no_copy: no_copy.map(summary),
            paper: class(Protocol::Paper, 30, [[5, 5], [5, 15]], [[6, 4], [4, 16]]),
            lopo: class(
                Protocol::Lopo,
                110,
                [[10, 20], [28, 52]],
                [[21, 9], [37, 43]],
            ),
        }
    }

    fn data() -> CompareData {
        let r = |p| {
            Some(TestResult {
                n: 110,
                statistic: 1.0,
                p,
            })
        };
        CompareData {
            runs: Vec::new(),
            rows: vec![
                run("vqvae", ModelKind::Vqvae, 0.0036, None),
                run("mae-2", ModelKind::Mae, 0.002, Some(0.009)),
                run("cae", ModelKind::Cae, 0.01, None),
            ],
            reference: 0,
            pairings: vec![
                Pairing {
                    other: 1,
                    result: Err("the runs have different test ROIs".into()),
                },
                Pairing {
                    other: 2,
                    result: Ok(Comparison {
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
                    }),
                },
            ],
        }
    }

    #[test]
    fn table1_puts_the_papers_row_under_each_model_and_explains_the_mae() {
        let t = tables(&data())[0].markdown();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("110 ROIs for the reference"), "{t}");
        let i = lines
            .iter()
            .position(|l| l.starts_with("| *vqvae | vqtex"))
            .unwrap();
        assert!(lines[i].contains("0.0036 ± 0.0004"));
        assert!(lines[i + 1].starts_with("| vqvae | paper | 0.0131 ± 0.0025"));
        // A run named other than its model says its model.
        assert!(t.contains("| mae-2 (mae) | vqtex | 0.0020"), "{t}");
        assert!(t.contains("| mae (no copy) | vqtex | 0.0090"), "{t}");
        // No paper row for the no-copy variant: the paper did not measure it.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("| mae | paper"))
                .count(),
            1
        );
        assert!(t.contains("not comparable"));
        // Without an MAE there is no note about it.
        let one = table1(&[Table1Entry {
            name: "cae",
            model: ModelKind::Cae,
            summary: &summary(0.01),
            no_copy: None,
            reference: true,
        }]);
        assert!(one.notes.is_empty());
        assert!(one.text().contains("cae  "), "{}", one.text());
    }

    #[test]
    fn paired_tests_list_every_metric_and_say_what_was_not_paired() {
        let t = paired_tests(&data());
        let md = t.markdown();
        assert!(md.starts_with("Paired tests of vqvae against each other run"));
        assert!(
            md.contains("over the 110 test ROIs and the 11 test patients"),
            "{md}"
        );
        assert!(
            md.contains("| cae | MSE | 3.0e-9 | 0.0123 | 0.5000 | – |"),
            "{md}"
        );
        assert!(md.contains("| mae-2 | not paired: another split"), "{md}");
        // Small p-values are marked to notice, the rest not.
        let row = t.rows.iter().find(|r| r.cells[0].text == "cae").unwrap();
        let strong: Vec<bool> = row.cells.iter().map(|c| c.strong).collect();
        assert_eq!(strong, [false, false, true, true, false, false]);
        // The not-paired message does not widen the metric column.
        assert_eq!(t.widths()[1], "metric".len());
    }

    #[test]
    fn table2_shows_intervals_other_splits_and_the_papers_rows_under_its_protocol() {
        let all = tables(&data());
        assert_eq!(all.len(), 4);
        let paper = all[2].markdown();
        let lopo = all[3].markdown();
        assert!(lopo.contains("protocol 'lopo' (110 ROIs"), "{lopo}");
        assert!(
            lopo.contains("| pixels | vqtex | [[10, 20], [28, 52]] | 0.564 [0.410, 0.700] |"),
            "{lopo}"
        );
        assert!(lopo.contains("| vqvae latents | vqtex | [[21, 9], [37, 43]] | 0.582 |"));
        // mae-2 was trained on another split: its own pixel row, marked.
        assert!(lopo.contains("| pixels (mae-2 split) |"), "{lopo}");
        assert_eq!(
            all[3].rows.iter().filter(|r| r.tone == Tone::Warn).count(),
            1
        );
        assert!(
            !lopo.contains("| paper |"),
            "the paper reported its own protocol only"
        );
        assert!(paper.contains("protocol 'paper' (30 ROIs"));
        assert!(paper.contains("| vqvae latents | paper | [[6, 4], [5, 15]] | 0.700 |"));
        // One run: no paired tests.
        let mut one = data();
        one.rows.truncate(1);
        one.pairings.clear();
        assert_eq!(tables(&one).len(), 3);
    }
}

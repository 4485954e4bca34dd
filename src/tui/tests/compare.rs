//! The Compare pane with fixed results: Table 1 beside the paper, p-values, the message for a run
//! on another split, Table 2, marks and the job's request, at several sizes.

use std::path::PathBuf;

use super::{ctx, render, text};
use crate::eval::compare::{Comparison, MetricTests};
use crate::eval::metrics::MeanStd;
use crate::eval::stats::TestResult;
use crate::eval::{Classification, Protocol, Scores, Summary};
use crate::tui::jobs::{Request, RunSummary};
use crate::tui::keymap::Action;
use crate::tui::multirun::{CompareData, CompareRun, Pairing};
use crate::tui::panes::compare::{key_of, ComparePane};
use crate::tui::panes::runs::RunsPane;
use crate::tui::panes::Effect;

fn summary(mse: f64) -> Summary {
    let v = |m: f64, s: f64| MeanStd { mean: m, std: s };
    Summary {
        n: 110,
        mse: v(mse, 0.0025),
        mae: v(0.0909, 0.0093),
        ssim: v(0.6764, 0.0496),
        psnr: v(18.92, 0.85),
    }
}

fn classification(protocol: Protocol, n: usize) -> Classification {
    let mut pixels = Scores::from_confusion([[2, 8], [1, 19]]);
    pixels.accuracy_ci95 = Some([0.55, 0.85]);
    Classification {
        protocol,
        n,
        pixels,
        latents: Scores::from_confusion([[7, 3], [2, 18]]),
    }
}

fn row(name: &str, model: &str, mse: f64) -> CompareRun {
    CompareRun {
        path: PathBuf::from(format!("/runs/{name}")),
        name: name.into(),
        model: model.parse().unwrap(),
        epoch: 2,
        summary: summary(mse),
        no_copy: None,
        paper: classification(Protocol::Paper, 30),
        lopo: classification(Protocol::Lopo, 110),
    }
}

fn test(p: f64) -> Option<TestResult> {
    Some(TestResult {
        n: 110,
        statistic: 1.0,
        p,
    })
}

fn data() -> CompareData {
    let tests = ["mse", "mae", "ssim", "psnr"]
        .into_iter()
        .map(|m| MetricTests {
            metric: m.into(),
            roi_wilcoxon: test(3.2e-7),
            roi_t: test(0.0123),
            patient_wilcoxon: test(0.125),
            patient_t: None,
        })
        .collect();
    CompareData {
        runs: vec![
            "/runs/vqvae-1".into(),
            "/runs/cae-1".into(),
            "/runs/vae-1".into(),
        ],
        rows: vec![
            row("vqvae-1", "vqvae", 0.0141),
            row("cae-1", "cae", 0.0222),
            row("vae-1", "vae", 0.0333),
        ],
        reference: 0,
        pairings: vec![
            Pairing {
                other: 1,
                result: Ok(Comparison {
                    reference: "vqvae-1".into(),
                    other: "cae-1".into(),
                    rois: 110,
                    patients: 11,
                    tests,
                }),
            },
            Pairing {
                other: 2,
                result: Err("vqvae-1 and vae-1 were evaluated on different test ROIs".into()),
            },
        ],
    }
}

fn runs_pane() -> RunsPane {
    let run = |name: &str, model: &str| RunSummary {
        path: PathBuf::from(format!("/runs/{name}")),
        name: name.into(),
        model: model.parse().unwrap(),
        status: crate::train::RunStatus::Finished,
        epoch: 2,
        epochs: 2,
        train_loss: None,
        test_loss: None,
        test_mse: None,
        created: "2026-01-02T03:04:00Z".into(),
    };
    let mut runs = RunsPane::default();
    runs.set_runs(vec![
        run("vqvae-1", "vqvae"),
        run("cae-1", "cae"),
        run("vae-1", "vae"),
    ]);
    runs
}

/// Marks every run, in order, through the pane's keys.
fn marked() -> (ComparePane, RunsPane) {
    let (mut pane, mut runs) = (ComparePane::default(), runs_pane());
    for _ in 0..3 {
        assert_eq!(pane.on_action(Action::Pause, &mut runs), Effect::Redraw);
        pane.on_action(Action::Down, &mut runs);
    }
    (pane, runs)
}

#[test]
fn marking_runs_and_r_ask_for_one_evaluation_and_show_progress() {
    let (mut pane, mut runs) = marked();
    assert_eq!(runs.marked.len(), 3);
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    assert!(t.contains("[1] vqvae-1") && t.contains("[3] vae-1"), "{t}");
    assert!(t.contains("r: compare the 3 marked runs"), "{t}");
    let want = Request::Compare {
        runs: data().runs.clone(),
    };
    assert_eq!(
        pane.on_action(Action::Run, &mut runs),
        Effect::Request(want)
    );
    assert_eq!(
        pane.on_action(Action::Select, &mut runs),
        Effect::Redraw,
        "one job at a time"
    );
    pane.on_progress(&data().runs, "cae-1 (2/3): SVMs".into());
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    assert!(t.contains("Evaluating… cae-1 (2/3): SVMs"), "{t}");
    pane.on_result(data().runs, Ok(data()));
    assert!(pane.busy.is_none());
    assert!(pane.cache.contains_key(&key_of(&runs)));
    // Unmarking one and marking it again: the same set, shown from the cache.
    runs.selected = 2;
    pane.on_action(Action::Pause, &mut runs);
    assert_eq!(runs.marked.len(), 2);
    pane.on_action(Action::Pause, &mut runs);
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    assert!(t.contains("Table 1"), "{t}");
}

#[test]
fn the_report_shows_table1_p_values_the_split_message_and_table2() {
    let (mut pane, runs) = marked();
    pane.cache.insert(key_of(&runs), data());
    let big = text(&render(200, 60, |a, b| pane.draw(a, b, &ctx(), &runs)));
    for needle in [
        "*vqvae-1 (vqvae)",
        "0.0141 ± 0.0025",
        // The paper's rows beside each model.
        "0.0131 ± 0.0025",
        "0.0208 ± 0.0047",
        "0.0324 ± 0.0048",
        "18.92 ± 0.85",
        "Paired tests of vqvae-1 against each other run",
        "over the 110 test ROIs and the 11 test patients",
        "3.2e-7",
        "0.0123",
        "0.1250",
        "vae-1",
        "not paired: another split (other test ROIs)",
        "Table 2",
        "protocol 'paper' (30 ROIs",
        "0.700 [0.550, 0.850]",
        "cae-1 latents",
        "vqvae latents",
    ] {
        assert!(big.contains(needle), "200x60 lacks {needle}:\n{big}");
    }
    // The per-ROI Wilcoxon column on the MSE line of cae-1.
    let mse_line = big
        .lines()
        .find(|l| l.contains(" MSE ") && l.contains("e-7"))
        .unwrap();
    assert!(
        mse_line.contains("3.2e-7") && mse_line.contains("–"),
        "{mse_line}"
    );
    // A run on another split gets its own pixel row in Table 2.
    assert!(big.contains("pixels (vae-1 split)"), "{big}");

    let mid = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    for needle in ["Table 1", "0.0141 ± 0.0025", "3.2e-7", "another split"] {
        assert!(mid.contains(needle), "100x30 lacks {needle}:\n{mid}");
    }
    // Scrolling down brings Table 2 into a small view.
    pane.on_action(Action::PageDown, &mut runs_pane());
    pane.on_action(Action::PageDown, &mut runs_pane());
    let scrolled = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    assert!(scrolled.contains("Table 2"), "{scrolled}");
    for (w, h) in [(20, 5), (1, 1), (60, 12), (80, 24)] {
        render(w, h, |a, b| pane.draw(a, b, &ctx(), &runs));
    }
}

#[test]
fn a_failed_evaluation_is_shown_and_nothing_marked_explains_itself() {
    let (mut pane, mut runs) = (ComparePane::default(), runs_pane());
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    assert!(t.contains("Mark runs with space"), "{t}");
    assert!(matches!(
        pane.on_action(Action::Run, &mut runs),
        Effect::Say(_)
    ));
    pane.on_action(Action::Pause, &mut runs);
    let Effect::Request(Request::Compare { runs: asked }) = pane.on_action(Action::Run, &mut runs)
    else {
        panic!("r asks for the marked run");
    };
    pane.on_result(asked, Err("no checkpoint in /runs/vqvae-1".into()));
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &ctx(), &runs)));
    assert!(t.contains("Cannot compare: no checkpoint"), "{t}");
}

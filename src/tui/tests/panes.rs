//! Every pane drawn with fixed data.

use std::path::PathBuf;

use ratatui::layout::Rect;
use ratatui::style::Color;

use super::{ctx, dataset, find, render, text};
use crate::data::Label;
use crate::eval::{Classification, Protocol, RoiMetrics, Scores, Summary};
use crate::train::{EpochRecord, Event, RunStatus};
use crate::tui::jobs::{CodebookData, ReconData, ReconRoi, RunSummary, Thumbs, TraversalData};
use crate::tui::keymap::Action;
use crate::tui::panes::classify::ClassifyPane;
use crate::tui::panes::data::DataPane;
use crate::tui::panes::latent::LatentPane;
use crate::tui::panes::recon::ReconPane;
use crate::tui::panes::runs::RunsPane;
use crate::tui::panes::train::{Form, Status, TrainPane};
use crate::tui::panes::{ConfirmKind, Effect, PromptKind};
use crate::tui::widgets::heatmap::Heatmap;

/// A truecolor grey as drawn (images quantise their levels: see `widgets::image::quantise_gray`).
fn gray(v: u8) -> Color {
    Color::Rgb(v, v, v)
}

fn unit(v: f32) -> Vec<f32> {
    (0..784)
        .map(|i| if i < 392 { v } else { 1.0 - v })
        .collect()
}

#[test]
fn data_pane_lists_patients_and_zooms_the_roi() {
    let (ds, split) = dataset();
    let mut pane = DataPane::default();
    pane.set_dataset("fixture".into(), ds, Some(split));
    let c = ctx();
    let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    assert!(t.contains("Patients 4/4 · 12 ROIs"), "{t}");
    assert!(t.contains("healthy   test"), "{t}");
    assert!(t.contains("steatosis"), "{t}");
    assert!(t.contains("mean 113.5"), "{t}");
    assert!(t.contains("HI 1.250"), "{t}");
    // Zoomed ROI (zoom 1): the first cell holds rows 0 and 1 (levels 100 and 101, both drawn as
    // 101: truecolor greys are quantised to 64 levels).
    let (x, y) = find(&buf, "p1_f0.png · healthy").unwrap();
    let cell = &buf[(x, y + 1)];
    assert_eq!(cell.symbol(), "▀");
    assert_eq!((cell.fg, cell.bg), (gray(101), gray(101)));
    // Thumbnails at half size: rows 0 and 2 of the second ROI (base 110): levels 100 and 102.
    let (x, y) = find(&buf, "ROIs (3)").unwrap();
    let cell = &buf[(x, y + 1)];
    assert_eq!((cell.fg, cell.bg), (gray(101), gray(101)));

    // Filters and jumping.
    assert_eq!(pane.on_action(Action::ClassFilter), Effect::Redraw);
    assert_eq!(pane.visible().len(), 2);
    pane.on_action(Action::SplitFilter);
    assert_eq!(pane.visible().len(), 1);
    assert!(pane.jump("3"));
    assert_eq!(pane.visible()[pane.selected].id.0, "3");
    assert!(!pane.jump("99"));
    pane.on_action(Action::Right);
    assert_eq!(pane.roi, 1);
    assert!(matches!(
        pane.on_action(Action::Jump),
        Effect::Prompt(PromptKind::JumpPatient, _)
    ));
}

fn record(epoch: usize, loss: f64) -> EpochRecord {
    let terms = |v: f64| serde_json::json!({"total": v, "recon": v * 0.8, "codebook": v * 0.1, "commit": v * 0.1});
    // Through serde, so optional fields the engine adds later keep their defaults.
    serde_json::from_value(serde_json::json!({
        "epoch": epoch, "epochs": 4,
        "train": terms(loss), "test": terms(loss * 1.1),
        "codes_used": 40 + epoch, "perplexity": 20.5,
        "lr": 2e-4, "seconds": 2.0, "rois_per_sec": 220.0
    }))
    .unwrap()
}

#[test]
fn train_pane_follows_events_and_shows_curves() {
    let mut pane = TrainPane::default();
    pane.on_event(&Event::Started {
        run: PathBuf::from("/runs/vqvae-x"),
        start_epoch: 0,
        epochs: 4,
        steps_per_epoch: 7,
        device: "cpu (2 threads)".into(),
        params: 1000,
    });
    for e in 1..=3 {
        for s in 1..=7 {
            let terms = [("total".to_string(), 0.1 / (e * s) as f64)].into();
            pane.on_event(&Event::Step {
                epoch: e,
                step: s,
                steps: 7,
                terms,
            });
        }
        pane.on_event(&Event::Epoch(record(e, 0.05 / e as f64)));
    }
    pane.thumbs = Some(Thumbs {
        run: "/runs/vqvae-x".into(),
        epoch: 3,
        labels: vec![Label::Healthy],
        originals: vec![super::roi("1", 0, Label::Healthy, 60).pixels],
        recons: vec![unit(0.2)],
    });
    assert_eq!(pane.status, Status::Running);
    let (frac, rate, eta) = pane.progress();
    assert!((frac - 1.0).abs() < 1e-9 || frac >= 0.75, "{frac}");
    assert_eq!(rate, Some(220.0));
    assert!(eta.unwrap() > 0.0);
    let c = ctx();
    let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    for needle in [
        "Progress · training · vqvae-x",
        "220 ROIs/s",
        "ETA",
        "codebook size",
        "Loss: total · log · raw",
        "Codebook: 43 used · ppl 20.5",
        "Reconstructions · epoch 3",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    let (x, y) = find(&buf, "Reconstructions · epoch 3").unwrap();
    let orig = &buf[(x, y + 1)];
    // Levels 60 and 62, quantised (64 levels) to 61; the reconstruction's 51 to 53.
    assert_eq!((orig.symbol(), orig.fg, orig.bg), ("▀", gray(61), gray(61)));
    let rec = &buf[(x + 15, y + 1)];
    assert_eq!((rec.fg, rec.bg), (gray(53), gray(53)));

    // Toggles and the form.
    pane.on_action(Action::LogScale);
    pane.on_action(Action::Smooth);
    pane.on_action(Action::SmoothMore);
    pane.on_action(Action::NextTerm);
    let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
    assert!(text(&buf).contains("Loss: recon · linear · EMA 0.7"));
    assert_eq!(
        pane.on_action(Action::Stop),
        Effect::Confirm(ConfirmKind::StopTraining)
    );
    pane.on_event(&Event::Finished {
        epochs: 3,
        stopped: true,
        seconds: 6.0,
    });
    assert!(!pane.is_training());
    pane.on_action(Action::Down);
    assert!(matches!(
        pane.on_action(Action::Select),
        Effect::Prompt(PromptKind::Field(1), _)
    ));
}

#[test]
fn form_checks_fields_and_builds_configs() {
    let mut f = Form::default();
    let at = |f: &Form, key: &str| f.fields.iter().position(|x| x.key == key).unwrap();
    assert!(f.check(at(&f, "epochs"), "2").is_ok());
    assert!(f
        .check(at(&f, "epochs"), "0")
        .unwrap_err()
        .contains("epochs"));
    assert!(f.check(at(&f, "lr"), "-1").unwrap_err().contains("lr"));
    assert!(f
        .check(at(&f, "device"), "tpu")
        .unwrap_err()
        .contains("device"));
    assert!(f
        .check(at(&f, "restart_dead"), "maybe")
        .unwrap_err()
        .contains("true or false"));
    f.set(at(&f, "epochs"), "2").unwrap();
    f.set(at(&f, "codebook_size"), "16").unwrap();
    let (model, train, dev) = f.configs().unwrap();
    assert_eq!(train.epochs, 2);
    assert_eq!(train.checkpoint_every, 1);
    assert_eq!(dev.to_string(), "cpu");
    let crate::model::ModelConfig::Vqvae(m) = model else {
        panic!("the form builds a VQ-VAE");
    };
    assert_eq!(m.codebook_size, 16);
}

/// Every model can be chosen with left/right: the form shows its paper defaults (its learning
/// rate, its own fields and no other model's) and builds its config; the shared settings stay.
#[test]
fn form_offers_every_model_with_its_paper_defaults() {
    use crate::model::ModelConfig;
    let c = ctx();
    let mut pane = TrainPane::default();
    assert_eq!(pane.form.model(), ModelConfig::NAMES[0]);
    pane.form.set(1, "3").unwrap();
    pane.form.selected = 0;
    for (k, name) in ModelConfig::NAMES.iter().enumerate() {
        if k > 0 {
            assert_eq!(pane.on_action(Action::Right), Effect::Redraw);
        }
        let paper = ModelConfig::from_name(name).unwrap();
        assert_eq!(pane.form.model(), *name);
        assert_eq!(pane.form.value("epochs"), Some("3"), "epochs stay as typed");
        let (model, train, _) = pane.form.configs().unwrap();
        assert_eq!(
            model, paper,
            "{name}: the defaults build the paper's config"
        );
        assert_eq!(train.lr, paper.paper_lr());
        let t = text(&render(100, 40, |a, b| pane.draw(a, b, &c)));
        assert!(t.contains(&format!("◀ {name} ▶")), "{t}");
        assert!(
            t.contains(&format!("{:e}", paper.paper_lr())),
            "{name}: lr\n{t}"
        );
        assert_eq!(
            t.contains("codebook size"),
            *name == "vqvae",
            "{name}:\n{t}"
        );
    }
    assert_eq!(pane.on_action(Action::Right), Effect::Redraw);
    assert_eq!(pane.form.model(), ModelConfig::NAMES[0], "wraps around");
    // In a short terminal the form scrolls to keep the selected field in view.
    for _ in 0..pane.form.len() {
        pane.on_action(Action::Down);
    }
    let last = pane.form.fields.last().unwrap().label();
    let t = text(&render(80, 14, |a, b| pane.draw(a, b, &c)));
    assert!(t.contains(&last), "{last} not in view:\n{t}");
    pane.form.selected = 0;
    pane.on_action(Action::Left);
    assert_eq!(pane.form.model(), *ModelConfig::NAMES.last().unwrap());
    // A model field edited, then the model switched back: defaults again.
    pane.form = Form::for_model("vae", None);
    let beta = pane
        .form
        .fields
        .iter()
        .position(|f| f.key == "beta")
        .unwrap();
    pane.form.set(beta, "0.5").unwrap();
    let Ok((ModelConfig::Vae(v), ..)) = pane.form.configs() else {
        panic!("a VAE form builds a VAE");
    };
    assert_eq!(v.beta, 0.5);
    pane.on_action(Action::Right);
    pane.on_action(Action::Left);
    assert_eq!(pane.form.value("beta"), Some("1.0"));
}

fn recon_data() -> ReconData {
    let m = RoiMetrics {
        mse: 0.0123,
        mae: 0.0876,
        ssim: 0.6543,
        psnr: 19.1,
    };
    let rois = [
        Label::Healthy,
        Label::Healthy,
        Label::Steatosis,
        Label::Steatosis,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, label)| ReconRoi {
        file: format!("p9_f{i}.png"),
        label,
        pixels: super::roi("9", i, label, 30).pixels,
        recon: unit(0.5),
        metrics: m,
        codes: Some((0..49).map(|c| c + 10 * i as u32).collect()),
    })
    .collect();
    ReconData {
        run: "/runs/r".into(),
        model: crate::model::ModelKind::Vqvae,
        epoch: 7,
        pick: 0,
        rois,
        summary: Summary::of(&[m, m]),
    }
}

#[test]
fn recon_pane_shows_pairs_metrics_codes_and_means() {
    let mut pane = ReconPane {
        run: Some("/runs/r".into()),
        data: Some(recon_data()),
        ..Default::default()
    };
    let c = ctx();
    let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    for needle in [
        "epoch 7",
        "Per-ROI metrics",
        "p9_f3",
        "0.0123",
        "19.10",
        "Test means (n = 2)",
        "0.0131",
        "   0   1   2",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    let (x, y) = find(&buf, "Original | reconstruction").unwrap();
    let orig = &buf[(x, y + 1)];
    // Levels 30 and 32 and the reconstruction's 128, quantised (64 levels): 28, 32 and 130.
    assert_eq!((orig.fg, orig.bg), (gray(28), gray(32)));
    let rec = &buf[(x + 15, y + 1)];
    assert_eq!((rec.fg, rec.bg), (gray(130), gray(130)));
    // Selecting another ROI shows its codes.
    pane.on_action(Action::Right);
    let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
    assert!(text(&buf).contains("  10  11  12"));
    assert_eq!(
        pane.on_action(Action::Pick),
        Effect::Request(crate::tui::jobs::Request::Recon {
            run: "/runs/r".into(),
            pick: 1
        })
    );
    assert!(pane.busy);
    let empty = ReconPane::default();
    let buf = render(80, 20, |a, b| empty.draw(a, b, &c));
    assert!(text(&buf).contains("No run open"));
}

/// Other models' runs on the same split: one row of images per model under the originals, and
/// each model's metrics of the selected ROI.
#[test]
fn recon_pane_shows_every_model_side_by_side() {
    let peer = |model: crate::model::ModelKind, level: f32, mse: f64| crate::tui::jobs::PeerRecon {
        run: format!("/runs/{model}").into(),
        model,
        epoch: 2,
        recons: (0..4).map(|_| unit(level)).collect(),
        metrics: (0..4)
            .map(|i| RoiMetrics {
                mse: mse + i as f64 * 0.001,
                mae: 0.1,
                ssim: 0.5,
                psnr: 17.0,
            })
            .collect(),
    };
    let mut pane = ReconPane {
        run: Some("/runs/r".into()),
        data: Some(recon_data()),
        peers: vec![
            peer(crate::model::ModelKind::Cae, 0.25, 0.0208),
            peer(crate::model::ModelKind::Vae, 0.75, 0.0324),
        ],
        ..Default::default()
    };
    let c = ctx();
    for (w, h) in [(100, 30), (200, 60)] {
        let buf = render(w, h, |a, b| pane.draw(a, b, &c));
        let t = text(&buf);
        for needle in [
            "Models side by side",
            "original",
            "vqvae",
            "cae",
            "vae",
            "0.0208",
            "0.0324",
            "0.0123",
        ] {
            assert!(t.contains(needle), "{w}x{h}: missing {needle}:\n{t}");
        }
        // Rows of images with a blank row between: original, vqvae, cae, vae; the cae row shows
        // its reconstruction.
        let (x, y) = find(&buf, "original").unwrap();
        let name = |dy: u16| {
            (0..3)
                .map(|k| buf[(x + k, y + dy)].symbol())
                .collect::<String>()
        };
        let pitch = (8..50).find(|&p| name(p) == "vqv").expect("the vqvae row");
        assert_eq!(
            (name(2 * pitch), name(3 * pitch)),
            ("cae".into(), "vae".into())
        );
        assert_eq!(buf[(x + 9, y + pitch - 1)].symbol(), " ", "a blank row");
        let (cae, vae) = (&buf[(x + 9, y + 2 * pitch)], &buf[(x + 9, y + 3 * pitch)]);
        assert_eq!(cae.symbol(), "▀");
        assert_ne!(cae.fg, vae.fg);
    }
    // Selecting the next ROI shows its metrics.
    pane.on_action(Action::Right);
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &c)));
    assert!(
        t.contains("Selected ROI p9_f1.png") && t.contains("0.0218"),
        "{t}"
    );
    render(20, 5, |a, b| pane.draw(a, b, &c));
}

#[test]
fn latent_pane_shows_traversal_and_codebook() {
    let mut pane = LatentPane {
        run: Some("/runs/r".into()),
        traversal: Some(TraversalData {
            run: "/runs/r".into(),
            dim: 3,
            dims: 32,
            offsets: vec![-2.0, -1.0, 0.0, 1.0, 2.0],
            images: (0..5).map(|i| unit(i as f32 * 0.25)).collect(),
            more: Vec::new(),
            anchor: None,
        }),
        codebook: Some(CodebookData {
            run: "/runs/r".into(),
            prototypes: (0..8).map(|i| unit(i as f32 / 8.0)).collect(),
            usage: (0..8).map(|i| [i, 2 * i]).collect(),
            stats: Vec::new(),
            patches: Vec::new(),
        }),
        dim: 3,
        ..Default::default()
    };
    let c = ctx();
    let buf = render(100, 30, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    for needle in [
        "variable 3/31",
        "5 steps",
        "-2.0 sd",
        "+2.0 sd",
        "8 prototypes, 7 used",
        "#3 h3 s6",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    let (x, y) = find(&buf, "Traversal").unwrap();
    let first = &buf[(x, y + 1)];
    assert_eq!((first.symbol(), first.fg), ("▀", gray(0)));
    let last = &buf[(x + 4 * 15, y + 1)];
    assert_eq!(last.fg, gray(255));
    assert_eq!(buf[(x + 4 * 15, y + 6)].bg, gray(0), "lower half is 1 - v");
    match pane.on_action(Action::Right) {
        Effect::Request(crate::tui::jobs::Request::Traverse { dim, steps, .. }) => {
            assert_eq!((dim, steps), (4, 5))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn classify_pane_draws_heatmaps_and_scores() {
    let result = Classification {
        protocol: Protocol::Paper,
        n: 30,
        pixels: Scores::from_confusion([[3, 7], [2, 18]]),
        latents: Scores::from_confusion([[6, 4], [5, 15]]),
    };
    let mut pane = ClassifyPane {
        run: Some("/runs/r".into()),
        result: Some(result),
        ..Default::default()
    };
    let c = ctx();
    let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    for needle in [
        "done: 30 ROIs classified",
        "pixels (vqtex)",
        "published: latents",
        "[[2, 8], [1, 19]]",
        "0.700",
        "specificity",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    // The heatmap: the largest count has the theme's high colour, 0 would have the low one.
    let (x, y) = find(&buf, "pixels (vqtex) · rows").unwrap();
    let inner = Rect::new(x, y + 1, 48, 9);
    let r = Heatmap::cell_rect(inner, 1, 1);
    assert_eq!(buf[(r.x, r.y)].bg, c.theme.heat_high);
    let r = Heatmap::cell_rect(inner, 0, 0);
    assert_ne!(buf[(r.x, r.y)].bg, c.theme.heat_high);
    assert!(text(&buf).contains("18"));
    assert!(matches!(pane.on_action(Action::Run), Effect::Request(_)));
    assert!(
        matches!(pane.on_action(Action::Run), Effect::Say(_)),
        "one job at a time"
    );
    pane.on_action(Action::Protocol);
    assert_eq!(pane.protocol, Protocol::Lopo);
}

#[test]
fn runs_pane_lists_opens_and_asks_before_deleting() {
    let run = |name: &str, status: RunStatus| RunSummary {
        path: PathBuf::from(format!("/runs/{name}")),
        name: name.into(),
        model: crate::model::ModelKind::Vqvae,
        status,
        epoch: 2,
        epochs: 4,
        train_loss: Some(0.0312),
        test_loss: None,
        test_mse: Some(0.0131),
        created: "2026-01-02T03:04:00Z".into(),
    };
    let mut pane = RunsPane {
        dir: "/runs".into(),
        ..Default::default()
    };
    pane.set_runs(vec![
        run("vqvae-b", RunStatus::Finished),
        run("vqvae-a", RunStatus::Stopped),
    ]);
    pane.open = Some("/runs/vqvae-a".into());
    let c = ctx();
    let buf = render(100, 20, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    for needle in [
        "Runs in /runs",
        "vqvae-b",
        "▶[ ] vqvae-a",
        "finished",
        "2/4",
        "0.03120",
        "0.01310",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    pane.on_action(Action::Down);
    assert_eq!(
        pane.on_action(Action::Select),
        Effect::OpenRun("/runs/vqvae-a".into())
    );
    assert_eq!(
        pane.on_action(Action::Delete),
        Effect::Confirm(ConfirmKind::DeleteRun("/runs/vqvae-a".into()))
    );
}

/// Records of a run whose model logs `terms` (the values fall with the epoch).
fn records_with(terms: &[&str], epochs: usize) -> Vec<EpochRecord> {
    (1..=epochs)
        .map(|e| {
            let map: serde_json::Map<String, serde_json::Value> = terms
                .iter()
                .enumerate()
                .map(|(i, t)| (t.to_string(), serde_json::json!(0.5 / (e + i) as f64)))
                .collect();
            serde_json::from_value(serde_json::json!({
                "epoch": e, "epochs": epochs, "train": map, "test": map,
                "lr": 1e-4, "seconds": 2.0, "rois_per_sec": 220.0
            }))
            .unwrap()
        })
        .collect()
}

#[test]
fn the_loss_chart_cycles_through_the_terms_each_model_recorded() {
    let c = ctx();
    for (terms, wanted) in [
        (&["total", "recon", "kl"][..], "kl"),
        (&["total", "recon", "masked"][..], "masked"),
    ] {
        let mut pane = TrainPane::default();
        pane.view_run(PathBuf::from("/runs/r"), records_with(terms, 6), 6, false);
        assert_eq!(pane.terms(), terms, "the run's own terms, total first");
        pane.on_action(Action::NextTerm);
        pane.on_action(Action::NextTerm);
        assert_eq!(pane.term, wanted);
        let buf = render(100, 28, |a, b| pane.draw(a, b, &c));
        let (x, y) = find(&buf, &format!("Loss: {wanted}"))
            .unwrap_or_else(|| panic!("no {wanted} chart:\n{}", text(&buf)));
        // The curves are drawn: braille cells inside the chart's box.
        let drawn = (y + 1..y + 10)
            .flat_map(|yy| (x..x + 60).map(move |xx| (xx, yy)))
            .filter(|&p| {
                let cell = &buf[p];
                cell.symbol()
                    .chars()
                    .next()
                    .is_some_and(|ch| ('\u{2801}'..='\u{28ff}').contains(&ch))
            })
            .count();
        assert!(
            drawn > 3,
            "{wanted}: {drawn} cells of curve\n{}",
            text(&buf)
        );
        // Cycling wraps round to the total, never onto a term the run lacks.
        pane.on_action(Action::NextTerm);
        assert_eq!(pane.term, "total");
    }
}

#[test]
fn latent_pane_anchors_on_test_rois_and_edits_the_code_map() {
    use crate::tui::jobs::{AnchorRoi, Request};
    let codes: Vec<u32> = (0..49).map(|i| (i % 5) as u32).collect();
    let mut pane = LatentPane {
        run: Some("/runs/r".into()),
        traversal: Some(TraversalData {
            run: "/runs/r".into(),
            dim: 3,
            dims: 32,
            offsets: vec![-2.0, -1.0, 0.0, 1.0, 2.0],
            images: (0..5).map(|i| unit(i as f32 * 0.25)).collect(),
            more: vec![(
                "re-quantised".into(),
                (0..5).map(|i| unit(i as f32 * 0.2)).collect(),
            )],
            anchor: Some(AnchorRoi {
                index: 7,
                file: "p3_f1.png".into(),
                label: Label::Steatosis,
                pixels: vec![200; crate::data::ROI_PIXELS],
                codes: Some(codes.clone()),
                codebook: Some(64),
                choices: vec![5, 7, 9],
            }),
        }),
        dim: 3,
        ..Default::default()
    };
    let c = ctx();
    let t = text(&render(200, 60, |a, b| pane.draw(a, b, &c)));
    for needle in [
        "anchor p3_f1.png (steatosis)",
        "z_e",
        "re-quantised",
        "Code map of the anchor",
        "+2.0 sd",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    // At 100 columns every offset still shows, the rows named under their anchors.
    let t = text(&render(100, 30, |a, b| pane.draw(a, b, &c)));
    for needle in ["-2.0 sd", "+2.0 sd", "z_e", "re-quantised"] {
        assert!(t.contains(needle), "100x30 lacks {needle}:\n{t}");
    }
    // `a`: the next test ROI.
    match pane.on_action(Action::Anchor) {
        Effect::Request(Request::Traverse { anchor, .. }) => assert_eq!(anchor, Some(9)),
        e => panic!("{e:?}"),
    }
    // `e`: edit, starting from the anchor's own map.
    match pane.on_action(Action::EditCodes) {
        Effect::Request(Request::DecodeCodes { codes: asked, .. }) => assert_eq!(asked, codes),
        e => panic!("{e:?}"),
    }
    // One cell: right of the centre, code + 1.
    pane.on_action(Action::Right);
    let Effect::Request(Request::DecodeCodes { codes: one, .. }) = pane.on_action(Action::More)
    else {
        panic!("+ decodes the edited map");
    };
    let changed: Vec<usize> = (0..49).filter(|&i| one[i] != codes[i]).collect();
    assert_eq!(changed, [3 * 7 + 4]);
    assert_eq!(one[25], (codes[25] + 1) % 64);
    // An answer for an older map is dropped; the current one is shown.
    pane.on_decoded(codes.clone(), Ok(unit(0.1)));
    assert!(pane.edit.as_ref().unwrap().decoded.is_none());
    pane.on_decoded(one.clone(), Ok(unit(0.9)));
    let t = text(&render(200, 60, |a, b| pane.draw(a, b, &c)));
    assert!(
        t.contains("edited, decoded") && t.contains("1 of 49 cells changed"),
        "{t}"
    );
    // `n`: every use of the cell's code; `-` on a code used 10 times changes 10 cells.
    pane.on_action(Action::Pick);
    pane.on_action(Action::Left);
    let Effect::Request(Request::DecodeCodes { codes: all, .. }) = pane.on_action(Action::Less)
    else {
        panic!("- decodes the edited map");
    };
    let old = one[24];
    assert!(all.iter().all(|&x| x != old));
    assert_eq!(
        (0..49).filter(|&i| all[i] != one[i]).count(),
        one.iter().filter(|&&x| x == old).count()
    );
    // `r` undoes every edit; `e` leaves the editor, and arrows move the variable again.
    let Effect::Request(Request::DecodeCodes { codes: back, .. }) = pane.on_action(Action::Run)
    else {
        panic!("r decodes the original map");
    };
    assert_eq!(back, codes);
    assert_eq!(pane.on_action(Action::EditCodes), Effect::Redraw);
    assert!(pane.edit.is_none());
    pane.on_action(Action::Right);
    assert_eq!(pane.dim, 4);
}

#[test]
fn latent_pane_codebook_table_sorts_by_each_column_and_shows_patches() {
    use crate::eval::codes::{CodeSort, CodeStats};
    let stat = |code: u32, or: f64, p: f64, echo: f64| CodeStats {
        code,
        positions: [10 * code as u64, 5],
        rois: [2, 3],
        odds_ratio: or,
        or_ci95: [or / 2.0, or * 2.0],
        p,
        p_bh: p * 3.0,
        echogenicity: Some(echo),
        heterogeneity: Some(0.05),
        granularity: Some(2.0),
    };
    let mut pane = LatentPane {
        run: Some("/runs/r".into()),
        codebook: Some(CodebookData {
            run: "/runs/r".into(),
            prototypes: (0..3).map(|i| unit(i as f32 / 3.0)).collect(),
            usage: vec![[0, 5], [10, 5], [20, 5]],
            stats: vec![
                stat(0, 0.5, 0.2, 0.9),
                stat(1, 4.0, 0.001, 0.1),
                stat(2, 1.5, 0.04, 0.5),
            ],
            patches: (0..3).map(|i| vec![[60 * i as u8; 64]; 8]).collect(),
        }),
        ..Default::default()
    };
    let c = ctx();
    let order = |pane: &LatentPane| -> Vec<usize> {
        let t = text(&render(160, 50, |a, b| pane.draw(a, b, &c)));
        ["#0 ", "#1 ", "#2 "]
            .iter()
            .map(|n| t.find(n).unwrap())
            .collect()
    };
    let t = text(&render(160, 50, |a, b| pane.draw(a, b, &c)));
    for needle in [
        "sorted by code (S)",
        "OR 4.00 [2.00, 8.00]",
        "Fisher p 1.00e-3",
        "echogenicity 0.10",
        "typical patches",
        "repeated",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    let o = order(&pane);
    assert!(o[0] < o[1] && o[1] < o[2]);
    // S: by odds ratio (steatosis first), then by p.
    pane.on_action(Action::SortCodes);
    assert_eq!(pane.sort, CodeSort::OddsRatio);
    let o = order(&pane);
    assert!(o[1] < o[2] && o[2] < o[0], "{o:?}");
    pane.on_action(Action::SortCodes);
    let o = order(&pane);
    assert!(o[1] < o[2] && o[2] < o[0], "by p: {o:?}");
    pane.on_action(Action::SortCodes);
    let o = order(&pane);
    assert!(o[0] < o[2] && o[2] < o[1], "by echogenicity: {o:?}");
    // The patches are drawn: a half-block of code 2's grey (120) right of its prototype.
    let buf = render(160, 50, |a, b| pane.draw(a, b, &c));
    let (x, y) = find(&buf, "#2 ").unwrap();
    assert_eq!(buf[(x - 37, y)].symbol(), "▀");
}

#[test]
fn data_pane_lists_rois_by_unusualness_against_the_open_run() {
    use crate::eval::ood::OodRoi;
    use crate::tui::jobs::{OodRow, OodView, Request};
    let (ds, split) = dataset();
    let mut pane = DataPane::default();
    pane.set_dataset("/data".into(), ds.clone(), Some(split));
    // No run open: `u` says what to do.
    assert!(matches!(pane.on_action(Action::Unusual), Effect::Say(_)));
    pane.run = Some("/runs/vqvae-1".into());
    match pane.on_action(Action::Unusual) {
        Effect::Request(Request::Ood { run, rois }) => {
            assert_eq!(run, PathBuf::from("/runs/vqvae-1"));
            assert_eq!(rois.len(), ds.len());
        }
        e => panic!("{e:?}"),
    }
    let c = ctx();
    let t = text(&render(160, 40, |a, b| pane.draw(a, b, &c)));
    assert!(t.contains("Scoring 12 ROIs against vqvae-1"), "{t}");
    // Scores arrive most unusual first: ROI 7 at 99, then the rest.
    let row = |roi: usize, score: f64| OodRow {
        roi,
        score: OodRoi {
            file: ds.rois[roi].file.clone(),
            recon_error: 0.01 * score,
            density: 1.0,
            vq_distance: Some(0.5),
            texture: 2.0,
            score,
        },
        recon: vec![0.5; crate::data::ROI_PIXELS],
    };
    let mut rows = vec![row(7, 99.0)];
    rows.extend((0..12).filter(|&i| i != 7).map(|i| row(i, 50.0 - i as f64)));
    pane.on_ood(Ok(OodView {
        run: "/runs/vqvae-1".into(),
        rows,
    }));
    let buf = render(160, 40, |a, b| pane.draw(a, b, &c));
    let t = text(&buf);
    for needle in [
        "Unusual ROIs vs vqvae-1",
        "p3_f1.png · score 99.0",
        "reconstruction MSE 0.99000",
        "speckle statistics",
        "reconstruction",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    // The reconstruction is drawn beside the ROI (grey 0.5 -> 128).
    let (x, y) = find(&buf, "p3_f1.png · score").unwrap();
    assert_eq!(buf[(x + 30, y + 1)].symbol(), "▀");
    pane.on_action(Action::Down);
    let t = text(&render(160, 40, |a, b| pane.draw(a, b, &c)));
    assert!(t.contains("p1_f0.png · score 50.0"), "{t}");
    // `u` again: back to the patients; again: the scores are kept, no new job.
    pane.on_action(Action::Unusual);
    assert!(text(&render(160, 40, |a, b| pane.draw(a, b, &c))).contains("Patients 4/4"));
    assert_eq!(pane.on_action(Action::Unusual), Effect::Redraw);
    assert!(pane.ood_mode);
}

//! The Classify pane's per-ROI and per-patient views: confusion cells that open their ROIs, the
//! braille ROC curves, the per-patient table, and a cross-validation's results for a fold run.

use super::*;
use crate::eval::{Classification, Protocol, Scores};
use crate::tui::jobs::{ClassifiedRoi, ClassifyData};
use crate::tui::keymap::Action;
use crate::tui::panes::classify::ClassifyPane;
use crate::tui::panes::Effect;

/// 4 patients x 3 ROIs: patient 1 healthy and right, 2 healthy with one ROI wrong, 3 steatotic
/// and right, 4 steatotic and wrong on pixels (right on latents).
fn data() -> ClassifyData {
    let mut rois = Vec::new();
    let cases: [(&str, Label, [f64; 3], [f64; 3]); 4] = [
        ("1", Label::Healthy, [-1.0, -0.8, -0.6], [-0.5, -0.4, -0.3]),
        ("2", Label::Healthy, [-0.9, 0.2, -0.4], [-0.2, -0.1, -0.3]),
        ("3", Label::Steatosis, [0.7, 0.9, 0.5], [0.4, 0.6, 0.2]),
        ("4", Label::Steatosis, [-0.3, -0.2, 0.1], [0.3, 0.1, 0.2]),
    ];
    for (p, label, px, lat) in cases {
        for k in 0..3 {
            rois.push(ClassifiedRoi {
                file: format!("p{p}_{k}.png"),
                patient: PatientId(p.into()),
                truth: label,
                pixels: vec![(40 * k) as u8; ROI_PIXELS],
                decision: [px[k], lat[k]],
            });
        }
    }
    let conf = |set: usize| {
        let mut m = [[0usize; 2]; 2];
        for r in &rois {
            m[r.truth.index()][usize::from(r.decision[set] >= 0.0)] += 1;
        }
        m
    };
    ClassifyData {
        result: Classification {
            protocol: Protocol::Lopo,
            n: 12,
            pixels: Scores::from_confusion(conf(0)),
            latents: Scores::from_confusion(conf(1)),
        },
        rois,
    }
}

fn pane() -> ClassifyPane {
    let mut pane = ClassifyPane {
        run: Some("/runs/vqvae-1".into()),
        ..Default::default()
    };
    pane.set_data(data());
    pane
}

#[test]
fn a_confusion_cell_opens_the_list_of_its_rois() {
    let mut pane = pane();
    // Start on pixels, true steatosis, predicted steatosis: 3 of patient 3 and one of patient 4.
    assert_eq!(pane.cursor, (1, 1));
    let files: Vec<&str> = pane.cell_rois().iter().map(|r| r.file.as_str()).collect();
    assert_eq!(files, ["p3_0.png", "p3_1.png", "p3_2.png", "p4_2.png"]);
    // Left: predicted healthy. Up: true healthy.
    pane.on_action(Action::Left);
    assert_eq!(
        pane.cell_rois().len(),
        2,
        "p4_0 and p4_1 are missed on pixels"
    );
    pane.on_action(Action::Up);
    pane.on_action(Action::Right);
    let files: Vec<&str> = pane.cell_rois().iter().map(|r| r.file.as_str()).collect();
    assert_eq!(files, ["p2_1.png"], "the one false positive");
    // Across into the latents' matrix: no false positive there.
    pane.on_action(Action::Right);
    pane.on_action(Action::Right);
    assert_eq!((pane.set(), pane.cursor), (1, (0, 3)));
    assert!(pane.cell_rois().is_empty());
    pane.on_action(Action::Left);
    assert_eq!(pane.cell_rois().len(), 6);

    // Enter opens the cell as ROIs in half-blocks; enter (or esc) closes it; r still runs.
    assert_eq!(pane.on_action(Action::Select), Effect::Redraw);
    assert!(pane.list_open);
    let buf = render(160, 50, |a, b| pane.draw(a, b, &ctx()));
    let t = text(&buf);
    assert!(
        t.contains("6 ROIs: true healthy, predicted healthy (latents)"),
        "{t}"
    );
    assert!(t.contains("p1_0.png") && t.contains("p2_2.png"), "{t}");
    let (x, y) = find(&buf, "6 ROIs").unwrap();
    assert_eq!(
        buf[(x, y + 1)].symbol(),
        "▀",
        "the first ROI under the title"
    );
    assert!(pane.close_list());
    assert!(!pane.close_list());
    assert!(matches!(pane.on_action(Action::Run), Effect::Request(_)));
}

#[test]
fn roc_curves_and_the_patient_table_show_decisions_per_patient() {
    let pane = pane();
    let pixels = pane.patients(0);
    assert_eq!(pixels.len(), 4);
    let p4 = &pixels[3];
    assert!((p4.mean_decision - (-0.4 / 3.0)).abs() < 1e-12);
    assert!((p4.vote_share - 1.0 / 3.0).abs() < 1e-12);
    let buf = render(200, 50, |a, b| pane.draw(a, b, &ctx()));
    let t = text(&buf);
    for needle in [
        "ROC per patient",
        "pixels AUC 1.00",
        "latents AUC 1.00",
        "Patients · pixels",
        "-0.13",
        "33%",
        "NO",
    ] {
        assert!(t.contains(needle), "missing {needle}:\n{t}");
    }
    assert!(
        t.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "the curves are drawn in braille:\n{t}"
    );
    // Smaller terminals draw without panicking.
    for (w, h) in [(80, 24), (100, 30), (20, 5)] {
        render(w, h, |a, b| pane.draw(a, b, &ctx()));
    }
}

#[test]
fn a_fold_run_shows_its_cross_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let (dataset, _) = dataset();
    let rois: Vec<&Roi> = dataset.rois.iter().collect();
    let plan = crate::cv::plan(&dataset, 2, 1, 1).unwrap();
    let mut preds = Vec::new();
    let sets = [
        crate::cv::FeatureSet::Pixels,
        crate::cv::FeatureSet::FirstOrder,
    ];
    for set in sets {
        let x = crate::cv::features(set, &rois, None).unwrap();
        for f in &plan {
            preds.extend(crate::cv::fold_predictions(set, &x, &dataset, f).unwrap());
        }
    }
    let report = crate::cv::results::aggregate(&dataset, &sets, &preds, 2, 1, 1, Vec::new(), 0);
    std::fs::write(
        tmp.path().join("cv.json"),
        serde_json::to_vec(&report).unwrap(),
    )
    .unwrap();
    let fold = tmp.path().join("r1-f2-vqvae");
    std::fs::create_dir(&fold).unwrap();
    let found = crate::tui::jobs::files::cv_of(&fold).expect("the fold's cross-validation");
    assert_eq!(found, report);
    assert!(crate::tui::jobs::files::cv_of(&tmp.path().join("vqvae-1")).is_none());
    let pane = ClassifyPane {
        run: Some(fold),
        cv: Some(Box::new(found)),
        ..Default::default()
    };
    let t = text(&render(160, 40, |a, b| pane.draw(a, b, &ctx())));
    assert!(
        t.contains("Cross-validation this run is a fold of: 2 folds"),
        "{t}"
    );
    assert!(
        t.contains("firstorder") && t.contains("AUC [95% CI]"),
        "{t}"
    );
}

//! `vqtex cv` end to end on a small synthetic dataset: the outputs and their shapes, no patient
//! on both sides of a fold, the same seed giving the same numbers, continuing an interrupted
//! cross-validation, and refusing what cannot work.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use common::*;

fn cv(data: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "cv",
        "--data",
        p(data),
        "--out",
        p(out),
        "--folds",
        "3",
        "--epochs",
        "1",
        "--batch",
        "16",
        "--seed",
        "4",
    ];
    args.extend_from_slice(extra);
    vqtex(&args)
}

#[test]
fn cv_writes_folds_predictions_scores_and_a_report_and_continues_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 4, 5, 3);
    let out = tmp.path().join("cv");
    let o = cv(&data, &out, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["features"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pixels",
            "firstorder",
            "glcm",
            "vqvae",
            "vqvae-codes",
            "vqvae-ze"
        ]
    );
    assert_eq!(v["patients"], 9);
    for s in v["sets"].as_array().unwrap() {
        assert_eq!(s["patient"]["pooled"]["n"], 9, "{s}");
        assert_eq!(s["roi"]["pooled"]["n"], 27, "{s}");
        assert!(s["roi"]["ci95"]["balanced_accuracy"].is_array(), "{s}");
    }
    for f in [
        "cv-config.json",
        "folds.csv",
        "predictions.csv",
        "cv.json",
        "report.md",
        "roc.png",
        "r1-f1-vqvae/config.json",
        "r1-f3-vqvae/split.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Each patient is in exactly one fold, and only its own fold predicts it.
    let folds = fs::read_to_string(out.join("folds.csv")).unwrap();
    let fold_of: BTreeMap<String, String> = folds
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[2].to_string())
        })
        .collect();
    assert_eq!(fold_of.len(), 9);
    assert_eq!(folds.lines().count(), 10);
    let preds = fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert!(preds.starts_with("file,patient,repeat,fold,features,truth,decision,predicted\n"));
    let mut per_set: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in preds.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        assert_eq!(fold_of[c[1]], c[3], "{l}");
        let d: f64 = c[6].parse().unwrap();
        assert_eq!(c[7], if d >= 0.0 { "steatosis" } else { "healthy" }, "{l}");
        per_set.entry(c[4].into()).or_default().insert(c[0].into());
    }
    assert!(per_set.values().all(|files| files.len() == 27));
    // The fold's run never trained on its held-out patients.
    for f in 1..=3 {
        let split = fs::read_to_string(out.join(format!("r1-f{f}-vqvae/split.csv"))).unwrap();
        for l in split.lines().skip(1) {
            let c: Vec<&str> = l.split(',').collect();
            let held_out = fold_of[c[0]] == f.to_string();
            assert_eq!(c[2] == "test", held_out, "fold {f}: {l}");
        }
    }
    let report = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Verdict"), "{report}");
    assert!(report.contains("`vqvae`"), "{report}");

    // Again in the same folder: the finished fold runs are kept (not trained again) and the
    // numbers are the same.
    let log = out.join("r1-f2-vqvae/metrics.jsonl");
    let before = fs::read(&log).unwrap();
    let o = cv(&data, &out, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("continuing the cross-validation"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(&log).unwrap(), before);
    let again: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        again["sets"], v["sets"],
        "same seed, same folds, same numbers"
    );

    // A fresh cross-validation with the same seed: the same folds and the same numbers.
    let twin = tmp.path().join("twin");
    let o = cv(&data, &twin, &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(t["sets"], v["sets"]);
    assert_eq!(fs::read_to_string(twin.join("folds.csv")).unwrap(), folds);

    // Other settings in that folder are refused, and nothing is changed.
    let o = cv(&data, &out, &["--repeats", "2"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("holds another cross-validation"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cv_refuses_unknown_sets_and_sets_without_their_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 3, 3, 2);
    let out = tmp.path().join("cv");
    let o = cv(&data, &out, &["--features", "pixels,hog"]);
    assert!(
        stderr(&o).contains("'hog' is not a feature set"),
        "{}",
        stderr(&o)
    );
    let o = cv(&data, &out, &["--features", "cae"]);
    assert!(stderr(&o).contains("needs the cae model"), "{}", stderr(&o));
    let o = vqtex(&["cv", "--data", p(&data), "--out", p(&out), "--folds", "9"]);
    assert!(
        stderr(&o).contains("more than the 6 patients"),
        "{}",
        stderr(&o)
    );
    // The hand-made sets alone need no training.
    let o = cv(&data, &out, &["--features", "pixels,firstorder,glcm"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join("r1-f1-vqvae").exists());
}

#[test]
fn export_features_writes_one_row_per_roi_and_one_column_per_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 2, 2, 3);
    let out = tmp.path().join("f.csv");
    let o = vqtex(&[
        "export",
        "features",
        "--data",
        p(&data),
        "--features",
        "firstorder,glcm",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = fs::read_to_string(&out).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(header[..4], ["file", "patient", "label", "mean"]);
    assert_eq!(header.len(), 3 + 5 + 15);
    assert!(header.contains(&"correlation_d4"));
    assert_eq!(csv.lines().count(), 1 + 12);
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.split(',').count() == header.len()));
    // A learned set needs a run of its model.
    let o = vqtex(&[
        "export",
        "features",
        "--data",
        p(&data),
        "--features",
        "vqvae",
        "--out",
        p(&out),
    ]);
    assert!(stderr(&o).contains("needs a vqvae run"), "{}", stderr(&o));
    let npy = tmp.path().join("f.npy");
    let o = vqtex(&[
        "export",
        "features",
        "--data",
        p(&data),
        "--features",
        "pixels",
        "--out",
        p(&npy),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 12 x 784 float64 after the header.
    let b = fs::read(&npy).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    assert_eq!(b.len(), 10 + hlen + 12 * 784 * 8);
    assert!(tmp.path().join("f-rows.csv").is_file() && tmp.path().join("f-columns.txt").is_file());
}

#[test]
fn cv_regresses_fat_when_the_labels_have_it_and_firstorder_follows_it() {
    // The generator's steatotic echogenicity rises with fat: first-order statistics (mean grey
    // level among them) predict it, ranked in the right order.
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 6, 14, 3);
    let labels = fs::read_to_string(data.join("labels.csv")).unwrap();
    assert!(
        labels.starts_with("file,patient,label,hi,fat\n"),
        "{labels}"
    );
    let out = tmp.path().join("cv");
    let o = cv(&data, &out, &["--json", "--features", "pixels,firstorder"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let set = |name: &str| {
        v["sets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["features"] == name)
            .unwrap()
            .clone()
    };
    let fo = set("firstorder");
    for model in ["ridge", "svr"] {
        let p = &fo["fat"][model]["patient"];
        assert_eq!(p["pooled"]["n"], 20, "{p}");
        let rho = p["pooled"]["spearman"].as_f64().unwrap();
        assert!(rho > 0.5, "firstorder {model}: Spearman {rho}");
        assert!(p["ci95"]["spearman"].is_array(), "{p}");
        assert!(p["pooled"]["mae"].as_f64().unwrap() >= 0.0);
        assert_eq!(fo["fat"][model]["roi"]["pooled"]["n"], 60);
    }
    assert!(set("pixels")["fat"]["ridge"]["roi"]["pooled"]["spearman"].is_number());
    let report = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Degrees of steatosis"), "{report}");
    assert!(report.contains("| firstorder | "), "{report}");
    let preds = fs::read_to_string(out.join("fat-predictions.csv")).unwrap();
    assert!(preds.starts_with("file,patient,repeat,fold,features,truth,ridge,svr\n"));
    assert_eq!(preds.lines().count(), 1 + 2 * 60);

    // Without the fat column: no regression, no section, no file.
    let plain = tmp.path().join("plain");
    fs::create_dir_all(&plain).unwrap();
    let mut text = String::new();
    for l in labels.lines() {
        let cols: Vec<&str> = l.split(',').collect();
        text.push_str(&cols[..4].join(","));
        text.push('\n');
        if cols[0] != "file" {
            fs::copy(data.join(cols[0]), plain.join(cols[0])).unwrap();
        }
    }
    fs::write(plain.join("labels.csv"), text).unwrap();
    let out2 = tmp.path().join("cv2");
    let o = cv(&plain, &out2, &["--json", "--features", "firstorder"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["sets"][0].get("fat").is_none(), "{}", v["sets"][0]);
    let report = fs::read_to_string(out2.join("report.md")).unwrap();
    assert!(!report.contains("Degrees of steatosis"));
    assert!(!out2.join("fat-predictions.csv").exists());
}

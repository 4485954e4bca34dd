//! `vqtex ood` on folders: scores for every ROI, a folder without a labels CSV, and the AUROC of
//! telling inverted ROIs from the originals.

mod common;

use std::fs;

use common::*;
use vqtex::data::folder::write_folder;
use vqtex::data::{load_folder, LoadOptions};
use vqtex::eval::ood::shift;

#[test]
fn ood_scores_a_folder_and_tells_inverted_rois_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 8, 8, 6);
    let run = tmp.path().join("run");
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--run",
        p(&run),
        "--epochs",
        "2",
        "--batch",
        "16",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The same ROIs inverted, in a folder without a labels CSV.
    let rois = load_folder(&data, &LoadOptions::default()).unwrap().rois;
    let inverted: Vec<_> = rois
        .iter()
        .map(|r| vqtex::data::Roi {
            pixels: shift::invert(&r.pixels),
            ..r.clone()
        })
        .collect();
    let out = tmp.path().join("inverted");
    write_folder(&out, &inverted).unwrap();
    fs::remove_file(out.join("labels.csv")).unwrap();

    let o = vqtex(&[
        "ood",
        p(&run),
        "--data",
        p(&data),
        "--against",
        p(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["n"], rois.len());
    assert_eq!(v["against"]["n"], rois.len());
    let first = &v["rois"][0];
    for key in [
        "file",
        "recon_error",
        "density",
        "vq_distance",
        "texture",
        "score",
    ] {
        assert!(!first[key].is_null(), "{key} missing: {first}");
    }
    let score = first["score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&score));
    let auroc = v["auroc"].as_f64().unwrap();
    assert!(auroc >= 0.9, "inverted ROIs: AUROC {auroc}");

    let o = vqtex(&["ood", p(&run), "--data", p(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("unusual"), "{}", stdout(&o));
    let o = vqtex(&["ood", p(&run), "--data", p(&tmp.path().join("nowhere"))]);
    assert!(stderr(&o).contains("is not a folder"), "{}", stderr(&o));
}

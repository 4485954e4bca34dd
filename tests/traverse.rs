//! `vqtex traverse` end to end: anchored on a real ROI by default (the VQ-VAE's z_e and
//! re-quantised rows, the anchor at the left, rows and columns labelled), `--roi FILE`, the old
//! mean-map traversal as `--from mean`, and the refusals.

mod common;

use std::path::Path;

use common::*;

/// Trains `model` one epoch on a small synthetic dataset; returns (data dir, run dir).
fn trained(tmp: &Path, model: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = tmp.join("data");
    if !data.exists() {
        small_dataset(&data, 10, 10, 3);
    }
    let run = tmp.join(format!("run-{model}"));
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--run",
        p(&run),
        "--model",
        model,
        "--epochs",
        "1",
        "--batch",
        "16",
        "--seed",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (data, run)
}

/// The anchor's file name from `traverse`'s line: `... anchored on FILE (label, side; ...`.
fn anchor_of(out: &str) -> String {
    let rest = out.split("anchored on ").nth(1).expect("anchor named");
    rest.split(" (").next().unwrap().to_string()
}

/// Dark pixels (text) in a rectangle.
fn dark(img: &image::GrayImage, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
    (x0..x1.min(img.width()))
        .flat_map(|x| (y0..y1.min(img.height())).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
        .count()
}

#[test]
fn traverse_anchors_on_a_real_roi_by_default_and_labels_its_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = trained(tmp.path(), "vqvae");
    let png = tmp.path().join("t.png");
    let o = vqtex(&["traverse", p(&run), "--dim", "3", "--out", p(&png)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("latent variable 3 of the vqvae"), "{out}");
    assert!(out.contains("(steatosis, test; the medoid"), "{out}");
    assert!(out.contains("4x4-block sd: anchor"), "{out}");
    assert!(out.contains("z_e") && out.contains("re-quantised"), "{out}");
    let img = image::open(&png).unwrap().to_luma8();
    // The anchor and 5 steps of 112 pixels (scale 4) wide, two rows (z_e, re-quantised) high,
    // with a label column, a header and a title besides.
    let (w, h) = img.dimensions();
    assert!(w > 6 * 112 + 100, "{w}");
    assert!(h > 2 * 112 + 40 && h < 3 * 112 + 40, "{h}");
    // Layout of figures::labelled_grid: labels "var 3 re-quantised" (18 chars) 178 pixels wide,
    // then a gap of 4; title 28 and header 24 high, then a gap of 4.
    let (x0, y0) = (178 + 4, 28 + 24 + 4);
    assert!(dark(&img, (0, 178), (y0, h)) > 50, "row labels missing");
    assert!(dark(&img, (x0, w), (28, y0)) > 50, "column labels missing");
    assert!(dark(&img, (0, w), (0, 28)) > 50, "title missing");
    // The anchor ROI itself, pixel for pixel, leads both rows.
    let anchor = image::open(data.join(anchor_of(&out))).unwrap().to_luma8();
    for row in 0..2u32 {
        for (x, y, px) in anchor.enumerate_pixels() {
            let at = img.get_pixel(x0 + 4 * x + 1, y0 + row * 116 + 4 * y + 1);
            assert_eq!(at.0[0], px.0[0], "anchor pixel {x},{y} of row {row}");
        }
    }

    // --roi picks the anchor by its file name in the dataset.
    let file = "p03_f1.png";
    assert!(data.join(file).is_file());
    let o = vqtex(&[
        "traverse",
        p(&run),
        "--dim",
        "0",
        "--roi",
        file,
        "--steps",
        "3",
        "--out",
        p(&png),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(anchor_of(&stdout(&o)), file);
    assert!(stdout(&o).contains("chosen"), "{}", stdout(&o));
    let img = image::open(&png).unwrap().to_luma8();
    assert!(img.width() > 4 * 112 && img.width() < 5 * 112 + 250);

    // An unknown file is refused in words, and nothing is written.
    let other = tmp.path().join("none.png");
    let o = vqtex(&[
        "traverse",
        p(&run),
        "--dim",
        "0",
        "--roi",
        "nope.png",
        "--out",
        p(&other),
    ]);
    assert_fails_with(&o, &["no ROI named \"nope.png\"", "p01_f0.png"]);
    assert!(!other.exists());

    // The old mean-map traversal: one row, no anchor.
    let o = vqtex(&[
        "traverse",
        p(&run),
        "--dim",
        "3",
        "--from",
        "mean",
        "--out",
        p(&png),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("mean latent map"), "{}", stdout(&o));
    let img = image::open(&png).unwrap().to_luma8();
    assert!(img.height() < 112 + 80, "{}", img.height());
    assert!(img.width() > 5 * 112 && img.width() < 6 * 112 + 100);
    let o = vqtex(&[
        "traverse",
        p(&run),
        "--dim",
        "3",
        "--from",
        "mean",
        "--roi",
        file,
        "--out",
        p(&other),
    ]);
    assert_fails_with(&o, &["--roi picks the anchor of --from roi"]);
    let o = vqtex(&[
        "traverse",
        p(&run),
        "--dim",
        "0",
        "--from",
        "median",
        "--out",
        p(&other),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--from"), "{}", stderr(&o));
    let o = vqtex(&["traverse", p(&run), "--dim", "32", "--out", p(&other)]);
    assert_fails_with(&o, &["--dim 32 is out of range"]);
}

#[test]
fn models_without_a_codebook_traverse_their_own_latent_in_one_row() {
    let tmp = tempfile::tempdir().unwrap();
    for model in ["cae", "vae"] {
        let (_, run) = trained(tmp.path(), model);
        let png = tmp.path().join(format!("{model}.png"));
        let o = vqtex(&["traverse", p(&run), "--dim", "1", "--out", p(&png)]);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains("traversal") && !out.contains("re-quantised"),
            "{out}"
        );
        let h = image::open(&png).unwrap().to_luma8().height();
        assert!(h > 112 && h < 2 * 112, "{model}: {h}");
    }
}

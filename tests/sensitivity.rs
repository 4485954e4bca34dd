//! `vqtex sensitivity` end to end: one row per latent variable of a tiny VQ-VAE run with finite
//! effects, the text table with the top variables per measure, and models without a codebook.

mod common;

use common::*;

fn train(data: &std::path::Path, run: &std::path::Path, model: &str) {
    let o = vqtex(&[
        "train",
        "--data",
        p(data),
        "--run",
        p(run),
        "--model",
        model,
        "--epochs",
        "2",
        "--batch",
        "16",
        "--seed",
        "3",
        "--quiet",
    ]);
    assert!(o.status.success(), "{model}: {}", stderr(&o));
}

#[test]
fn sensitivity_has_a_finite_row_per_latent_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 10, 10, 3);
    let run = tmp.path().join("vq");
    train(&data, &run, "vqvae");

    let o = vqtex(&["sensitivity", p(&run), "--json", "--rois", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["run"], p(&run));
    assert_eq!(v["model"], "vqvae");
    assert_eq!(v["rois"], 8);
    for k in ["echogenicity", "heterogeneity"] {
        assert!(v["training_sd"][k].as_f64().unwrap() > 0.0, "{v}");
    }
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 32, "one row per latent variable");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["dim"], i);
        for k in ["echogenicity", "heterogeneity"] {
            assert!(r[k].as_f64().unwrap().is_finite(), "{k}: {r}");
            assert!(r["raw"][k].as_f64().unwrap().is_finite(), "{k}: {r}");
        }
        // Granularity is left out only where every decoding was flat.
        let g = &r["granularity"];
        assert!(
            g.as_f64().is_some_and(f64::is_finite) || (g.is_null() && r["granularity_rois"] == 0),
            "{r}"
        );
        let dominant = r["dominant"].as_str().unwrap();
        let top = r[dominant].as_f64().unwrap().abs();
        for k in ["echogenicity", "heterogeneity", "granularity"] {
            assert!(r[k].as_f64().map_or(0.0, f64::abs) <= top, "{r}");
        }
        assert!(r["latent_sd"].as_f64().unwrap() >= 0.0);
    }

    // The text table: two header lines, the column names, 32 rows, the top variables.
    let o = vqtex(&["sensitivity", p(&run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    // 2 healthy and 2 steatotic test patients, 3 ROIs each: fewer than 32.
    assert!(text.contains("in 12 test ROIs"), "{text}");
    assert_eq!(text.lines().count(), 3 + 32 + 4, "{text}");
    assert!(text.contains("largest effects:"), "{text}");
    let echo = text
        .lines()
        .find(|l| l.trim_start().starts_with("echogenicity"))
        .unwrap();
    assert_eq!(echo.matches("var ").count(), 3, "{echo}");

    let o = vqtex(&["sensitivity", p(&run), "--rois", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("expected 1 to 4096"), "{}", stderr(&o));

    // A model without a codebook has a latent map too.
    let cae = tmp.path().join("cae");
    train(&data, &cae, "cae");
    let o = vqtex(&["sensitivity", p(&cae), "--json", "--rois", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "cae");
    assert_eq!(v["rows"].as_array().unwrap().len(), 32);
}

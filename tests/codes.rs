//! `vqtex codes` end to end: a tiny VQ-VAE run's code table adds up over its test ROIs, its
//! corrected p-values are no smaller than the raw ones, only used codes have a texture, and a
//! model without a codebook is refused.

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
        "1",
        "--batch",
        "16",
        "--seed",
        "3",
        "--quiet",
    ]);
    assert!(o.status.success(), "{model}: {}", stderr(&o));
}

#[test]
fn codes_tabulates_a_vqvae_run_and_refuses_a_cae_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 10, 10, 3);
    let run = tmp.path().join("vq");
    train(&data, &run, "vqvae");

    let o = vqtex(&["codes", p(&run), "--json", "--sort", "p"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // 2 test patients of each class, 3 ROIs each.
    assert_eq!(v["n_rois"], 12);
    assert_eq!(v["run"], p(&run));
    let codes = v["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 64, "every code of the codebook");
    let n = |c: &serde_json::Value, k: &str, i: usize| c[k][i].as_u64().unwrap();
    let positions: u64 = codes
        .iter()
        .map(|c| n(c, "positions", 0) + n(c, "positions", 1))
        .sum();
    assert_eq!(positions, 49 * 12);
    // 6 healthy and 6 steatotic test ROIs, 49 positions each.
    let healthy: u64 = codes.iter().map(|c| n(c, "positions", 0)).sum();
    assert_eq!(healthy, 49 * 6);
    let mut used = 0;
    let mut last_p = 0.0;
    for c in codes {
        let (p, p_bh) = (c["p"].as_f64().unwrap(), c["p_bh"].as_f64().unwrap());
        assert!((0.0..=1.0).contains(&p) && p_bh >= p && p_bh <= 1.0, "{c}");
        let is_used = n(c, "positions", 0) + n(c, "positions", 1) > 0;
        for k in ["echogenicity", "heterogeneity"] {
            assert_eq!(c[k].is_number(), is_used, "{k}: {c}");
        }
        if is_used {
            used += 1;
            // Sorted by p: the used codes first, smallest p first.
            assert!(p >= last_p, "not sorted by p: {c}");
            last_p = p;
            assert!(n(c, "rois", 0) + n(c, "rois", 1) >= 1, "{c}");
            assert!(n(c, "rois", 0) <= 6 && n(c, "rois", 1) <= 6, "{c}");
            let e = c["echogenicity"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&e), "{c}");
            let ci = &c["or_ci95"];
            let or = c["odds_ratio"].as_f64().unwrap();
            assert!(
                ci[0].as_f64().unwrap() <= or && or <= ci[1].as_f64().unwrap(),
                "{c}"
            );
        } else {
            assert!(c["granularity"].is_null(), "{c}");
            assert_eq!(p, 1.0);
        }
    }
    assert!(used >= 1);
    let first_unused = codes
        .iter()
        .position(|c| n(c, "positions", 0) + n(c, "positions", 1) == 0)
        .unwrap_or(64);
    assert_eq!(first_unused, used, "unused codes go last");

    // The text table: a header, a legend, the column names and one line per used code.
    let o = vqtex(&["codes", p(&run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.lines().count(), 3 + used, "{text}");
    assert!(
        text.contains("12 test ROIs (6 healthy, 6 steatotic)"),
        "{text}"
    );

    let cae = tmp.path().join("cae");
    train(&data, &cae, "cae");
    let o = vqtex(&["codes", p(&cae)]);
    assert_fails_with(&o, &["is a cae run: codes need a VQ-VAE run"]);
    let o = vqtex(&["codes", p(&run), "--sort", "size"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("gran"), "{}", stderr(&o));
}

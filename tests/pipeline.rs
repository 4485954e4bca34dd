//! The headless pipeline end to end on a small synthetic dataset: train, resume, eval, classify,
//! traverse, and reproducibility with a seed.

mod common;

use std::fs;

use common::*;
use vqtex::train::runlog;

fn losses(run: &std::path::Path) -> Vec<(usize, f64, f64)> {
    runlog::read(&run.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| (r.epoch, r.train["total"], r.test["total"]))
        .collect()
}

#[test]
fn same_seed_same_losses_and_resume_continues_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 3, 4, 4);
    let run = |name: &str, epochs: &str, seed: &str| {
        let path = tmp.path().join(name);
        let o = vqtex(&[
            "train",
            "--data",
            p(&data),
            "--run",
            p(&path),
            "--epochs",
            epochs,
            "--batch",
            "8",
            "--seed",
            seed,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        path
    };
    let a = run("a", "3", "7");
    let b = run("b", "3", "7");
    let c = run("c", "3", "8");
    assert_eq!(losses(&a).len(), 3);
    assert_eq!(losses(&a), losses(&b), "same seed, same losses");
    assert_ne!(losses(&a), losses(&c), "another seed, other losses");

    // Train 2 epochs, then resume to 3: identical to the straight 3-epoch run.
    let d = run("d", "2", "7");
    let o = vqtex(&["train", "--resume", p(&d), "--epochs", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(losses(&d), losses(&a), "resume continues exactly");
    // Plain-line progress when stdout is not a terminal.
    assert!(stdout(&o).contains("epoch 3/3"), "{}", stdout(&o));
}

#[test]
fn eval_classify_traverse_print_what_scripts_read() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 10, 10, 3);
    let run = tmp.path().join("run");
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--run",
        p(&run),
        "--epochs",
        "2",
        "--seed",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let split = fs::read_to_string(run.join("split.csv")).unwrap();
    // 20% of 10 patients per class -> 2 test patients of each class, 3 ROIs each.
    assert_eq!(split.matches(",test,").count(), 4, "{split}");

    let o = vqtex(&["eval", p(&run), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["n"], 12);
    for m in ["mse", "mae", "ssim", "psnr"] {
        assert!(v[m]["mean"].is_f64() && v[m]["std"].is_f64(), "{m}: {v}");
    }
    let mse = v["mse"]["mean"].as_f64().unwrap();
    let psnr = v["psnr"]["mean"].as_f64().unwrap();
    assert!(mse > 0.0 && mse < 0.2, "{mse}");
    assert!(psnr > 5.0 && psnr < 40.0, "{psnr}");
    assert!(run.join("eval/per_roi.csv").is_file());

    for protocol in ["paper", "lopo"] {
        let o = vqtex(&["classify", p(&run), "--protocol", protocol, "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        for set in ["pixels", "latents"] {
            let c = &v[set]["confusion"];
            let total: u64 = (0..2)
                .flat_map(|i| (0..2).map(move |j| (i, j)))
                .map(|(i, j)| c[i][j].as_u64().unwrap())
                .sum();
            // lopo classifies every test ROI once.
            if protocol == "lopo" {
                assert_eq!(total, 12, "{v}");
            } else {
                assert_eq!(total, 6, "one test patient of each class held out: {v}");
            }
            for k in ["accuracy", "sensitivity", "specificity", "f1"] {
                let x = v[set][k].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&x), "{set}.{k} = {x}");
            }
        }
    }
    let o = vqtex(&["classify", p(&run)]);
    assert!(stdout(&o).contains("Table 2"), "{}", stdout(&o));

    let png = tmp.path().join("t.png");
    let o = vqtex(&["traverse", p(&run), "--dim", "3", "--out", p(&png)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(&png).unwrap().to_luma8();
    // Anchored on a test ROI (left) and labelled: z_e and re-quantised rows (tests/traverse.rs).
    assert!(
        img.width() > 6 * 112 && img.height() > 2 * 112,
        "{:?}",
        img.dimensions()
    );
    let o = vqtex(&["traverse", p(&run), "--dim", "32", "--out", p(&png)]);
    assert_fails_with(&o, &["--dim 32 is out of range"]);
}

#[test]
fn nan_loss_stops_with_a_message_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 2, 2, 4);
    let run = tmp.path().join("run");
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--run",
        p(&run),
        "--epochs",
        "30",
        "--lr",
        "1e30",
        "--batch",
        "4",
    ]);
    assert_fails_with(&o, &["loss became", "training stopped"]);
    // Every checkpoint left on disk loads (no NaN weights were written over a good one).
    for e in vqtex::train::checkpoint::list(&run.join("checkpoints")) {
        let c = vqtex::train::checkpoint::load_epoch(
            &run.join("checkpoints"),
            e,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        for t in c.tensors.values() {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(v.iter().all(|x| x.is_finite()));
        }
    }
}

#[test]
fn every_model_trains_evaluates_and_traverses_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 3, 3, 3);
    for model in ["cae", "vae", "vaenf", "mae"] {
        let run = tmp.path().join(model);
        let o = vqtex(&[
            "train",
            "--data",
            p(&data),
            "--run",
            p(&run),
            "--epochs",
            "1",
            "--model",
            model,
            "--quiet",
        ]);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        let cfg: serde_json::Value =
            serde_json::from_slice(&fs::read(run.join("config.json")).unwrap()).unwrap();
        assert_eq!(cfg["model"]["kind"], model);
        let paper_lr = match model {
            "cae" => 2e-4,
            "vae" | "mae" => 1e-4,
            _ => 5e-5,
        };
        assert_eq!(cfg["train"]["lr"].as_f64().unwrap(), paper_lr, "{model}");
        let o = vqtex(&["eval", p(&run), "--json"]);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["n"], 6, "{model}");
        // Only the MAE copies input pixels, and so also reports a reconstruction that does not:
        // with 70% of the pixels copied, the paper's way has the lower error.
        assert_eq!(v.get("no_copy").is_some(), model == "mae", "{model}");
        if model == "mae" {
            let mse = |v: &serde_json::Value| v["mse"]["mean"].as_f64().unwrap();
            assert!(mse(&v) < mse(&v["no_copy"]), "{v}");
        }
        let png = tmp.path().join(format!("{model}.png"));
        let o = vqtex(&["traverse", p(&run), "--dim", "31", "--out", p(&png)]);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        assert!(png.is_file());
    }
    let o = vqtex(&["train", "--data", p(&data), "--model", "gan"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown model 'gan'"), "{}", stderr(&o));
}

#[test]
fn reproduce_compares_models_on_one_split_and_writes_tables_and_figures() {
    let tmp = tempfile::tempdir().unwrap();
    // Ten patients of each class: the paper protocol needs two test patients of each.
    let data = small_dataset(&tmp.path().join("data"), 10, 10, 2);
    let out = tmp.path().join("rep");
    let o = vqtex(&[
        "reproduce",
        "--data",
        p(&data),
        "--models",
        "vqvae,cae",
        "--epochs",
        "2",
        "--out",
        p(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // The headless pipeline's names stay the VQ-VAE's; each model is added under its name.
    let vq_mse = v["eval"]["mse"]["mean"].as_f64().unwrap();
    assert_eq!(v["eval"]["vqvae"]["mse"]["mean"].as_f64().unwrap(), vq_mse);
    assert!(v["eval"]["cae"]["mse"]["mean"].as_f64().unwrap() > 0.0);
    assert_ne!(v["eval"]["cae"]["mse"]["mean"].as_f64().unwrap(), vq_mse);
    assert_eq!(v["eval"]["n"], 8);
    assert_eq!(v["classify"]["protocol"], "paper");
    assert!(v["classify"]["lopo"]["latents"]["accuracy"].is_f64());
    assert!(v["classify"]["cae"]["lopo"]["latents"]["confusion"].is_array());
    let ci = &v["classify"]["cae"]["lopo"]["latents"]["accuracy_ci95"];
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    let acc = v["classify"]["cae"]["lopo"]["latents"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(lo <= acc + 1e-9 && acc <= hi + 1e-9, "{lo} {acc} {hi}");
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0]["reference"], "vqvae");
    assert_eq!(tests[0]["other"], "cae");
    assert_eq!(tests[0]["tests"].as_array().unwrap().len(), 4);
    assert!(tests[0]["tests"][0]["roi_wilcoxon"]["p"].is_f64());
    assert_eq!(v["models"]["cae"]["epochs"], 2);
    for f in [
        "report.md",
        "table1.csv",
        "table1-tests.csv",
        "table2.csv",
        "reproduce.json",
        "fig3-reconstructions.png",
        "fig4-traversals-vqvae.png",
        "loss-curves.png",
        "confusion-paper.png",
        "confusion-lopo.png",
        "vqvae/config.json",
        "cae/config.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let report = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| cae | vqtex |"));
    assert!(report.contains("| cae | paper | 0.0208 ± 0.0047"));
    assert!(report.contains("Paired tests of vqvae"));
    let csv = fs::read_to_string(out.join("table2.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "{csv}");
    // Both models were trained on the same split.
    let split = |m: &str| fs::read_to_string(out.join(m).join("split.csv")).unwrap();
    assert_eq!(split("vqvae"), split("cae"));

    let o = vqtex(&["reproduce", "--models", "vqvae,gan"]);
    assert!(stderr(&o).contains("unknown model 'gan'"), "{}", stderr(&o));
    let o = vqtex(&["reproduce", "--models", "cae,cae"]);
    assert!(stderr(&o).contains("listed twice"), "{}", stderr(&o));
}

#[test]
fn bench_json_keeps_the_names_scripts_read_and_times_the_steps_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 3, 4, 4);
    let o = vqtex(&[
        "bench",
        "--data",
        p(&data),
        "--models",
        "vqvae",
        "--epochs",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let vq = &v["models"]["vqvae"];
    let num = |x: &serde_json::Value| x.as_f64().unwrap_or_else(|| panic!("not a number: {x}"));
    let (epoch, steps) = (
        num(&vq["seconds_per_epoch"]),
        num(&vq["train_seconds_per_epoch"]),
    );
    assert!(
        steps > 0.0 && steps <= epoch,
        "steps {steps} s of an epoch of {epoch} s"
    );
    let (gflops, gemm) = (num(&vq["train_gflops"]), num(&v["gemm_gflops"]));
    assert!(gflops > 0.0 && gemm > 0.0);
    assert!((num(&v["gemm_ratio"]) - gflops / gemm).abs() < 1e-9);
    // The rate is the step FLOPs over the steps' time, not over the whole epoch.
    let rois = num(&vq["train_gflops"]) * 1e9 * steps / num(&vq["flops_per_roi"]);
    assert!(
        (rois - rois.round()).abs() < 1e-6 && rois >= 1.0,
        "{rois} ROIs an epoch"
    );

    // Every epoch of a run records its training steps' time too.
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
        "8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in runlog::read(&run.join("metrics.jsonl")).unwrap() {
        let t = r.train_seconds.expect("train_seconds recorded");
        assert!(
            t > 0.0 && t <= r.seconds,
            "epoch {}: {t} of {} s",
            r.epoch,
            r.seconds
        );
    }
}

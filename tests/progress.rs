//! Long commands say what they are doing: `bench` and `reproduce` print a line per stage on
//! stderr, and `reproduce` prints aligned text tables on stdout (Markdown only in report.md).

mod common;

use std::fs;

use common::*;

#[test]
fn bench_announces_each_stage_and_its_result_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 3, 4, 4);
    let o = vqtex(&[
        "bench",
        "--data",
        p(&data),
        "--models",
        "cae",
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // stdout stays one JSON document.
    let _: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let err = stderr(&o);
    let at = |needle: &str| {
        err.find(needle)
            .unwrap_or_else(|| panic!("missing {needle:?}:\n{err}"))
    };
    // What is measured, then its result, stage after stage.
    let order = [
        at("bench: cae training, 1 epochs…"),
        at("bench: cae training, 1 epochs: "),
        at("bench: cae inference…"),
        at("bench: cae inference: "),
        at("bench: SVM fit on pixels"),
        at("bench: SVM fit on cae latents"),
        at("bench: f32 gemm…"),
        at("bench: f32 gemm: "),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{err}");
    assert!(err.contains(" s/epoch") && err.contains(" ROIs/s") && err.contains("GFLOP/s"));
}

#[test]
fn reproduce_prints_its_stages_on_stderr_and_aligned_tables_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 10, 10, 2);
    let out = tmp.path().join("rep");
    let o = vqtex(&[
        "reproduce",
        "--data",
        p(&data),
        "--models",
        "cae",
        "--epochs",
        "1",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    for stage in [
        "cae: reconstructing the test ROIs",
        "cae: SVMs, paper protocol",
        "cae: SVMs, leave one patient out",
        "cae: reconstructing the Fig. 3 ROIs",
        "cae: Fig. 4, latent traversals",
        "writing the tables and figures",
    ] {
        assert!(err.contains(stage), "missing {stage:?} on stderr:\n{err}");
    }
    let text = stdout(&o);
    assert!(!text.contains("cae: SVMs"), "progress on stdout:\n{text}");
    // Aligned text, as `eval` prints: no pipe tables on the terminal.
    assert!(
        !text.contains("|---|") && !text.contains("| cae |"),
        "{text}"
    );
    let header = text
        .lines()
        .find(|l| l.starts_with("model") && l.contains("seconds per epoch"))
        .unwrap_or_else(|| panic!("no training-time header:\n{text}"));
    let row = text
        .lines()
        .find(|l| l.starts_with("cae  ") && l.contains("  1  "))
        .unwrap_or_else(|| panic!("no training-time row:\n{text}"));
    // Columns line up: the row's epochs sit under the header's.
    assert_eq!(header.find("epochs"), row.find("1  "), "{header}\n{row}");
    assert!(text.contains("Whole reproduction: "), "{text}");
    // The report file keeps Markdown.
    let md = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| model | epochs | seconds | seconds per epoch |"),
        "{md}"
    );
    assert!(md.contains("| cae | 1 |"), "{md}");
}

/// A command whose stdout has no reader (`vqtex runs | head -0`, or a `tee` gone with an SSH
/// connection): the lines are dropped and the command carries on, no internal error.
#[test]
fn a_closed_stdout_neither_stops_a_training_nor_panics_a_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 3, 3, 2);
    let runs = tmp.path().join("runs");
    let closed = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        // Every write to the pipe now fails with EPIPE.
        drop(reader);
        std::process::Command::new(env!("CARGO_BIN_EXE_vqtex"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap()
    };
    let o = closed(&[
        "train",
        "--data",
        p(&data),
        "--model",
        "cae",
        "--epochs",
        "3",
        "--runs-dir",
        p(&runs),
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    // The training ran to its end.
    let run = fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let metrics = fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
    for args in [
        &["runs", "--runs-dir", p(&runs)][..],
        &["runs", "--json", "--runs-dir", p(&runs)],
    ] {
        let o = closed(args);
        let err = stderr(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(!err.contains("internal error"), "{args:?}: {err}");
    }
}

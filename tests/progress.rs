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

//! Numeric options that size an allocation have stated limits, checked when the command line is
//! read: a huge or non-finite value is an error naming the option, before anything is loaded.

mod common;

use std::process::Output;

use common::{p, stderr, vqtex};

/// Refused (clap's usage error or ours) with every needle in stderr and no panic.
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

#[test]
fn traverse_steps_and_range_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t.png");
    let base = ["traverse", "no-such-run", "--dim", "0", "--out", p(&out)];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        vqtex(&a)
    };
    // The reported case: 6.5 GB, then an abort.
    refused(&with(&["--steps", "1000000"]), &["--steps", "2 to 64"]);
    refused(&with(&["--steps", "1"]), &["--steps", "2 to 64"]);
    for r in [
        "--range=inf",
        "--range=NaN",
        "--range=0",
        "--range=-2",
        "--range=11",
    ] {
        refused(&with(&[r]), &["--range"]);
    }
    // In bounds, the options pass and the missing run is what fails.
    let o = with(&["--steps", "64", "--range", "10"]);
    let err = stderr(&o);
    assert!(
        !o.status.success() && !err.contains("--steps") && !err.contains("--range"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn bench_epochs_are_bounded() {
    refused(
        &vqtex(&["bench", "--epochs", "0"]),
        &["--epochs", "1 to 100"],
    );
    refused(
        &vqtex(&["bench", "--epochs", "18446744073709551615"]),
        &["--epochs", "1 to 100"],
    );
}

#[test]
fn synth_sizes_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f");
    let synth = |extra: &[&str]| {
        let mut a = vec!["synth", "--frames", "--out", p(&out)];
        a.extend_from_slice(extra);
        vqtex(&a)
    };
    refused(
        &synth(&["--size", "100000x100000"]),
        &["--size", "4096x4096"],
    );
    refused(
        &synth(&["--per-patient", "1000000"]),
        &["--per-patient", "1 to 100"],
    );
    refused(
        &synth(&["--healthy", "99999999999"]),
        &["--healthy", "0 to 1000"],
    );
    refused(
        &synth(&["--steatotic", "1001"]),
        &["--steatotic", "0 to 1000"],
    );
    // Each option in bounds, all of them together too much.
    refused(
        &synth(&[
            "--healthy",
            "1000",
            "--steatotic",
            "1000",
            "--per-patient",
            "100",
            "--size",
            "636x434",
        ]),
        &["MiB of pixels", "--per-patient"],
    );
    assert!(!out.exists(), "nothing may be written");
}

#![allow(dead_code)]
//! Helpers for the integration tests: small synthetic datasets and running the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vqtex::data::folder::write_folder;
use vqtex::data::synth::{generate, SynthConfig};

/// Writes a small synthetic ROI folder (`healthy` + `steatotic` patients x `frames`).
pub fn small_dataset(dir: &Path, healthy: usize, steatotic: usize, frames: usize) -> PathBuf {
    let rois = generate(&SynthConfig {
        seed: 5,
        healthy,
        steatotic,
        frames,
    });
    write_folder(dir, &rois).unwrap();
    dir.to_path_buf()
}

pub fn vqtex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vqtex"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run vqtex")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a command failed cleanly with a message containing every needle, and no panic.
pub fn assert_fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic reached the user: {err}");
    assert!(
        !err.contains("internal error"),
        "panic reached the user: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

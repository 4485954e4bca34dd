//! Bad input gets a clear error naming the file, row or option, never a panic, and loses nothing.

mod common;

use std::fs;

use common::*;

fn dataset() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 2, 2, 3);
    (tmp, data)
}

fn train(data: &std::path::Path, run: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["train", "--data", p(data), "--run", p(run), "--epochs", "1"];
    args.extend_from_slice(extra);
    vqtex(&args)
}

#[test]
fn missing_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train(&tmp.path().join("nope"), &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["nope", "does not exist"]);
}

#[test]
fn csv_without_a_needed_column() {
    let (tmp, data) = dataset();
    let csv = fs::read_to_string(data.join("labels.csv")).unwrap();
    fs::write(
        data.join("labels.csv"),
        csv.replacen("label", "diagnosis", 1),
    )
    .unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(
        &o,
        &["labels.csv", "no column named 'label'", "--label-col"],
    );
    // The mapping option fixes it.
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--run",
        p(&tmp.path().join("run")),
        "--epochs",
        "1",
        "--label-col",
        "diagnosis",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn row_naming_a_missing_file() {
    let (tmp, data) = dataset();
    fs::remove_file(data.join("p02_f1.png")).unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["labels.csv, line 6", "p02_f1.png", "does not exist"]);
}

#[test]
fn truncated_and_non_png_files() {
    let (tmp, data) = dataset();
    let bytes = fs::read(data.join("p01_f0.png")).unwrap();
    fs::write(data.join("p01_f0.png"), &bytes[..bytes.len() / 2]).unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["p01_f0.png", "not a readable PNG"]);
    fs::write(data.join("p01_f0.png"), b"hello, I am text").unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["p01_f0.png", "not a readable PNG"]);
}

#[test]
fn roi_of_the_wrong_size_unless_resize() {
    let (tmp, data) = dataset();
    image::GrayImage::from_pixel(32, 30, image::Luma([90]))
        .save(data.join("p01_f0.png"))
        .unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["p01_f0.png", "32x30", "expected 28x28", "--resize"]);
    let o = train(&data, &tmp.path().join("run"), &["--resize", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unknown_label() {
    let (tmp, data) = dataset();
    let csv = fs::read_to_string(data.join("labels.csv")).unwrap();
    fs::write(
        data.join("labels.csv"),
        csv.replacen("healthy", "fatty?", 1),
    )
    .unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["line 2", "unknown label 'fatty?'"]);
}

#[test]
fn one_patient_with_two_labels() {
    let (tmp, data) = dataset();
    let csv = fs::read_to_string(data.join("labels.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    lines[3] = lines[3].replace("healthy", "steatosis");
    fs::write(data.join("labels.csv"), lines.join("\n")).unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["patient 01 has two labels", "line 4"]);
}

#[test]
fn too_few_patients_of_a_class() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 1, 3, 2);
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["too few healthy patients to split", "1 found"]);
}

#[test]
fn empty_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("labels.csv"), "file,patient,label\n").unwrap();
    let o = train(&data, &tmp.path().join("run"), &[]);
    assert_fails_with(&o, &["is empty"]);
}

#[test]
fn bad_hyperparameters_are_refused_before_anything_is_written() {
    let (tmp, data) = dataset();
    let run = tmp.path().join("run");
    for (args, needle) in [
        (vec!["--epochs", "0"], "--epochs"),
        (vec!["--batch", "0"], "--batch"),
        (vec!["--lr", "0"], "--lr"),
        (vec!["--lr", "-1e-3"], "--lr"),
        (vec!["--lr", "NaN"], "--lr"),
    ] {
        let mut all = vec!["train", "--data", p(&data), "--run", p(&run)];
        all.extend(args);
        let o = vqtex(&all);
        assert_fails_with(&o, &[needle]);
        assert!(!run.exists(), "nothing may be written for a refused run");
    }
}

#[test]
fn cuda_in_a_cpu_build_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let (tmp, data) = dataset();
    let o = train(&data, &tmp.path().join("run"), &["--device", "cuda:0"]);
    assert_fails_with(&o, &["no CUDA support", "--features cuda"]);
}

#[test]
fn resume_on_something_that_is_not_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let o = vqtex(&["train", "--resume", p(tmp.path())]);
    assert_fails_with(&o, &["is not a vqtex run", "config.json"]);
}

#[test]
fn existing_run_is_not_overwritten_and_truncated_checkpoint_is_refused() {
    let (tmp, data) = dataset();
    let run = tmp.path().join("run");
    let o = train(&data, &run, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = fs::read(run.join("metrics.jsonl")).unwrap();
    let o = train(&data, &run, &[]);
    assert_fails_with(&o, &["already holds a run", "--resume"]);
    assert_eq!(fs::read(run.join("metrics.jsonl")).unwrap(), before);

    let ckpt = run.join("checkpoints/epoch-0001.safetensors");
    let bytes = fs::read(&ckpt).unwrap();
    fs::write(&ckpt, &bytes[..bytes.len() - 100]).unwrap();
    let o = vqtex(&["train", "--resume", p(&run), "--epochs", "2"]);
    assert_fails_with(&o, &["epoch-0001.safetensors", "damaged", "truncated"]);
}

#[test]
fn patient_from_regex_and_column_mapping() {
    let (tmp, data) = dataset();
    // A collection that names things its own way: nome_arquivo, classe (0/1), no patient column.
    let csv = fs::read_to_string(data.join("labels.csv")).unwrap();
    let mut out = String::from("nome_arquivo,classe\n");
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let label = if f[2] == "healthy" { "0" } else { "1" };
        out.push_str(&format!("{},{label}\n", f[0]));
    }
    fs::write(data.join("roi.csv"), out).unwrap();
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--labels",
        p(&data.join("roi.csv")),
        "--file-col",
        "nome_arquivo",
        "--label-col",
        "classe",
        "--patient-from",
        "p(\\d+)_",
        "--run",
        p(&tmp.path().join("run")),
        "--epochs",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let split = fs::read_to_string(tmp.path().join("run/split.csv")).unwrap();
    assert!(split.contains("01,healthy,"), "{split}");
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--labels",
        p(&data.join("roi.csv")),
        "--file-col",
        "nome_arquivo",
        "--label-col",
        "classe",
        "--patient-from",
        "ROI_",
        "--run",
        p(&tmp.path().join("run2")),
    ]);
    assert_fails_with(&o, &["--patient-from", "capture group"]);
}

//! Bring your own ultrasound, end to end through the CLI: .mat / PNG / DICOM frames -> frames folder
//! -> boxes -> HI-normalised ROIs -> `vqtex train`.

mod common;

use std::path::Path;

use common::*;

fn sample_frames() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/frames")
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sample_frames_regenerate_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("frames");
    let o = vqtex(&["synth", "--frames", "--out", p(&out), "--seed", "2024"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names = sorted_names(&out);
    assert_eq!(names.len(), 14, "12 frames, frames.csv, coords.csv");
    assert_eq!(names, sorted_names(&sample_frames()));
    for name in names {
        assert!(
            std::fs::read(out.join(&name)).unwrap()
                == std::fs::read(sample_frames().join(&name)).unwrap(),
            "sample-data/frames/{name} differs from the generator's output"
        );
    }
}

fn train_one_epoch(rois: &Path, run: &Path) {
    let o = vqtex(&[
        "train",
        "--data",
        p(rois),
        "--run",
        p(run),
        "--epochs",
        "1",
        "--batch",
        "8",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 1, "{metrics}");
}

#[test]
fn png_frames_and_mat_file_give_the_same_rois_and_train() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let coords = sample_frames().join("coords.csv");

    // PNG frames, labelled by their own frames.csv (file, patient, label columns).
    let o = vqtex(&[
        "import",
        "frames",
        p(&sample_frames()),
        "--labels",
        p(&sample_frames().join("frames.csv")),
        "--out",
        p(&t("png")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("12 frames of 4 patients (2 healthy, 2 steatotic)"),
        "{}",
        stdout(&o)
    );
    let o = vqtex(&[
        "roi",
        "extract",
        "--frames",
        p(&t("png")),
        "--coords",
        p(&coords),
        "--out",
        p(&t("rois-png")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("12 HI-normalised liver ROIs of 4 patients"),
        "{}",
        stdout(&o)
    );

    // The same frames through a .mat file (the generator is deterministic for seed and size).
    let o = vqtex(&[
        "synth",
        "--mat",
        "--out",
        p(&t("d.mat")),
        "--healthy",
        "2",
        "--steatotic",
        "2",
        "--per-patient",
        "3",
        "--size",
        "180x120",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = vqtex(&["import", "mat", p(&t("d.mat")), "--out", p(&t("mat"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frames_csv = std::fs::read_to_string(t("mat").join("frames.csv")).unwrap();
    assert!(
        frames_csv.starts_with("file,patient,frame,label,fat\np01_f0.png,01,0,healthy,0\n"),
        "{frames_csv}"
    );
    for f in ["p01_f0.png", "p04_f2.png"] {
        let a = image::open(t("mat").join(f)).unwrap().to_luma8();
        let b = image::open(sample_frames().join(f)).unwrap().to_luma8();
        assert!(a == b, "{f}: the .mat round trip changed pixels");
    }
    let o = vqtex(&[
        "roi",
        "extract",
        "--frames",
        p(&t("mat")),
        "--coords",
        p(&coords),
        "--out",
        p(&t("rois-mat")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read_to_string(t("rois-png").join("labels.csv")).unwrap();
    let b = std::fs::read_to_string(t("rois-mat").join("labels.csv")).unwrap();
    // The .mat file's fat reaches the ROI folder as a `fat` column; the rest is the same.
    let without_fat: Vec<String> = b
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    assert_eq!(
        a.lines().collect::<Vec<_>>(),
        without_fat,
        "same frames, same boxes: same HI"
    );
    assert!(
        a.starts_with("file,patient,label,hi\np01_f0.png,01,healthy,"),
        "{a}"
    );
    assert!(b.starts_with("file,patient,label,hi,fat\n"), "{b}");
    assert!(b.lines().nth(1).unwrap().ends_with(",0"), "{b}");

    train_one_epoch(&t("rois-mat"), &t("run"));
}

#[test]
fn dicom_frames_import() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("dcm");
    std::fs::create_dir(&src).unwrap();
    vqtex::data::dicom::write_test_dicom(
        &src.join("a.dcm"),
        "LIVER-1",
        40,
        60,
        2,
        false,
        vec![90; 4800],
    )
    .unwrap();
    vqtex::data::dicom::write_test_dicom(
        &src.join("b.dcm"),
        "LIVER-2",
        40,
        60,
        1,
        true,
        vec![200; 7200],
    )
    .unwrap();
    let sheet = tmp.path().join("labels.csv");
    std::fs::write(&sheet, "file,label\na.dcm,0\nb.dcm,1\n").unwrap();
    let out = tmp.path().join("frames");
    let o = vqtex(&[
        "import",
        "dicom",
        p(&src),
        "--labels",
        p(&sheet),
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("frames.csv")).unwrap(),
        "file,patient,frame,label,fat\npLIVER-1_f0.png,LIVER-1,0,healthy,\npLIVER-1_f1.png,LIVER-1,1,healthy,\npLIVER-2_f0.png,LIVER-2,0,steatosis,\n"
    );
}

#[test]
fn bad_inputs_fail_cleanly_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    // A v7.3 (HDF5) file.
    let mut v73 = vec![0u8; 1024];
    v73[..19].copy_from_slice(b"MATLAB 7.3 MAT-file");
    v73[512..520].copy_from_slice(b"\x89HDF\r\n\x1a\n");
    std::fs::write(t("new.mat"), v73).unwrap();
    let o = vqtex(&["import", "mat", p(&t("new.mat")), "--out", p(&t("o1"))]);
    assert_fails_with(&o, &["new.mat", "v7.3", "-v7", "savemat"]);
    // Said once: the message is not repeated by its own cause.
    assert_eq!(stderr(&o).matches("savemat").count(), 1, "{}", stderr(&o));
    assert!(!t("o1").exists());

    // Boxes missing for a frame, one outside, one for a frame that does not exist.
    let coords = std::fs::read_to_string(sample_frames().join("coords.csv")).unwrap();
    let mut lines: Vec<&str> = coords.lines().collect();
    lines.remove(3);
    lines[1] = "p01_f0.png,170,34,40,60";
    let bad = format!("{}\nghost.png,1,1,1,1\n", lines.join("\n"));
    std::fs::write(t("coords.csv"), bad).unwrap();
    let o = vqtex(&[
        "roi",
        "extract",
        "--frames",
        p(&sample_frames()),
        "--coords",
        p(&t("coords.csv")),
        "--out",
        p(&t("o2")),
    ]);
    assert_fails_with(
        &o,
        &[
            "3 problems",
            "liver box at x=170",
            "'ghost.png'",
            "1 frame without boxes",
            "p01_f2.png",
        ],
    );
    assert!(!t("o2").exists());

    // A folder that is not empty is refused.
    std::fs::create_dir(t("full")).unwrap();
    std::fs::write(t("full/keep.txt"), "mine").unwrap();
    let o = vqtex(&[
        "roi",
        "extract",
        "--frames",
        p(&sample_frames()),
        "--coords",
        p(&sample_frames().join("coords.csv")),
        "--out",
        p(&t("full")),
    ]);
    assert_fails_with(&o, &["is not empty"]);
    assert_eq!(sorted_names(&t("full")), ["keep.txt"]);
}

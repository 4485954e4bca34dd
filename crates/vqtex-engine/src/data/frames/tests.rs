use std::io::Cursor;

use super::*;
use crate::data::dicom::write_test_dicom;
use crate::data::mat::writer::{write_byra, PatientMeta, WriteOptions};

fn write_mat(path: &Path, n: usize, dims: [usize; 3]) {
    let metas: Vec<PatientMeta> = (0..n)
        .map(|i| PatientMeta {
            id: (i + 1) as f64,
            class: if i == 0 { 0.0 } else { 1.0 },
            fat: 5.0 * i as f64,
            dims,
        })
        .collect();
    let mut c = Cursor::new(Vec::new());
    write_byra(&mut c, &WriteOptions::default(), &metas, |i| {
        (0..dims.iter().product::<usize>())
            .map(|k| ((k + i) % 251) as u8)
            .collect()
    })
    .unwrap();
    std::fs::write(path, c.into_inner()).unwrap();
}

#[test]
fn import_mat_writes_frames_and_table() {
    let tmp = tempfile::tempdir().unwrap();
    let mat = tmp.path().join("d.mat");
    write_mat(&mat, 3, [2, 20, 30]);
    let out = tmp.path().join("frames");
    let mut seen = Vec::new();
    let s = import_mat(&mat, &out, |p| seen.push(p.id.clone())).unwrap();
    assert_eq!(seen, ["01", "02", "03"]);
    assert_eq!((s.patients, s.frames, s.healthy, s.steatotic), (3, 6, 1, 2));
    let recs = read_frames_csv(&out).unwrap();
    assert_eq!(recs.len(), 6);
    assert_eq!(recs[3].file, "p02_f1.png");
    assert_eq!(
        (recs[3].frame, recs[3].label, recs[3].fat),
        (1, Label::Steatosis, Some(5.0))
    );
    let img = read_gray_png(&out.join("p02_f1.png")).unwrap();
    assert_eq!(img.dimensions(), (30, 20));
    // Pixel (f=1, r=2, c=3) of patient index 1 is at k = 1 + 2 * (2 + 20 * 3) in the file.
    assert_eq!(img.get_pixel(3, 2).0[0] as usize, 1 + 2 * (2 + 20 * 3) + 1);
    let text = std::fs::read_to_string(out.join(FRAMES_CSV)).unwrap();
    assert!(
        text.starts_with("file,patient,frame,label,fat\np01_f0.png,01,0,healthy,0\n"),
        "{text}"
    );

    // A second import into the same folder is refused, and nothing there changes.
    let e = import_mat(&mat, &out, |_| {}).unwrap_err().to_string();
    assert!(e.contains("is not empty"), "{e}");
    assert_eq!(read_frames_csv(&out).unwrap().len(), 6);
}

#[test]
fn a_truncated_mat_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let mat = tmp.path().join("d.mat");
    write_mat(&mat, 3, [2, 20, 30]);
    let bytes = std::fs::read(&mat).unwrap();
    std::fs::write(&mat, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = tmp.path().join("frames");
    let e = import_mat(&mat, &out, |_| {}).unwrap_err().to_string();
    assert!(e.contains("d.mat") && e.contains("truncated"), "{e}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("d.mat")],
        "no partial output"
    );
}

fn png(path: &Path, w: u32, h: u32, v: u8) {
    save_gray(path, w, h, vec![v; (w * h) as usize]).unwrap();
}

#[test]
fn import_png_frames_with_a_sheet() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (name, v) in [("US_7_a.png", 10), ("US_7_b.png", 20), ("US_9_a.png", 30)] {
        png(&src.join(name), 40, 30, v);
    }
    let csv = tmp.path().join("labels.csv");
    std::fs::write(
        &csv,
        "file,label,fat\nUS_7_a.png,0,1\nUS_7_b.png,0,1\nUS_9_a.png,1,30\n",
    )
    .unwrap();
    let mut sheet = LabelSheet::new(csv.clone());
    sheet.patient_from = Some(Regex::new(r"US_(\d+)_").unwrap());
    let out = tmp.path().join("out");
    let s = import_files(&src, FrameKind::Png, &sheet, &out).unwrap();
    assert_eq!((s.patients, s.frames), (2, 3));
    let recs = read_frames_csv(&out).unwrap();
    let files: Vec<&str> = recs.iter().map(|r| r.file.as_str()).collect();
    assert_eq!(files, ["p7_f0.png", "p7_f1.png", "p9_f0.png"]);
    assert_eq!(
        read_gray_png(&out.join("p7_f1.png"))
            .unwrap()
            .get_pixel(0, 0)
            .0[0],
        20
    );

    // Missing and unlisted files, and a sheet without patients, are all listed at once.
    png(&src.join("extra.png"), 40, 30, 0);
    std::fs::write(
        &csv,
        "file,label\nUS_7_a.png,0\nUS_7_b.png,0\nUS_9_a.png,1\ngone.png,1\n",
    )
    .unwrap();
    let e = import_files(
        &src,
        FrameKind::Png,
        &LabelSheet::new(csv),
        &tmp.path().join("o2"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("3 problems"), "{e}");
    assert!(
        e.contains("extra.png: not in") && e.contains("'gone.png'") && e.contains("--patient-from"),
        "{e}"
    );
    assert!(!tmp.path().join("o2").exists());
}

#[test]
fn import_dicom_single_and_multi_frame_patient_from_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    write_test_dicom(
        &src.join("a.dcm"),
        "P1",
        20,
        30,
        3,
        false,
        (0..1800).map(|i| (i % 200) as u8).collect(),
    )
    .unwrap();
    write_test_dicom(&src.join("b.dcm"), "P2", 20, 30, 1, true, vec![100; 1800]).unwrap();
    let csv = tmp.path().join("labels.csv");
    std::fs::write(&csv, "file,label\na.dcm,healthy\nb.dcm,steatosis\n").unwrap();
    let out = tmp.path().join("out");
    let s = import_files(&src, FrameKind::Dicom, &LabelSheet::new(csv), &out).unwrap();
    assert_eq!((s.patients, s.frames, s.healthy, s.steatotic), (2, 4, 1, 1));
    let recs = read_frames_csv(&out).unwrap();
    assert_eq!(recs[2].file, "pP1_f2.png");
    assert_eq!(recs[3].patient, PatientId("P2".into()));
    let img = read_gray_png(&out.join("pP1_f2.png")).unwrap();
    assert_eq!(img.get_pixel(1, 0).0[0] as usize, (1200 + 1) % 200);
    assert_eq!(
        read_gray_png(&out.join("pP2_f0.png"))
            .unwrap()
            .get_pixel(5, 5)
            .0[0],
        100
    );
}

#[test]
fn frames_are_numbered_in_natural_order() {
    let mut v = vec![
        "US_7_10.png",
        "US_7_2.png",
        "US_7_1.png",
        "US_10_1.png",
        "US_7_02b.png",
    ];
    v.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        v,
        [
            "US_7_1.png",
            "US_7_2.png",
            "US_7_02b.png",
            "US_7_10.png",
            "US_10_1.png"
        ]
    );
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .or_else(|_| {
            std::process::Command::new("cmd")
                .args(["/C", "exit"])
                .spawn()
        })
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn staged_dir_removes_dead_partials_and_keeps_live_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let dead = tmp.path().join(format!(".out.partial-{}", dead_pid()));
    let live = tmp
        .path()
        .join(format!(".out.partial-{}", std::process::id()));
    let not_ours = tmp.path().join(".out.partial-notapid");
    for d in [&dead, &not_ours] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("x.png"), b"x").unwrap();
    }
    // Our own pid's folder is reused (emptied), not duplicated.
    std::fs::create_dir(&live).unwrap();
    std::fs::write(live.join("stale.png"), b"x").unwrap();
    let staged = StagedDir::new(&out).unwrap();
    assert_eq!(staged.path(), live.as_path());
    assert_eq!(std::fs::read_dir(&live).unwrap().count(), 0);
    if cfg!(target_os = "linux") {
        assert!(!dead.exists(), "partial folder of a dead process kept");
    }
    assert!(not_ours.exists());
    std::fs::write(staged.path().join("a.png"), b"a").unwrap();
    staged.commit().unwrap();
    assert!(out.join("a.png").is_file() && !live.exists());
}

#[cfg(target_os = "linux")]
#[test]
fn staged_dir_keeps_partials_of_live_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let live = tmp.path().join(format!(".out.partial-{}", child.id()));
    std::fs::create_dir(&live).unwrap();
    let staged = StagedDir::new(&tmp.path().join("out"));
    let kept = live.exists();
    let _ = child.kill();
    let _ = child.wait();
    drop(staged);
    assert!(kept, "partial folder of a live process removed");
}

#[test]
fn staged_dir_leaves_nothing_on_error_or_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = std::panic::catch_unwind(|| {
        let staged = StagedDir::new(&out).unwrap();
        std::fs::write(staged.path().join("a.png"), b"a").unwrap();
        panic!("a bug part way");
    });
    assert!(r.is_err());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let staged = StagedDir::new(&out).unwrap();
    std::fs::write(staged.path().join("a.png"), b"a").unwrap();
    // The output appears meanwhile and is not empty: the commit fails and leaves no partial.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("theirs.txt"), b"t").unwrap();
    assert!(staged.commit().is_err());
    let mut left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, [std::ffi::OsString::from("out")]);
    assert_eq!(std::fs::read(out.join("theirs.txt")).unwrap(), b"t");
}

#[cfg(unix)]
#[test]
fn staged_dir_refuses_links_files_and_odd_names() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, tmp.path().join("link")).unwrap();
    for out in ["link", "link/", "link/."] {
        let e = StagedDir::new(&tmp.path().join(out))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a symbolic link"), "{out}: {e}");
    }
    std::fs::write(tmp.path().join("file"), b"f").unwrap();
    let e = StagedDir::new(&tmp.path().join("file"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a folder"), "{e}");
    let e = StagedDir::new(&tmp.path().join("new/.."))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is not empty") || e.contains("cannot be an output"),
        "{e}"
    );
    // `new/../out` does not create `new`.
    let staged = StagedDir::new(&tmp.path().join("new/../out")).unwrap();
    staged.commit().unwrap();
    assert!(tmp.path().join("out").is_dir() && !tmp.path().join("new").exists());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// A frames folder with two frames, `frames.csv` rows given.
fn frames_folder(dir: &Path, rows: &str) {
    std::fs::create_dir_all(dir).unwrap();
    png(&dir.join("a.png"), 40, 30, 1);
    png(&dir.join("b.png"), 40, 30, 2);
    std::fs::write(
        dir.join(FRAMES_CSV),
        format!("file,patient,frame,label,fat\n{rows}"),
    )
    .unwrap();
}

#[cfg(unix)]
#[test]
fn frames_csv_names_stay_inside_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("v.png"), b"victim").unwrap();
    let dir = tmp.path().join("f");
    let abs = tmp.path().join("v.png").display().to_string();
    for (rows, needles) in [
        ("a.png,1,0,0,\n../v.png,1,1,0,\n", vec!["line 3", "'..'"]),
        (
            &format!("a.png,1,0,0,\n{abs},1,1,0,\n") as &str,
            vec!["line 3", "absolute path"],
        ),
        (
            "a.png,1,0,0,\nb.png,1,1,0,\na.png,1,2,0,\n",
            vec!["line 4", "listed twice: first on line 2"],
        ),
        (
            "a.png,1,0,0,\n./a.png,1,1,0,\n",
            vec!["line 3", "same file as 'a.png' on line 2"],
        ),
        (
            "a.png,1,0,0,\nsub/../a.png,1,1,0,\n",
            vec!["line 3", "'..'"],
        ),
    ] {
        frames_folder(&dir, rows);
        let e = read_frames_csv(&dir).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains("frames.csv") && e.contains(n), "{rows}: {e}");
        }
    }
    std::os::unix::fs::symlink(tmp.path().join("v.png"), dir.join("c.png")).unwrap();
    frames_folder(&dir, "a.png,1,0,0,\nc.png,1,1,0,\n");
    let e = read_frames_csv(&dir).unwrap_err().to_string();
    assert!(
        e.contains("line 3") && e.contains("symbolic link leading out"),
        "{e}"
    );
    assert_eq!(read_frames_csv_with(&dir, true).unwrap().len(), 2);
    // A link that stays inside is fine.
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(dir.join("b.png"), dir.join("sub/l.png")).unwrap();
    frames_folder(&dir, "a.png,1,0,0,\nsub/l.png,1,1,0,\n");
    assert_eq!(read_frames_csv(&dir).unwrap().len(), 2);
    assert_eq!(std::fs::read(tmp.path().join("v.png")).unwrap(), b"victim");
}

#[test]
fn a_sheet_naming_a_file_twice_names_both_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    png(&src.join("a.png"), 40, 30, 1);
    let csv = tmp.path().join("labels.csv");
    std::fs::write(
        &csv,
        "file,patient,label\na.png,1,0\n../a.png,1,0\na.png,1,1\n",
    )
    .unwrap();
    let e = import_files(
        &src,
        FrameKind::Png,
        &LabelSheet::new(csv),
        &tmp.path().join("o"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("labels.csv, line 3: '../a.png' leads out"),
        "{e}"
    );
    assert!(
        e.contains("labels.csv, line 4: 'a.png' is listed twice: first on line 2"),
        "{e}"
    );
    assert!(!tmp.path().join("o").exists());
}

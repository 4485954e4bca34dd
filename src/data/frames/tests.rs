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

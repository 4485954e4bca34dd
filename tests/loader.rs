//! The ROI folder loader and the patient-level splits.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;
use vqtex::data::split::{k_fold_by_patient, leave_one_patient_out};
use vqtex::data::{load_folder, Label, LoadOptions, PatientId, Side, Split};

#[test]
fn rgb_and_16_bit_pngs_become_8_bit_gray_and_numeric_labels_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    image::RgbImage::from_pixel(28, 28, image::Rgb([100, 100, 100]))
        .save(dir.join("a.png"))
        .unwrap();
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(28, 28, image::Luma([65535]))
        .save(dir.join("b.png"))
        .unwrap();
    fs::write(
        dir.join("labels.csv"),
        "file,patient,label\na.png,1,0\nb.png,2,1\n",
    )
    .unwrap();
    let d = load_folder(dir, &LoadOptions::default()).unwrap();
    assert_eq!(d.rois[0].pixels, vec![100u8; 784]);
    assert_eq!(d.rois[1].pixels, vec![255u8; 784]);
    assert_eq!(d.rois[0].label, Label::Healthy);
    assert_eq!(d.rois[1].label, Label::Steatosis);
}

#[test]
fn the_sample_data_loads_and_splits_like_the_paper() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let d = load_folder(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(d.len(), 550);
    let patients = d.patients();
    assert_eq!(patients.len(), 55);
    assert_eq!(
        patients
            .iter()
            .filter(|p| p.label == Label::Healthy)
            .count(),
        17
    );
    assert!(patients.iter().all(|p| p.rois == 10 && p.hi.is_some()));
    for seed in 0..5 {
        let s = Split::stratified(&d, 0.2, seed).unwrap();
        let test = d.indices(&s, Side::Test);
        let train = d.indices(&s, Side::Train);
        assert_eq!((train.len(), test.len()), (440, 110), "seed {seed}");
        let healthy_test = patients
            .iter()
            .filter(|p| p.label == Label::Healthy && s.test.contains(&p.id))
            .count();
        assert_eq!(healthy_test, 3);
        // No patient on both sides.
        let a: BTreeSet<&PatientId> = train.iter().map(|&i| &d.rois[i].patient).collect();
        let b: BTreeSet<&PatientId> = test.iter().map(|&i| &d.rois[i].patient).collect();
        assert!(a.is_disjoint(&b));
    }
    assert_ne!(
        Split::stratified(&d, 0.2, 1).unwrap(),
        Split::stratified(&d, 0.2, 2).unwrap()
    );
    assert_eq!(
        Split::stratified(&d, 0.2, 1).unwrap(),
        Split::stratified(&d, 0.2, 1).unwrap()
    );
}

#[test]
fn forced_split_file_is_checked_against_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("d"), 2, 2, 2);
    let d = load_folder(&data, &LoadOptions::default()).unwrap();
    let f = tmp.path().join("split.csv");
    fs::write(&f, "patient,split\n01,test\n02,train\n03,test\n04,train\n").unwrap();
    let s = Split::from_csv(&f, &d).unwrap();
    assert_eq!(s.test.len(), 2);
    assert_eq!(s.side(&PatientId("03".into())), Side::Test);
    fs::write(&f, "patient,split\n01,test\n02,train\n03,test\n").unwrap();
    let e = Split::from_csv(&f, &d).unwrap_err().to_string();
    assert!(e.contains("patient '04' has no split"), "{e}");
    fs::write(
        &f,
        "patient,split\n01,test\n02,train\n03,test\n04,train\n99,test\n",
    )
    .unwrap();
    let e = Split::from_csv(&f, &d).unwrap_err().to_string();
    assert!(e.contains("'99' is not in the dataset"), "{e}");
    fs::write(&f, "patient,split\n01,test\n02,test\n03,test\n04,test\n").unwrap();
    let e = Split::from_csv(&f, &d).unwrap_err().to_string();
    assert!(e.contains("no ROI on the training side"), "{e}");
}

#[test]
fn cross_validation_folds_never_leak_a_patient() {
    let patients: Vec<PatientId> = (0..30).map(|i| PatientId(format!("{}", i / 3))).collect();
    let labels: Vec<Label> = (0..30)
        .map(|i| {
            if i < 12 {
                Label::Healthy
            } else {
                Label::Steatosis
            }
        })
        .collect();
    let folds = leave_one_patient_out(&patients);
    assert_eq!(folds.len(), 10);
    let mut seen = 0;
    for f in &folds {
        assert_eq!(f.test.len(), 3);
        assert!(f.test.iter().all(|&i| patients[i] == f.held_out[0]));
        assert!(f.train.iter().all(|&i| patients[i] != f.held_out[0]));
        seen += f.test.len();
    }
    assert_eq!(seen, 30, "every ROI tested once");
    let folds = k_fold_by_patient(&patients, &labels, 5, 3);
    assert_eq!(folds.len(), 5);
    let mut all: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
    all.sort();
    assert_eq!(all, (0..30).collect::<Vec<_>>());
    for f in &folds {
        let tr: BTreeSet<&PatientId> = f.train.iter().map(|&i| &patients[i]).collect();
        let te: BTreeSet<&PatientId> = f.test.iter().map(|&i| &patients[i]).collect();
        assert!(tr.is_disjoint(&te));
    }
}

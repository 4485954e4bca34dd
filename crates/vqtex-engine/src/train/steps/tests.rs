use super::*;
use crate::data::PatientId;

fn roi(i: usize, label: Label) -> Roi {
    Roi {
        file: format!("p{i}_f0.png"),
        patient: PatientId(i.to_string()),
        label,
        pixels: (0..ROI_PIXELS)
            .map(|p| ((p + 17 * i) % 256) as u8)
            .collect(),
        hi: None,
        split: None,
        fat: None,
    }
}

fn rois() -> Vec<Roi> {
    (0..4)
        .map(|i| {
            roi(
                i,
                if i < 2 {
                    Label::Healthy
                } else {
                    Label::Steatosis
                },
            )
        })
        .collect()
}

/// Reconstructions of `n` ROIs whose every pixel is `level(epoch, k)`.
fn recons(n: usize, epoch: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|k| vec![(epoch * 10 + k) as f32 / 255.0; ROI_PIXELS])
        .collect()
}

fn level(epoch: u32, k: usize) -> u8 {
    (epoch as usize * 10 + k) as u8
}

#[test]
fn records_round_trip_with_the_originals_and_one_record_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    let owned = rois();
    let refs: Vec<&Roi> = owned.iter().collect();
    let mut w = StepWriter::start(&path, &refs, 0).unwrap();
    for e in 1..=5 {
        w.append(e, &recons(4, e)).unwrap();
    }
    let s = StepImages::open(dir.path()).unwrap().unwrap();
    assert_eq!(s.epochs(), vec![1, 2, 3, 4, 5]);
    assert_eq!(s.rois().len(), 4);
    for (r, o) in s.rois().iter().zip(&owned) {
        assert_eq!(r.pixels.to_vec(), o.pixels);
        assert_eq!((r.label, r.name.as_str()), (o.label, o.file.as_str()));
    }
    let at3 = s.at(3).unwrap().unwrap();
    assert_eq!(at3.len(), 4);
    for (k, img) in at3.iter().enumerate() {
        assert!(img.iter().all(|&p| p == level(3, k)), "ROI {k} of epoch 3");
    }
    assert_eq!(s.at(6).unwrap(), None);
    assert_eq!(s.at_or_before(9), Some(5));
    assert_eq!(s.at_or_before(0), None);
    let names: usize = owned.iter().map(|r| r.file.len()).sum();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        file_size(4, names, 5)
    );
    // 4 ROIs: 3140 bytes an epoch.
    assert_eq!(file_size(4, 0, 1) - file_size(4, 0, 0), 3140);
}

#[test]
fn quantising_clamps_to_the_grey_range() {
    assert_eq!(quantise(-0.5), 0);
    assert_eq!(quantise(0.5), 128);
    assert_eq!(quantise(1.0), 255);
    assert_eq!(quantise(7.0), 255);
    assert_eq!(quantise(f32::NAN), 0);
}

#[test]
fn a_torn_last_record_is_ignored_and_cut_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    let owned = rois();
    let refs: Vec<&Roi> = owned.iter().collect();
    let mut w = StepWriter::start(&path, &refs, 0).unwrap();
    for e in 1..=3 {
        w.append(e, &recons(4, e)).unwrap();
    }
    let whole = std::fs::metadata(&path).unwrap().len();
    // A kill mid-write: the epoch and part of the pixels of epoch 4.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&4u32.to_le_bytes()).unwrap();
    f.write_all(&[9u8; 1000]).unwrap();
    drop(f);
    let s = StepImages::open(dir.path()).unwrap().unwrap();
    assert_eq!(s.epochs(), vec![1, 2, 3]);
    assert!(s.at(3).unwrap().is_some());
    // Resuming from the checkpoint of epoch 3 cuts the torn tail, and the next epoch follows.
    let mut w = StepWriter::start(&path, &refs, 3).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
    w.append(4, &recons(4, 4)).unwrap();
    let s = StepImages::open(dir.path()).unwrap().unwrap();
    assert_eq!(s.epochs(), vec![1, 2, 3, 4]);
    assert!(s.at(4).unwrap().unwrap()[2]
        .iter()
        .all(|&p| p == level(4, 2)));
}

#[test]
fn resume_drops_the_epochs_after_its_checkpoint_and_appends_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    let owned = rois();
    let refs: Vec<&Roi> = owned.iter().collect();
    let mut w = StepWriter::start(&path, &refs, 0).unwrap();
    for e in 1..=6 {
        w.append(e, &recons(4, e)).unwrap();
    }
    // Killed after epoch 6, the last checkpoint being epoch 4: epochs 5 and 6 are trained again.
    let mut w = StepWriter::start(&path, &refs, 4).unwrap();
    assert_eq!(
        StepImages::open(dir.path()).unwrap().unwrap().epochs(),
        vec![1, 2, 3, 4]
    );
    for e in 5..=7 {
        // Other values than the first time: the records read are the new ones.
        w.append(e, &recons(4, e + 1)).unwrap();
    }
    let s = StepImages::open(dir.path()).unwrap().unwrap();
    assert_eq!(s.epochs(), (1..=7).collect::<Vec<u32>>());
    assert!(s.at(5).unwrap().unwrap()[0]
        .iter()
        .all(|&p| p == level(6, 0)));
    assert!(s.at(4).unwrap().unwrap()[0]
        .iter()
        .all(|&p| p == level(4, 0)));

    // A new run (resume_from 0), or other fixed ROIs, starts the file again.
    let other: Vec<Roi> = (4..8).map(|i| roi(i, Label::Healthy)).collect();
    let other_refs: Vec<&Roi> = other.iter().collect();
    StepWriter::start(&path, &other_refs, 4).unwrap();
    let s = StepImages::open(dir.path()).unwrap().unwrap();
    assert!(s.epochs().is_empty());
    assert_eq!(s.rois()[0].name, "p4_f0.png");
}

#[test]
fn an_epoch_written_twice_reads_as_its_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    let owned = rois();
    let refs: Vec<&Roi> = owned.iter().collect();
    let mut w = StepWriter::start(&path, &refs, 0).unwrap();
    w.append(1, &recons(4, 1)).unwrap();
    w.append(2, &recons(4, 2)).unwrap();
    w.append(2, &recons(4, 9)).unwrap();
    let s = StepImages::open(dir.path()).unwrap().unwrap();
    assert_eq!(s.epochs(), vec![1, 2]);
    assert!(s.at(2).unwrap().unwrap()[1]
        .iter()
        .all(|&p| p == level(9, 1)));
}

#[test]
fn damaged_or_foreign_files_are_refused_and_missing_ones_are_none() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(StepImages::open(dir.path()).unwrap(), None);
    let path = dir.path().join(FILE);
    let owned = rois();
    let refs: Vec<&Roi> = owned.iter().collect();
    StepWriter::start(&path, &refs, 0).unwrap();
    let good = std::fs::read(&path).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04 not ours".to_vec(), "shorter"),
        ([b"NOTSTEPS".as_slice(), &good[8..]].concat(), "not a vqtex"),
        (
            [&good[..8], &7u32.to_le_bytes()[..], &good[12..]].concat(),
            "version 7",
        ),
        (
            [&good[..16], &100_000u32.to_le_bytes()[..], &good[20..]].concat(),
            "100000 ROIs",
        ),
        (
            [&good[..12], &u32::MAX.to_le_bytes()[..], &good[16..]].concat(),
            "a header of",
        ),
        (good[..good.len() - 10].to_vec(), "shorter than its header"),
    ];
    for (bytes, needle) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let e = StepImages::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains(FILE), "{needle}: {e}");
    }
    // Bad reconstructions are refused, never written.
    std::fs::write(&path, &good).unwrap();
    let mut w = StepWriter::start(&path, &refs, 0).unwrap();
    assert!(w.append(1, &recons(3, 1)).is_err());
    assert!(w.append(1, &vec![vec![0.5; 10]; 4]).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), good);
}

#[test]
fn the_fixed_rois_are_two_of_each_class_spread_over_the_test_set() {
    let owned: Vec<Roi> = (0..10)
        .map(|i| {
            roi(
                i,
                if i % 3 == 0 {
                    Label::Steatosis
                } else {
                    Label::Healthy
                },
            )
        })
        .collect();
    let refs: Vec<&Roi> = owned.iter().collect();
    let fixed = fixed_rois(&refs);
    let files: Vec<&str> = fixed.iter().map(|r| r.file.as_str()).collect();
    // Healthy: 1 2 4 5 7 8 (stride 3) -> 1, 5; steatotic: 0 3 6 9 (stride 2) -> 0, 6.
    assert_eq!(files, ["p1_f0.png", "p5_f0.png", "p0_f0.png", "p6_f0.png"]);
    assert_eq!(pick_rois(&refs, 0), fixed);
    assert_ne!(pick_rois(&refs, 1), fixed);
}

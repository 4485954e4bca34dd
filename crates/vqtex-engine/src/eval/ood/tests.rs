use super::shift::{blur, invert, rotate90};
use super::*;
use crate::data::{load_folder, LoadOptions, ROI_PIXELS};
use crate::model::ModelConfig;
use crate::train::{self, LoadedRun};

/// A VQ-VAE trained a few epochs on the bundled sample data.
fn trained(dir: &std::path::Path, epochs: usize) -> LoadedRun {
    let data_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data");
    let opts = LoadOptions::default();
    let dataset = load_folder(&data_dir, &opts).unwrap();
    let job = train::new_job(train::NewRun {
        dir: dir.join("run"),
        model: ModelConfig::Vqvae(Default::default()),
        train: train::TrainConfig {
            epochs,
            lr: 1e-3,
            seed: 3,
            checkpoint_every: epochs,
            ..Default::default()
        },
        device: crate::device::DeviceSpec::Cpu,
        data_dir,
        load: &opts,
        dataset,
        split_file: None,
        split: None,
    })
    .unwrap();
    let handle = train::spawn(job);
    let events: Vec<train::Event> = handle.events.iter().collect();
    handle.thread.join().unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, train::Event::Finished { .. })),
        "{events:?}"
    );
    LoadedRun::open(&dir.join("run"), &candle_core::Device::Cpu).unwrap()
}

fn shifted(rois: &[&Roi], f: fn(&[u8]) -> Vec<u8>) -> Vec<Roi> {
    rois.iter()
        .map(|r| Roi {
            pixels: f(&r.pixels),
            ..(*r).clone()
        })
        .collect()
}

#[test]
fn test_rois_are_in_distribution_and_rotated_blurred_inverted_ones_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let run = trained(tmp.path(), 12);
    let ood = Ood::fit(&run).unwrap();
    let test: Vec<&Roi> = run
        .dataset
        .indices(&run.split, Side::Test)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect();
    let inside = ood.score(&run, &test).unwrap();
    assert_eq!(inside.len(), test.len());
    assert!(inside.iter().all(|r| r.vq_distance.is_some()));
    let median = {
        let mut s: Vec<f64> = inside.iter().map(|r| r.score).collect();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    // Unseen ROIs of the same kind sit within the training ROIs' range.
    assert!(
        (20.0..=90.0).contains(&median),
        "median test score {median}"
    );
    let mut aurocs = Vec::new();
    for (name, f) in [
        ("rotated 90 degrees", rotate90 as fn(&[u8]) -> Vec<u8>),
        ("blurred", blur),
        ("inverted", invert),
    ] {
        let out = shifted(&test, f);
        let out: Vec<&Roi> = out.iter().collect();
        let scored = ood.score(&run, &out).unwrap();
        let a = auroc(&inside, &scored).unwrap();
        let comp = |f: fn(&OodRoi) -> f64| {
            let truth: Vec<crate::data::Label> = inside
                .iter()
                .map(|_| crate::data::Label::Healthy)
                .chain(scored.iter().map(|_| crate::data::Label::Steatosis))
                .collect();
            let v: Vec<f64> = inside.iter().chain(&scored).map(f).collect();
            crate::eval::binary::roc_auc(&truth, &v).unwrap()
        };
        eprintln!(
            "{name}: AUROC {a:.3} recon {:.3} density {:.3} vq {:.3} texture {:.3}",
            comp(|r| r.recon_error),
            comp(|r| r.density),
            comp(|r| r.vq_distance.unwrap()),
            comp(|r| r.texture)
        );
        aurocs.push((name, a));
    }
    for (name, a) in aurocs {
        assert!(a >= 0.9, "{name}: AUROC {a:.3}");
    }
}

#[test]
fn shifts_do_what_they_say() {
    let p: Vec<u8> = (0..ROI_PIXELS).map(|i| (i % 251) as u8).collect();
    let r = rotate90(&p);
    // The first row becomes the last column.
    assert_eq!(r[27], p[0]);
    assert_eq!(r[27 * 28 + 27], p[27]);
    assert_eq!(rotate90(&rotate90(&rotate90(&rotate90(&p)))), p);
    assert_eq!(invert(&invert(&p)), p);
    assert_eq!(blur(&[100u8; ROI_PIXELS]), vec![100u8; ROI_PIXELS]);
}

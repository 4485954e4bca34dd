//! The Compare and Reconstructions jobs on real runs: three 1-epoch runs on a small synthetic
//! dataset, two on one split (vqvae, cae) and one on another (vae, another seed). The runs are
//! opened once each through the jobs' run cache.

use std::path::{Path, PathBuf};

use crate::data::folder::write_folder;
use crate::data::synth::{generate, SynthConfig};
use crate::data::LoadOptions;
use crate::runs::RunCache;
use crate::tui::jobs::{compare_runs, load_data, model};
use crate::tui::multirun::peer_runs;
use crate::tui::panes::form::Form;
use crate::tui::scheduler::Cancel;

/// Trains `model` for one epoch with `seed` (which also draws the split) and returns its run.
pub(super) fn train(model: &str, seed: &str, data: &Path, runs: &Path) -> PathBuf {
    let loaded = load_data(data, &LoadOptions::default()).unwrap();
    let mut form = Form::for_model(model, None);
    for (key, v) in [("epochs", "1"), ("batch", "32"), ("seed", seed)] {
        let i = form.fields.iter().position(|f| f.key == key).unwrap();
        form.set(i, v).unwrap();
    }
    let job =
        crate::tui::trainctl::new_job(&form, data, &LoadOptions::default(), &loaded.dataset, runs)
            .unwrap();
    let path = job.dir.path.clone();
    let handle = crate::train::spawn(job);
    for ev in handle.events.iter() {
        if let crate::train::Event::Failed { message } = ev {
            panic!("{model}: {message}");
        }
    }
    handle.thread.join().unwrap();
    // Run folders are named by the second: keep the three apart.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    path
}

#[test]
fn peers_and_comparisons_of_real_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let runs = tmp.path().join("runs");
    let rois = generate(&SynthConfig {
        seed: 5,
        healthy: 10,
        steatotic: 10,
        frames: 3,
    });
    write_folder(&data, &rois).unwrap();
    let vq = train("vqvae", "0", &data, &runs);
    let cae = train("cae", "0", &data, &runs);
    let vae = train("vae", "1", &data, &runs);

    // The cae run shares the vqvae run's split; the vae run does not.
    let peers = peer_runs(&vq, &runs);
    let models: Vec<crate::model::ModelKind> = peers.iter().map(|p| p.model).collect();
    assert_eq!(models, [crate::model::ModelKind::Cae]);
    assert_eq!(peer_runs(&vae, &runs).len(), 0);

    // `n` twice: the run is opened (dataset decoded, checkpoint loaded) and evaluated once.
    let cache = RunCache::new();
    let go = Cancel::new();
    let first = model::recon(&cache, &vq, 0, &go).unwrap();
    let second = model::recon(&cache, &vq, 1, &go).unwrap();
    assert_eq!(cache.opened(), 1);
    assert_eq!((first.pick, second.pick), (0, 1));
    let files = |d: &crate::tui::jobs::ReconData| -> Vec<String> {
        d.rois.iter().map(|r| r.file.clone()).collect()
    };
    assert_ne!(files(&first), files(&second), "another pick, other ROIs");
    assert_eq!(first.summary, second.summary);
    let thumbs = model::thumbs(&cache, &vq, &go).unwrap();
    assert_eq!((thumbs.epoch, cache.opened()), (1, 1));
    // A new checkpoint, as a training writes one: the model is loaded again, the dataset kept.
    let ck = vq.join("checkpoints");
    let tensors = ck.join("epoch-0001.safetensors");
    std::fs::copy(&tensors, ck.join("epoch-0002.safetensors")).unwrap();
    let sidecar = std::fs::read_to_string(ck.join("epoch-0001.json")).unwrap();
    let mut sidecar: serde_json::Value = serde_json::from_str(&sidecar).unwrap();
    sidecar["epoch"] = 2.into();
    std::fs::write(ck.join("epoch-0002.json"), sidecar.to_string()).unwrap();
    let newer = model::thumbs(&cache, &vq, &go).unwrap();
    assert_eq!((newer.epoch, cache.opened()), (2, 1));
    assert_eq!(
        newer.recons, thumbs.recons,
        "the same weights, under a new epoch"
    );
    // The other models' rows for the second pick: the cae run is opened, the vqvae one reused.
    let rows = crate::tui::jobs::peers(&cache, &vq, &runs, 1, &go).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].recons.len(), second.rois.len());
    assert_eq!(cache.opened(), 2);
    // A cancelled job stops at its next stage and opens nothing.
    let stop = Cancel::new();
    stop.cancel();
    let err = model::recon(&cache, &vae, 0, &stop).unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(compare_runs(&cache, std::slice::from_ref(&vae), &stop, |_| {}).is_err());
    assert_eq!(
        cache.opened(),
        3,
        "opening is one stage: it finishes, the rest is skipped"
    );

    // Marked cae first: the VQ-VAE is still the reference.
    let said = std::sync::Mutex::new(Vec::new());
    let d = compare_runs(&cache, &[cae.clone(), vq.clone(), vae.clone()], &go, |s| {
        said.lock().unwrap().push(s.to_string())
    })
    .unwrap();
    assert_eq!(cache.opened(), 3, "every run was open already");
    assert!(said.lock().unwrap().iter().any(|s| s.contains("(3/3)")));
    assert_eq!(d.rows.len(), 3);
    assert_eq!(d.rows[d.reference].model, crate::model::ModelKind::Vqvae);
    assert_eq!(d.pairings.len(), 2);
    let to_cae = d.pairings.iter().find(|p| p.other == 0).unwrap();
    let c = to_cae.result.as_ref().unwrap();
    assert_eq!(c.tests.len(), 4);
    assert!(c
        .tests
        .iter()
        .all(|t| t.roi_t.is_some_and(|r| (0.0..=1.0).contains(&r.p))));
    assert_eq!(c.rois, d.rows[0].summary.n);
    let to_vae = d.pairings.iter().find(|p| p.other == 2).unwrap();
    assert!(to_vae
        .result
        .as_ref()
        .unwrap_err()
        .contains("different test ROIs"));
    assert!(d.same_split(0) && d.same_split(1) && !d.same_split(2));
    for r in &d.rows {
        assert!(r.summary.mse.mean > 0.0 && r.summary.mse.mean < 1.0);
        assert!(r.lopo.n >= r.paper.n && r.paper.n > 0);
        assert!(r.lopo.latents.accuracy_ci95.is_some());
    }

    // The Latent pane's traversal starts from a test ROI; a VQ run has the z_e and re-quantised
    // rows and a code map, which decodes to the model's own reconstruction of the anchor.
    let t = model::traverse(&cache, &vq, (2, 5, 2.0), None, &go).unwrap();
    assert_eq!(t.images.len(), 5);
    assert_eq!(t.more.len(), 1);
    assert_eq!(t.more[0].0, "re-quantised");
    let a = t.anchor.unwrap();
    assert!(
        a.choices.contains(&a.index),
        "the default anchor is a test ROI"
    );
    let codes = a.codes.clone().unwrap();
    assert_eq!(codes.len(), 49);
    let decoded = model::decode_codes(&cache, &vq, &codes, &go).unwrap();
    let own = {
        let open = cache.open(&vq).unwrap();
        let run = open.lock();
        crate::eval::reconstruct(run.model.as_ref(), &[&run.dataset.rois[a.index]]).unwrap()
    };
    let diff = decoded
        .iter()
        .zip(&own[0])
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "decoded vs reconstruction: {diff}");
    let mut edited = codes.clone();
    edited[24] = (edited[24] + 1) % 64;
    assert_ne!(
        model::decode_codes(&cache, &vq, &edited, &go).unwrap(),
        decoded
    );
    edited[0] = 64;
    assert!(model::decode_codes(&cache, &vq, &edited, &go).is_err());
    // Another anchor on request; a CAE has one row, no code map, nothing to decode.
    let other = a.choices.iter().copied().find(|&i| i != a.index).unwrap();
    let t = model::traverse(&cache, &cae, (0, 3, 1.0), Some(other), &go).unwrap();
    let a = t.anchor.unwrap();
    assert_eq!((a.index, t.more.len(), a.codes), (other, 0, None));
    assert!(model::decode_codes(&cache, &cae, &codes, &go).is_err());

    // The Data pane's scores: every ROI of the data, most unusual first, with its reconstruction.
    let rois = crate::data::load_folder(&data, &LoadOptions::default())
        .unwrap()
        .rois;
    let v = model::ood(&cache, &vq, &rois, &go).unwrap();
    assert_eq!(v.rows.len(), rois.len());
    assert!(v
        .rows
        .windows(2)
        .all(|w| w[0].score.score >= w[1].score.score));
    assert!(v
        .rows
        .iter()
        .all(|r| r.recon.len() == crate::data::ROI_PIXELS));
}

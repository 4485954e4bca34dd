//! The training job: clipping, code statistics, panics, stops between checkpoints.

use super::*;
use crate::model::{ModelConfig, VqVaeConfig};

#[test]
fn clipping_scales_the_global_norm_down_to_the_limit() {
    let dev = Device::Cpu;
    let model = ModelConfig::Vqvae(VqVaeConfig::default())
        .build(1, &dev)
        .unwrap();
    let x = Tensor::ones((2, 1, 28, 28), candle_core::DType::F32, &dev).unwrap();
    let loss = (model.forward(&x, true).unwrap().loss * 1000.0).unwrap();
    let mut grads = loss.backward().unwrap();
    let before = clip_grad_norm(model.as_ref(), &mut grads, 0.5).unwrap();
    assert!(
        before > 0.5,
        "the test needs a large gradient, got {before}"
    );
    let after = clip_grad_norm(model.as_ref(), &mut grads, f64::INFINITY).unwrap();
    assert!((after - 0.5).abs() < 1e-3, "norm after clipping {after}");
}

/// A job on a tiny synthetic dataset in `dir`, with `edit` applied to its training settings
/// after validation (as a hand-edited config.json would arrive if nothing checked it).
fn job(dir: &std::path::Path, edit: impl FnOnce(&mut super::super::TrainConfig)) -> Job {
    use crate::data::synth::{generate, SynthConfig};
    let rois = generate(&SynthConfig {
        seed: 1,
        healthy: 2,
        steatotic: 3,
        frames: 4,
    });
    let dataset = crate::data::Dataset {
        root: dir.to_path_buf(),
        rois,
    };
    let mut new = super::super::new_job(super::super::NewRun {
        dir: dir.to_path_buf(),
        model: ModelConfig::Cae(Default::default()),
        train: super::super::TrainConfig {
            epochs: 4,
            ..Default::default()
        },
        device: crate::device::DeviceSpec::Cpu,
        data_dir: dir.to_path_buf(),
        load: &Default::default(),
        dataset,
        split_file: None,
        split: None,
    })
    .unwrap();
    edit(&mut new.config.train);
    new
}

fn events(handle: Handle) -> Vec<Event> {
    let evs: Vec<Event> = handle.events.iter().collect();
    handle
        .thread
        .join()
        .expect("the thread itself never panics");
    evs
}

#[test]
fn a_panic_in_training_is_reported_as_a_failure_never_as_finished() {
    let tmp = tempfile::tempdir().unwrap();
    // batch 0 makes `chunks` panic inside the epoch loop.
    let evs = events(spawn(job(tmp.path(), |t| t.batch = 0)));
    assert!(
        !evs.iter().any(|e| matches!(e, Event::Finished { .. })),
        "no Finished after a panic"
    );
    let Some(Event::Failed { message }) = evs.last() else {
        panic!("the last event is not a failure")
    };
    assert!(message.contains("internal error"), "{message}");
    // The lock went with the thread.
    assert!(super::super::lock::holder(tmp.path()).is_none());
}

#[test]
fn a_stop_writes_the_last_completed_epoch_even_between_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let handle = spawn(job(tmp.path(), |t| {
        t.checkpoint_every = 100;
        t.epochs = 1000;
    }));
    let mut seen = 0;
    for ev in handle.events.iter() {
        if let Event::Epoch(r) = &ev {
            seen = r.epoch;
            if seen == 2 {
                let _ = handle.commands.send(Command::Stop);
            }
        }
    }
    handle.thread.join().unwrap();
    let run = RunDir::new(tmp.path());
    let logged = run.records().last().map(|r| r.epoch);
    let saved = checkpoint::list(&run.checkpoints()).last().copied();
    assert!(seen >= 2);
    assert_eq!(saved, logged, "the last logged epoch is checkpointed");
}

#[test]
fn perplexity_of_a_uniform_histogram_is_the_number_of_codes() {
    let (used, ppl) = code_stats(&[5, 5, 5, 5, 0]);
    assert_eq!(used, 4);
    assert!((ppl - 4.0).abs() < 1e-9);
    assert_eq!(code_stats(&[0, 0]), (0, 0.0));
}

#[test]
fn checkpoints_written_alongside_training_hold_their_own_epoch_and_arrive_in_order() {
    // Written on a thread of their own while the next epoch trains: each must still hold the
    // weights and moments of its epoch (a copy, not the live weights), be announced in order,
    // and be on disk before the job says it finished.
    let (long, short) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let evs = events(spawn(job(long.path(), |t| {
        t.epochs = 4;
        t.keep_checkpoints = 10;
    })));
    let announced: Vec<usize> = evs
        .iter()
        .filter_map(|e| match e {
            Event::Checkpoint { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .collect();
    assert_eq!(announced, [1, 2, 3, 4]);
    assert!(matches!(
        evs.last(),
        Some(Event::Finished { epochs: 4, .. })
    ));
    let run = RunDir::new(long.path());
    assert_eq!(checkpoint::list(&run.checkpoints()), [1, 2, 3, 4]);
    // The same run stopped at epoch 3 (training is deterministic on the CPU) wrote the same
    // epoch-3 checkpoint, byte for byte.
    events(spawn(job(short.path(), |t| {
        t.epochs = 3;
        t.keep_checkpoints = 10;
    })));
    let bytes = |dir: &std::path::Path| {
        std::fs::read(
            RunDir::new(dir)
                .checkpoints()
                .join("epoch-0003.safetensors"),
        )
        .unwrap()
    };
    assert_eq!(bytes(long.path()), bytes(short.path()));
    assert_ne!(
        bytes(long.path()),
        std::fs::read(run.checkpoints().join("epoch-0004.safetensors")).unwrap()
    );
}

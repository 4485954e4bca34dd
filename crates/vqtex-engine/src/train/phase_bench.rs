//! Where one training epoch spends its time, phase by phase (the VQ-VAE's, and the MAE's). Not a test: it asserts
//! nothing and is ignored by default. Run it with
//! `cargo test -p vqtex-engine --release --features timing --lib train::phase_bench -- --ignored --nocapture`.

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::optim::Adam;
use super::worker::evaluate_losses;
use crate::model::testutil::batch;
use crate::model::{ModelConfig, ModelKind};

#[test]
#[ignore = "timing, not a test"]
fn vqvae_epoch_phases() {
    epoch_phases(ModelKind::Vqvae, 70, 10).unwrap();
}

#[test]
#[ignore = "timing, not a test"]
fn mae_epoch_phases() {
    epoch_phases(ModelKind::Mae, 21, 2).unwrap();
}

fn epoch_phases(kind: ModelKind, steps: usize, reps: usize) -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let cfg = ModelConfig::paper(kind);
    let model = cfg.build(0, &dev)?;
    let mut opt = Adam::new(model.params().iter().cloned().collect(), cfg.paper_lr())?;
    let x_train = batch(440);
    let x_test = batch(110);
    model.begin_training(&x_train, 0)?;
    let mut t = [0f64; 6];
    let mut fastest = f64::INFINITY;
    let warm = 2;
    for i in 0..steps + warm {
        let start = (i * 64) % 384;
        let xb = x_train.narrow(0, start, 64)?.contiguous()?;
        let t0 = Instant::now();
        let (out, grads) = model.forward_backward(&xb)?;
        let t1 = Instant::now();
        let _ = out.loss.to_scalar::<f32>()?;
        for (_, v) in &out.terms {
            let _ = v.to_scalar::<f32>()?;
        }
        let t2 = Instant::now();
        let t3 = Instant::now();
        opt.step(&grads)?;
        let t4 = Instant::now();
        let codes = out.codes.as_ref().map(|c| c.to_vec1::<u32>()).transpose()?;
        drop(codes);
        drop(out);
        drop(grads);
        let t5 = Instant::now();
        if i >= warm {
            fastest = fastest.min((t1 - t0).as_secs_f64());
            for (k, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]
                .iter()
                .enumerate()
            {
                t[k] += d.as_secs_f64() / steps as f64;
            }
        }
    }
    let hist = vec![0u64; 64];
    let t0 = Instant::now();
    for e in 0..reps {
        let mut h = hist.clone();
        h[0] = 1;
        model.end_epoch(&h, &x_train, 0, e)?;
    }
    let reseed = t0.elapsed().as_secs_f64() / reps as f64;
    let t0 = Instant::now();
    for _ in 0..reps {
        let _ = evaluate_losses(model.as_ref(), &x_test, 256)?;
    }
    let eval = t0.elapsed().as_secs_f64() / reps as f64;
    let per_step = t[..5].iter().sum::<f64>();
    println!("fastest forward+backward: {:.2} ms", fastest * 1e3);
    println!(
        "per step (ms): forward+backward {:.2}, read losses {:.2}, (unused) {:.2}, adam {:.2}, drop {:.2}; total {:.2}",
        t[0] * 1e3, t[1] * 1e3, t[2] * 1e3, t[3] * 1e3, t[4] * 1e3, per_step * 1e3
    );
    println!(
        "per epoch (ms): 7 steps {:.1}, end_epoch reseed {:.1}, test losses {:.1}; total {:.1}",
        7.0 * per_step * 1e3,
        reseed * 1e3,
        eval * 1e3,
        (7.0 * per_step + reseed + eval) * 1e3
    );
    let _ = Tensor::zeros(1, candle_core::DType::F32, &dev);
    Ok(())
}

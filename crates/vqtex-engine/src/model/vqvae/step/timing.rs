use super::*;
use crate::model::testutil::batch;
use crate::model::{Autoencoder, VqVaeConfig};
use candle_core::Device;
use std::time::Instant;

/// Seconds per call of `f`, best of a few rounds.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..20 {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / 20.0);
    }
    best
}

/// One part of a step (16 ROIs, one thread), whole and without its kernels:
/// `cargo test -p vqtex-engine --release --features timing --lib vqvae::step::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn part_of_a_step() {
    let m = VqVae::new(VqVaeConfig::default(), 11, &Device::Cpu).unwrap();
    m.begin_training(&batch(16), 2).unwrap();
    let x = batch(16);
    let p = layers(&m, (1, 28, 28)).unwrap();
    let xv = values(&x).unwrap();
    let whole = time(|| drop(part(&p, &xv, 16, 64, true)));
    let fwd = time(|| drop(part(&p, &xv, 16, 64, false)));
    let [_, ze] = p.stack.encode(&xv, 16, Activation::Identity);
    let near = time(|| drop(nearest(&ze, p.d, &p.book)));
    println!(
        "part of 16 ROIs: forward+backward {:.3} ms, forward {:.3} ms, nearest codes {:.3} ms",
        whole * 1e3,
        fwd * 1e3,
        near * 1e3
    );
}

/// A training step of 64 ROIs (the paper's batch) of each convolutional model, as training runs
/// it (`forward_backward`), and the evaluation forward pass:
/// `cargo test -p vqtex-engine --release --features timing --lib vqvae::step::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn a_step_of_each_convolutional_model() {
    use crate::model::ModelConfig;
    let x = batch(64);
    for name in ["vqvae", "cae", "vae", "vaenf"] {
        let m = ModelConfig::from_name(name)
            .unwrap()
            .build(3, &Device::Cpu)
            .unwrap();
        m.begin_training(&batch(16), 2).unwrap();
        let step = time(|| drop(m.forward_backward(&x).unwrap()));
        let eval = time(|| drop(m.forward(&x, false).unwrap()));
        println!(
            "{name}: training step {:.3} ms, evaluation forward {:.3} ms",
            step * 1e3,
            eval * 1e3
        );
    }
}

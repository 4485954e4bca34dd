use super::*;
use crate::model::testutil::batch;
use crate::model::{Vae, VaeConfig, VaeNf, VaeNfConfig};
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

/// The VAE+NF's step in pieces (64 ROIs; one part of 16 on one thread):
/// `cargo test -p vqtex-engine --release --features timing --lib vae::step::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn pieces_of_a_step() {
    // The VAE's coder and noise with the VAE+NF's flows.
    let m = Vae::new(VaeConfig::default(), 3, &Device::Cpu).unwrap();
    let nf = VaeNf::new(VaeNfConfig::default(), 3, &Device::Cpu).unwrap();
    let x = batch(64);
    let flows = Some(nf.flows());
    let layers = time(|| {
        std::hint::black_box(Layers::new(&m.coder, flows, 0.01, 64, (1, 28, 28)).unwrap());
    });
    let c = &m.coder;
    let convs = time(|| {
        std::hint::black_box(
            ConvStack::new([&c.enc1, &c.enc2], [&c.dec1, &c.dec2], (1, 28, 28)).unwrap(),
        );
    });
    let vals = time(|| {
        std::hint::black_box(values(c.fc_mu.weight.as_tensor()).unwrap());
        std::hint::black_box(values(c.fc_logvar.weight.as_tensor()).unwrap());
        std::hint::black_box(values(c.fc_dec.weight.as_tensor()).unwrap());
    });
    let w = values(c.fc_mu.weight.as_tensor()).unwrap();
    let perm = time(|| {
        for row in w.chunks_exact(1568) {
            std::hint::black_box(to_channels_last(row, 32, 49));
        }
    });
    let novflows = time(|| {
        std::hint::black_box(Layers::new(&m.coder, None, 0.01, 64, (1, 28, 28)).unwrap());
    });
    println!("layers without flows {:.3} ms", novflows * 1e3);
    let fl = time(|| drop(nf.flows().iter().map(Flow::new).collect::<Vec<_>>()));
    println!(
        "conv stack {:.3} ms, fc values {:.3} ms, fc_mu permutation {:.3} ms, flows {:.3} ms",
        convs * 1e3,
        vals * 1e3,
        perm * 1e3,
        fl * 1e3
    );
    let p = Layers::new(&m.coder, flows, 0.01, 64, (1, 28, 28)).unwrap();
    let xv = values(&x).unwrap();
    let eps = vec![0.5f32; 64 * p.d];
    let xs = &xv[..16 * 784];
    let whole = time(|| drop(part(&p, xs, &eps[..16 * p.d], 16, 64, true)));
    let fwd = time(|| drop(part(&p, xs, &eps[..16 * p.d], 16, 64, false)));
    let step = time(|| drop(forward_backward(&m.coder, flows, 0.01, &m.noise, &x).unwrap()));
    println!(
        "layers {:.3} ms, part of 16 forward+backward {:.3} ms, forward {:.3} ms, step of 64 {:.3} ms",
        layers * 1e3,
        whole * 1e3,
        fwd * 1e3,
        step * 1e3
    );
}

use super::*;
use crate::model::testutil::batch;
use crate::model::{Autoencoder, CaeConfig};
use candle_core::Device;

/// Largest absolute difference, relative to the largest magnitude of `want`.
fn rel_diff(got: &Tensor, want: &Tensor) -> f32 {
    let (g, w) = (values(got).unwrap(), values(want).unwrap());
    assert_eq!(g.len(), w.len());
    let scale = w.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-12);
    g.iter()
        .zip(&w)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()))
        / scale
}

#[test]
fn matches_candles_forward_and_backward() {
    let m = Cae::new(CaeConfig::default(), 11, &Device::Cpu).unwrap();
    // One ROI per part, uneven parts and grouped images.
    for n in [3, 5, 24] {
        let x = batch(n);
        assert!(applies(&m, &x));
        let (out, grads) = forward_backward(&m, &x).unwrap();
        let want = m.forward(&x, true).unwrap();
        let want_grads = want.loss.backward().unwrap();
        assert!(out.codes.is_none());
        assert!(rel_diff(&out.recon, &want.recon) <= 1e-5);
        assert!(rel_diff(&out.loss, &want.loss) <= 1e-5);
        assert_eq!(out.terms.len(), want.terms.len());
        for ((name, t), (wname, wt)) in out.terms.iter().zip(&want.terms) {
            assert_eq!(name, wname);
            assert!(rel_diff(t, wt) <= 1e-5, "{name}");
        }
        for (name, var) in m.params().iter() {
            let got = grads.get(var.as_tensor()).expect("a gradient");
            let want = want_grads
                .get(var.as_tensor())
                .expect("a reference gradient");
            assert_eq!(got.dims(), want.dims(), "{name}");
            let d = rel_diff(got, want);
            assert!(d <= 1e-4, "{name}: relative difference {d}");
        }
    }
}

#[test]
fn training_uses_the_hand_written_step_and_is_repeatable() {
    let m = Cae::new(CaeConfig::default(), 17, &Device::Cpu).unwrap();
    let x = batch(64);
    let (a, ga) = m.forward_backward(&x).unwrap();
    let (b, gb) = forward_backward(&m, &x).unwrap();
    assert_eq!(values(&a.loss).unwrap(), values(&b.loss).unwrap());
    for (name, var) in m.params().iter() {
        let (u, v) = (ga.get(var.as_tensor()), gb.get(var.as_tensor()));
        assert_eq!(
            values(u.unwrap()).unwrap(),
            values(v.unwrap()).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn evaluation_forward_matches_candles() {
    let m = Cae::new(CaeConfig::default(), 13, &Device::Cpu).unwrap();
    let x = batch(7);
    let got = forward(&m, &x).unwrap();
    // The CAE has no training-only behaviour: candle's training-mode pass is the reference.
    let want = m.forward(&x, true).unwrap();
    assert!(rel_diff(&got.recon, &want.recon) <= 1e-5);
    assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
    // What `forward(x, false)` now returns on the CPU.
    let eval = m.forward(&x, false).unwrap();
    assert_eq!(values(&eval.recon).unwrap(), values(&got.recon).unwrap());
}

use super::*;
use crate::model::testutil::{
    assert_grads_close, assert_grads_equal, assert_same_output, batch, rel_diff,
};
use crate::model::{Autoencoder, CaeConfig};
use candle_core::Device;

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
        assert_same_output(&out, &want);
        assert_grads_close(&m, &grads, &want_grads, 1e-4);
    }
}

#[test]
fn training_uses_the_hand_written_step_and_is_repeatable() {
    let m = Cae::new(CaeConfig::default(), 17, &Device::Cpu).unwrap();
    let x = batch(64);
    let (a, ga) = m.forward_backward(&x).unwrap();
    let (b, gb) = forward_backward(&m, &x).unwrap();
    assert_eq!(values(&a.loss).unwrap(), values(&b.loss).unwrap());
    assert_grads_equal(&m, &ga, &gb);
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

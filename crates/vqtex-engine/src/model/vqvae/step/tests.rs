use super::*;
use crate::model::testutil::{
    assert_grads_close, assert_grads_equal, assert_same_output, batch, rel_diff,
};
use crate::model::{Autoencoder, VqVaeConfig};
use candle_core::Device;

#[test]
fn matches_candles_forward_and_backward() {
    let m = VqVae::new(VqVaeConfig::default(), 11, &Device::Cpu).unwrap();
    m.begin_training(&batch(16), 2).unwrap();
    // Two different batch sizes: one image per work unit and grouped units.
    for n in [5, 24] {
        let x = batch(n);
        assert!(applies(&m, &x));
        let (out, grads) = forward_backward(&m, &x).unwrap();
        let want = m.forward(&x, true).unwrap();
        let want_grads = want.loss.backward().unwrap();
        let codes = out.codes.as_ref().unwrap().to_vec1::<u32>().unwrap();
        let want_codes = want.codes.as_ref().unwrap().to_vec1::<u32>().unwrap();
        assert_eq!(codes, want_codes);
        assert_same_output(&out, &want);
        assert_grads_close(&m, &grads, &want_grads, 1e-4);
    }
}

#[test]
fn a_step_is_bitwise_repeatable_whichever_thread_runs_which_part() {
    let m = VqVae::new(VqVaeConfig::default(), 17, &Device::Cpu).unwrap();
    m.begin_training(&batch(16), 4).unwrap();
    let x = batch(64);
    let (a, ga) = forward_backward(&m, &x).unwrap();
    for _ in 0..3 {
        let (b, gb) = forward_backward(&m, &x).unwrap();
        assert_eq!(values(&a.loss).unwrap(), values(&b.loss).unwrap());
        assert_grads_equal(&m, &ga, &gb);
    }
}

#[test]
fn evaluation_forward_matches_candles() {
    let m = VqVae::new(VqVaeConfig::default(), 13, &Device::Cpu).unwrap();
    m.begin_training(&batch(16), 3).unwrap();
    let x = batch(7);
    let got = forward(&m, &x).unwrap();
    let want = m.forward(&x, true).unwrap();
    assert!(rel_diff(&got.recon, &want.recon) <= 1e-5);
    assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
    assert_eq!(
        got.codes.unwrap().to_vec1::<u32>().unwrap(),
        want.codes.unwrap().to_vec1::<u32>().unwrap()
    );
    // What `forward(x, false)` now returns on the CPU.
    let eval = m.forward(&x, false).unwrap();
    assert_eq!(values(&eval.recon).unwrap(), values(&got.recon).unwrap());
}

#[test]
fn nearest_agrees_with_the_candle_lookup() {
    let m = VqVae::new(VqVaeConfig::default(), 4, &Device::Cpu).unwrap();
    m.begin_training(&batch(8), 1).unwrap();
    let z_e = m.encode_continuous(&batch(6)).unwrap();
    let want = m.quantize(&z_e).unwrap().codes.to_vec1::<u32>().unwrap();
    // One latent vector a row, as the step holds them.
    let rows = z_e.permute((0, 2, 3, 1)).unwrap();
    let got = nearest(&values(&rows).unwrap(), 32, &values(m.codebook()).unwrap());
    assert_eq!(got, want);
    assert!(
        want.iter().any(|&c| c != want[0]),
        "the test needs varied codes"
    );
}

use super::*;
use crate::model::testutil::{assert_same_output, batch, rel_diff};
use crate::model::{Autoencoder, Vae, VaeConfig, VaeNf, VaeNfConfig};
use candle_core::Device;

/// `step` (the hand-written step of one model) against candle's forward and backward on `reference`
/// (a model built with the same seed: the same parameters and the same noise stream, so both draw
/// the same eps), for a few batch sizes in turn.
fn check(step: &dyn Autoencoder, reference: &dyn Autoencoder) {
    // One ROI per part, uneven parts and grouped images.
    for n in [3, 5, 24] {
        let x = batch(n);
        assert!(applies(step.params(), &x));
        let (out, grads) = step.forward_backward(&x).unwrap();
        let want = reference.forward(&x, true).unwrap();
        let want_grads = want.loss.backward().unwrap();
        assert_eq!(out.terms.len(), 2);
        assert_same_output(&out, &want);
        let pairs = step.params().iter().zip(reference.params().iter());
        for ((name, var), (_, wvar)) in pairs {
            let got = grads.get(var.as_tensor()).expect("a gradient");
            let want = want_grads
                .get(wvar.as_tensor())
                .expect("a reference gradient");
            assert_eq!(got.dims(), want.dims(), "{name}");
            let d = rel_diff(got, want);
            assert!(d <= 1e-4, "{name} (batch {n}): relative difference {d}");
        }
    }
}

#[test]
fn the_vae_step_matches_candles_forward_and_backward() {
    let cfg = VaeConfig::default();
    let model = || Vae::new(cfg.clone(), 11, &Device::Cpu).unwrap();
    check(&model(), &model());
}

#[test]
fn the_vae_nf_step_matches_candles_forward_and_backward() {
    // beta 1 rather than the paper's 0.01, so that the flows' terms weigh in the gradients.
    let cfg = VaeNfConfig {
        beta: 1.0,
        ..VaeNfConfig::default()
    };
    let model = || VaeNf::new(cfg.clone(), 11, &Device::Cpu).unwrap();
    check(&model(), &model());
    let paper = || VaeNf::new(VaeNfConfig::default(), 12, &Device::Cpu).unwrap();
    check(&paper(), &paper());
}

#[test]
fn a_step_draws_fresh_noise_and_is_repeatable_with_the_same_stream() {
    let model = || Vae::new(VaeConfig::default(), 5, &Device::Cpu).unwrap();
    let (a, b) = (model(), model());
    let x = batch(8);
    let first = a.forward_backward(&x).unwrap().0;
    let second = a.forward_backward(&x).unwrap().0;
    assert_ne!(
        values(&first.recon).unwrap(),
        values(&second.recon).unwrap()
    );
    let again = b.forward_backward(&x).unwrap().0;
    assert_eq!(values(&first.recon).unwrap(), values(&again.recon).unwrap());
    assert_eq!(values(&first.loss).unwrap(), values(&again.loss).unwrap());
}

#[test]
fn channels_last_permutations_invert_each_other() {
    let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let cl = to_channels_last(&v, 3, 4);
    // Channel 1 of position 2 was at 1 * 4 + 2.
    assert_eq!(cl[2 * 3 + 1], 6.0);
    assert_eq!(to_channels_first(&cl, 3, 4), v);
}

/// The evaluation forward pass (eps = 0, no gradients) against candle's.
fn check_eval(got: Output, want: Output) {
    assert!(rel_diff(&got.recon, &want.recon) <= 1e-5);
    assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
    for ((name, t), (wname, wt)) in got.terms.iter().zip(&want.terms) {
        assert_eq!(name, wname);
        assert!(rel_diff(t, wt) <= 1e-5, "{name}");
    }
}

#[test]
fn evaluation_forward_passes_match_candles_and_draw_no_noise() {
    let x = batch(7);
    let vae = Vae::new(VaeConfig::default(), 13, &Device::Cpu).unwrap();
    check_eval(
        vae.forward(&x, false).unwrap(),
        vae.candle_forward(&x, false).unwrap(),
    );
    let cfg = VaeNfConfig {
        beta: 1.0,
        ..VaeNfConfig::default()
    };
    let nf = VaeNf::new(cfg.clone(), 13, &Device::Cpu).unwrap();
    check_eval(
        nf.forward(&x, false).unwrap(),
        nf.candle_forward(&x, false).unwrap(),
    );
    // Evaluations left the noise stream where it was: the next training step draws what a fresh
    // model's first step draws.
    let fresh = VaeNf::new(cfg, 13, &Device::Cpu).unwrap();
    let a = nf.forward_backward(&x).unwrap().0;
    let b = fresh.forward_backward(&x).unwrap().0;
    assert_eq!(values(&a.loss).unwrap(), values(&b.loss).unwrap());
}

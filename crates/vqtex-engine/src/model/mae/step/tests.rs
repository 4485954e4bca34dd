use super::*;
use crate::model::testutil::{
    assert_grads_close, assert_grads_equal, assert_same_output, batch, rel_diff,
};
use crate::model::{Autoencoder, MaeConfig};
use candle_core::Device;

fn small(seed: u64) -> Mae {
    let cfg = MaeConfig {
        width: 32,
        depth: 2,
        decoder_width: 16,
        decoder_depth: 1,
        ..MaeConfig::default()
    };
    Mae::new(cfg, seed, &Device::Cpu).unwrap()
}

/// Loss, terms, reconstruction and every parameter's gradient of the hand-written step against
/// `forward_masked` + candle's backward, with the same masks.
fn check_against_candle(m: &Mae, n: usize) {
    let x = batch(n);
    assert!(applies(m, &x));
    let masks = m.train_masks(n).unwrap();
    let (out, grads) = forward_backward(m, &x, &masks).unwrap();
    let want = m.forward_masked(&x, &masks).unwrap();
    let want_grads = want.loss.backward().unwrap();
    assert!(out.codes.is_none());
    assert_same_output(&out, &want);
    assert_grads_close(m, &grads, &want_grads, 1e-4);
    for (name, var) in m.params().iter() {
        let got = grads.get(var.as_tensor()).expect("a gradient");
        let norm = values(got).unwrap().iter().map(|v| v * v).sum::<f32>();
        assert!(norm > 0.0, "{name}: zero gradient");
    }
}

#[test]
fn matches_candles_forward_and_backward_on_a_small_mae() {
    let m = small(3);
    // One ROI a part, and uneven parts.
    for n in [1, 3, 7] {
        check_against_candle(&m, n);
    }
}

#[test]
fn matches_candles_forward_and_backward_on_the_paper_mae() {
    let m = Mae::new(MaeConfig::default(), 5, &Device::Cpu).unwrap();
    check_against_candle(&m, 3);
}

#[test]
fn training_steps_draw_the_same_masks_as_candles_path() {
    // Two models of one seed: the trait's step (hand-written) and forward + backward (candle)
    // take the same masks from the model's stream, twice in a row.
    let (a, b) = (small(9), small(9));
    let x = batch(4);
    for _ in 0..2 {
        let (got, _) = a.forward_backward(&x).unwrap();
        let want = b.forward(&x, true).unwrap();
        assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
        assert!(rel_diff(&got.recon, &want.recon) <= 1e-5);
    }
}

#[test]
fn evaluation_forward_matches_candles() {
    let m = small(13);
    let x = batch(5);
    let masks = m.eval_masks(&x).unwrap();
    let want = m.forward_masked(&x, &masks).unwrap();
    // What `forward(x, false)` returns on the CPU.
    let got = m.forward(&x, false).unwrap();
    assert!(rel_diff(&got.recon, &want.recon) <= 1e-5);
    assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
    assert_eq!(
        values(&got.recon).unwrap(),
        values(&forward(&m, &x, &masks).unwrap().recon).unwrap()
    );
}

#[test]
fn a_step_is_bitwise_repeatable_and_reuses_its_buffers_across_batch_sizes() {
    let m = small(17);
    let masks = |n: usize| Masks((0..n).map(|i| vec![i % 49, 20, 30 + i % 5]).collect());
    let fix = |mut ms: Masks| {
        for v in &mut ms.0 {
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), 3);
        }
        ms
    };
    let (x, mk) = (batch(9), fix(masks(9)));
    let (a, ga) = forward_backward(&m, &x, &mk).unwrap();
    // A smaller batch in between leaves the next step unchanged.
    forward_backward(&m, &batch(2), &fix(masks(2))).unwrap();
    let (b, gb) = forward_backward(&m, &x, &mk).unwrap();
    assert_eq!(values(&a.loss).unwrap(), values(&b.loss).unwrap());
    assert_grads_equal(&m, &ga, &gb);
}

#[test]
fn bad_masks_are_errors() {
    let m = small(1);
    let x = batch(2);
    let two = |a: Vec<usize>, b: Vec<usize>| Masks(vec![a, b]);
    assert!(forward(&m, &x, &two(vec![1, 2], vec![3])).is_err());
    assert!(forward(&m, &x, &two(vec![1, 49], vec![3, 4])).is_err());
    assert!(forward(&m, &x, &two(vec![1, 1], vec![3, 4])).is_err());
    assert!(forward(&m, &x, &Masks(vec![vec![1]])).is_err());
    assert!(forward(&m, &x, &two(vec![1, 2], vec![3, 4])).is_ok());
}

#[test]
fn a_large_evaluation_batch_runs_in_slices_with_the_same_results() {
    let m = small(21);
    let n = EVAL_SLICE + 9;
    let x = batch(n);
    let masks = m.eval_masks(&x).unwrap();
    let got = forward(&m, &x, &masks).unwrap();
    let want = run(&m, &Weights::new(&m).unwrap(), &x, &masks, false)
        .unwrap()
        .0;
    assert!(rel_diff(&got.recon, &want.recon) <= 1e-6);
    assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
    for ((name, t), (wname, wt)) in got.terms.iter().zip(&want.terms) {
        assert_eq!(name, wname);
        assert!(rel_diff(t, wt) <= 1e-5, "{name}");
    }
    assert_eq!(got.terms.len(), 2);
}

#[test]
fn a_step_gives_the_same_bits_on_one_thread_as_on_the_pool() {
    let m = small(23);
    let x = batch(6);
    let masks = m.train_masks(6).unwrap();
    let (a, ga) = forward_backward(&m, &x, &masks).unwrap();
    // A task of `for_parts` runs every kernel it calls inline, on its own thread.
    let one = std::sync::Mutex::new(None);
    crate::model::ops::par::for_parts(1, |_| {
        *one.lock().unwrap() = Some(forward_backward(&m, &x, &masks).unwrap());
    });
    let (b, gb) = one.into_inner().unwrap().unwrap();
    assert_eq!(values(&a.loss).unwrap(), values(&b.loss).unwrap());
    assert_eq!(values(&a.recon).unwrap(), values(&b.recon).unwrap());
    assert_grads_equal(&m, &ga, &gb);
}

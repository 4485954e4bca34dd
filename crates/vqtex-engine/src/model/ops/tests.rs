//! Each op against candle's reference ops: forward and gradients w.r.t. input, weight and bias.

use candle_core::{DType, Device, Result, Tensor, Var};

use super::{conv2d, conv2d_act, conv_transpose2d, conv_transpose2d_act, Activation};

/// Relative tolerance: max |a - b| / max |b|.
const TOL: f32 = 1e-4;

/// A deterministic generator of values in [-1, 1) (64-bit LCG, top 24 bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn tensor(&mut self, dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| self.next()).collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }
}

/// Shapes of one case: input `[b, c_in, h, w]`, kernel `kh x kw`.
#[derive(Debug, Clone, Copy)]
struct Case {
    b: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
}

#[allow(clippy::too_many_arguments)]
const fn case(
    b: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
) -> Case {
    Case {
        b,
        c_in,
        c_out,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
    }
}

fn rel_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.dims(), want.dims(), "shapes differ");
    let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap();
    let scale = want.abs().unwrap().max_all().unwrap();
    let (diff, scale) = (
        diff.to_scalar::<f32>().unwrap(),
        scale.to_scalar::<f32>().unwrap(),
    );
    diff / scale.max(f32::MIN_POSITIVE)
}

fn assert_close(got: &Tensor, want: &Tensor, what: &str, c: &Case) {
    let e = rel_err(got, want);
    assert!(e <= TOL, "{what}: relative error {e:e} for {c:?}");
}

fn activate(y: Tensor, act: Activation) -> Result<Tensor> {
    match act {
        Activation::Identity => Ok(y),
        Activation::Relu => y.relu(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(&y),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Conv,
    ConvTranspose,
}

/// Runs the op and candle's reference on the same random data, and compares the outputs and the
/// gradients of `sum(y * r)` (a random `r`) w.r.t. the input (when `track_input`), weight and bias.
fn check(kind: Kind, c: Case, act: Activation, track_input: bool, seed: u64) {
    let mut rng = Lcg(seed);
    let w_dims = match kind {
        Kind::Conv => [c.c_out, c.c_in, c.kh, c.kw],
        Kind::ConvTranspose => [c.c_in, c.c_out, c.kh, c.kw],
    };
    let x = Var::from_tensor(&rng.tensor(&[c.b, c.c_in, c.h, c.w])).unwrap();
    let w = Var::from_tensor(&rng.tensor(&w_dims)).unwrap();
    let b = Var::from_tensor(&rng.tensor(&[c.c_out])).unwrap();
    let x_in = if track_input {
        x.as_tensor().clone()
    } else {
        x.as_tensor().detach()
    };
    let (xr, wr, br) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
    let (y, y_ref) = match kind {
        Kind::Conv => (
            conv2d_act(&x_in, wr, br, c.stride, c.pad, act).unwrap(),
            reference_conv2d(&x_in, wr, &c),
        ),
        Kind::ConvTranspose => (
            conv_transpose2d_act(&x_in, wr, br, c.stride, c.pad, act).unwrap(),
            x_in.conv_transpose2d(wr, c.pad, 0, c.stride, 1).unwrap(),
        ),
    };
    let y_ref = y_ref
        .broadcast_add(&br.reshape((1, (), 1, 1)).unwrap())
        .unwrap();
    let y_ref = activate(y_ref, act).unwrap();
    assert_close(&y, &y_ref, "forward", &c);

    let r = rng.tensor(y_ref.dims());
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let grads_ref = (&y_ref * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let mut params = vec![("weight", wr), ("bias", br)];
    if track_input {
        params.push(("input", xr));
    } else {
        assert!(grads.get(xr).is_none(), "a detached input got a gradient");
    }
    for (what, t) in params {
        let g = grads.get(t).unwrap_or_else(|| panic!("no {what} gradient"));
        let g_ref = grads_ref.get(t).expect("reference gradient");
        assert_close(g, g_ref, &format!("{what} gradient"), &c);
    }
}

/// candle's `x.conv2d(w, pad, stride, 1, 1)`. candle 0.11's conv2d backward sizes the input
/// gradient from the height alone, and fails when `(h + 2 pad - kh) % stride` differs from
/// `(w + 2 pad - kw) % stride`. For those shapes the same convolution is written as explicit zero
/// padding, a cut of the trailing rows/columns that no patch reads, and a conv2d without padding:
/// equal values, and gradients that candle's autograd gets right.
fn reference_conv2d(x: &Tensor, w: &Tensor, c: &Case) -> Tensor {
    let rem = |n: usize, k: usize| (n + 2 * c.pad - k) % c.stride;
    let (rh, rw) = (rem(c.h, c.kh), rem(c.w, c.kw));
    if rh == rw {
        return x.conv2d(w, c.pad, c.stride, 1, 1).unwrap();
    }
    let xp = x.pad_with_zeros(2, c.pad, c.pad).unwrap();
    let xp = xp.pad_with_zeros(3, c.pad, c.pad).unwrap();
    let xp = xp.narrow(2, 0, c.h + 2 * c.pad - rh).unwrap();
    let xp = xp.narrow(3, 0, c.w + 2 * c.pad - rw).unwrap();
    xp.conv2d(w, 0, c.stride, 1, 1).unwrap()
}

/// Odd sizes, stride 1 and 2, padding 0 and 1, kernels 3 and 4 (and one 3x4), including
/// geometries where the last rows/columns of the input fall outside every patch.
const CONV_CASES: [Case; 9] = [
    case(2, 3, 5, 7, 9, 3, 3, 1, 0),
    case(3, 2, 4, 8, 5, 4, 4, 2, 1),
    case(1, 1, 3, 6, 6, 3, 3, 2, 1),
    case(2, 4, 3, 11, 10, 4, 4, 1, 1),
    case(3, 5, 2, 9, 7, 3, 3, 2, 0),
    case(2, 3, 2, 10, 9, 3, 3, 2, 0),
    case(5, 2, 3, 5, 5, 4, 4, 2, 0),
    case(2, 3, 4, 7, 8, 3, 4, 2, 1),
    case(4, 6, 7, 13, 11, 4, 4, 1, 0),
];

const CONV_TRANSPOSE_CASES: [Case; 8] = [
    case(2, 3, 5, 4, 5, 3, 3, 1, 0),
    case(3, 2, 4, 5, 3, 4, 4, 2, 1),
    case(2, 4, 3, 6, 7, 3, 3, 2, 1),
    case(1, 3, 2, 7, 5, 4, 4, 1, 1),
    case(3, 2, 3, 3, 4, 3, 3, 2, 0),
    case(2, 3, 2, 4, 5, 3, 4, 2, 1),
    case(4, 5, 6, 9, 7, 4, 4, 2, 0),
    case(2, 7, 3, 5, 6, 3, 3, 1, 1),
];

#[test]
fn conv2d_matches_candle_on_random_shapes() {
    for (i, c) in CONV_CASES.into_iter().enumerate() {
        check(Kind::Conv, c, Activation::Identity, true, 1 + i as u64);
    }
}

#[test]
fn conv_transpose2d_matches_candle_on_random_shapes() {
    for (i, c) in CONV_TRANSPOSE_CASES.into_iter().enumerate() {
        check(
            Kind::ConvTranspose,
            c,
            Activation::Identity,
            true,
            100 + i as u64,
        );
    }
}

#[test]
fn fused_activations_match_candle() {
    for act in [Activation::Relu, Activation::Sigmoid] {
        for (i, c) in CONV_CASES.into_iter().take(4).enumerate() {
            check(Kind::Conv, c, act, true, 200 + i as u64);
        }
        for (i, c) in CONV_TRANSPOSE_CASES.into_iter().take(4).enumerate() {
            check(Kind::ConvTranspose, c, act, true, 300 + i as u64);
        }
    }
}

#[test]
fn vqvae_encoder_shapes_match_candle() {
    // conv 1->64 k4 s2 p1 (28->14) on the data (no input gradient), then 64->32 (14->7).
    check(
        Kind::Conv,
        case(64, 1, 64, 28, 28, 4, 4, 2, 1),
        Activation::Identity,
        false,
        7,
    );
    check(
        Kind::Conv,
        case(64, 1, 64, 28, 28, 4, 4, 2, 1),
        Activation::Identity,
        true,
        8,
    );
    check(
        Kind::Conv,
        case(64, 64, 32, 14, 14, 4, 4, 2, 1),
        Activation::Identity,
        true,
        9,
    );
}

#[test]
fn vqvae_decoder_shapes_match_candle() {
    // convT 32->64 k4 s2 p1 (7->14), then 64->1 (14->28).
    check(
        Kind::ConvTranspose,
        case(64, 32, 64, 7, 7, 4, 4, 2, 1),
        Activation::Identity,
        true,
        10,
    );
    check(
        Kind::ConvTranspose,
        case(64, 64, 1, 14, 14, 4, 4, 2, 1),
        Activation::Identity,
        true,
        11,
    );
}

#[test]
fn vqvae_shapes_with_fused_activations_match_candle() {
    check(
        Kind::Conv,
        case(64, 1, 64, 28, 28, 4, 4, 2, 1),
        Activation::Relu,
        false,
        12,
    );
    check(
        Kind::Conv,
        case(64, 64, 32, 14, 14, 4, 4, 2, 1),
        Activation::Relu,
        true,
        15,
    );
    check(
        Kind::ConvTranspose,
        case(64, 32, 64, 7, 7, 4, 4, 2, 1),
        Activation::Relu,
        true,
        13,
    );
    check(
        Kind::ConvTranspose,
        case(64, 64, 1, 14, 14, 4, 4, 2, 1),
        Activation::Sigmoid,
        true,
        14,
    );
}

#[test]
fn non_contiguous_inputs_are_handled() {
    let mut rng = Lcg(21);
    // x stored as [b, h, c, w], seen as [b, c, h, w]; w stored transposed too.
    let x = Var::from_tensor(&rng.tensor(&[2, 6, 3, 5])).unwrap();
    let w = Var::from_tensor(&rng.tensor(&[3, 4, 3, 3])).unwrap();
    let b = Var::from_tensor(&rng.tensor(&[4])).unwrap();
    let xv = x.as_tensor().transpose(1, 2).unwrap();
    let wv = w.as_tensor().transpose(0, 1).unwrap();
    assert!(!xv.is_contiguous() && !wv.is_contiguous());
    let y = conv2d(&xv, &wv, b.as_tensor(), 1, 1).unwrap();
    let y_ref = xv
        .conv2d(&wv, 1, 1, 1, 1)
        .unwrap()
        .broadcast_add(&b.as_tensor().reshape((1, (), 1, 1)).unwrap())
        .unwrap();
    let c = case(2, 3, 4, 6, 5, 3, 3, 1, 1);
    assert_close(&y, &y_ref, "forward", &c);
    let r = rng.tensor(y.dims());
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let grads_ref = (&y_ref * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (what, t) in [("input", &x), ("weight", &w), ("bias", &b)] {
        let g = grads.get(t.as_tensor()).unwrap();
        assert_close(g, grads_ref.get(t.as_tensor()).unwrap(), what, &c);
    }
}

#[test]
fn other_dtypes_fall_back_to_candle() {
    let mut rng = Lcg(31);
    let x = rng.tensor(&[2, 3, 5, 5]).to_dtype(DType::F64).unwrap();
    let w = rng.tensor(&[3, 2, 4, 4]).to_dtype(DType::F64).unwrap();
    let b = rng.tensor(&[2]).to_dtype(DType::F64).unwrap();
    let y = conv_transpose2d(&x, &w, &b, 2, 1).unwrap();
    assert_eq!(y.dtype(), DType::F64);
    let y_ref = x
        .conv_transpose2d(&w, 1, 0, 2, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, (), 1, 1)).unwrap())
        .unwrap();
    let e = (y - y_ref).unwrap().abs().unwrap().max_all().unwrap();
    assert!(e.to_scalar::<f64>().unwrap() < 1e-12);
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let mut rng = Lcg(41);
    let x = rng.tensor(&[2, 3, 5, 5]);
    // Channel mismatch.
    assert!(conv2d(&x, &rng.tensor(&[4, 2, 3, 3]), &rng.tensor(&[4]), 1, 0).is_err());
    assert!(conv_transpose2d(&x, &rng.tensor(&[2, 4, 3, 3]), &rng.tensor(&[4]), 1, 0).is_err());
    // Wrong bias length.
    assert!(conv2d(&x, &rng.tensor(&[4, 3, 3, 3]), &rng.tensor(&[3]), 1, 0).is_err());
    // Kernel larger than the padded input.
    assert!(conv2d(&x, &rng.tensor(&[4, 3, 8, 8]), &rng.tensor(&[4]), 1, 1).is_err());
    // Stride 0.
    assert!(conv2d(&x, &rng.tensor(&[4, 3, 3, 3]), &rng.tensor(&[4]), 0, 0).is_err());
}

/// The same inputs give bit-identical gradients however the thread pool schedules the work units
/// (the weight gradient sums per-unit partials in a fixed order): `--seed` depends on it.
#[test]
fn gradients_are_bitwise_deterministic_at_batch_64() {
    let mut rng = Lcg(11);
    let x = Var::from_tensor(&rng.tensor(&[64, 64, 14, 14])).unwrap();
    let w = Var::from_tensor(&rng.tensor(&[32, 64, 4, 4])).unwrap();
    let b = Var::from_tensor(&rng.tensor(&[32])).unwrap();
    let wt = Var::from_tensor(&rng.tensor(&[32, 64, 4, 4])).unwrap();
    let bt = Var::from_tensor(&rng.tensor(&[64])).unwrap();
    let run = || {
        let z = conv2d(x.as_tensor(), &w, &b, 2, 1).unwrap();
        let y = conv_transpose2d(&z, &wt, &bt, 2, 1).unwrap();
        let loss = y.sqr().unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        [
            x.as_tensor(),
            w.as_tensor(),
            b.as_tensor(),
            wt.as_tensor(),
            bt.as_tensor(),
        ]
        .iter()
        .map(|t| {
            g.get(t)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect::<Vec<_>>()
    };
    let first = run();
    for _ in 0..5 {
        let again = run();
        for (a, b) in first.iter().zip(&again) {
            assert!(a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
    }
}

#[test]
fn transpose_backward_matches_the_two_kernels_apart() {
    use super::kernels::{self, Geom};
    let mut rng = Lcg(21);
    // The VQ-VAE decoder's two layers (small and large weights), and an odd geometry.
    for (x, wd, stride, pad, masked) in [
        ([9, 64, 14, 14], [64, 1, 4, 4], 2, 1, true),
        ([9, 32, 7, 7], [32, 64, 4, 4], 2, 1, false),
        ([3, 5, 6, 4], [5, 3, 3, 2], 1, 1, true),
    ] {
        let g = Geom::conv_transpose(x.into(), wd.into(), stride, pad).unwrap();
        let vals = |dims: &[usize], rng: &mut Lcg| -> Vec<f32> {
            rng.tensor(dims).flatten_all().unwrap().to_vec1().unwrap()
        };
        let a = vals(&x, &mut rng);
        let w = vals(&wd, &mut rng);
        let src = vals(&[x[0], g.c, g.h, g.w], &mut rng);
        let mask = masked.then(|| a.clone());
        let (dx, dw) = kernels::transpose_backward(&src, &a, x[0], &w, x[1], &g, mask.as_deref());
        let mut want_dx =
            kernels::image_to_grid(&src, x[0], &w, x[1], &g, None, Activation::Identity);
        if masked {
            want_dx = kernels::act_grad(&want_dx, &a, Activation::Relu);
        }
        let want_dw = kernels::weight_grad(&a, &src, x[0], x[1], &g);
        let t = |v: &[f32]| Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap();
        assert!(rel_err(&t(&dx), &t(&want_dx)) <= TOL, "dx of {x:?}");
        assert!(rel_err(&t(&dw), &t(&want_dw)) <= TOL, "dw of {x:?}");
        assert!(dx.iter().any(|v| *v != 0.0) && dw.iter().any(|v| *v != 0.0));
    }
}

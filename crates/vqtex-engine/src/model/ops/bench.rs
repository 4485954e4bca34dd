//! Timing of the ops against candle's on the VQ-VAE's layer shapes. Not a test: it asserts
//! nothing and is ignored by default. Run it with
//! `cargo test -p vqtex-engine --release --features timing --lib model::ops::bench -- --ignored --nocapture`.

use std::time::Instant;

use candle_core::{Device, Tensor, Var};

use super::{conv2d, conv_transpose2d};

fn tensor(dims: &[usize], seed: u64) -> Tensor {
    let mut s = seed;
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu).expect("as many values as the shape holds")
}

/// Seconds per call of `f`, best of a few rounds.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let n = 10;
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / n as f64);
    }
    best
}

/// (name, transposed, x dims, w dims, input needs a gradient)
type Layer = (&'static str, bool, [usize; 4], [usize; 4], bool);

#[test]
#[ignore = "timing, not a test"]
fn vqvae_layers() {
    let layers: [Layer; 4] = [
        (
            "enc1 conv 1->64 28->14",
            false,
            [64, 1, 28, 28],
            [64, 1, 4, 4],
            false,
        ),
        (
            "enc2 conv 64->32 14->7",
            false,
            [64, 64, 14, 14],
            [32, 64, 4, 4],
            true,
        ),
        (
            "dec1 convT 32->64 7->14",
            true,
            [64, 32, 7, 7],
            [32, 64, 4, 4],
            true,
        ),
        (
            "dec2 convT 64->1 14->28",
            true,
            [64, 64, 14, 14],
            [64, 1, 4, 4],
            true,
        ),
    ];
    let mut totals = [0f64; 4];
    for (name, transposed, xd, wd, track) in layers {
        let x = Var::from_tensor(&tensor(&xd, 1)).unwrap();
        let x = if track {
            x.as_tensor().clone()
        } else {
            x.as_tensor().detach()
        };
        let w = Var::from_tensor(&tensor(&wd, 2)).unwrap();
        let c_out = if transposed { wd[1] } else { wd[0] };
        let b = Var::from_tensor(&tensor(&[c_out], 3)).unwrap();
        let (w, b) = (w.as_tensor(), b.as_tensor());
        let ours = |x: &Tensor| match transposed {
            true => conv_transpose2d(x, w, b, 2, 1).unwrap(),
            false => conv2d(x, w, b, 2, 1).unwrap(),
        };
        let theirs = |x: &Tensor| {
            let y = match transposed {
                true => x.conv_transpose2d(w, 1, 0, 2, 1).unwrap(),
                false => x.conv2d(w, 1, 2, 1, 1).unwrap(),
            };
            y.broadcast_add(&b.reshape((1, (), 1, 1)).unwrap()).unwrap()
        };
        let y = ours(&x);
        let r = tensor(y.dims(), 4);
        // One gemm-equivalent pass: 2 * c_in * c_out * k * k * (grid positions) * batch.
        let grid = if transposed {
            xd[2] * xd[3]
        } else {
            y.dims()[2] * y.dims()[3]
        };
        let flops = 2.0 * (wd[0] * wd[1] * wd[2] * wd[3] * grid * xd[0]) as f64;
        let passes = if track { 3.0 } else { 2.0 };
        let fwd = time(|| drop(ours(&x)));
        let fwd_ref = time(|| drop(theirs(&x)));
        let step = time(|| {
            drop(
                (ours(&x) * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap(),
            )
        });
        let step_ref = time(|| {
            drop(
                (theirs(&x) * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap(),
            )
        });
        println!(
            "{name}: forward {:.3} ms ({:.1} GFLOP/s) vs candle {:.3} ms; \
             forward+backward {:.3} ms ({:.1} GFLOP/s) vs candle {:.3} ms",
            fwd * 1e3,
            flops / fwd / 1e9,
            fwd_ref * 1e3,
            step * 1e3,
            passes * flops / step / 1e9,
            step_ref * 1e3,
        );
        totals[0] += fwd;
        totals[1] += fwd_ref;
        totals[2] += step;
        totals[3] += step_ref;
    }
    println!(
        "all four layers: forward {:.3} ms vs candle {:.3} ms; forward+backward {:.3} ms vs candle {:.3} ms",
        totals[0] * 1e3,
        totals[1] * 1e3,
        totals[2] * 1e3,
        totals[3] * 1e3
    );
}

#[test]
#[ignore = "timing, not a test"]
fn kernels_alone() {
    use super::kernels::{self, Geom};
    use super::Activation;
    let g2 = Geom {
        c: 64,
        h: 14,
        w: 14,
        kh: 4,
        kw: 4,
        oh: 7,
        ow: 7,
        stride: 2,
        pad: 1,
    };
    let g1 = Geom {
        c: 1,
        h: 28,
        w: 28,
        kh: 4,
        kw: 4,
        oh: 14,
        ow: 14,
        stride: 2,
        pad: 1,
    };
    let img = |g: &Geom| vec![0.5f32; 64 * g.image()];
    let grid = |g: &Geom, m: usize| vec![0.5f32; 64 * m * g.grid()];
    let only = std::env::var("LAYER").unwrap_or_default();
    for (name, g, m) in [
        ("layer1 (c 1, m 64)", g1, 64),
        ("layer2 (c 64, m 32)", g2, 32),
    ] {
        if !name.starts_with(&only) {
            continue;
        }
        let w = vec![0.1f32; m * g.rows()];
        let (x, a) = (img(&g), grid(&g, m));
        let flops = 2.0 * (64 * m * g.rows() * g.grid()) as f64;
        let t1 = time(|| {
            drop(kernels::image_to_grid(
                &x,
                64,
                &w,
                m,
                &g,
                None,
                Activation::Identity,
            ))
        });
        let t2 = time(|| {
            drop(kernels::grid_to_image(
                &a,
                64,
                &w,
                m,
                &g,
                None,
                Activation::Identity,
            ))
        });
        let t3 = time(|| drop(kernels::weight_grad(&a, &x, 64, m, &g)));
        println!(
            "{name}: image_to_grid {:.3} ms ({:.1} GFLOP/s), grid_to_image {:.3} ms ({:.1}), weight_grad {:.3} ms ({:.1})",
            t1 * 1e3, flops / t1 / 1e9, t2 * 1e3, flops / t2 / 1e9, t3 * 1e3, flops / t3 / 1e9
        );
    }
}

#[test]
#[ignore = "timing, not a test"]
fn fused_relu() {
    use super::{conv2d_act, conv_transpose2d_act, Activation};
    // enc1 (conv 1->64, 28->14) and dec1 (convT 32->64, 7->14), each followed by a ReLU.
    let x1 = tensor(&[64, 1, 28, 28], 1);
    let w1 = Var::from_tensor(&tensor(&[64, 1, 4, 4], 2)).unwrap();
    let x3 = Var::from_tensor(&tensor(&[64, 32, 7, 7], 1)).unwrap();
    let w3 = Var::from_tensor(&tensor(&[32, 64, 4, 4], 2)).unwrap();
    let b = Var::from_tensor(&tensor(&[64], 3)).unwrap();
    let r = tensor(&[64, 64, 14, 14], 4);
    let step = |y: Tensor| drop((y * &r).unwrap().sum_all().unwrap().backward().unwrap());
    let (x3, w1, w3, b) = (
        x3.as_tensor(),
        w1.as_tensor(),
        w3.as_tensor(),
        b.as_tensor(),
    );
    let relu = Activation::Relu;
    let separate = time(|| {
        step(conv2d(&x1, w1, b, 2, 1).unwrap().relu().unwrap());
        step(conv_transpose2d(x3, w3, b, 2, 1).unwrap().relu().unwrap());
    });
    let fused = time(|| {
        step(conv2d_act(&x1, w1, b, 2, 1, relu).unwrap());
        step(conv_transpose2d_act(x3, w3, b, 2, 1, relu).unwrap());
    });
    println!(
        "enc1 + dec1 forward+backward: conv then candle relu {:.3} ms, fused relu {:.3} ms",
        separate * 1e3,
        fused * 1e3
    );
    // candle's relu alone, forward and backward, on one [64, 64, 14, 14] activation.
    let v = Var::from_tensor(&tensor(&[64, 64, 14, 14], 5)).unwrap();
    let with = time(|| step(v.as_tensor().relu().unwrap()));
    let without = time(|| step(v.as_tensor().clone()));
    println!(
        "candle relu forward+backward on [64, 64, 14, 14]: {:.3} ms",
        (with - without) * 1e3
    );
}

/// The channels-last kernels of one part of a VQ-VAE training step (16 ROIs, one thread), stage
/// by stage: `cargo test -p vqtex-engine --release --features timing --lib model::ops::bench::nhwc_stages -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn nhwc_stages() {
    use super::kernels::Geom;
    use super::nhwc::{self, Weight};
    use super::Activation::{Identity, Relu, Sigmoid};
    let n = 16;
    let vals = |len: usize, seed: u64| tensor(&[len], seed).to_vec1::<f32>().unwrap();
    let g1 = Geom::conv((1, 1, 28, 28), (64, 1, 4, 4), 2, 1).unwrap();
    let g2 = Geom::conv((1, 64, 14, 14), (32, 64, 4, 4), 2, 1).unwrap();
    let g3 = Geom::conv_transpose((1, 32, 7, 7), (32, 64, 4, 4), 2, 1).unwrap();
    let g4 = Geom::conv_transpose((1, 64, 14, 14), (64, 1, 4, 4), 2, 1).unwrap();
    let w1 = Weight::new(&vals(64 * 16, 1), 64, g1);
    let w2 = Weight::new(&vals(32 * 1024, 2), 32, g2);
    let w3 = Weight::new(&vals(32 * 1024, 3), 32, g3);
    let w4 = Weight::new(&vals(64 * 16, 4), 64, g4);
    let (b64, b32, b1) = (vals(64, 5), vals(32, 6), vals(1, 7));
    let x = vals(n * 784, 8);
    let h1 = nhwc::conv(&x, n, &w1, Some(&b64), Relu);
    let ze = nhwc::conv(&h1, n, &w2, Some(&b32), Identity);
    let h3 = nhwc::transpose(&ze, n, &w3, Some(&b64), Relu, None);
    let y = nhwc::transpose(&h3, n, &w4, Some(&b1), Sigmoid, None);
    let mf = |a: usize, b: usize, c: usize| 2.0 * (n * a * b * c) as f64;
    type Stage<'a> = (&'static str, f64, Box<dyn Fn() + 'a>);
    let stages: Vec<Stage> = vec![
        (
            "enc1 conv",
            mf(196, 16, 64),
            Box::new(|| drop(nhwc::conv(&x, n, &w1, Some(&b64), Relu))),
        ),
        (
            "enc2 conv",
            mf(49, 1024, 32),
            Box::new(|| drop(nhwc::conv(&h1, n, &w2, Some(&b32), Identity))),
        ),
        (
            "dec1 convT",
            mf(49, 1024, 32),
            Box::new(|| drop(nhwc::transpose(&ze, n, &w3, Some(&b64), Relu, None))),
        ),
        (
            "dec2 convT",
            mf(196, 16, 64),
            Box::new(|| drop(nhwc::transpose(&h3, n, &w4, Some(&b1), Sigmoid, None))),
        ),
        (
            "dec2 backward",
            2.0 * mf(196, 16, 64),
            Box::new(|| drop(nhwc::transpose_backward(&y, &h3, n, &w4, Some(&h3)))),
        ),
        (
            "dec1 backward",
            2.0 * mf(49, 1024, 32),
            Box::new(|| drop(nhwc::transpose_backward(&h3, &ze, n, &w3, None))),
        ),
        (
            "enc2 backward",
            2.0 * mf(49, 1024, 32),
            Box::new(|| drop(nhwc::conv_backward(&ze, &h1, n, &w2, true, Some(&h1)))),
        ),
        (
            "enc1 backward",
            mf(196, 16, 64),
            Box::new(|| drop(nhwc::conv_backward(&h1, &x, n, &w1, false, None))),
        ),
    ];
    let mut total = (0.0, 0.0);
    for (name, flops, f) in &stages {
        let t = time(f);
        total = (total.0 + t, total.1 + flops);
        println!("{name}: {:.3} ms, {:.1} GFLOP/s", t * 1e3, flops / t / 1e9);
    }
    println!(
        "all stages: {:.3} ms, {:.1} GFLOP/s (one thread)",
        total.0 * 1e3,
        total.1 / total.0 / 1e9
    );
}

/// The gemm alone on the big layers' shapes (one group of 5 ROIs), against a large square one:
/// `cargo test -p vqtex-engine --release --features timing --lib model::ops::bench::gemm_shapes -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a test"]
fn gemm_shapes() {
    use super::gemm::{matmul, MatMut, MatRef};
    let vals = |len: usize, seed: u64| tensor(&[len], seed).to_vec1::<f32>().unwrap();
    let (ld, rows, m) = (245, 1024, 32);
    let cols = vals(ld * rows, 1);
    let w = vals(m * rows, 2);
    let a = vals(ld * m, 3);
    let mut out = vec![0f32; ld * rows];
    let mut dw = vec![0f32; m * rows];
    let mut small = vec![0f32; ld * m];
    let fl = 2.0 * (ld * rows * m) as f64;
    let t = time(|| {
        let w_t = MatRef::row_major(&w, m, rows).t();
        matmul(
            MatMut::row_major(&mut small, ld, m),
            MatRef::row_major(&cols, ld, rows),
            w_t,
            false,
        )
    });
    println!("[245,1024]x[1024,32]: {:.1} GFLOP/s", fl / t / 1e9);
    let t = time(|| {
        let w = MatRef::row_major(&w, m, rows);
        matmul(
            MatMut::row_major(&mut out, ld, rows),
            MatRef::row_major(&a, ld, m),
            w,
            false,
        )
    });
    println!("[245,32]x[32,1024]: {:.1} GFLOP/s", fl / t / 1e9);
    let t = time(|| {
        let a_t = MatRef::row_major(&a, ld, m).t();
        matmul(
            MatMut::row_major(&mut dw, m, rows),
            a_t,
            MatRef::row_major(&cols, ld, rows),
            false,
        )
    });
    println!("[32,245]x[245,1024]: {:.1} GFLOP/s", fl / t / 1e9);
    let t = time(|| {
        let a = MatRef::row_major(&a, ld, m);
        let cols_t = MatRef::row_major(&cols, ld, rows).t();
        matmul(MatMut::row_major(&mut dw, rows, m), cols_t, a, false)
    });
    println!("[1024,245]x[245,32]: {:.1} GFLOP/s", fl / t / 1e9);
    // The one-channel layers' shapes, 16 ROIs: [3136, 16] x [16, 64] (enc1 forward, dec2 input
    // gradient), [3136, 64] x [64, 16] (dec2 forward), [64, 3136] x [3136, 16] (their weights).
    let (pos, taps, ch) = (16 * 196, 16, 64);
    let p = vals(pos * taps, 6);
    let h = vals(pos * ch, 7);
    let w16 = vals(taps * ch, 8);
    let mut out_h = vec![0f32; pos * ch];
    let mut out_p = vec![0f32; pos * taps];
    let mut dw16 = vec![0f32; ch * taps];
    let fl = 2.0 * (pos * taps * ch) as f64;
    let t = time(|| {
        let w = MatRef::row_major(&w16, taps, ch);
        matmul(
            MatMut::row_major(&mut out_h, pos, ch),
            MatRef::row_major(&p, pos, taps),
            w,
            false,
        )
    });
    println!(
        "[3136,16]x[16,64]: {:.3} ms, {:.1} GFLOP/s",
        t * 1e3,
        fl / t / 1e9
    );
    let t = time(|| {
        let w = MatRef::row_major(&w16, taps, ch).t();
        matmul(
            MatMut::row_major(&mut out_p, pos, taps),
            MatRef::row_major(&h, pos, ch),
            w,
            false,
        )
    });
    println!(
        "[3136,64]x[64,16]: {:.3} ms, {:.1} GFLOP/s",
        t * 1e3,
        fl / t / 1e9
    );
    let t = time(|| {
        let h_t = MatRef::row_major(&h, pos, ch).t();
        matmul(
            MatMut::row_major(&mut dw16, ch, taps),
            h_t,
            MatRef::row_major(&p, pos, taps),
            false,
        )
    });
    println!(
        "[64,3136]x[3136,16]: {:.3} ms, {:.1} GFLOP/s",
        t * 1e3,
        fl / t / 1e9
    );
    let n = 512;
    let (x, y) = (vals(n * n, 4), vals(n * n, 5));
    let mut z = vec![0f32; n * n];
    let t = time(|| {
        matmul(
            MatMut::row_major(&mut z, n, n),
            MatRef::row_major(&x, n, n),
            MatRef::row_major(&y, n, n),
            false,
        )
    });
    println!(
        "[512,512]x[512,512]: {:.1} GFLOP/s",
        2.0 * (n * n * n) as f64 / t / 1e9
    );
}

/// The MAE's encoder shapes (64 ROIs of 34 visible tokens, width 256, MLP 1024): each dense
/// kernel on all rows (two threads), and one part's gemm alone on one thread.
#[test]
#[ignore = "timing, not a test"]
fn mae_shapes() {
    use super::dense;
    use super::gemm::{matmul, MatMut, MatRef};
    let vals = |len: usize, seed: u64| tensor(&[len], seed).to_vec1::<f32>().unwrap();
    let (rows, c, hid, t, heads) = (64 * 34, 256, 1024, 34, 4);
    let x = vals(rows * hid, 1);
    let w = vals(hid * hid, 2);
    let b = vals(hid * 3, 3);
    let mut y = vec![0f32; rows * hid];
    let mut g = vec![0f32; rows * hid];
    let mut dw = vec![0f32; hid * hid];
    let mut db = vec![0f32; hid * 3];
    let gf = |fl: f64, t: f64| fl / t / 1e9;
    for (name, k, n) in [
        ("qkv", c, 3 * c),
        ("proj", c, c),
        ("fc1", c, hid),
        ("fc2", hid, c),
    ] {
        let fl = 2.0 * (rows * k * n) as f64;
        let tl = time(|| {
            dense::linear(
                &x[..rows * k],
                k,
                &w[..n * k],
                n,
                &mut y[..rows * n],
                |_, r| r.fill(0.0),
            )
        });
        let tb = time(|| {
            dense::backward_input(&x[..rows * n], n, &w[..n * k], k, &mut y[..rows * k], false)
        });
        let tw = time(|| {
            dense::weight_grad(
                &x[..rows * n],
                n,
                &g[..rows * k],
                k,
                &mut dw[..n * k],
                &mut db[..n],
            )
        });
        let part = rows / 4;
        let t1 = time(|| {
            matmul(
                MatMut::row_major(&mut y[..part * n], part, n),
                MatRef::row_major(&x[..part * k], part, k),
                MatRef::row_major(&w[..n * k], n, k).t(),
                false,
            )
        });
        let t2 = time(|| {
            matmul(
                MatMut::row_major(&mut y[..part * n], part, n),
                MatRef::row_major(&x[..part * k], part, k),
                MatRef::row_major(&w[..n * k], k, n),
                false,
            )
        });
        println!(
            "  one part, the weight stored transposed: {:.0} GF/s",
            gf(fl / 4.0, t2)
        );
        println!(
            "{name} [{rows},{k}]x[{k},{n}]: fwd {:.2} ms {:.0} GF/s, dx {:.2} ms {:.0}, dw {:.2} ms {:.0}; one part on one thread {:.0} GF/s",
            tl * 1e3, gf(fl, tl), tb * 1e3, gf(fl, tb), tw * 1e3, gf(fl, tw), gf(fl / 4.0, t1)
        );
    }
    let fl = 2.0 * (rows * c * hid) as f64;
    let tg = time(|| {
        dense::linear_gelu(
            &x[..rows * c],
            c,
            &w[..hid * c],
            &b[..hid],
            &mut y[..rows * hid],
            &mut g[..rows * hid],
        )
    });
    let tbg = time(|| {
        let mut gg = vec![0f32; rows * hid];
        dense::backward_input_gelu(
            &x[..rows * c],
            c,
            &w[..c * hid],
            &g[..rows * hid],
            &mut y[..rows * hid],
            &mut gg,
        )
    });
    println!(
        "fc1+gelu: {:.2} ms {:.0} GF/s; fc2 dx+gelu' {:.2} ms",
        tg * 1e3,
        gf(fl, tg),
        tbg * 1e3
    );
    let mut p = vec![0f32; 64 * heads * t * t];
    let ta = time(|| dense::attention(&x[..rows * 3 * c], t, heads, c, &mut p, &mut y[..rows * c]));
    let mut dq = vec![0f32; rows * 3 * c];
    let tab = time(|| {
        dense::attention_backward(&x[..rows * 3 * c], &p, &g[..rows * c], t, heads, c, &mut dq)
    });
    let fla = 4.0 * (64 * t * t * c) as f64;
    println!(
        "attention: fwd {:.2} ms {:.0} GF/s, bwd {:.2} ms {:.0} GF/s",
        ta * 1e3,
        gf(fla, ta),
        tab * 1e3,
        gf(2.0 * fla, tab)
    );
    let mut st = vec![0f32; rows * 2];
    let tn = time(|| {
        dense::layer_norm(
            &x[..rows * c],
            c,
            &b[..c],
            &b[c..2 * c],
            &mut y[..rows * c],
            &mut st,
        )
    });
    let (mut g1, mut g2) = (vec![0f32; c], vec![0f32; c]);
    let tnb = time(|| {
        dense::layer_norm_backward(
            &g[..rows * c],
            &x[..rows * c],
            &st,
            c,
            &b[..c],
            &mut y[..rows * c],
            true,
            &mut g1,
            &mut g2,
        )
    });
    println!(
        "layer norm: fwd {:.2} ms, bwd {:.2} ms",
        tn * 1e3,
        tnb * 1e3
    );
    let n = 1024;
    let t = time(|| {
        matmul(
            MatMut::row_major(&mut y[..n * n], n, n),
            MatRef::row_major(&x[..n * n], n, n),
            MatRef::row_major(&w[..n * n], n, n),
            false,
        )
    });
    println!(
        "[1024,1024]x[1024,1024] one thread: {:.0} GF/s",
        2.0 * (n * n * n) as f64 / t / 1e9
    );
}

/// The GELU's cost per element, in cache and out of it.
#[test]
#[ignore = "timing, not a test"]
fn gelu_alone() {
    use super::dense::{gelu, gelu_and_grad};
    use super::par;
    for len in [16 * 1024, 544 * 1024, 2176 * 1024] {
        let x = tensor(&[len], 1).to_vec1::<f32>().unwrap();
        let mut y = vec![0f32; len];
        let mut d = vec![0f32; len];
        let t = time(|| {
            par::simd(
                #[inline(always)]
                || {
                    for (o, v) in y.iter_mut().zip(&x) {
                        *o = gelu(*v);
                    }
                },
            )
        });
        let t2 = time(|| {
            par::simd(
                #[inline(always)]
                || {
                    for ((o, dv), v) in y.iter_mut().zip(d.iter_mut()).zip(&x) {
                        let (g, dg) = gelu_and_grad(*v);
                        *o = g;
                        *dv *= dg;
                    }
                },
            )
        });
        let tc = time(|| y.copy_from_slice(&x));
        println!(
            "{len} floats: gelu {:.3} ns/elt, gelu+grad {:.3} ns/elt, copy {:.3} ns/elt",
            t / len as f64 * 1e9,
            t2 / len as f64 * 1e9,
            tc / len as f64 * 1e9
        );
    }
}

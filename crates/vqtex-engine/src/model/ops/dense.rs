//! Token-major dense kernels for hand-written transformer steps (the MAE's, `model/mae/step.rs`).
//!
//! Activations are `[rows, width]` f32 slices, one token a row, every sequence's tokens
//! consecutive. A linear layer is one gemm over all the rows (cut into [`PARTS`] row blocks run as
//! tasks on candle's CPU pool), with what is added to its output (bias, residual, positional
//! embedding) written into the output rows first and the GELU applied to each block right after
//! its gemm. Weight gradients are cut over output features instead, so each element is one gemm's
//! sum over all rows. Attention runs per (sequence, head) on its `[t, t]` scores, which stay in
//! cache. Every split is fixed (not the thread count), so results are bitwise repeatable whatever
//! the threads.
//!
//! The exponentials of the softmax and the erf of the GELU use branch-free polynomial forms that
//! the compiler vectorises (libm's are scalar calls, which would cost more than the gemms around
//! them); both are within a few 1e-7 of libm's (tested below).

use super::gemm::{matmul, MatMut, MatRef};
use super::par;

/// Blocks a batch of rows (or sequences) is cut into.
const PARTS: usize = 4;

/// Layer norm epsilon (PyTorch's default, as `transformer::LayerNorm`).
pub(crate) const LN_EPS: f32 = 1e-5;

fn block_size(items: usize) -> usize {
    items.div_ceil(PARTS).max(1)
}

/// Runs `f(first_item, chunk)` on the item blocks of `a` (`la` floats per item), in parallel.
fn par1<F>(a: &mut [f32], la: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    if a.is_empty() || la == 0 {
        return;
    }
    let size = block_size(a.len() / la);
    let ca = par::unit_chunks(a, size, la);
    par::for_parts(ca.len(), |i| {
        let mut g = par::lock(&ca, i);
        par::simd(
            #[inline(always)]
            || f(i * size, &mut g[..]),
        );
    });
}

/// [`par1`] over two buffers cut at the same items (`la`, `lb` floats per item).
fn par2<F>(a: &mut [f32], la: usize, b: &mut [f32], lb: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync,
{
    if a.is_empty() || la == 0 || lb == 0 {
        return;
    }
    let items = a.len() / la;
    assert_eq!(
        b.len(),
        items * lb,
        "par2: buffers of different item counts"
    );
    let size = block_size(items);
    let ca = par::unit_chunks(a, size, la);
    let cb = par::unit_chunks(b, size, lb);
    par::for_parts(ca.len(), |i| {
        let (mut ga, mut gb) = (par::lock(&ca, i), par::lock(&cb, i));
        par::simd(
            #[inline(always)]
            || f(i * size, &mut ga[..], &mut gb[..]),
        );
    });
}

/// `w [n, k]` transposed: `[k, n]`, row-major. A linear layer's forward gemm reads its weight
/// this way: the gemm crate packs a `[n, k]` weight seen as transposed element by element, which
/// cost 5-25% of the forward gemms' time (measured on the MAE's shapes, `ops::bench`).
pub(crate) fn transposed(w: &[f32], n: usize, k: usize) -> Vec<f32> {
    assert_eq!(
        w.len(),
        n * k,
        "transposed: {} values for [{n}, {k}]",
        w.len()
    );
    let mut t = vec![0f32; w.len()];
    const TILE: usize = 16;
    for i0 in (0..n).step_by(TILE) {
        for j0 in (0..k).step_by(TILE) {
            for i in i0..(i0 + TILE).min(n) {
                for j in j0..(j0 + TILE).min(k) {
                    t[j * n + i] = w[i * k + j];
                }
            }
        }
    }
    t
}

/// `y = init + x w^T`: `x [rows, k]`, the weight given transposed, `wt [k, n]` (see
/// [`transposed`]), `y [rows, n]`; `init(row, y_row)` writes each row's addend (bias, residual,
/// ...) before the gemm adds to it.
pub(crate) fn linear<I>(x: &[f32], k: usize, wt: &[f32], n: usize, y: &mut [f32], init: I)
where
    I: Fn(usize, &mut [f32]) + Sync,
{
    let wt = MatRef::row_major(wt, k, n);
    par1(
        y,
        n,
        #[inline(always)]
        |r0, yc| {
            let r = yc.len() / n;
            for (i, row) in yc.chunks_exact_mut(n).enumerate() {
                init(r0 + i, row);
            }
            let xs = MatRef::row_major(&x[r0 * k..(r0 + r) * k], r, k);
            matmul(MatMut::row_major(yc, r, n), xs, wt, true);
        },
    );
}

/// `h = x w^T + b` and `g = gelu(h)` (erf form), both `[rows, n]`; the weight given transposed,
/// `wt [k, n]`.
pub(crate) fn linear_gelu(
    x: &[f32],
    k: usize,
    wt: &[f32],
    b: &[f32],
    h: &mut [f32],
    g: &mut [f32],
) {
    let n = b.len();
    let wt = MatRef::row_major(wt, k, n);
    par2(
        h,
        n,
        g,
        n,
        #[inline(always)]
        |r0, hc, gc| {
            let r = hc.len() / n;
            for row in hc.chunks_exact_mut(n) {
                row.copy_from_slice(b);
            }
            let xs = MatRef::row_major(&x[r0 * k..(r0 + r) * k], r, k);
            matmul(MatMut::row_major(hc, r, n), xs, wt, true);
            for (gv, hv) in gc.iter_mut().zip(hc.iter()) {
                *gv = gelu(*hv);
            }
        },
    );
}

/// The input gradient of a linear layer: `dx (+)= dy w`, `dy [rows, n]`, `w [n, k]`,
/// `dx [rows, k]`.
pub(crate) fn backward_input(
    dy: &[f32],
    n: usize,
    w: &[f32],
    k: usize,
    dx: &mut [f32],
    accumulate: bool,
) {
    let wm = MatRef::row_major(w, n, k);
    par1(
        dx,
        k,
        #[inline(always)]
        |r0, dc| {
            let r = dc.len() / k;
            let ds = MatRef::row_major(&dy[r0 * n..(r0 + r) * n], r, n);
            matmul(MatMut::row_major(dc, r, k), ds, wm, accumulate);
        },
    );
}

/// The input gradient of `linear(gelu(h))`: `dh = (dy w) * gelu'(h)`, and `g = gelu(h)` again
/// (for the weight gradient; recomputed rather than kept from the forward pass).
pub(crate) fn backward_input_gelu(
    dy: &[f32],
    n: usize,
    w: &[f32],
    h: &[f32],
    dh: &mut [f32],
    g: &mut [f32],
) {
    let k = w.len() / n.max(1);
    let wm = MatRef::row_major(w, n, k);
    par2(
        dh,
        k,
        g,
        k,
        #[inline(always)]
        |r0, dc, gc| {
            let r = dc.len() / k;
            let ds = MatRef::row_major(&dy[r0 * n..(r0 + r) * n], r, n);
            matmul(MatMut::row_major(dc, r, k), ds, wm, false);
            let hs = &h[r0 * k..(r0 + r) * k];
            for ((d, gv), hv) in dc.iter_mut().zip(gc.iter_mut()).zip(hs) {
                let (v, dv) = gelu_and_grad(*hv);
                *gv = v;
                *d *= dv;
            }
        },
    );
}

/// A linear layer's parameter gradients: `dw = dy^T x` (`[n, k]`) and `db` = the column sums of
/// `dy` (`[n]`), for `dy [rows, n]`, `x [rows, k]`. Overwrites `dw` and `db`.
pub(crate) fn weight_grad(
    dy: &[f32],
    n: usize,
    x: &[f32],
    k: usize,
    dw: &mut [f32],
    db: &mut [f32],
) {
    let rows = dy.len() / n.max(1);
    let xs = MatRef::row_major(&x[..rows * k], rows, k);
    par2(
        dw,
        k,
        db,
        1,
        #[inline(always)]
        |o0, dwc, dbc| {
            let m = dbc.len();
            // Rows o0..o0 + m of dy^T: element (i, r) is dy[r * n + o0 + i].
            let dyt = MatRef::new(&dy[o0..], m, rows, 1, n);
            matmul(MatMut::row_major(dwc, m, k), dyt, xs, false);
            dbc.fill(0.0);
            for row in dy.chunks_exact(n) {
                for (d, v) in dbc.iter_mut().zip(&row[o0..o0 + m]) {
                    *d += v;
                }
            }
        },
    );
}

/// Sum of `f(v)` over `v`, in eight lanes (so that it vectorises), in a fixed order.
#[inline(always)]
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for ch in &mut chunks {
        for j in 0..8 {
            acc[j] += f(ch[j]);
        }
    }
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    acc.iter().sum::<f32>() + rest
}

/// Sum of `a[i] * b[i]`, in eight lanes.
#[inline(always)]
fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` per row of `x [rows, c]` (biased variance),
/// and each row's mean and 1 / sqrt(var + eps) in `stats [rows, 2]`.
pub(crate) fn layer_norm(
    x: &[f32],
    c: usize,
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
    stats: &mut [f32],
) {
    par2(
        y,
        c,
        stats,
        2,
        #[inline(always)]
        |r0, yc, sc| {
            let xs = &x[r0 * c..];
            for ((yr, sr), xr) in yc
                .chunks_exact_mut(c)
                .zip(sc.chunks_exact_mut(2))
                .zip(xs.chunks_exact(c))
            {
                let mean = lane_sum(xr, |v| v) / c as f32;
                let var = lane_sum(xr, |v| (v - mean) * (v - mean)) / c as f32;
                let rstd = 1.0 / (var + LN_EPS).sqrt();
                sr[0] = mean;
                sr[1] = rstd;
                for (((yv, xv), g), b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
                    *yv = (xv - mean) * rstd * g + b;
                }
            }
        },
    );
}

/// The backward pass of [`layer_norm`]: `dx (+)= d/dx` of `sum(dy * y)`, and `dgamma`, `dbeta`
/// (overwritten; partial sums per row block added in a fixed order).
#[allow(clippy::too_many_arguments)]
pub(crate) fn layer_norm_backward(
    dy: &[f32],
    x: &[f32],
    stats: &[f32],
    c: usize,
    gamma: &[f32],
    dx: &mut [f32],
    accumulate: bool,
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    dgamma.fill(0.0);
    dbeta.fill(0.0);
    if dx.is_empty() || c == 0 {
        return;
    }
    let size = block_size(dx.len() / c);
    let chunks = par::unit_chunks(dx, size, c);
    let mut partial = vec![0f32; chunks.len() * 2 * c];
    let pchunks = par::unit_chunks(&mut partial, 1, 2 * c);
    par::for_parts(chunks.len(), |i| {
        par::simd(
            #[inline(always)]
            || {
                let (mut dc, mut pc) = (par::lock(&chunks, i), par::lock(&pchunks, i));
                let (pg, pb) = pc.split_at_mut(c);
                let r0 = i * size;
                let mut xh = vec![0f32; c];
                let mut dxh = vec![0f32; c];
                let rows = dc
                    .chunks_exact_mut(c)
                    .zip(x[r0 * c..].chunks_exact(c))
                    .zip(dy[r0 * c..].chunks_exact(c))
                    .zip(stats[r0 * 2..].chunks_exact(2));
                for (((dxr, xr), dyr), sr) in rows {
                    let (mean, rstd) = (sr[0], sr[1]);
                    for i in 0..c {
                        xh[i] = (xr[i] - mean) * rstd;
                        dxh[i] = dyr[i] * gamma[i];
                        pg[i] += dyr[i] * xh[i];
                        pb[i] += dyr[i];
                    }
                    let m1 = lane_sum(&dxh, |v| v) / c as f32;
                    let m2 = lane_dot(&dxh, &xh) / c as f32;
                    if accumulate {
                        for i in 0..c {
                            dxr[i] += rstd * (dxh[i] - m1 - xh[i] * m2);
                        }
                    } else {
                        for i in 0..c {
                            dxr[i] = rstd * (dxh[i] - m1 - xh[i] * m2);
                        }
                    }
                }
            },
        )
    });
    drop(pchunks);
    for p in partial.chunks_exact(2 * c) {
        let (pg, pb) = p.split_at(c);
        dgamma.iter_mut().zip(pg).for_each(|(a, v)| *a += v);
        dbeta.iter_mut().zip(pb).for_each(|(a, v)| *a += v);
    }
}

/// Softmax of `scale * row`, in place.
#[inline(always)]
fn softmax_row(row: &mut [f32], scale: f32) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v * scale));
    for v in row.iter_mut() {
        *v = exp_nonpos(*v * scale - max);
    }
    let sum = lane_sum(row, |v| v);
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// Copies the `[t, hd]` matrix `src` into columns `col..col + hd` of the `[t, stride]` rows of
/// `dst`.
#[inline(always)]
fn put_cols(dst: &mut [f32], stride: usize, col: usize, src: &[f32], hd: usize) {
    for (i, s) in src.chunks_exact(hd).enumerate() {
        dst[i * stride + col..][..hd].copy_from_slice(s);
    }
}

/// Multi-head self-attention of sequences of `t` tokens: `qkv [seqs * t, 3c]` (per token q, k,
/// v, each `heads` x `c / heads`, as `transformer::Attention`) -> the softmax weights
/// `probs [seqs, heads, t, t]` and the heads' outputs side by side, `y [seqs * t, c]`.
pub(crate) fn attention(
    qkv: &[f32],
    t: usize,
    heads: usize,
    c: usize,
    probs: &mut [f32],
    y: &mut [f32],
) {
    let hd = c / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    par2(
        y,
        t * c,
        probs,
        heads * t * t,
        #[inline(always)]
        |s0, yc, pc| {
            let mut o = vec![0f32; t * hd];
            let seqs = yc
                .chunks_exact_mut(t * c)
                .zip(pc.chunks_exact_mut(heads * t * t));
            for (si, (ys, ps)) in seqs.enumerate() {
                let qs = &qkv[(s0 + si) * t * 3 * c..][..t * 3 * c];
                for (h, p) in ps.chunks_exact_mut(t * t).enumerate() {
                    let view = |part: usize| MatRef::new(&qs[part * c + h * hd..], t, hd, 3 * c, 1);
                    matmul(MatMut::row_major(p, t, t), view(0), view(1).t(), false);
                    for row in p.chunks_exact_mut(t) {
                        softmax_row(row, scale);
                    }
                    let pm = MatRef::row_major(p, t, t);
                    matmul(MatMut::row_major(&mut o, t, hd), pm, view(2), false);
                    put_cols(ys, c, h * hd, &o, hd);
                }
            }
        },
    );
}

/// The backward pass of [`attention`]: from `dy [seqs * t, c]`, the gradient of `qkv`,
/// `dqkv [seqs * t, 3c]` (overwritten).
pub(crate) fn attention_backward(
    qkv: &[f32],
    probs: &[f32],
    dy: &[f32],
    t: usize,
    heads: usize,
    c: usize,
    dqkv: &mut [f32],
) {
    let hd = c / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    par1(
        dqkv,
        t * 3 * c,
        #[inline(always)]
        |s0, dc| {
            let mut dp = vec![0f32; t * t];
            let mut o = vec![0f32; t * hd];
            for (si, ds) in dc.chunks_exact_mut(t * 3 * c).enumerate() {
                let s = s0 + si;
                let qs = &qkv[s * t * 3 * c..][..t * 3 * c];
                let dys = &dy[s * t * c..][..t * c];
                for h in 0..heads {
                    let p = &probs[(s * heads + h) * t * t..][..t * t];
                    let pm = MatRef::row_major(p, t, t);
                    let view = |part: usize| MatRef::new(&qs[part * c + h * hd..], t, hd, 3 * c, 1);
                    let d_o = MatRef::new(&dys[h * hd..], t, hd, c, 1);
                    // dP = dO v^T, dv = P^T dO.
                    matmul(MatMut::row_major(&mut dp, t, t), d_o, view(2).t(), false);
                    matmul(MatMut::row_major(&mut o, t, hd), pm.t(), d_o, false);
                    put_cols(ds, 3 * c, 2 * c + h * hd, &o, hd);
                    // Through the softmax, and the scale of the scores.
                    for (dr, pr) in dp.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
                        let dot = lane_dot(dr, pr);
                        for (d, pv) in dr.iter_mut().zip(pr) {
                            *d = pv * (*d - dot) * scale;
                        }
                    }
                    let dsm = MatRef::row_major(&dp, t, t);
                    // dq = dS k, dk = dS^T q.
                    matmul(MatMut::row_major(&mut o, t, hd), dsm, view(1), false);
                    put_cols(ds, 3 * c, h * hd, &o, hd);
                    matmul(MatMut::row_major(&mut o, t, hd), dsm.t(), view(0), false);
                    put_cols(ds, 3 * c, c + h * hd, &o, hd);
                }
            }
        },
    );
}

/// `e^y` for `y <= 0` (below -87 it returns about 1e-38), within 2e-7 relative: `2^n e^r` with
/// `e^r` a degree-7 Taylor polynomial on `|r| <= ln(2) / 2`. Branch-free, so loops over it
/// vectorise.
#[inline(always)]
pub(crate) fn exp_nonpos(y: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let y = y.clamp(-87.0, 0.0);
    let shifted = y * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n from the rounded sum's bits (its low mantissa bits hold n as an offset integer): no
    // float-to-int cast, whose saturating semantics would keep the loop scalar.
    p * f32::from_bits(shifted.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23)
}

/// `(erf(x), e^(-x^2))`: Abramowitz and Stegun's 7.1.26 (absolute error below 1.5e-7).
#[inline(always)]
fn erf_and_gauss(x: f32) -> (f32, f32) {
    let ax = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * ax);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_72 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let gauss = exp_nonpos(-ax * ax);
    ((1.0 - poly * gauss).copysign(x), gauss)
}

/// GELU, erf form: `x / 2 * (1 + erf(x / sqrt(2)))` (as candle's `gelu_erf`).
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    let (e, _) = erf_and_gauss(x * std::f32::consts::FRAC_1_SQRT_2);
    (e + 1.0) * 0.5 * x
}

/// GELU and its derivative `(1 + erf(x / sqrt(2))) / 2 + x e^(-x^2 / 2) / sqrt(2 pi)`.
#[inline(always)]
pub(crate) fn gelu_and_grad(x: f32) -> (f32, f32) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let (e, gauss) = erf_and_gauss(x * std::f32::consts::FRAC_1_SQRT_2);
    (
        (e + 1.0) * 0.5 * x,
        0.5 + 0.5 * e + INV_SQRT_2PI * gauss * x,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, Var};

    fn grid() -> Vec<f32> {
        (-2000..=2000).map(|i| i as f32 * 0.005).collect()
    }

    /// Layer norm, GELU and its gradient, softmax and a lane sum over rows: the element-wise
    /// code of the kernels, inlined where it is called.
    #[inline(always)]
    fn elementwise(x: &[f32], c: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len() * 3);
        for row in x.chunks_exact(c) {
            let mean = lane_sum(row, |v| v) / c as f32;
            let var = lane_sum(row, |v| (v - mean) * (v - mean)) / c as f32;
            let rstd = 1.0 / (var + LN_EPS).sqrt();
            let mut soft: Vec<f32> = row.to_vec();
            softmax_row(&mut soft, 0.125);
            for (v, s) in row.iter().zip(&soft) {
                let (g, dg) = gelu_and_grad((v - mean) * rstd);
                out.extend([g, dg * lane_dot(row, row), *s]);
            }
        }
        out
    }

    /// Telling in an optimised build (`cargo test --release`), where the loops vectorise.
    #[test]
    fn the_vector_paths_give_the_same_bits_as_the_plain_one() {
        let x: Vec<f32> = (0..97 * 35)
            .map(|i| ((i * 7919) % 2003) as f32 * 0.003 - 3.0)
            .collect();
        let plain = elementwise(&x, 35);
        let fast = par::simd(
            #[inline(always)]
            || elementwise(&x, 35),
        );
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&plain), bits(&fast));
    }

    #[test]
    fn exp_is_within_2e_7_of_libm_on_the_negative_axis() {
        let mut worst = 0f32;
        for i in 0..=200_000 {
            let y = -(i as f32) * 4.0e-4;
            let (got, want) = (exp_nonpos(y), y.exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2e-7, "{worst}");
        assert_eq!(exp_nonpos(0.0), 1.0);
        assert!(exp_nonpos(-1e6) < 1e-37 && exp_nonpos(-1e6) >= 0.0);
    }

    #[test]
    fn gelu_and_its_gradient_match_candles_gelu_erf() {
        let xs = grid();
        let var = Var::from_tensor(&Tensor::new(xs.as_slice(), &Device::Cpu).unwrap()).unwrap();
        let y = var.as_tensor().gelu_erf().unwrap();
        let grads = y.sum_all().unwrap().backward().unwrap();
        let want = y.to_vec1::<f32>().unwrap();
        let want_grad = grads
            .get(var.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for ((x, w), wg) in xs.iter().zip(&want).zip(&want_grad) {
            let (g, dg) = gelu_and_grad(*x);
            assert_eq!(g, gelu(*x));
            assert!(
                (g - w).abs() <= 3e-7 * (1.0 + x.abs()),
                "gelu({x}): {g} vs {w}"
            );
            // candle's derivative uses 0.398942 for 1 / sqrt(2 pi): 2.3e-7 relative.
            assert!((dg - wg).abs() <= 1e-6, "gelu'({x}): {dg} vs {wg}");
        }
    }

    #[test]
    fn attention_matches_a_direct_computation_forward_and_backward() {
        let (seqs, t, heads, c) = (3, 5, 2, 8);
        let hd = c / heads;
        let qkv: Vec<f32> = (0..seqs * t * 3 * c)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.09)
            .collect();
        let mut probs = vec![0f32; seqs * heads * t * t];
        let mut y = vec![0f32; seqs * t * c];
        attention(&qkv, t, heads, c, &mut probs, &mut y);
        // The same with candle's tensors and autograd.
        let dev = Device::Cpu;
        let var = Var::from_tensor(
            &Tensor::from_vec(qkv.clone(), (seqs, t, 3, heads, hd), &dev).unwrap(),
        )
        .unwrap();
        let qkvt = var.permute((2, 0, 3, 1, 4)).unwrap().contiguous().unwrap();
        let part = |i: usize| qkvt.get(i).unwrap();
        let q = (part(0) * (1.0 / (hd as f64).sqrt())).unwrap();
        let s = q.matmul(&part(1).t().unwrap()).unwrap();
        let p = crate::model::transformer::softmax_last_formula(&s).unwrap();
        let yt = p
            .matmul(&part(2))
            .unwrap()
            .permute((0, 2, 1, 3))
            .unwrap()
            .contiguous()
            .unwrap();
        let want = yt.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want_p = p.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let close =
            |a: &[f32], b: &[f32]| a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(close(&y, &want) < 1e-6);
        assert!(close(&probs, &want_p) < 1e-6);
        let w: Vec<f32> = (0..seqs * t * c)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
            .collect();
        let wt = Tensor::from_vec(w.clone(), yt.dims(), &dev).unwrap();
        let g = (yt * wt).unwrap().sum_all().unwrap().backward().unwrap();
        let want_d = g
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mut d = vec![0f32; qkv.len()];
        attention_backward(&qkv, &probs, &w, t, heads, c, &mut d);
        assert!(want_d.iter().any(|v| v.abs() > 1e-2));
        assert!(close(&d, &want_d) < 1e-5, "{}", close(&d, &want_d));
    }
}

//! The VQ-VAE's training step on the CPU: forward pass, losses and gradients by hand on f32
//! slices, with activations channels last and the kernels of [`crate::model::ops::nhwc`].
//!
//! The same math as [`VqVae::forward`] followed by candle's `backward` (checked against it in the
//! tests below), without candle's op graph: no element-wise tensor op, no intermediate tensor
//! and no thread-pool barrier per op, only one kernel call per convolution direction. Gradients go
//! into a [`GradStore`] keyed by the model's variables, so the optimizer and gradient clipping do
//! not know which path made them.

use candle_core::{backprop::GradStore, Result, Tensor, Var};

use super::VqVae;
use crate::model::ops::kernels::Geom;
use crate::model::ops::nhwc;
use crate::model::ops::nhwc::stack::{self, add_grads, insert, run_parts, ConvStack};
use crate::model::ops::par;
use crate::model::ops::Activation;
use crate::model::Output;

pub(super) use stack::values;

/// True when the hand-written step applies: the input and every parameter are f32 on the CPU.
pub(super) fn applies(m: &VqVae, x: &Tensor) -> bool {
    stack::applies(&m.params, x)
}

/// Nearest codebook row (squared Euclidean distance `|z|^2 + |e|^2 - 2 z.e`, ties to the lowest
/// index, as [`super::nearest_codes`]) for every row of `z` (`[rows, d]`); `book` `[k, d]`.
pub(super) fn nearest(z: &[f32], d: usize, book: &[f32]) -> Vec<u32> {
    use crate::model::ops::gemm::{matmul, MatMut, MatRef};
    /// Rows per product: the distances of a block stay in cache.
    const BLOCK: usize = 256;
    let d = d.max(1);
    let k = book.len() / d;
    let e2: Vec<f32> = book
        .chunks_exact(d)
        .map(|e| e.iter().map(|v| v * v).sum())
        .collect();
    let mut dots = vec![0f32; BLOCK.min(z.len() / d) * k];
    let mut codes = Vec::with_capacity(z.len() / d);
    let book_t = MatRef::row_major(book, k, d).t();
    for block in z.chunks(BLOCK * d) {
        let r = block.len() / d;
        let dots = &mut dots[..r * k];
        matmul(
            MatMut::row_major(dots, r, k),
            MatRef::row_major(&block[..r * d], r, d),
            book_t,
            false,
        );
        for (row, zr) in dots.chunks_exact(k).zip(block.chunks_exact(d)) {
            let z2: f32 = zr.iter().map(|v| v * v).sum();
            let mut best = (f32::INFINITY, 0u32);
            for (j, dot) in row.iter().enumerate() {
                let dist = (z2 + e2[j]) - 2.0 * dot;
                if dist < best.0 {
                    best = (dist, j as u32);
                }
            }
            codes.push(best.1);
        }
    }
    codes
}

/// [`VqVae::forward`] in training mode and the gradients of its loss.
pub(super) fn forward_backward(m: &VqVae, x: &Tensor) -> Result<(Output, GradStore)> {
    let (out, grads) = run(m, x, true)?;
    Ok((out, grads.unwrap_or_default()))
}

/// [`VqVae::forward`] without gradients (evaluation, inference): its output holds no op graph.
pub(super) fn forward(m: &VqVae, x: &Tensor) -> Result<Output> {
    Ok(run(m, x, false)?.0)
}

/// The convolution layers and the codebook, read once per step.
struct Layers {
    stack: ConvStack,
    book: Vec<f32>,
    /// Latent channels and positions per ROI.
    d: usize,
    l_pos: usize,
    beta: f32,
}

/// What one part of a batch gives: reconstructions (channels last), codes, the sums of squares
/// of the two loss terms and, when the backward pass ran, the gradients in the order of
/// [`grad_vars`] (weights in [`nhwc::Weight`]'s order).
struct Part {
    y: Vec<f32>,
    codes: Vec<u32>,
    sums: [f64; 2],
    grads: Vec<Vec<f32>>,
}

/// The variables whose gradients [`part`] returns, in its order.
fn grad_vars(m: &VqVae) -> [&Var; 9] {
    [
        &m.dec2.weight,
        &m.dec2.bias,
        &m.dec1.weight,
        &m.dec1.bias,
        &m.codebook,
        &m.enc2.weight,
        &m.enc2.bias,
        &m.enc1.weight,
        &m.enc1.bias,
    ]
}

fn layers(m: &VqVae, image: (usize, usize, usize)) -> Result<Layers> {
    let stack = ConvStack::new([&m.enc1, &m.enc2], [&m.dec1, &m.dec2], image)?;
    let (d, l_pos) = stack.latent();
    let book = values(m.codebook.as_tensor())?;
    if book.len() != m.cfg.codebook_size * d {
        candle_core::bail!("codebook shape does not match the encoder's {d} channels");
    }
    Ok(Layers {
        stack,
        book,
        d,
        l_pos,
        beta: m.cfg.beta as f32,
    })
}

/// The forward pass, and the gradients when `backward`, of a batch cut into parts.
fn run(m: &VqVae, x: &Tensor, backward: bool) -> Result<(Output, Option<GradStore>)> {
    let dev = x.device().clone();
    let (batch, c_in, h, w) = x.dims4()?;
    let p = layers(m, (c_in, h, w))?;
    let xv = nhwc::from_nchw(&values(x)?, c_in, h * w);
    let img = c_in * h * w;
    let results = run_parts(batch, |first, n| {
        let xs = &xv[first * img..(first + n) * img];
        part(&p, xs, n, batch, backward)
    })?;
    let mut y = par::output(0);
    y.reserve(xv.len());
    let mut codes = Vec::with_capacity(batch * p.l_pos);
    let mut sums = [0f64; 2];
    let mut grads: Vec<Vec<f32>> = Vec::new();
    for part in results {
        y.extend_from_slice(&part.y);
        par::recycle(part.y);
        codes.extend_from_slice(&part.codes);
        sums[0] += part.sums[0];
        sums[1] += part.sums[1];
        add_grads(&mut grads, part.grads);
    }
    par::recycle(xv);
    let recon = (sums[0] / (batch * img).max(1) as f64) as f32;
    let vq = (sums[1] / (batch * p.d * p.l_pos).max(1) as f64) as f32;
    let loss = (recon + vq) + vq * p.beta;
    let y = nhwc::to_nchw(y, c_in, h * w);
    let out = output((y, p.stack.output_geom()), codes, [recon, vq], loss, &dev)?;
    if !backward {
        return Ok((out, None));
    }
    let mut store = GradStore::default();
    // The layer whose weight each gradient of `grad_vars` is, to undo the channels-last order.
    let [[w4, b4, w3, b3], [w2, b2, w1, b1]] = p.stack.grad_weights();
    let weights = [w4, b4, w3, b3, None, w2, b2, w1, b1];
    for ((var, g), weight) in grad_vars(m).into_iter().zip(grads).zip(weights) {
        insert(&mut store, var, g, weight)?;
    }
    Ok((out, Some(store)))
}

/// Forward pass (and backward when `backward`) of the `n` ROIs `xv` (channels last), out of a
/// batch of `total` (the losses are means over the whole batch, so the gradients are scaled by
/// it).
fn part(p: &Layers, xv: &[f32], n: usize, total: usize, backward: bool) -> Part {
    let (d, l, beta) = (p.d, p.l_pos, p.beta);
    // ze: [n * l, d], one latent vector a row.
    let [h1, ze] = p.stack.encode(xv, n, Activation::Identity);

    // Quantisation: z_q is the nearest code at each position; the decoder sees
    // z_st = z_e + (z_q - z_e), the straight-through value (equal to z_q up to rounding).
    let book = &p.book;
    let codes = nearest(&ze, d, book);
    let mut zq = par::output(ze.len());
    for (row, c) in zq.chunks_exact_mut(d).zip(&codes) {
        row.copy_from_slice(&book[*c as usize * d..][..d]);
    }
    let mut zst = par::output(ze.len());
    for ((s, e), q) in zst.iter_mut().zip(&ze).zip(&zq) {
        *s = e + (q - e);
    }
    let [h3, y] = p.stack.decode(&zst, n);

    // Sums of squares of the two loss terms.
    let sq = |a: f32, b: f32| f64::from((a - b) * (a - b));
    let sums = [
        y.iter().zip(xv).map(|(a, b)| sq(*a, *b)).sum::<f64>(),
        ze.iter().zip(&zq).map(|(e, q)| sq(*q, *e)).sum::<f64>(),
    ];
    if !backward {
        for v in [h1, ze, zq, zst, h3] {
            par::recycle(v);
        }
        return Part {
            y,
            codes,
            sums,
            grads: Vec::new(),
        };
    }
    // The gradient of the reconstruction term before the sigmoid; the decoder, last layer first.
    let gpre4 = p.stack.recon_grad(&y, xv, total);
    let mut grads = Vec::with_capacity(9);
    let gzq = p.stack.decode_backward(gpre4, &h3, &zst, n, &mut grads);

    // Straight-through to the encoder plus the commitment term; the codebook term to the codes.
    let sz = 2.0 / (total * d * l) as f32;
    let mut gze = gzq;
    for ((g, e), q) in gze.iter_mut().zip(&ze).zip(&zq) {
        *g += beta * (sz * (e - q));
    }
    let mut dbook = vec![0f32; book.len()];
    for ((c, e), q) in codes.iter().zip(ze.chunks_exact(d)).zip(zq.chunks_exact(d)) {
        let row = &mut dbook[*c as usize * d..][..d];
        for ((r, e), q) in row.iter_mut().zip(e).zip(q) {
            *r += sz * (q - e);
        }
    }
    grads.push(dbook);

    // Encoder.
    p.stack.encode_backward(&gze, &h1, xv, n, &mut grads);

    // The next step's kernels take these buffers back instead of allocating and zeroing anew.
    for v in [h1, ze, zq, zst, h3, gze] {
        par::recycle(v);
    }
    Part {
        y,
        codes,
        sums,
        grads,
    }
}

/// The forward pass's [`Output`] from the reconstructions `y` (image side of `g`), the codes and
/// the loss terms (recon, codebook = commit).
fn output(
    (y, g): (Vec<f32>, &Geom),
    codes: Vec<u32>,
    [recon, vq]: [f32; 2],
    loss: f32,
    dev: &candle_core::Device,
) -> Result<Output> {
    let batch = y.len() / g.image().max(1);
    let n = codes.len();
    let scalar = |v: f32| Tensor::new(v, dev);
    Ok(Output {
        recon: Tensor::from_vec(y, (batch, g.c, g.h, g.w), dev)?,
        loss: scalar(loss)?,
        terms: vec![
            ("recon", scalar(recon)?),
            ("codebook", scalar(vq)?),
            ("commit", scalar(vq)?),
        ],
        codes: Some(Tensor::from_vec(codes, n, dev)?),
    })
}

#[cfg(test)]
mod tests;

// Timing, not tests: built only with `--features timing` (see docs/PERFORMANCE.md).
#[cfg(all(test, feature = "timing"))]
mod timing;

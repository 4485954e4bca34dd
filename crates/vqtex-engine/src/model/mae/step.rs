//! The MAE's training step on the CPU: forward pass, loss and gradients by hand on f32 slices,
//! with the kernels of [`crate::model::ops::dense`].
//!
//! The same math as [`Mae::forward_masked`] followed by candle's `backward` (checked against it
//! in the tests), without candle's op graph. The batch is cut into [`STEP_PARTS`] parts of ROIs,
//! each run forward and backward on one thread with every kernel inline, their gradients added
//! in order. In a part, each linear layer is one gemm over all its tokens (the weight transposed
//! once a step, bias, residual and positional embeddings written into its output first, the GELU
//! applied right after), attention runs per (ROI, head) on `[t, t]` scores that stay in cache,
//! and layer norm is one pass each way. Activations live in a [`Work`] per part kept by the model
//! and reused from step to step (only what the backward pass needs is kept: the GELU's output is
//! recomputed). Gradients go into a [`GradStore`] keyed by the model's variables, so the
//! optimizer does not know which path made them.

use candle_core::{backprop::GradStore, DType, Result, Tensor, Var};

use std::sync::Mutex;

use super::{Mae, Masks, SIDE};
use crate::model::ops::{dense, par};
use crate::model::transformer::{Block, LayerNorm};
use crate::model::Output;

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// True when the hand-written step applies: the input and every parameter are f32 on the CPU.
pub(super) fn applies(m: &Mae, x: &Tensor) -> bool {
    let ok = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32;
    ok(x) && m.params.iter().all(|(_, v)| ok(v.as_tensor()))
}

/// [`Mae::forward_masked`] and the gradients of its loss.
pub(super) fn forward_backward(m: &Mae, x: &Tensor, masks: &Masks) -> Result<(Output, GradStore)> {
    let (out, grads) = run(m, &Weights::new(m)?, x, masks, true)?;
    Ok((out, grads.unwrap_or_default()))
}

/// ROIs per forward pass without gradients: larger batches run in slices of this many, so that
/// the kept buffers do not grow past a training batch's.
const EVAL_SLICE: usize = 64;

/// [`Mae::forward_masked`] without gradients: its output holds no op graph.
pub(super) fn forward(m: &Mae, x: &Tensor, masks: &Masks) -> Result<Output> {
    let b = x.dim(0)?;
    // Read (and transposed) once for all the slices.
    let wts = Weights::new(m)?;
    if b <= EVAL_SLICE || masks.0.len() != b {
        return Ok(run(m, &wts, x, masks, false)?.0);
    }
    // Every term is a mean over the batch's ROIs (the same count of pixels or masked pixels per
    // ROI): the slices' means weighted by their sizes.
    let (mut recons, mut sums) = (Vec::new(), Vec::<f64>::new());
    let mut names = Vec::new();
    for start in (0..b).step_by(EVAL_SLICE) {
        let len = EVAL_SLICE.min(b - start);
        let part = Masks(masks.0[start..start + len].to_vec());
        let out = run(m, &wts, &x.narrow(0, start, len)?, &part, false)?.0;
        let w = len as f64 / b as f64;
        let mut vals = vec![f64::from(out.loss.to_scalar::<f32>()?)];
        for (name, t) in &out.terms {
            vals.push(f64::from(t.to_scalar::<f32>()?));
            if start == 0 {
                names.push(*name);
            }
        }
        sums.resize(vals.len(), 0.0);
        sums.iter_mut().zip(vals).for_each(|(s, v)| *s += w * v);
        recons.push(out.recon);
    }
    let dev = x.device();
    let scalar = |v: f64| Tensor::new(v as f32, dev);
    Ok(Output {
        recon: Tensor::cat(&recons, 0)?,
        loss: scalar(sums[0])?,
        terms: names
            .into_iter()
            .zip(&sums[1..])
            .map(|(n, v)| Ok((n, scalar(*v)?)))
            .collect::<Result<Vec<_>>>()?,
        codes: None,
    })
}

/// Sets the length of a reused buffer (its content is then unspecified: every kernel that
/// writes one overwrites it entirely).
fn fit(v: &mut Vec<f32>, len: usize) {
    v.resize(len, 0.0);
}

/// What the backward pass needs of one block's forward pass (`r` rows of width `c`).
#[derive(Default)]
struct Acts {
    /// The block's input `[r, c]`.
    x: Vec<f32>,
    /// Layer norm 1's output and row statistics (mean, 1 / std).
    a: Vec<f32>,
    s1: Vec<f32>,
    /// `[r, 3c]`.
    qkv: Vec<f32>,
    /// Softmax weights `[seqs, heads, t, t]`.
    p: Vec<f32>,
    /// Attention output before the projection `[r, c]`.
    y: Vec<f32>,
    /// After the attention's residual `[r, c]`.
    x2: Vec<f32>,
    /// Layer norm 2's output and statistics.
    c: Vec<f32>,
    s2: Vec<f32>,
    /// fc1's output before the GELU `[r, hidden]`.
    h: Vec<f32>,
}

/// Buffers kept between steps.
#[derive(Default)]
pub(super) struct Work {
    /// Patches in [-1, 1] `[b * n, pp]`, and the visible ones `[b * v, pp]`.
    xp: Vec<f32>,
    xv: Vec<f32>,
    enc: Vec<Acts>,
    /// The encoder's output, its final layer norm (output, stats) and the latents.
    enc_out: Vec<f32>,
    hn: Vec<f32>,
    hs: Vec<f32>,
    lat: Vec<f32>,
    /// `from_latent`'s output on the visible tokens.
    dv: Vec<f32>,
    dec: Vec<Acts>,
    dec_out: Vec<f32>,
    dn: Vec<f32>,
    ds: Vec<f32>,
    pred: Vec<f32>,
    // Scratch of the backward pass (and the GELU output of the forward one).
    g: Vec<f32>,
    dh: Vec<f32>,
    da: Vec<f32>,
    dy: Vec<f32>,
    dqkv: Vec<f32>,
    dres: Vec<f32>,
    dpred: Vec<f32>,
    dlat: Vec<f32>,
}

/// A block's parameter values, in [`Block::vars`]' order, and its four weights transposed (for
/// the forward gemms: qkv, proj, fc1, fc2).
struct BlockW<'a> {
    vars: [&'a Var; 12],
    v: Vec<Vec<f32>>,
    t: [Vec<f32>; 4],
    heads: usize,
    width: usize,
    hidden: usize,
}

const LN1_G: usize = 0;
const LN1_B: usize = 1;
const QKV_W: usize = 2;
const QKV_B: usize = 3;
const PROJ_W: usize = 4;
const PROJ_B: usize = 5;
const LN2_G: usize = 6;
const LN2_B: usize = 7;
const FC1_W: usize = 8;
const FC1_B: usize = 9;
const FC2_W: usize = 10;
const FC2_B: usize = 11;

impl<'a> BlockW<'a> {
    fn new(b: &'a Block) -> Result<BlockW<'a>> {
        let vars = b.vars();
        let v = vars
            .iter()
            .map(|v| values(v.as_tensor()))
            .collect::<Result<Vec<_>>>()?;
        let width = v[LN1_G].len();
        let hidden = v[FC1_B].len();
        let heads = b.heads();
        if heads == 0 || width % heads != 0 || v[QKV_B].len() != 3 * width {
            candle_core::bail!("a transformer block's shapes do not fit together");
        }
        // A weight is followed by its bias.
        let tr = |i: usize| weight_transposed(&v[i], &v[i + 1]);
        let t = [tr(QKV_W)?, tr(PROJ_W)?, tr(FC1_W)?, tr(FC2_W)?];
        Ok(BlockW {
            vars,
            v,
            t,
            heads,
            width,
            hidden,
        })
    }
}

/// One pre-norm block forward on `seqs` sequences of `t` tokens: `a.x` -> `out`; `g` is scratch
/// for the GELU's output.
fn block_forward(w: &BlockW, a: &mut Acts, out: &mut Vec<f32>, g: &mut Vec<f32>, t: usize) {
    let (c, hid, v) = (w.width, w.hidden, &w.v);
    let r = a.x.len() / c;
    for (buf, len) in [
        (&mut a.a, r * c),
        (&mut a.s1, r * 2),
        (&mut a.qkv, r * 3 * c),
        (&mut a.p, (r / t.max(1)) * w.heads * t * t),
        (&mut a.y, r * c),
        (&mut a.x2, r * c),
        (&mut a.c, r * c),
        (&mut a.s2, r * 2),
        (&mut a.h, r * hid),
        (out, r * c),
        (g, r * hid),
    ] {
        fit(buf, len);
    }
    dense::layer_norm(&a.x, c, &v[LN1_G], &v[LN1_B], &mut a.a, &mut a.s1);
    dense::linear(&a.a, c, &w.t[0], 3 * c, &mut a.qkv, bias(&v[QKV_B]));
    dense::attention(&a.qkv, t, w.heads, c, &mut a.p, &mut a.y);
    let init = residual(&a.x, &v[PROJ_B]);
    dense::linear(&a.y, c, &w.t[1], c, &mut a.x2, init);
    dense::layer_norm(&a.x2, c, &v[LN2_G], &v[LN2_B], &mut a.c, &mut a.s2);
    dense::linear_gelu(&a.c, c, &w.t[2], &v[FC1_B], &mut a.h, g);
    dense::linear(g, hid, &w.t[3], c, out, residual(&a.x2, &v[FC2_B]));
}

/// The blocks `ws` in turn, each from its `acts[i].x` to the next one's (the last to `last`).
fn blocks_forward(
    ws: &[BlockW],
    acts: &mut [Acts],
    last: &mut Vec<f32>,
    g: &mut Vec<f32>,
    t: usize,
) {
    for (i, bw) in ws.iter().enumerate() {
        let (cur, rest) = acts[i..].split_at_mut(1);
        let out = match rest.first_mut() {
            Some(next) => &mut next.x,
            None => &mut *last,
        };
        block_forward(bw, &mut cur[0], out, g, t);
    }
}

/// A linear layer's output rows start as its bias.
fn bias(b: &[f32]) -> impl Fn(usize, &mut [f32]) + Sync + '_ {
    move |_, row| row.copy_from_slice(b)
}

/// ... or as a residual row of `x` plus the bias.
fn residual<'a>(x: &'a [f32], b: &'a [f32]) -> impl Fn(usize, &mut [f32]) + Sync + 'a {
    let c = b.len();
    move |r, row| {
        for ((o, xv), bv) in row.iter_mut().zip(&x[r * c..]).zip(b) {
            *o = xv + bv;
        }
    }
}

/// Scratch of [`block_backward`].
struct Scratch<'a> {
    g: &'a mut Vec<f32>,
    dh: &'a mut Vec<f32>,
    da: &'a mut Vec<f32>,
    dy: &'a mut Vec<f32>,
    dqkv: &'a mut Vec<f32>,
}

/// One block backward: `dres` holds the gradient of the block's output and gets that of its
/// input. Returns the parameters' gradients in [`Block::vars`]' order.
fn block_backward(
    w: &BlockW,
    a: &Acts,
    dres: &mut [f32],
    s: &mut Scratch,
    t: usize,
) -> Vec<Vec<f32>> {
    let (c, hid, v) = (w.width, w.hidden, &w.v);
    let r = dres.len() / c;
    fit(s.g, r * hid);
    fit(s.dh, r * hid);
    fit(s.da, r * c);
    fit(s.dy, r * c);
    fit(s.dqkv, r * 3 * c);
    let mut gr: Vec<Vec<f32>> = v.iter().map(|p| vec![0f32; p.len()]).collect();
    let [dg1, db1, dwqkv, dbqkv, dwp, dbp, dg2, db2, dw1, dbf1, dw2, dbf2] = &mut gr[..] else {
        unreachable!("twelve variables per block")
    };
    // MLP.
    dense::backward_input_gelu(dres, c, &v[FC2_W], &a.h, s.dh, s.g);
    dense::weight_grad(dres, c, s.g, hid, dw2, dbf2);
    dense::weight_grad(s.dh, hid, &a.c, c, dw1, dbf1);
    dense::backward_input(s.dh, hid, &v[FC1_W], c, s.da, false);
    dense::layer_norm_backward(s.da, &a.x2, &a.s2, c, &v[LN2_G], dres, true, dg2, db2);
    // Attention.
    dense::weight_grad(dres, c, &a.y, c, dwp, dbp);
    dense::backward_input(dres, c, &v[PROJ_W], c, s.dy, false);
    dense::attention_backward(&a.qkv, &a.p, s.dy, t, w.heads, c, s.dqkv);
    dense::weight_grad(s.dqkv, 3 * c, &a.a, c, dwqkv, dbqkv);
    dense::backward_input(s.dqkv, 3 * c, &v[QKV_W], c, s.da, false);
    dense::layer_norm_backward(s.da, &a.x, &a.s1, c, &v[LN1_G], dres, true, dg1, db1);
    gr
}

fn put(store: &mut GradStore, var: &Var, g: Vec<f32>) -> Result<()> {
    let t = Tensor::from_vec(g, var.shape(), var.device())?;
    store.insert(var.as_tensor(), t);
    Ok(())
}

/// The parameter values of a step (read once, shared by its parts), with the forward gemms'
/// weights transposed.
struct Weights<'a> {
    embed: [Vec<f32>; 3],
    pos: Vec<f32>,
    enc: Vec<BlockW<'a>>,
    norm: [Vec<f32>; 2],
    to_latent: [Vec<f32>; 3],
    from_latent: [Vec<f32>; 3],
    mask_token: Vec<f32>,
    dec_pos: Vec<f32>,
    dec: Vec<BlockW<'a>>,
    dec_norm: [Vec<f32>; 2],
    head: [Vec<f32>; 3],
}

/// A linear layer's weight `w [n, k]` transposed (`[k, n]`), `n` the length of its bias `b`.
fn weight_transposed(w: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    let n = b.len();
    if n == 0 || !w.len().is_multiple_of(n) {
        candle_core::bail!("a linear layer's weight and bias do not fit together");
    }
    Ok(dense::transposed(w, n, w.len() / n))
}

/// A linear layer's weight `[n, k]`, its bias and the weight transposed.
fn linear_values(l: &crate::model::layers::Linear) -> Result<[Vec<f32>; 3]> {
    let (w, b) = (values(l.weight.as_tensor())?, values(l.bias.as_tensor())?);
    let t = weight_transposed(&w, &b)?;
    Ok([w, b, t])
}

impl<'a> Weights<'a> {
    fn new(m: &'a Mae) -> Result<Weights<'a>> {
        // The blocks' values and transposes (most of the parameters) on the thread pool.
        let all: Vec<&Block> = m.blocks.iter().chain(&m.dec_blocks).collect();
        let mut enc = par::map_parts(all.len(), |i| BlockW::new(all[i]))
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let dec = enc.split_off(m.blocks.len());
        let ln = |l: &LayerNorm| -> Result<[Vec<f32>; 2]> {
            Ok([values(l.gamma.as_tensor())?, values(l.beta.as_tensor())?])
        };
        let w = Weights {
            embed: linear_values(&m.embed)?,
            pos: values(m.pos.as_tensor())?,
            enc,
            norm: ln(&m.norm)?,
            to_latent: linear_values(&m.to_latent)?,
            from_latent: linear_values(&m.from_latent)?,
            mask_token: values(m.mask_token.as_tensor())?,
            dec_pos: values(m.dec_pos.as_tensor())?,
            dec,
            dec_norm: ln(&m.dec_norm)?,
            head: linear_values(&m.head)?,
        };
        let (cw, dw) = (m.cfg.width, m.cfg.decoder_width);
        if w.enc.iter().any(|b| b.width != cw) || w.dec.iter().any(|b| b.width != dw) {
            candle_core::bail!("block widths differ from the config's");
        }
        Ok(w)
    }
}

/// Parts a batch is cut into, each run forward and backward on one thread of candle's pool with
/// every kernel inline (the threads meet once a step, not at every kernel); fixed, so that a step
/// is bitwise the same whatever the thread count. Their gradients are added in part order.
const STEP_PARTS: usize = 2;

/// What one part of a batch gives back.
struct PartOut<'a> {
    /// Sum of the squared errors over the masked pixels (in [-1, 1]), and over the paper
    /// reconstruction's pixels (in [0, 1]).
    sq: f64,
    recon_sq: f64,
    /// The paper reconstruction, `[rois, 784]`.
    recon: Vec<f32>,
    /// Every parameter's gradient, in the same order in every part.
    grads: Vec<(&'a Var, Vec<f32>)>,
}

/// The forward pass with the weights `wts` (read from `m`), and the gradients when `backward`.
fn run(
    m: &Mae,
    wts: &Weights,
    x: &Tensor,
    masks: &Masks,
    backward: bool,
) -> Result<(Output, Option<GradStore>)> {
    let dev = x.device().clone();
    let b = x.dim(0)?;
    if masks.0.len() != b {
        candle_core::bail!("{} masks for {b} ROIs", masks.0.len());
    }
    let n = m.n;
    let pp = m.cfg.patch * m.cfg.patch;
    if x.dims() != [b, 1, SIDE, SIDE] {
        candle_core::bail!(
            "the MAE takes [B, 1, {SIDE}, {SIDE}] ROIs, got {:?}",
            x.dims()
        );
    }
    let n_masked = masks.0.first().map_or(0, Vec::len);
    for mi in &masks.0 {
        if mi.len() != n_masked {
            candle_core::bail!("every ROI of a batch must have the same number of masked patches");
        }
        let mut seen = vec![false; n];
        for &j in mi {
            if j >= n || seen[j] {
                candle_core::bail!("bad mask {mi:?}");
            }
            seen[j] = true;
        }
    }
    let xs = values(x)?;
    let den = b * n_masked.max(1) * pp;

    let parts = STEP_PARTS.min(b).max(1);
    let size = b.div_ceil(parts);
    let mut guard = m.work.lock().unwrap_or_else(|e| e.into_inner());
    guard.resize_with(parts, Work::default);
    let works: Vec<Mutex<&mut Work>> = guard.iter_mut().map(Mutex::new).collect();
    let px = SIDE * SIDE;
    let outs = par::map_parts(parts, |i| {
        let lo = (i * size).min(b);
        let hi = ((i + 1) * size).min(b);
        let mut w = works[i].lock().unwrap_or_else(|e| e.into_inner());
        part(
            m,
            wts,
            &xs[lo * px..hi * px],
            &masks.0[lo..hi],
            den,
            backward,
            &mut w,
        )
    });
    drop(works);
    drop(guard);
    let mut outs = outs.into_iter().collect::<Result<Vec<_>>>()?;

    let (mut sq, mut recon_sq) = (0f64, 0f64);
    let mut recon = Vec::with_capacity(b * px);
    for o in &mut outs {
        sq += o.sq;
        recon_sq += o.recon_sq;
        recon.append(&mut o.recon);
    }
    let loss = (sq / den as f64) as f32;
    let recon_mse = (recon_sq / xs.len().max(1) as f64) as f32;
    let out = Output {
        recon: Tensor::from_vec(recon, (b, 1, SIDE, SIDE), &dev)?,
        loss: Tensor::new(loss, &dev)?,
        terms: vec![
            ("recon", Tensor::new(recon_mse, &dev)?),
            ("masked", Tensor::new(loss, &dev)?),
        ],
        codes: None,
    };
    if !backward {
        return Ok((out, None));
    }
    let mut outs = outs.into_iter();
    let Some(first) = outs.next() else {
        candle_core::bail!("a step of no parts");
    };
    let mut grads = first.grads;
    for o in outs {
        for ((var, g), (var2, g2)) in grads.iter_mut().zip(o.grads) {
            debug_assert!(std::ptr::eq(*var, var2));
            g.iter_mut().zip(&g2).for_each(|(a, v)| *a += v);
        }
    }
    let mut store = GradStore::default();
    for (var, g) in grads {
        put(&mut store, var, g)?;
    }
    Ok((out, Some(store)))
}

/// One part of a batch, `xs` its ROIs' pixels, forward (and backward): the loss's sums, the
/// paper reconstruction and the gradients. `den` is the whole batch's count of masked pixels
/// (the loss's denominator).
fn part<'a>(
    m: &'a Mae,
    wts: &Weights<'a>,
    xs: &[f32],
    masks: &[Vec<usize>],
    den: usize,
    backward: bool,
    w: &mut Work,
) -> Result<PartOut<'a>> {
    let b = masks.len();
    let (n, grid, p) = (m.n, m.grid, m.cfg.patch);
    let pp = p * p;
    let n_masked = masks.first().map_or(0, Vec::len);
    let mut masked = vec![false; b * n];
    for (i, mi) in masks.iter().enumerate() {
        for &j in mi {
            masked[i * n + j] = true;
        }
    }
    let visible = n - n_masked;
    // Rows of the visible tokens, ROI-major, ascending positions (as `Mae::plan`'s `keep`).
    let vis: Vec<usize> = (0..b * n).filter(|&r| !masked[r]).collect();
    let bv = vis.len();
    let (cw, ld) = (m.cfg.width, m.cfg.latent_dim);
    let dw = m.cfg.decoder_width;
    let [embed_w, embed_b, embed_wt] = &wts.embed;
    let pos = &wts.pos;
    let (enc_w, dec_w) = (&wts.enc, &wts.dec);
    let [norm_g, norm_b] = &wts.norm;
    let [tl_w, tl_b, tl_wt] = &wts.to_latent;
    let [fl_w, fl_b, fl_wt] = &wts.from_latent;
    let (mask_token, dec_pos) = (&wts.mask_token, &wts.dec_pos);
    let [dn_g, dn_b] = &wts.dec_norm;
    let [head_w, head_b, head_wt] = &wts.head;
    let mut grads: Vec<(&'a Var, Vec<f32>)> = Vec::new();

    w.enc.resize_with(enc_w.len(), Acts::default);
    w.dec.resize_with(dec_w.len(), Acts::default);

    // Patches in [-1, 1], row-major inside (as `Mae::patchify` of `x.affine(2, -1)`).
    fit(&mut w.xp, b * n * pp);
    for (row, patch) in w.xp.chunks_exact_mut(pp).enumerate() {
        let (i, j) = (row / n, row % n);
        let (gy, gx) = (j / grid, j % grid);
        for (k, v) in patch.iter_mut().enumerate() {
            let (py, px) = (gy * p + k / p, gx * p + k % p);
            *v = xs[i * SIDE * SIDE + py * SIDE + px] * 2.0 + -1.0;
        }
    }
    fit(&mut w.xv, bv * pp);
    for (dst, &r) in w.xv.chunks_exact_mut(pp).zip(&vis) {
        dst.copy_from_slice(&w.xp[r * pp..][..pp]);
    }

    // Encoder: the embedding of the visible patches plus their positions.
    let first = match w.enc.first_mut() {
        Some(a) => &mut a.x,
        None => &mut w.enc_out,
    };
    fit(first, bv * cw);
    dense::linear(&w.xv, pp, embed_wt, cw, first, |r, row| {
        let j = vis[r] % n;
        for ((o, bb), pv) in row.iter_mut().zip(embed_b).zip(&pos[j * cw..]) {
            *o = bb + pv;
        }
    });
    blocks_forward(enc_w, &mut w.enc, &mut w.enc_out, &mut w.g, visible);
    fit(&mut w.hn, bv * cw);
    fit(&mut w.hs, bv * 2);
    dense::layer_norm(&w.enc_out, cw, norm_g, norm_b, &mut w.hn, &mut w.hs);
    fit(&mut w.lat, bv * ld);
    dense::linear(&w.hn, cw, tl_wt, ld, &mut w.lat, bias(tl_b));

    // Decoder: the visible tokens' latents at their positions, mask tokens elsewhere.
    fit(&mut w.dv, bv * dw);
    dense::linear(&w.lat, ld, fl_wt, dw, &mut w.dv, bias(fl_b));
    let dec_in = match w.dec.first_mut() {
        Some(a) => &mut a.x,
        None => &mut w.dec_out,
    };
    fit(dec_in, b * n * dw);
    let mut vi = 0;
    for (r, row) in dec_in.chunks_exact_mut(dw).enumerate() {
        let src = if masked[r] {
            &mask_token[..]
        } else {
            vi += 1;
            &w.dv[(vi - 1) * dw..][..dw]
        };
        for ((o, s), pv) in row.iter_mut().zip(src).zip(&dec_pos[(r % n) * dw..]) {
            *o = s + pv;
        }
    }
    blocks_forward(dec_w, &mut w.dec, &mut w.dec_out, &mut w.g, n);
    fit(&mut w.dn, b * n * dw);
    fit(&mut w.ds, b * n * 2);
    dense::layer_norm(&w.dec_out, dw, dn_g, dn_b, &mut w.dn, &mut w.ds);
    fit(&mut w.pred, b * n * pp);
    dense::linear(&w.dn, dw, head_wt, pp, &mut w.pred, bias(head_b));

    // Loss over the masked patches; the paper's reconstruction (input pixels where visible).
    let mut sq = 0f64;
    for (r, (pr, xr)) in w
        .pred
        .chunks_exact(pp)
        .zip(w.xp.chunks_exact(pp))
        .enumerate()
    {
        if masked[r] {
            sq += pr
                .iter()
                .zip(xr)
                .map(|(a, b)| f64::from((a - b) * (a - b)))
                .sum::<f64>();
        }
    }
    let mut recon = xs.to_vec();
    for (r, pr) in w.pred.chunks_exact(pp).enumerate() {
        if !masked[r] {
            continue;
        }
        let (i, j) = (r / n, r % n);
        let (gy, gx) = (j / grid, j % grid);
        for (k, v) in pr.iter().enumerate() {
            let (py, px) = (gy * p + k / p, gx * p + k % p);
            recon[i * SIDE * SIDE + py * SIDE + px] = (v * 0.5 + 0.5).clamp(0.0, 1.0);
        }
    }
    let recon_sq: f64 = recon
        .iter()
        .zip(xs)
        .map(|(a, b)| f64::from((a - b) * (a - b)))
        .sum();
    let mut out = PartOut {
        sq,
        recon_sq,
        recon,
        grads: Vec::new(),
    };
    if !backward {
        return Ok(out);
    }

    // The loss's gradient at the predictions: masked patches only.
    let scale = 2.0 / den as f32;
    fit(&mut w.dpred, b * n * pp);
    let rows = w.dpred.chunks_exact_mut(pp).zip(w.pred.chunks_exact(pp));
    for (r, ((d, pr), xr)) in rows.zip(w.xp.chunks_exact(pp)).enumerate() {
        for ((dv, pv), xv) in d.iter_mut().zip(pr).zip(xr) {
            *dv = if masked[r] { scale * (pv - xv) } else { 0.0 };
        }
    }
    let (mut gw, mut gb) = (vec![0f32; head_w.len()], vec![0f32; pp]);
    dense::weight_grad(&w.dpred, pp, &w.dn, dw, &mut gw, &mut gb);
    grads.push((&m.head.weight, gw));
    grads.push((&m.head.bias, gb));
    fit(&mut w.da, b * n * dw);
    dense::backward_input(&w.dpred, pp, head_w, dw, &mut w.da, false);
    fit(&mut w.dres, b * n * dw);
    let (mut gg, mut gbeta) = (vec![0f32; dw], vec![0f32; dw]);
    dense::layer_norm_backward(
        &w.da,
        &w.dec_out,
        &w.ds,
        dw,
        dn_g,
        &mut w.dres,
        false,
        &mut gg,
        &mut gbeta,
    );
    grads.push((&m.dec_norm.gamma, gg));
    grads.push((&m.dec_norm.beta, gbeta));
    for (bw, a) in dec_w.iter().zip(&w.dec).rev() {
        let mut s = Scratch {
            g: &mut w.g,
            dh: &mut w.dh,
            da: &mut w.da,
            dy: &mut w.dy,
            dqkv: &mut w.dqkv,
        };
        let gs = block_backward(bw, a, &mut w.dres, &mut s, n);
        grads.extend(bw.vars.iter().copied().zip(gs));
    }
    // Positions, the mask token and the visible tokens' share.
    let mut gpos = vec![0f32; dec_pos.len()];
    let mut gmask = vec![0f32; dw];
    fit(&mut w.dy, bv * dw);
    let mut vi = 0;
    for (r, row) in w.dres.chunks_exact(dw).enumerate() {
        let gp = &mut gpos[(r % n) * dw..][..dw];
        gp.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        if masked[r] {
            gmask.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        } else {
            w.dy[vi * dw..][..dw].copy_from_slice(row);
            vi += 1;
        }
    }
    grads.push((&m.dec_pos, gpos));
    grads.push((&m.mask_token, gmask));
    let (mut gw, mut gb) = (vec![0f32; fl_w.len()], vec![0f32; dw]);
    dense::weight_grad(&w.dy, dw, &w.lat, ld, &mut gw, &mut gb);
    grads.push((&m.from_latent.weight, gw));
    grads.push((&m.from_latent.bias, gb));
    fit(&mut w.dlat, bv * ld);
    dense::backward_input(&w.dy, dw, fl_w, ld, &mut w.dlat, false);
    let (mut gw, mut gb) = (vec![0f32; tl_w.len()], vec![0f32; ld]);
    dense::weight_grad(&w.dlat, ld, &w.hn, cw, &mut gw, &mut gb);
    grads.push((&m.to_latent.weight, gw));
    grads.push((&m.to_latent.bias, gb));
    fit(&mut w.da, bv * cw);
    dense::backward_input(&w.dlat, ld, tl_w, cw, &mut w.da, false);
    fit(&mut w.dres, bv * cw);
    let (mut gg, mut gbeta) = (vec![0f32; cw], vec![0f32; cw]);
    dense::layer_norm_backward(
        &w.da,
        &w.enc_out,
        &w.hs,
        cw,
        norm_g,
        &mut w.dres,
        false,
        &mut gg,
        &mut gbeta,
    );
    grads.push((&m.norm.gamma, gg));
    grads.push((&m.norm.beta, gbeta));
    for (bw, a) in enc_w.iter().zip(&w.enc).rev() {
        let mut s = Scratch {
            g: &mut w.g,
            dh: &mut w.dh,
            da: &mut w.da,
            dy: &mut w.dy,
            dqkv: &mut w.dqkv,
        };
        let gs = block_backward(bw, a, &mut w.dres, &mut s, visible);
        grads.extend(bw.vars.iter().copied().zip(gs));
    }
    // The embedding and the encoder's positions.
    let mut gpos = vec![0f32; pos.len()];
    for (row, &r) in w.dres.chunks_exact(cw).zip(&vis) {
        let gp = &mut gpos[(r % n) * cw..][..cw];
        gp.iter_mut().zip(row).for_each(|(a, v)| *a += v);
    }
    grads.push((&m.pos, gpos));
    let (mut gw, mut gb) = (vec![0f32; embed_w.len()], vec![0f32; cw]);
    dense::weight_grad(&w.dres, cw, &w.xv, pp, &mut gw, &mut gb);
    grads.push((&m.embed.weight, gw));
    grads.push((&m.embed.bias, gb));
    out.grads = grads;
    Ok(out)
}

#[cfg(test)]
mod tests;

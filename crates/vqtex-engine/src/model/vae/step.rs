//! The training step of the VAE and of the VAE+NF on the CPU: the VQ-VAE's channels-last
//! convolution stack ([`ConvStack`]) around the Gaussian latent, forward and backward by hand on
//! f32 slices. The same math as [`super::Vae::forward`] (and [`crate::model::VaeNf::forward`])
//! followed by candle's `backward`, with the same noise: eps comes from the model's noise stream,
//! drawn for the whole batch in the order the candle path draws it (checked in the tests).
//!
//! The linear layers between the 7x7 map and the latent vector read the map channels last: their
//! weights are permuted once per step from candle's (channels-first) flattening, and their
//! gradients permuted back.

use std::sync::Mutex;

use candle_core::{backprop::GradStore, Result, Tensor, Var};

use super::{normal_values, GaussianCoder, PIXELS};
use crate::model::flow::Planar;
use crate::model::ops::gemm::{matmul, MatMut, MatRef};
use crate::model::ops::nhwc::stack::{self, insert, relu_backward, run_parts, values, ConvStack};
use crate::model::ops::nhwc::{self, col_sums};
use crate::model::ops::{par, Activation};
use crate::model::{Output, Params};
use crate::rng::Rng;

/// True when the hand-written step applies: the input and every parameter are f32 on the CPU.
pub(crate) fn applies(params: &Params, x: &Tensor) -> bool {
    stack::applies(params, x)
}

/// `f` of a tensor's values, borrowed from its storage when it is a contiguous f32 CPU tensor
/// (the parameters always are), else copied.
fn with_values<T>(t: &Tensor, f: impl FnOnce(&[f32]) -> T) -> Result<T> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (candle_core::Storage::Cpu(cpu), Some((lo, hi))) =
            (&*storage, layout.contiguous_offsets())
        {
            if let Ok(v) = cpu.as_slice::<f32>() {
                if let Some(v) = v.get(lo..hi) {
                    return Ok(f(v));
                }
            }
        }
    }
    Ok(f(&values(t)?))
}

/// A vector laid out channels first (`[c, l]`, candle's flattening of a map) to channels last
/// (`[l, c]`).
fn to_channels_last(v: &[f32], c: usize, l: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for ch in 0..c {
        for pos in 0..l {
            out[pos * c + ch] = v[ch * l + pos];
        }
    }
    out
}

/// The inverse of [`to_channels_last`].
fn to_channels_first(v: &[f32], c: usize, l: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for ch in 0..c {
        for pos in 0..l {
            out[ch * l + pos] = v[pos * c + ch];
        }
    }
    out
}

/// One planar flow's parameters and what the step derives from them once per step.
struct Flow {
    u: Vec<f32>,
    w: Vec<f32>,
    b: f32,
    /// w . u, ||w||^2 + 1e-12, m(w . u) - w . u and their ratio (u_hat = u + scale w).
    wu: f32,
    s: f32,
    a: f32,
    scale: f32,
    u_hat: Vec<f32>,
    /// w . u_hat.
    wuh: f32,
}

impl Flow {
    fn new(p: &Planar) -> Result<Flow> {
        let (u, w) = (values(p.u.as_tensor())?, values(p.w.as_tensor())?);
        let b = values(p.b.as_tensor())?.first().copied().unwrap_or(0.0);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let wu = dot(&w, &u);
        // softplus(a) = relu(a) + log(1 + exp(-|a|)), as the candle path computes it.
        let m = (wu.max(0.0) + ((-wu.abs()).exp() + 1.0).ln()) - 1.0;
        let s = dot(&w, &w) + 1e-12;
        let a = m - wu;
        let scale = a / s;
        let u_hat: Vec<f32> = u.iter().zip(&w).map(|(u, w)| u + w * scale).collect();
        let wuh = dot(&w, &u_hat);
        Ok(Flow {
            u,
            w,
            b,
            wu,
            s,
            a,
            scale,
            u_hat,
            wuh,
        })
    }

    /// The gradients of `u`, `w` and `b` from the batch sums `acc` (`[du_hat, dw, db, dwuh]`
    /// with `dw` the part through w . z only): the chain through u_hat and w . u_hat.
    fn grads(&self, acc: &[f32]) -> [Vec<f32>; 3] {
        let d = self.u.len();
        let (gu_hat, gw_lin) = (&acc[..d], &acc[d..2 * d]);
        let (gb, gwuh) = (acc[2 * d], acc[2 * d + 1]);
        // wuh = w . u_hat.
        let gu_hat: Vec<f32> = gu_hat
            .iter()
            .zip(&self.w)
            .map(|(g, w)| g + gwuh * w)
            .collect();
        let mut gw: Vec<f32> = gw_lin
            .iter()
            .zip(&self.u_hat)
            .map(|(g, uh)| g + gwuh * uh)
            .collect();
        // u_hat = u + scale w, scale = a / s, s = ||w||^2 + 1e-12, a = softplus(wu) - 1 - wu.
        let mut gu = gu_hat.clone();
        let gscale: f32 = gu_hat.iter().zip(&self.w).map(|(g, w)| g * w).sum();
        let ga = gscale / self.s;
        let gs = -gscale * self.a / (self.s * self.s);
        let sig = 1.0 / (1.0 + (-self.wu).exp());
        let gwu = ga * (sig - 1.0);
        for j in 0..d {
            gw[j] += self.scale * gu_hat[j] + 2.0 * gs * self.w[j] + gwu * self.u[j];
            gu[j] += gwu * self.w[j];
        }
        [gu, gw, vec![gb]]
    }
}

/// The layers, read once per step.
struct Layers {
    stack: ConvStack,
    /// Latent dimension, grid positions, channels of the encoder's and the decoder's map.
    d: usize,
    l: usize,
    ce: usize,
    cd: usize,
    /// fc_mu over fc_logvar, `[2d, l * ce]`, columns channels last; their biases `[2d]`.
    stat_w: Vec<f32>,
    stat_b: Vec<f32>,
    /// fc_dec, `[l * cd, d]`, rows channels last; its bias.
    dec_w: Vec<f32>,
    dec_b: Vec<f32>,
    flows: Vec<Flow>,
    /// Weight of the KL term per ROI and pixel: beta / (784 * batch).
    c: f32,
}

impl Layers {
    fn new(
        coder: &GaussianCoder,
        flows: Option<&[Planar]>,
        beta: f64,
        batch: usize,
        image: (usize, usize, usize),
    ) -> Result<Layers> {
        let stack = ConvStack::new(
            [&coder.enc1, &coder.enc2],
            [&coder.dec1, &coder.dec2],
            image,
        )?;
        let (ce, l) = stack.latent();
        let cd = stack.decoder_channels();
        let d = coder.fc_mu.weight.dims()[0];
        let (fe, fd) = (ce * l, cd * l);
        let sizes = [
            coder.fc_mu.weight.elem_count(),
            coder.fc_logvar.weight.elem_count(),
            coder.fc_dec.weight.elem_count(),
        ];
        if sizes != [d * fe, d * fe, d * fd] {
            candle_core::bail!("the linear layers do not match the convolutions' maps");
        }
        // Buffers of the previous step, without allocating (and faulting in) new pages.
        let mut stat_w = par::output(2 * d * fe);
        for (half, var) in [&coder.fc_mu.weight, &coder.fc_logvar.weight]
            .into_iter()
            .enumerate()
        {
            let dst = &mut stat_w[half * d * fe..][..d * fe];
            with_values(var.as_tensor(), |w| {
                for (o, row) in dst.chunks_exact_mut(fe).zip(w.chunks_exact(fe)) {
                    for ch in 0..ce {
                        for pos in 0..l {
                            o[pos * ce + ch] = row[ch * l + pos];
                        }
                    }
                }
            })?;
        }
        let mut stat_b = values(coder.fc_mu.bias.as_tensor())?;
        stat_b.extend(values(coder.fc_logvar.bias.as_tensor())?);
        // fc_dec's rows are the map's values: permuted as whole rows.
        let mut dec_w_cl = par::output(d * fd);
        with_values(coder.fc_dec.weight.as_tensor(), |w| {
            for ch in 0..cd {
                for pos in 0..l {
                    dec_w_cl[(pos * cd + ch) * d..][..d]
                        .copy_from_slice(&w[(ch * l + pos) * d..][..d]);
                }
            }
        })?;
        let dec_b = to_channels_last(&values(coder.fc_dec.bias.as_tensor())?, cd, l);
        let flows = flows
            .unwrap_or_default()
            .iter()
            .map(Flow::new)
            .collect::<Result<Vec<_>>>()?;
        Ok(Layers {
            stack,
            d,
            l,
            ce,
            cd,
            stat_w,
            stat_b,
            dec_w: dec_w_cl,
            dec_b,
            flows,
            c: (beta / (PIXELS * batch.max(1) as f64)) as f32,
        })
    }
}

/// What one part of a batch gives: reconstructions (channels last), the sum of squared errors,
/// the sum of the per-ROI KL terms and the gradients (see [`part`]).
struct Part {
    y: Vec<f32>,
    sums: [f64; 2],
    grads: Vec<Vec<f32>>,
}

/// The VAE's (`flows` `None`) or the VAE+NF's training-mode forward pass and the gradients of its
/// loss, with noise from `noise`.
pub(crate) fn forward_backward(
    coder: &GaussianCoder,
    flows: Option<&[Planar]>,
    beta: f64,
    noise: &Mutex<Rng>,
    x: &Tensor,
) -> Result<(Output, GradStore)> {
    let (out, grads) = run(coder, flows, beta, Some(noise), x)?;
    Ok((out, grads.unwrap_or_default()))
}

/// The evaluation forward pass (eps = 0: the decoder sees mu, or the flowed mu), without
/// gradients: its output holds no op graph.
pub(crate) fn forward(
    coder: &GaussianCoder,
    flows: Option<&[Planar]>,
    beta: f64,
    x: &Tensor,
) -> Result<Output> {
    Ok(run(coder, flows, beta, None, x)?.0)
}

/// The forward pass of a batch cut into parts, with noise from `noise` and the gradients when
/// there is one (training), else with eps = 0 and no gradients (evaluation).
fn run(
    coder: &GaussianCoder,
    flows: Option<&[Planar]>,
    beta: f64,
    noise: Option<&Mutex<Rng>>,
    x: &Tensor,
) -> Result<(Output, Option<GradStore>)> {
    let dev = x.device().clone();
    let (batch, c_in, h, w) = x.dims4()?;
    let p = Layers::new(coder, flows, beta, batch, (c_in, h, w))?;
    let d = p.d;
    let backward = noise.is_some();
    let eps = match noise {
        Some(noise) => normal_values(noise, batch * d)?,
        None => {
            let mut eps = par::output(batch * d);
            eps.fill(0.0);
            eps
        }
    };
    let xv = nhwc::from_nchw(&values(x)?, c_in, h * w);
    let img = p.stack.image();
    let parts = run_parts(batch, |first, n| {
        let xs = &xv[first * img..(first + n) * img];
        part(&p, xs, &eps[first * d..(first + n) * d], n, batch, backward)
    })?;
    let mut y = par::output(0);
    y.reserve(xv.len());
    let mut sums = [0f64; 2];
    let mut grads = Vec::new();
    for part in parts {
        y.extend_from_slice(&part.y);
        par::recycle(part.y);
        sums[0] += part.sums[0];
        sums[1] += part.sums[1];
        if grads.is_empty() {
            grads = part.grads;
            continue;
        }
        for (acc, g) in grads.iter_mut().zip(part.grads) {
            acc.iter_mut().zip(&g).for_each(|(a, v)| *a += *v);
            // The linear layers' weight gradients come from the pool (see `linear_backward`).
            if g.len() >= POOLED {
                par::recycle(g);
            }
        }
    }
    par::recycle(xv);
    par::recycle(eps);
    let recon = (sums[0] / (batch * img).max(1) as f64) as f32;
    let kl = (sums[1] / batch.max(1) as f64) as f32;
    let loss = recon + kl * (beta / PIXELS) as f32;
    let y = nhwc::to_nchw(y, c_in, h * w);
    let scalar = |v: f32| Tensor::new(v, &dev);
    let out = Output {
        recon: Tensor::from_vec(y, (batch, c_in, h, w), &dev)?,
        loss: scalar(loss)?,
        terms: vec![("recon", scalar(recon)?), ("kl", scalar(kl)?)],
        codes: None,
    };
    let store = match backward {
        true => Some(gradients(&p, coder, flows, grads)?),
        false => None,
    };
    par::recycle(p.stat_w);
    par::recycle(p.dec_w);
    Ok((out, store))
}

/// The summed gradients of the parts into a [`GradStore`].
fn gradients(
    p: &Layers,
    coder: &GaussianCoder,
    flows: Option<&[Planar]>,
    grads: Vec<Vec<f32>>,
) -> Result<GradStore> {
    let (d, l, ce, cd) = (p.d, p.l, p.ce, p.cd);
    let mut store = GradStore::default();
    let mut g = grads.into_iter();
    let mut next = || {
        g.next()
            .ok_or_else(|| candle_core::Error::Msg("a gradient is missing".into()))
    };
    let [[w4, b4, w3, b3], [w2, b2, w1, b1]] = p.stack.grad_weights();
    for (var, weight) in [
        (&coder.dec2.weight, w4),
        (&coder.dec2.bias, b4),
        (&coder.dec1.weight, w3),
        (&coder.dec1.bias, b3),
    ] {
        insert(&mut store, var, next()?, weight)?;
    }
    // fc_dec: rows back to channels first.
    let gdw = next()?;
    let mut gdw_cf = vec![0f32; gdw.len()];
    for ch in 0..cd {
        for pos in 0..l {
            gdw_cf[(ch * l + pos) * d..][..d].copy_from_slice(&gdw[(pos * cd + ch) * d..][..d]);
        }
    }
    insert(&mut store, &coder.fc_dec.weight, gdw_cf, None)?;
    par::recycle(gdw);
    let gdb = to_channels_first(&next()?, cd, l);
    insert(&mut store, &coder.fc_dec.bias, gdb, None)?;
    // fc_mu and fc_logvar: columns back to channels first.
    let gsw = next()?;
    let fe = ce * l;
    let rows = |r: std::ops::Range<usize>| -> Vec<f32> {
        let mut out = vec![0f32; r.len() * fe];
        let src = gsw[r.start * fe..r.end * fe].chunks_exact(fe);
        for (o, row) in out.chunks_exact_mut(fe).zip(src) {
            for ch in 0..ce {
                for pos in 0..l {
                    o[ch * l + pos] = row[pos * ce + ch];
                }
            }
        }
        out
    };
    insert(&mut store, &coder.fc_mu.weight, rows(0..d), None)?;
    insert(&mut store, &coder.fc_logvar.weight, rows(d..2 * d), None)?;
    par::recycle(gsw);
    let gsb = next()?;
    insert(&mut store, &coder.fc_mu.bias, gsb[..d].to_vec(), None)?;
    insert(&mut store, &coder.fc_logvar.bias, gsb[d..].to_vec(), None)?;
    for (var, weight) in [
        (&coder.enc2.weight, w2),
        (&coder.enc2.bias, b2),
        (&coder.enc1.weight, w1),
        (&coder.enc1.bias, b1),
    ] {
        insert(&mut store, var, next()?, weight)?;
    }
    for (f, planar) in p.flows.iter().zip(flows.unwrap_or_default()) {
        let [gu, gw, gb] = f.grads(&next()?);
        let vars: [&Var; 3] = [&planar.u, &planar.w, &planar.b];
        for (var, g) in vars.into_iter().zip([gu, gw, gb]) {
            insert(&mut store, var, g, None)?;
        }
    }
    Ok(store)
}

/// Gradients of at least this many floats go back to the pool once added up (those of the
/// linear layers' weights, hundreds of KiB: a fresh allocation faults in every page each step).
const POOLED: usize = 1 << 15;

/// `dst = a x b^T + bias` (row broadcast) for `a` `[n, k]`, `b` `[m, k]`.
fn linear(dst: &mut [f32], a: &[f32], b: &[f32], bias: &[f32], (n, k, m): (usize, usize, usize)) {
    matmul(
        MatMut::row_major(dst, n, m),
        MatRef::row_major(a, n, k),
        MatRef::row_major(b, m, k).t(),
        false,
    );
    for row in dst.chunks_exact_mut(m) {
        row.iter_mut().zip(bias).for_each(|(v, b)| *v += *b);
    }
}

/// The backward pass of [`linear`] from `g` `[n, m]`: the weight gradient `g^T x a` `[m, k]`, the
/// bias gradient and the input gradient `g x b` `[n, k]`.
fn linear_backward(
    g: &[f32],
    a: &[f32],
    b: &[f32],
    (n, k, m): (usize, usize, usize),
) -> [Vec<f32>; 3] {
    let mut gw = par::output(m * k);
    matmul(
        MatMut::row_major(&mut gw, m, k),
        MatRef::row_major(g, n, m).t(),
        MatRef::row_major(a, n, k),
        false,
    );
    let mut ga = par::output(n * k);
    matmul(
        MatMut::row_major(&mut ga, n, k),
        MatRef::row_major(g, n, m),
        MatRef::row_major(b, m, k),
        false,
    );
    [gw, col_sums(g, m), ga]
}

/// Forward and backward pass of the `n` ROIs `xv` (channels last) with noise `eps` (`[n, d]`),
/// out of a batch of `total`; the backward pass when `backward`. The gradients in the order `dec2` (weight, bias), `dec1`, `fc_dec`,
/// the stacked `fc_mu` / `fc_logvar`, `enc2`, `enc1`, then per flow `[du_hat, dw, db, dwuh]`
/// (see [`Flow::grads`]).
fn part(p: &Layers, xv: &[f32], eps: &[f32], n: usize, total: usize, backward: bool) -> Part {
    let (d, l, ce, cd, c) = (p.d, p.l, p.ce, p.cd, p.c);
    let (fe, fd) = (l * ce, l * cd);
    let [h1, hz] = p.stack.encode(xv, n, Activation::Relu);
    // mu and logvar side by side, `[n, 2d]`.
    let mut st = vec![0f32; n * 2 * d];
    linear(&mut st, &hz, &p.stat_w, &p.stat_b, (n, fe, 2 * d));
    let mut sd = vec![0f32; n * d];
    let mut z = vec![0f32; n * d];
    for i in 0..n {
        let (mu, lv) = st[i * 2 * d..(i + 1) * 2 * d].split_at(d);
        for j in 0..d {
            sd[i * d + j] = (lv[j] * 0.5).exp();
            z[i * d + j] = mu[j] + sd[i * d + j] * eps[i * d + j];
        }
    }
    // The flows: the input of each, tanh(w . z + b) and the Jacobian's determinant per ROI.
    let k = p.flows.len();
    let mut zs = Vec::with_capacity(k);
    let mut hs = vec![0f32; k * n];
    let mut dets = vec![0f32; k * n];
    let mut logdet = vec![0f32; n];
    for (f, fl) in p.flows.iter().enumerate() {
        let mut zn = z.clone();
        for i in 0..n {
            let zi = &z[i * d..(i + 1) * d];
            let lin = zi.iter().zip(&fl.w).map(|(a, b)| a * b).sum::<f32>() + fl.b;
            let h = lin.tanh();
            for (o, uh) in zn[i * d..(i + 1) * d].iter_mut().zip(&fl.u_hat) {
                *o += h * uh;
            }
            let det = (1.0 - h * h) * fl.wuh + 1.0;
            hs[f * n + i] = h;
            dets[f * n + i] = det;
            logdet[i] += (det.abs() + 1e-8).ln();
        }
        zs.push(std::mem::replace(&mut z, zn));
    }
    let mut hd = par::output(n * fd);
    linear(&mut hd, &z, &p.dec_w, &p.dec_b, (n, d, fd));
    let [h3, y] = p.stack.decode(&hd, n);

    let recon: f64 = y
        .iter()
        .zip(xv)
        .map(|(a, b)| f64::from((a - b) * (a - b)))
        .sum();
    let mut kl = 0f64;
    for i in 0..n {
        let (mu, lv) = st[i * 2 * d..(i + 1) * 2 * d].split_at(d);
        let per = if p.flows.is_empty() {
            let t: f32 = (0..d).map(|j| (mu[j] * mu[j] + lv[j].exp()) - lv[j]).sum();
            (t - d as f32) * 0.5
        } else {
            let e = &eps[i * d..(i + 1) * d];
            let log_q0 = -0.5 * (0..d).map(|j| lv[j] + e[j] * e[j]).sum::<f32>();
            let log_p = -0.5 * z[i * d..(i + 1) * d].iter().map(|v| v * v).sum::<f32>();
            (log_q0 - logdet[i]) - log_p
        };
        kl += f64::from(per);
    }

    if !backward {
        for v in [h1, hz, hd, h3] {
            par::recycle(v);
        }
        return Part {
            y,
            sums: [recon, kl],
            grads: Vec::new(),
        };
    }
    // Backward: the decoder, fc_dec.
    let mut grads = Vec::with_capacity(12 + k);
    let gpre4 = p.stack.recon_grad(&y, xv, total);
    let ghd = p.stack.decode_backward(gpre4, &h3, &hd, n, &mut grads);
    let [gdw, gdb, mut gz] = linear_backward(&ghd, &z, &p.dec_w, (n, d, fd));
    grads.extend([gdw, gdb]);
    // The flows, last first; -log p(zK) = |zK|^2 / 2 and -log|det| per ROI, weighted by c.
    let mut flow_grads = Vec::with_capacity(k);
    if k > 0 {
        gz.iter_mut().zip(&z).for_each(|(g, z)| *g += c * z);
    }
    for (f, fl) in p.flows.iter().enumerate().rev() {
        let mut acc = vec![0f32; 2 * d + 2];
        let zin = &zs[f];
        for i in 0..n {
            let (h, det) = (hs[f * n + i], dets[f * n + i]);
            let sign = if det >= 0.0 { 1.0 } else { -1.0 };
            let gdet = -c * sign / (det.abs() + 1e-8);
            let dh = 1.0 - h * h;
            let gi = &mut gz[i * d..(i + 1) * d];
            let gh = gi.iter().zip(&fl.u_hat).map(|(g, u)| g * u).sum::<f32>()
                + gdet * fl.wuh * (-2.0 * h);
            acc[2 * d + 1] += gdet * dh;
            let glin = gh * dh;
            let zi = &zin[i * d..(i + 1) * d];
            for j in 0..d {
                acc[j] += gi[j] * h;
                acc[d + j] += glin * zi[j];
                gi[j] += glin * fl.w[j];
            }
            acc[2 * d] += glin;
        }
        flow_grads.push(acc);
    }
    flow_grads.reverse();
    // The reparameterisation and the KL term to mu and logvar.
    let mut gst = vec![0f32; n * 2 * d];
    for i in 0..n {
        let (mu, lv) = st[i * 2 * d..(i + 1) * 2 * d].split_at(d);
        let (gmu, glv) = gst[i * 2 * d..(i + 1) * 2 * d].split_at_mut(d);
        for j in 0..d {
            let (g, at) = (gz[i * d + j], i * d + j);
            let through = g * eps[at] * sd[at] * 0.5;
            if p.flows.is_empty() {
                gmu[j] = g + c * mu[j];
                glv[j] = through + c * 0.5 * (lv[j].exp() - 1.0);
            } else {
                gmu[j] = g;
                glv[j] = through - 0.5 * c;
            }
        }
    }
    let [gsw, gsb, mut ghz] = linear_backward(&gst, &hz, &p.stat_w, (n, fe, 2 * d));
    grads.extend([gsw, gsb]);
    relu_backward(&mut ghz, &hz);
    p.stack.encode_backward(&ghz, &h1, xv, n, &mut grads);
    grads.extend(flow_grads);
    for v in [h1, hz, hd, h3, ghd, ghz] {
        par::recycle(v);
    }
    Part {
        y,
        sums: [recon, kl],
        grads,
    }
}

#[cfg(test)]
mod tests;

// Timing, not tests: built only with `--features timing` (see docs/PERFORMANCE.md).
#[cfg(all(test, feature = "timing"))]
mod timing;

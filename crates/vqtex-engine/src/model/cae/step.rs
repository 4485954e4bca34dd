//! The CAE's training step on the CPU: the VQ-VAE's channels-last convolution stack
//! ([`ConvStack`]) without the quantiser, forward and backward by hand on f32 slices. The same
//! math as [`Cae::forward`] followed by candle's `backward` (checked against it in the tests).

use candle_core::{backprop::GradStore, Result, Tensor};

use super::Cae;
use crate::model::ops::nhwc;
use crate::model::ops::nhwc::stack::{self, add_grads, insert, run_parts, values, ConvStack};
use crate::model::ops::{par, Activation};
use crate::model::Output;

/// True when the hand-written step applies: the input and every parameter are f32 on the CPU.
pub(super) fn applies(m: &Cae, x: &Tensor) -> bool {
    stack::applies(&m.params, x)
}

/// [`Cae::forward`] in training mode and the gradients of its loss.
pub(super) fn forward_backward(m: &Cae, x: &Tensor) -> Result<(Output, GradStore)> {
    let (out, grads) = run(m, x, true)?;
    Ok((out, grads.unwrap_or_default()))
}

/// [`Cae::forward`] without gradients (evaluation, inference): its output holds no op graph.
pub(super) fn forward(m: &Cae, x: &Tensor) -> Result<Output> {
    Ok(run(m, x, false)?.0)
}

/// The forward pass, and the gradients when `backward`, of a batch cut into parts.
fn run(m: &Cae, x: &Tensor, backward: bool) -> Result<(Output, Option<GradStore>)> {
    let dev = x.device().clone();
    let (batch, c_in, h, w) = x.dims4()?;
    let s = ConvStack::new([&m.enc1, &m.enc2], [&m.dec1, &m.dec2], (c_in, h, w))?;
    let xv = nhwc::from_nchw(&values(x)?, c_in, h * w);
    let img = s.image();
    let parts = run_parts(batch, |first, n| {
        let xs = &xv[first * img..(first + n) * img];
        let [h1, z] = s.encode(xs, n, Activation::Identity);
        let [h3, y] = s.decode(&z, n);
        let sum: f64 = y
            .iter()
            .zip(xs)
            .map(|(a, b)| f64::from((a - b) * (a - b)))
            .sum();
        let mut grads = Vec::with_capacity(8);
        if backward {
            let gpre4 = s.recon_grad(&y, xs, batch);
            let gz = s.decode_backward(gpre4, &h3, &z, n, &mut grads);
            s.encode_backward(&gz, &h1, xs, n, &mut grads);
            par::recycle(gz);
        }
        for v in [h1, z, h3] {
            par::recycle(v);
        }
        (y, sum, grads)
    })?;
    let mut y = par::output(0);
    y.reserve(xv.len());
    let mut sum = 0f64;
    let mut grads = Vec::new();
    for (py, ps, pg) in parts {
        y.extend_from_slice(&py);
        par::recycle(py);
        sum += ps;
        add_grads(&mut grads, pg);
    }
    par::recycle(xv);
    let recon = (sum / (batch * img).max(1) as f64) as f32;
    let y = nhwc::to_nchw(y, c_in, h * w);
    let loss = Tensor::new(recon, &dev)?;
    let out = Output {
        recon: Tensor::from_vec(y, (batch, c_in, h, w), &dev)?,
        loss: loss.clone(),
        terms: vec![("recon", loss)],
        codes: None,
    };
    if !backward {
        return Ok((out, None));
    }
    let mut store = GradStore::default();
    let [[w4, b4, w3, b3], [w2, b2, w1, b1]] = s.grad_weights();
    let vars = [
        (&m.dec2.weight, w4),
        (&m.dec2.bias, b4),
        (&m.dec1.weight, w3),
        (&m.dec1.bias, b3),
        (&m.enc2.weight, w2),
        (&m.enc2.bias, b2),
        (&m.enc1.weight, w1),
        (&m.enc1.bias, b1),
    ];
    for ((var, weight), g) in vars.into_iter().zip(grads) {
        insert(&mut store, var, g, weight)?;
    }
    Ok((out, Some(store)))
}

#[cfg(test)]
mod tests;

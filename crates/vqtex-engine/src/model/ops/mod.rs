//! Fast CPU kernels as candle custom ops.
//!
//! candle 0.11's CPU `conv_transpose2d` is a direct loop, and `conv2d`'s input gradient goes
//! through it; these ops do both convolutions, forward and backward, as im2col / col2im plus a
//! blocked f32 gemm (the `gemm` crate, which candle itself uses), split over the batch on
//! candle's CPU thread pool. The bias, and optionally a ReLU or sigmoid, are fused into the
//! forward pass; the backward pass is built from further (no-backward) custom ops, skips the input
//! gradient when the input needs none (the data), and fuses the activation's derivative.
//!
//! The public functions use these kernels for f32 tensors on the CPU and fall back to candle's own
//! ops (with the same semantics) on any other device or dtype.
//!
//! Beyond speed: candle 0.11's own `conv2d` backward fails ("shape mismatch in add") when
//! `(h + 2 p - kh) % stride != (w + 2 p - kw) % stride`, because it sizes the input gradient from
//! the height alone; these ops handle every geometry.
//!
//! Files: `conv.rs` (the custom ops and their backward), `kernels.rs` (im2col / col2im drivers on
//! candle's NCHW layout), `nhwc.rs` (channels-last kernels for hand-written training steps such
//! as the VQ-VAE's), `gemm.rs` (the one `unsafe` call, bounds-checked), `par.rs` (threading,
//! scratch memory), `tests.rs` (against candle's ops), `bench.rs` (ignored timing runs).

// Timing, not tests: built only with `--features timing` (see docs/PERFORMANCE.md).
#[cfg(all(test, feature = "timing"))]
mod bench;
mod conv;
pub(crate) mod dense;
pub(crate) mod gemm;
pub(crate) mod kernels;
pub(crate) mod nhwc;
pub mod norm;
pub(crate) mod par;
#[cfg(test)]
mod tests;

use candle_core::{DType, Result, Tensor};

use conv::{Conv2dOp, ConvTranspose2dOp};

/// An activation fused into a convolution's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// No activation: `conv(x) + b`.
    #[default]
    Identity,
    /// `max(conv(x) + b, 0)`.
    Relu,
    /// `1 / (1 + exp(-(conv(x) + b)))`.
    Sigmoid,
}

/// True when the fast kernels apply to these tensors.
fn fast_path(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

fn reference_tail(y: Tensor, b: &Tensor, act: Activation) -> Result<Tensor> {
    let y = y.broadcast_add(&b.reshape((1, (), 1, 1))?)?;
    match act {
        Activation::Identity => Ok(y),
        Activation::Relu => y.relu(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(&y),
    }
}

/// `conv2d(x, w) + b` for x `[batch, c_in, h, w]`, w `[c_out, c_in, kh, kw]`, b `[c_out]`
/// (dilation 1, one group), like candle's `x.conv2d(w, padding, stride, 1, 1)` plus the bias.
pub fn conv2d(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    conv2d_act(x, w, b, stride, padding, Activation::Identity)
}

/// [`conv2d`] followed by an activation, fused.
pub fn conv2d_act(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    padding: usize,
    act: Activation,
) -> Result<Tensor> {
    if !fast_path(&[x, w, b]) {
        let y = x.conv2d(w, padding, stride, 1, 1)?;
        return reference_tail(y, b, act);
    }
    let op = Conv2dOp {
        stride,
        padding,
        act,
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, op)
}

/// `conv_transpose2d(x, w) + b` for x `[batch, c_in, h, w]`, w `[c_in, c_out, kh, kw]` (candle's
/// and PyTorch's layout), b `[c_out]` (no output padding, dilation 1), like candle's
/// `x.conv_transpose2d(w, padding, 0, stride, 1)` plus the bias.
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    conv_transpose2d_act(x, w, b, stride, padding, Activation::Identity)
}

/// [`conv_transpose2d`] followed by an activation, fused.
pub fn conv_transpose2d_act(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    padding: usize,
    act: Activation,
) -> Result<Tensor> {
    if !fast_path(&[x, w, b]) {
        let y = x.conv_transpose2d(w, padding, 0, stride, 1)?;
        return reference_tail(y, b, act);
    }
    let op = ConvTranspose2dOp {
        stride,
        padding,
        act,
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, op)
}

//! Layers shared by the convolutional models. Every convolutional model uses these types, so faster
//! kernels (src/model/ops) reach all of them at once.

use candle_core::{Device, Result, Tensor, Var};

pub use super::ops::Activation;
use super::Params;
use crate::rng::Rng;

/// A 2-D convolution with bias; weight `[c_out, c_in, k, k]`.
pub struct Conv2d {
    pub weight: Var,
    pub bias: Var,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    /// PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        params: &mut Params,
        name: &str,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Conv2d> {
        let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
        let weight = params.uniform(
            &format!("{name}.weight"),
            &[c_out, c_in, k, k],
            bound,
            rng,
            device,
        )?;
        let bias = params.uniform(&format!("{name}.bias"), &[c_out], bound, rng, device)?;
        Ok(Conv2d {
            weight,
            bias,
            stride,
            padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_act(x, Activation::Identity)
    }

    /// Convolution, bias and activation. On the CPU one fused im2col + gemm custom op (candle's
    /// own CPU conv backward is a direct loop); elsewhere candle's kernels.
    pub fn forward_act(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        if x.device().is_cpu() {
            let (w, b) = (&self.weight, &self.bias);
            return super::ops::conv2d_act(x, w, b, self.stride, self.padding, act);
        }
        let y = x.conv2d(&self.weight, self.padding, self.stride, 1, 1)?;
        activate(y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)?, act)
    }
}

/// A 2-D transposed convolution with bias; weight `[c_in, c_out, k, k]`.
pub struct ConvTranspose2d {
    pub weight: Var,
    pub bias: Var,
    pub stride: usize,
    pub padding: usize,
}

impl ConvTranspose2d {
    /// PyTorch's default initialisation (its fan-in of a transposed conv is `c_out * k * k`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        params: &mut Params,
        name: &str,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<ConvTranspose2d> {
        let bound = 1.0 / ((c_out * k * k) as f64).sqrt();
        let weight = params.uniform(
            &format!("{name}.weight"),
            &[c_in, c_out, k, k],
            bound,
            rng,
            device,
        )?;
        let bias = params.uniform(&format!("{name}.bias"), &[c_out], bound, rng, device)?;
        Ok(ConvTranspose2d {
            weight,
            bias,
            stride,
            padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_act(x, Activation::Identity)
    }

    /// Transposed convolution, bias and activation. On the CPU one fused col2im + gemm custom op
    /// (candle's CPU conv_transpose2d is a direct loop); elsewhere candle's kernels.
    pub fn forward_act(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        if x.device().is_cpu() {
            let (w, b) = (&self.weight, &self.bias);
            return super::ops::conv_transpose2d_act(x, w, b, self.stride, self.padding, act);
        }
        let y = x.conv_transpose2d(&self.weight, self.padding, 0, self.stride, 1)?;
        activate(y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)?, act)
    }
}

/// A fully connected layer with bias; weight `[out, in]` as in PyTorch. Plain candle matmul.
pub struct Linear {
    pub weight: Var,
    pub bias: Var,
}

impl Linear {
    /// PyTorch's default initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    pub fn new(
        params: &mut Params,
        name: &str,
        d_in: usize,
        d_out: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Linear> {
        let bound = 1.0 / (d_in as f64).sqrt();
        let weight = params.uniform(
            &format!("{name}.weight"),
            &[d_out, d_in],
            bound,
            rng,
            device,
        )?;
        let bias = params.uniform(&format!("{name}.bias"), &[d_out], bound, rng, device)?;
        Ok(Linear { weight, bias })
    }

    /// `x [B, in] -> [B, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }
}

fn activate(y: Tensor, act: Activation) -> Result<Tensor> {
    match act {
        Activation::Identity => Ok(y),
        Activation::Relu => y.relu(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(&y),
    }
}

/// Mean squared error between two tensors of the same shape.
pub fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (a - b)?.sqr()?.mean_all()
}

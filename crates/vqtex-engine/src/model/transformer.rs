//! Pre-norm transformer blocks for the MAE, with layer norm and softmax that carry gradients.
//!
//! candle 0.11's fast paths `candle_nn::ops::layer_norm`, `softmax_last_dim` and `rms_norm` have no
//! backward: a model using them trains nothing upstream of them, silently. Here layer norm and
//! softmax are, for f32 on the CPU, custom ops with their own backward (`model::ops::norm`: one pass
//! each way instead of a dozen), and elsewhere the same formulas written with `mean`, `sqr`, `exp`,
//! `sum` and broadcasts, whose gradients candle knows. The tests compare the formulas with candle's
//! fast paths and with finite differences, and the custom ops with the formulas.
//!
//! Tokens travel as a 2-D `[B * N, C]` tensor (so every linear layer is one plain matmul); the
//! attention reshapes to `[B * heads, N, head_dim]`, contiguous, for its two batched matmuls.

use candle_core::{DType, Device, Result, Tensor, Var, D};

use super::layers::Linear;
use super::Params;
use crate::rng::Rng;

/// Whether the custom ops of `model::ops::norm` apply to `x`.
fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// Softmax over the last dimension.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    if fused(x) {
        return super::ops::norm::softmax_last(x);
    }
    softmax_last_formula(x)
}

/// Softmax from primitives: exp(x - max) / sum(exp(x - max)). The max only shifts for numerical
/// safety (softmax does not depend on it), so it is detached.
pub fn softmax_last_formula(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Layer norm over the last dimension, (x - mean) / sqrt(var + eps) * gamma + beta, with the biased
/// variance (as PyTorch's `nn.LayerNorm`).
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    if fused(x) && fused(gamma) && fused(beta) {
        return super::ops::norm::layer_norm(x, gamma, beta, eps as f32);
    }
    layer_norm_formula(x, gamma, beta, eps)
}

/// Layer norm from primitives.
pub fn layer_norm_formula(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    xn.broadcast_mul(gamma)?.broadcast_add(beta)
}

/// A trainable layer norm (gamma = 1, beta = 0 at the start, eps = 1e-5 as PyTorch).
pub struct LayerNorm {
    pub gamma: Var,
    pub beta: Var,
}

impl LayerNorm {
    pub fn new(params: &mut Params, name: &str, dim: usize, device: &Device) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: params.constant(&format!("{name}.gamma"), &[dim], 1.0, device)?,
            beta: params.constant(&format!("{name}.beta"), &[dim], 0.0, device)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        layer_norm(x, self.gamma.as_tensor(), self.beta.as_tensor(), 1e-5)
    }
}

/// Multi-head self-attention over the `n` tokens of each of `b` sequences.
pub struct Attention {
    qkv: Linear,
    proj: Linear,
    heads: usize,
}

impl Attention {
    fn new(
        p: &mut Params,
        name: &str,
        width: usize,
        heads: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Attention> {
        Ok(Attention {
            qkv: Linear::new(p, &format!("{name}.qkv"), width, 3 * width, rng, device)?,
            proj: Linear::new(p, &format!("{name}.proj"), width, width, rng, device)?,
            heads,
        })
    }

    /// `x [b * n, C] -> [b * n, C]`.
    pub fn forward(&self, x: &Tensor, b: usize, n: usize) -> Result<Tensor> {
        let c = x.dim(1)?;
        let (h, hd) = (self.heads, c / self.heads);
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, n, 3, h, hd))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?; // [3, B, H, N, hd]
        let part = |i: usize| qkv.get(i)?.reshape((b * h, n, hd));
        let q = (part(0)? * (1.0 / (hd as f64).sqrt()))?;
        let (k, v) = (part(1)?, part(2)?);
        let att = softmax_last(&q.matmul(&k.t()?)?)?; // [B * H, N, N]
        let y = att
            .matmul(&v)?
            .reshape((b, h, n, hd))?
            .permute((0, 2, 1, 3))?
            .contiguous()?
            .reshape((b * n, c))?;
        self.proj.forward(&y)
    }
}

/// A pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x)) with a GELU MLP.
pub struct Block {
    ln1: LayerNorm,
    attn: Attention,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl Block {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &mut Params,
        name: &str,
        width: usize,
        heads: usize,
        mlp_ratio: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Block> {
        if heads == 0 || !width.is_multiple_of(heads) {
            candle_core::bail!("{name}: width {width} is not a multiple of {heads} heads");
        }
        let hidden = width * mlp_ratio;
        Ok(Block {
            ln1: LayerNorm::new(p, &format!("{name}.ln1"), width, device)?,
            attn: Attention::new(p, &format!("{name}.attn"), width, heads, rng, device)?,
            ln2: LayerNorm::new(p, &format!("{name}.ln2"), width, device)?,
            fc1: Linear::new(p, &format!("{name}.fc1"), width, hidden, rng, device)?,
            fc2: Linear::new(p, &format!("{name}.fc2"), hidden, width, rng, device)?,
        })
    }

    /// The block's variables in the order of hand-written steps (`model/mae/step.rs`): layer norm
    /// 1 gamma and beta, qkv weight and bias, projection weight and bias, layer norm 2 gamma and
    /// beta, fc1 weight and bias, fc2 weight and bias.
    pub(crate) fn vars(&self) -> [&Var; 12] {
        [
            &self.ln1.gamma,
            &self.ln1.beta,
            &self.attn.qkv.weight,
            &self.attn.qkv.bias,
            &self.attn.proj.weight,
            &self.attn.proj.bias,
            &self.ln2.gamma,
            &self.ln2.beta,
            &self.fc1.weight,
            &self.fc1.bias,
            &self.fc2.weight,
            &self.fc2.bias,
        ]
    }

    /// Attention heads.
    pub(crate) fn heads(&self) -> usize {
        self.attn.heads
    }

    /// `x [b * n, C] -> [b * n, C]`.
    pub fn forward(&self, x: &Tensor, b: usize, n: usize) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln1.forward(x)?, b, n)?)?;
        let h = self.fc1.forward(&self.ln2.forward(&x)?)?.gelu_erf()?;
        x + self.fc2.forward(&h)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
    }

    fn input() -> Tensor {
        let v: Vec<f64> = (0..15)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.37)
            .collect();
        Tensor::from_vec(v, (3, 5), &Device::Cpu).unwrap()
    }

    /// Central finite differences of `f` with respect to every element of `x`.
    fn numeric_grad(x: &Tensor, f: impl Fn(&Tensor) -> f64) -> Vec<f64> {
        let base = values(x);
        let h = 1e-5;
        (0..base.len())
            .map(|i| {
                let at = |d: f64| {
                    let mut v = base.clone();
                    v[i] += d;
                    f(&Tensor::from_vec(v, x.dims(), x.device()).unwrap())
                };
                (at(h) - at(-h)) / (2.0 * h)
            })
            .collect()
    }

    fn assert_close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tol, "{a:?}\nvs\n{b:?}");
        }
    }

    #[test]
    fn softmax_formula_matches_candle_and_its_gradient_matches_finite_differences() {
        let x = input();
        let fast = candle_nn::ops::softmax_last_dim(&x.to_dtype(DType::F32).unwrap()).unwrap();
        let ours = softmax_last_formula(&x).unwrap();
        let fast = values(&fast.to_dtype(DType::F64).unwrap());
        assert_close(&values(&ours), &fast, 1e-6);
        // Rows sum to one.
        assert_close(&values(&ours.sum(1).unwrap()), &[1.0; 3], 1e-12);
        // A scalar loss with unequal weights, so that the gradient is not zero.
        let w = Tensor::from_vec(
            (0..15).map(|i| i as f64 * 0.1).collect(),
            (3, 5),
            x.device(),
        )
        .unwrap();
        let loss = |x: &Tensor| {
            (softmax_last_formula(x).unwrap() * &w)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let var = Var::from_tensor(&x).unwrap();
        let g = loss(var.as_tensor()).backward().unwrap();
        let analytic = values(g.get(var.as_tensor()).expect("softmax passes gradients"));
        let numeric = numeric_grad(&x, |x| loss(x).to_scalar::<f64>().unwrap());
        assert!(analytic.iter().any(|v| v.abs() > 1e-3));
        assert_close(&analytic, &numeric, 1e-6);
    }

    #[test]
    fn layer_norm_formula_matches_candle_and_passes_gradients_to_input_gamma_and_beta() {
        let x = input();
        let dev = x.device();
        let gamma = Tensor::new(&[1.0f64, 0.5, -2.0, 1.5, 0.25], dev).unwrap();
        let beta = Tensor::new(&[0.1f64, -0.2, 0.3, 0.0, 1.0], dev).unwrap();
        let f32s = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        let fast = candle_nn::ops::layer_norm(&f32s(&x), &f32s(&gamma), &f32s(&beta), 1e-5);
        let fast = values(&fast.unwrap().to_dtype(DType::F64).unwrap());
        let ours = layer_norm_formula(&x, &gamma, &beta, 1e-5).unwrap();
        assert_close(&values(&ours), &fast, 1e-5);
        // By hand for the first row.
        let row: Vec<f64> = values(&x)[..5].to_vec();
        let m = row.iter().sum::<f64>() / 5.0;
        let var = row.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 5.0;
        let (gv, bv) = (values(&gamma), values(&beta));
        let want: Vec<f64> = (0..5)
            .map(|i| (row[i] - m) / (var + 1e-5).sqrt() * gv[i] + bv[i])
            .collect();
        assert_close(&values(&ours)[..5], &want, 1e-12);

        let w = Tensor::from_vec((0..15).map(|i| (i as f64).sin()).collect(), (3, 5), dev).unwrap();
        let loss = |x: &Tensor, g: &Tensor, b: &Tensor| {
            (layer_norm_formula(x, g, b, 1e-5).unwrap() * &w)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let (xv, gv, bv) = (
            Var::from_tensor(&x).unwrap(),
            Var::from_tensor(&gamma).unwrap(),
            Var::from_tensor(&beta).unwrap(),
        );
        let grads = loss(xv.as_tensor(), gv.as_tensor(), bv.as_tensor())
            .backward()
            .unwrap();
        let scalar = |t: Tensor| t.to_scalar::<f64>().unwrap();
        let checks = [
            (&xv, numeric_grad(&x, |x| scalar(loss(x, &gamma, &beta)))),
            (&gv, numeric_grad(&gamma, |g| scalar(loss(&x, g, &beta)))),
            (&bv, numeric_grad(&beta, |b| scalar(loss(&x, &gamma, b)))),
        ];
        for (var, numeric) in checks {
            let analytic = values(grads.get(var.as_tensor()).expect("layer norm gradient"));
            assert!(analytic.iter().any(|v| v.abs() > 1e-3));
            assert_close(&analytic, &numeric, 1e-5);
        }
    }

    #[test]
    fn attention_mixes_tokens_only_within_a_sequence() {
        let dev = Device::Cpu;
        let mut p = Params::new();
        let mut rng = crate::rng::seeded(0, "attn-test");
        let attn = Attention::new(&mut p, "a", 8, 2, &mut rng, &dev).unwrap();
        let (b, n) = (2, 3);
        let x: Vec<f32> = (0..b * n * 8)
            .map(|i| ((i * 5 % 13) as f32) * 0.1)
            .collect();
        let x = Tensor::from_vec(x, (b * n, 8), &dev).unwrap();
        let y = attn.forward(&x, b, n).unwrap();
        // Changing the second sequence leaves the first one's output alone, and vice versa.
        let x2 = Tensor::cat(
            &[
                x.narrow(0, 0, n).unwrap(),
                (x.narrow(0, n, n).unwrap() * 2.0).unwrap(),
            ],
            0,
        )
        .unwrap();
        let y2 = attn.forward(&x2, b, n).unwrap();
        let first = |t: &Tensor| {
            t.narrow(0, 0, n)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let second = |t: &Tensor| {
            t.narrow(0, n, n)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(first(&y), first(&y2));
        assert_ne!(second(&y), second(&y2));
        // Each sequence's output matches attention computed for it alone.
        let alone = attn.forward(&x.narrow(0, n, n).unwrap(), 1, n).unwrap();
        let d: f32 = second(&y)
            .iter()
            .zip(first(&alone))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-5, "{d}");
    }

    /// Max |a - b| relative to max |b|.
    fn rel_diff(a: &Tensor, b: &Tensor) -> f32 {
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        let s = b
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        d.to_scalar::<f32>().unwrap() / s.max(1e-12)
    }

    #[test]
    fn custom_ops_match_the_formulas_forward_and_backward() {
        let dev = Device::Cpu;
        let mut rng = crate::rng::seeded(1, "norm-test");
        let mut p = Params::new();
        let x = p.uniform("x", &[2, 6, 40], 3.0, &mut rng, &dev).unwrap();
        let gamma = p.uniform("g", &[40], 2.0, &mut rng, &dev).unwrap();
        let beta = p.uniform("b", &[40], 1.0, &mut rng, &dev).unwrap();
        let w = p.uniform("w", &[2, 6, 40], 1.0, &mut rng, &dev).unwrap();
        let (x, g, b, w) = (
            x.as_tensor(),
            gamma.as_tensor(),
            beta.as_tensor(),
            w.as_tensor(),
        );
        assert!(fused(x));
        // Non-contiguous input, as attention scores and transposes give.
        let xt = x.transpose(0, 1).unwrap();
        let wt = w.transpose(0, 1).unwrap();
        type Norm = fn(&Tensor, &Tensor, &Tensor) -> Tensor;
        let (ours, formula): (Norm, Norm) = (
            |x, g, b| layer_norm(x, g, b, 1e-5).unwrap(),
            |x, g, b| layer_norm_formula(x, g, b, 1e-5).unwrap(),
        );
        for input in [x, &xt] {
            let weights = if input.is_contiguous() { w } else { &wt };
            let (ya, yb) = (ours(input, g, b), formula(input, g, b));
            assert!(rel_diff(&ya, &yb) < 1e-5);
            let ga = (ya * weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gb = (yb * weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for t in [x, g, b] {
                let (a, b) = (ga.get(t).expect("gradient"), gb.get(t).unwrap());
                assert!(rel_diff(a, b) < 1e-4, "{}", rel_diff(a, b));
            }
            let (sa, sb) = (
                softmax_last(input).unwrap(),
                softmax_last_formula(input).unwrap(),
            );
            assert!(rel_diff(&sa, &sb) < 1e-6);
            let ga = (sa * weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gb = (sb * weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let (a, b) = (ga.get(x).expect("gradient"), gb.get(x).unwrap());
            assert!(rel_diff(a, b) < 1e-5, "{}", rel_diff(a, b));
        }
    }
}

//! Layer norm and softmax over the last dimension as CPU custom ops with a backward pass.
//!
//! candle 0.11's own fast versions (`candle_nn::ops::layer_norm`, `softmax_last_dim`) have no
//! backward. Built from primitives instead, each is a dozen or more full passes (and allocations)
//! over the MAE's `[tokens, width]` activations, forward and backward, and a measurable share of a
//! training step; these do one pass forward and one backward. Their backward passes are further
//! (no-backward) custom ops. f32, CPU only: the callers in `model::transformer` use the primitive
//! formulas elsewhere, and the tests check both against each other.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};

/// The contiguous f32 data of a CPU tensor argument.
fn data<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{op}: only f32 tensors are supported")
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("{op}: arguments must be contiguous"),
    }
}

/// Length of the last dimension, checked non-zero.
fn last_dim(l: &Layout, op: &str) -> Result<usize> {
    match l.dims().last() {
        Some(&c) if c > 0 => Ok(c),
        _ => bail!("{op}: needs a non-empty last dimension, got {:?}", l.dims()),
    }
}

/// Mean and 1 / sqrt(var + eps) of a row (biased variance).
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// `(x - mean) / sqrt(var + eps) * gamma + beta` over the last dimension of `x`.
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op3(gamma, beta, LayerNorm { eps })
}

/// Softmax over the last dimension of `x`.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Softmax)
}

struct LayerNorm {
    eps: f32,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let c = last_dim(lx, op)?;
        let (x, g, b) = (data(sx, lx, op)?, data(sg, lg, op)?, data(sb, lb, op)?);
        if g.len() != c || b.len() != c {
            bail!("{op}: gamma and beta must have {c} elements")
        }
        let mut y = vec![0f32; x.len()];
        for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
            let (mean, rstd) = row_stats(xr, self.eps);
            for i in 0..c {
                yr[i] = (xr[i] - mean) * rstd * g[i] + b[i];
            }
        }
        Ok((CpuStorage::F32(y), lx.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = gamma.elem_count();
        let rows = x.elem_count() / c;
        let packed =
            x.apply_op3_no_bwd(gamma, &grad.contiguous()?, &LayerNormGrad { eps: self.eps })?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dgamma = packed.get(rows)?.reshape(gamma.shape())?;
        let dbeta = packed.get(rows + 1)?.reshape(gamma.shape())?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// The layer norm's gradients, packed as `[rows + 2, C]`: dx by row, then dgamma, then dbeta.
struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
        sd: &CpuStorage,
        ld: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let c = last_dim(lx, op)?;
        let (x, g, dy) = (data(sx, lx, op)?, data(sg, lg, op)?, data(sd, ld, op)?);
        if g.len() != c || dy.len() != x.len() {
            bail!("{op}: shapes do not match")
        }
        let rows = x.len() / c;
        let mut out = vec![0f32; (rows + 2) * c];
        let (dx, sums) = out.split_at_mut(rows * c);
        let (dgamma, dbeta) = sums.split_at_mut(c);
        let mut xhat = vec![0f32; c];
        for ((xr, dyr), dxr) in x
            .chunks_exact(c)
            .zip(dy.chunks_exact(c))
            .zip(dx.chunks_exact_mut(c))
        {
            let (mean, rstd) = row_stats(xr, self.eps);
            let (mut m1, mut m2) = (0f32, 0f32);
            for i in 0..c {
                xhat[i] = (xr[i] - mean) * rstd;
                let gy = dyr[i] * g[i];
                m1 += gy;
                m2 += gy * xhat[i];
                dgamma[i] += dyr[i] * xhat[i];
                dbeta[i] += dyr[i];
            }
            let (m1, m2) = (m1 / c as f32, m2 / c as f32);
            for i in 0..c {
                dxr[i] = rstd * (dyr[i] * g[i] - m1 - xhat[i] * m2);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, c))))
    }
}

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let c = last_dim(l, op)?;
        let x = data(s, l, op)?;
        let mut y = vec![0f32; x.len()];
        for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
            let max = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for (yi, &xi) in yr.iter_mut().zip(xr) {
                *yi = (xi - max).exp();
                sum += *yi;
            }
            let inv = 1.0 / sum;
            yr.iter_mut().for_each(|v| *v *= inv);
        }
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad)?,
        ))
    }
}

/// dx = y * (dy - sum(dy * y)) row by row, from the softmax's output y and its gradient dy.
struct SoftmaxGrad;

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "softmax-last-grad"
    }

    fn cpu_fwd(
        &self,
        sy: &CpuStorage,
        ly: &Layout,
        sd: &CpuStorage,
        ld: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let op = self.name();
        let c = last_dim(ly, op)?;
        let (y, dy) = (data(sy, ly, op)?, data(sd, ld, op)?);
        if y.len() != dy.len() {
            bail!("{op}: shapes do not match")
        }
        let mut dx = vec![0f32; y.len()];
        for ((yr, dyr), dxr) in y
            .chunks_exact(c)
            .zip(dy.chunks_exact(c))
            .zip(dx.chunks_exact_mut(c))
        {
            let dot: f32 = yr.iter().zip(dyr).map(|(a, b)| a * b).sum();
            for i in 0..c {
                dxr[i] = yr[i] * (dyr[i] - dot);
            }
        }
        Ok((CpuStorage::F32(dx), ly.shape().clone()))
    }
}

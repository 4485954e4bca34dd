//! The convolution stack the convolutional models share, for their hand-written training steps
//! (VQ-VAE, CAE, VAE, VAE+NF): two convolutions down to the latent grid (ReLU after the first,
//! the second's activation the model's), two transposed convolutions back up (ReLU, then the
//! sigmoid output), forward and backward on channels-last buffers, and the plumbing every such
//! step needs: the batch cut into parts run on the thread pool, the sums of the parts' gradients
//! and the gradients handed to candle's [`GradStore`].

use std::sync::Mutex;

use candle_core::{backprop::GradStore, DType, Result, Tensor, Var};

use super::{conv, conv_backward, relu_mask, transpose, transpose_backward, Weight};
use crate::model::layers::{Conv2d, ConvTranspose2d};
use crate::model::ops::kernels::Geom;
use crate::model::ops::{par, Activation};
use crate::model::Params;

/// A tensor's values, flattened.
pub(crate) fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// True when a hand-written step applies: the input and every parameter are f32 on the CPU.
pub(crate) fn applies(params: &Params, x: &Tensor) -> bool {
    let ok = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32;
    ok(x) && params.iter().all(|(_, v)| ok(v.as_tensor()))
}

/// Parts a batch is cut into: run on the thread pool, one part per task, so that a step
/// synchronises the threads once instead of once per kernel. A fixed count (not the thread
/// count), and every kernel of a part runs on one thread, so the numbers do not depend on how
/// many threads there are.
pub(crate) const PARTS: usize = 4;

/// Runs `f(first, count)` for the [`PARTS`] parts of a batch of `batch` ROIs on the thread pool;
/// the results in the order of the parts.
pub(crate) fn run_parts<T: Send>(
    batch: usize,
    f: impl Fn(usize, usize) -> T + Sync,
) -> Result<Vec<T>> {
    let size = batch.div_ceil(PARTS).max(1);
    let starts: Vec<usize> = (0..batch).step_by(size).collect();
    let results: Vec<Mutex<Option<T>>> = starts.iter().map(|_| Mutex::new(None)).collect();
    par::for_parts(starts.len(), |i| {
        let out = f(starts[i], size.min(batch - starts[i]));
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .ok_or_else(|| {
                    candle_core::Error::Msg("a part of the training step did not run".into())
                })
        })
        .collect()
}

/// Adds a part's gradients `g` to `acc` (the first part's become `acc`).
pub(crate) fn add_grads(acc: &mut Vec<Vec<f32>>, g: Vec<Vec<f32>>) {
    if acc.is_empty() {
        *acc = g;
        return;
    }
    for (a, g) in acc.iter_mut().zip(g) {
        a.iter_mut().zip(&g).for_each(|(a, v)| *a += *v);
    }
}

/// Puts the gradient `g` of `var` into `store`; a convolution weight's (`weight`) goes back from
/// the channels-last order first.
pub(crate) fn insert(
    store: &mut GradStore,
    var: &Var,
    g: Vec<f32>,
    weight: Option<&Weight>,
) -> Result<()> {
    let g = match weight {
        Some(w) => w.to_candle(&g),
        None => g,
    };
    store.insert(
        var.as_tensor(),
        Tensor::from_vec(g, var.shape(), var.device())?,
    );
    Ok(())
}

/// The weights of the four layers (`enc1`, `enc2`, `dec1`, `dec2`) in the channels-last order of
/// [`Weight`], their biases, read once per step.
pub(crate) struct ConvStack {
    w: [Weight; 4],
    b: [Vec<f32>; 4],
}

impl ConvStack {
    /// The stack of these layers for images of `(c, h, w)`; the decoder must map the encoder's
    /// grid back to that shape.
    pub(crate) fn new(
        [e1, e2]: [&Conv2d; 2],
        [d1, d2]: [&ConvTranspose2d; 2],
        (c_in, h, w): (usize, usize, usize),
    ) -> Result<ConvStack> {
        let g1 = Geom::conv((1, c_in, h, w), e1.weight.dims4()?, e1.stride, e1.padding)?;
        let m1 = e1.weight.dims()[0];
        let g2 = Geom::conv(
            (1, m1, g1.oh, g1.ow),
            e2.weight.dims4()?,
            e2.stride,
            e2.padding,
        )?;
        let d = e2.weight.dims()[0];
        let d_in = d1.weight.dims()[0];
        let g3 = Geom::conv_transpose(
            (1, d_in, g2.oh, g2.ow),
            d1.weight.dims4()?,
            d1.stride,
            d1.padding,
        )?;
        let g4 = Geom::conv_transpose(
            (1, g3.c, g3.h, g3.w),
            d2.weight.dims4()?,
            d2.stride,
            d2.padding,
        )?;
        if (g4.c, g4.h, g4.w) != (c_in, h, w) {
            candle_core::bail!("the decoder's output does not match the input's shape");
        }
        let weight =
            |v: &Var, m, g| Ok::<_, candle_core::Error>(Weight::new(&values(v.as_tensor())?, m, g));
        Ok(ConvStack {
            w: [
                weight(&e1.weight, m1, g1)?,
                weight(&e2.weight, d, g2)?,
                weight(&d1.weight, d_in, g3)?,
                weight(&d2.weight, g3.c, g4)?,
            ],
            b: [
                values(e1.bias.as_tensor())?,
                values(e2.bias.as_tensor())?,
                values(d1.bias.as_tensor())?,
                values(d2.bias.as_tensor())?,
            ],
        })
    }

    /// The encoder's output channels and grid positions per ROI.
    pub(crate) fn latent(&self) -> (usize, usize) {
        (self.w[1].m, self.w[1].g.grid())
    }

    /// The decoder's input channels (its grid is the encoder's).
    pub(crate) fn decoder_channels(&self) -> usize {
        self.w[2].m
    }

    /// Floats per ROI of the image.
    pub(crate) fn image(&self) -> usize {
        self.w[0].g.image()
    }

    /// The geometry of the output layer (its image side is the reconstruction's).
    pub(crate) fn output_geom(&self) -> &Geom {
        self.w[3].geom()
    }

    /// The convolution weights in the order of the gradients that [`ConvStack::decode_backward`]
    /// then [`ConvStack::encode_backward`] push (`dec2`, `dec1`, `enc2`, `enc1`, each weight then
    /// bias): `Some` for a weight, `None` for a bias.
    pub(crate) fn grad_weights(&self) -> [[Option<&Weight>; 4]; 2] {
        let [w1, w2, w3, w4] = &self.w;
        [
            [Some(w4), None, Some(w3), None],
            [Some(w2), None, Some(w1), None],
        ]
    }

    /// The encoder on the `n` ROIs `xv` (channels last): the hidden map and the latent grid
    /// (`[n * positions, channels]`), `act` after the second convolution.
    pub(crate) fn encode(&self, xv: &[f32], n: usize, act: Activation) -> [Vec<f32>; 2] {
        let h1 = conv(xv, n, &self.w[0], Some(&self.b[0]), Activation::Relu);
        let z = conv(&h1, n, &self.w[1], Some(&self.b[1]), act);
        [h1, z]
    }

    /// The decoder on the latent grids `z`: the hidden map and the reconstructions.
    pub(crate) fn decode(&self, z: &[f32], n: usize) -> [Vec<f32>; 2] {
        let h3 = transpose(z, n, &self.w[2], Some(&self.b[2]), Activation::Relu, None);
        let y = transpose(
            &h3,
            n,
            &self.w[3],
            Some(&self.b[3]),
            Activation::Sigmoid,
            None,
        );
        [h3, y]
    }

    /// The gradient before the output sigmoid of the mean squared error between `y` and `xv`
    /// over a batch of `total` ROIs.
    pub(crate) fn recon_grad(&self, y: &[f32], xv: &[f32], total: usize) -> Vec<f32> {
        let sy = 2.0 / (total * self.output_geom().image()) as f32;
        let mut g = par::output(y.len());
        for ((g, y), x) in g.iter_mut().zip(y).zip(xv) {
            *g = sy * (y - x) * (y * (1.0 - y));
        }
        g
    }

    /// Back through the decoder from `gpre4` (the gradient before the sigmoid): pushes the
    /// gradients of `dec2` and `dec1` (weight, bias) to `grads` and returns the gradient at its
    /// input `z`. `h3` is the decoder's hidden map.
    pub(crate) fn decode_backward(
        &self,
        gpre4: Vec<f32>,
        h3: &[f32],
        z: &[f32],
        n: usize,
        grads: &mut Vec<Vec<f32>>,
    ) -> Vec<f32> {
        let (gpre3, dw, db) = transpose_backward(&gpre4, h3, n, &self.w[3], Some(h3));
        grads.extend([dw, db]);
        let (gz, dw, db) = transpose_backward(&gpre3, z, n, &self.w[2], None);
        grads.extend([dw, db]);
        par::recycle(gpre4);
        par::recycle(gpre3);
        gz
    }

    /// Back through the encoder from `gz` (the gradient at the second convolution's output,
    /// before its activation): pushes the gradients of `enc2` and `enc1` (weight, bias) to
    /// `grads`. `h1` is the encoder's hidden map, `xv` its input.
    pub(crate) fn encode_backward(
        &self,
        gz: &[f32],
        h1: &[f32],
        xv: &[f32],
        n: usize,
        grads: &mut Vec<Vec<f32>>,
    ) {
        let (gpre1, dw, db) = conv_backward(gz, h1, n, &self.w[1], true, Some(h1));
        grads.extend([dw, db]);
        let gpre1 = gpre1.unwrap_or_default();
        let (_, dw, db) = conv_backward(&gpre1, xv, n, &self.w[0], false, None);
        grads.extend([dw, db]);
        par::recycle(gpre1);
    }
}

/// `g = g * (y > 0)`: the derivative of a ReLU whose output is `y`.
pub(crate) fn relu_backward(g: &mut [f32], y: &[f32]) {
    relu_mask(g, y);
}

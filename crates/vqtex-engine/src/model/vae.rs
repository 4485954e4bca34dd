//! The paper's variational autoencoder (VAE) baseline. The VQ-VAE's convolutional encoder (to a
//! 32x7x7 map, here followed by a ReLU), flattened, and two linear layers giving the mean and
//! log-variance of a 32-d Gaussian latent; the reparameterisation z = mu + exp(logvar / 2) * eps;
//! a linear layer from z back to a 32x7x7 map and the VQ-VAE's transposed-convolution decoder.
//!
//! Loss = MSE + beta * KL / 784, where MSE is the mean over pixels (as for the VQ-VAE) and KL is the
//! per-ROI KL(q(z|x) || N(0, I)) summed over the latent dimensions and averaged over the batch. The
//! division by the 784 pixels puts both terms per pixel: the loss is the usual summed-error ELBO
//! (sum of squared errors + beta * KL, per ROI) divided by 784. The `kl` term reported is the
//! per-ROI KL in nats, before the weighting.
//!
//! The noise eps comes from our seeded RNG (a stream per model, drawn only when `train` is true);
//! at evaluation z = mu. `encode` returns mu (`[B, 32]`) and `decode` accepts any `[B, 32]` vector.

use std::sync::Mutex;

use candle_core::{backprop::GradStore, Device, Result, Tensor};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::layers::{mse, Activation, Conv2d, ConvTranspose2d, Linear};
use super::{Autoencoder, Output, Params};
use crate::rng::{seeded, Rng};

pub(crate) mod step;

/// Pixels per ROI, the scale between the per-pixel MSE and the per-ROI KL.
pub(crate) const PIXELS: f64 = 784.0;

/// Hyperparameters of the VAE (paper defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaeConfig {
    /// Channels of the hidden convolution.
    pub hidden: usize,
    /// Channels of the 7x7 feature map before and after the linear layers.
    pub channels: usize,
    /// Dimension of the Gaussian latent (and of the SVM's vector).
    pub latent_dim: usize,
    /// Weight of the KL term.
    pub beta: f64,
}

impl Default for VaeConfig {
    fn default() -> Self {
        VaeConfig {
            hidden: 64,
            channels: 32,
            latent_dim: 32,
            beta: 1.0,
        }
    }
}

/// The encoder to (mu, logvar) and the decoder from a latent vector, shared by the VAE and the
/// VAE with normalising flows.
pub(crate) struct GaussianCoder {
    channels: usize,
    enc1: Conv2d,
    enc2: Conv2d,
    fc_mu: Linear,
    fc_logvar: Linear,
    fc_dec: Linear,
    dec1: ConvTranspose2d,
    dec2: ConvTranspose2d,
}

impl GaussianCoder {
    pub(crate) fn new(
        p: &mut Params,
        hidden: usize,
        channels: usize,
        latent_dim: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<GaussianCoder> {
        if hidden == 0 || channels == 0 || latent_dim == 0 {
            candle_core::bail!("hidden, channels and latent_dim must be positive");
        }
        let (h, c, d) = (hidden, channels, latent_dim);
        let flat = c * 49;
        Ok(GaussianCoder {
            channels,
            enc1: Conv2d::new(p, "enc1", 1, h, 4, 2, 1, rng, device)?,
            enc2: Conv2d::new(p, "enc2", h, c, 4, 2, 1, rng, device)?,
            fc_mu: Linear::new(p, "fc_mu", flat, d, rng, device)?,
            fc_logvar: Linear::new(p, "fc_logvar", flat, d, rng, device)?,
            fc_dec: Linear::new(p, "fc_dec", d, flat, rng, device)?,
            dec1: ConvTranspose2d::new(p, "dec1", c, h, 4, 2, 1, rng, device)?,
            dec2: ConvTranspose2d::new(p, "dec2", h, 1, 4, 2, 1, rng, device)?,
        })
    }

    /// Mean and log-variance of q(z|x), each `[B, D]`.
    pub(crate) fn stats(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.enc1.forward_act(x, Activation::Relu)?;
        let h = self.enc2.forward_act(&h, Activation::Relu)?;
        let flat = h.flatten_from(1)?;
        Ok((self.fc_mu.forward(&flat)?, self.fc_logvar.forward(&flat)?))
    }

    /// Images in [0, 1] from latent vectors `[B, D]`.
    pub(crate) fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let b = z.dim(0)?;
        let h = self.fc_dec.forward(z)?.reshape((b, self.channels, 7, 7))?;
        let h = self.dec1.forward_act(&h, Activation::Relu)?;
        self.dec2.forward_act(&h, Activation::Sigmoid)
    }
}

/// Standard normal noise of `shape` from a model's seeded noise stream.
pub(crate) fn standard_normal(
    rng: &Mutex<Rng>,
    shape: (usize, usize),
    device: &Device,
) -> Result<Tensor> {
    Tensor::from_vec(normal_values(rng, shape.0 * shape.1)?, shape, device)
}

/// `len` standard normal values from a model's seeded noise stream (what [`standard_normal`]
/// draws for a shape of `len` elements).
pub(crate) fn normal_values(rng: &Mutex<Rng>, len: usize) -> Result<Vec<f32>> {
    let mut rng = rng
        .lock()
        .map_err(|_| candle_core::Error::Msg("noise RNG lock poisoned".into()))?;
    Ok((0..len).map(|_| StandardNormal.sample(&mut *rng)).collect())
}

/// KL(N(mu, exp(logvar)) || N(0, I)) summed over dimensions, averaged over the batch.
pub(crate) fn gaussian_kl(mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    let d = mu.dim(1)? as f64;
    let t = ((mu.sqr()? + logvar.exp()?)? - logvar)?;
    ((t.sum(1)? - d)? * 0.5)?.mean(0)
}

pub struct Vae {
    cfg: VaeConfig,
    params: Params,
    coder: GaussianCoder,
    noise: Mutex<Rng>,
}

impl Vae {
    pub fn new(cfg: VaeConfig, seed: u64, device: &Device) -> Result<Vae> {
        let mut rng = seeded(seed, "init-vae");
        let mut p = Params::new();
        let coder = GaussianCoder::new(
            &mut p,
            cfg.hidden,
            cfg.channels,
            cfg.latent_dim,
            &mut rng,
            device,
        )?;
        Ok(Vae {
            cfg,
            params: p,
            coder,
            noise: Mutex::new(seeded(seed, "noise-vae")),
        })
    }

    pub fn config(&self) -> &VaeConfig {
        &self.cfg
    }

    /// [`Autoencoder::forward`] by candle's ops (with an op graph when `train`).
    pub(crate) fn candle_forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        let (mu, logvar) = self.coder.stats(x)?;
        let z = if train {
            let eps = standard_normal(&self.noise, mu.dims2()?, mu.device())?;
            (&mu + ((&logvar * 0.5)?.exp()? * eps)?)?
        } else {
            mu.clone()
        };
        let recon = self.coder.decode(&z)?;
        let recon_loss = mse(&recon, x)?;
        let kl = gaussian_kl(&mu, &logvar)?;
        let loss = (&recon_loss + (&kl * (self.cfg.beta / PIXELS))?)?;
        Ok(Output {
            recon,
            loss,
            terms: vec![("recon", recon_loss), ("kl", kl)],
            codes: None,
        })
    }
}

impl Autoencoder for Vae {
    fn name(&self) -> &'static str {
        "vae"
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        // Without training, nothing will take gradients: the CPU path without an op graph.
        if !train && step::applies(&self.params, x) {
            return step::forward(&self.coder, None, self.cfg.beta, x);
        }
        self.candle_forward(x, train)
    }

    fn forward_backward(&self, x: &Tensor) -> Result<(Output, GradStore)> {
        if step::applies(&self.params, x) {
            return step::forward_backward(&self.coder, None, self.cfg.beta, &self.noise, x);
        }
        let out = self.forward(x, true)?;
        let grads = out.loss.backward()?;
        Ok((out, grads))
    }

    /// The posterior mean mu, `[B, D]`.
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.coder.stats(x)?.0)
    }

    /// Images from latent vectors `[B, D]`.
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.coder.decode(z)
    }

    fn latent_summary(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)
    }

    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil;

    fn model(seed: u64) -> Vae {
        Vae::new(VaeConfig::default(), seed, &Device::Cpu).unwrap()
    }

    #[test]
    fn shapes_and_range() {
        let m = model(1);
        let x = testutil::batch(3);
        let mu = m.encode(&x).unwrap();
        assert_eq!(mu.dims(), &[3, 32]);
        assert_eq!(m.decode(&mu).unwrap().dims(), &[3, 1, 28, 28]);
        testutil::check_shapes(&m);
    }

    #[test]
    fn every_trainable_variable_gets_a_gradient() {
        testutil::check_gradients(&model(3));
    }

    #[test]
    fn same_seed_gives_identical_outputs() {
        testutil::check_seeded(&model(5), &model(5), &model(6));
    }

    #[test]
    fn eval_is_deterministic_and_train_is_noisy() {
        let m = model(9);
        let x = testutil::batch(2);
        let a = testutil::values(&m.forward(&x, false).unwrap().recon);
        let b = testutil::values(&m.forward(&x, false).unwrap().recon);
        assert_eq!(a, b);
        let c = testutil::values(&m.forward(&x, true).unwrap().recon);
        assert_ne!(a, c);
        // At evaluation the decoder sees mu (on the CPU the hand-written forward pass: equal to
        // candle's up to rounding).
        let d = testutil::values(&m.decode(&m.encode(&x).unwrap()).unwrap());
        assert_eq!(a.len(), d.len());
        let diff = a
            .iter()
            .zip(&d)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(diff <= 1e-5, "{diff}");
    }

    #[test]
    fn kl_matches_a_hand_computation() {
        let dev = Device::Cpu;
        let mu = Tensor::new(&[[1f32, 0.], [0., 2.]], &dev).unwrap();
        let lv = Tensor::new(&[[0f32, 1.], [-1., 0.]], &dev).unwrap();
        let kl = gaussian_kl(&mu, &lv).unwrap().to_scalar::<f32>().unwrap();
        let per = |m: f32, l: f32| 0.5 * (m * m + l.exp() - l - 1.0);
        let want = ((per(1., 0.) + per(0., 1.)) + (per(0., -1.) + per(2., 0.))) / 2.0;
        assert!((kl - want).abs() < 1e-5, "{kl} vs {want}");
    }

    #[test]
    fn loss_decreases_with_adam() {
        testutil::check_training(&model(7), 1e-3);
    }
}

//! The paper's convolutional autoencoder (CAE) baseline: the VQ-VAE's encoder and decoder without
//! quantisation. Two stride-2 convolutions to a 32x7x7 latent map, two stride-2 transposed
//! convolutions back, sigmoid output.
//!
//! Loss = ||x - x^||^2 (mean squared error). The SVM's 32-d vector is z_e averaged over the 7x7
//! positions, as for the VQ-VAE.

use candle_core::{backprop::GradStore, Device, Result, Tensor};
use serde::{Deserialize, Serialize};

use super::layers::{mse, Activation, Conv2d, ConvTranspose2d};
use super::{Autoencoder, Output, Params};
use crate::rng::seeded;

mod step;

/// Hyperparameters of the CAE (paper defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaeConfig {
    /// Channels of the hidden convolution.
    pub hidden: usize,
    /// Channels of the 7x7 latent map (and length of the SVM's vector).
    pub latent_dim: usize,
}

impl Default for CaeConfig {
    fn default() -> Self {
        CaeConfig {
            hidden: 64,
            latent_dim: 32,
        }
    }
}

pub struct Cae {
    cfg: CaeConfig,
    params: Params,
    enc1: Conv2d,
    enc2: Conv2d,
    dec1: ConvTranspose2d,
    dec2: ConvTranspose2d,
}

impl Cae {
    pub fn new(cfg: CaeConfig, seed: u64, device: &Device) -> Result<Cae> {
        if cfg.hidden == 0 || cfg.latent_dim == 0 {
            candle_core::bail!("hidden and latent_dim must be positive");
        }
        let mut rng = seeded(seed, "init-cae");
        let mut p = Params::new();
        let (h, d) = (cfg.hidden, cfg.latent_dim);
        let enc1 = Conv2d::new(&mut p, "enc1", 1, h, 4, 2, 1, &mut rng, device)?;
        let enc2 = Conv2d::new(&mut p, "enc2", h, d, 4, 2, 1, &mut rng, device)?;
        let dec1 = ConvTranspose2d::new(&mut p, "dec1", d, h, 4, 2, 1, &mut rng, device)?;
        let dec2 = ConvTranspose2d::new(&mut p, "dec2", h, 1, 4, 2, 1, &mut rng, device)?;
        Ok(Cae {
            cfg,
            params: p,
            enc1,
            enc2,
            dec1,
            dec2,
        })
    }

    pub fn config(&self) -> &CaeConfig {
        &self.cfg
    }
}

impl Autoencoder for Cae {
    fn name(&self) -> &'static str {
        "cae"
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        // Without training, nothing will take gradients: the CPU path without an op graph.
        if !train && step::applies(self, x) {
            return step::forward(self, x);
        }
        let recon = self.decode(&self.encode(x)?)?;
        let recon_loss = mse(&recon, x)?;
        Ok(Output {
            recon,
            loss: recon_loss.clone(),
            terms: vec![("recon", recon_loss)],
            codes: None,
        })
    }

    fn forward_backward(&self, x: &Tensor) -> Result<(Output, GradStore)> {
        if step::applies(self, x) {
            return step::forward_backward(self, x);
        }
        let out = self.forward(x, true)?;
        let grads = out.loss.backward()?;
        Ok((out, grads))
    }

    /// The latent map z_e, `[B, D, 7, 7]`.
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.enc1.forward_act(x, Activation::Relu)?;
        self.enc2.forward(&h)
    }

    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let h = self.dec1.forward_act(z, Activation::Relu)?;
        self.dec2.forward_act(&h, Activation::Sigmoid)
    }

    fn latent_summary(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)?.mean((2, 3))
    }

    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil;

    fn model(seed: u64) -> Cae {
        Cae::new(CaeConfig::default(), seed, &Device::Cpu).unwrap()
    }

    #[test]
    fn shapes_and_range() {
        let m = model(1);
        assert_eq!(
            m.encode(&testutil::batch(3)).unwrap().dims(),
            &[3, 32, 7, 7]
        );
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
    fn loss_decreases_with_adam() {
        testutil::check_training(&model(7), 1e-3);
    }
}

//! The autoencoders, behind one trait. Models are built from a serde [`ModelConfig`], so a run's
//! `config.json` fully describes its model.

pub mod layers;
pub mod ops;
pub mod params;
pub mod vqvae;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use params::Params;
pub use vqvae::{VqVae, VqVaeConfig};

/// What a forward pass returns: the reconstruction, the loss to minimise and its named terms.
pub struct Output {
    /// Reconstructions, `[B, 1, 28, 28]` in [0, 1].
    pub recon: Tensor,
    /// The scalar loss that training minimises.
    pub loss: Tensor,
    /// Named scalar terms of the loss (`recon`, `codebook`, `commit`, ...), before weighting.
    pub terms: Vec<(&'static str, Tensor)>,
    /// Codebook indices chosen for each latent position, `[B * 49]` (VQ models only).
    pub codes: Option<Tensor>,
}

/// An autoencoder of 28x28 ROIs.
pub trait Autoencoder: Send {
    /// Short name (`vqvae`, `cae`, ...).
    fn name(&self) -> &'static str;
    /// The trainable parameters, in a fixed order.
    fn params(&self) -> &Params;
    /// Full forward pass with loss. `train` enables training-only behaviour (noise, masks).
    fn forward(&self, x: &Tensor, train: bool) -> candle_core::Result<Output>;
    /// The latent map of `x` that [`Autoencoder::decode`] accepts.
    fn encode(&self, x: &Tensor) -> candle_core::Result<Tensor>;
    /// Decodes a latent map to images in [0, 1].
    fn decode(&self, z: &Tensor) -> candle_core::Result<Tensor>;
    /// The per-ROI latent vector used by the SVM (`[B, 32]`), and the latent map it summarises.
    fn latent_summary(&self, x: &Tensor) -> candle_core::Result<Tensor>;
    /// Called once before the first epoch of a new run (e.g. data-dependent initialisation).
    fn begin_training(&self, _x_train: &Tensor, _seed: u64) -> candle_core::Result<()> {
        Ok(())
    }
    /// Called after each epoch with the histogram of codes used during it (VQ models); returns how
    /// many codes were restarted.
    fn end_epoch(
        &self,
        _code_hist: &[u64],
        _x_train: &Tensor,
        _seed: u64,
        _epoch: usize,
    ) -> candle_core::Result<usize> {
        Ok(0)
    }
    /// Length of the vector [`Autoencoder::latent_summary`] returns.
    fn latent_dim(&self) -> usize;
    /// Number of codebook entries, for VQ models.
    fn codebook_size(&self) -> Option<usize> {
        None
    }
}

/// A model and its hyperparameters, as stored in a run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    Vqvae(VqVaeConfig),
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Vqvae(VqVaeConfig::default())
    }
}

impl ModelConfig {
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Vqvae(_) => "vqvae",
        }
    }

    /// The paper's learning rate for this model.
    pub fn paper_lr(&self) -> f64 {
        match self {
            ModelConfig::Vqvae(_) => 2e-4,
        }
    }

    /// Builds the model with weights drawn from the seeded RNG.
    pub fn build(&self, seed: u64, device: &Device) -> candle_core::Result<Box<dyn Autoencoder>> {
        match self {
            ModelConfig::Vqvae(c) => Ok(Box::new(VqVae::new(c.clone(), seed, device)?)),
        }
    }
}

/// Stacks ROIs into a `[N, 1, 28, 28]` tensor with pixels in [0, 1].
pub fn roi_tensor(rois: &[&crate::data::Roi], device: &Device) -> candle_core::Result<Tensor> {
    let mut data = Vec::with_capacity(rois.len() * crate::data::ROI_PIXELS);
    for r in rois {
        data.extend(r.pixels.iter().map(|&p| p as f32 / 255.0));
    }
    Tensor::from_vec(data, (rois.len(), 1, 28, 28), device)
}

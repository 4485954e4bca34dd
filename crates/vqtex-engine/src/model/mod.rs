//! The autoencoders, behind one trait. Models are built from a serde [`ModelConfig`], so a run's
//! `config.json` fully describes its model.

pub mod cae;
pub mod flow;
pub mod layers;
pub mod mae;
pub mod ops;
pub mod params;
pub mod transformer;
pub mod vae;
pub mod vqvae;

use candle_core::{backprop::GradStore, Device, Tensor};
use serde::{Deserialize, Serialize};

pub use cae::{Cae, CaeConfig};
pub use flow::{VaeNf, VaeNfConfig};
pub use mae::{Mae, MaeConfig};
pub use params::Params;
pub use vae::{Vae, VaeConfig};
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
    /// A training-mode forward pass and the gradients of its loss (what training runs each step).
    /// The default is [`Autoencoder::forward`] then candle's backward; a model may do both by
    /// hand where that is faster.
    fn forward_backward(&self, x: &Tensor) -> candle_core::Result<(Output, GradStore)> {
        let out = self.forward(x, true)?;
        let grads = out.loss.backward()?;
        Ok((out, grads))
    }
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
    /// Reconstructions in which no input pixel can be copied through to the output, for models
    /// whose ordinary reconstruction passes part of the input through (the MAE shows its visible
    /// patches): every patch predicted from context. `None` for the others, whose reconstruction
    /// already comes entirely from the latent code.
    fn recon_no_copy(&self, _x: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(None)
    }
    /// Length of the vector [`Autoencoder::latent_summary`] returns.
    fn latent_dim(&self) -> usize;
    /// Number of codebook entries, for VQ models.
    fn codebook_size(&self) -> Option<usize> {
        None
    }
    /// For VQ models: the code of every latent position (`[B * H * W]`, u32, ROI by ROI, row
    /// by row) and the continuous encoder output before quantisation (`[B, D, H, W]`). `None`
    /// for the others.
    fn codes(&self, _x: &Tensor) -> candle_core::Result<Option<(Tensor, Tensor)>> {
        Ok(None)
    }
    /// The global gradient norm training clips to, if the model's protocol clips (VAE+NF: 5.0).
    fn grad_clip(&self) -> Option<f64> {
        None
    }
}

/// A model kind: what a run's `config.json` names in `model.kind` and `--model` accepts. Serialises
/// as its lowercase name (`vqvae`, `cae`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Vqvae,
    Cae,
    Vae,
    Vaenf,
    Mae,
}

impl ModelKind {
    /// Every kind, in the order `--model` lists them.
    pub const ALL: [ModelKind; 5] = [
        ModelKind::Vqvae,
        ModelKind::Cae,
        ModelKind::Vae,
        ModelKind::Vaenf,
        ModelKind::Mae,
    ];

    /// The kind's short name (`vqvae`, `cae`, ...), as configs, listings and JSON outputs spell it.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Vqvae => "vqvae",
            ModelKind::Cae => "cae",
            ModelKind::Vae => "vae",
            ModelKind::Vaenf => "vaenf",
            ModelKind::Mae => "mae",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;

    /// A kind by name, in any case (`vae+nf` also names the VAE+NF).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vqvae" => Ok(ModelKind::Vqvae),
            "cae" => Ok(ModelKind::Cae),
            "vae" => Ok(ModelKind::Vae),
            "vaenf" | "vae+nf" => Ok(ModelKind::Vaenf),
            "mae" => Ok(ModelKind::Mae),
            _ => Err(format!(
                "unknown model {s:?} (one of {})",
                ModelConfig::NAMES.join(", ")
            )),
        }
    }
}

/// The widest layer a config may ask for (channels, token widths, latent sizes).
pub const MAX_WIDTH: usize = 4096;

/// A model and its hyperparameters, as stored in a run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    Vqvae(VqVaeConfig),
    Cae(CaeConfig),
    Vae(VaeConfig),
    Vaenf(VaeNfConfig),
    Mae(MaeConfig),
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::Vqvae(VqVaeConfig::default())
    }
}

impl ModelConfig {
    /// The names `--model` accepts.
    pub const NAMES: [&'static str; 5] = ["vqvae", "cae", "vae", "vaenf", "mae"];

    /// A model with its paper defaults, by name.
    pub fn from_name(name: &str) -> Option<ModelConfig> {
        name.parse().ok().map(ModelConfig::paper)
    }

    /// A model of `kind` with its paper defaults.
    pub fn paper(kind: ModelKind) -> ModelConfig {
        match kind {
            ModelKind::Vqvae => ModelConfig::Vqvae(Default::default()),
            ModelKind::Cae => ModelConfig::Cae(Default::default()),
            ModelKind::Vae => ModelConfig::Vae(Default::default()),
            ModelKind::Vaenf => ModelConfig::Vaenf(Default::default()),
            ModelKind::Mae => ModelConfig::Mae(Default::default()),
        }
    }

    /// This model's kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelConfig::Vqvae(_) => ModelKind::Vqvae,
            ModelConfig::Cae(_) => ModelKind::Cae,
            ModelConfig::Vae(_) => ModelKind::Vae,
            ModelConfig::Vaenf(_) => ModelKind::Vaenf,
            ModelConfig::Mae(_) => ModelKind::Mae,
        }
    }

    /// The model's kind's name (`vqvae`, `cae`, ...).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The loss terms this model's training records (`total` first), in the order they are shown.
    pub fn loss_terms(&self) -> &'static [&'static str] {
        match self {
            ModelConfig::Vqvae(_) => &["total", "recon", "codebook", "commit"],
            ModelConfig::Cae(_) => &["total", "recon"],
            ModelConfig::Vae(_) | ModelConfig::Vaenf(_) => &["total", "recon", "kl"],
            ModelConfig::Mae(_) => &["total", "recon", "masked"],
        }
    }

    /// The paper's learning rate for this model.
    pub fn paper_lr(&self) -> f64 {
        match self {
            ModelConfig::Vqvae(_) => 2e-4,
            ModelConfig::Cae(_) => 2e-4,
            ModelConfig::Vae(_) => 1e-4,
            ModelConfig::Vaenf(_) => 5e-5,
            ModelConfig::Mae(_) => 1e-4,
        }
    }

    /// Checks every size and weight against stated limits, so that a hand-edited config.json
    /// cannot make a command allocate without bound or panic. Names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        fn range(field: &str, v: usize, lo: usize, hi: usize) -> Result<(), String> {
            if v < lo || v > hi {
                return Err(format!("{field} must be in {lo}..={hi}, got {v}"));
            }
            Ok(())
        }
        fn weight(field: &str, v: f64, hi: f64) -> Result<(), String> {
            if !(v.is_finite() && (0.0..=hi).contains(&v)) {
                return Err(format!(
                    "{field} must be a finite number in 0..={hi}, got {v}"
                ));
            }
            Ok(())
        }
        let kind = self.name();
        let f = |name: &str| format!("model.{name} ({kind})");
        match self {
            ModelConfig::Vqvae(c) => {
                range(&f("hidden"), c.hidden, 1, MAX_WIDTH)?;
                range(&f("latent_dim"), c.latent_dim, 1, MAX_WIDTH)?;
                range(&f("codebook_size"), c.codebook_size, 1, 65536)?;
                weight(&f("beta"), c.beta, 1e6)?;
            }
            ModelConfig::Cae(c) => {
                range(&f("hidden"), c.hidden, 1, MAX_WIDTH)?;
                range(&f("latent_dim"), c.latent_dim, 1, MAX_WIDTH)?;
            }
            ModelConfig::Vae(c) => {
                range(&f("hidden"), c.hidden, 1, MAX_WIDTH)?;
                range(&f("channels"), c.channels, 1, MAX_WIDTH)?;
                range(&f("latent_dim"), c.latent_dim, 1, MAX_WIDTH)?;
                weight(&f("beta"), c.beta, 1e6)?;
            }
            ModelConfig::Vaenf(c) => {
                range(&f("hidden"), c.hidden, 1, MAX_WIDTH)?;
                range(&f("channels"), c.channels, 1, MAX_WIDTH)?;
                range(&f("latent_dim"), c.latent_dim, 1, MAX_WIDTH)?;
                range(&f("flows"), c.flows, 0, 256)?;
                weight(&f("beta"), c.beta, 1e6)?;
            }
            ModelConfig::Mae(c) => {
                range(&f("patch"), c.patch, 1, 28)?;
                if 28 % c.patch != 0 {
                    return Err(format!("{} must divide 28, got {}", f("patch"), c.patch));
                }
                range(&f("width"), c.width, 1, MAX_WIDTH)?;
                range(&f("depth"), c.depth, 1, 64)?;
                range(&f("heads"), c.heads, 1, 64)?;
                range(&f("mlp_ratio"), c.mlp_ratio, 1, 16)?;
                range(&f("latent_dim"), c.latent_dim, 1, MAX_WIDTH)?;
                range(&f("decoder_width"), c.decoder_width, 1, MAX_WIDTH)?;
                range(&f("decoder_depth"), c.decoder_depth, 1, 64)?;
                range(&f("decoder_heads"), c.decoder_heads, 1, 64)?;
                for (name, width, heads) in [
                    ("heads", c.width, c.heads),
                    ("decoder_heads", c.decoder_width, c.decoder_heads),
                ] {
                    if width % heads != 0 {
                        return Err(format!(
                            "{} ({heads}) must divide the width ({width})",
                            f(name)
                        ));
                    }
                }
                let patches = (28 / c.patch) * (28 / c.patch);
                let masked = (c.mask_ratio * patches as f64).round();
                if !(c.mask_ratio.is_finite() && masked >= 1.0 && masked < patches as f64) {
                    return Err(format!(
                        "{} must mask at least one of the {patches} patches and leave one \
                         visible, got {}",
                        f("mask_ratio"),
                        c.mask_ratio
                    ));
                }
            }
        }
        Ok(())
    }

    /// Builds the model with weights drawn from the seeded RNG.
    pub fn build(&self, seed: u64, device: &Device) -> candle_core::Result<Box<dyn Autoencoder>> {
        match self {
            ModelConfig::Vqvae(c) => Ok(Box::new(VqVae::new(c.clone(), seed, device)?)),
            ModelConfig::Cae(c) => Ok(Box::new(Cae::new(c.clone(), seed, device)?)),
            ModelConfig::Vae(c) => Ok(Box::new(Vae::new(c.clone(), seed, device)?)),
            ModelConfig::Vaenf(c) => Ok(Box::new(VaeNf::new(c.clone(), seed, device)?)),
            ModelConfig::Mae(c) => Ok(Box::new(Mae::new(c.clone(), seed, device)?)),
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

/// Checks every model's tests share: shapes, gradients, seeding, training.
#[cfg(test)]
pub(crate) mod testutil {
    use candle_core::backprop::GradStore;
    use candle_core::{Device, Tensor};

    use super::Autoencoder;
    use crate::train::optim::Adam;

    /// A fixed batch of `n` ROIs with pixels in [0, 1].
    pub fn batch(n: usize) -> Tensor {
        let data: Vec<f32> = (0..n * 784)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect();
        Tensor::from_vec(data, (n, 1, 28, 28), &Device::Cpu).unwrap()
    }

    pub fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    /// Largest absolute difference, relative to the largest magnitude of `want`.
    /// The largest absolute difference of two equally long value lists.
    pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
    }

    pub fn rel_diff(got: &Tensor, want: &Tensor) -> f32 {
        let (g, w) = (values(got), values(want));
        assert_eq!(g.len(), w.len());
        let scale = w.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-12);
        g.iter()
            .zip(&w)
            .fold(0f32, |a, (x, y)| a.max((x - y).abs()))
            / scale
    }

    /// A hand-written step's output against candle's: reconstructions, loss and every loss
    /// term within 1e-5.
    pub fn assert_same_output(got: &super::Output, want: &super::Output) {
        assert!(rel_diff(&got.recon, &want.recon) <= 1e-5);
        assert!(rel_diff(&got.loss, &want.loss) <= 1e-5);
        assert_eq!(got.terms.len(), want.terms.len());
        for ((name, t), (wname, wt)) in got.terms.iter().zip(&want.terms) {
            assert_eq!(name, wname);
            assert!(rel_diff(t, wt) <= 1e-5, "{name}");
        }
    }

    /// Every parameter's gradient of `got` against candle's autograd (`want`): same shape,
    /// relative difference within `tol`.
    pub fn assert_grads_close(m: &dyn Autoencoder, got: &GradStore, want: &GradStore, tol: f32) {
        for (name, var) in m.params().iter() {
            let g = got.get(var.as_tensor()).expect("a gradient");
            let w = want.get(var.as_tensor()).expect("a reference gradient");
            assert_eq!(g.dims(), w.dims(), "{name}");
            let d = rel_diff(g, w);
            assert!(d <= tol, "{name}: relative difference {d}");
        }
    }

    /// Every parameter's gradient bitwise equal in `a` and `b`.
    pub fn assert_grads_equal(m: &dyn Autoencoder, a: &GradStore, b: &GradStore) {
        for (name, var) in m.params().iter() {
            let (u, v) = (a.get(var.as_tensor()), b.get(var.as_tensor()));
            assert_eq!(values(u.unwrap()), values(v.unwrap()), "{name}");
        }
    }

    /// Reconstructions `[B, 1, 28, 28]` in [0, 1] (train and eval), a finite scalar loss and a
    /// `[B, latent_dim]` summary of length 32.
    pub fn check_shapes(m: &dyn Autoencoder) {
        let x = batch(3);
        for train in [true, false] {
            let out = m.forward(&x, train).unwrap();
            assert_eq!(out.recon.dims(), &[3, 1, 28, 28]);
            assert!(values(&out.recon).iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(out.loss.dims().is_empty());
            assert!(out.loss.to_scalar::<f32>().unwrap().is_finite());
        }
        assert_eq!(m.latent_dim(), 32);
        assert_eq!(m.latent_summary(&x).unwrap().dims(), &[3, 32]);
    }

    /// Every trainable variable gets a non-zero gradient from the training loss.
    pub fn check_gradients(m: &dyn Autoencoder) {
        let out = m.forward(&batch(4), true).unwrap();
        let grads = out.loss.backward().unwrap();
        assert!(!m.params().is_empty());
        for (name, var) in m.params().iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name} has no gradient"));
            let norm = g.sqr().unwrap().sum_all().unwrap();
            let norm = norm.to_scalar::<f32>().unwrap();
            assert!(
                norm > 0.0 && norm.is_finite(),
                "{name} has gradient norm {norm}"
            );
        }
    }

    /// `a` and `b` (same seed) give identical training-mode outputs, twice in a row (same noise
    /// streams); `c` (another seed) differs.
    pub fn check_seeded(a: &dyn Autoencoder, b: &dyn Autoencoder, c: &dyn Autoencoder) {
        let x = batch(2);
        for _ in 0..2 {
            let (oa, ob) = (a.forward(&x, true).unwrap(), b.forward(&x, true).unwrap());
            assert_eq!(values(&oa.recon), values(&ob.recon));
            assert_eq!(values(&oa.loss), values(&ob.loss));
        }
        let oc = c.forward(&x, true).unwrap();
        assert_ne!(
            values(&a.forward(&x, true).unwrap().recon),
            values(&oc.recon)
        );
    }

    /// 20 Adam steps on a fixed batch lower the evaluation loss.
    pub fn check_training(m: &dyn Autoencoder, lr: f64) {
        let x = batch(8);
        let eval = |m: &dyn Autoencoder| {
            let l = m.forward(&x, false).unwrap().loss;
            l.to_scalar::<f32>().unwrap()
        };
        let before = eval(m);
        let mut opt = Adam::new(m.params().iter().cloned().collect(), lr).unwrap();
        for _ in 0..20 {
            let out = m.forward(&x, true).unwrap();
            opt.step(&out.loss.backward().unwrap()).unwrap();
        }
        let after = eval(m);
        assert!(after < before, "loss went from {before} to {after}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name_and_serde() {
        assert_eq!(ModelKind::ALL.len(), ModelConfig::NAMES.len());
        for (k, name) in ModelKind::ALL.into_iter().zip(ModelConfig::NAMES) {
            assert_eq!(k.name(), name);
            assert_eq!(k.to_string(), name);
            assert_eq!(name.parse::<ModelKind>(), Ok(k));
            assert_eq!(name.to_uppercase().parse::<ModelKind>(), Ok(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<ModelKind>(&json).unwrap(), k);
            let config = ModelConfig::from_name(k.name()).unwrap();
            assert_eq!(config.kind(), k);
            assert_eq!(config.name(), name);
            assert_eq!(ModelConfig::paper(k), config);
        }
        assert_eq!("vae+nf".parse::<ModelKind>(), Ok(ModelKind::Vaenf));
        assert!("resnet".parse::<ModelKind>().is_err());
    }

    #[test]
    fn every_config_round_trips_and_builds_its_model() {
        let configs = [
            ModelConfig::default(),
            ModelConfig::Cae(CaeConfig::default()),
            ModelConfig::Vae(VaeConfig::default()),
            ModelConfig::Vaenf(VaeNfConfig::default()),
            ModelConfig::Mae(MaeConfig::default()),
        ];
        for c in configs {
            let json = serde_json::to_string(&c).unwrap();
            assert!(
                json.contains(&format!("\"kind\":\"{}\"", c.name())),
                "{json}"
            );
            assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
            let m = c.build(0, &Device::Cpu).unwrap();
            assert_eq!(m.name(), c.name());
            assert_eq!(m.grad_clip().is_some(), c.name() == "vaenf");
            assert_eq!(ModelConfig::from_name(c.name()).as_ref(), Some(&c));
            let x = testutil::batch(1);
            let out = m.forward(&testutil::batch(2), true).unwrap();
            let mut terms = vec!["total"];
            terms.extend(out.terms.iter().map(|(n, _)| *n));
            assert_eq!(terms, c.loss_terms(), "{} declares its terms", c.name());
            let copies = m.recon_no_copy(&x).unwrap().is_some();
            assert_eq!(copies, c.name() == "mae");
        }
        let partial: ModelConfig = serde_json::from_str(r#"{"kind":"vaenf","flows":4}"#).unwrap();
        let ModelConfig::Vaenf(c) = partial else {
            panic!("not a vaenf config")
        };
        assert_eq!((c.flows, c.beta), (4, 0.01));
    }
}

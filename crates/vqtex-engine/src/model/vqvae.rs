//! The paper's VQ-VAE: two stride-2 convolutions to a 32x7x7 latent map, a 64x32 codebook with
//! nearest-neighbour lookup and the straight-through estimator, and a mirrored decoder of two
//! stride-2 transposed convolutions with a sigmoid output.
//!
//! Loss = ||x - x^||^2 + ||sg[z_e] - z_q||^2 + beta ||z_e - sg[z_q]||^2 (mean squared errors).

use candle_core::{backprop::GradStore, DType, Device, Result, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use super::layers::{mse, Activation, Conv2d, ConvTranspose2d};
use super::{Autoencoder, Output, Params};
use crate::rng::{seeded, Rng};

mod step;

/// Hyperparameters of the VQ-VAE (paper defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VqVaeConfig {
    /// Channels of the hidden convolution.
    pub hidden: usize,
    /// Dimension of the latent vectors and codebook entries.
    pub latent_dim: usize,
    /// Number of codebook entries.
    pub codebook_size: usize,
    /// Weight of the commitment loss.
    pub beta: f64,
    /// Start the codebook from encoder outputs of random training ROIs (instead of U(-1/K, 1/K),
    /// which sits far from where the encoder's outputs go and leaves most codes unused).
    pub data_init: bool,
    /// After each epoch, move codes that no ROI used to random encoder outputs.
    pub restart_dead: bool,
}

impl Default for VqVaeConfig {
    fn default() -> Self {
        VqVaeConfig {
            hidden: 64,
            latent_dim: 32,
            codebook_size: 64,
            beta: 0.25,
            data_init: true,
            restart_dead: true,
        }
    }
}

pub struct VqVae {
    cfg: VqVaeConfig,
    params: Params,
    enc1: Conv2d,
    enc2: Conv2d,
    codebook: Var,
    dec1: ConvTranspose2d,
    dec2: ConvTranspose2d,
}

/// Result of quantising a latent map.
pub struct Quantized {
    /// Quantized latent map `[B, D, H, W]` (codebook vectors, no gradient path to the encoder).
    pub z_q: Tensor,
    /// Codebook indices, `[B * H * W]`, in (b, h, w) order.
    pub codes: Tensor,
}

impl VqVae {
    pub fn new(cfg: VqVaeConfig, seed: u64, device: &Device) -> Result<VqVae> {
        if cfg.hidden == 0 || cfg.latent_dim == 0 || cfg.codebook_size == 0 {
            candle_core::bail!("hidden, latent_dim and codebook_size must be positive");
        }
        let mut rng = seeded(seed, "init-vqvae");
        let mut p = Params::new();
        let h = cfg.hidden;
        let d = cfg.latent_dim;
        let enc1 = Conv2d::new(&mut p, "enc1", 1, h, 4, 2, 1, &mut rng, device)?;
        let enc2 = Conv2d::new(&mut p, "enc2", h, d, 4, 2, 1, &mut rng, device)?;
        let k = cfg.codebook_size as f64;
        let codebook = p.uniform(
            "codebook",
            &[cfg.codebook_size, d],
            1.0 / k,
            &mut rng,
            device,
        )?;
        let dec1 = ConvTranspose2d::new(&mut p, "dec1", d, h, 4, 2, 1, &mut rng, device)?;
        let dec2 = ConvTranspose2d::new(&mut p, "dec2", h, 1, 4, 2, 1, &mut rng, device)?;
        Ok(VqVae {
            cfg,
            params: p,
            enc1,
            enc2,
            codebook,
            dec1,
            dec2,
        })
    }

    pub fn config(&self) -> &VqVaeConfig {
        &self.cfg
    }

    pub fn codebook(&self) -> &Tensor {
        self.codebook.as_tensor()
    }

    /// The continuous encoder output z_e, `[B, D, 7, 7]`.
    pub fn encode_continuous(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.enc1.forward_act(x, Activation::Relu)?;
        self.enc2.forward(&h)
    }

    /// Nearest codebook entry (Euclidean) for every position of `z_e`.
    pub fn quantize(&self, z_e: &Tensor) -> Result<Quantized> {
        let (b, d, h, w) = z_e.dims4()?;
        let flat = z_e.permute((0, 2, 3, 1))?.reshape((b * h * w, d))?;
        let codes = nearest_codes(&flat.detach(), &self.codebook.as_detached_tensor())?;
        let z_q = self
            .codebook
            .embedding(&codes)?
            .reshape((b, h, w, d))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        Ok(Quantized { z_q, codes })
    }

    /// Replaces the given codebook rows with encoder outputs at random latent positions of `x`
    /// (drawn uniformly over all ROIs and positions). Only the ROIs drawn are encoded.
    pub fn reseed_codes(&self, rows: &[usize], x: &Tensor, rng: &mut Rng) -> Result<()> {
        use rand::Rng as _;
        if rows.is_empty() {
            return Ok(());
        }
        let n = x.dim(0)?;
        if n == 0 {
            candle_core::bail!("no ROIs to draw codebook vectors from");
        }
        let d = self.cfg.latent_dim;
        let (_, _, h, w) = self.encode_continuous(&x.narrow(0, 0, 1)?)?.dims4()?;
        let per = h * w;
        let picks: Vec<usize> = rows.iter().map(|_| rng.random_range(0..n * per)).collect();
        let mut rois: Vec<u32> = picks.iter().map(|&p| (p / per) as u32).collect();
        rois.sort_unstable();
        rois.dedup();
        let idx = Tensor::new(rois.as_slice(), x.device())?;
        let z_e = self.encode_continuous(&x.index_select(&idx, 0)?)?;
        let z = z_e
            .permute((0, 2, 3, 1))?
            .reshape((rois.len() * per, d))?
            .to_vec2::<f32>()?;
        let mut book = self.codebook.as_tensor().to_vec2::<f32>()?;
        for (&r, &p) in rows.iter().zip(&picks) {
            let j = rois.partition_point(|&i| (i as usize) < p / per);
            book[r] = z[j * per + p % per].clone();
        }
        let flat: Vec<f32> = book.into_iter().flatten().collect();
        let t = Tensor::from_vec(flat, (self.cfg.codebook_size, d), self.codebook.device())?;
        self.codebook.set(&t)
    }

    /// Decodes codebook indices `[B * 49]` (row-major 7x7 per ROI) to images.
    pub fn decode_codes(&self, codes: &Tensor, batch: usize) -> Result<Tensor> {
        let d = self.cfg.latent_dim;
        let z_q = self
            .codebook
            .embedding(codes)?
            .reshape((batch, 7, 7, d))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        self.decode(&z_q)
    }
}

/// Index of the nearest row of `codebook` `[K, D]` for every row of `z` `[N, D]` (squared Euclidean
/// distance, ties to the lowest index).
pub fn nearest_codes(z: &Tensor, codebook: &Tensor) -> Result<Tensor> {
    let z2 = z.sqr()?.sum_keepdim(1)?; // [N, 1]
    let e2 = codebook.sqr()?.sum_keepdim(1)?.t()?; // [1, K]
    let ze = z.matmul(&codebook.t()?)?; // [N, K]
    let dist = z2.broadcast_add(&e2)?.broadcast_sub(&(ze * 2.0)?)?;
    dist.argmin(D::Minus1)?.to_dtype(DType::U32)
}

impl Autoencoder for VqVae {
    fn name(&self) -> &'static str {
        "vqvae"
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        // Without training, nothing will take gradients: the CPU path without an op graph.
        if !train && step::applies(self, x) {
            return step::forward(self, x);
        }
        let z_e = self.encode_continuous(x)?;
        let q = self.quantize(&z_e)?;
        let codebook_loss = mse(&q.z_q, &z_e.detach())?;
        let commit_loss = mse(&z_e, &q.z_q.detach())?;
        // Straight-through: forward uses z_q, backward passes the decoder's gradient to z_e.
        let z_st = (&z_e + (&q.z_q - &z_e)?.detach())?;
        let recon = self.decode(&z_st)?;
        let recon_loss = mse(&recon, x)?;
        let loss = ((&recon_loss + &codebook_loss)? + (&commit_loss * self.cfg.beta)?)?;
        Ok(Output {
            recon,
            loss,
            terms: vec![
                ("recon", recon_loss),
                ("codebook", codebook_loss),
                ("commit", commit_loss),
            ],
            codes: Some(q.codes),
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

    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let z_e = self.encode_continuous(x)?;
        Ok(self.quantize(&z_e)?.z_q)
    }

    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let h = self.dec1.forward_act(z, Activation::Relu)?;
        self.dec2.forward_act(&h, Activation::Sigmoid)
    }

    fn latent_summary(&self, x: &Tensor) -> Result<Tensor> {
        // The paper's 32-d vector: z_q averaged over the 7x7 positions.
        self.encode(x)?.mean((2, 3))
    }

    fn begin_training(&self, x_train: &Tensor, seed: u64) -> Result<()> {
        if self.cfg.data_init {
            let rows: Vec<usize> = (0..self.cfg.codebook_size).collect();
            self.reseed_codes(&rows, x_train, &mut seeded(seed, "codebook-init"))?;
        }
        Ok(())
    }

    fn end_epoch(
        &self,
        code_hist: &[u64],
        x_train: &Tensor,
        seed: u64,
        epoch: usize,
    ) -> Result<usize> {
        if !self.cfg.restart_dead {
            return Ok(0);
        }
        let dead: Vec<usize> = (0..code_hist.len())
            .filter(|&i| code_hist[i] == 0)
            .collect();
        let mut rng = seeded(seed, &format!("restart-{epoch}"));
        self.reseed_codes(&dead, x_train, &mut rng)?;
        Ok(dead.len())
    }

    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }

    fn codebook_size(&self) -> Option<usize> {
        Some(self.cfg.codebook_size)
    }

    fn codes(&self, x: &Tensor) -> Result<Option<(Tensor, Tensor)>> {
        let z_e = self.encode_continuous(x)?;
        let codes = self.quantize(&z_e)?.codes;
        Ok(Some((codes, z_e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize, dev: &Device) -> Tensor {
        let data: Vec<f32> = (0..n * 784)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect();
        Tensor::from_vec(data, (n, 1, 28, 28), dev).unwrap()
    }

    #[test]
    fn shapes_follow_the_paper() {
        let dev = Device::Cpu;
        let m = VqVae::new(VqVaeConfig::default(), 1, &dev).unwrap();
        let x = batch(3, &dev);
        let z_e = m.encode_continuous(&x).unwrap();
        assert_eq!(z_e.dims(), &[3, 32, 7, 7]);
        let out = m.forward(&x, true).unwrap();
        assert_eq!(out.recon.dims(), &[3, 1, 28, 28]);
        assert_eq!(out.codes.as_ref().unwrap().dims(), &[3 * 49]);
        assert_eq!(m.latent_summary(&x).unwrap().dims(), &[3, 32]);
        assert_eq!(m.codebook().dims(), &[64, 32]);
        let r = out.recon.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn every_trainable_variable_gets_a_gradient() {
        let dev = Device::Cpu;
        let m = VqVae::new(VqVaeConfig::default(), 3, &dev).unwrap();
        let out = m.forward(&batch(4, &dev), true).unwrap();
        let grads = out.loss.backward().unwrap();
        for (name, var) in m.params().iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name} has no gradient"));
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "{name} has a zero gradient");
        }
    }

    #[test]
    fn lookup_returns_the_true_nearest_code() {
        let dev = Device::Cpu;
        let codebook = Tensor::new(&[[0f32, 0.], [1., 0.], [0., 1.], [5., 5.]], &dev).unwrap();
        let z = Tensor::new(
            &[[0.9f32, 0.2], [0.1, 0.1], [4., 6.], [0.2, 0.7], [0.6, 0.45]],
            &dev,
        )
        .unwrap();
        let codes = nearest_codes(&z, &codebook)
            .unwrap()
            .to_vec1::<u32>()
            .unwrap();
        // Brute force for comparison.
        let zv = z.to_vec2::<f32>().unwrap();
        let cv = codebook.to_vec2::<f32>().unwrap();
        let brute: Vec<u32> = zv
            .iter()
            .map(|r| {
                (0..cv.len())
                    .min_by(|&a, &b| {
                        let da: f32 = r.iter().zip(&cv[a]).map(|(x, y)| (x - y).powi(2)).sum();
                        let db: f32 = r.iter().zip(&cv[b]).map(|(x, y)| (x - y).powi(2)).sum();
                        da.partial_cmp(&db).unwrap()
                    })
                    .unwrap() as u32
            })
            .collect();
        assert_eq!(codes, vec![1, 0, 3, 2, 1]);
        assert_eq!(codes, brute);
    }

    #[test]
    fn reseeding_copies_encoder_outputs_at_the_drawn_positions() {
        use rand::Rng as _;
        let dev = Device::Cpu;
        let m = VqVae::new(VqVaeConfig::default(), 7, &dev).unwrap();
        let x = batch(10, &dev);
        let rows = [3usize, 0, 63, 17];
        let before = m.codebook().to_vec2::<f32>().unwrap();
        m.reseed_codes(&rows, &x, &mut seeded(5, "t")).unwrap();
        let after = m.codebook().to_vec2::<f32>().unwrap();
        // The same draws against the encoding of every ROI.
        let all = m
            .encode_continuous(&x)
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap()
            .reshape((10 * 49, 32))
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut rng = seeded(5, "t");
        for &r in &rows {
            let want = &all[rng.random_range(0..all.len())];
            let diff = after[r].iter().zip(want).map(|(a, b)| (a - b).abs());
            assert!(diff.fold(0f32, f32::max) <= 1e-5, "row {r}");
        }
        for r in (0..64).filter(|r| !rows.contains(r)) {
            assert_eq!(after[r], before[r], "row {r} was not to change");
        }
    }

    #[test]
    fn quantized_vectors_are_codebook_rows() {
        let dev = Device::Cpu;
        let m = VqVae::new(VqVaeConfig::default(), 5, &dev).unwrap();
        let x = batch(2, &dev);
        let q = m.quantize(&m.encode_continuous(&x).unwrap()).unwrap();
        let codes = q.codes.to_vec1::<u32>().unwrap();
        let book = m.codebook().to_vec2::<f32>().unwrap();
        let zq = q
            .z_q
            .permute((0, 2, 3, 1))
            .unwrap()
            .reshape((2 * 49, 32))
            .unwrap();
        let zq = zq.to_vec2::<f32>().unwrap();
        for (row, &c) in zq.iter().zip(&codes) {
            assert_eq!(row, &book[c as usize]);
        }
    }

    #[test]
    fn straight_through_passes_the_decoder_gradient_to_the_encoder() {
        let dev = Device::Cpu;
        let m = VqVae::new(VqVaeConfig::default(), 9, &dev).unwrap();
        let x = batch(2, &dev);
        // The decoder's gradient at its input, taken at the quantized map.
        let z_e = m.encode_continuous(&x).unwrap();
        let z_q = m.quantize(&z_e).unwrap().z_q.detach();
        let z_leaf = Var::from_tensor(&z_q).unwrap();
        let loss = mse(&m.decode(z_leaf.as_tensor()).unwrap(), &x).unwrap();
        let g_dec = loss
            .backward()
            .unwrap()
            .get(z_leaf.as_tensor())
            .unwrap()
            .clone();
        // Straight-through: only the reconstruction term, so the encoder's gradient must be exactly
        // the decoder's gradient pulled back through the encoder.
        let z_e = m.encode_continuous(&x).unwrap();
        let q = m.quantize(&z_e).unwrap();
        let z_st = (&z_e + (&q.z_q - &z_e).unwrap().detach()).unwrap();
        let loss = mse(&m.decode(&z_st).unwrap(), &x).unwrap();
        let grads = loss.backward().unwrap();
        let w = m.enc1.weight.as_tensor();
        let g_st = grads.get(w).expect("the encoder gets a gradient").clone();
        let surrogate = (m.encode_continuous(&x).unwrap() * &g_dec)
            .unwrap()
            .sum_all()
            .unwrap();
        let g_ref = surrogate.backward().unwrap().get(w).unwrap().clone();
        let scale = g_ref
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let diff = (&g_st - &g_ref).unwrap().abs().unwrap().max_all().unwrap();
        assert!(scale > 0.0);
        assert!(diff.to_scalar::<f32>().unwrap() <= 1e-5 * scale);
        // The codebook gets nothing from the reconstruction term alone.
        assert!(grads.get(m.codebook.as_tensor()).is_none());
    }
}

//! The paper's masked autoencoder (MAE) baseline: 4x4 patches (49 per ROI), pixels rescaled to
//! [-1, 1], a linear patch embedding to width 256 with a learned positional embedding, a 6-layer
//! 4-head pre-norm transformer encoder that sees only the visible patches (30% are masked and
//! dropped, as in He et al.'s MAE), then a light decoder: the visible tokens, a learned mask token
//! at every masked position, a decoder positional embedding, 2 pre-norm blocks of width 128 and a
//! linear head predicting the 16 pixels of every patch.
//!
//! Between the two a linear bottleneck to 32 dimensions per token (encoder width -> 32 -> decoder
//! width) gives the model a 32-d latent that the reconstruction depends on: `encode` returns it for
//! all 49 patches (nothing masked) as a `[B, 32, 7, 7]` map like the convolutional models', `decode`
//! maps such a map back to images (every patch visible to the decoder), and the SVM's vector
//! (`latent_summary`) is its mean over the 49 positions.
//!
//! Loss = mean squared error over the pixels of the masked patches only, in [-1, 1] space (the MAE
//! convention: the visible patches are given, so predicting them teaches nothing). The `masked`
//! term is that loss; the `recon` term is the per-pixel MSE in [0, 1] of the reconstruction below,
//! like the other models' `recon` term (but see the next paragraph).
//!
//! The reconstruction `forward` returns is the paper's: visible patches are the input pixels,
//! masked patches the predictions (mapped back to [0, 1], clamped). 70% of its pixels are thus
//! copies of the input, which is why its metrics are not comparable with the other autoencoders'.
//! [`Mae::reconstruct_from_context`] (also [`Autoencoder::recon_no_copy`]) predicts every patch from
//! context instead: the 49 patches are split into 4 disjoint groups of at most 15 (a fixed
//! permutation), and each group is predicted with only it masked.
//!
//! Masks: in training 15 of the 49 patches per ROI, drawn from the model's own seeded stream (behind
//! a mutex, like the VAE's noise), so a run is reproducible from its seed. At evaluation each ROI's
//! mask is drawn from a stream seeded by a hash of its pixels: deterministic, independent of the
//! batch the ROI is in, and different from ROI to ROI.

use std::sync::Mutex;

use candle_core::{backprop::GradStore, DType, Device, Result, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::layers::{mse, Linear};
use super::transformer::{Block, LayerNorm};
use super::{Autoencoder, Output, Params};
use crate::rng::{seeded, Rng};

mod step;

/// Side of an ROI in pixels.
const SIDE: usize = 28;

/// Hyperparameters of the MAE (paper defaults; the decoder and the bottleneck are ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaeConfig {
    /// Side of the square patches (must divide 28).
    pub patch: usize,
    /// Width of the encoder's tokens.
    pub width: usize,
    /// Number of encoder blocks.
    pub depth: usize,
    /// Attention heads of the encoder.
    pub heads: usize,
    /// Hidden width of the MLPs, as a multiple of the width.
    pub mlp_ratio: usize,
    /// Width of the per-token latent between encoder and decoder (and of the SVM's vector).
    pub latent_dim: usize,
    /// Width of the decoder's tokens.
    pub decoder_width: usize,
    /// Number of decoder blocks.
    pub decoder_depth: usize,
    /// Attention heads of the decoder.
    pub decoder_heads: usize,
    /// Fraction of the patches masked (rounded to a whole number of patches).
    pub mask_ratio: f64,
}

impl Default for MaeConfig {
    fn default() -> Self {
        MaeConfig {
            patch: 4,
            width: 256,
            depth: 6,
            heads: 4,
            mlp_ratio: 4,
            latent_dim: 32,
            decoder_width: 128,
            decoder_depth: 2,
            decoder_heads: 4,
            mask_ratio: 0.3,
        }
    }
}

/// Which patches of each ROI are masked: per ROI the same number, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masks(pub Vec<Vec<usize>>);

/// Index tensors that carry out a set of masks on the `[B * N, C]` token rows.
struct MaskPlan {
    /// Visible tokens per ROI.
    visible: usize,
    /// Rows of the visible tokens, `[B * visible]` (ROI-major, ascending positions).
    keep: Tensor,
    /// For each of the `B * N` positions, its row in `[visible tokens; mask token]`.
    fill: Tensor,
    /// 1 at masked positions, `[B, N, 1]`.
    weight: Tensor,
}

pub struct Mae {
    cfg: MaeConfig,
    params: Params,
    /// Patches per side and per ROI.
    grid: usize,
    n: usize,
    n_masked: usize,
    embed: Linear,
    pos: Var,
    blocks: Vec<Block>,
    norm: LayerNorm,
    to_latent: Linear,
    from_latent: Linear,
    mask_token: Var,
    dec_pos: Var,
    dec_blocks: Vec<Block>,
    dec_norm: LayerNorm,
    head: Linear,
    masks: Mutex<Rng>,
    /// Buffers of the hand-written CPU step, kept between steps.
    work: Mutex<Vec<step::Work>>,
}

impl Mae {
    pub fn new(cfg: MaeConfig, seed: u64, device: &Device) -> Result<Mae> {
        let c = &cfg;
        if c.patch == 0 || !SIDE.is_multiple_of(c.patch) {
            candle_core::bail!("the patch side {} does not divide {SIDE}", c.patch);
        }
        if [c.width, c.depth, c.mlp_ratio, c.latent_dim, c.decoder_width].contains(&0) {
            candle_core::bail!(
                "width, depth, mlp_ratio, latent_dim and decoder_width must be positive"
            );
        }
        let grid = SIDE / c.patch;
        let n = grid * grid;
        let n_masked = (c.mask_ratio * n as f64).round();
        if !(n_masked >= 1.0 && n_masked < n as f64) {
            candle_core::bail!(
                "mask_ratio {} masks {n_masked} of {n} patches: at least one must be masked and one visible",
                c.mask_ratio
            );
        }
        let mut rng = seeded(seed, "init-mae");
        let mut p = Params::new();
        let pp = c.patch * c.patch;
        let embed = Linear::new(&mut p, "embed", pp, c.width, &mut rng, device)?;
        let pos = p.uniform("pos", &[n, c.width], 0.02, &mut rng, device)?;
        let blocks = (0..c.depth)
            .map(|i| {
                let name = format!("enc{i}");
                Block::new(
                    &mut p,
                    &name,
                    c.width,
                    c.heads,
                    c.mlp_ratio,
                    &mut rng,
                    device,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = LayerNorm::new(&mut p, "enc_norm", c.width, device)?;
        let to_latent = Linear::new(&mut p, "to_latent", c.width, c.latent_dim, &mut rng, device)?;
        let (dw, dh) = (c.decoder_width, c.decoder_heads);
        let from_latent = Linear::new(&mut p, "from_latent", c.latent_dim, dw, &mut rng, device)?;
        let mask_token = p.uniform("mask_token", &[1, dw], 0.02, &mut rng, device)?;
        let dec_pos = p.uniform("dec_pos", &[n, dw], 0.02, &mut rng, device)?;
        let dec_blocks = (0..c.decoder_depth)
            .map(|i| {
                let name = format!("dec{i}");
                Block::new(&mut p, &name, dw, dh, c.mlp_ratio, &mut rng, device)
            })
            .collect::<Result<Vec<_>>>()?;
        let dec_norm = LayerNorm::new(&mut p, "dec_norm", dw, device)?;
        let head = Linear::new(&mut p, "head", dw, pp, &mut rng, device)?;
        Ok(Mae {
            cfg,
            params: p,
            grid,
            n,
            n_masked: n_masked as usize,
            embed,
            pos,
            blocks,
            norm,
            to_latent,
            from_latent,
            mask_token,
            dec_pos,
            dec_blocks,
            dec_norm,
            head,
            masks: Mutex::new(seeded(seed, "masks-mae")),
            work: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &MaeConfig {
        &self.cfg
    }

    /// Patches per ROI (49).
    pub fn patches(&self) -> usize {
        self.n
    }

    /// Patches masked per ROI in training and in the paper's evaluation (15).
    pub fn masked_per_roi(&self) -> usize {
        self.n_masked
    }

    /// `[B, 1, 28, 28] -> [B, N, patch * patch]`, patches row-major, pixels row-major inside.
    pub fn patchify(&self, x: &Tensor) -> Result<Tensor> {
        let (b, g, p) = (x.dim(0)?, self.grid, self.cfg.patch);
        x.reshape((b, g, p, g, p))?
            .permute((0, 1, 3, 2, 4))?
            .contiguous()?
            .reshape((b, g * g, p * p))
    }

    /// The inverse of [`Mae::patchify`].
    pub fn unpatchify(&self, t: &Tensor) -> Result<Tensor> {
        let (b, g, p) = (t.dim(0)?, self.grid, self.cfg.patch);
        t.reshape((b, g, g, p, p))?
            .permute((0, 1, 3, 2, 4))?
            .contiguous()?
            .reshape((b, 1, SIDE, SIDE))
    }

    /// `n_masked` distinct sorted patch indices from `rng`.
    fn draw(&self, rng: &mut Rng) -> Vec<usize> {
        let mut m = rand::seq::index::sample(rng, self.n, self.n_masked).into_vec();
        m.sort_unstable();
        m
    }

    /// Fresh training masks for a batch of `b` ROIs, from the model's seeded stream.
    pub fn train_masks(&self, b: usize) -> Result<Masks> {
        let mut rng = self
            .masks
            .lock()
            .map_err(|_| candle_core::Error::Msg("mask RNG lock poisoned".into()))?;
        Ok(Masks((0..b).map(|_| self.draw(&mut rng)).collect()))
    }

    /// The evaluation masks of `x`: each ROI's from a stream seeded by a hash of its pixels.
    pub fn eval_masks(&self, x: &Tensor) -> Result<Masks> {
        let rows = x.flatten_from(1)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let masks = rows
            .iter()
            .map(|row| {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for v in row {
                    h = (h ^ v.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
                }
                self.draw(&mut seeded(h, "mae-eval-mask"))
            })
            .collect();
        Ok(Masks(masks))
    }

    /// A fixed partition of the patches into disjoint groups of at most `masked_per_roi` patches
    /// (4 groups of 12 or 13 for the paper's 49 and 15), each sorted.
    pub fn context_groups(&self) -> Vec<Vec<usize>> {
        use rand::seq::SliceRandom;
        let k = self.n.div_ceil(self.n_masked);
        let mut order: Vec<usize> = (0..self.n).collect();
        order.shuffle(&mut seeded(0, "mae-context-groups"));
        let mut groups: Vec<Vec<usize>> = (0..k)
            .map(|g| order.iter().skip(g).step_by(k).copied().collect())
            .collect();
        for g in &mut groups {
            g.sort_unstable();
        }
        groups
    }

    fn plan(&self, masks: &Masks, device: &Device) -> Result<MaskPlan> {
        let b = masks.0.len();
        let n_masked = masks.0.first().map_or(0, Vec::len);
        if masks.0.iter().any(|m| m.len() != n_masked) {
            candle_core::bail!("every ROI of a batch must have the same number of masked patches");
        }
        let visible = self.n - n_masked;
        let (mut keep, mut fill, mut weight) = (Vec::new(), Vec::new(), Vec::new());
        for (i, m) in masks.0.iter().enumerate() {
            let mut is_masked = vec![false; self.n];
            for &j in m {
                if j >= self.n || is_masked[j] {
                    candle_core::bail!("bad mask {m:?}");
                }
                is_masked[j] = true;
            }
            for (j, &masked) in is_masked.iter().enumerate() {
                weight.push(if masked { 1f32 } else { 0.0 });
                if masked {
                    fill.push((b * visible) as u32);
                } else {
                    fill.push(keep.len() as u32);
                    keep.push((i * self.n + j) as u32);
                }
            }
        }
        Ok(MaskPlan {
            visible,
            keep: Tensor::from_vec(keep, b * visible, device)?,
            fill: Tensor::from_vec(fill, b * self.n, device)?,
            weight: Tensor::from_vec(weight, (b, self.n, 1), device)?,
        })
    }

    /// The encoder on the visible patches: `xp [B, N, pp]` in [-1, 1] -> latents
    /// `[B * visible, latent_dim]`.
    fn encode_tokens(&self, xp: &Tensor, keep: &Tensor, visible: usize) -> Result<Tensor> {
        let (b, n, pp) = xp.dims3()?;
        let tok = self.embed.forward(&xp.reshape((b * n, pp))?)?;
        let tok = tok
            .reshape((b, n, ()))?
            .broadcast_add(self.pos.as_tensor())?
            .reshape((b * n, ()))?;
        let mut h = tok.index_select(keep, 0)?;
        for blk in &self.blocks {
            h = blk.forward(&h, b, visible)?;
        }
        self.to_latent.forward(&self.norm.forward(&h)?)
    }

    /// The decoder: latents of the visible tokens `[B * visible, latent_dim]`, placed at their
    /// positions by `fill` (mask tokens elsewhere; `None` when all are visible) -> predicted
    /// patches `[B, N, pp]` in [-1, 1] space (unbounded).
    fn decode_tokens(&self, lat: &Tensor, b: usize, fill: Option<&Tensor>) -> Result<Tensor> {
        let h = self.from_latent.forward(lat)?;
        let h = match fill {
            Some(fill) => {
                Tensor::cat(&[&h, self.mask_token.as_tensor()], 0)?.index_select(fill, 0)?
            }
            None => h,
        };
        let mut h = h
            .reshape((b, self.n, ()))?
            .broadcast_add(self.dec_pos.as_tensor())?
            .reshape((b * self.n, ()))?;
        for blk in &self.dec_blocks {
            h = blk.forward(&h, b, self.n)?;
        }
        let pred = self.head.forward(&self.dec_norm.forward(&h)?)?;
        pred.reshape((b, self.n, ()))
    }

    /// Predictions of every patch `[B, N, pp]` (in [-1, 1] space) with `masks` hidden from the
    /// encoder, the input patches in [-1, 1], and the `[B, N, 1]` indicator of masked patches.
    pub fn predict(&self, x: &Tensor, masks: &Masks) -> Result<(Tensor, Tensor, Tensor)> {
        if masks.0.len() != x.dim(0)? {
            candle_core::bail!("{} masks for {} ROIs", masks.0.len(), x.dim(0)?);
        }
        let xp = self.patchify(&x.affine(2.0, -1.0)?)?;
        let plan = self.plan(masks, x.device())?;
        let lat = self.encode_tokens(&xp, &plan.keep, plan.visible)?;
        let pred = self.decode_tokens(&lat, xp.dim(0)?, Some(&plan.fill))?;
        Ok((pred, xp, plan.weight))
    }

    /// Patches in [-1, 1] space back to images in [0, 1], clamped.
    fn to_image(&self, patches: &Tensor) -> Result<Tensor> {
        self.unpatchify(&patches.affine(0.5, 0.5)?.clamp(0f32, 1f32)?)
    }

    /// The paper's reconstruction with `masks`: input pixels at the visible patches, predictions at
    /// the masked ones; and the loss (MSE over the masked patches' pixels in [-1, 1]).
    pub fn forward_masked(&self, x: &Tensor, masks: &Masks) -> Result<Output> {
        let (pred, xp, w) = self.predict(x, masks)?;
        let (b, _, pp) = pred.dims3()?;
        let n_masked = masks.0.first().map_or(0, Vec::len);
        let sq = (&pred - &xp)?.sqr()?.broadcast_mul(&w)?;
        let loss = (sq.sum_all()? / (b * n_masked.max(1) * pp) as f64)?;
        let predicted = pred.affine(0.5, 0.5)?.clamp(0f32, 1f32)?;
        let given = self.patchify(x)?;
        let mixed = (predicted.broadcast_mul(&w)? + given.broadcast_mul(&(w.neg()? + 1.0)?)?)?;
        let recon = self.unpatchify(&mixed)?;
        let recon_loss = mse(&recon, x)?.detach();
        Ok(Output {
            recon,
            loss: loss.clone(),
            terms: vec![("recon", recon_loss), ("masked", loss.detach())],
            codes: None,
        })
    }

    /// Every patch predicted from context, nothing copied: for each of the
    /// [`Mae::context_groups`], the model runs with that group masked and keeps its predictions
    /// there. `[B, 1, 28, 28]` in [0, 1].
    pub fn reconstruct_from_context(&self, x: &Tensor) -> Result<Tensor> {
        let b = x.dim(0)?;
        let mut acc: Option<Tensor> = None;
        for group in self.context_groups() {
            let masks = Masks(vec![group; b]);
            let (pred, _, w) = self.predict(x, &masks)?;
            // Detached: each group's op graph (every activation of its forward) is freed before
            // the next group runs, instead of all four staying alive until the sum is dropped.
            let part = pred.broadcast_mul(&w)?.detach();
            acc = Some(match acc {
                Some(a) => (a + part)?,
                None => part,
            });
        }
        match acc {
            Some(a) => self.to_image(&a),
            None => candle_core::bail!("no patches"),
        }
    }
}

impl Autoencoder for Mae {
    fn name(&self) -> &'static str {
        "mae"
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        let masks = if train {
            self.train_masks(x.dim(0)?)?
        } else {
            self.eval_masks(x)?
        };
        // Without training, nothing will take gradients: the CPU path without an op graph.
        if !train && step::applies(self, x) {
            return step::forward(self, x, &masks);
        }
        self.forward_masked(x, &masks)
    }

    /// On the CPU the hand-written step (`mae/step.rs`), with masks from the same stream.
    fn forward_backward(&self, x: &Tensor) -> Result<(Output, GradStore)> {
        if step::applies(self, x) {
            let masks = self.train_masks(x.dim(0)?)?;
            return step::forward_backward(self, x, &masks);
        }
        let out = self.forward(x, true)?;
        let grads = out.loss.backward()?;
        Ok((out, grads))
    }

    /// The per-patch latents with nothing masked, `[B, latent_dim, 7, 7]`.
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        // A few ROIs at a time, each part detached: the op graph of a forward pass (every
        // activation of the 6 blocks, about 10 MB a ROI) is freed before the next part runs.
        const PART: usize = 4;
        let b = x.dim(0)?;
        if b > PART {
            return crate::eval::batched(x, PART, |p| self.encode(p));
        }
        let xp = self.patchify(&x.affine(2.0, -1.0)?)?;
        let keep = Tensor::arange(0u32, (b * self.n) as u32, x.device())?;
        let lat = self.encode_tokens(&xp, &keep, self.n)?;
        let g = self.grid;
        lat.reshape((b, g, g, ()))?
            .permute((0, 3, 1, 2))?
            .contiguous()
    }

    /// Images from a `[B, latent_dim, 7, 7]` latent map, every patch visible to the decoder.
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let (b, d, _, _) = z.dims4()?;
        let lat = z
            .permute((0, 2, 3, 1))?
            .contiguous()?
            .reshape((b * self.n, d))?;
        self.to_image(&self.decode_tokens(&lat, b, None)?)
    }

    fn latent_summary(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)?.mean((2, 3))
    }

    fn recon_no_copy(&self, x: &Tensor) -> Result<Option<Tensor>> {
        self.reconstruct_from_context(x).map(Some)
    }

    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil;

    /// A smaller MAE for the tests that train or check gradients (same code paths).
    fn small(seed: u64) -> Mae {
        let cfg = MaeConfig {
            width: 32,
            depth: 2,
            decoder_width: 16,
            decoder_depth: 1,
            ..MaeConfig::default()
        };
        Mae::new(cfg, seed, &Device::Cpu).unwrap()
    }

    fn paper(seed: u64) -> Mae {
        Mae::new(MaeConfig::default(), seed, &Device::Cpu).unwrap()
    }

    #[test]
    fn shapes_and_range() {
        let m = paper(1);
        let x = testutil::batch(3);
        let z = m.encode(&x).unwrap();
        assert_eq!(z.dims(), &[3, 32, 7, 7]);
        assert_eq!(m.decode(&z).unwrap().dims(), &[3, 1, 28, 28]);
        let r = m.recon_no_copy(&x).unwrap().expect("the MAE has one");
        assert_eq!(r.dims(), &[3, 1, 28, 28]);
        testutil::check_shapes(&m);
    }

    #[test]
    fn patchify_round_trips_and_cuts_4x4_patches() {
        let m = small(0);
        let x = testutil::batch(2);
        let p = m.patchify(&x).unwrap();
        assert_eq!(p.dims(), &[2, 49, 16]);
        // Patch 8 is row 1, column 1 of the 7x7 grid: pixels (4..8, 4..8).
        let img = x.get(1).unwrap().get(0).unwrap().to_vec2::<f32>().unwrap();
        let want: Vec<f32> = (4..8).flat_map(|r| img[r][4..8].to_vec()).collect();
        assert_eq!(
            p.get(1).unwrap().get(8).unwrap().to_vec1::<f32>().unwrap(),
            want
        );
        assert_eq!(
            testutil::values(&m.unpatchify(&p).unwrap()),
            testutil::values(&x)
        );
    }

    #[test]
    fn every_trainable_variable_gets_a_gradient() {
        testutil::check_gradients(&paper(3));
    }

    #[test]
    fn same_seed_gives_identical_outputs() {
        testutil::check_seeded(&small(5), &small(5), &small(6));
    }

    #[test]
    fn loss_decreases_with_adam() {
        testutil::check_training(&small(7), 1e-3);
    }

    #[test]
    fn masks_hide_15_of_49_patches_reproducibly() {
        let (a, b) = (small(11), small(11));
        let ma = a.train_masks(6).unwrap();
        assert_eq!(ma, b.train_masks(6).unwrap());
        assert_ne!(ma, small(12).train_masks(6).unwrap());
        // The next draw continues the stream: new masks.
        assert_ne!(ma, a.train_masks(6).unwrap());
        for m in &ma.0 {
            assert_eq!(m.len(), 15);
            assert!(m.windows(2).all(|w| w[0] < w[1]) && m[14] < 49);
        }
        assert_ne!(ma.0[0], ma.0[1]);
        // Evaluation masks depend on the ROI only: not on the batch, the model's seed or history.
        let x = testutil::batch(3);
        let e = a.eval_masks(&x).unwrap();
        assert_eq!(e, small(99).eval_masks(&x).unwrap());
        assert_eq!(
            e.0[2],
            a.eval_masks(&x.narrow(0, 2, 1).unwrap()).unwrap().0[0]
        );
        assert!(e.0.iter().all(|m| m.len() == 15));
        assert_ne!(e.0[0], e.0[1]);
    }

    #[test]
    fn paper_reconstruction_copies_exactly_the_visible_patches() {
        let m = small(2);
        let x = testutil::batch(2);
        let masks = m.eval_masks(&x).unwrap();
        let out = m.forward(&x, false).unwrap();
        let (r, xp) = (m.patchify(&out.recon).unwrap(), m.patchify(&x).unwrap());
        for i in 0..2 {
            for j in 0..49 {
                let a = r.get(i).unwrap().get(j).unwrap().to_vec1::<f32>().unwrap();
                let b = xp.get(i).unwrap().get(j).unwrap().to_vec1::<f32>().unwrap();
                assert_eq!(a == b, !masks.0[i].contains(&j), "ROI {i}, patch {j}");
            }
        }
        // Deterministic at evaluation.
        let again = m.forward(&x, false).unwrap();
        assert_eq!(testutil::values(&out.recon), testutil::values(&again.recon));
    }

    #[test]
    fn context_groups_cover_every_patch_once() {
        let m = paper(0);
        let groups = m.context_groups();
        assert_eq!(groups.len(), 4);
        let mut seen = vec![0; 49];
        for g in &groups {
            assert!((12..=15).contains(&g.len()), "{g:?}");
            for &j in g {
                seen[j] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
    }

    #[test]
    fn reconstruction_from_context_copies_nothing() {
        let m = small(4);
        // A decoder head that ignores its input and predicts 0.2 (in [-1, 1]) everywhere.
        let head_w = m.head.weight.zeros_like().unwrap();
        m.head.weight.set(&head_w).unwrap();
        m.head
            .bias
            .set(&(m.head.bias.ones_like().unwrap() * 0.2).unwrap())
            .unwrap();
        let x = testutil::batch(2);
        let r = testutil::values(&m.reconstruct_from_context(&x).unwrap());
        assert!(
            r.iter().all(|&v| (v - 0.6).abs() < 1e-6),
            "every pixel is predicted"
        );
        let xs = testutil::values(&x);
        assert!(xs.iter().any(|&v| (v - 0.6).abs() > 0.1));
        // The paper's way copies the visible 34 patches of the same input.
        let copied = testutil::values(&m.forward(&x, false).unwrap().recon);
        let same = copied.iter().zip(&xs).filter(|(a, b)| a == b).count();
        assert!(same >= 2 * 34 * 16, "{same}");
    }

    #[test]
    fn reconstruction_from_context_uses_each_groups_own_prediction() {
        let m = small(8);
        let x = testutil::batch(2);
        let r = m
            .patchify(&m.reconstruct_from_context(&x).unwrap())
            .unwrap();
        for g in m.context_groups() {
            let masks = Masks(vec![g.clone(); 2]);
            let (pred, _, _) = m.predict(&x, &masks).unwrap();
            let pred = pred.affine(0.5, 0.5).unwrap().clamp(0f32, 1f32).unwrap();
            for &j in &g {
                for i in 0..2 {
                    let a = testutil::values(&r.get(i).unwrap().get(j).unwrap());
                    let b = testutil::values(&pred.get(i).unwrap().get(j).unwrap());
                    let d = testutil::max_abs_diff(&a, &b);
                    assert!(d < 1e-6, "patch {j}: {d}");
                }
            }
        }
    }

    #[test]
    fn loss_counts_only_the_masked_patches() {
        let m = small(6);
        let x = testutil::batch(2);
        let masks = m.eval_masks(&x).unwrap();
        let (pred, xp, _) = m.predict(&x, &masks).unwrap();
        let (p, t) = (pred.to_vec3::<f32>().unwrap(), xp.to_vec3::<f32>().unwrap());
        let mut sum = 0f64;
        for (i, mi) in masks.0.iter().enumerate() {
            for &j in mi {
                for k in 0..16 {
                    sum += ((p[i][j][k] - t[i][j][k]) as f64).powi(2);
                }
            }
        }
        let want = sum / (2.0 * 15.0 * 16.0);
        let got = m
            .forward_masked(&x, &masks)
            .unwrap()
            .loss
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            (got as f64 - want).abs() < 1e-5 * want.max(1.0),
            "{got} vs {want}"
        );
    }

    #[test]
    fn latent_summary_is_the_mean_of_the_latent_map_and_decode_inverts_shape() {
        let m = small(10);
        let x = testutil::batch(2);
        let z = m.encode(&x).unwrap();
        let mean = z.mean((2, 3)).unwrap();
        assert_eq!(
            testutil::values(&m.latent_summary(&x).unwrap()),
            testutil::values(&mean)
        );
        let y = testutil::values(&m.decode(&z).unwrap());
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn encoding_many_rois_in_parts_gives_each_roi_its_own_encoding() {
        let m = small(12);
        let x = testutil::batch(9);
        let all = testutil::values(&m.encode(&x).unwrap());
        let each: Vec<f32> = (0..9)
            .flat_map(|i| testutil::values(&m.encode(&x.narrow(0, i, 1).unwrap()).unwrap()))
            .collect();
        let worst = testutil::max_abs_diff(&all, &each);
        assert!(worst < 1e-5, "{worst}");
        // Nothing of the parts' graphs is kept: the result is a leaf.
        assert!(!m.encode(&x).unwrap().track_op());
    }

    #[test]
    fn bad_configs_are_errors() {
        let bad = |c: MaeConfig| Mae::new(c, 0, &Device::Cpu).is_err();
        assert!(bad(MaeConfig {
            patch: 5,
            ..Default::default()
        }));
        assert!(bad(MaeConfig {
            heads: 3,
            ..Default::default()
        }));
        assert!(bad(MaeConfig {
            mask_ratio: 0.0,
            ..Default::default()
        }));
        assert!(bad(MaeConfig {
            mask_ratio: 1.0,
            ..Default::default()
        }));
    }
}

// Timing, not tests: built only with `--features timing` (see docs/PERFORMANCE.md).
#[cfg(all(test, feature = "timing"))]
mod timing {
    use super::*;
    use crate::model::testutil;
    use std::time::Instant;

    #[test]
    #[ignore = "timing, not a test"]
    fn train_step_batch_64() {
        let m = Mae::new(MaeConfig::default(), 0, &Device::Cpu).unwrap();
        let x = Tensor::cat(&vec![testutil::batch(8); 8], 0).unwrap();
        let mut best = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..6 {
            let t = Instant::now();
            let out = m.forward(&x, true).unwrap();
            let f = t.elapsed().as_secs_f64();
            let _g = out.loss.backward().unwrap();
            let tot = t.elapsed().as_secs_f64();
            // The hand-written step (`mae/step.rs`), what training runs on the CPU.
            let t = Instant::now();
            let _ = m.forward_backward(&x).unwrap();
            let hand = t.elapsed().as_secs_f64();
            best = (best.0.min(f), best.1.min(tot), best.2.min(hand));
        }
        eprintln!(
            "MAE batch 64: candle forward {:.3}s, forward+backward {:.3}s; hand-written step \
             {:.3}s, {:.0} GFLOP/s at 1.1 GFLOP per ROI (best of 6)",
            best.0,
            best.1,
            best.2,
            64.0 * 1.1 / best.2
        );
    }
}

//! The paper's VAE with normalising flows (VAE+NF) baseline: the VAE of [`super::vae`] with a stack
//! of K planar flows (Rezende and Mohamed, 2015) on the sampled latent z0:
//!
//! f(z) = z + u_hat * tanh(w . z + b),   log|det df/dz| = log|1 + u_hat . psi(z)|,
//! psi(z) = (1 - tanh^2(w . z + b)) w,   u_hat = u + (m(w . u) - w . u) w / ||w||^2,
//! m(a) = -1 + softplus(a), so that w . u_hat >= -1 and every flow is invertible.
//!
//! Loss = MSE + beta * [log q0(z0) - sum_k log|det_k| - log p(zK)] / 784, with q0 = N(mu, exp(logvar)),
//! p = N(0, I), the bracket a one-sample estimate per ROI averaged over the batch, and the same
//! per-pixel scaling as the VAE (the 2 pi constants cancel and are left out). The `kl` term reported
//! is the bracket in nats, before weighting. At evaluation z0 = mu (eps = 0).
//!
//! `encode` returns zK = f_K(...f_1(mu)) and `decode` takes such a `[B, D]` vector, so
//! decode(encode(x)) is the evaluation reconstruction; the SVM's vector is mu, the encoder's output
//! before the flows. Training clips gradients at global norm 5.0 ([`Autoencoder::grad_clip`]).

use std::sync::Mutex;

use candle_core::{backprop::GradStore, Device, Result, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::layers::mse;
use super::vae::{standard_normal, step, GaussianCoder, PIXELS};
use super::{Autoencoder, Output, Params};
use crate::rng::{seeded, Rng};

/// The paper's gradient clipping (global norm) for the VAE+NF.
pub const GRAD_CLIP: f64 = 5.0;

/// Hyperparameters of the VAE+NF (paper defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaeNfConfig {
    /// Channels of the hidden convolution.
    pub hidden: usize,
    /// Channels of the 7x7 feature map before and after the linear layers.
    pub channels: usize,
    /// Dimension of the Gaussian latent (and of the SVM's vector).
    pub latent_dim: usize,
    /// Number of planar flows.
    pub flows: usize,
    /// Weight of the KL-style term.
    pub beta: f64,
}

impl Default for VaeNfConfig {
    fn default() -> Self {
        VaeNfConfig {
            hidden: 64,
            channels: 32,
            latent_dim: 32,
            flows: 8,
            beta: 0.01,
        }
    }
}

/// One planar flow; `u`, `w` `[D]`, `b` `[1]`.
pub struct Planar {
    pub u: Var,
    pub w: Var,
    pub b: Var,
}

/// softplus(a) = log(1 + exp(a)), computed stably as relu(a) + log(1 + exp(-|a|)).
fn softplus(a: &Tensor) -> Result<Tensor> {
    a.relu()? + (a.abs()?.neg()?.exp()? + 1.0)?.log()?
}

impl Planar {
    fn new(p: &mut Params, name: &str, d: usize, rng: &mut Rng, device: &Device) -> Result<Planar> {
        let bound = 1.0 / (d as f64).sqrt();
        Ok(Planar {
            u: p.uniform(&format!("{name}.u"), &[d], bound, rng, device)?,
            w: p.uniform(&format!("{name}.w"), &[d], bound, rng, device)?,
            b: p.uniform(&format!("{name}.b"), &[1], bound, rng, device)?,
        })
    }

    /// u_hat, the u that makes the flow invertible (w . u_hat >= -1).
    pub fn u_hat(&self) -> Result<Tensor> {
        let (u, w) = (self.u.as_tensor(), self.w.as_tensor());
        let wu = (w * u)?.sum_all()?;
        let m = (softplus(&wu)? - 1.0)?;
        let scale = ((m - &wu)? / (w.sqr()?.sum_all()? + 1e-12)?)?;
        u + w.broadcast_mul(&scale)?
    }

    /// f(z) for `z` `[B, D]`, and log|det df/dz| `[B]`.
    pub fn forward(&self, z: &Tensor) -> Result<(Tensor, Tensor)> {
        let w = self.w.as_tensor();
        let u_hat = self.u_hat()?;
        let lin = z
            .matmul(&w.unsqueeze(1)?)?
            .broadcast_add(self.b.as_tensor())?; // [B, 1]
        let h = lin.tanh()?;
        let z_new = (z + h.broadcast_mul(&u_hat.unsqueeze(0)?)?)?;
        let wu_hat = (w * &u_hat)?.sum_all()?;
        let dh = h.sqr()?.affine(-1.0, 1.0)?; // 1 - tanh^2
        let det = (dh.broadcast_mul(&wu_hat)? + 1.0)?;
        let logdet = (det.abs()? + 1e-8)?.log()?.squeeze(1)?;
        Ok((z_new, logdet))
    }
}

pub struct VaeNf {
    cfg: VaeNfConfig,
    params: Params,
    coder: GaussianCoder,
    flows: Vec<Planar>,
    noise: Mutex<Rng>,
}

impl VaeNf {
    pub fn new(cfg: VaeNfConfig, seed: u64, device: &Device) -> Result<VaeNf> {
        let mut rng = seeded(seed, "init-vaenf");
        let mut p = Params::new();
        let coder = GaussianCoder::new(
            &mut p,
            cfg.hidden,
            cfg.channels,
            cfg.latent_dim,
            &mut rng,
            device,
        )?;
        let flows = (0..cfg.flows)
            .map(|k| {
                Planar::new(
                    &mut p,
                    &format!("flow{k}"),
                    cfg.latent_dim,
                    &mut rng,
                    device,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(VaeNf {
            cfg,
            params: p,
            coder,
            flows,
            noise: Mutex::new(seeded(seed, "noise-vaenf")),
        })
    }

    pub fn config(&self) -> &VaeNfConfig {
        &self.cfg
    }

    pub fn flows(&self) -> &[Planar] {
        &self.flows
    }

    /// [`Autoencoder::forward`] by candle's ops (with an op graph when `train`).
    pub(crate) fn candle_forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        let (mu, logvar) = self.coder.stats(x)?;
        let eps = if train {
            standard_normal(&self.noise, mu.dims2()?, mu.device())?
        } else {
            mu.zeros_like()?
        };
        let z0 = (&mu + ((&logvar * 0.5)?.exp()? * &eps)?)?;
        let (zk, logdet) = self.apply_flows(&z0)?;
        let recon = self.coder.decode(&zk)?;
        let recon_loss = mse(&recon, x)?;
        // log q0(z0) - sum log|det| - log p(zK), per ROI (2 pi constants cancel).
        let log_q0 = ((&logvar + eps.sqr()?)?.sum(1)? * -0.5)?;
        let log_p = (zk.sqr()?.sum(1)? * -0.5)?;
        let kl = ((log_q0 - logdet)? - log_p)?.mean(0)?;
        let loss = (&recon_loss + (&kl * (self.cfg.beta / PIXELS))?)?;
        Ok(Output {
            recon,
            loss,
            terms: vec![("recon", recon_loss), ("kl", kl)],
            codes: None,
        })
    }

    /// zK and the sum of the flows' log-determinants `[B]`.
    pub fn apply_flows(&self, z0: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut z = z0.clone();
        let mut sum = Tensor::zeros(z0.dim(0)?, z0.dtype(), z0.device())?;
        for f in &self.flows {
            let (zn, ld) = f.forward(&z)?;
            z = zn;
            sum = (sum + ld)?;
        }
        Ok((z, sum))
    }
}

impl Autoencoder for VaeNf {
    fn name(&self) -> &'static str {
        "vaenf"
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Output> {
        // Without training, nothing will take gradients: the CPU path without an op graph.
        if !train && step::applies(&self.params, x) {
            let flows = Some(self.flows.as_slice());
            return step::forward(&self.coder, flows, self.cfg.beta, x);
        }
        self.candle_forward(x, train)
    }

    fn forward_backward(&self, x: &Tensor) -> Result<(Output, GradStore)> {
        if step::applies(&self.params, x) {
            let flows = Some(self.flows.as_slice());
            return step::forward_backward(&self.coder, flows, self.cfg.beta, &self.noise, x);
        }
        let out = self.forward(x, true)?;
        let grads = out.loss.backward()?;
        Ok((out, grads))
    }

    /// zK, the flows applied to the posterior mean, `[B, D]`.
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let (mu, _) = self.coder.stats(x)?;
        Ok(self.apply_flows(&mu)?.0)
    }

    /// Images from flowed latent vectors `[B, D]`.
    fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.coder.decode(z)
    }

    /// The posterior mean mu (before the flows), `[B, D]`.
    fn latent_summary(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.coder.stats(x)?.0)
    }

    fn latent_dim(&self) -> usize {
        self.cfg.latent_dim
    }

    fn grad_clip(&self) -> Option<f64> {
        Some(GRAD_CLIP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil;

    fn model(seed: u64) -> VaeNf {
        VaeNf::new(VaeNfConfig::default(), seed, &Device::Cpu).unwrap()
    }

    #[test]
    fn shapes_and_range() {
        let m = model(1);
        let x = testutil::batch(3);
        let z = m.encode(&x).unwrap();
        assert_eq!(z.dims(), &[3, 32]);
        assert_eq!(m.decode(&z).unwrap().dims(), &[3, 1, 28, 28]);
        assert_eq!(m.flows().len(), 8);
        assert_eq!(m.grad_clip(), Some(5.0));
        testutil::check_shapes(&m);
        // At evaluation the decoder sees the flowed mean (on the CPU the hand-written forward
        // pass: equal to candle's up to rounding).
        let a = testutil::values(&m.forward(&x, false).unwrap().recon);
        let d = testutil::values(&m.decode(&z).unwrap());
        assert_eq!(a.len(), d.len());
        let diff = a
            .iter()
            .zip(&d)
            .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(diff <= 1e-5, "{diff}");
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
    fn u_hat_keeps_flows_invertible_and_logdet_matches_finite_differences() {
        let dev = Device::Cpu;
        let mut p = Params::new();
        let mut rng = seeded(0, "t");
        let f = Planar::new(&mut p, "f", 3, &mut rng, &dev).unwrap();
        // Force w . u strongly negative; u_hat must bring w . u_hat back to >= -1.
        f.w.set(&Tensor::new(&[1f32, 2., -1.], &dev).unwrap())
            .unwrap();
        f.u.set(&Tensor::new(&[-3f32, -2., 1.], &dev).unwrap())
            .unwrap();
        let wu_hat = (f.w.as_tensor() * f.u_hat().unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(wu_hat >= -1.0 - 1e-6, "{wu_hat}");
        // log|det J| against the Jacobian by central differences.
        let z = [0.3f32, -0.2, 0.5];
        let zt = Tensor::new(&[z], &dev).unwrap();
        let ld = f.forward(&zt).unwrap().1.to_vec1::<f32>().unwrap()[0];
        let h = 1e-3f32;
        let cols: Vec<Vec<f32>> = (0..3)
            .map(|j| {
                let (mut a, mut b) = (z, z);
                a[j] += h;
                b[j] -= h;
                let fa = f.forward(&Tensor::new(&[a], &dev).unwrap()).unwrap().0;
                let fb = f.forward(&Tensor::new(&[b], &dev).unwrap()).unwrap().0;
                let (fa, fb) = (fa.to_vec2::<f32>().unwrap(), fb.to_vec2::<f32>().unwrap());
                fa[0]
                    .iter()
                    .zip(&fb[0])
                    .map(|(p, q)| (p - q) / (2.0 * h))
                    .collect()
            })
            .collect();
        // det of the matrix with columns c0, c1, c2 = c0 . (c1 x c2).
        let (c0, c1, c2) = (&cols[0], &cols[1], &cols[2]);
        let det = c0[0] * (c1[1] * c2[2] - c1[2] * c2[1]) - c0[1] * (c1[0] * c2[2] - c1[2] * c2[0])
            + c0[2] * (c1[0] * c2[1] - c1[1] * c2[0]);
        assert!(
            (det.abs().ln() - ld).abs() < 1e-2,
            "{} vs {ld}",
            det.abs().ln()
        );
    }

    #[test]
    fn loss_decreases_with_adam() {
        testutil::check_training(&model(7), 1e-3);
    }
}

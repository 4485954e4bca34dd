//! Adam (AdamW with weight decay 0, as the paper's PyTorch Adam). Our own rather than candle-nn's so
//! that its moments go into checkpoints and `--resume` continues exactly where a run stopped.

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::{backprop::GradStore, Result, Tensor, Var};

use crate::model::ops::par;

pub struct Adam {
    vars: Vec<(String, Var)>,
    /// First and second moments, one flat f32 buffer per variable (in the variable's layout).
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Number of steps taken.
    pub step: u64,
}

/// The flat f32 values of a tensor.
fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1()
}

impl Adam {
    pub fn new(vars: Vec<(String, Var)>, lr: f64) -> Result<Adam> {
        let m: Vec<Vec<f32>> = vars
            .iter()
            .map(|(_, v)| vec![0f32; v.elem_count()])
            .collect();
        let v = m.clone();
        Ok(Adam {
            vars,
            m,
            v,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
        })
    }

    /// One update from the gradients of a loss. Variables without a gradient are left alone.
    /// The update runs on plain f32 buffers (one pass per variable, no candle op graph).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = (1.0 - self.beta1.powi(t)) as f32;
        let bc2 = (1.0 - self.beta2.powi(t)) as f32;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let (lr, eps) = (self.lr as f32, self.eps as f32);
        // On the CPU, one task a variable on candle's pool: each reads only its own gradient and
        // moments, so the result does not depend on the threads.
        let moments: Vec<Mutex<(&mut Vec<f32>, &mut Vec<f32>)>> = self
            .m
            .iter_mut()
            .zip(self.v.iter_mut())
            .map(Mutex::new)
            .collect();
        let vars = &self.vars;
        let update = |i: usize| -> Result<()> {
            let (name, var) = &vars[i];
            let Some(g) = grads.get(var.as_tensor()) else {
                return Ok(());
            };
            if g.dims() != var.dims() {
                candle_core::bail!("gradient of {name} has shape {:?}", g.dims());
            }
            let g = flat(g)?;
            let mut p = flat(var.as_tensor())?;
            let mut guard = moments[i].lock().unwrap_or_else(|e| e.into_inner());
            let (m, v) = &mut *guard;
            for (((p, g), m), v) in p.iter_mut().zip(&g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = *m * b1 + *g * (1.0 - b1);
                *v = *v * b2 + (*g * *g) * (1.0 - b2);
                let (m_hat, v_hat) = (*m / bc1, *v / bc2);
                *p -= lr * (m_hat / (v_hat.sqrt() + eps));
            }
            let p = Tensor::from_vec(p, var.shape(), var.device())?.to_dtype(var.dtype())?;
            var.set(&p)
        };
        // (Other devices' tensors stay on the calling thread.)
        let done: Vec<Result<()>> = if vars.iter().all(|(_, v)| v.device().is_cpu()) {
            par::map_parts(vars.len(), update)
        } else {
            (0..vars.len()).map(update).collect()
        };
        drop(moments);
        done.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    /// The moments by name, for a checkpoint.
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (key, buf) in [("m", &self.m[i]), ("v", &self.v[i])] {
                if let Ok(t) = Tensor::from_slice(buf, var.shape(), var.device()) {
                    out.insert(format!("adam.{key}.{name}"), t);
                }
            }
        }
        out
    }

    /// Restores moments and step count from a checkpoint.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: u64) -> Result<()> {
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (key, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let t = tensors.get(&format!("adam.{key}.{name}")).ok_or_else(|| {
                    candle_core::Error::Msg(format!("checkpoint has no optimizer state for {name}"))
                })?;
                if t.dims() != var.dims() {
                    candle_core::bail!("optimizer state for {name} has the wrong shape");
                }
                *slot = flat(t)?;
            }
        }
        self.step = step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_the_adam_update_by_hand() {
        let dev = Device::Cpu;
        let w = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &dev).unwrap()).unwrap();
        let mut opt = Adam::new(vec![("w".into(), w.clone())], 0.1).unwrap();
        // loss = sum(w^2) -> grad = 2w. First Adam step moves each weight by lr * sign(grad).
        let loss = w.as_tensor().sqr().unwrap().sum_all().unwrap();
        opt.step(&loss.backward().unwrap()).unwrap();
        let after = w.as_tensor().to_vec1::<f32>().unwrap();
        assert!((after[0] - 0.9).abs() < 1e-5, "{after:?}");
        assert!((after[1] + 1.9).abs() < 1e-5, "{after:?}");
        assert_eq!(opt.step, 1);
    }

    #[test]
    fn state_round_trips_and_continues_exactly() {
        let dev = Device::Cpu;
        let start = Tensor::new(&[[0.5f32, -1.5], [2.0, 0.25]], &dev).unwrap();
        let run = |steps: usize, resume_at: Option<usize>| {
            let w = Var::from_tensor(&start).unwrap();
            let mut opt = Adam::new(vec![("w".into(), w.clone())], 0.05).unwrap();
            for s in 0..steps {
                if resume_at == Some(s) {
                    // A fresh optimizer from the saved state, as `--resume` does.
                    let saved = opt.state();
                    let mut fresh = Adam::new(vec![("w".into(), w.clone())], 0.05).unwrap();
                    fresh.load_state(&saved, opt.step).unwrap();
                    opt = fresh;
                }
                let loss = (w.as_tensor().sqr().unwrap() * w.as_tensor().sin().unwrap())
                    .unwrap()
                    .sum_all()
                    .unwrap();
                opt.step(&loss.backward().unwrap()).unwrap();
            }
            w.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let straight = run(6, None);
        assert_eq!(run(6, Some(3)), straight);
        assert_ne!(run(3, None), straight);
    }
}

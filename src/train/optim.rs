//! Adam (AdamW with weight decay 0, as the paper's PyTorch Adam). Our own rather than candle-nn's so
//! that its moments go into checkpoints and `--resume` continues exactly where a run stopped.

use std::collections::HashMap;

use candle_core::{backprop::GradStore, Result, Tensor, Var};

pub struct Adam {
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Number of steps taken.
    pub step: u64,
}

impl Adam {
    pub fn new(vars: Vec<(String, Var)>, lr: f64) -> Result<Adam> {
        let m = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<Result<Vec<_>>>()?;
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
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Gradients carry the op graph that made them: detach, or every step's graph stays
            // reachable from the moments and memory grows without bound.
            let g = g.detach();
            let m = ((&self.m[i] * self.beta1)? + (&g * (1.0 - self.beta1))?)?.detach();
            let v = ((&self.v[i] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?.detach();
            let m_hat = (&m / bc1)?;
            let v_hat = (&v / bc2)?;
            let update = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            var.set(&(var.as_tensor().detach() - (update * self.lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }

    /// The moments by name, for a checkpoint.
    pub fn state(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("adam.m.{name}"), self.m[i].clone());
            out.insert(format!("adam.v.{name}"), self.v[i].clone());
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
                *slot = t.to_device(var.device())?;
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
}

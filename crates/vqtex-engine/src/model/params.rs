//! An ordered store of trainable variables: deterministic initialisation from our own seeded RNG
//! (candle's CPU RNG cannot be seeded) and safetensors save/load.

use std::collections::HashMap;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand_distr::{Distribution, Uniform};

use crate::rng::Rng;

/// Named trainable variables in creation order.
#[derive(Clone, Default)]
pub struct Params {
    vars: Vec<(String, Var)>,
}

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    /// A new variable drawn uniformly from [-bound, bound].
    pub fn uniform(
        &mut self,
        name: &str,
        shape: &[usize],
        bound: f64,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Var> {
        let n: usize = shape.iter().product();
        let dist = Uniform::new_inclusive(-bound as f32, bound as f32)
            .map_err(|e| candle_core::Error::Msg(format!("bad init bound for {name}: {e}")))?;
        let data: Vec<f32> = (0..n).map(|_| dist.sample(rng)).collect();
        self.insert(name, Tensor::from_vec(data, shape, device)?)
    }

    /// A new variable filled with a constant.
    pub fn constant(
        &mut self,
        name: &str,
        shape: &[usize],
        value: f32,
        device: &Device,
    ) -> Result<Var> {
        let t = Tensor::full(value, shape, device)?;
        self.insert(name, t)
    }

    pub fn insert(&mut self, name: &str, t: Tensor) -> Result<Var> {
        if self.vars.iter().any(|(n, _)| n == name) {
            candle_core::bail!("duplicate parameter name {name}");
        }
        let v = Var::from_tensor(&t.to_dtype(DType::F32)?)?;
        self.vars.push((name.to_string(), v.clone()));
        Ok(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, Var)> {
        self.vars.iter()
    }

    pub fn vars(&self) -> Vec<Var> {
        self.vars.iter().map(|(_, v)| v.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.vars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.vars.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// The current values by name (for saving).
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        self.vars
            .iter()
            .map(|(n, v)| (n.clone(), v.as_detached_tensor()))
            .collect()
    }

    /// Sets every variable from `tensors`, checking names and shapes.
    pub fn load(&self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for (name, var) in &self.vars {
            let t = tensors
                .get(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor '{name}'")))?;
            if t.dims() != var.dims() {
                candle_core::bail!(
                    "tensor '{name}' has shape {:?}, the model expects {:?}",
                    t.dims(),
                    var.dims()
                );
            }
            var.set(&t.to_device(var.device())?.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }
}

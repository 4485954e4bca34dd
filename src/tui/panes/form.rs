//! The Train pane's form: every hyperparameter as typed, checked field by field.

use crate::model::{ModelConfig, VqVaeConfig};
use crate::train::TrainConfig;

pub const FIELDS: [&str; 8] = [
    "epochs",
    "batch",
    "lr",
    "codebook size",
    "latent dim",
    "beta",
    "seed",
    "device",
];

/// The form's values as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub values: [String; 8],
    pub selected: usize,
}

impl Default for Form {
    fn default() -> Self {
        let m = VqVaeConfig::default();
        let t = TrainConfig::default();
        Form {
            values: [
                t.epochs.to_string(),
                t.batch.to_string(),
                format!("{:e}", t.lr),
                m.codebook_size.to_string(),
                m.latent_dim.to_string(),
                m.beta.to_string(),
                t.seed.to_string(),
                "cpu".into(),
            ],
            selected: 0,
        }
    }
}

impl Form {
    /// Checks one value; the message names the field.
    pub fn check(field: usize, v: &str) -> Result<(), String> {
        let v = v.trim();
        let name = FIELDS[field];
        let bad = |what: &str| Err(format!("{name}: '{v}' is not {what}"));
        match field {
            0 | 1 | 3 | 4 => match v.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(()),
                _ => bad("a whole number of at least 1"),
            },
            2 => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => Ok(()),
                _ => bad("a positive number"),
            },
            5 => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(()),
                _ => bad("a number of at least 0"),
            },
            6 => v
                .parse::<u64>()
                .map(|_| ())
                .or_else(|_| bad("a whole number")),
            _ => v
                .parse::<crate::device::DeviceSpec>()
                .map(|_| ())
                .map_err(|e| format!("device: {e}")),
        }
    }

    /// The model and training configs and the device the form describes.
    pub fn configs(&self) -> Result<(ModelConfig, TrainConfig, crate::device::DeviceSpec), String> {
        for (i, v) in self.values.iter().enumerate() {
            Self::check(i, v)?;
        }
        let num = |i: usize| self.values[i].trim().parse::<usize>().expect("checked");
        let model = ModelConfig::Vqvae(VqVaeConfig {
            codebook_size: num(3),
            latent_dim: num(4),
            beta: self.values[5].trim().parse().expect("checked"),
            ..VqVaeConfig::default()
        });
        let train = TrainConfig {
            epochs: num(0),
            batch: num(1),
            lr: self.values[2].trim().parse().expect("checked"),
            seed: self.values[6].trim().parse().expect("checked"),
            checkpoint_every: 1,
            ..TrainConfig::default()
        };
        let device = self.values[7].trim().parse().map_err(|e: String| e)?;
        Ok((model, train, device))
    }
}

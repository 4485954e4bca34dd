//! The description of a run, saved as `config.json` in its directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::LoadOptions;
use crate::model::ModelConfig;

/// The most epochs a run may be configured for.
pub const MAX_EPOCHS: usize = 1_000_000;
/// The largest batch.
pub const MAX_BATCH: usize = 65_536;

/// Training hyperparameters (paper defaults: 250 epochs, batch 64, Adam, lr 2e-4 for the VQ-VAE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Write a checkpoint every this many epochs (and always after the last).
    pub checkpoint_every: usize,
    /// Checkpoints kept on disk (the newest ones).
    pub keep_checkpoints: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 250,
            batch: 64,
            lr: 2e-4,
            seed: 0,
            checkpoint_every: 1,
            keep_checkpoints: 2,
        }
    }
}

impl TrainConfig {
    /// Checks the numbers a user typed, naming the option at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return Err(format!(
                "--epochs must be in 1..={MAX_EPOCHS}, got {}",
                self.epochs
            ));
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(format!(
                "--batch must be in 1..={MAX_BATCH}, got {}",
                self.batch
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!(
                "--lr must be a positive finite number, got {}",
                self.lr
            ));
        }
        if self.checkpoint_every == 0 {
            return Err("checkpoint_every must be at least 1".into());
        }
        if self.keep_checkpoints == 0 {
            return Err("keep_checkpoints must be at least 1".into());
        }
        Ok(())
    }
}

/// Where the data came from and how it was read, so `eval RUN` can load it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub dir: PathBuf,
    pub labels: Option<PathBuf>,
    pub file_col: String,
    pub label_col: String,
    pub patient_col: String,
    pub patient_from: Option<String>,
    pub resize: bool,
}

impl DataSpec {
    pub fn from_options(dir: PathBuf, opts: &LoadOptions) -> DataSpec {
        DataSpec {
            dir,
            labels: opts.labels.clone(),
            file_col: opts.file_col.clone(),
            label_col: opts.label_col.clone(),
            patient_col: opts.patient_col.clone(),
            patient_from: opts.patient_from.as_ref().map(|r| r.as_str().to_string()),
            resize: opts.resize,
        }
    }

    pub fn options(&self) -> Result<LoadOptions, crate::data::DataError> {
        Ok(LoadOptions {
            labels: self.labels.clone(),
            file_col: self.file_col.clone(),
            label_col: self.label_col.clone(),
            patient_col: self.patient_col.clone(),
            patient_from: match &self.patient_from {
                Some(p) => Some(LoadOptions::pattern(p)?),
                None => None,
            },
            resize: self.resize,
        })
    }
}

/// Everything about a run: `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Format version of this file.
    pub version: u32,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub data: DataSpec,
    /// Device the run was started on (`cpu`, `cuda:0`).
    pub device: String,
    /// Seed and test fraction of the patient split (the split itself is in `split.csv`).
    pub split_seed: u64,
    pub test_fraction: f64,
    /// When the run was created (RFC 3339, UTC).
    pub created: String,
}

impl RunConfig {
    pub const VERSION: u32 = 1;

    /// Checks a config read from disk before anything is built from it.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != Self::VERSION {
            return Err(format!(
                "version {} is not one this vqtex reads ({})",
                self.version,
                Self::VERSION
            ));
        }
        self.model.validate()?;
        self.train.validate()?;
        if !(self.test_fraction.is_finite() && self.test_fraction > 0.0 && self.test_fraction < 1.0)
        {
            return Err(format!(
                "test_fraction must be between 0 and 1, got {}",
                self.test_fraction
            ));
        }
        Ok(())
    }
}

//! A run directory: `config.json`, `split.csv`, `metrics.jsonl`, `checkpoints/`, `eval/`.

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::checkpoint::{self, CheckpointError};
use super::config::RunConfig;
use super::event::EpochRecord;
use crate::data::{load_folder, DataError, Dataset, Split};
use crate::model::Autoencoder;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0} is not a vqtex run: it has no config.json")]
    NotARun(PathBuf),
    #[error("{0} already holds a run; choose another --run, or continue it with --resume")]
    Exists(PathBuf),
    #[error("{path}: {message}")]
    BadConfig { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot restore the model from {path}: {message}")]
    Restore { path: PathBuf, message: String },
}

/// Paths of a run directory.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }
    pub fn config(&self) -> PathBuf {
        self.path.join("config.json")
    }
    pub fn split(&self) -> PathBuf {
        self.path.join("split.csv")
    }
    pub fn metrics(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.path.join("checkpoints")
    }
    pub fn eval(&self) -> PathBuf {
        self.path.join("eval")
    }

    pub fn is_run(&self) -> bool {
        self.config().is_file()
    }

    /// Creates a new run directory, refusing one that already holds a run.
    pub fn create(&self, config: &RunConfig, split_csv: &str) -> Result<(), RunError> {
        if self.is_run() {
            return Err(RunError::Exists(self.path.clone()));
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(self.checkpoints()).map_err(io(&self.path))?;
        let json = serde_json::to_vec_pretty(config).expect("config serialises");
        checkpoint::write_atomic(&self.split(), split_csv.as_bytes())?;
        // config.json last: its presence marks a complete run directory.
        checkpoint::write_atomic(&self.config(), &json)?;
        Ok(())
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig, RunError> {
        if !self.is_run() {
            return Err(RunError::NotARun(self.path.clone()));
        }
        let text = std::fs::read(self.config()).map_err(|source| RunError::Io {
            path: self.config(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| RunError::BadConfig {
            path: self.config(),
            message: e.to_string(),
        })
    }

    pub fn records(&self) -> Vec<EpochRecord> {
        super::runlog::read(&self.metrics()).unwrap_or_default()
    }
}

/// A finished (or checkpointed) run, loaded for evaluation.
pub struct LoadedRun {
    pub dir: RunDir,
    pub config: RunConfig,
    pub dataset: Dataset,
    pub split: Split,
    pub model: Box<dyn Autoencoder>,
    pub epoch: usize,
    pub device: Device,
}

impl LoadedRun {
    /// Loads a run's config, data, split and newest checkpoint.
    pub fn open(path: &Path, device: &Device) -> Result<LoadedRun, RunError> {
        let dir = RunDir::new(path);
        let config = dir.read_config()?;
        let opts = config.data.options()?;
        let dataset = load_folder(&config.data.dir, &opts)?;
        let split = Split::from_csv(&dir.split(), &dataset)?;
        let ckpt = checkpoint::load_latest(&dir.checkpoints(), device)?;
        let restore = |message: String| RunError::Restore {
            path: ckpt.path.clone(),
            message,
        };
        let model = config
            .model
            .build(config.train.seed, device)
            .map_err(|e| restore(e.to_string()))?;
        model
            .params()
            .load(&ckpt.tensors)
            .map_err(|e| restore(e.to_string()))?;
        Ok(LoadedRun {
            dir,
            config,
            dataset,
            split,
            model,
            epoch: ckpt.sidecar.epoch,
            device: device.clone(),
        })
    }
}

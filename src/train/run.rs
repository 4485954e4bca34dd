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
    #[error("{0}")]
    Invalid(String),
}

/// A folder `base/prefix-YYYYMMDD-HHMMSS[-N]` that does not exist yet.
pub fn fresh_dir(base: &Path, prefix: &str) -> PathBuf {
    let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp = t
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    let mut path = base.join(format!("{prefix}-{stamp}"));
    let mut n = 2;
    while path.exists() {
        path = base.join(format!("{prefix}-{stamp}-{n}"));
        n += 1;
    }
    path
}

/// What a new run is made of; [`new_job`] turns it into a run directory and a training job.
pub struct NewRun<'a> {
    /// The run directory to create (must not hold a run yet).
    pub dir: PathBuf,
    pub model: crate::model::ModelConfig,
    pub train: super::TrainConfig,
    pub device: crate::device::DeviceSpec,
    /// The data folder (recorded in config.json) and how it was read.
    pub data_dir: PathBuf,
    pub load: &'a crate::data::LoadOptions,
    pub dataset: Dataset,
    /// A `patient,split` CSV forcing the split.
    pub split_file: Option<&'a Path>,
}

/// Validates the settings, chooses the split (a forced file, else the labels CSV's `split` column,
/// else 20% of each class's patients drawn with the seed), writes the run directory and returns the
/// job that trains it. Nothing is written when a setting is refused.
pub fn new_job(new: NewRun<'_>) -> Result<super::Job, RunError> {
    new.train.validate().map_err(RunError::Invalid)?;
    let device = new.device.open().map_err(RunError::Invalid)?;
    let dataset = new.dataset;
    let split = match new.split_file {
        Some(path) => Split::from_csv(path, &dataset)?,
        None => match Split::from_dataset_column(&dataset) {
            Some(s) => {
                s.check(&dataset).map_err(|m| {
                    RunError::Invalid(format!("the labels CSV's split column is unusable: {m}"))
                })?;
                s
            }
            None => Split::stratified(&dataset, 0.2, new.train.seed)?,
        },
    };
    let config = super::RunConfig {
        version: super::RunConfig::VERSION,
        model: new.model,
        split_seed: new.train.seed,
        train: new.train,
        data: super::DataSpec::from_options(new.data_dir, new.load),
        device: new.device.to_string(),
        test_fraction: 0.2,
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let dir = RunDir::new(new.dir);
    dir.create(&config, &split.to_csv(&dataset))?;
    Ok(super::Job {
        dir,
        config,
        dataset,
        split,
        device,
        resume: false,
    })
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

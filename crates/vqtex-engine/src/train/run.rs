//! A run directory: `config.json`, `split.csv`, `metrics.jsonl`, `checkpoints/`, `eval/`.

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::checkpoint::{self, CheckpointError};
use super::config::RunConfig;
use super::event::EpochRecord;
use super::lock::{self, Holder, LockError, RunLock};
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
    #[error(transparent)]
    Locked(#[from] LockError),
}

/// A folder `base/prefix-YYYYMMDD-HHMMSS[-N]` that does not exist yet. (Two processes that pick
/// the same name are kept apart by [`RunDir::create`]'s lock and its refusal of an existing run.)
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
    /// A split chosen by the caller (a fold of a cross-validation); it wins over `split_file`.
    pub split: Option<Split>,
}

/// Validates the settings, chooses the split (a forced file, else the labels CSV's `split` column,
/// else 20% of each class's patients drawn with the seed), writes the run directory and returns the
/// job that trains it. Nothing is written when a setting is refused.
pub fn new_job(new: NewRun<'_>) -> Result<super::Job, RunError> {
    new.train.validate().map_err(RunError::Invalid)?;
    let device = new.device.open().map_err(RunError::Invalid)?;
    let dataset = new.dataset;
    let split = match (new.split, new.split_file) {
        (Some(s), _) => {
            s.check(&dataset).map_err(RunError::Invalid)?;
            s
        }
        (None, Some(path)) => Split::from_csv(path, &dataset)?,
        (None, None) => match Split::from_dataset_column(&dataset) {
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
    config.model.validate().map_err(RunError::Invalid)?;
    let dir = RunDir::new(new.dir);
    let lock = dir.create(&config, &split.to_csv(&dataset))?;
    Ok(super::Job {
        dir,
        config,
        dataset,
        split,
        device,
        resume: false,
        lock,
    })
}

/// What `--resume` found.
pub enum Resume {
    /// A job that continues the run (from its newest checkpoint, or from epoch 1 when it was killed
    /// before its first one).
    Job(Box<super::Job>),
    /// The run has already trained its configured epochs; nothing was changed.
    Finished { epochs: usize },
}

/// Prepares `--resume`: takes the run's lock (refusing a run another process writes), removes a
/// dead writer's leftovers, checks the newest checkpoint against the model, and sets the target:
/// `epochs` when given (updating config.json), else the run's configured epochs. A finished run
/// with no larger `epochs` is reported as [`Resume::Finished`] and left as it was.
pub fn resume_job(
    path: &Path,
    epochs: Option<usize>,
    device: &crate::device::DeviceSpec,
) -> Result<Resume, RunError> {
    let dir = RunDir::new(path);
    let mut config = dir.read_config()?;
    let lock = RunLock::acquire(path)?;
    let device = device.open().map_err(RunError::Invalid)?;
    let ckpts = dir.checkpoints();
    let listed = checkpoint::list_checked(&ckpts)?;
    checkpoint::remove_leftovers(&ckpts);
    let done = match listed.last() {
        Some(_) => {
            // Check the checkpoint now, so a damaged one is reported before anything starts.
            let model = config
                .model
                .build(config.train.seed, &device)
                .map_err(|e| RunError::Invalid(format!("cannot build the model: {e}")))?;
            checkpoint::load_latest_for(&ckpts, model.as_ref(), &device)?
                .sidecar
                .epoch
        }
        None => 0,
    };
    let target = epochs.unwrap_or(config.train.epochs);
    if target < done {
        return Err(RunError::Invalid(format!(
            "--epochs {target} is below the {done} epochs {} has already trained",
            path.display()
        )));
    }
    if target == done {
        return Ok(Resume::Finished { epochs: done });
    }
    let opts = config.data.options()?;
    let dataset = load_folder(&config.data.dir, &opts)?;
    let split = Split::from_csv(&dir.split(), &dataset)?;
    if target != config.train.epochs {
        if done > 0 && done == config.train.epochs {
            // Extending a finished run: its final checkpoint stays whatever pruning says.
            checkpoint::mark_final(&ckpts, done)?;
        }
        config.train.epochs = target;
        config.train.validate().map_err(RunError::Invalid)?;
        dir.write_config(&config)?;
    }
    Ok(Resume::Job(Box::new(super::Job {
        dir,
        config,
        dataset,
        split,
        device,
        resume: done > 0,
        lock,
    })))
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    /// A live process holds the run's lock.
    Running(Holder),
    /// Its newest checkpoint is at its configured epochs.
    Finished,
    /// Checkpointed part of the way, and nobody is writing it.
    Stopped,
    /// No checkpoint yet, and nobody is writing it.
    Empty,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running(_) => "running",
            RunStatus::Finished => "finished",
            RunStatus::Stopped => "stopped",
            RunStatus::Empty => "empty",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest config.json read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

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
    /// The fixed ROIs' reconstructions at every epoch ([`super::steps`]).
    pub fn steps(&self) -> PathBuf {
        self.path.join(super::steps::FILE)
    }

    pub fn is_run(&self) -> bool {
        self.config().is_file()
    }

    /// The lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.path.join(lock::LOCK_FILE)
    }

    /// Where the run stands: running when a live process holds its lock.
    pub fn status(&self, config: &RunConfig) -> RunStatus {
        if let Some(h) = lock::holder(&self.path) {
            return RunStatus::Running(h);
        }
        match checkpoint::list(&self.checkpoints()).last() {
            Some(&e) if e >= config.train.epochs => RunStatus::Finished,
            Some(_) => RunStatus::Stopped,
            None => RunStatus::Empty,
        }
    }

    /// Creates a new run directory and returns its lock, refusing a folder that holds a run
    /// (one that another process is writing, or that has a checkpoint). A run that was killed
    /// before its first checkpoint is started again: its log and leftovers are cleared.
    pub fn create(&self, config: &RunConfig, split_csv: &str) -> Result<RunLock, RunError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(&self.path).map_err(io(&self.path))?;
        let lock = RunLock::acquire(&self.path)?;
        if self.is_run() {
            if !checkpoint::list_checked(&self.checkpoints())?.is_empty() {
                return Err(RunError::Exists(self.path.clone()));
            }
            // Killed before its first checkpoint: nothing worth keeping was trained.
            checkpoint::remove_leftovers(&self.checkpoints());
            match std::fs::remove_file(self.metrics()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RunError::Io {
                        path: self.metrics(),
                        source: e,
                    })
                }
                _ => {}
            }
        }
        std::fs::create_dir_all(self.checkpoints()).map_err(io(&self.path))?;
        checkpoint::write_atomic(&self.split(), split_csv.as_bytes())?;
        // config.json last: its presence marks a complete run directory.
        self.write_config(config)?;
        Ok(lock)
    }

    /// Writes `config.json` atomically.
    pub fn write_config(&self, config: &RunConfig) -> Result<(), RunError> {
        let json = serde_json::to_vec_pretty(config).map_err(|e| RunError::BadConfig {
            path: self.config(),
            message: e.to_string(),
        })?;
        checkpoint::write_atomic(&self.config(), &json)?;
        Ok(())
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig, RunError> {
        if !self.is_run() {
            return Err(RunError::NotARun(self.path.clone()));
        }
        let bad = |message: String| RunError::BadConfig {
            path: self.config(),
            message,
        };
        let meta = std::fs::metadata(self.config()).map_err(|source| RunError::Io {
            path: self.config(),
            source,
        })?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(bad(format!(
                "it is {} bytes long; a run's config is a few hundred bytes (at most \
                 {MAX_CONFIG_BYTES} are read)",
                meta.len()
            )));
        }
        let text = std::fs::read(self.config()).map_err(|source| RunError::Io {
            path: self.config(),
            source,
        })?;
        let config: RunConfig = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        config.validate().map_err(bad)?;
        Ok(config)
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
        let model = config
            .model
            .build(config.train.seed, device)
            .map_err(|e| RunError::Invalid(format!("cannot build the model: {e}")))?;
        let ckpt = checkpoint::load_latest_for(&dir.checkpoints(), model.as_ref(), device)?;
        let restore = |message: String| RunError::Restore {
            path: ckpt.path.clone(),
            message,
        };
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

//! The runs service's listing: every run under a folder with its model, a typed status (from the
//! run's lock: running means a live process holds it), progress and test metrics when evaluated.
//! The workbench's Runs pane and `vqtex runs` show the same summaries.

use std::path::{Path, PathBuf};

use crate::model::ModelKind;
use crate::train::{RunDir, RunStatus};

pub mod cache;
pub mod compare;
/// A run's per-epoch images of its fixed ROIs (written by the training, `steps.bin`).
pub use crate::train::steps::{StepImages, StepRoi};
pub use cache::{OpenRun, RunCache, CACHED_RUNS};
pub use compare::{compare_set, CompareData, CompareRun, Pairing};

/// One run, as listings show it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub path: PathBuf,
    pub name: String,
    /// The run's model kind (printed by name: `vqvae`, `cae`, ...).
    pub model: ModelKind,
    pub status: RunStatus,
    /// The last epoch logged, and the run's configured epochs.
    pub epoch: usize,
    pub epochs: usize,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    /// Mean test MSE, once `eval` or `reproduce` has evaluated the run (`eval/summary.json`).
    pub test_mse: Option<f64>,
    /// When the run was created (RFC 3339, UTC).
    pub created: String,
}

impl RunSummary {
    /// `created` as `YYYY-MM-DD HH:MM` (UTC).
    pub fn created_short(&self) -> String {
        self.created
            .chars()
            .take(16)
            .collect::<String>()
            .replace('T', " ")
    }

    /// The summary as `vqtex runs --json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let holder = match &self.status {
            RunStatus::Running(h) => serde_json::to_value(h).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        serde_json::json!({
            "path": self.path,
            "name": self.name,
            "model": self.model.name(),
            "status": self.status.as_str(),
            "holder": holder,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "test_mse": self.test_mse,
            "created": self.created,
        })
    }
}

/// The runs under `dir`, newest first (by creation time, then name). Folders that are not runs,
/// or whose config cannot be read, are left out.
pub fn list(dir: &Path) -> Vec<RunSummary> {
    let mut out: Vec<RunSummary> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| summarize(&e.path()))
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created).then(b.name.cmp(&a.name)));
    out
}

/// One run's summary, `None` for folders that are not runs.
pub fn summarize(path: &Path) -> Option<RunSummary> {
    let dir = RunDir::new(path);
    let config = dir.read_config().ok()?;
    let records = dir.records();
    let last = records.last();
    let test_mse = crate::fs::read_capped(&dir.eval().join("summary.json"), 1 << 20)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["mse"]["mean"].as_f64());
    Some(RunSummary {
        path: path.to_path_buf(),
        name: path.file_name()?.to_string_lossy().into_owned(),
        model: config.model.kind(),
        // Running means a live process holds the run's lock, not that its log changed lately.
        status: dir.status(&config),
        epoch: last.map(|r| r.epoch).unwrap_or(0),
        epochs: config.train.epochs,
        train_loss: last.and_then(|r| r.train.get("total").copied()),
        test_loss: last.and_then(|r| r.test.get("total").copied()),
        test_mse,
        created: config.created,
    })
}

/// What the paper's tables need of one run: Table 1's test metrics (and, for models whose
/// reconstruction copies input pixels, the variant that copies none) and Table 2's SVMs under
/// both protocols. `reproduce` and the workbench's Compare pane both assess runs with
/// [`assess`] and pair them with [`pair`].
pub struct Assessment {
    pub evaluation: crate::eval::Evaluation,
    pub no_copy: Option<crate::eval::Evaluation>,
    pub paper: crate::eval::Classification,
    pub lopo: crate::eval::Classification,
}

/// Assesses an opened run. `stage` hears each stage's name before it starts and may stop the
/// assessment by returning an error (a cancelled job, a closed window).
pub fn assess<E: From<crate::eval::EvalError>>(
    run: &crate::train::LoadedRun,
    mut stage: impl FnMut(&str) -> Result<(), E>,
) -> Result<Assessment, E> {
    use crate::eval::{self, Protocol};
    stage("reconstructing the test ROIs")?;
    let evaluation = eval::evaluate(run)?;
    let no_copy = eval::evaluate_no_copy(run)?;
    stage("SVMs, paper protocol")?;
    let paper = eval::classify(run, Protocol::Paper)?;
    stage("SVMs, leave one patient out")?;
    let lopo = eval::classify(run, Protocol::Lopo)?;
    Ok(Assessment {
        evaluation,
        no_copy,
        paper,
        lopo,
    })
}

/// The reference of a set of runs, by their model kinds: the first VQ-VAE, else the first run.
pub fn reference_of(models: &[ModelKind]) -> usize {
    models
        .iter()
        .position(|&m| m == ModelKind::Vqvae)
        .unwrap_or(0)
}

/// The paired tests of the reference run against each other run (`runs` as name, model kind and
/// evaluation): the reference's index and, for every other run in order, its index and its
/// comparison, or why the two cannot be paired (another split: other test ROIs).
#[allow(clippy::type_complexity)]
pub fn pair(
    runs: &[(&str, ModelKind, &crate::eval::Evaluation)],
) -> (
    usize,
    Vec<(usize, Result<crate::eval::compare::Comparison, String>)>,
) {
    if runs.is_empty() {
        return (0, Vec::new());
    }
    let models: Vec<ModelKind> = runs.iter().map(|r| r.1).collect();
    let reference = reference_of(&models);
    let (rname, _, reval) = runs[reference];
    let pairs = (0..runs.len())
        .filter(|&i| i != reference)
        .map(|i| {
            let result = crate::eval::compare::compare((rname, reval), (runs[i].0, runs[i].2))
                .map_err(|e| e.to_string());
            (i, result)
        })
        .collect();
    (reference, pairs)
}

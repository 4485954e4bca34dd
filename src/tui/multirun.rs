//! Background jobs over several runs, run by the workbench's job dispatch (`jobs::execute`): the other models'
//! reconstructions for the Reconstructions pane, and the Compare pane's evaluation of the marked
//! runs (Table 1 metrics, both SVM protocols of Table 2) with paired tests (Wilcoxon and t, per
//! ROI and per patient) of the reference run against each other run. Runs come from the
//! [`RunCache`]; the cancel flag is checked between runs and stages.

use std::path::{Path, PathBuf};

use super::rois::{pick_rois, test_rois};
use super::scheduler::Cancel;
use crate::eval::{self, RoiMetrics};
use crate::runs::{list as list_runs, RunCache, RunSummary};
use crate::train::RunDir;
use crate::train::RunStatus;

/// Another model's reconstructions of the Reconstructions pane's ROIs.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRecon {
    pub run: PathBuf,
    pub model: crate::model::ModelKind,
    pub epoch: usize,
    /// One per ROI of the pane, in its order.
    pub recons: Vec<Vec<f32>>,
    pub metrics: Vec<RoiMetrics>,
}

/// The runs under `runs_dir` trained on the same data and split as `run` (same data spec in
/// config.json, same split.csv): the newest finished run of each model kind other than `run`'s.
pub fn peer_runs(run: &Path, runs_dir: &Path) -> Vec<RunSummary> {
    let dir = RunDir::new(run);
    let Ok(config) = dir.read_config() else {
        return Vec::new();
    };
    let split = std::fs::read(dir.split()).ok();
    let mut seen = vec![config.model.kind()];
    let runs = list_runs(runs_dir);
    let mut out = Vec::new();
    for r in runs {
        if r.status != RunStatus::Finished || seen.contains(&r.model) || r.path == run {
            continue;
        }
        let other = RunDir::new(&r.path);
        let same = other.read_config().is_ok_and(|c| c.data == config.data)
            && std::fs::read(other.split()).ok() == split;
        if same {
            seen.push(r.model);
            out.push(r);
        }
    }
    out
}

/// The other models' reconstructions of the ROIs `pick` chooses in `run`.
pub fn peers(
    cache: &RunCache,
    run: &Path,
    runs_dir: &Path,
    pick: usize,
    cancel: &Cancel,
) -> anyhow::Result<Vec<PeerRecon>> {
    let base = cache.open(run)?;
    let base = base.lock();
    let test = test_rois(&base);
    let rois = pick_rois(&test, pick);
    let mut out = Vec::new();
    for p in peer_runs(run, runs_dir) {
        cancel.check()?;
        let other = cache.open(&p.path)?;
        let other = other.lock();
        let recons = eval::reconstruct(other.model.as_ref(), &rois)?;
        let metrics = rois
            .iter()
            .zip(&recons)
            .map(|(r, y)| RoiMetrics::of(&r.to_unit(), y))
            .collect();
        out.push(PeerRecon {
            run: p.path,
            model: p.model,
            epoch: other.epoch,
            recons,
            metrics,
        });
    }
    Ok(out)
}

pub use crate::runs::{CompareData, CompareRun, Pairing};

/// Evaluates `runs` and pairs them; `progress` hears what is being done.
pub fn compare_runs(
    cache: &RunCache,
    runs: &[PathBuf],
    cancel: &Cancel,
    progress: impl Fn(&str),
) -> anyhow::Result<CompareData> {
    anyhow::ensure!(!runs.is_empty(), "no run marked");
    let mut rows = Vec::new();
    let mut evals = Vec::new();
    for (i, path) in runs.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let step = |what: &str| progress(&format!("{name} ({}/{}): {what}", i + 1, runs.len()));
        cancel.check()?;
        step("opening");
        let open = cache.open(path)?;
        let run = open.lock();
        // The runs service assesses it, as `reproduce` does; each stage is a cancel point.
        let a = crate::runs::assess(&run, |what: &str| -> anyhow::Result<()> {
            cancel.check()?;
            step(what);
            Ok(())
        })?;
        open.note_evaluated(&a.evaluation.summary);
        rows.push(CompareRun::new(
            path.clone(),
            name,
            run.epoch,
            run.config.model.kind(),
            &a,
        ));
        evals.push(a.evaluation);
    }
    let evals: Vec<&eval::Evaluation> = evals.iter().collect();
    let mut set = crate::runs::compare_set(rows, &evals);
    set.runs = runs.to_vec();
    Ok(set)
}

//! Runs kept open between jobs (the workbench's, through the runs service): opening a run decodes its whole
//! dataset and loads its newest checkpoint, so consecutive jobs on the same run (Reconstructions,
//! `n` for other ROIs, the latent pane, the classifier) share one opening. An entry is keyed by the
//! run's path and its newest checkpoint's epoch: a new checkpoint (a run training) loads the model
//! again but keeps the decoded dataset when the run's config is unchanged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::Device;

use crate::eval::Summary;
use crate::train::{checkpoint, LoadedRun, RunDir};

/// Runs kept open: the open run and, for the Reconstructions pane, the newest run of each other
/// model kind (5 kinds), plus one. A run of the paper's size holds a few MB (28x28 ROIs and a small
/// model), so this stays small.
pub const CACHED_RUNS: usize = 6;

/// A run opened once and shared by the jobs that use it. The model is not `Sync`, so jobs take
/// the lock while they use the run (jobs on one run take turns; jobs on other runs do not wait).
#[derive(Clone)]
pub struct OpenRun {
    pub path: PathBuf,
    pub epoch: Option<usize>,
    run: Arc<Mutex<LoadedRun>>,
    /// The test means of [`crate::eval::evaluate`], computed once per opening.
    summary: Arc<Mutex<Option<Summary>>>,
    /// The cache's record of test MSEs (see [`RunCache::fill_test_mse`]).
    evaluated: Evaluated,
}

/// Test MSE means of runs evaluated while the cache lived, by run, with the checkpoint's epoch.
type Evaluated = Arc<Mutex<std::collections::HashMap<PathBuf, (Option<usize>, f64)>>>;

impl OpenRun {
    pub fn lock(&self) -> MutexGuard<'_, LoadedRun> {
        // A job that panicked while holding the run left it as it was: the run is only read.
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The test means of the run, evaluated on first use.
    pub fn summary(&self, run: &LoadedRun) -> anyhow::Result<Summary> {
        let mut slot = self.summary.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = crate::eval::evaluate(run)?.summary;
        *slot = Some(s.clone());
        self.note_evaluated(&s);
        Ok(s)
    }

    /// Records the test means of this opening (an evaluation made elsewhere, e.g. Compare's), so
    /// that run listings can show its test MSE.
    pub fn note_evaluated(&self, s: &Summary) {
        if s.mse.mean.is_finite() {
            self.evaluated
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(self.path.clone(), (self.epoch, s.mse.mean));
        }
    }
}

/// The cache: most recently used last.
#[derive(Default)]
pub struct RunCache {
    entries: Mutex<Vec<OpenRun>>,
    /// Runs opened from disk so far (for tests and the log).
    opened: std::sync::atomic::AtomicUsize,
    evaluated: Evaluated,
}

impl RunCache {
    pub fn new() -> RunCache {
        RunCache::default()
    }

    /// `run`, from the cache when its newest checkpoint is the one cached, else opened from disk
    /// (only the model, when the run is cached with an older checkpoint and no job uses it).
    /// Opening happens under the cache's lock, so two jobs asking for one run open it once; no
    /// run's lock is waited for under it (jobs holding a run's lock call this).
    pub fn open(&self, run: &Path) -> anyhow::Result<OpenRun> {
        let epoch = checkpoint::list(&RunDir::new(run).checkpoints())
            .last()
            .copied();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = entries
            .iter()
            .position(|e| e.path == run && e.epoch == epoch)
        {
            let e = entries.remove(i);
            entries.push(e.clone());
            return Ok(e);
        }
        let older = entries
            .iter()
            .position(|e| e.path == run)
            .map(|i| entries.remove(i));
        // Never wait for a run's lock here: a job holding one may be asking the cache for another.
        let reused = older.as_ref().and_then(|o| match o.run.try_lock() {
            Ok(old) => Some(with_newest_checkpoint(&old)),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                Some(with_newest_checkpoint(&p.into_inner()))
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        let loaded = match reused {
            Some(Ok(Some(l))) => l,
            Some(Err(e)) => return Err(e),
            Some(Ok(None)) | None => {
                self.opened
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                LoadedRun::open(run, &Device::Cpu)?
            }
        };
        tracing::debug!(run = %run.display(), ?epoch, "run opened");
        let e = OpenRun {
            path: run.to_path_buf(),
            epoch,
            run: Arc::new(Mutex::new(loaded)),
            summary: Arc::new(Mutex::new(None)),
            evaluated: self.evaluated.clone(),
        };
        if entries.len() >= CACHED_RUNS {
            entries.remove(0);
        }
        entries.push(e.clone());
        Ok(e)
    }

    /// Forgets `run` (deleted).
    pub fn forget(&self, run: &Path) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|e| e.path != run);
        self.evaluated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(run);
    }

    /// Fills in the test MSE of listed runs that have none on disk but were evaluated while the
    /// cache lived (Reconstructions, Compare), at their newest checkpoint.
    pub fn fill_test_mse(&self, runs: &mut [super::RunSummary]) {
        let known = self.evaluated.lock().unwrap_or_else(|p| p.into_inner());
        for r in runs.iter_mut().filter(|r| r.test_mse.is_none()) {
            let Some(&(epoch, mse)) = known.get(&r.path) else {
                continue;
            };
            let newest = checkpoint::list(&RunDir::new(&r.path).checkpoints())
                .last()
                .copied();
            if newest == epoch {
                r.test_mse = Some(mse);
            }
        }
    }

    /// Runs opened from disk (dataset decoded, checkpoint loaded) so far; a new checkpoint of a
    /// cached run does not count.
    pub fn opened(&self) -> usize {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `old` with its run's newest checkpoint loaded into a new model, the dataset and split kept:
/// `None` when the run's config changed (then the run is opened again from scratch).
fn with_newest_checkpoint(old: &LoadedRun) -> anyhow::Result<Option<LoadedRun>> {
    let config = old.dir.read_config()?;
    if config != old.config {
        return Ok(None);
    }
    let model = config.model.build(config.train.seed, &old.device)?;
    let ckpt = checkpoint::load_latest_for(&old.dir.checkpoints(), model.as_ref(), &old.device)?;
    model.params().load(&ckpt.tensors)?;
    Ok(Some(LoadedRun {
        dir: old.dir.clone(),
        config,
        dataset: old.dataset.clone(),
        split: old.split.clone(),
        model,
        epoch: ckpt.sidecar.epoch,
        device: old.device.clone(),
    }))
}

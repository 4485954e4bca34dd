//! Background work: every call into the engine that takes more than a moment (loading data,
//! opening a run, reconstructions, traversals, SVMs) and every file the workbench reads or writes
//! runs as a job on the [`Scheduler`]'s small pool and comes back as a message ([`Done`]) carrying
//! its kind ([`JobKey`]) and generation id; the app drops a result whose id is no longer current.
//! Panes never touch a model or a file.
//!
//! The job bodies: [`model`] (one run's model, through the [`crate::runs::RunCache`]), [`files`] (the ROI
//! picker, deleting a run, watching a run), [`super::multirun`] (several runs).

pub mod files;
pub mod model;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

pub use self::files::{Frame, FramesOpened, RunLook, WatchPoll, WatchSeen};
pub use self::model::pick_rois;
pub use super::multirun::{compare_runs, peers, CompareData, PeerRecon};
use super::scheduler::{Cancel, Scheduler, DEFAULT_WORKERS};
use super::Msg;
use crate::data::extract::Boxes;
use crate::data::{load_folder, Dataset, Label, LoadOptions, Roi, Split};
use crate::eval::{Classification, Protocol, RoiMetrics, Summary};
use crate::runs::RunCache;
pub use crate::runs::{list as list_runs, RunSummary};

/// Work a pane asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    LoadData(PathBuf),
    ListRuns(PathBuf),
    /// Reconstructions of 2 healthy + 2 steatotic test ROIs (`pick` chooses other ones).
    Recon {
        run: PathBuf,
        pick: usize,
    },
    /// The same ROIs as `Recon { run, pick }` reconstructed by the other models trained on the
    /// same data and split (see [`super::multirun::peer_runs`]).
    Peers {
        run: PathBuf,
        runs_dir: PathBuf,
        pick: usize,
    },
    /// The Train pane's per-epoch reconstructions.
    Thumbs {
        run: PathBuf,
    },
    Traverse {
        run: PathBuf,
        dim: usize,
        steps: usize,
        range: f64,
        /// The anchor ROI (an index into the run's dataset); `None`: the default anchor.
        anchor: Option<usize>,
    },
    /// Out-of-distribution scores of the Data pane's ROIs against a run's training ROIs.
    Ood {
        run: PathBuf,
        rois: Arc<Vec<Roi>>,
    },
    /// Decode an edited 7x7 code map of a VQ run.
    DecodeCodes {
        run: PathBuf,
        codes: Vec<u32>,
    },
    Codebook {
        run: PathBuf,
    },
    Classify {
        run: PathBuf,
        protocol: Protocol,
    },
    /// Table 1 with paired tests and Table 2 for the runs marked, in marking order.
    Compare {
        runs: Vec<PathBuf>,
    },
    /// The ROI picker opens a frames folder.
    OpenFrames(PathBuf),
    /// The ROI picker shows frame `index` (`file` in `dir`).
    Frame {
        dir: PathBuf,
        index: usize,
        file: String,
    },
    /// Every saved frame's boxes, written to `coords.csv`.
    SaveCoords {
        path: PathBuf,
        rows: Vec<(String, Boxes)>,
    },
    /// Saves the boxes, then extracts the ROIs of a frames folder into `out`.
    Extract {
        dir: PathBuf,
        rows: Vec<(String, Boxes)>,
        out: PathBuf,
    },
    DeleteRun(PathBuf),
    /// What the panes need to show a run the user opens (see [`files::look_at_run`]).
    OpenRun(PathBuf),
    /// A look at the watched run (once a tick).
    Watch {
        run: PathBuf,
        seen: WatchSeen,
    },
    /// The runs' per-epoch images at `epoch` (`None`: the newest), for scrubbing.
    Steps {
        runs: Vec<PathBuf>,
        epoch: Option<u32>,
    },
}

/// A kind of job: at most one of a kind runs, one waits, and only the newest id of a kind counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKey {
    Data,
    Runs,
    Recon,
    Peers,
    Thumbs,
    Traverse,
    Decode,
    Ood,
    Codebook,
    Classify,
    Compare,
    Frames,
    Coords,
    Extract,
    /// One per run: deleting one run never replaces deleting another.
    Delete(PathBuf),
    OpenRun,
    Watch,
    Steps,
}

impl Request {
    pub fn key(&self) -> JobKey {
        match self {
            Request::LoadData(_) => JobKey::Data,
            Request::ListRuns(_) => JobKey::Runs,
            Request::Recon { .. } => JobKey::Recon,
            Request::Peers { .. } => JobKey::Peers,
            Request::Thumbs { .. } => JobKey::Thumbs,
            Request::Traverse { .. } => JobKey::Traverse,
            Request::DecodeCodes { .. } => JobKey::Decode,
            Request::Ood { .. } => JobKey::Ood,
            Request::Codebook { .. } => JobKey::Codebook,
            Request::Classify { .. } => JobKey::Classify,
            Request::Compare { .. } => JobKey::Compare,
            Request::OpenFrames(_) | Request::Frame { .. } => JobKey::Frames,
            Request::SaveCoords { .. } => JobKey::Coords,
            Request::Extract { .. } => JobKey::Extract,
            Request::DeleteRun(p) => JobKey::Delete(p.clone()),
            Request::OpenRun(_) => JobKey::OpenRun,
            Request::Watch { .. } => JobKey::Watch,
            Request::Steps { .. } => JobKey::Steps,
        }
    }
}

/// A loaded dataset and the split to show (the CSV's, or the CLI's default stratified one).
#[derive(Debug, Clone)]
pub struct DataLoaded {
    pub dir: PathBuf,
    pub dataset: Arc<Dataset>,
    pub split: Option<Split>,
}

/// Originals and reconstructions of a few ROIs.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbs {
    pub run: PathBuf,
    pub epoch: usize,
    pub labels: Vec<Label>,
    pub originals: Vec<Vec<u8>>,
    pub recons: Vec<Vec<f32>>,
}

/// One ROI of the Reconstructions pane.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconRoi {
    pub file: String,
    pub label: Label,
    pub pixels: Vec<u8>,
    pub recon: Vec<f32>,
    pub metrics: RoiMetrics,
    /// The 7x7 code indices (VQ models).
    pub codes: Option<Vec<u32>>,
}

/// What the Classify pane shows: the scores, and every classified ROI with its decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyData {
    pub result: Classification,
    pub rois: Vec<ClassifiedRoi>,
}

/// One ROI the SVMs classified.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedRoi {
    pub file: String,
    pub patient: crate::data::PatientId,
    pub truth: Label,
    pub pixels: Vec<u8>,
    /// The decision value of the SVM on pixels and of the SVM on latents (steatosis when >= 0).
    pub decision: [f64; 2],
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReconData {
    pub run: PathBuf,
    pub model: crate::model::ModelKind,
    pub epoch: usize,
    /// The `pick` asked for (which ROIs these are).
    pub pick: usize,
    pub rois: Vec<ReconRoi>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraversalData {
    pub run: PathBuf,
    pub dim: usize,
    pub dims: usize,
    pub offsets: Vec<f64>,
    /// The first row: the traversal of a model with one row, the z_e row of a VQ model.
    pub images: Vec<Vec<f32>>,
    /// Further rows with their labels (the VQ model's re-quantised row).
    pub more: Vec<(String, Vec<Vec<f32>>)>,
    /// The ROI the traversal starts from (`None`: the old mean-map traversal).
    pub anchor: Option<AnchorRoi>,
}

/// The Data pane's ROIs scored against a run (see `eval::ood`), most unusual first.
#[derive(Debug, Clone, PartialEq)]
pub struct OodView {
    pub run: PathBuf,
    pub rows: Vec<OodRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OodRow {
    /// Index into the pane's ROIs.
    pub roi: usize,
    pub score: crate::eval::ood::OodRoi,
    /// The run's reconstruction of the ROI.
    pub recon: Vec<f32>,
}

/// The ROI a traversal starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorRoi {
    /// Index into the run's dataset.
    pub index: usize,
    pub file: String,
    pub label: Label,
    pub pixels: Vec<u8>,
    /// Its 7x7 code map (VQ models), row by row.
    pub codes: Option<Vec<u32>>,
    /// The codebook's size (VQ models).
    pub codebook: Option<usize>,
    /// The test ROIs an anchor can be picked from (indices into the dataset).
    pub choices: Vec<usize>,
}

/// Every code decoded as a texture, and how often test ROIs of each class use it.
#[derive(Debug, Clone, PartialEq)]
pub struct CodebookData {
    pub run: PathBuf,
    pub prototypes: Vec<Vec<f32>>,
    /// `[healthy, steatosis]` counts of each code over the test ROIs' 7x7 maps.
    pub usage: Vec<[u64; 2]>,
    /// Each code's association with steatosis and the texture it covers (`eval::codes`).
    pub stats: Vec<crate::eval::codes::CodeStats>,
    /// Each code's most typical real patches (8x8), nearest first.
    pub patches: Vec<Vec<[u8; 64]>>,
}

/// What comes back.
#[derive(Debug, Clone)]
pub enum Outcome {
    Data(Result<DataLoaded, String>),
    Runs(Vec<RunSummary>),
    Recon(PathBuf, Result<ReconData, String>),
    Thumbs(PathBuf, Result<Thumbs, String>),
    /// For the run and pick of a `Peers` request.
    Peers(PathBuf, usize, Result<Vec<PeerRecon>, String>),
    Traverse(PathBuf, Result<TraversalData, String>),
    Ood(PathBuf, Result<OodView, String>),
    /// A decoded code map: the codes asked for and the image.
    Decoded(PathBuf, Vec<u32>, Result<Vec<f32>, String>),
    Codebook(PathBuf, Result<CodebookData, String>),
    ClassifyProgress(PathBuf, String),
    Classify(PathBuf, Result<ClassifyData, String>),
    CompareProgress(Vec<PathBuf>, String),
    Compare(Vec<PathBuf>, Result<CompareData, String>),
    Frames(PathBuf, Result<FramesOpened, String>),
    /// Frame `index` of the frames folder.
    Frame(PathBuf, usize, Result<Frame, String>),
    Saved(PathBuf, Result<(), String>),
    /// The ROIs extracted into the folder.
    Extracted(PathBuf, Result<(), String>),
    Deleted(PathBuf, Result<(), String>),
    RunOpened(PathBuf, Result<RunLook, String>),
    Watched(WatchPoll),
    /// For the runs and the epoch of a `Steps` request.
    Steps(Vec<PathBuf>, Option<u32>, Vec<super::steps::StepFrame>),
}

impl Outcome {
    /// Whether more of the same job is to come.
    pub fn is_progress(&self) -> bool {
        matches!(
            self,
            Outcome::ClassifyProgress(..) | Outcome::CompareProgress(..)
        )
    }
}

/// A job's result (or progress) as it reaches the app.
#[derive(Debug, Clone)]
pub struct Done {
    pub key: JobKey,
    /// The generation of `key` the job was started as.
    pub id: u64,
    pub outcome: Outcome,
}

/// The workbench's jobs: the pool, the generation ids, and the runs kept open.
pub struct Jobs {
    pub scheduler: Scheduler<JobKey>,
    pub cache: Arc<RunCache>,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            scheduler: Scheduler::new(DEFAULT_WORKERS),
            cache: Arc::new(RunCache::new()),
        }
    }
}

impl Jobs {
    /// Queues `req` (replacing a queued one of its kind); its outcome arrives on `tx` as
    /// [`Msg::Job`]. Returns its id.
    pub fn submit(&self, req: Request, opts: LoadOptions, tx: UnboundedSender<Msg>) -> u64 {
        let key = req.key();
        let cache = self.cache.clone();
        self.scheduler.submit(key.clone(), move |id, cancel| {
            let send = |outcome: Outcome| {
                let _ = tx.send(Msg::Job(Done {
                    key: key.clone(),
                    id,
                    outcome,
                }));
            };
            execute(req, &opts, &cache, cancel, &send);
        })
    }

    /// A new id of `req`'s kind without running it (tests and the bench run no jobs).
    pub fn issue(&self, req: &Request) -> u64 {
        self.scheduler.issue(req.key())
    }

    pub fn is_current(&self, d: &Done) -> bool {
        self.scheduler.is_current(&d.key, d.id)
    }

    pub fn cancel(&self, key: &JobKey) {
        self.scheduler.cancel(key)
    }
}

/// Runs `req` on this thread; progress and the outcome go to `send`. A job that saw its cancel
/// flag sends nothing more (its id is stale anyway).
pub fn execute(
    req: Request,
    opts: &LoadOptions,
    cache: &RunCache,
    cancel: &Cancel,
    send: &dyn Fn(Outcome),
) {
    let t0 = std::time::Instant::now();
    let kind = req.key();
    tracing::debug!(?req, "job started");
    let e = |x: anyhow::Error| format!("{x:#}");
    let outcome = match req {
        Request::LoadData(dir) => Outcome::Data(load_data(&dir, opts).map_err(e)),
        Request::ListRuns(dir) => {
            let mut runs = list_runs(&dir);
            cache.fill_test_mse(&mut runs);
            Outcome::Runs(runs)
        }
        Request::Recon { run, pick } => {
            let r = model::recon(cache, &run, pick, cancel).map_err(e);
            Outcome::Recon(run, r)
        }
        Request::Peers {
            run,
            runs_dir,
            pick,
        } => {
            let r = peers(cache, &run, &runs_dir, pick, cancel).map_err(e);
            Outcome::Peers(run, pick, r)
        }
        Request::Thumbs { run } => {
            let r = model::thumbs(cache, &run, cancel).map_err(e);
            Outcome::Thumbs(run, r)
        }
        Request::Traverse {
            run,
            dim,
            steps,
            range,
            anchor,
        } => {
            let r = model::traverse(cache, &run, (dim, steps, range), anchor, cancel).map_err(e);
            Outcome::Traverse(run, r)
        }
        Request::Ood { run, rois } => {
            let r = model::ood(cache, &run, &rois, cancel).map_err(e);
            Outcome::Ood(run, r)
        }
        Request::DecodeCodes { run, codes } => {
            let r = model::decode_codes(cache, &run, &codes, cancel).map_err(e);
            Outcome::Decoded(run, codes, r)
        }
        Request::Codebook { run } => {
            let r = model::codebook(cache, &run, cancel).map_err(e);
            Outcome::Codebook(run, r)
        }
        Request::Classify { run, protocol } => {
            let progress =
                |what: &str| send(Outcome::ClassifyProgress(run.clone(), what.to_string()));
            let r = model::classify(cache, &run, protocol, cancel, progress).map_err(e);
            Outcome::Classify(run, r)
        }
        Request::Compare { runs } => {
            let progress =
                |what: &str| send(Outcome::CompareProgress(runs.clone(), what.to_string()));
            let r = compare_runs(cache, &runs, cancel, progress).map_err(e);
            Outcome::Compare(runs, r)
        }
        Request::OpenFrames(dir) => {
            let r = files::open_frames(&dir);
            Outcome::Frames(dir, r)
        }
        Request::Frame { dir, index, file } => {
            let r = files::read_frame(&dir.join(file));
            Outcome::Frame(dir, index, r)
        }
        Request::SaveCoords { path, rows } => {
            let r = files::save_coords(&path, &rows);
            Outcome::Saved(path, r)
        }
        Request::Extract { dir, rows, out } => {
            let r = files::extract(&dir, &rows, &out);
            Outcome::Extracted(out, r)
        }
        Request::DeleteRun(path) => {
            let r = files::delete_run(&path);
            if r.is_ok() {
                cache.forget(&path);
            }
            Outcome::Deleted(path, r)
        }
        Request::OpenRun(run) => {
            let r = files::look_at_run(&run);
            Outcome::RunOpened(run, r)
        }
        Request::Watch { run, seen } => Outcome::Watched(files::poll_watch(&run, seen)),
        Request::Steps { runs, epoch } => {
            let frames = super::steps::load(&runs, epoch);
            Outcome::Steps(runs, epoch, frames)
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    if cancel.is_cancelled() {
        tracing::debug!(?kind, secs, "job cancelled");
        return;
    }
    tracing::debug!(?kind, secs, "job done");
    send(outcome);
}
/// Loads a folder and the split the CLI would use for it (the CSV's column, else stratified 0.2).
pub fn load_data(dir: &Path, opts: &LoadOptions) -> anyhow::Result<DataLoaded> {
    let dataset = load_folder(dir, opts)?;
    let split =
        Split::from_dataset_column(&dataset).or_else(|| Split::stratified(&dataset, 0.2, 0).ok());
    Ok(DataLoaded {
        dir: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
        dataset: Arc::new(dataset),
        split,
    })
}

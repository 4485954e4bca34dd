//! Background work: every call into the engine that takes more than a moment (loading data,
//! opening a run, reconstructions, traversals, SVMs) runs on its own thread and comes back as a
//! message. Panes never touch a model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use tokio::sync::mpsc::UnboundedSender;

pub use super::multirun::{compare_runs, peers, CompareData, PeerRecon};
use super::Msg;
use crate::data::{load_folder, Dataset, Label, LoadOptions, PatientId, Roi, Side, Split};
use crate::eval::{self, svm, Classification, Protocol, RoiMetrics, Summary};
use crate::model::{roi_tensor, ModelConfig, VqVae};
pub use crate::runs::{list as list_runs, RunSummary};
use crate::train::{checkpoint, LoadedRun};

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

#[derive(Debug, Clone, PartialEq)]
pub struct ReconData {
    pub run: PathBuf,
    /// The run's model (`vqvae`, ...).
    pub model: String,
    pub epoch: usize,
    pub rois: Vec<ReconRoi>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraversalData {
    pub run: PathBuf,
    pub dim: usize,
    pub dims: usize,
    pub offsets: Vec<f64>,
    pub images: Vec<Vec<f32>>,
}

/// Every code decoded as a texture, and how often test ROIs of each class use it.
#[derive(Debug, Clone, PartialEq)]
pub struct CodebookData {
    pub run: PathBuf,
    pub prototypes: Vec<Vec<f32>>,
    /// `[healthy, steatosis]` counts of each code over the test ROIs' 7x7 maps.
    pub usage: Vec<[u64; 2]>,
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
    Codebook(PathBuf, Result<CodebookData, String>),
    ClassifyProgress(PathBuf, String),
    Classify(PathBuf, Result<Classification, String>),
    CompareProgress(Vec<PathBuf>, String),
    Compare(Vec<PathBuf>, Result<CompareData, String>),
}

/// Starts `req` on a thread; its outcome arrives on `tx` as [`Msg::Job`].
pub fn spawn(req: Request, opts: LoadOptions, tx: UnboundedSender<Msg>) {
    let name = format!("vqtex-job-{}", kind(&req));
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let send = |o: Outcome| {
            let _ = tx.send(Msg::Job(o));
        };
        let t0 = std::time::Instant::now();
        tracing::debug!(?req, "job started");
        let e = |x: anyhow::Error| format!("{x:#}");
        match req.clone() {
            Request::LoadData(dir) => send(Outcome::Data(load_data(&dir, &opts).map_err(e))),
            Request::ListRuns(dir) => send(Outcome::Runs(list_runs(&dir))),
            Request::Recon { run, pick } => {
                send(Outcome::Recon(run.clone(), recon(&run, pick).map_err(e)))
            }
            Request::Peers {
                run,
                runs_dir,
                pick,
            } => send(Outcome::Peers(
                run.clone(),
                pick,
                peers(&run, &runs_dir, pick).map_err(e),
            )),
            Request::Thumbs { run } => send(Outcome::Thumbs(run.clone(), thumbs(&run).map_err(e))),
            Request::Traverse {
                run,
                dim,
                steps,
                range,
            } => send(Outcome::Traverse(
                run.clone(),
                traverse(&run, dim, steps, range).map_err(e),
            )),
            Request::Codebook { run } => {
                send(Outcome::Codebook(run.clone(), codebook(&run).map_err(e)))
            }
            Request::Classify { run, protocol } => {
                let progress =
                    |what: &str| send(Outcome::ClassifyProgress(run.clone(), what.to_string()));
                let r = classify(&run, protocol, progress).map_err(e);
                send(Outcome::Classify(run.clone(), r));
            }
            Request::Compare { runs } => {
                let progress =
                    |what: &str| send(Outcome::CompareProgress(runs.clone(), what.to_string()));
                let r = compare_runs(&runs, progress).map_err(e);
                send(Outcome::Compare(runs.clone(), r));
            }
        }
        tracing::debug!(
            kind = kind(&req),
            secs = t0.elapsed().as_secs_f64(),
            "job done"
        );
    });
    if let Err(err) = spawned {
        tracing::error!("cannot start a background job: {err}");
    }
}

fn kind(req: &Request) -> &'static str {
    match req {
        Request::LoadData(_) => "data",
        Request::ListRuns(_) => "runs",
        Request::Recon { .. } => "recon",
        Request::Peers { .. } => "peers",
        Request::Thumbs { .. } => "thumbs",
        Request::Traverse { .. } => "traverse",
        Request::Codebook { .. } => "codebook",
        Request::Classify { .. } => "classify",
        Request::Compare { .. } => "compare",
    }
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

pub(super) fn open(run: &Path) -> anyhow::Result<LoadedRun> {
    Ok(LoadedRun::open(run, &Device::Cpu)?)
}

/// The run's model as a VQ-VAE, for what only VQ models have (codes, prototypes).
fn open_vqvae(run: &LoadedRun) -> anyhow::Result<Option<VqVae>> {
    match &run.config.model {
        ModelConfig::Vqvae(c) => {
            let model = VqVae::new(c.clone(), run.config.train.seed, &run.device)?;
            let ckpt = checkpoint::load_latest_for(&run.dir.checkpoints(), &model, &run.device)?;
            crate::model::Autoencoder::params(&model).load(&ckpt.tensors)?;
            Ok(Some(model))
        }
        #[allow(unreachable_patterns)]
        _ => Ok(None),
    }
}

pub(super) fn test_rois(run: &LoadedRun) -> Vec<&Roi> {
    run.dataset
        .indices(&run.split, Side::Test)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect()
}

/// 2 healthy and 2 steatotic test ROIs, spread over the test set; `pick` moves to other ones.
pub fn pick_rois<'a>(test: &[&'a Roi], pick: usize) -> Vec<&'a Roi> {
    let mut out = Vec::new();
    for label in Label::ALL {
        let of: Vec<&Roi> = test.iter().copied().filter(|r| r.label == label).collect();
        if of.is_empty() {
            continue;
        }
        let stride = (of.len() / 2).max(1);
        for k in 0..2 {
            out.push(of[(pick * 7 + k * stride) % of.len()]);
        }
    }
    out
}

fn thumbs(run: &Path) -> anyhow::Result<Thumbs> {
    let run = open(run)?;
    let test = test_rois(&run);
    let rois = pick_rois(&test, 0);
    let recons = eval::reconstruct(run.model.as_ref(), &rois)?;
    Ok(Thumbs {
        run: run.dir.path.clone(),
        epoch: run.epoch,
        labels: rois.iter().map(|r| r.label).collect(),
        originals: rois.iter().map(|r| r.pixels.clone()).collect(),
        recons,
    })
}

fn codes_of(model: &VqVae, rois: &[&Roi], device: &Device) -> anyhow::Result<Vec<u32>> {
    let x = roi_tensor(rois, device)?;
    let mut codes = Vec::new();
    for start in (0..rois.len()).step_by(256) {
        let len = 256.min(rois.len() - start);
        let z = model.encode_continuous(&x.narrow(0, start, len)?)?;
        codes.extend(model.quantize(&z)?.codes.to_vec1::<u32>()?);
    }
    Ok(codes)
}

fn recon(run: &Path, pick: usize) -> anyhow::Result<ReconData> {
    let run = open(run)?;
    let test = test_rois(&run);
    let rois = pick_rois(&test, pick);
    let recons = eval::reconstruct(run.model.as_ref(), &rois)?;
    let codes = match open_vqvae(&run)? {
        Some(m) => Some(codes_of(&m, &rois, &run.device)?),
        None => None,
    };
    let summary = eval::evaluate(&run)?.summary;
    let rois = rois
        .iter()
        .zip(recons)
        .enumerate()
        .map(|(i, (r, y))| ReconRoi {
            file: r.file.clone(),
            label: r.label,
            pixels: r.pixels.clone(),
            metrics: RoiMetrics::of(&r.to_unit(), &y),
            recon: y,
            codes: codes.as_ref().map(|c| c[i * 49..(i + 1) * 49].to_vec()),
        })
        .collect();
    Ok(ReconData {
        run: run.dir.path.clone(),
        model: run.config.model.name().to_string(),
        epoch: run.epoch,
        rois,
        summary,
    })
}

fn traverse(run: &Path, dim: usize, steps: usize, range: f64) -> anyhow::Result<TraversalData> {
    let run = open(run)?;
    let dims = run.model.latent_dim();
    let t = eval::traversal::traverse(&run, dim.min(dims.saturating_sub(1)), steps, range)?;
    Ok(TraversalData {
        run: run.dir.path.clone(),
        dim: t.dim,
        dims,
        offsets: t.offsets,
        images: t.images,
    })
}

fn codebook(run: &Path) -> anyhow::Result<CodebookData> {
    let run = open(run)?;
    let model =
        open_vqvae(&run)?.ok_or_else(|| anyhow::anyhow!("{} has no codebook", run.model.name()))?;
    let k = model.config().codebook_size;
    let codes: Vec<u32> = (0..k as u32).flat_map(|c| [c; 49]).collect();
    let codes = Tensor::from_vec(codes, k * 49, &run.device)?;
    let prototypes = model
        .decode_codes(&codes, k)?
        .flatten_from(1)?
        .to_vec2::<f32>()?;
    let test = test_rois(&run);
    let used = codes_of(&model, &test, &run.device)?;
    let mut usage = vec![[0u64; 2]; k];
    for (i, c) in used.iter().enumerate() {
        usage[*c as usize][test[i / 49].label.index()] += 1;
    }
    Ok(CodebookData {
        run: run.dir.path.clone(),
        prototypes,
        usage,
    })
}

fn classify(
    run: &Path,
    protocol: Protocol,
    progress: impl Fn(&str),
) -> anyhow::Result<Classification> {
    progress("opening the run");
    let run = open(run)?;
    let test = test_rois(&run);
    let labels: Vec<Label> = test.iter().map(|r| r.label).collect();
    let patients: Vec<PatientId> = test.iter().map(|r| r.patient.clone()).collect();
    let seed = run.config.train.seed;
    progress("SVM on pixels (1/2)");
    let pixels = svm::classify(&eval::pixels(&test), &labels, &patients, protocol, seed)?;
    progress("SVM on latent vectors (2/2)");
    let z = eval::latents(run.model.as_ref(), &test)?;
    let latents = svm::classify(&z, &labels, &patients, protocol, seed)?;
    let n = pixels.confusion.iter().flatten().sum();
    Ok(Classification {
        protocol,
        n,
        pixels,
        latents,
    })
}

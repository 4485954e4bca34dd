//! Command-line definitions (clap). `vqtex` with no command opens the workbench on sample-data.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::device::DeviceSpec;
use crate::eval::Protocol;

mod codes;
pub use codes::CodesArgs;
mod ood;
pub use ood::OodArgs;
mod swap;
pub use swap::SwapArgs;
mod sensitivity;
pub use sensitivity::SensitivityArgs;
mod cv;
pub use cv::{CvArgs, ExportCommand, ExportFeaturesArgs};

#[derive(Debug, Parser)]
#[command(
    name = "vqtex",
    version,
    about = "VQ-VAE models of liver ultrasound textures: train, inspect, classify",
    long_about = "vqtex trains and inspects VQ-VAE models of 28x28 liver ultrasound ROIs and checks \
                  whether the learned codes tell healthy from steatotic liver (Mello & Machado).\n\n\
                  With no command it opens the workbench on the bundled sample-data; every job also \
                  has a headless command below."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The workbench's options, given without a command (`vqtex --theme light --data DIR`), as
    /// `vqtex tui` takes them.
    #[command(flatten)]
    pub tui: TuiArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the workbench (the default when no command is given).
    Tui(TuiArgs),
    /// Open the workbench on a run another process is writing (`vqtex train` in tmux or nohup).
    Watch(WatchArgs),
    /// Generate the synthetic liver-ultrasound dataset (55 patients x 10 ROIs + labels.csv), or with
    /// --frames full B-mode frames with frames.csv and coords.csv.
    Synth(SynthArgs),
    /// Bring your own ultrasound: B-mode frames from the Byra .mat file, PNG or DICOM into a frames
    /// folder (PNGs + frames.csv).
    #[command(subcommand)]
    Import(ImportCommand),
    /// ROIs from frames: `roi extract` cuts the liver and kidney boxes and HI-normalises the liver.
    #[command(subcommand)]
    Roi(RoiCommand),
    /// Train a VQ-VAE on a ROI folder into a run directory.
    Train(TrainArgs),
    /// List the runs in the runs folder, newest first: model, status (running = a live process
    /// holds the run), epochs, created time and test MSE once evaluated.
    Runs(RunsArgs),
    /// Reconstruction metrics (MSE, MAE, SSIM, PSNR) of a run on its test ROIs.
    Eval(EvalArgs),
    /// SVMs on raw pixels vs on the run's latent vectors, on its test patients.
    Classify(ClassifyArgs),
    /// Each VQ-VAE code's use by healthy and steatotic test ROIs (odds ratio, Fisher p, BH) and the
    /// echogenicity, heterogeneity and granularity of the image patches it covers.
    Codes(CodesArgs),
    /// Out-of-distribution scores: how unlike the run's training ROIs each ROI of a folder is
    /// (reconstruction error, latent density, distance to the codes, speckle statistics), as a
    /// percentile of the training ROIs; with --against, the AUROC of telling a second folder apart.
    Ood(OodArgs),
    /// Edit a VQ-VAE ROI's 7x7 code map (every use of one code, or one cell) and draw the ROI, its
    /// reconstruction and the edited reconstruction as a PNG.
    Swap(SwapArgs),
    /// Sensitivity analysis: the change per sd of each latent variable in the decoded ROI's
    /// echogenicity, heterogeneity and granularity, standardised by the training ROIs' spread.
    Sensitivity(SensitivityArgs),
    /// Latent traversal (the paper's Fig. 4) of one latent variable, as a PNG strip.
    Traverse(TraverseArgs),
    /// The whole pipeline: split, train one or all models, evaluate, classify, traverse; Tables 1
    /// and 2 and the figures, compared with the paper.
    Reproduce(ReproduceArgs),
    /// Cross-validation by patient over all patients: each fold trains the models on its
    /// training patients only, and SVMs on pixels, first-order and GLCM texture features and each
    /// model's latents predict the held-out patients; scores per ROI and per patient with
    /// intervals, paired comparisons, report.md and roc.png. When the labels have a `fat`
    /// column, each set also regresses fat (ridge and SVR; Spearman and MAE by patient).
    Cv(CvArgs),
    /// Export what vqtex computes, for Python users.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Speed: seconds per epoch, GFLOP/s against this machine's gemm, inference, SVM fits.
    Bench(BenchArgs),
    /// Draw the workbench's panes as PNG files from fixed sample state (for the README and docs;
    /// `scripts/screenshots.sh`).
    #[command(hide = true)]
    Screenshot(ScreenshotArgs),
}

#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    /// The pane to draw: all, a pane's name (data, train, recon, latent, classify, runs, compare,
    /// picker) or its number, 1 to 8.
    #[arg(long, default_value = "all", value_name = "NAME|N|all")]
    pub pane: String,
    /// Terminal size in cells, WIDTHxHEIGHT (60x20 to 400x150); each cell is 8x16 pixels.
    #[arg(long, default_value = "80x24", value_name = "WxH", value_parser = parse_term_size)]
    pub size: (u16, u16),
    /// Folder for the PNGs, `<pane>-<W>x<H>.png` (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// ROI folder the panes show (default: sample-data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// A terminal size `WIDTHxHEIGHT` in cells, from the workbench's smallest (60x20) to 400x150.
fn parse_term_size(s: &str) -> Result<(u16, u16), String> {
    let parsed = s
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u16>().ok()?, h.trim().parse::<u16>().ok()?)));
    match parsed {
        Some((w, h)) if (60..=400).contains(&w) && (20..=150).contains(&h) => Ok((w, h)),
        Some(_) => Err(format!("'{s}': the size must be 60x20 to 400x150")),
        None => Err(format!("'{s}' is not WIDTHxHEIGHT, e.g. 80x24")),
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Epochs to time, 1 to 100 (the first is a warm-up when more than one).
    #[arg(long, default_value_t = 4, value_parser = |s: &str| bounded(s, 1, MAX_BENCH_EPOCHS))]
    pub epochs: usize,
    /// Models to benchmark, comma-separated (default: all five, vqvae, cae, vae, vaenf and mae; the
    /// MAE alone takes about 3 s an epoch on a 2-core CPU).
    #[arg(long, value_delimiter = ',', value_name = "NAMES", value_parser = parse_model_name)]
    pub models: Vec<String>,
    /// ROI folder to train on (default: sample-data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
    /// Print JSON: {"models": {"vqvae": {"seconds_per_epoch", "train_gflops", ...}}, "gemm_gflops", "gemm_ratio", ...}.
    #[arg(long)]
    pub json: bool,
    /// Benchmark the workbench instead: ms to draw a full frame of each pane at 200x60, and bytes/s
    /// written to the terminal while a training runs (with --json: {"panes": [...], "streams": [...]}).
    #[arg(long)]
    pub tui: bool,
}

/// The most epochs `bench` times.
pub const MAX_BENCH_EPOCHS: usize = 100;
/// The most patients of each class `synth --frames/--mat` makes (the Byra dataset has 55).
pub const MAX_SYNTH_PATIENTS: usize = 1000;
/// The most frames per patient `synth --frames/--mat` makes (the Byra dataset has 10).
pub const MAX_SYNTH_FRAMES: usize = 100;
/// The largest frame side `synth --size` takes (the Byra frames are 636x434).
pub const MAX_SYNTH_SIDE: usize = 4096;
/// The most pixels (bytes) of frames one `synth` makes in all: 1 GiB, about 7 times the Byra data.
pub const MAX_SYNTH_PIXELS: usize = 1 << 30;

/// An integer option within `lo..=hi` (clap names the option in the error).
fn bounded(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number (expected {lo} to {hi})"))?;
    if n < lo || n > hi {
        return Err(format!("{n} is out of range: expected {lo} to {hi}"));
    }
    Ok(n)
}

/// `traverse --steps`: the traversal engine's limits.
fn parse_steps(s: &str) -> Result<usize, String> {
    let r = crate::eval::traversal::STEPS;
    bounded(s, *r.start(), *r.end())
}

/// `traverse --range`: finite, above 0, at most the engine's limit (in sd).
fn parse_range(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    crate::eval::traversal::check_range(r)?;
    Ok(r)
}

/// The models `reproduce --models` names, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelList(pub Vec<crate::model::ModelConfig>);

fn parse_models(s: &str) -> Result<ModelList, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(ModelList(
            crate::model::ModelConfig::NAMES
                .iter()
                .filter_map(|n| crate::model::ModelConfig::from_name(n))
                .collect(),
        ));
    }
    let mut list: Vec<crate::model::ModelConfig> = Vec::new();
    for name in s.split(',').filter(|n| !n.trim().is_empty()) {
        let m = parse_model(name)?;
        if list.iter().any(|x| x.kind() == m.kind()) {
            return Err(format!("model '{}' is listed twice", m.name()));
        }
        list.push(m);
    }
    if list.is_empty() {
        return Err(format!(
            "no model given (expected `all` or a comma list of: {})",
            crate::model::ModelConfig::NAMES.join(", ")
        ));
    }
    Ok(ModelList(list))
}

fn parse_model_name(s: &str) -> Result<String, String> {
    parse_model(s).map(|m| m.name().to_string())
}

fn parse_model(s: &str) -> Result<crate::model::ModelConfig, String> {
    crate::model::ModelConfig::from_name(s).ok_or_else(|| {
        format!(
            "unknown model '{s}' (expected one of: {})",
            crate::model::ModelConfig::NAMES.join(", ")
        )
    })
}

/// How to read a ROI folder.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Folder of 28x28 PNG ROIs with a labels CSV.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The labels CSV (default: DIR/labels.csv).
    #[arg(long, value_name = "CSV")]
    pub labels: Option<PathBuf>,
    /// Column of the CSV holding the file name.
    #[arg(long, default_value = "file", value_name = "NAME")]
    pub file_col: String,
    /// Column holding the label (healthy/steatosis or 0/1).
    #[arg(long, default_value = "label", value_name = "NAME")]
    pub label_col: String,
    /// Column holding the patient id.
    #[arg(long, default_value = "patient", value_name = "NAME")]
    pub patient_col: String,
    /// Derive the patient id from the file name: a regex whose first group is the id, e.g. 'ROI_(\d+)_'.
    #[arg(long, value_name = "REGEX")]
    pub patient_from: Option<String>,
    /// Resize ROIs that are not 28x28 instead of rejecting them.
    #[arg(long)]
    pub resize: bool,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder (must be empty or not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the generator (sample-data/ uses the default).
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// Write full B-mode frames with frames.csv and coords.csv (liver and kidney boxes) instead of
    /// ROIs: the input of `vqtex roi extract` (sample-data/frames/ uses the defaults).
    #[arg(long)]
    pub frames: bool,
    /// Write a Byra-layout MAT v5 file to OUT (compressed, MATLAB header) with frames of the size
    /// given; for tests and measurements.
    #[arg(long, hide = true, conflicts_with = "frames")]
    pub mat: bool,
    /// With --frames: healthy patients (0 to 1000).
    #[arg(long, value_name = "N", value_parser = |s: &str| bounded(s, 0, MAX_SYNTH_PATIENTS))]
    pub healthy: Option<usize>,
    /// With --frames: steatotic patients (0 to 1000).
    #[arg(long, value_name = "N", value_parser = |s: &str| bounded(s, 0, MAX_SYNTH_PATIENTS))]
    pub steatotic: Option<usize>,
    /// With --frames: frames per patient (1 to 100).
    #[arg(long, value_name = "N", value_parser = |s: &str| bounded(s, 1, MAX_SYNTH_FRAMES))]
    pub per_patient: Option<usize>,
    /// With --frames: frame size in pixels, WIDTHxHEIGHT (default 180x120; 150x100 to
    /// 4096x4096). All frames together may hold at most 1 GiB of pixels.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub size: Option<(usize, usize)>,
}

impl SynthArgs {
    /// The limit on all frames together (each option is bounded alone by its parser): `defaults`
    /// are (healthy, steatotic, frames per patient, width, height) when not given.
    pub fn check_total(&self, defaults: (usize, usize, usize, usize, usize)) -> Result<(), String> {
        let (h, s, f, w, hh) = defaults;
        let (w, hh) = self.size.unwrap_or((w, hh));
        let patients = self.healthy.unwrap_or(h) + self.steatotic.unwrap_or(s);
        let frames = patients.saturating_mul(self.per_patient.unwrap_or(f));
        let pixels = frames.saturating_mul(w).saturating_mul(hh);
        if pixels > MAX_SYNTH_PIXELS {
            return Err(format!(
                "{frames} frames of {w}x{hh} are {} MiB of pixels, over the limit of {} MiB: \
                 fewer patients (--healthy, --steatotic), --per-patient or a smaller --size",
                pixels >> 20,
                MAX_SYNTH_PIXELS >> 20
            ));
        }
        Ok(())
    }
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT, e.g. 636x434"))?;
    match (w.trim().parse::<usize>(), h.trim().parse::<usize>()) {
        (Ok(w), Ok(h))
            if (150..=MAX_SYNTH_SIDE).contains(&w) && (100..=MAX_SYNTH_SIDE).contains(&h) =>
        {
            Ok((w, h))
        }
        (Ok(_), Ok(_)) => Err(format!(
            "'{s}': frames must be at least 150x100 and at most {MAX_SYNTH_SIDE}x{MAX_SYNTH_SIDE}"
        )),
        _ => Err(format!("'{s}' is not WIDTHxHEIGHT, e.g. 636x434")),
    }
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// The Byra et al. dataset file (MAT v5/v7, struct array `data` with id, class, fat, images):
    /// each patient's frames as PNG plus frames.csv, read one patient at a time.
    Mat(ImportMatArgs),
    /// A folder of PNG B-mode frames, labelled by a CSV with a row per file.
    Frames(ImportFilesArgs),
    /// A folder of DICOM files (single or multi-frame; gray, RGB or YBR to gray), labelled by a CSV
    /// with a row per file; the patient is the file's PatientID unless the CSV or --patient-from says.
    Dicom(ImportFilesArgs),
}

#[derive(Debug, Args)]
pub struct ImportMatArgs {
    /// The .mat file.
    pub file: PathBuf,
    /// Output folder (must be empty or not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportFilesArgs {
    /// The folder holding the frames (not searched recursively).
    pub dir: PathBuf,
    /// CSV with a row per input file: file, label (healthy/steatosis or 0/1), optional patient and fat.
    #[arg(long, value_name = "CSV")]
    pub labels: PathBuf,
    /// Output folder (must be empty or not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Column of the CSV holding the file name.
    #[arg(long, default_value = "file", value_name = "NAME")]
    pub file_col: String,
    /// Column holding the label.
    #[arg(long, default_value = "label", value_name = "NAME")]
    pub label_col: String,
    /// Column holding the patient id.
    #[arg(long, default_value = "patient", value_name = "NAME")]
    pub patient_col: String,
    /// Derive the patient id from the file name: a regex whose first group is the id.
    #[arg(long, value_name = "REGEX")]
    pub patient_from: Option<String>,
    /// Read input files that are symbolic links leading out of DIR (refused by default).
    #[arg(long)]
    pub allow_links: bool,
}

#[derive(Debug, Subcommand)]
pub enum RoiCommand {
    /// Cut each frame's 28x28 liver and kidney boxes, compute HI = mean(liver) / mean(kidney), and
    /// write the HI-normalised liver ROIs with labels.csv (file, patient, label, hi): ready for
    /// `vqtex train --data OUT`.
    Extract(RoiExtractArgs),
}

#[derive(Debug, Args)]
pub struct RoiExtractArgs {
    /// Frames folder with frames.csv (from `vqtex import`).
    #[arg(long, value_name = "DIR")]
    pub frames: PathBuf,
    /// Boxes: file,liver_x,liver_y,kidney_x,kidney_y (top-left corners of 28x28 boxes).
    #[arg(long, value_name = "CSV")]
    pub coords: PathBuf,
    /// Output ROI folder (must be empty or not exist, and outside the frames folder).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Read frames that are symbolic links leading out of the frames folder (refused by default).
    #[arg(long)]
    pub allow_links: bool,
}

/// Training hyperparameters shared by `train` and `reproduce`.
#[derive(Debug, Clone, Args)]
pub struct HyperArgs {
    /// Epochs (paper: 250). For `vqtex train --resume`: the run's new target (default: its
    /// configured epochs; a larger number extends a finished run).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Batch size (paper: 64).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Model: vqvae, cae, vae, vaenf or mae (the paper's VQ-VAE and baselines, paper defaults).
    #[arg(long, default_value = "vqvae", value_parser = parse_model)]
    pub model: crate::model::ModelConfig,
    /// Learning rate of Adam (default: the paper's for the model: 2e-4 VQ-VAE and CAE, 1e-4 VAE,
    /// 5e-5 VAE+NF).
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Seed for initial weights, split, shuffles (same seed, same losses on CPU).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute device: cpu or cuda:N.
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
    /// Write a checkpoint every N epochs (and after the last).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub checkpoint_every: usize,
}

impl HyperArgs {
    /// The paper's number of epochs.
    pub const PAPER_EPOCHS: usize = 250;

    /// `--epochs`, or the paper's 250.
    pub fn epochs(&self) -> usize {
        self.epochs.unwrap_or(Self::PAPER_EPOCHS)
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Force the split: a CSV `patient,split` with split train|test.
    #[arg(long, value_name = "CSV")]
    pub split: Option<PathBuf>,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Folder holding runs (default: vqtex's data dir). A new run gets a dated sub-folder.
    #[arg(long, value_name = "DIR", conflicts_with = "run")]
    pub runs_dir: Option<PathBuf>,
    /// The run directory to create.
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Continue the run in RUN from its last checkpoint.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["run", "runs_dir", "split"])]
    pub resume: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Print JSON: {"n", "mse": {"mean", "std"}, "mae", "ssim", "psnr"}.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The run directory.
    pub run: PathBuf,
    /// paper: test patients split again (about 80/30 ROIs); lopo: leave one test patient out.
    #[arg(
        long,
        default_value = "paper",
        value_parser = clap::builder::TypedValueParser::try_map(
            clap::builder::PossibleValuesParser::new(Protocol::NAMES),
            |s| s.parse::<Protocol>(),
        ),
    )]
    pub protocol: Protocol,
    /// Print JSON with `pixels` and `latents` scores.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

#[derive(Debug, Args)]
pub struct TraverseArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The latent variable to move (0-based).
    #[arg(long, value_name = "K")]
    pub dim: usize,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    pub out: PathBuf,
    /// Number of steps, 2 to 64.
    #[arg(long, default_value_t = 5, value_parser = parse_steps)]
    pub steps: usize,
    /// Range in standard deviations (from -R to +R): above 0, at most 10.
    #[arg(long, default_value_t = 2.0, value_parser = parse_range)]
    pub range: f64,
    /// Where the traversal starts: `roi`, one real ROI's own latent map (its texture kept; the
    /// VQ-VAE gives a z_e row and a re-quantised row), or `mean`, the mean latent map of the
    /// training ROIs (the old, textureless traversal).
    #[arg(long, value_enum, default_value_t = TraverseFrom::Roi, value_name = "roi|mean")]
    pub from: TraverseFrom,
    /// The anchor ROI for `--from roi`: its file name as in the dataset (default: the medoid of
    /// the steatotic test ROIs in latent space).
    #[arg(long, value_name = "FILE")]
    pub roi: Option<String>,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

/// `traverse --from`: what the traversal shifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraverseFrom {
    /// One ROI's own latent map.
    Roi,
    /// The mean latent map of the training ROIs.
    Mean,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Models to train and compare on the same split: `all`, or a comma list such as
    /// `vqvae,cae,vae` (default: the one --model names). Each gets its paper learning rate unless
    /// --lr is given, which then applies to all.
    #[arg(long, value_name = "all|LIST", value_parser = parse_models)]
    pub models: Option<ModelList>,
    /// Output folder (default: a dated folder in vqtex's data dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print JSON: `eval` and `classify` as for one model (the VQ-VAE's), each model under
    /// `eval.<model>` and `classify.<model>`, the paired `tests`, and `models` with timings
    /// (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Theme: dark, light, high-contrast, a user theme's name, or a path to a theme file.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Folder holding runs (default: vqtex's data dir).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// How images are drawn: kitty or sixel pixels, half-blocks, or auto (by the terminal; half-
    /// blocks inside tmux). Wins over the config's `images`.
    #[arg(long, value_name = "auto|halfblocks|kitty|sixel", value_parser = parse_images)]
    pub images: Option<crate::tui::Images>,
}

fn parse_images(s: &str) -> Result<crate::tui::Images, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Folder holding runs (default: vqtex's data dir, where `train` puts them).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Print a JSON array, one object per run (`path`, `name`, `model`, `status`, `holder`,
    /// `epoch`, `epochs`, `train_loss`, `test_loss`, `test_mse`, `created`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The run to follow: its folder, or its name in the runs folder.
    pub run: PathBuf,
    /// Folder holding runs, where a run given by name is looked for (default: vqtex's data dir).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Theme: dark, light, high-contrast, a user theme's name, or a path to a theme file.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// How images are drawn (as for `vqtex tui`).
    #[arg(long, value_name = "auto|halfblocks|kitty|sixel", value_parser = parse_images)]
    pub images: Option<crate::tui::Images>,
}

//! `vqtex cv`'s options.

use std::path::PathBuf;

use clap::Args;

use super::{parse_models, DataArgs, HyperArgs, ModelList};

#[derive(Debug, Args)]
pub struct CvArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Folds: all patients dealt into k folds, stratified by class.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub folds: u64,
    /// Repeats of the whole cross-validation with other fold assignments.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub repeats: u64,
    /// Models trained in each fold on the fold's training patients: `all`, or a comma list such
    /// as `vqvae,cae` (default: the one --model names, the VQ-VAE).
    #[arg(long, value_name = "all|LIST", value_parser = parse_models)]
    pub models: Option<ModelList>,
    /// Feature sets to classify, comma-separated: pixels, firstorder, glcm, a model's name (its
    /// 32-d latents), vqvae-codes, vqvae-ze (default: every set the models allow).
    #[arg(long, value_name = "LIST")]
    pub features: Option<String>,
    /// Output folder (default: a dated folder in vqtex's runs folder). Run `cv` again with the
    /// same folder and settings to continue an interrupted cross-validation.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print cv.json on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExportCommand {
    /// The feature matrices vqtex classifies, one row per ROI, for checking any number in a
    /// notebook: `.csv` (file, patient, label, one column per feature) or `.npy` (float64, with
    /// `<stem>-rows.csv` and `<stem>-columns.txt` beside it).
    Features(ExportFeaturesArgs),
}

#[derive(Debug, Args)]
pub struct ExportFeaturesArgs {
    /// A run folder: its data, and its model for the learned sets (its model's name, and
    /// vqvae-codes, vqvae-ze for a VQ-VAE run). Without it, --data and the hand-made sets only.
    #[arg(value_name = "RUN")]
    pub run: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Feature sets, comma-separated: pixels, firstorder, glcm, a model's name, vqvae-codes,
    /// vqvae-ze.
    #[arg(long, value_name = "LIST")]
    pub features: String,
    /// The file to write: .csv or .npy.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: crate::device::DeviceSpec,
}

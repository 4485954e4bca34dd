//! `vqtex ood`'s options.

use std::path::PathBuf;

use clap::Args;

use crate::device::DeviceSpec;

#[derive(Debug, Args)]
pub struct OodArgs {
    /// The run whose model and training ROIs define "in distribution".
    pub run: PathBuf,
    /// A folder of 28x28 PNG ROIs to score (a labels CSV is not needed).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// A second folder treated as out of distribution: prints the AUROC of telling it from --data.
    #[arg(long, value_name = "DIR")]
    pub against: Option<PathBuf>,
    /// Print JSON: {"n", "rois": [{"file", "recon_error", "density", "vq_distance", "texture",
    /// "score"}, ...]}, and "auroc" with --against.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

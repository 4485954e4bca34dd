//! `vqtex sensitivity`'s options.

use std::path::PathBuf;

use clap::Args;

use crate::device::DeviceSpec;
use crate::eval::sensitivity::{DEFAULT_ROIS, MAX_ROIS};

#[derive(Debug, Args)]
pub struct SensitivityArgs {
    /// The run directory (any model).
    pub run: PathBuf,
    /// Print JSON: {"run", "model", "rois", "training_sd", "rows": [{"dim", "echogenicity",
    /// "heterogeneity", "granularity", "dominant", "raw", "granularity_rois", "latent_sd"}, ...]},
    /// one row per latent variable.
    #[arg(long)]
    pub json: bool,
    /// Test ROIs to average over, spread evenly over the test side (1 to 4096; all of them when
    /// there are fewer).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ROIS, value_parser = parse_rois)]
    pub rois: usize,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

fn parse_rois(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number (expected 1 to {MAX_ROIS})"))?;
    if !(1..=MAX_ROIS).contains(&n) {
        return Err(format!("{n} is out of range: expected 1 to {MAX_ROIS}"));
    }
    Ok(n)
}

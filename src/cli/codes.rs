//! `vqtex codes`' options.

use std::path::PathBuf;

use clap::Args;

use crate::device::DeviceSpec;
use crate::eval::codes::CodeSort;

#[derive(Debug, Args)]
pub struct CodesArgs {
    /// The run directory (a VQ-VAE run).
    pub run: PathBuf,
    /// Print JSON: {"run", "n_rois", "codes": [{"code", "positions", "rois", "odds_ratio",
    /// "or_ci95", "p", "p_bh", "echogenicity", "heterogeneity", "granularity"}, ...]}, every code.
    #[arg(long)]
    pub json: bool,
    /// Order of the codes: code; or (odds ratio, steatosis first); p (smallest first); echo,
    /// hetero, gran (the texture, largest first).
    #[arg(
        long,
        default_value = "code",
        value_parser = clap::builder::TypedValueParser::try_map(
            clap::builder::PossibleValuesParser::new(CodeSort::NAMES),
            |s| s.parse::<CodeSort>(),
        ),
    )]
    pub sort: CodeSort,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

//! `vqtex swap`'s options.

use std::path::PathBuf;

use clap::Args;

use crate::device::DeviceSpec;
use crate::eval::swap::Edit;

#[derive(Debug, Args)]
pub struct SwapArgs {
    /// The run directory (a VQ-VAE run).
    pub run: PathBuf,
    /// The ROI whose code map to edit: its file name as in the run's dataset.
    #[arg(long, value_name = "FILE")]
    pub roi: String,
    /// Replace every use of code I by the code --to names.
    #[arg(
        long,
        value_name = "I",
        required_unless_present = "cell",
        conflicts_with = "cell"
    )]
    pub from: Option<u32>,
    /// Set the one cell at row R, column C of the 7x7 code map (0-based) to the code --to names.
    #[arg(long, value_name = "R,C", value_parser = parse_cell)]
    pub cell: Option<(usize, usize)>,
    /// The code written.
    #[arg(long, value_name = "J")]
    pub to: u32,
    /// The PNG to write: the ROI | its reconstruction | the edited reconstruction.
    #[arg(long, value_name = "FILE.png")]
    pub out: PathBuf,
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda:N")]
    pub device: DeviceSpec,
}

impl SwapArgs {
    /// The edit the options ask for (clap makes sure one of --from and --cell is given).
    pub fn edit(&self) -> Edit {
        match (self.from, self.cell) {
            (_, Some((row, col))) => Edit::Cell {
                row,
                col,
                to: self.to,
            },
            (from, None) => Edit::Replace {
                from: from.unwrap_or(self.to),
                to: self.to,
            },
        }
    }
}

/// `--cell R,C`: two whole numbers.
fn parse_cell(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{s}' is not a cell ROW,COL, e.g. 3,4");
    let (r, c) = s.split_once(',').ok_or_else(bad)?;
    match (r.trim().parse(), c.trim().parse()) {
        (Ok(r), Ok(c)) => Ok((r, c)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_row_comma_column() {
        assert_eq!(parse_cell("3,4"), Ok((3, 4)));
        assert_eq!(parse_cell(" 0 , 6 "), Ok((0, 6)));
        for bad in ["3", "3;4", "a,1", "-1,2", ""] {
            assert!(parse_cell(bad).unwrap_err().contains("ROW,COL"), "{bad}");
        }
    }
}

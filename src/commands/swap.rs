//! `vqtex swap`: edit a VQ-VAE ROI's code map (one code by another everywhere, or one cell) and
//! draw the ROI, its reconstruction and the edited reconstruction side by side (the engine's
//! `eval::swap` decodes).

use anyhow::Result;

use super::open_run;
use crate::cli::SwapArgs;
use crate::eval::figures::{labelled_grid, LabelledGrid};
use crate::eval::swap::{self, Edit, Swap};

/// Each 28x28 panel is drawn this many times larger.
const SCALE: u32 = 6;

/// The code maps before and after, side by side, changed cells marked with `*`.
fn maps(s: &Swap) -> String {
    let (rows, cols) = s.side;
    let width = cols * 4;
    let mut out = format!("{:<width$}   after\n", "before");
    for r in 0..rows {
        let cells = &s.before[r * cols..(r + 1) * cols];
        let edited = &s.after[r * cols..(r + 1) * cols];
        let left: String = cells.iter().map(|c| format!("{c:>3} ")).collect();
        let right: String = cells
            .iter()
            .zip(edited)
            .map(|(b, a)| format!("{a:>3}{}", if a != b { '*' } else { ' ' }))
            .collect();
        out.push_str(&format!("{left}   {}\n", right.trim_end()));
    }
    out
}

pub fn swap(args: &SwapArgs) -> Result<()> {
    let run = open_run(&args.run, args.device)?;
    let edit = args.edit();
    let s = swap::swap(&run, &args.roi, edit)?;
    let roi = &run.dataset.rois[s.roi];
    let side = run.split.side(&roi.patient).as_str();
    let grid = LabelledGrid {
        title: format!("{}: {edit}", roi.file),
        columns: vec!["ROI".into(), "reconstruction".into(), "edited".into()],
        rows: vec![(
            roi.label.as_str().to_string(),
            vec![s.original.clone(), s.recon.clone(), s.edited.clone()],
        )],
        lead: 1,
    };
    labelled_grid(&grid, SCALE, &args.out)?;
    let changed = s.changed();
    let (rows, cols) = s.side;
    crate::outln!(
        "{}: {} ({}, {side}), {edit}: {} of {} cells changed",
        args.run.display(),
        roi.file,
        roi.label.as_str(),
        changed.len(),
        rows * cols
    );
    if changed.is_empty() {
        match edit {
            Edit::Replace { from, to } if from != to => {
                crate::outln!("code {from} is not used by this ROI: nothing changed")
            }
            _ => crate::outln!("the edit writes the codes already there: nothing changed"),
        }
    } else {
        let list: Vec<String> = changed
            .iter()
            .map(|(r, c, b, a)| format!("({r},{c}) {b}->{a}"))
            .collect();
        crate::outln!("changed cells (row,col): {}", list.join(", "));
    }
    crate::out!("{}", maps(&s));
    crate::outln!(
        "mean |edited - reconstruction|: {:.4}; wrote {}",
        s.recon
            .iter()
            .zip(&s.edited)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / s.recon.len().max(1) as f64,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_mark_the_changed_cells() {
        let before: Vec<u32> = (0..4).collect();
        let s = Swap {
            roi: 0,
            edit: Edit::Cell {
                row: 1,
                col: 0,
                to: 9,
            },
            side: (2, 2),
            after: vec![0, 1, 9, 3],
            before,
            original: vec![],
            recon: vec![],
            edited: vec![],
        };
        assert_eq!(
            maps(&s),
            "before     after\n  0   1      0   1\n  2   3      9*  3\n"
        );
    }
}

//! Which test ROIs the panes show: a run's test ROIs, and the few of them the Reconstructions pane
//! picks (`n` moves to others). Used by the jobs of one run and of several runs alike.

use crate::data::{Label, Roi, Side};
use crate::train::LoadedRun;

/// The run's test ROIs, in dataset order.
pub fn test_rois(run: &LoadedRun) -> Vec<&Roi> {
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

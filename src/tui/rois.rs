//! Which test ROIs the panes show: a run's test ROIs, and the few of them the Reconstructions pane
//! picks (`n` moves to others). Used by the jobs of one run and of several runs alike.

use crate::data::{Roi, Side};
use crate::train::LoadedRun;

/// The run's test ROIs, in dataset order.
pub fn test_rois(run: &LoadedRun) -> Vec<&Roi> {
    run.dataset
        .indices(&run.split, Side::Test)
        .into_iter()
        .map(|i| &run.dataset.rois[i])
        .collect()
}

/// 2 healthy and 2 steatotic test ROIs, spread over the test set; `pick` moves to other ones. The
/// engine's: pick 0 is the fixed ROIs a training keeps at every epoch (`train::steps`).
pub use crate::train::steps::pick_rois;

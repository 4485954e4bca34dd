//! What a training job says, and what it can be told.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Commands a training job accepts between steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    /// Stop after the current step; the last checkpoint stays on disk.
    Stop,
    /// Write a checkpoint at the end of the current epoch.
    Save,
    SetLr(f64),
}

/// Loss terms by name (`total`, `recon`, `codebook`, `commit`, ...).
pub type Terms = BTreeMap<String, f64>;

/// One line of `metrics.jsonl`: the summary of an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    pub epochs: usize,
    /// Mean training losses over the epoch (weighted by batch size).
    pub train: Terms,
    /// Losses on the test ROIs at the end of the epoch.
    pub test: Terms,
    /// Codebook entries used during the epoch (VQ models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes_used: Option<usize>,
    /// Perplexity of the code distribution during the epoch (VQ models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perplexity: Option<f64>,
    /// Unused codes moved to encoder outputs after the epoch (VQ models with restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes_restarted: Option<usize>,
    pub lr: f64,
    /// Wall time of the epoch, training and test evaluation.
    pub seconds: f64,
    /// Wall time of the training steps alone (batch, forward, backward, optimizer), without the
    /// test evaluation and codebook restarts. Absent in runs written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_seconds: Option<f64>,
    pub rois_per_sec: f64,
}

/// Events a training job sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        run: PathBuf,
        start_epoch: usize,
        epochs: usize,
        steps_per_epoch: usize,
        device: String,
        params: usize,
    },
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        terms: Terms,
    },
    Epoch(EpochRecord),
    Checkpoint {
        epoch: usize,
        path: PathBuf,
    },
    Paused,
    Resumed,
    Finished {
        epochs: usize,
        stopped: bool,
        seconds: f64,
    },
    Failed {
        message: String,
    },
}

//! Training: the run directory, checkpoints, the metrics log and the worker thread.

pub mod checkpoint;
pub mod config;
pub mod event;
pub mod lock;
pub mod optim;
// Timing, not tests: built only with `--features timing` (see docs/PERFORMANCE.md).
#[cfg(all(test, feature = "timing"))]
mod phase_bench;
pub mod run;
pub mod runlog;
pub mod steps;
pub mod worker;

pub use config::{DataSpec, RunConfig, TrainConfig};
pub use event::{Command, EpochRecord, Event, Terms};
pub use lock::{Holder, RunLock};
pub use run::{
    fresh_dir, new_job, resume_job, LoadedRun, NewRun, Resume, RunDir, RunError, RunStatus,
};
pub use worker::{spawn, Handle, Job};

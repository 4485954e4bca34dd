//! The engine of vqtex: VQ-VAE models of liver ultrasound textures, and whether their codes tell
//! healthy from steatotic liver. Data (ROI folders, frames, MAT/DICOM import, the patient split,
//! the synthetic generator), the models (candle, with hand-written CPU kernels), training (a worker
//! thread with events, checkpoints and the run lock), evaluation (metrics, statistics, SVMs,
//! traversals, figures) and the runs service. It knows nothing of the terminal: no ratatui,
//! crossterm, indicatif or clap (`cargo tree -p vqtex-engine` shows it), so the compiler keeps the
//! boundary; the CLI and the workbench in the `vqtex` crate are front ends over it.
#![deny(clippy::unwrap_used)]

pub mod cv;
pub mod data;
pub mod device;
pub mod eval;
pub mod features;
pub mod fs;
pub mod model;
pub mod rng;
pub mod runs;
pub mod train;

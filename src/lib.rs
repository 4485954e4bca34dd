//! vqtex: VQ-VAE models of liver ultrasound textures, and whether their codes tell healthy from
//! steatotic liver. The engine (data, model, train, eval) knows nothing of the terminal.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod data;
pub mod device;
pub mod eval;
pub mod logging;
pub mod model;
pub mod rng;
pub mod runs;
pub mod train;
pub mod tui;

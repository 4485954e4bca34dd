//! vqtex: a terminal workbench and command line for VQ-VAE models of liver ultrasound textures.
//! The front ends live here (the CLI's definitions and headless jobs, the workbench); the engine
//! (data, model, train, eval, runs) is the `vqtex-engine` crate, re-exported below so that
//! `vqtex::data`, `vqtex::train` and the rest name the same modules.

pub use vqtex_engine::{cv, data, device, eval, features, fs, model, rng, runs, train};

pub mod bench;
pub mod cli;
pub mod commands;
pub mod logging;
pub mod paths;
pub mod tui;

//! Logging, set up once per process by `main`: a file in vqtex's data dir (never the terminal,
//! which the workbench owns). Level from `VQTEX_LOG` (default info).

use std::path::PathBuf;

/// The log file: `<data dir>/vqtex.log` (e.g. `~/.local/share/vqtex/vqtex.log`).
pub fn path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "vqtex").map(|d| d.data_dir().join("vqtex.log"))
}

/// Sends `tracing` to the log file. Returns the file, or `None` when it cannot be opened (the
/// program runs on without a log).
pub fn init() -> Option<PathBuf> {
    let path = path()?;
    std::fs::create_dir_all(path.parent()?).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VQTEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .ok()?;
    Some(path)
}

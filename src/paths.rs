//! Where things are by default, shared by the commands and the workbench.

use std::path::PathBuf;

/// The bundled sample data: `./sample-data` when run from the repository, else the copy beside the
/// crate's sources.
pub fn sample_data_dir() -> PathBuf {
    let local = PathBuf::from("sample-data");
    if local.join("labels.csv").is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data")
}

/// Where runs go unless `--runs-dir` says otherwise.
pub fn default_runs_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "vqtex")
        .map(|d| d.data_dir().join("runs"))
        .unwrap_or_else(|| PathBuf::from("runs"))
}

//! Where things are by default, shared by the commands and the workbench.

use std::path::{Path, PathBuf};

/// Where the sample data was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleSource {
    /// `./sample-data`: run from the repository (or a folder holding a copy).
    CurrentDir,
    /// `sample-data` beside the executable, or one or two folders above it (an unpacked release,
    /// `target/release/vqtex` in the repository).
    BesideExe,
    /// The folder the binary was built from, which may be unrelated to where it runs now.
    BuildFolder,
}

/// The sample data found, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleData {
    pub dir: PathBuf,
    pub source: SampleSource,
}

impl SampleData {
    /// What to tell the user when the data is not where they would look: `None` unless it comes
    /// from the build folder.
    pub fn note(&self) -> Option<String> {
        (self.source == SampleSource::BuildFolder).then(|| {
            format!(
                "no sample-data in the current folder or beside vqtex: using the build folder's, {}",
                self.dir.display()
            )
        })
    }
}

/// How to get data when there is no sample data anywhere.
pub const NO_SAMPLE_DATA: &str = "no ROI folder: pass --data DIR, or make the sample data with \
                                  `vqtex synth --out sample-data` (none in the current folder or \
                                  beside vqtex)";

/// Whether `dir` holds a ROI folder (its labels.csv).
fn holds_rois(dir: &Path) -> bool {
    dir.join("labels.csv").is_file()
}

/// The sample data, looked for in order: `cwd/sample-data`, beside `exe` (its folder and up to two
/// above), then `build/sample-data`.
pub fn locate_sample_data(cwd: &Path, exe: Option<&Path>, build: &Path) -> Option<SampleData> {
    let found = |dir: PathBuf, source| holds_rois(&dir).then_some(SampleData { dir, source });
    if let Some(d) = found(cwd.join("sample-data"), SampleSource::CurrentDir) {
        return Some(d);
    }
    let beside = exe
        .and_then(Path::parent)
        .into_iter()
        .flat_map(|d| d.ancestors().take(3))
        .find_map(|d| found(d.join("sample-data"), SampleSource::BesideExe));
    beside.or_else(|| found(build.join("sample-data"), SampleSource::BuildFolder))
}

/// The sample data of this process: see [`locate_sample_data`].
pub fn find_sample_data() -> Option<SampleData> {
    let exe = std::env::current_exe().ok();
    locate_sample_data(
        Path::new(""),
        exe.as_deref(),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
}

/// The bundled sample data (see [`find_sample_data`]); `sample-data` when there is none, so that
/// the error names it. Using the build folder's is logged.
pub fn sample_data_dir() -> PathBuf {
    match find_sample_data() {
        Some(d) => {
            if let Some(note) = d.note() {
                tracing::warn!("{note}");
            }
            d.dir
        }
        None => PathBuf::from("sample-data"),
    }
}

/// Where runs go unless `--runs-dir` says otherwise.
pub fn default_runs_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "vqtex")
        .map(|d| d.data_dir().join("runs"))
        .unwrap_or_else(|| PathBuf::from("runs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rois(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("labels.csv"), "file,label,patient\n").unwrap();
    }

    #[test]
    fn sample_data_is_looked_for_here_then_beside_the_binary_then_in_the_build_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let (cwd, bin, build) = (
            tmp.path().join("work"),
            tmp.path().join("opt/vqtex/bin"),
            tmp.path().join("src/vqtex"),
        );
        for d in [&cwd, &bin, &build] {
            std::fs::create_dir_all(d).unwrap();
        }
        let exe = bin.join("vqtex");
        let at = |cwd: &Path| locate_sample_data(cwd, Some(&exe), &build);
        assert_eq!(at(&cwd), None, "none anywhere");

        rois(&build.join("sample-data"));
        let d = at(&cwd).unwrap();
        assert_eq!(d.source, SampleSource::BuildFolder);
        let note = d.note().expect("the build folder's is announced");
        assert!(note.contains("using the build folder's") && note.contains("src/vqtex"));

        // A release unpacked as opt/vqtex/{bin/vqtex, sample-data}: one above the binary.
        rois(&tmp.path().join("opt/vqtex/sample-data"));
        let d = at(&cwd).unwrap();
        assert_eq!(d.source, SampleSource::BesideExe);
        assert_eq!(d.note(), None);

        rois(&cwd.join("sample-data"));
        let d = at(&cwd).unwrap();
        assert_eq!(
            (d.source, d.dir.clone()),
            (SampleSource::CurrentDir, cwd.join("sample-data"))
        );
        assert_eq!(d.note(), None);
        assert!(NO_SAMPLE_DATA.contains("vqtex synth") && NO_SAMPLE_DATA.contains("--data"));
    }
}

//! The Compare pane's background job: evaluates the marked runs (Table 1 metrics, both SVM
//! protocols of Table 2) and pairs the reference run with each other run (Wilcoxon and t tests,
//! per ROI and per patient). Runs on a thread from [`super::jobs::spawn`].

use std::path::PathBuf;

use candle_core::Device;

use crate::eval::compare::{compare, Comparison};
use crate::eval::{self, Classification, Protocol, Summary};
use crate::train::LoadedRun;

/// One evaluated run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRun {
    pub path: PathBuf,
    pub name: String,
    /// `vqvae`, `cae`, ...
    pub model: String,
    pub epoch: usize,
    pub summary: Summary,
    /// The reconstruction with nothing copied from the input, for models that copy (the MAE).
    pub no_copy: Option<Summary>,
    pub paper: Classification,
    pub lopo: Classification,
}

/// The paired tests of the reference run against another run, or why they cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    /// Index of the other run in [`CompareData::rows`].
    pub other: usize,
    pub result: Result<Comparison, String>,
}

/// Everything the Compare pane shows for one set of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareData {
    /// The runs asked for, in the order they were marked.
    pub runs: Vec<PathBuf>,
    pub rows: Vec<CompareRun>,
    /// Index of the reference run: the first VQ-VAE marked, else the first run marked.
    pub reference: usize,
    pub pairings: Vec<Pairing>,
}

impl CompareData {
    /// Whether row `i` was tested on the reference's test ROIs.
    pub fn same_split(&self, i: usize) -> bool {
        i == self.reference
            || self
                .pairings
                .iter()
                .any(|p| p.other == i && p.result.is_ok())
    }
}

/// The first marked VQ-VAE, else the first marked run.
pub fn reference_of(models: &[&str]) -> usize {
    models.iter().position(|m| *m == "vqvae").unwrap_or(0)
}

/// Evaluates `runs` and pairs them; `progress` hears what is being done.
pub fn compare_runs(runs: &[PathBuf], progress: impl Fn(&str)) -> anyhow::Result<CompareData> {
    anyhow::ensure!(!runs.is_empty(), "no run marked");
    let mut rows = Vec::new();
    let mut evals = Vec::new();
    for (i, path) in runs.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let step = |what: &str| progress(&format!("{name} ({}/{}): {what}", i + 1, runs.len()));
        step("opening");
        let run = LoadedRun::open(path, &Device::Cpu)?;
        step("reconstructing the test ROIs");
        let e = eval::evaluate(&run)?;
        let no_copy = eval::evaluate_no_copy(&run)?.map(|e| e.summary);
        step("SVMs, paper protocol");
        let paper = eval::classify(&run, Protocol::Paper)?;
        step("SVMs, leave one patient out");
        let lopo = eval::classify(&run, Protocol::Lopo)?;
        rows.push(CompareRun {
            path: path.clone(),
            name,
            model: run.config.model.name().to_string(),
            epoch: run.epoch,
            summary: e.summary.clone(),
            no_copy,
            paper,
            lopo,
        });
        evals.push(e);
    }
    let models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    let reference = reference_of(&models);
    let r = &rows[reference];
    let pairings = (0..rows.len())
        .filter(|&i| i != reference)
        .map(|i| Pairing {
            other: i,
            result: compare((&r.name, &evals[reference]), (&rows[i].name, &evals[i]))
                .map_err(|e| e.to_string()),
        })
        .collect();
    Ok(CompareData {
        runs: runs.to_vec(),
        rows,
        reference,
        pairings,
    })
}

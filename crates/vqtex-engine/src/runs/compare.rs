//! A compared set of runs: each run's assessment and the paired tests of the reference against
//! the others. `reproduce` and the workbench's Compare pane both build a [`CompareData`] with
//! [`compare_set`] and render the same tables from it (`eval::report::tables`).

use std::path::PathBuf;

use crate::eval::compare::Comparison;
use crate::eval::{Classification, Evaluation, Summary};
use crate::model::ModelKind;

/// One assessed run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRun {
    pub path: PathBuf,
    pub name: String,
    pub model: ModelKind,
    pub epoch: usize,
    pub summary: Summary,
    /// The reconstruction with nothing copied from the input, for models that copy (the MAE).
    pub no_copy: Option<Summary>,
    pub paper: Classification,
    pub lopo: Classification,
}

impl CompareRun {
    /// The run's assessment as a row, named `name`.
    pub fn new(
        path: PathBuf,
        name: String,
        epoch: usize,
        model: ModelKind,
        a: &super::Assessment,
    ) -> CompareRun {
        CompareRun {
            path,
            name,
            model,
            epoch,
            summary: a.evaluation.summary.clone(),
            no_copy: a.no_copy.as_ref().map(|e| e.summary.clone()),
            paper: a.paper.clone(),
            lopo: a.lopo.clone(),
        }
    }

    /// The run's Table 2 results under `protocol`.
    pub fn classification(&self, protocol: crate::eval::Protocol) -> &Classification {
        match protocol {
            crate::eval::Protocol::Paper => &self.paper,
            crate::eval::Protocol::Lopo => &self.lopo,
        }
    }
}

/// The paired tests of the reference run against another run, or why they cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    /// Index of the other run in [`CompareData::rows`].
    pub other: usize,
    pub result: Result<Comparison, String>,
}

/// A compared set of runs: what Table 1, the paired tests and Table 2 are made from.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareData {
    /// The runs asked for, in order.
    pub runs: Vec<PathBuf>,
    pub rows: Vec<CompareRun>,
    /// Index of the reference run: the first VQ-VAE, else the first run.
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

/// Pairs assessed runs (`evals[i]` is the evaluation behind `rows[i]`): the reference and its
/// paired tests against each other run.
pub fn compare_set(rows: Vec<CompareRun>, evals: &[&Evaluation]) -> CompareData {
    let named: Vec<(&str, ModelKind, &Evaluation)> = rows
        .iter()
        .zip(evals)
        .map(|(r, e)| (r.name.as_str(), r.model, *e))
        .collect();
    let (reference, pairs) = super::pair(&named);
    let pairings = pairs
        .into_iter()
        .map(|(other, result)| Pairing { other, result })
        .collect();
    CompareData {
        runs: rows.iter().map(|r| r.path.clone()).collect(),
        rows,
        reference,
        pairings,
    }
}

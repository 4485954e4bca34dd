//! Patient-level splits: stratified train/test, forced splits from a CSV, leave-one-patient-out and
//! k-fold by patient. A patient's ROIs are always on one side only (no leakage).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{patient_order, DataError, Dataset, Label, PatientId};
use crate::rng::seeded;

/// Side of a train/test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Train,
    Test,
}

impl Side {
    pub fn parse(s: &str) -> Option<Side> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Side::Train),
            "test" | "testing" => Some(Side::Test),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Train => "train",
            Side::Test => "test",
        }
    }
}

/// A patient-level split: the set of test patients; everyone else trains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    pub test: BTreeSet<PatientId>,
}

impl Split {
    pub fn side(&self, patient: &PatientId) -> Side {
        if self.test.contains(patient) {
            Side::Test
        } else {
            Side::Train
        }
    }

    /// The paper's split: a fraction of each class's patients to test, chosen with a seeded RNG.
    /// At least one patient of each class lands on each side.
    pub fn stratified(data: &Dataset, test_fraction: f64, seed: u64) -> Result<Split, DataError> {
        let by_class = patients_by_class(data);
        let mut rng = seeded(seed, "split");
        let mut test = BTreeSet::new();
        for label in Label::ALL {
            let mut patients = by_class.get(&label).cloned().unwrap_or_default();
            if patients.len() < 2 {
                return Err(DataError::TooFewPatients {
                    label,
                    found: patients.len(),
                });
            }
            let n_test = ((patients.len() as f64 * test_fraction).round() as usize)
                .clamp(1, patients.len() - 1);
            patients.shuffle(&mut rng);
            test.extend(patients.into_iter().take(n_test));
        }
        Ok(Split { test })
    }

    /// The split given by a labels CSV's `split` column, when every ROI has one.
    pub fn from_dataset_column(data: &Dataset) -> Option<Split> {
        if data.rois.iter().any(|r| r.split.is_none()) {
            return None;
        }
        let test = data
            .rois
            .iter()
            .filter(|r| r.split == Some(Side::Test))
            .map(|r| r.patient.clone())
            .collect();
        Some(Split { test })
    }

    /// Reads a `patient,split` CSV and checks it covers exactly the dataset's patients.
    pub fn from_csv(path: &Path, data: &Dataset) -> Result<Split, DataError> {
        let bad = |message: String| DataError::BadSplit {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(bad("file does not exist".into()));
        }
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_path(path)
            .map_err(|e| bad(e.to_string()))?;
        let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| bad(format!("no column named '{name}'")))
        };
        let (pi, si) = (find("patient")?, find("split")?);
        let known: BTreeSet<PatientId> = data.rois.iter().map(|r| r.patient.clone()).collect();
        let mut seen = BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| bad(e.to_string()))?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let patient = PatientId(record.get(pi).unwrap_or("").to_string());
            let side_text = record.get(si).unwrap_or("");
            let side = Side::parse(side_text).ok_or_else(|| {
                bad(format!(
                    "line {line}: unknown split '{side_text}' (expected train or test)"
                ))
            })?;
            if !known.contains(&patient) {
                return Err(bad(format!(
                    "line {line}: patient '{patient}' is not in the dataset"
                )));
            }
            if let Some(prev) = seen.insert(patient.clone(), side) {
                if prev != side {
                    return Err(bad(format!(
                        "line {line}: patient '{patient}' is on both sides"
                    )));
                }
            }
        }
        if let Some(missing) = known.iter().find(|p| !seen.contains_key(*p)) {
            return Err(bad(format!("patient '{missing}' has no split")));
        }
        let split = Split {
            test: seen
                .into_iter()
                .filter(|(_, s)| *s == Side::Test)
                .map(|(p, _)| p)
                .collect(),
        };
        split.check(data).map_err(bad)?;
        Ok(split)
    }

    /// Both sides must hold at least one ROI.
    pub fn check(&self, data: &Dataset) -> Result<(), String> {
        let test = data
            .rois
            .iter()
            .filter(|r| self.test.contains(&r.patient))
            .count();
        if test == 0 {
            return Err("no ROI on the test side".into());
        }
        if test == data.rois.len() {
            return Err("no ROI on the training side".into());
        }
        Ok(())
    }

    /// The split as CSV: `patient,label,split,rois`.
    pub fn to_csv(&self, data: &Dataset) -> String {
        let mut s = String::from("patient,label,split,rois\n");
        for p in data.patients() {
            s.push_str(&format!(
                "{},{},{},{}\n",
                p.id,
                p.label,
                self.side(&p.id).as_str(),
                p.rois
            ));
        }
        s
    }
}

fn patients_by_class(data: &Dataset) -> BTreeMap<Label, Vec<PatientId>> {
    let mut by_class: BTreeMap<Label, Vec<PatientId>> = BTreeMap::new();
    for p in data.patients() {
        by_class.entry(p.label).or_default().push(p.id);
    }
    by_class
}

/// A fold of a patient-level cross-validation: indices into the ROI list given to the iterator.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
    /// The held-out patients.
    pub held_out: Vec<PatientId>,
}

/// Leave-one-patient-out folds over the given ROIs (by index into `patients`).
pub fn leave_one_patient_out(patients: &[PatientId]) -> Vec<Fold> {
    let mut ids: Vec<&PatientId> = patients
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    ids.sort_by(|a, b| patient_order(a, b));
    ids.into_iter()
        .map(|held| {
            let (test, train) = (0..patients.len()).partition(|&i| &patients[i] == held);
            Fold {
                train,
                test,
                held_out: vec![held.clone()],
            }
        })
        .collect()
}

/// k folds by patient, stratified by class: patients of each class are dealt round-robin to folds
/// after a seeded shuffle.
pub fn k_fold_by_patient(
    patients: &[PatientId],
    labels: &[Label],
    k: usize,
    seed: u64,
) -> Vec<Fold> {
    let k = k.max(2);
    let mut per_class: BTreeMap<Label, BTreeSet<PatientId>> = BTreeMap::new();
    for (p, l) in patients.iter().zip(labels) {
        per_class.entry(*l).or_default().insert(p.clone());
    }
    let mut rng = seeded(seed, "kfold");
    let mut fold_of: BTreeMap<PatientId, usize> = BTreeMap::new();
    let mut next = 0;
    for ids in per_class.into_values() {
        let mut ids: Vec<PatientId> = ids.into_iter().collect();
        ids.shuffle(&mut rng);
        for id in ids {
            fold_of.insert(id, next % k);
            next += 1;
        }
    }
    (0..k)
        .map(|f| {
            let (test, train) = (0..patients.len()).partition(|&i| fold_of[&patients[i]] == f);
            let held_out = fold_of
                .iter()
                .filter(|(_, &v)| v == f)
                .map(|(p, _)| p.clone())
                .collect();
            Fold {
                train,
                test,
                held_out,
            }
        })
        .filter(|f: &Fold| !f.test.is_empty())
        .collect()
}

/// Splits the given patients into two groups by class, about `fraction` of each class's patients in
/// the second group (at least one of each class on each side when possible). Used by the paper's
/// SVM protocol (about 80 ROIs to fit, 30 to test).
pub fn stratified_patient_holdout(
    patients: &[PatientId],
    labels: &[Label],
    fraction: f64,
    seed: u64,
) -> Fold {
    let mut per_class: BTreeMap<Label, BTreeSet<PatientId>> = BTreeMap::new();
    for (p, l) in patients.iter().zip(labels) {
        per_class.entry(*l).or_default().insert(p.clone());
    }
    let mut rng = seeded(seed, "svm-holdout");
    let mut held = BTreeSet::new();
    for ids in per_class.into_values() {
        let mut ids: Vec<PatientId> = ids.into_iter().collect();
        ids.shuffle(&mut rng);
        let n = if ids.len() < 2 {
            0
        } else {
            ((ids.len() as f64 * fraction).round() as usize).clamp(1, ids.len() - 1)
        };
        held.extend(ids.into_iter().take(n));
    }
    let (test, train) = (0..patients.len()).partition(|&i| held.contains(&patients[i]));
    Fold {
        train,
        test,
        held_out: held.into_iter().collect(),
    }
}

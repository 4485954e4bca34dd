//! The cross-validation's scores and outputs: per feature set, per ROI and per patient (mean
//! decision, and majority vote beside it), pooled over the out-of-fold predictions with 95%
//! intervals from a patient-level bootstrap, mean ± sd over folds, and paired AUC comparisons with
//! `pixels` and `firstorder`. Written as `folds.csv`, `predictions.csv`, `cv.json`, `report.md`
//! and `roc.png`. With fat in the labels, each set's regression of fat (ridge and SVR) is scored
//! too ([`attach_fat`]): Spearman correlation and mean absolute error per ROI and per patient,
//! with intervals from the same kind of patient bootstrap, and `fat-predictions.csv`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{FatPrediction, FeatureSet, FoldPlan, Prediction};
use crate::data::{Dataset, PatientId};
use crate::eval::binary::{self, BinaryScores, Decision, Intervals, PairedAuc};
use crate::eval::figures::{self, Curve};
use crate::eval::regress::{self, RegressIntervals, RegressScores, Unit};
use crate::eval::EvalError;

/// Bootstrap draws behind every interval and paired comparison.
pub const RESAMPLES: usize = 2000;

/// Scores at one level (ROIs, or patients) for one feature set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelScores {
    /// Scores of the pooled out-of-fold decisions (every repeat).
    pub pooled: BinaryScores,
    /// Their 95% intervals by resampling patients.
    pub ci95: Option<Intervals>,
    /// Mean and sd over folds (and repeats) of the fold's own scores.
    pub folds: FoldStats,
}

/// Mean and sd over folds; AUC over the folds where both classes were held out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldStats {
    pub accuracy: [f64; 2],
    pub balanced_accuracy: [f64; 2],
    pub auc: Option<[f64; 2]>,
    pub n: usize,
}

/// One feature set's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetResult {
    pub features: String,
    /// Per ROI.
    pub roi: LevelScores,
    /// Per patient, the patient's decision being the mean of its ROIs' decisions.
    pub patient: LevelScores,
    /// Per patient by majority vote of its ROIs.
    pub patient_vote: LevelScores,
    /// AUC of this set minus that of `pixels` and of `firstorder`, per patient (mean decision),
    /// by paired patient-level bootstrap on the same folds.
    pub vs_pixels: Option<PairedAuc>,
    pub vs_firstorder: Option<PairedAuc>,
    /// The pooled patient-level ROC curve, `(fpr, tpr)`.
    pub roc: Vec<(f64, f64)>,
    /// The regression of fat on this set, when every ROI has a fat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fat: Option<FatResult>,
}

/// Scores of one regressor's pooled out-of-fold predictions of fat at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FatLevel {
    pub pooled: RegressScores,
    /// 95% intervals by resampling patients (stratified by class).
    pub ci95: Option<RegressIntervals>,
}

/// One regressor's scores per ROI and per patient (the mean of its ROIs' predictions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FatModel {
    pub roi: FatLevel,
    pub patient: FatLevel,
}

/// A set's regression of fat: ridge (alpha 1) and the RBF SVR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FatResult {
    pub ridge: FatModel,
    pub svr: FatModel,
}

/// Everything `cv.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    pub folds: usize,
    pub repeats: usize,
    pub seed: u64,
    pub rois: usize,
    pub patients: usize,
    pub healthy_patients: usize,
    pub steatotic_patients: usize,
    pub models: Vec<String>,
    pub epochs: usize,
    pub resamples: usize,
    pub sets: Vec<SetResult>,
    /// Wall-clock seconds of the whole cross-validation.
    pub seconds: f64,
}

fn decisions(p: &[&Prediction]) -> Vec<Decision> {
    p.iter()
        .map(|p| Decision {
            patient: p.patient.clone(),
            truth: p.truth,
            decision: p.decision,
        })
        .collect()
}

/// Patient decisions (mean and vote) of predictions, per repeat, so that a patient counts once
/// per repeat; the bootstrap resamples patients (with all their repeats) as blocks.
fn patient_decisions(p: &[&Prediction]) -> (Vec<Decision>, Vec<Decision>) {
    let mut by_repeat: BTreeMap<usize, Vec<&Prediction>> = BTreeMap::new();
    for x in p {
        by_repeat.entry(x.repeat).or_default().push(x);
    }
    let (mut mean, mut vote) = (Vec::new(), Vec::new());
    for ps in by_repeat.values() {
        let per = binary::per_patient(&decisions(ps));
        mean.extend(binary::mean_decisions(&per));
        vote.extend(binary::vote_decisions(&per));
    }
    (mean, vote)
}

fn fold_stats(scores: &[BinaryScores]) -> FoldStats {
    let ms = |v: Vec<f64>| {
        let (m, s) = binary::mean_sd(&v);
        [m, s]
    };
    let aucs: Vec<f64> = scores.iter().filter_map(|s| s.auc).collect();
    FoldStats {
        accuracy: ms(scores.iter().map(|s| s.accuracy).collect()),
        balanced_accuracy: ms(scores.iter().map(|s| s.balanced_accuracy).collect()),
        auc: (!aucs.is_empty()).then(|| ms(aucs)),
        n: scores.len(),
    }
}

/// Scores of one level: pooled units, their intervals, and per-fold scores from `by_fold`.
fn level(units: &[Decision], by_fold: &[Vec<Decision>], seed: u64) -> LevelScores {
    let per_fold: Vec<BinaryScores> = by_fold.iter().map(|d| binary::scores(d)).collect();
    LevelScores {
        pooled: binary::scores(units),
        ci95: binary::bootstrap_intervals(units, RESAMPLES, seed),
        folds: fold_stats(&per_fold),
    }
}

/// Aggregates predictions (every feature set, every fold) into a report.
#[allow(clippy::too_many_arguments)]
pub fn aggregate(
    data: &Dataset,
    sets: &[FeatureSet],
    predictions: &[Prediction],
    folds: usize,
    repeats: usize,
    seed: u64,
    models: Vec<String>,
    epochs: usize,
) -> CvReport {
    let patients = data.patients();
    let count = |l| patients.iter().filter(|p| p.label == l).count();
    let mut per_set: BTreeMap<FeatureSet, Vec<&Prediction>> = BTreeMap::new();
    for p in predictions {
        per_set.entry(p.features).or_default().push(p);
    }
    // Sort each set's predictions the same way, so paired comparisons line units up.
    for v in per_set.values_mut() {
        v.sort_by(|a, b| (a.repeat, &a.patient, &a.file).cmp(&(b.repeat, &b.patient, &b.file)));
    }
    let patient_means: BTreeMap<FeatureSet, Vec<Decision>> = per_set
        .iter()
        .map(|(s, p)| (*s, patient_decisions(p).0))
        .collect();
    let mut out = Vec::new();
    for set in sets {
        let Some(ps) = per_set.get(set) else {
            continue;
        };
        let mut fold_keys: BTreeMap<(usize, usize), Vec<&Prediction>> = BTreeMap::new();
        for p in ps {
            fold_keys.entry((p.repeat, p.fold)).or_default().push(p);
        }
        let roi_units = decisions(ps);
        let (mean_units, vote_units) = patient_decisions(ps);
        let roi_folds: Vec<Vec<Decision>> = fold_keys.values().map(|f| decisions(f)).collect();
        let (mean_folds, vote_folds): (Vec<_>, Vec<_>) =
            fold_keys.values().map(|f| patient_decisions(f)).unzip();
        let compare = |other: FeatureSet| {
            if other == *set {
                return None;
            }
            let b = patient_means.get(&other)?;
            binary::paired_auc(&mean_units, b, RESAMPLES, seed)
        };
        let truth: Vec<_> = mean_units.iter().map(|d| d.truth).collect();
        let dec: Vec<f64> = mean_units.iter().map(|d| d.decision).collect();
        out.push(SetResult {
            features: set.name(),
            roi: level(&roi_units, &roi_folds, seed),
            patient: level(&mean_units, &mean_folds, seed),
            patient_vote: level(&vote_units, &vote_folds, seed),
            vs_pixels: compare(FeatureSet::Pixels),
            vs_firstorder: compare(FeatureSet::FirstOrder),
            roc: binary::roc_curve(&truth, &dec),
            fat: None,
        });
    }
    CvReport {
        folds,
        repeats,
        seed,
        rois: data.len(),
        patients: patients.len(),
        healthy_patients: count(crate::data::Label::Healthy),
        steatotic_patients: count(crate::data::Label::Steatosis),
        models,
        epochs,
        resamples: RESAMPLES,
        sets: out,
        seconds: 0.0,
    }
}

fn fat_level(units: &[Unit], seed: u64) -> FatLevel {
    FatLevel {
        pooled: regress::scores(units),
        ci95: regress::bootstrap_intervals(units, RESAMPLES, seed),
    }
}

/// One regressor's units per ROI and per patient; a patient's mean prediction is taken per
/// repeat, so a patient counts once per repeat and the bootstrap resamples it with all its
/// repeats.
fn fat_model(p: &[&FatPrediction], pick: impl Fn(&FatPrediction) -> f64, seed: u64) -> FatModel {
    let unit = |x: &FatPrediction| Unit {
        patient: x.patient.clone(),
        label: x.label,
        truth: x.truth,
        predicted: pick(x),
    };
    let rois: Vec<Unit> = p.iter().map(|x| unit(x)).collect();
    let mut by_repeat: BTreeMap<usize, Vec<Unit>> = BTreeMap::new();
    for x in p {
        by_repeat.entry(x.repeat).or_default().push(unit(x));
    }
    let patients: Vec<Unit> = by_repeat
        .values()
        .flat_map(|u| regress::per_patient(u))
        .collect();
    FatModel {
        roi: fat_level(&rois, seed),
        patient: fat_level(&patients, seed),
    }
}

/// Scores each set's fat predictions into its result (sets without predictions keep `None`).
pub fn attach_fat(report: &mut CvReport, predictions: &[FatPrediction], seed: u64) {
    let mut per_set: BTreeMap<String, Vec<&FatPrediction>> = BTreeMap::new();
    for p in predictions {
        per_set.entry(p.features.name()).or_default().push(p);
    }
    for s in &mut report.sets {
        let Some(ps) = per_set.get_mut(&s.features) else {
            continue;
        };
        ps.sort_by(|a, b| (a.repeat, &a.patient, &a.file).cmp(&(b.repeat, &b.patient, &b.file)));
        s.fat = Some(FatResult {
            ridge: fat_model(ps, |x| x.ridge, seed),
            svr: fat_model(ps, |x| x.svr, seed),
        });
    }
}

/// `fat-predictions.csv`: `file,patient,repeat,fold,features,truth,ridge,svr`.
pub fn fat_predictions_csv(predictions: &[FatPrediction]) -> String {
    let mut s = String::from("file,patient,repeat,fold,features,truth,ridge,svr\n");
    for p in predictions {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.6},{:.6}",
            csv_field(&p.file),
            csv_field(&p.patient.0),
            p.repeat,
            p.fold,
            p.features,
            p.truth,
            p.ridge,
            p.svr
        );
    }
    s
}

/// `folds.csv`: `patient,repeat,fold`.
pub fn folds_csv(data: &Dataset, plan: &[FoldPlan]) -> String {
    let mut s = String::from("patient,repeat,fold\n");
    let patients: Vec<PatientId> = data.patients().into_iter().map(|p| p.id).collect();
    for f in plan {
        for p in patients.iter().filter(|p| f.split.test.contains(p)) {
            let _ = writeln!(s, "{},{},{}", csv_field(&p.0), f.repeat, f.fold);
        }
    }
    s
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `predictions.csv`: `file,patient,repeat,fold,features,truth,decision,predicted`.
pub fn predictions_csv(predictions: &[Prediction]) -> String {
    let mut s = String::from("file,patient,repeat,fold,features,truth,decision,predicted\n");
    for p in predictions {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.9},{}",
            csv_field(&p.file),
            csv_field(&p.patient.0),
            p.repeat,
            p.fold,
            p.features,
            p.truth.as_str(),
            p.decision,
            p.predicted().as_str()
        );
    }
    s
}

fn ci(v: f64, c: Option<[f64; 2]>) -> String {
    match c {
        Some([lo, hi]) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
        None => format!("{v:.3}"),
    }
}

fn auc_cell(l: &LevelScores) -> String {
    match l.pooled.auc {
        Some(a) => ci(a, l.ci95.as_ref().and_then(|c| c.auc)),
        None => "–".into(),
    }
}

fn bacc_cell(l: &LevelScores) -> String {
    ci(
        l.pooled.balanced_accuracy,
        l.ci95.as_ref().map(|c| c.balanced_accuracy),
    )
}

fn paired_cell(p: &Option<PairedAuc>) -> String {
    match p {
        Some(p) => format!(
            "{:+.3} [{:+.3}, {:+.3}], p {:.3}",
            p.diff, p.ci95[0], p.ci95[1], p.p
        ),
        None => "–".into(),
    }
}

/// Whether a set is learned by an autoencoder (not a hand-made baseline).
fn learned(name: &str) -> bool {
    !matches!(name, "pixels" | "firstorder" | "glcm")
}

/// The verdicts in words: for each learned representation, whether it does better than the
/// first-order grey-level statistics (mean brightness and histogram shape).
pub fn verdicts(r: &CvReport) -> Vec<String> {
    let mut out = Vec::new();
    for s in r.sets.iter().filter(|s| learned(&s.features)) {
        let Some(p) = &s.vs_firstorder else {
            continue;
        };
        let auc = s.patient.pooled.auc.unwrap_or(f64::NAN);
        let line = if p.ci95[0] > 0.0 && p.p < 0.05 {
            format!(
                "`{}` does better than `firstorder` per patient (AUC {auc:.3}, difference {:+.3} \
                 [{:+.3}, {:+.3}], p {:.3}).",
                s.features, p.diff, p.ci95[0], p.ci95[1], p.p
            )
        } else if p.ci95[1] < 0.0 && p.p < 0.05 {
            format!(
                "`{}` does WORSE than `firstorder` per patient (AUC {auc:.3}, difference {:+.3} \
                 [{:+.3}, {:+.3}], p {:.3}): the grey-level histogram alone tells the classes \
                 apart better than this representation.",
                s.features, p.diff, p.ci95[0], p.ci95[1], p.p
            )
        } else {
            format!(
                "`{}` does NO BETTER than `firstorder` per patient (AUC {auc:.3}, difference \
                 {:+.3} [{:+.3}, {:+.3}], p {:.3}): on this data it cannot be told from mean \
                 brightness and histogram shape, so it shows no evidence of carrying more than \
                 echogenicity.",
                s.features, p.diff, p.ci95[0], p.ci95[1], p.p
            )
        };
        out.push(line);
    }
    out
}

/// `report.md`.
pub fn report_md(r: &CvReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Cross-validation by patient\n\n{} ROIs of {} patients ({} healthy, {} steatotic); \
         {} folds stratified by class, {} repeat(s), seed {}; models {} trained {} epochs per \
         fold on the fold's training patients only. SVM: standardised, RBF, C 1, gamma 'scale', \
         class-balanced. Intervals: 95%, {} patient-level bootstrap draws of the pooled \
         out-of-fold predictions. Time: {:.1} s.\n",
        r.rois,
        r.patients,
        r.healthy_patients,
        r.steatotic_patients,
        r.folds,
        r.repeats,
        r.seed,
        if r.models.is_empty() {
            "none".to_string()
        } else {
            r.models.join(", ")
        },
        r.epochs,
        r.resamples,
        r.seconds
    );
    let _ = writeln!(s, "## Verdict\n");
    let v = verdicts(r);
    if v.is_empty() {
        let _ = writeln!(
            s,
            "No learned representation was compared with `firstorder` (run with a model and \
             the `firstorder` set).\n"
        );
    }
    for line in v {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(
        s,
        "\n## Per patient (decision = mean of the patient's ROI decisions)\n\n| features | AUC \
         [95% CI] | balanced accuracy [95% CI] | sensitivity | specificity | F1 | AUC over folds \
         (mean ± sd) | AUC vs pixels | AUC vs firstorder |\n|---|---|---|---|---|---|---|---|---|"
    );
    for x in &r.sets {
        let p = &x.patient;
        let folds = p
            .folds
            .auc
            .map(|[m, sd]| format!("{m:.3} ± {sd:.3}"))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
            x.features,
            auc_cell(p),
            bacc_cell(p),
            p.pooled.sensitivity,
            p.pooled.specificity,
            p.pooled.f1,
            folds,
            paired_cell(&x.vs_pixels),
            paired_cell(&x.vs_firstorder)
        );
    }
    let _ = writeln!(
        s,
        "\n## Per patient by majority vote of its ROIs\n\n| features | accuracy | balanced \
         accuracy [95% CI] | sensitivity | specificity |\n|---|---|---|---|---|"
    );
    for x in &r.sets {
        let p = &x.patient_vote;
        let _ = writeln!(
            s,
            "| {} | {:.3} | {} | {:.3} | {:.3} |",
            x.features,
            p.pooled.accuracy,
            bacc_cell(p),
            p.pooled.sensitivity,
            p.pooled.specificity
        );
    }
    let _ = writeln!(
        s,
        "\n## Per ROI\n\n| features | AUC [95% CI] | accuracy | balanced accuracy [95% CI] | \
         sensitivity | specificity | F1 | balanced accuracy over folds (mean ± sd) |\n\
         |---|---|---|---|---|---|---|---|"
    );
    for x in &r.sets {
        let p = &x.roi;
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {} | {:.3} | {:.3} | {:.3} | {:.3} ± {:.3} |",
            x.features,
            auc_cell(p),
            p.pooled.accuracy,
            bacc_cell(p),
            p.pooled.sensitivity,
            p.pooled.specificity,
            p.pooled.f1,
            p.folds.balanced_accuracy[0],
            p.folds.balanced_accuracy[1]
        );
    }
    let _ = writeln!(
        s,
        "\nA patient's ROIs are not independent: the per-patient rows are the ones to read. \
         The paired comparisons resample the same patients for both sets on the same folds."
    );
    fat_md(r, &mut s);
    s
}

fn rho_cell(l: &FatLevel) -> String {
    match l.pooled.spearman {
        Some(v) => ci(v, l.ci95.as_ref().and_then(|c| c.spearman)),
        None => "–".into(),
    }
}

fn mae_cell(l: &FatLevel) -> String {
    match &l.ci95 {
        Some(c) => format!("{:.1} [{:.1}, {:.1}]", l.pooled.mae, c.mae[0], c.mae[1]),
        None => format!("{:.1}", l.pooled.mae),
    }
}

/// The "Degrees of steatosis" section, when fat was regressed.
fn fat_md(r: &CvReport, s: &mut String) {
    if r.sets.iter().all(|x| x.fat.is_none()) {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Degrees of steatosis\n\nFat (percent) regressed on each feature set in every fold, \
         fit on the fold's training ROIs and predicting the held-out ones: ridge (standardised \
         features, alpha {}) and an RBF SVR (standardised features and fat, C 1, epsilon 0.1, \
         gamma 'scale'). A patient's prediction is the mean of its ROIs'. Spearman correlation \
         with the true fat and mean absolute error (percentage points), with 95% intervals from \
         {} patient-level bootstrap draws (stratified by class).\n\n| features | ridge \
         Spearman per patient | ridge MAE per patient | SVR Spearman per patient | SVR MAE per \
         patient | ridge Spearman per ROI | SVR Spearman per ROI |\n|---|---|---|---|---|---|---|",
        regress::RIDGE_ALPHA,
        r.resamples
    );
    for x in &r.sets {
        let Some(f) = &x.fat else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            x.features,
            rho_cell(&f.ridge.patient),
            mae_cell(&f.ridge.patient),
            rho_cell(&f.svr.patient),
            mae_cell(&f.svr.patient),
            rho_cell(&f.ridge.roi),
            rho_cell(&f.svr.roi)
        );
    }
    let _ = writeln!(
        s,
        "\nThe correlation over all patients includes the step from healthy (fat below 5%) to \
         steatotic: a set that only separates the classes already correlates. MAE is in the \
         labels' units (percent fat)."
    );
}

/// `roc.png`: the pooled per-patient ROC curve of every set.
pub fn roc_png(r: &CvReport, path: &Path) -> Result<(), EvalError> {
    let curves: Vec<Curve> = r
        .sets
        .iter()
        .map(|s| Curve {
            name: format!(
                "{} (AUC {})",
                s.features,
                s.patient
                    .pooled
                    .auc
                    .map(|a| format!("{a:.3}"))
                    .unwrap_or_else(|| "–".into())
            ),
            points: s.roc.clone(),
        })
        .collect();
    figures::roc_curves(
        &curves,
        &format!(
            "ROC per patient, {}-fold cross-validation by patient",
            r.folds
        ),
        path,
    )
}

use std::collections::BTreeSet;

use super::results::{aggregate, folds_csv, predictions_csv, report_md, verdicts};
use super::*;
use crate::data::synth::{generate, SynthConfig};

fn data(healthy: usize, steatotic: usize) -> Dataset {
    Dataset {
        root: "/synthetic".into(),
        rois: generate(&SynthConfig {
            seed: 7,
            healthy,
            steatotic,
            frames: 4,
        }),
    }
}

#[test]
fn feature_sets_round_trip_through_their_names() {
    for s in FeatureSet::defaults(&ModelKind::ALL) {
        assert_eq!(FeatureSet::parse(&s.name()).unwrap(), s);
    }
    assert_eq!(
        FeatureSet::parse(" CAE ").unwrap(),
        FeatureSet::Latent(ModelKind::Cae)
    );
    let e = FeatureSet::parse("hog").unwrap_err();
    assert!(e.contains("'hog' is not a feature set"), "{e}");
    assert_eq!(FeatureSet::VqZe.model(), Some(ModelKind::Vqvae));
    assert_eq!(FeatureSet::Glcm.model(), None);
    // Codes only when the VQ-VAE is trained.
    let d = FeatureSet::defaults(&[ModelKind::Cae]);
    assert!(!d.contains(&FeatureSet::VqCodes));
    assert_eq!(d.len(), 4);
}

#[test]
fn every_patient_is_held_out_once_a_repeat_and_never_on_both_sides() {
    let d = data(6, 9);
    let plan = plan(&d, 5, 3, 11).unwrap();
    assert_eq!(plan.len(), 15);
    let all: BTreeSet<PatientId> = d.patients().into_iter().map(|p| p.id).collect();
    for r in 1..=3 {
        let folds: Vec<&FoldPlan> = plan.iter().filter(|f| f.repeat == r).collect();
        let mut seen = BTreeSet::new();
        for f in &folds {
            // Stratified: each fold holds out patients of both classes (6 and 9 over 5 folds).
            let labels: BTreeSet<Label> = d
                .rois
                .iter()
                .filter(|x| f.split.test.contains(&x.patient))
                .map(|x| x.label)
                .collect();
            assert_eq!(labels.len(), 2, "fold {} of repeat {r}", f.fold);
            for p in &f.split.test {
                assert!(seen.insert(p.clone()), "{p} held out twice in repeat {r}");
            }
            // The training side is every other patient: no ROI of a held-out patient trains.
            let train = d.indices(&f.split, crate::data::Side::Train);
            assert!(train
                .iter()
                .all(|&i| !f.split.test.contains(&d.rois[i].patient)));
        }
        assert_eq!(seen, all);
    }
    // The same seed deals the same folds; repeats and other seeds deal others.
    assert_eq!(plan, super::plan(&d, 5, 3, 11).unwrap());
    assert_ne!(plan[0].split, plan[5].split);
    assert_ne!(plan[..5], super::plan(&d, 5, 1, 12).unwrap()[..]);
    let csv = folds_csv(&d, &plan);
    assert_eq!(csv.lines().count(), 1 + 3 * 15);
    assert!(csv.starts_with("patient,repeat,fold\n"));
}

#[test]
fn plans_that_cannot_work_are_refused_in_words() {
    let d = data(1, 5);
    assert!(plan(&d, 3, 1, 0)
        .unwrap_err()
        .contains("at least 2 of each"));
    let d = data(2, 2);
    assert!(plan(&d, 5, 1, 0)
        .unwrap_err()
        .contains("more than the 4 patients"));
    assert!(plan(&d, 1, 1, 0).unwrap_err().contains("at least 2"));
    assert!(plan(&d, 2, 0, 0).unwrap_err().contains("--repeats 0"));
}

#[test]
fn hand_made_sets_predict_held_out_patients_and_the_report_says_what_they_are_worth() {
    let d = data(6, 9);
    let plan = plan(&d, 3, 1, 5).unwrap();
    let rois: Vec<&Roi> = d.rois.iter().collect();
    let sets = [FeatureSet::Pixels, FeatureSet::FirstOrder, FeatureSet::Glcm];
    let mut preds = Vec::new();
    for set in sets {
        let x = features(set, &rois, None).unwrap();
        assert_eq!(x.nrows(), d.len());
        for f in &plan {
            let p = fold_predictions(set, &x, &d, f).unwrap();
            // Only the held-out patients' ROIs are predicted.
            assert!(p.iter().all(|q| f.split.test.contains(&q.patient)));
            assert_eq!(p.len(), d.indices(&f.split, crate::data::Side::Test).len());
            preds.extend(p);
        }
    }
    // Every ROI predicted once per set.
    assert_eq!(preds.len(), 3 * d.len());
    assert!(features(FeatureSet::Latent(ModelKind::Cae), &rois, None).is_err());
    let r = aggregate(&d, &sets, &preds, 3, 1, 5, vec![], 0);
    assert_eq!(r.sets.len(), 3);
    assert_eq!(r.patients, 15);
    for s in &r.sets {
        assert_eq!(s.roi.pooled.n, d.len());
        assert_eq!(s.patient.pooled.n, 15);
        assert_eq!(s.roi.folds.n, 3);
        // The synthetic classes differ in echogenicity: every set tells them apart.
        assert!(
            s.patient.pooled.auc.unwrap() > 0.8,
            "{}: {:?}",
            s.features,
            s.patient.pooled
        );
        let ci = s.patient.ci95.as_ref().unwrap().auc.unwrap();
        assert!(ci[0] <= s.patient.pooled.auc.unwrap() && ci[1] >= ci[0]);
    }
    // Comparisons with pixels and firstorder, not with itself.
    assert!(r.sets[0].vs_pixels.is_none() && r.sets[0].vs_firstorder.is_some());
    assert!(r.sets[2].vs_pixels.is_some() && r.sets[2].vs_firstorder.is_some());
    // No learned set: nothing to judge, and the report says so.
    assert!(verdicts(&r).is_empty());
    let md = report_md(&r);
    assert!(md.contains("No learned representation"), "{md}");
    assert!(md.contains("| glcm | "), "{md}");
    // A learned set no better than firstorder is called that, in words.
    let mut r2 = r.clone();
    let mut fake = r.sets[0].clone();
    fake.features = "vqvae".into();
    fake.vs_firstorder = Some(crate::eval::binary::PairedAuc {
        diff: -0.01,
        ci95: [-0.1, 0.08],
        p: 0.7,
        resamples: 2000,
    });
    r2.sets.push(fake);
    let v = verdicts(&r2);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].contains("`vqvae` does NO BETTER than `firstorder`"),
        "{}",
        v[0]
    );
    let csv = predictions_csv(&preds);
    assert!(csv.starts_with("file,patient,repeat,fold,features,truth,decision,predicted\n"));
    let line = csv.lines().nth(1).unwrap();
    assert_eq!(line.split(',').count(), 8, "{line}");
    assert!(
        line.ends_with(",healthy") || line.ends_with(",steatosis"),
        "{line}"
    );
}

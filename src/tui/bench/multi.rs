//! The benchmark's state for the panes that show several runs: other models' reconstructions in
//! the Reconstructions pane, and three marked runs compared in the Compare pane.

use std::path::PathBuf;

use crate::eval::compare::{Comparison, MetricTests, METRICS};
use crate::eval::stats::TestResult;
use crate::eval::{Classification, Protocol, RoiMetrics, Scores, Summary};
use crate::tui::jobs::{self, CompareData, PeerRecon, RunSummary};
use crate::tui::multirun::{CompareRun, Pairing};

use super::world::{blurred, unit, Lcg, World};

impl World {
    /// The CAE, VAE and VAE+NF reconstructing the Reconstructions pane's ROIs (blurrier each).
    pub(super) fn peers(&self, rng: &mut Lcg) -> Vec<PeerRecon> {
        let test = self.test_rois();
        let rois = jobs::pick_rois(&test, 0);
        ["cae", "vae", "vaenf"]
            .into_iter()
            .enumerate()
            .map(|(k, model)| {
                let recons: Vec<Vec<f32>> = rois
                    .iter()
                    .map(|r| blurred(&r.pixels, 0.04 * (k + 1) as f64, rng))
                    .collect();
                PeerRecon {
                    run: PathBuf::from("/runs").join(model),
                    model: model.into(),
                    epoch: 250,
                    metrics: rois
                        .iter()
                        .zip(&recons)
                        .map(|(r, y)| RoiMetrics::of(&unit(r), y))
                        .collect(),
                    recons,
                }
            })
            .collect()
    }

    /// Table 1, the paired tests and Table 2 of the first three runs of `runs`.
    pub(super) fn compare(&self, runs: &[RunSummary], rng: &mut Lcg) -> CompareData {
        let test = self.test_rois();
        let classification = |protocol: Protocol, n: usize| {
            let mut s = Scores::from_confusion([[9, 6], [4, 11]]);
            s.accuracy_ci95 = Some([0.55, 0.85]);
            Classification {
                protocol,
                n,
                pixels: s.clone(),
                latents: s,
            }
        };
        let rows: Vec<CompareRun> = runs
            .iter()
            .take(3)
            .enumerate()
            .map(|(k, r)| {
                let m: Vec<RoiMetrics> = test
                    .iter()
                    .map(|t| {
                        RoiMetrics::of(&unit(t), &blurred(&t.pixels, 0.02 * (k + 1) as f64, rng))
                    })
                    .collect();
                CompareRun {
                    path: r.path.clone(),
                    name: r.name.clone(),
                    model: r.model,
                    epoch: r.epoch,
                    summary: Summary::of(&m),
                    no_copy: None,
                    paper: classification(Protocol::Paper, 30),
                    lopo: classification(Protocol::Lopo, test.len()),
                }
            })
            .collect();
        let p = |x: f64| {
            Some(TestResult {
                n: test.len(),
                statistic: 1.0,
                p: x,
            })
        };
        let pairings = (1..rows.len())
            .map(|other| Pairing {
                other,
                result: Ok(Comparison {
                    reference: rows[0].name.clone(),
                    other: rows[other].name.clone(),
                    rois: test.len(),
                    patients: 11,
                    tests: METRICS
                        .iter()
                        .map(|(name, _)| MetricTests {
                            metric: name.to_string(),
                            roi_wilcoxon: p(1e-6),
                            roi_t: p(0.012),
                            patient_wilcoxon: p(0.12),
                            patient_t: p(0.03),
                        })
                        .collect(),
                }),
            })
            .collect();
        CompareData {
            runs: rows.iter().map(|r| r.path.clone()).collect(),
            rows,
            reference: 0,
            pairings,
        }
    }
}

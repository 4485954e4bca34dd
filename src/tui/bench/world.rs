//! The fixed state the benchmark draws: sample data, a run part-way through training, and
//! synthetic results for the other panes.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::data::{LoadOptions, Roi, Side, ROI_PIXELS};
use crate::eval::{Classification, Protocol, RoiMetrics, Scores, Summary};
use crate::train::{EpochRecord, Event, RunStatus, Terms};
use crate::tui::app::App;
use crate::tui::jobs::{
    self, CodebookData, DataLoaded, Done, JobKey, Outcome, ReconData, ReconRoi, RunSummary, Thumbs,
    TraversalData,
};
use crate::tui::keymap::Keymap;
use crate::tui::panes::classify::ClassifyPane;
use crate::tui::panes::latent::LatentPane;
use crate::tui::panes::recon::ReconPane;
use crate::tui::panes::Ctx;
use crate::tui::widgets::image::GrayMode;
use crate::tui::Msg;

use super::*;

pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A reconstruction-like image of `roi`: a 3x3 box blur in [0, 1], plus noise of amplitude `noise`.
pub(super) fn blurred(roi: &[u8], noise: f64, rng: &mut Lcg) -> Vec<f32> {
    let px = |x: i32, y: i32| roi[(y.clamp(0, 27) * 28 + x.clamp(0, 27)) as usize] as f32;
    (0..ROI_PIXELS as i32)
        .map(|i| {
            let (x, y) = (i % 28, i / 28);
            let mut s = 0.0;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    s += px(x + dx, y + dy);
                }
            }
            let v = s / 9.0 / 255.0 + (noise * (rng.next() - 0.5)) as f32;
            v.clamp(0.0, 1.0)
        })
        .collect()
}

pub(super) fn unit(roi: &Roi) -> Vec<f32> {
    roi.pixels.iter().map(|&p| p as f32 / 255.0).collect()
}

pub(super) fn terms(v: f64) -> Terms {
    [
        ("total".to_string(), v),
        ("recon".to_string(), v * 0.8),
        ("codebook".to_string(), v * 0.1),
        ("commit".to_string(), v * 0.1),
    ]
    .into()
}

pub(super) fn loss_at(x: f64) -> f64 {
    0.02 + 0.08 / (1.0 + x)
}

/// An epoch record, through serde as the engine's readers see it.
pub(super) fn record(
    epoch: usize,
    epochs: usize,
    seconds: f64,
    train_rois: usize,
) -> Result<EpochRecord> {
    let v = loss_at(epoch as f64);
    Ok(serde_json::from_value(serde_json::json!({
        "epoch": epoch, "epochs": epochs,
        "train": terms(v), "test": terms(v * 1.1),
        "codes_used": (30 + epoch).min(64), "perplexity": 18.0 + epoch as f64 * 0.5,
        "lr": 2e-4, "seconds": seconds, "rois_per_sec": train_rois as f64 / seconds
    }))?)
}

/// The fixed world the panes are drawn from.
pub(super) struct World {
    pub(super) data: DataLoaded,
    test: Vec<usize>,
    run: PathBuf,
}

impl World {
    pub(super) fn load(dir: &Path) -> Result<World> {
        let data = jobs::load_data(dir, &LoadOptions::default())
            .with_context(|| format!("cannot load {}", dir.display()))?;
        let test = match &data.split {
            Some(s) => data.dataset.indices(s, Side::Test),
            None => (0..data.dataset.len()).collect(),
        };
        ensure!(!test.is_empty(), "{} has no test ROIs", dir.display());
        Ok(World {
            data,
            test,
            run: PathBuf::from("/runs/vqvae-20260101-120000"),
        })
    }

    pub(super) fn test_rois(&self) -> Vec<&Roi> {
        self.test
            .iter()
            .map(|&i| &self.data.dataset.rois[i])
            .collect()
    }

    pub(super) fn thumbs(&self, epoch: usize, rng: &mut Lcg) -> Thumbs {
        let test = self.test_rois();
        let rois = jobs::pick_rois(&test, 0);
        let noise = 0.3 / epoch.max(1) as f64;
        Thumbs {
            run: self.run.clone(),
            epoch,
            labels: rois.iter().map(|r| r.label).collect(),
            originals: rois.iter().map(|r| r.pixels.clone()).collect(),
            recons: rois
                .iter()
                .map(|r| blurred(&r.pixels, noise, rng))
                .collect(),
        }
    }

    pub(super) fn recon(&self, rng: &mut Lcg) -> ReconData {
        let test = self.test_rois();
        let all: Vec<RoiMetrics> = test
            .iter()
            .map(|r| RoiMetrics::of(&unit(r), &blurred(&r.pixels, 0.02, rng)))
            .collect();
        let rois = jobs::pick_rois(&test, 0)
            .into_iter()
            .map(|r| {
                let recon = blurred(&r.pixels, 0.02, rng);
                ReconRoi {
                    file: r.file.clone(),
                    label: r.label,
                    pixels: r.pixels.clone(),
                    metrics: RoiMetrics::of(&unit(r), &recon),
                    recon,
                    codes: Some((0..49).map(|_| (rng.next() * 64.0) as u32).collect()),
                }
            })
            .collect();
        ReconData {
            model: "vqvae".into(),
            run: self.run.clone(),
            epoch: 12,
            pick: 0,
            rois,
            summary: Summary::of(&all),
        }
    }

    pub(super) fn latent(&self, rng: &mut Lcg) -> LatentPane {
        let test = self.test_rois();
        let roi = test[0];
        let offsets = vec![-2.0, -1.0, 0.0, 1.0, 2.0];
        let images = offsets
            .iter()
            .map(|o| {
                blurred(&roi.pixels, 0.02, rng)
                    .into_iter()
                    .map(|v| (v + *o as f32 * 0.08).clamp(0.0, 1.0))
                    .collect()
            })
            .collect();
        let prototypes = (0..64)
            .map(|k| blurred(&test[k % test.len()].pixels, 0.05, rng))
            .collect();
        let usage = (0..64)
            .map(|k| {
                if k % 5 == 4 {
                    [0, 0]
                } else {
                    [(rng.next() * 300.0) as u64, (rng.next() * 300.0) as u64]
                }
            })
            .collect();
        LatentPane {
            run: Some(self.run.clone()),
            traversal: Some(TraversalData {
                run: self.run.clone(),
                dim: 0,
                dims: 32,
                offsets,
                images,
            }),
            codebook: Some(CodebookData {
                run: self.run.clone(),
                prototypes,
                usage,
            }),
            dims: 32,
            ..LatentPane::default()
        }
    }

    pub(super) fn runs(&self) -> Vec<RunSummary> {
        (0..12)
            .map(|i| {
                let name = format!("vqvae-202601{:02}-1200{:02}", i + 1, i);
                let done = i != 0;
                RunSummary {
                    path: PathBuf::from("/runs").join(&name),
                    name,
                    model: crate::model::ModelKind::Vqvae,
                    status: if done {
                        RunStatus::Finished
                    } else {
                        RunStatus::Running(crate::train::Holder {
                            pid: 4242,
                            host: "gpu-server".into(),
                            started: "2026-01-01T12:00:00Z".into(),
                        })
                    },
                    epoch: if done { 250 } else { 12 },
                    epochs: if i == 0 { 20 } else { 250 },
                    train_loss: Some(0.0312 + i as f64 * 1e-3),
                    test_loss: Some(0.0345 + i as f64 * 1e-3),
                    test_mse: done.then_some(0.0131 + i as f64 * 1e-4),
                    created: format!("2026-01-{:02}T12:00:00Z", i + 1),
                }
            })
            .collect()
    }

    /// The workbench with the data loaded and nothing else (no jobs are started).
    pub(super) fn app(&self) -> (App, UnboundedReceiver<Msg>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let ctx = Ctx {
            theme: crate::tui::theme::Theme::default(),
            mode: GrayMode::TrueColor,
        };
        let mut app = App::new(
            ctx,
            Keymap::default(),
            LoadOptions::default(),
            "/runs".into(),
            tx,
        );
        app.spawn_jobs = false;
        app.data.set_dataset(
            self.data.dir.clone(),
            self.data.dataset.clone(),
            self.data.split.clone(),
        );
        (app, rx)
    }

    /// The event stream of a training, with times in seconds from its start.
    pub(super) fn training(
        &self,
        opts: &BenchOptions,
        until: f64,
        rng: &mut Lcg,
    ) -> Result<Vec<(f64, Msg)>> {
        let period = 1.0 / opts.epochs_per_sec;
        let steps = opts.steps_per_epoch.max(1);
        let train_rois = self.data.dataset.len() - self.test.len();
        let mut out = vec![(
            0.0,
            Msg::Train(Event::Started {
                run: self.run.clone(),
                start_epoch: 0,
                epochs: opts.epochs,
                steps_per_epoch: steps,
                device: "cpu (2 threads)".into(),
                params: 250_000,
            }),
        )];
        for epoch in 1..=opts.epochs {
            let t0 = (epoch - 1) as f64 * period;
            if t0 > until {
                break;
            }
            for step in 1..=steps {
                let x = (epoch - 1) as f64 + step as f64 / steps as f64;
                let v = loss_at(x) * (1.0 + 0.2 * (rng.next() - 0.5));
                out.push((
                    t0 + period * 0.8 * step as f64 / steps as f64,
                    Msg::Train(Event::Step {
                        epoch,
                        step,
                        steps,
                        terms: terms(v),
                    }),
                ));
            }
            let rec = record(epoch, opts.epochs, period, train_rois)?;
            out.push((t0 + period * 0.95, Msg::Train(Event::Epoch(rec))));
            out.push((
                t0 + period * 0.97,
                Msg::Train(Event::Checkpoint {
                    epoch,
                    path: self.run.join("checkpoints"),
                }),
            ));
            // The Train pane's reconstructions, computed by a job from the new checkpoint.
            out.push((
                t0 + period * 0.99,
                Msg::Job(Done {
                    key: JobKey::Thumbs,
                    // Stamped by `replayed` with the id the app gave its request.
                    id: 0,
                    outcome: Outcome::Thumbs(self.run.clone(), Ok(self.thumbs(epoch, rng))),
                }),
            ));
        }
        out.retain(|(t, _)| *t <= until);
        Ok(out)
    }

    /// The workbench with every pane holding data, as during a training 12 epochs in.
    pub(super) fn full_app(&self, opts: &BenchOptions) -> Result<(App, UnboundedReceiver<Msg>)> {
        let mut rng = Lcg(7);
        let (mut app, rx) = self.app();
        let until = 12.0 / opts.epochs_per_sec;
        for (_, msg) in self.training(opts, until, &mut rng)? {
            let msg = replayed(&app, msg);
            app.on_msg(msg);
        }
        app.recon = ReconPane {
            run: Some(self.run.clone()),
            data: Some(self.recon(&mut rng)),
            peers: self.peers(&mut rng),
            ..ReconPane::default()
        };
        app.latent = self.latent(&mut rng);
        app.classify = ClassifyPane {
            run: Some(self.run.clone()),
            protocol: Protocol::Paper,
            result: Some(Classification {
                protocol: Protocol::Paper,
                n: 30,
                pixels: Scores::from_confusion([[9, 6], [4, 11]]),
                latents: Scores::from_confusion([[12, 3], [3, 12]]),
            }),
            ..ClassifyPane::default()
        };
        app.runs.set_runs(self.runs());
        app.runs.open = Some(self.run.clone());
        app.runs.marked = app
            .runs
            .runs
            .iter()
            .take(3)
            .map(|r| r.path.clone())
            .collect();
        let compared = self.compare(&app.runs.runs, &mut rng);
        let key = crate::tui::panes::compare::key_of(&app.runs);
        app.compare.cache.insert(key, compared);
        app.checkpoint = Some(12);
        app.message = None;
        Ok((app, rx))
    }
}

/// A recorded message as it would reach the app now: a job's result carries the current id of its
/// kind (the app asked for it when the checkpoint arrived).
pub(super) fn replayed(app: &App, msg: Msg) -> Msg {
    match msg {
        Msg::Job(d) => Msg::Job(Done {
            id: app.jobs.scheduler.current(&d.key),
            ..d
        }),
        other => other,
    }
}

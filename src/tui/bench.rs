//! Benchmarks of the workbench (`vqtex bench --tui`): the time to draw a full frame of each pane,
//! and the bytes written to the terminal per second while a training runs.
//!
//! Every pane is drawn from realistic fixed state: the sample data (or `--data`) loaded as the Data
//! pane loads it, a run 12 epochs into a 20-epoch training with per-step curves and per-epoch
//! reconstructions, reconstructions and metrics of 4 test ROIs, a traversal, a 64-code codebook,
//! both SVM results and a dozen runs. Images are drawn in truecolor (the most bytes per cell).
//!
//! The bytes/s measure feeds the app the event stream of a training (7 steps and one epoch, one
//! checkpoint and one refresh of the Train pane's reconstructions per simulated second, as on this
//! machine) through the event loop's redraw policy ([`runtime::Pacer`]: redraw only on change, at
//! most one frame per [`runtime::FRAME`], training steps coalesced to one frame per
//! [`runtime::STEP_FRAME`], a tick per [`runtime::TICK`]), on simulated time, into ratatui's
//! `CrosstermBackend` over a byte-counting writer.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;

use super::app::{App, PANES};
use super::jobs::{
    self, CodebookData, DataLoaded, Outcome, ReconData, ReconRoi, RunSummary, Thumbs, TraversalData,
};
use super::keymap::Keymap;
use super::panes::classify::ClassifyPane;
use super::panes::latent::LatentPane;
use super::panes::recon::ReconPane;
use super::panes::Ctx;
use super::runtime::{self, Pacer};
use super::widgets::image::GrayMode;
use super::Msg;
use crate::data::{LoadOptions, Roi, Side, ROI_PIXELS};
use crate::eval::{Classification, Protocol, RoiMetrics, Scores, Summary};
use crate::train::{EpochRecord, Event, Terms};

/// What to measure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchOptions {
    /// Terminal size for the frame timings.
    pub width: u16,
    pub height: u16,
    /// Full frames timed per pane (after 3 warm-up frames).
    pub frames: usize,
    /// ROI folder for the Data pane and the ROIs of the other panes (default: the sample data).
    pub data: Option<PathBuf>,
    /// Simulated seconds of training for the bytes/s measure.
    pub stream_seconds: f64,
    /// Training speed of the simulated run.
    pub epochs_per_sec: f64,
    pub steps_per_epoch: usize,
    /// Epochs of the simulated run.
    pub epochs: usize,
    /// Terminal sizes (width, height) the bytes/s measure is run at, the Train pane shown.
    pub stream_sizes: Vec<(u16, u16)>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            width: 200,
            height: 60,
            frames: 200,
            data: None,
            stream_seconds: 10.0,
            epochs_per_sec: 1.0,
            steps_per_epoch: 7,
            epochs: 20,
            stream_sizes: vec![(200, 60), (100, 30)],
        }
    }
}

/// Drawing one pane, the whole screen repainted each frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaneFrame {
    pub pane: String,
    /// `Terminal::draw` on a `TestBackend` after `Terminal::clear`: rendering every widget, the
    /// diff of every cell and the backend's copy.
    pub mean_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// The same through `CrosstermBackend` into a counting writer (escape sequences encoded).
    pub crossterm_mean_ms: f64,
    /// Bytes of one full repaint through `CrosstermBackend`.
    pub full_frame_bytes: u64,
}

/// Bytes written while a training runs, the Train pane shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamBench {
    pub width: u16,
    pub height: u16,
    pub pane: String,
    pub simulated_seconds: f64,
    /// Messages fed to the app (training events and reconstruction refreshes).
    pub messages: usize,
    pub frames_drawn: usize,
    pub bytes: u64,
    pub bytes_per_sec: f64,
    /// The most bytes written within one simulated second.
    pub max_bytes_in_a_second: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TuiBenchReport {
    /// `release` or `debug` (timings of a debug build are not the product's).
    pub build: String,
    pub width: u16,
    pub height: u16,
    pub frames: usize,
    /// Colour mode of the images (`truecolor`).
    pub color: String,
    pub data: PathBuf,
    pub rois: usize,
    pub panes: Vec<PaneFrame>,
    pub streams: Vec<StreamBench>,
}

/// A `Write` that only counts what goes through it.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Counter {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn counting_terminal(w: u16, h: u16) -> Result<(Terminal<CrosstermBackend<Counter>>, Counter)> {
    let counter = Counter::default();
    let term = Terminal::with_options(
        CrosstermBackend::new(counter.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )?;
    Ok((term, counter))
}

/// A small deterministic generator for the synthetic values.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A reconstruction-like image of `roi`: a 3x3 box blur in [0, 1], plus noise of amplitude `noise`.
fn blurred(roi: &[u8], noise: f64, rng: &mut Lcg) -> Vec<f32> {
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

fn unit(roi: &Roi) -> Vec<f32> {
    roi.pixels.iter().map(|&p| p as f32 / 255.0).collect()
}

fn terms(v: f64) -> Terms {
    [
        ("total".to_string(), v),
        ("recon".to_string(), v * 0.8),
        ("codebook".to_string(), v * 0.1),
        ("commit".to_string(), v * 0.1),
    ]
    .into()
}

fn loss_at(x: f64) -> f64 {
    0.02 + 0.08 / (1.0 + x)
}

/// An epoch record, through serde as the engine's readers see it.
fn record(epoch: usize, epochs: usize, seconds: f64, train_rois: usize) -> Result<EpochRecord> {
    let v = loss_at(epoch as f64);
    Ok(serde_json::from_value(serde_json::json!({
        "epoch": epoch, "epochs": epochs,
        "train": terms(v), "test": terms(v * 1.1),
        "codes_used": (30 + epoch).min(64), "perplexity": 18.0 + epoch as f64 * 0.5,
        "lr": 2e-4, "seconds": seconds, "rois_per_sec": train_rois as f64 / seconds
    }))?)
}

/// The fixed world the panes are drawn from.
struct World {
    data: DataLoaded,
    test: Vec<usize>,
    run: PathBuf,
}

impl World {
    fn load(dir: &Path) -> Result<World> {
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

    fn test_rois(&self) -> Vec<&Roi> {
        self.test
            .iter()
            .map(|&i| &self.data.dataset.rois[i])
            .collect()
    }

    fn thumbs(&self, epoch: usize, rng: &mut Lcg) -> Thumbs {
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

    fn recon(&self, rng: &mut Lcg) -> ReconData {
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
            run: self.run.clone(),
            epoch: 12,
            rois,
            summary: Summary::of(&all),
        }
    }

    fn latent(&self, rng: &mut Lcg) -> LatentPane {
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

    fn runs(&self) -> Vec<RunSummary> {
        (0..12)
            .map(|i| {
                let name = format!("vqvae-202601{:02}-1200{:02}", i + 1, i);
                let done = i != 0;
                RunSummary {
                    path: PathBuf::from("/runs").join(&name),
                    name,
                    model: "vqvae".into(),
                    status: if done { "finished" } else { "running" }.into(),
                    epoch: if done { 250 } else { 12 },
                    epochs: if i == 0 { 20 } else { 250 },
                    train_loss: Some(0.0312 + i as f64 * 1e-3),
                    test_loss: Some(0.0345 + i as f64 * 1e-3),
                    test_mse: done.then_some(0.0131 + i as f64 * 1e-4),
                    created: format!("2026-01-{:02} 12:00", i + 1),
                }
            })
            .collect()
    }

    /// The workbench with the data loaded and nothing else (no jobs are started).
    fn app(&self) -> (App, UnboundedReceiver<Msg>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let ctx = Ctx {
            theme: super::theme::Theme::default(),
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
    fn training(&self, opts: &BenchOptions, until: f64, rng: &mut Lcg) -> Result<Vec<(f64, Msg)>> {
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
                Msg::Job(Outcome::Thumbs(
                    self.run.clone(),
                    Ok(self.thumbs(epoch, rng)),
                )),
            ));
        }
        out.retain(|(t, _)| *t <= until);
        Ok(out)
    }

    /// The workbench with every pane holding data, as during a training 12 epochs in.
    fn full_app(&self, opts: &BenchOptions) -> Result<(App, UnboundedReceiver<Msg>)> {
        let mut rng = Lcg(7);
        let (mut app, rx) = self.app();
        let until = 12.0 / opts.epochs_per_sec;
        for (_, msg) in self.training(opts, until, &mut rng)? {
            app.on_msg(msg);
        }
        app.recon = ReconPane {
            run: Some(self.run.clone()),
            data: Some(self.recon(&mut rng)),
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
        app.checkpoint = Some(12);
        app.message = None;
        Ok((app, rx))
    }
}

fn draw<B: Backend>(term: &mut Terminal<B>, app: &App) -> Result<()>
where
    B::Error: std::error::Error + Send + Sync + 'static,
{
    term.draw(|f| f.render_widget(app, f.area()))?;
    Ok(())
}

fn time_pane(app: &App, opts: &BenchOptions) -> Result<PaneFrame> {
    let (w, h) = (opts.width, opts.height);
    let frames = opts.frames.max(1);
    let mut test = Terminal::new(TestBackend::new(w, h))?;
    let mut ms = Vec::with_capacity(frames);
    for i in 0..frames + 3 {
        test.clear()?;
        let t = Instant::now();
        draw(&mut test, app)?;
        if i >= 3 {
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut ct_ms = 0.0;
    let mut bytes = 0;
    for i in 0..frames + 3 {
        // A new terminal each frame: its previous buffer is empty, so every cell is written.
        // (`Terminal::clear` would ask a real tty for the cursor position.)
        let (mut ct, counter) = counting_terminal(w, h)?;
        let before = counter.get();
        let t = Instant::now();
        draw(&mut ct, app)?;
        if i >= 3 {
            ct_ms += t.elapsed().as_secs_f64() * 1e3;
        }
        bytes = counter.get() - before;
    }
    Ok(PaneFrame {
        pane: PANES[app.pane].to_string(),
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
        min_ms: ms.iter().copied().fold(f64::INFINITY, f64::min),
        max_ms: ms.iter().copied().fold(0.0, f64::max),
        crossterm_mean_ms: ct_ms / frames as f64,
        full_frame_bytes: bytes,
    })
}

/// Runs the training's events through the event loop's redraw policy on simulated time.
fn stream(world: &World, opts: &BenchOptions, w: u16, h: u16) -> Result<StreamBench> {
    let (mut app, _rx) = world.app();
    app.switch(1);
    let (mut term, counter) = counting_terminal(w, h)?;
    // The screen before the training starts is already there.
    draw(&mut term, &app)?;
    let start_bytes = counter.get();
    let end = opts.stream_seconds.max(0.1);
    let mut rng = Lcg(11);
    let msgs = world.training(opts, end, &mut rng)?;
    let messages = msgs.len();
    let mut msgs = msgs.into_iter().peekable();
    let secs = Duration::from_secs_f64;
    let mut per_second = vec![0u64; end.ceil() as usize + 1];
    let mut pacer = Pacer::default();
    let mut t = 0.0f64;
    let tick = runtime::TICK.as_secs_f64();
    let mut next_tick = tick;
    let mut frames_drawn = 0;
    loop {
        if pacer.should_draw(secs(t)) {
            let before = counter.get();
            draw(&mut term, &app)?;
            per_second[t as usize] += counter.get() - before;
            frames_drawn += 1;
            pacer.drawn(secs(t));
        }
        let next_msg = msgs.peek().map_or(f64::INFINITY, |m| m.0);
        let next_frame = pacer.due().map_or(f64::INFINITY, |d| d.as_secs_f64());
        let wake = next_msg.min(next_tick).min(next_frame);
        if wake > end {
            break;
        }
        t = t.max(wake);
        if next_msg <= wake {
            // One message wakes the loop; what else is queued by then is drained before drawing.
            while let Some((_, msg)) = msgs.next_if(|m| m.0 <= t) {
                pacer.mark(app.on_msg(msg));
            }
        } else if next_tick <= wake {
            pacer.mark(app.on_tick());
            next_tick += tick;
        }
    }
    let bytes = counter.get() - start_bytes;
    Ok(StreamBench {
        width: w,
        height: h,
        pane: PANES[app.pane].to_string(),
        simulated_seconds: end,
        messages,
        frames_drawn,
        bytes,
        bytes_per_sec: bytes as f64 / end,
        max_bytes_in_a_second: per_second.iter().copied().max().unwrap_or(0),
    })
}

/// Times a full frame of each pane and measures the bytes/s written while a training runs.
pub fn bench(opts: BenchOptions) -> Result<TuiBenchReport> {
    ensure!(
        opts.width >= super::ui::MIN_WIDTH && opts.height >= super::ui::MIN_HEIGHT,
        "the workbench needs at least {}x{}",
        super::ui::MIN_WIDTH,
        super::ui::MIN_HEIGHT
    );
    ensure!(
        opts.epochs_per_sec > 0.0 && opts.epochs > 0,
        "the simulated training needs epochs and a positive speed"
    );
    let dir = opts
        .data
        .clone()
        .unwrap_or_else(crate::commands::sample_data_dir);
    let world = World::load(&dir)?;
    let (mut app, _rx) = world.full_app(&opts)?;
    let mut panes = Vec::new();
    for pane in 0..PANES.len() {
        app.pane = pane;
        panes.push(time_pane(&app, &opts)?);
    }
    let streams = opts
        .stream_sizes
        .iter()
        .map(|&(w, h)| stream(&world, &opts, w, h))
        .collect::<Result<Vec<_>>>()?;
    Ok(TuiBenchReport {
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        width: opts.width,
        height: opts.height,
        frames: opts.frames.max(1),
        color: "truecolor".into(),
        data: world.data.dir.clone(),
        rois: world.data.dataset.len(),
        panes,
        streams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_returns_sane_numbers() {
        let r = bench(BenchOptions {
            frames: 2,
            stream_seconds: 3.0,
            stream_sizes: vec![(100, 30)],
            ..BenchOptions::default()
        })
        .unwrap();
        assert_eq!(r.panes.len(), 6);
        assert!(r.rois > 0);
        for p in &r.panes {
            assert!(p.mean_ms > 0.0 && p.crossterm_mean_ms > 0.0, "{p:?}");
            assert!(p.min_ms <= p.mean_ms && p.mean_ms <= p.max_ms, "{p:?}");
            assert!(p.full_frame_bytes > 0, "{p:?}");
        }
        let s = &r.streams[0];
        assert_eq!(s.pane, "Train");
        assert!(s.messages > 0 && s.frames_drawn > 0, "{s:?}");
        assert!(s.bytes > 0 && s.bytes_per_sec > 0.0, "{s:?}");
        assert!(s.max_bytes_in_a_second <= s.bytes, "{s:?}");
        let json = serde_json::to_string(&r).unwrap();
        let back: TuiBenchReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.panes.len(), 6);
    }
}

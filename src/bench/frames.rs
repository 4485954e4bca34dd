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
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde::{Deserialize, Serialize};

use crate::tui::app::{App, Pane};
use crate::tui::fixture::{Lcg, Sim, World};
use crate::tui::runtime::{self, Pacer};

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

impl BenchOptions {
    /// The simulated training these options describe.
    pub fn sim(&self) -> Sim {
        Sim {
            epochs_per_sec: self.epochs_per_sec,
            steps_per_epoch: self.steps_per_epoch,
            epochs: self.epochs,
        }
    }
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
        pane: app.pane.name().to_string(),
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
    app.switch(Pane::Train);
    let (mut term, counter) = counting_terminal(w, h)?;
    // The screen before the training starts is already there.
    draw(&mut term, &app)?;
    let start_bytes = counter.get();
    let end = opts.stream_seconds.max(0.1);
    let mut rng = Lcg(11);
    let msgs = world.training(&opts.sim(), end, &mut rng)?;
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
                let msg = crate::tui::fixture::replayed(&app, msg);
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
        pane: app.pane.name().to_string(),
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
        opts.width >= crate::tui::ui::MIN_WIDTH && opts.height >= crate::tui::ui::MIN_HEIGHT,
        "the workbench needs at least {}x{}",
        crate::tui::ui::MIN_WIDTH,
        crate::tui::ui::MIN_HEIGHT
    );
    ensure!(
        opts.epochs_per_sec > 0.0 && opts.epochs > 0,
        "the simulated training needs epochs and a positive speed"
    );
    let dir = opts
        .data
        .clone()
        .unwrap_or_else(crate::paths::sample_data_dir);
    let world = World::load(&dir)?;
    let (mut app, _rx) = world.full_app(&opts.sim())?;
    let mut panes = Vec::new();
    for pane in Pane::ALL {
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
        assert_eq!(r.panes.len(), Pane::ALL.len());
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
        assert_eq!(back.panes.len(), Pane::ALL.len());
    }
}

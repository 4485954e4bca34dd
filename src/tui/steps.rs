//! Step scrubbing: the fixed ROIs' reconstructions a training keeps at every epoch
//! (`train::steps`, `steps.bin`), shown by epoch. One cursor, shared by the Train pane's
//! reconstructions and every run the Reconstructions pane shows side by side: `,`/`.` move it one
//! epoch, `<`/`>` ten, `home` to the first, `end` back to following the latest (the panes' usual
//! view). Each run shows its record at the cursor, or its newest one before it.
//!
//! The records are read in a job ([`load`]); while the shown run trains or is watched live, they
//! are read again once a tick, so the newest epoch can be reached.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::app::{App, Pane};
use super::jobs::Request;
use super::keymap::Action;
use super::panes::{block, put, Ctx};
use super::widgets::image::draw_roi;
use crate::data::ROI_PIXELS;
use crate::runs::{StepImages, StepRoi};
use crate::train::RunDir;

/// A move of the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Back(usize),
    Forward(usize),
    First,
    /// Back to following the newest epoch.
    Latest,
}

/// The move an action makes, for the scrubbing actions.
pub fn move_of(a: Action) -> Option<Move> {
    Some(match a {
        Action::StepBack => Move::Back(1),
        Action::StepForward => Move::Forward(1),
        Action::StepBack10 => Move::Back(10),
        Action::StepForward10 => Move::Forward(10),
        Action::StepFirst => Move::First,
        Action::StepLatest => Move::Latest,
        _ => return None,
    })
}

/// Where the cursor goes from `cursor` (`None`: the newest of `epochs`) on `mv`, over the epochs
/// that have records (ascending). `None`: follow the newest again.
pub fn apply(mv: Move, cursor: Option<u32>, epochs: &[u32]) -> Option<u32> {
    let (first, last) = match (epochs.first(), epochs.last()) {
        (Some(&f), Some(&l)) => (f, l),
        _ => return cursor,
    };
    let cur = cursor.unwrap_or(last);
    // Records at or before the cursor: the cursor's own index is the last of them.
    let before = epochs.partition_point(|&e| e <= cur);
    let on_record = before > 0 && epochs[before - 1] == cur;
    match mv {
        Move::Latest => None,
        Move::First => Some(first),
        // Following the newest already: forward stays there.
        Move::Forward(_) if cursor.is_none() => None,
        Move::Forward(k) => {
            let from = if on_record {
                before - 1
            } else {
                before.wrapping_sub(1)
            };
            let i = from.wrapping_add(k).min(epochs.len() - 1);
            Some(epochs[i])
        }
        Move::Back(k) => {
            let base = if on_record { before - 1 } else { before };
            Some(epochs[base.saturating_sub(k)])
        }
    }
}

/// One run's records as the panes show them.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFrame {
    pub run: PathBuf,
    /// The run's model (`vqvae`, ...), for the rows' labels.
    pub model: String,
    /// Epochs with a record, ascending; empty when the run kept none.
    pub epochs: Vec<u32>,
    pub rois: Vec<StepRoi>,
    /// The epoch shown (the cursor's, or the newest before it) and its reconstructions.
    pub shown: Option<u32>,
    pub recons: Vec<[u8; ROI_PIXELS]>,
    /// Why the run shows nothing (a damaged file), if so.
    pub error: Option<String>,
}

/// Reads each run's records and its reconstructions at `epoch` (`None`: the newest). The job of
/// [`Request::Steps`].
pub fn load(runs: &[PathBuf], epoch: Option<u32>) -> Vec<StepFrame> {
    runs.iter().map(|r| load_one(r, epoch)).collect()
}

fn load_one(run: &Path, epoch: Option<u32>) -> StepFrame {
    let model = RunDir::new(run)
        .read_config()
        .map(|c| c.model.kind().to_string())
        .unwrap_or_else(|_| "?".into());
    let mut frame = StepFrame {
        run: run.to_path_buf(),
        model,
        epochs: Vec::new(),
        rois: Vec::new(),
        shown: None,
        recons: Vec::new(),
        error: None,
    };
    let read = (|| -> std::io::Result<()> {
        let Some(s) = StepImages::open(run)? else {
            return Ok(());
        };
        frame.epochs = s.epochs();
        frame.rois = s.rois().to_vec();
        frame.shown = match epoch {
            Some(e) => s.at_or_before(e),
            None => frame.epochs.last().copied(),
        };
        if let Some(e) = frame.shown {
            frame.recons = s.at(e)?.unwrap_or_default();
        }
        Ok(())
    })();
    if let Err(e) = read {
        frame.error = Some(e.to_string());
    }
    frame
}

/// The shared cursor and the records read for it.
#[derive(Debug, Default)]
pub struct Steps {
    /// The epoch shown; `None`: the panes' usual view, following the newest.
    pub cursor: Option<u32>,
    /// The runs of the last answer, in the order asked.
    pub frames: Vec<StepFrame>,
    /// The runs the frames were read for.
    pub loaded: Option<Vec<PathBuf>>,
    /// The last request: its runs and cursor.
    asked: Option<(Vec<PathBuf>, Option<u32>)>,
    /// Moves made before the runs' epochs were known, made when they are.
    pending: Vec<Move>,
}

impl Steps {
    /// Every epoch with a record in any of the frames, ascending.
    fn epochs(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self
            .frames
            .iter()
            .flat_map(|f| f.epochs.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// What a pane showing `runs` draws, while the cursor is set.
    fn view(&self, runs: &[PathBuf], latest_key: &str) -> Option<StepView> {
        let epoch = self.cursor?;
        // A pane without a run keeps its own view ("no run open").
        if runs.is_empty() {
            return None;
        }
        let frames: Vec<Option<StepFrame>> = runs
            .iter()
            .map(|r| self.frames.iter().find(|f| &f.run == r).cloned())
            .collect();
        let last = frames
            .iter()
            .flatten()
            .filter_map(|f| f.epochs.last().copied())
            .max()
            .unwrap_or(epoch);
        Some(StepView {
            epoch,
            last,
            frames,
            latest_key: latest_key.to_string(),
        })
    }
}

/// What a pane draws while scrubbing: the cursor, the newest epoch recorded, and each of its runs'
/// frames (`None`: not read yet).
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub epoch: u32,
    pub last: u32,
    pub frames: Vec<Option<StepFrame>>,
    /// The key that goes back to following the newest epoch, as the title names it.
    pub latest_key: String,
}

impl StepView {
    /// `what · epoch 37 / 250 (scrubbing · End: latest)`, without `what` when `width` is short.
    pub fn title(&self, what: &str, width: u16) -> String {
        let t = format!(
            "epoch {} / {} (scrubbing · {}: latest)",
            self.epoch, self.last, self.latest_key
        );
        let full = format!("{what} · {t}");
        if full.chars().count() + 2 <= width as usize {
            full
        } else {
            t
        }
    }

    /// Why a run shows no images, if so.
    fn missing(f: Option<&StepFrame>) -> Option<String> {
        match f {
            None => Some("reading the epochs…".into()),
            Some(f) if f.error.is_some() => f.error.clone(),
            Some(f) if f.epochs.is_empty() => {
                Some("no images per epoch (trained before vqtex kept them)".into())
            }
            Some(f) if f.shown.is_none() => Some("no epoch this early".into()),
            _ => None,
        }
    }

    /// The Train pane: original | reconstruction of each fixed ROI of the first run.
    pub fn draw_pairs(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let f = self.frames.first().and_then(Option::as_ref);
        let b = block(self.title("Reconstructions", area.width), ctx, true);
        let inner = b.inner(area);
        b.render(area, buf);
        if let Some(why) = Self::missing(f) {
            put(buf, inner, inner.x, inner.y, &why, ctx.theme.muted());
            return;
        }
        let Some(f) = f else { return };
        for (i, (roi, rec)) in f.rois.iter().zip(&f.recons).enumerate() {
            let x = inner.x + i as u16 * 31;
            if x + 29 > inner.x + inner.width {
                break;
            }
            draw_roi(
                buf,
                Rect::new(x, inner.y, 14, 7).intersection(inner),
                &roi.pixels,
                0,
                ctx.mode,
            );
            draw_roi(
                buf,
                Rect::new(x + 15, inner.y, 14, 7).intersection(inner),
                rec,
                0,
                ctx.mode,
            );
            put(
                buf,
                inner,
                x,
                inner.y + 7,
                roi.label.as_str(),
                ctx.theme.muted(),
            );
        }
        if f.shown != Some(self.epoch) {
            let note = format!("(epoch {} has none: epoch {})", self.epoch, fmt(f.shown));
            put(
                buf,
                inner,
                inner.x + 16,
                inner.y + 7,
                &note,
                ctx.theme.warn(),
            );
        }
    }

    /// The Reconstructions pane: the first run's originals, then one row per run at the cursor.
    pub fn draw_rows(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        const LABEL: u16 = 10;
        let b = block(self.title("Models by epoch", area.width), ctx, true);
        let inner = b.inner(area);
        b.render(area, buf);
        let Some(base) = self.frames.iter().flatten().find(|f| !f.rois.is_empty()) else {
            let why = Self::missing(self.frames.first().and_then(Option::as_ref));
            put(
                buf,
                inner,
                inner.x,
                inner.y,
                &why.unwrap_or_default(),
                ctx.theme.muted(),
            );
            return;
        };
        // The largest whole zoom (0: half size) at which every image fits across, and every run's
        // row with a row of gap fits down; the originals' row too if it can. Otherwise (80x24 with
        // two runs) the originals give way: the runs' rows are what is scrubbed.
        let n = base.rois.len() as u16;
        let rows = self.frames.len() as u16;
        let size = |z: u16| {
            if z == 0 {
                (14u16, 7u16)
            } else {
                (28 * z, 14 * z)
            }
        };
        let fits = |z: u16, rows: u16| {
            let (w, h) = size(z);
            LABEL + n * (w + 1) <= inner.width + 1 && 2 + rows * (h + 1) <= inner.height + 1
        };
        let (zoom, originals) = [(2, true), (1, true), (0, true), (0, false)]
            .into_iter()
            .find(|&(z, o)| fits(z, rows + o as u16))
            .unwrap_or((0, false));
        let (w, h) = size(zoom);
        let col = |i: usize| inner.x + LABEL + i as u16 * (w + 1);
        let mut y = inner.y;
        for (i, r) in base.rois.iter().enumerate() {
            let stem = r.name.trim_end_matches(".png");
            put(buf, inner, col(i), y, r.label.as_str(), ctx.theme.muted());
            let stem = format!("{stem:.len$}", len = w as usize);
            put(buf, inner, col(i), y + 1, &stem, ctx.theme.muted());
        }
        y += 2;
        let bottom = inner.y + inner.height;
        let image = |buf: &mut Buffer, i: usize, y: u16, px: &[u8]| {
            let r = Rect::new(col(i), y, w, h).intersection(inner);
            draw_roi(buf, r, px, zoom, ctx.mode);
        };
        if originals {
            put(buf, inner, inner.x, y, "original", ctx.theme.accent());
            for (i, r) in base.rois.iter().enumerate() {
                image(buf, i, y, &r.pixels);
            }
            y += h + 1;
        }
        for (k, f) in self.frames.iter().enumerate() {
            if y + h > bottom {
                let left = self.frames.len() - k;
                let more = format!("+{left} more (a taller terminal shows them)");
                put(buf, inner, inner.x, bottom - 1, &more, ctx.theme.warn());
                break;
            }
            let name = f.as_ref().map(|f| f.model.as_str()).unwrap_or("?");
            put(buf, inner, inner.x, y, name, ctx.theme.accent());
            let why = Self::missing(f.as_ref()).or_else(|| {
                f.as_ref()
                    .filter(|f| f.rois != base.rois)
                    .map(|_| "other fixed ROIs".to_string())
            });
            if let Some(why) = why {
                put(buf, inner, inner.x + LABEL, y, &why, ctx.theme.muted());
                y += h + 1;
                continue;
            }
            let Some(f) = f else { continue };
            if f.shown != Some(self.epoch) {
                let note = format!("ep {}", fmt(f.shown));
                put(buf, inner, inner.x, y + 1, &note, ctx.theme.warn());
            }
            for (i, img) in f.recons.iter().enumerate() {
                image(buf, i, y, img);
            }
            y += h + 1;
        }
    }
}

fn fmt(e: Option<u32>) -> String {
    e.map(|e| e.to_string()).unwrap_or_else(|| "-".into())
}

impl App {
    /// The runs the panes show: the Train pane's, the Reconstructions pane's and the other models'
    /// beside it, each once.
    pub fn step_runs(&self) -> Vec<PathBuf> {
        let mut runs: Vec<PathBuf> = Vec::new();
        let recon = self
            .recon
            .run
            .iter()
            .chain(self.recon.peers.iter().map(|p| &p.run));
        for r in self.train.run.iter().chain(recon) {
            if !runs.contains(r) {
                runs.push(r.clone());
            }
        }
        runs
    }

    fn ask_steps(&mut self, runs: Vec<PathBuf>) {
        let epoch = self.steps.cursor;
        self.steps.asked = Some((runs.clone(), epoch));
        self.request(Request::Steps { runs, epoch });
    }

    /// A scrubbing key in the Train or Reconstructions pane.
    pub fn on_step_action(&mut self, a: Action) -> bool {
        let Some(mv) = move_of(a) else { return false };
        if mv == Move::Latest {
            self.steps.pending.clear();
            if self.steps.cursor.take().is_none() {
                return false;
            }
            self.sync_steps();
            return true;
        }
        let runs = self.step_runs();
        if runs.is_empty() {
            self.say("no run open: nothing to scrub", false);
            return true;
        }
        if self.steps.loaded.as_ref() == Some(&runs) {
            let epochs = self.steps.epochs();
            if epochs.is_empty() {
                self.say(
                    "no images per epoch in this run (trained before vqtex kept them)",
                    false,
                );
                return true;
            }
            self.steps.cursor = apply(mv, self.steps.cursor, &epochs);
            if self.steps.cursor.is_some() {
                self.ask_steps(runs);
            }
        } else {
            // The epochs are read first; the move is made when they arrive.
            self.steps.pending.push(mv);
            self.ask_steps(runs);
        }
        self.sync_steps();
        true
    }

    /// Records read: kept, moves made meanwhile carried out. Returns whether anything shown changed.
    pub(super) fn on_steps(
        &mut self,
        runs: Vec<PathBuf>,
        epoch: Option<u32>,
        frames: Vec<StepFrame>,
    ) -> bool {
        let changed = self.steps.frames != frames;
        self.steps.frames = frames;
        self.steps.loaded = Some(runs.clone());
        let pending = std::mem::take(&mut self.steps.pending);
        if !pending.is_empty() {
            let epochs = self.steps.epochs();
            if epochs.is_empty() {
                self.say(
                    "no images per epoch in this run (trained before vqtex kept them)",
                    false,
                );
            }
            for mv in pending {
                self.steps.cursor = apply(mv, self.steps.cursor, &epochs);
            }
        }
        if self.steps.cursor.is_some() && self.steps.cursor != epoch {
            self.ask_steps(runs);
        }
        self.sync_steps();
        changed
    }

    /// Keeps the panes' scrubbing views in step with the cursor and the runs they show, and asks
    /// for the records of runs newly shown while scrubbing.
    pub fn sync_steps(&mut self) {
        if self.steps.cursor.is_some() {
            let runs = self.step_runs();
            let asked = Some((runs.clone(), self.steps.cursor));
            if self.steps.loaded.as_ref() != Some(&runs) && self.steps.asked != asked {
                self.ask_steps(runs);
            }
        }
        let key = self
            .keymap
            .first_key(Action::StepLatest)
            .map(|k| capitalise(&k))
            .unwrap_or_else(|| "end".into());
        let train: Vec<PathBuf> = self.train.run.iter().cloned().collect();
        self.train.scrub = self.steps.view(&train, &key);
        let recon: Vec<PathBuf> = self
            .recon
            .run
            .iter()
            .chain(self.recon.peers.iter().map(|p| &p.run))
            .cloned()
            .collect();
        self.recon.scrub = self.steps.view(&recon, &key);
    }

    /// Once a tick while scrubbing a run that trains (here or in a watched process): reads its
    /// records again, so the newest epochs can be reached.
    pub(super) fn follow_steps(&mut self) {
        let live = self.training.is_some() || self.watch.as_ref().is_some_and(|w| w.live);
        let shown = matches!(self.pane, Pane::Train | Pane::Recon);
        if self.steps.cursor.is_some() && live && shown {
            let runs = self.step_runs();
            let epoch = self.steps.cursor;
            self.refresh(Request::Steps { runs, epoch });
        }
    }
}

/// `end` -> `End`.
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

//! The workbench state: panes, the open run, the training job, popups. Messages from background
//! jobs and the training job are folded in here, in one place.

use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use super::jobs::{self, Outcome, Request};
use super::keymap::Keymap;
use super::panes::classify::ClassifyPane;
use super::panes::compare::ComparePane;
use super::panes::data::DataPane;
use super::panes::latent::LatentPane;
use super::panes::picker::PickerPane;
use super::panes::recon::ReconPane;
use super::panes::runs::RunsPane;
use super::panes::train::{Status, TrainPane};
use super::panes::{ConfirmKind, Ctx, Effect, PromptKind, TrainOp};
use super::runtime::Redraw;
use super::trainctl::{self, Training};
use super::Msg;
use crate::data::LoadOptions;
use crate::train::{checkpoint, Command, Event, RunDir};

pub const PANES: [&str; 8] = [
    "Data", "Train", "Recon", "Latent", "Classify", "Runs", "Compare", "Picker",
];

/// A popup that takes the keys until it closes.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Confirm(ConfirmKind),
    Prompt { kind: PromptKind, input: String },
}

/// How the workbench ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// Quit the screen but let the training finish.
    KeepTraining,
}

/// Following a run another process writes (`vqtex watch RUN`).
#[derive(Debug)]
pub struct Watch {
    pub run: PathBuf,
    pub metrics_len: Option<u64>,
    pub checkpoint: Option<usize>,
    /// Whether a live process holds the run's lock (it is being trained), as of the last tick.
    pub live: bool,
}

pub struct App {
    pub ctx: Ctx,
    pub keymap: Keymap,
    pub pane: usize,
    pub help: bool,
    pub popup: Option<Popup>,
    pub data: DataPane,
    pub train: TrainPane,
    pub recon: ReconPane,
    pub latent: LatentPane,
    pub classify: ClassifyPane,
    pub runs: RunsPane,
    pub compare: ComparePane,
    pub picker: PickerPane,
    pub load: LoadOptions,
    pub runs_dir: PathBuf,
    pub training: Option<Training>,
    pub watch: Option<Watch>,
    /// Newest checkpoint epoch of the open run, as far as we know.
    pub checkpoint: Option<usize>,
    /// When reconstructions were last asked for during a training (at most one refresh a second,
    /// so a fast run does not flood an SSH link with image updates).
    pub thumbs_at: Option<Instant>,
    pub message: Option<(String, bool, Instant)>,
    pub exit: Option<Exit>,
    tx: UnboundedSender<Msg>,
    /// Off in tests: requests are only recorded.
    pub spawn_jobs: bool,
    pub requested: Vec<Request>,
}

impl App {
    pub fn new(
        ctx: Ctx,
        keymap: Keymap,
        load: LoadOptions,
        runs_dir: PathBuf,
        tx: UnboundedSender<Msg>,
    ) -> App {
        App {
            ctx,
            keymap,
            pane: 0,
            help: false,
            popup: None,
            data: DataPane::default(),
            train: TrainPane::default(),
            recon: ReconPane::default(),
            latent: LatentPane::default(),
            classify: ClassifyPane::default(),
            runs: RunsPane {
                dir: runs_dir.clone(),
                ..RunsPane::default()
            },
            compare: ComparePane::default(),
            picker: PickerPane::default(),
            load,
            runs_dir,
            training: None,
            watch: None,
            checkpoint: None,
            thumbs_at: None,
            message: None,
            exit: None,
            tx,
            spawn_jobs: true,
            requested: Vec::new(),
        }
    }

    pub fn request(&mut self, r: Request) {
        if self.requested.len() >= 64 {
            self.requested.remove(0);
        }
        self.requested.push(r.clone());
        if self.spawn_jobs {
            jobs::spawn(r, self.load.clone(), self.tx.clone());
        }
    }

    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        if error {
            tracing::warn!("{text}");
        }
        self.message = Some((text, error, Instant::now()));
    }

    pub fn open_run_path(&self) -> Option<&PathBuf> {
        self.recon.run.as_ref()
    }

    /// Shows `run` in the Train, Reconstructions, Latent and Classify panes.
    pub fn open_run(&mut self, run: PathBuf) {
        let dir = RunDir::new(&run);
        let config = match dir.read_config() {
            Ok(c) => c,
            Err(e) => return self.say(e.to_string(), true),
        };
        self.recon = ReconPane {
            run: Some(run.clone()),
            pick: self.recon.pick,
            ..ReconPane::default()
        };
        self.latent = LatentPane {
            run: Some(run.clone()),
            dim: self.latent.dim,
            ..LatentPane::default()
        };
        self.classify = ClassifyPane {
            run: Some(run.clone()),
            protocol: self.classify.protocol,
            ..ClassifyPane::default()
        };
        self.runs.open = Some(run.clone());
        self.checkpoint = checkpoint::list(&dir.checkpoints()).last().copied();
        let training_this = self.training.as_ref().is_some_and(|t| t.run == run);
        if !training_this {
            let watching = self.watch.as_ref().is_some_and(|w| w.run == run);
            self.train
                .view_run(run.clone(), dir.records(), config.train.epochs, watching);
        }
        if self.checkpoint.is_some() {
            self.request(Request::Thumbs { run: run.clone() });
        }
        let name = run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.say(format!("opened run {name}"), false);
        self.ensure();
    }

    /// Asks for what the visible pane needs and does not have.
    pub fn ensure(&mut self) {
        let has_ckpt = self.checkpoint.is_some();
        match self.pane {
            2 if has_ckpt => {
                let stale = self
                    .recon
                    .data
                    .as_ref()
                    .is_some_and(|d| Some(d.epoch) < self.checkpoint);
                if stale && !self.recon.busy {
                    self.recon.data = None;
                }
                if let Some(r) = self.recon.wanted() {
                    self.request(r);
                }
            }
            3 if has_ckpt => {
                for r in self.latent.wanted() {
                    self.request(r);
                }
            }
            5 | 6 if !self.runs.loaded => self.request(Request::ListRuns(self.runs_dir.clone())),
            _ => {}
        }
    }

    pub fn switch(&mut self, pane: usize) {
        self.pane = pane % PANES.len();
        self.ensure();
    }

    pub fn apply(&mut self, effect: Effect) -> bool {
        match effect {
            Effect::None => return false,
            Effect::Redraw => {}
            Effect::Request(r) => self.request(r),
            Effect::Prompt(kind, input) => self.popup = Some(Popup::Prompt { kind, input }),
            Effect::Confirm(kind) => self.popup = Some(Popup::Confirm(kind)),
            Effect::Train(TrainOp::Start) => self.start_training(),
            Effect::Train(TrainOp::PauseResume) => self.pause_resume(),
            Effect::OpenRun(p) => self.open_run(p),
            Effect::Say(s) => self.say(s, false),
        }
        true
    }

    /// Whether the terminal should send mouse events: the ROI picker is visible and its mouse is on.
    pub fn wants_mouse(&self) -> bool {
        self.pane == 7 && self.picker.mouse && self.popup.is_none() && !self.help
    }

    pub fn is_training(&self) -> bool {
        self.training.is_some()
    }

    fn start_training(&mut self) {
        if self.training.is_some() {
            return self.say("a training is already running (x stops it)", true);
        }
        let (Some(ds), Some(dir)) = (self.data.dataset.clone(), self.data.dir.clone()) else {
            return self.say("no data loaded: open a folder in the Data pane (1)", true);
        };
        match trainctl::new_job(&self.train.form, &dir, &self.load, &ds, &self.runs_dir) {
            Ok(job) => {
                let name = job.dir.path.display().to_string();
                self.train.status = Status::Starting;
                self.training = Some(trainctl::start(job, self.tx.clone()));
                self.say(format!("training in {name}"), false);
            }
            Err(e) => self.say(format!("cannot start: {e:#}"), true),
        }
    }

    fn pause_resume(&mut self) {
        let Some(t) = &self.training else {
            return self.say("no training is running", false);
        };
        match self.train.status {
            Status::Paused => t.send(Command::Resume),
            _ => t.send(Command::Pause),
        }
    }

    pub fn stop_training(&mut self) {
        if let Some(t) = &self.training {
            t.send(Command::Stop);
            self.say(
                "stopping after the current step; the last checkpoint stays",
                false,
            );
        }
    }

    /// Deletes a run folder (never the one training).
    pub fn delete_run(&mut self, path: PathBuf) {
        if self.training.as_ref().is_some_and(|t| t.run == path) {
            return self.say("this run is training: stop it first", true);
        }
        if !RunDir::new(&path).is_run() {
            return self.say(
                format!("{} is not a run; nothing deleted", path.display()),
                true,
            );
        }
        // Another process training it holds its lock: never delete a run from under a writer.
        let lock = match crate::train::RunLock::acquire(&path) {
            Ok(lock) => lock,
            Err(e) => return self.say(format!("{e}; nothing deleted"), true),
        };
        let removed = std::fs::remove_dir_all(&path);
        drop(lock);
        match removed {
            Ok(()) => {
                if self.runs.open.as_ref() == Some(&path) {
                    self.runs.open = None;
                    self.recon = ReconPane::default();
                    self.latent = LatentPane::default();
                    self.classify = ClassifyPane::default();
                }
                self.say(format!("deleted {}", path.display()), false);
            }
            Err(e) => self.say(format!("cannot delete {}: {e}", path.display()), true),
        }
        self.request(Request::ListRuns(self.runs_dir.clone()));
    }

    /// Folds in a message from a job or the training. Returns how soon to redraw: training steps
    /// are coalesced, everything else is drawn at once.
    pub fn on_msg(&mut self, msg: Msg) -> Redraw {
        match msg {
            Msg::Train(ev) => self.on_train_event(ev),
            Msg::TrainEnded => {
                if let Some(mut t) = self.training.take() {
                    t.wait(5.0);
                }
                if self.train.is_training() {
                    self.train.status = Status::Failed("the training thread ended".into());
                }
                self.request(Request::ListRuns(self.runs_dir.clone()));
                Redraw::Now
            }
            Msg::Job(o) => {
                self.on_outcome(o);
                Redraw::Now
            }
        }
    }

    fn on_train_event(&mut self, ev: Event) -> Redraw {
        /// Reconstructions refresh every epoch, but at most this often.
        const THUMBS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
        let changed = self.train.on_event(&ev);
        let redraw = match (&ev, changed) {
            (_, false) => Redraw::None,
            (Event::Step { .. }, true) => Redraw::Coalesce,
            (_, true) => Redraw::Now,
        };
        match &ev {
            Event::Checkpoint { epoch, .. } => {
                let Some(run) = self.training.as_ref().map(|t| t.run.clone()) else {
                    return redraw;
                };
                if self.open_run_path() != Some(&run) {
                    self.open_run(run.clone());
                }
                self.checkpoint = Some(*epoch);
                let last = self.train.epochs == *epoch;
                let due = self.thumbs_at.is_none_or(|t| t.elapsed() >= THUMBS_EVERY);
                if due || last {
                    self.thumbs_at = Some(Instant::now());
                    self.request(Request::Thumbs { run });
                }
                self.ensure();
            }
            Event::Finished {
                epochs, stopped, ..
            } => {
                let how = if *stopped { "stopped" } else { "finished" };
                self.say(format!("training {how} after epoch {epochs}"), false);
            }
            Event::Failed { message } => self.say(format!("training failed: {message}"), true),
            _ => {}
        }
        redraw
    }

    fn on_outcome(&mut self, o: Outcome) {
        match o {
            Outcome::Data(Ok(d)) => {
                let msg = format!("loaded {} ROIs from {}", d.dataset.len(), d.dir.display());
                self.data.set_dataset(d.dir, d.dataset, d.split);
                self.say(msg, false);
            }
            Outcome::Data(Err(e)) => {
                self.data.loading = false;
                self.data.error = Some(e.clone());
                self.say(e, true);
            }
            Outcome::Runs(v) => self.runs.set_runs(v),
            Outcome::Recon(run, r) if self.recon.run.as_ref() == Some(&run) => {
                self.recon.busy = false;
                match r {
                    Ok(d) => {
                        self.recon.selected =
                            self.recon.selected.min(d.rois.len().saturating_sub(1));
                        self.recon.data = Some(d);
                        self.recon.peers_busy = true;
                        self.request(Request::Peers {
                            run,
                            runs_dir: self.runs_dir.clone(),
                            pick: self.recon.pick,
                        });
                    }
                    Err(e) => self.recon.error = Some(e),
                }
            }
            Outcome::Peers(run, pick, r)
                if self.recon.run.as_ref() == Some(&run) && self.recon.pick == pick =>
            {
                self.recon.peers_busy = false;
                match r {
                    Ok(p) => self.recon.peers = p,
                    Err(e) => self.say(format!("other models' reconstructions: {e}"), true),
                }
            }
            Outcome::Thumbs(run, r) if self.train.run.as_ref() == Some(&run) => match r {
                Ok(t) => self.train.thumbs = Some(t),
                Err(e) => tracing::warn!("train reconstructions: {e}"),
            },
            Outcome::Traverse(run, r) if self.latent.run.as_ref() == Some(&run) => {
                self.latent.busy = false;
                match r {
                    Ok(t) => {
                        self.latent.dims = t.dims;
                        self.latent.traversal = Some(t);
                    }
                    Err(e) => self.latent.error = Some(e),
                }
            }
            Outcome::Codebook(run, r) if self.latent.run.as_ref() == Some(&run) => {
                self.latent.codebook_busy = false;
                match r {
                    Ok(c) => self.latent.codebook = Some(c),
                    Err(e) => self.say(format!("codebook: {e}"), true),
                }
            }
            Outcome::ClassifyProgress(run, p) if self.classify.run.as_ref() == Some(&run) => {
                self.classify.progress = Some(p)
            }
            Outcome::Classify(run, r) if self.classify.run.as_ref() == Some(&run) => {
                self.classify.progress = None;
                match r {
                    Ok(c) => self.classify.result = Some(c),
                    Err(e) => self.classify.error = Some(e),
                }
            }
            Outcome::CompareProgress(runs, what) => self.compare.on_progress(&runs, what),
            Outcome::Compare(runs, r) => {
                if let Err(e) = &r {
                    self.say(format!("compare: {e}"), true);
                }
                self.compare.on_result(runs, r);
            }
            other => tracing::debug!(
                "dropped a stale job result: {:?}",
                std::mem::discriminant(&other)
            ),
        }
    }

    /// Once a second: follow a watched run, age the status message, tick the ETA (coalesced with
    /// the training's steps).
    pub fn on_tick(&mut self) -> Redraw {
        let mut dirty = self.poll_watch();
        if self
            .message
            .as_ref()
            .is_some_and(|m| m.2.elapsed().as_secs() >= 6)
        {
            self.message = None;
            dirty = true;
        }
        if dirty {
            Redraw::Now
        } else if matches!(self.train.status, Status::Running) {
            Redraw::Coalesce
        } else {
            Redraw::None
        }
    }

    fn poll_watch(&mut self) -> bool {
        let Some(w) = &mut self.watch else {
            return false;
        };
        let dir = RunDir::new(&w.run);
        let live = crate::train::lock::holder(&w.run).is_some();
        let mut dirty = live != w.live;
        w.live = live;
        let len = std::fs::metadata(dir.metrics()).ok().map(|m| m.len());
        let ckpt = checkpoint::list(&dir.checkpoints()).last().copied();
        let run = w.run.clone();
        if len != w.metrics_len {
            w.metrics_len = len;
            let epochs = dir
                .read_config()
                .map(|c| c.train.epochs)
                .unwrap_or(self.train.epochs);
            self.train
                .view_run(run.clone(), dir.records(), epochs, true);
            dirty = true;
        }
        if ckpt != w.checkpoint {
            w.checkpoint = ckpt;
            self.checkpoint = ckpt;
            if ckpt.is_some() {
                self.request(Request::Thumbs { run });
                self.ensure();
            }
            dirty = true;
        }
        dirty
    }
}

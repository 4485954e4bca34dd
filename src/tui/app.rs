//! The workbench state: panes, the open run, the training job, popups. Messages from background
//! jobs and the training job are folded in here, in one place.

use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

mod results;
mod watch;
pub use watch::ended_words;

use super::jobs::{JobKey, Jobs, Request, RunLook, WatchSeen};
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
use super::redraw::Redraw;
use super::trainctl::{self, Training};
use super::Msg;
use crate::data::LoadOptions;
use crate::train::{Command, Event};

/// A pane of the workbench, in tab order (the number keys 1 to 8 select them in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Pane {
    #[default]
    Data,
    Train,
    Recon,
    Latent,
    Classify,
    Runs,
    Compare,
    Picker,
}

impl Pane {
    /// Every pane, in tab order.
    pub const ALL: [Pane; 8] = [
        Pane::Data,
        Pane::Train,
        Pane::Recon,
        Pane::Latent,
        Pane::Classify,
        Pane::Runs,
        Pane::Compare,
        Pane::Picker,
    ];

    /// The pane's name, as its tab shows it.
    pub fn name(self) -> &'static str {
        match self {
            Pane::Data => "Data",
            Pane::Train => "Train",
            Pane::Recon => "Recon",
            Pane::Latent => "Latent",
            Pane::Classify => "Classify",
            Pane::Runs => "Runs",
            Pane::Compare => "Compare",
            Pane::Picker => "Picker",
        }
    }

    /// The pane's place in tab order, from 0 (its number key is `index() + 1`).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The pane at `i` in tab order, if there is one.
    pub fn from_index(i: usize) -> Option<Pane> {
        Pane::ALL.get(i).copied()
    }

    /// The next pane in tab order, wrapping around.
    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    /// The previous pane in tab order, wrapping around.
    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

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
    /// Once no process holds it: how and when it ended (`finished at 16:05 UTC`).
    pub ended: Option<String>,
}

pub struct App {
    pub ctx: Ctx,
    pub keymap: Keymap,
    pub pane: Pane,
    pub help: bool,
    pub help_view: super::help::HelpView,
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
    /// Said with the first data loaded: where it came from when that may surprise (the build
    /// folder's sample data).
    pub data_note: Option<String>,
    /// Open the newest run once the runs are listed (at start, when no run is given).
    pub open_newest: bool,
    pub exit: Option<Exit>,
    tx: UnboundedSender<Msg>,
    /// The pool the jobs run on, their generation ids, the runs kept open.
    pub jobs: Jobs,
    /// Off in tests and the bench: requests get an id and wait in [`App::unsent`].
    pub spawn_jobs: bool,
    /// The last requests made (at most 64), newest last.
    pub requested: Vec<Request>,
    /// With `spawn_jobs` off: the requests not run, with their kind's id (at most 64).
    pub unsent: Vec<(u64, Request)>,
    /// Refreshes asked for while one of their kind was in flight (see [`App::refresh`]).
    deferred: Vec<Request>,
    /// The epoch cursor the Train and Reconstructions panes scrub by (`tui/steps.rs`).
    pub steps: super::steps::Steps,
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
            pane: Pane::Data,
            help: false,
            help_view: Default::default(),
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
            data_note: None,
            open_newest: false,
            exit: None,
            tx,
            jobs: Jobs::default(),
            spawn_jobs: true,
            requested: Vec::new(),
            unsent: Vec::new(),
            deferred: Vec::new(),
            steps: Default::default(),
        }
    }

    pub fn request(&mut self, r: Request) {
        if self.requested.len() >= 64 {
            self.requested.remove(0);
        }
        self.requested.push(r.clone());
        if r.key() == JobKey::Recon {
            // Other ROIs or another run: the other models' reconstructions of the old ones are
            // of no use any more.
            self.jobs.cancel(&JobKey::Peers);
            self.recon.peers_busy = false;
        }
        if self.spawn_jobs {
            self.jobs.submit(r, self.load.clone(), self.tx.clone());
        } else {
            let id = self.jobs.issue(&r);
            if self.unsent.len() >= 64 {
                self.unsent.remove(0);
            }
            self.unsent.push((id, r));
        }
    }

    /// A request that refreshes what is shown (thumbnails of a new checkpoint, a look at a watched
    /// run), made as often as once a second: while one of its kind is in flight it waits, and is
    /// made when that one's result arrives. Replacing the job in flight instead would drop its
    /// result, and with a slow disk or model no refresh would ever be shown.
    pub fn refresh(&mut self, r: Request) {
        let key = r.key();
        if self.spawn_jobs && self.jobs.scheduler.in_flight(&key) {
            self.deferred.retain(|d| d.key() != key);
            self.deferred.push(r);
        } else {
            self.request(r);
        }
    }

    /// The refresh of `key` that waited for the job in flight, if any.
    pub(super) fn take_deferred(&mut self, key: &JobKey) -> Option<Request> {
        let i = self.deferred.iter().position(|d| d.key() == *key)?;
        Some(self.deferred.remove(i))
    }

    /// Cancels every job and drops their results to come (on quit).
    pub fn cancel_jobs(&self) {
        self.jobs.scheduler.cancel_all();
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

    /// Shows `run` in the Train, Reconstructions, Latent and Classify panes, once a job has read
    /// its config, checkpoints and records (see [`Self::on_run_opened`]).
    pub fn open_run(&mut self, run: PathBuf) {
        self.request(Request::OpenRun(run));
    }

    /// The run read by [`Self::open_run`]: the panes switch to it, and the jobs still busy with the
    /// run shown before are cancelled.
    pub(super) fn on_run_opened(&mut self, run: PathBuf, look: Result<RunLook, String>) {
        let look = match look {
            Ok(l) => l,
            Err(e) => return self.say(e, true),
        };
        if self.open_run_path() != Some(&run) {
            for key in [
                JobKey::Recon,
                JobKey::Peers,
                JobKey::Thumbs,
                JobKey::Traverse,
                JobKey::Codebook,
                JobKey::Classify,
            ] {
                self.jobs.cancel(&key);
                self.deferred.retain(|d| d.key() != key);
            }
        }
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
        self.data.run = Some(run.clone());
        self.data.ood = None;
        self.data.ood_mode = false;
        self.classify = ClassifyPane {
            run: Some(run.clone()),
            protocol: self.classify.protocol,
            cv: look.cv,
            ..ClassifyPane::default()
        };
        self.runs.open = Some(run.clone());
        self.checkpoint = look.checkpoint;
        let training_this = self.training.as_ref().is_some_and(|t| t.run == run);
        if !training_this {
            let watching = self.watch.as_ref().is_some_and(|w| w.run == run);
            self.train
                .view_run(run.clone(), look.records, look.epochs, watching);
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
        self.sync_steps();
        let has_ckpt = self.checkpoint.is_some();
        match self.pane {
            Pane::Recon if has_ckpt => {
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
            Pane::Latent if has_ckpt => {
                for r in self.latent.wanted() {
                    self.request(r);
                }
            }
            Pane::Runs | Pane::Compare if !self.runs.loaded => {
                self.request(Request::ListRuns(self.runs_dir.clone()))
            }
            _ => {}
        }
    }

    pub fn switch(&mut self, pane: Pane) {
        self.pane = pane;
        self.ensure();
    }

    pub fn apply(&mut self, effect: Effect) -> bool {
        match effect {
            Effect::None => return false,
            Effect::Redraw => {}
            Effect::Request(r) => self.request(r),
            Effect::Many(v) => {
                for e in v {
                    self.apply(e);
                }
            }
            Effect::Prompt(kind, input) => {
                // Path prompts start alike: at the folder open now, else the current folder.
                let input = match super::input::is_path(&kind) {
                    true => super::input::path_prompt_start(&input),
                    false => input,
                };
                self.popup = Some(Popup::Prompt { kind, input })
            }
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
        self.pane == Pane::Picker && self.picker.mouse && self.popup.is_none() && !self.help
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
        // This creates the run folder and writes its config.json and split.csv (a few KB) on the
        // UI thread, on a keypress: the training must exist when `s` returns, so that a second `s`
        // is refused instead of starting a second run into the same runs folder.
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

    /// Deletes a run folder (never the one training) in a job; see [`Self::on_deleted`].
    pub fn delete_run(&mut self, path: PathBuf) {
        if self.training.as_ref().is_some_and(|t| t.run == path) {
            return self.say("this run is training: stop it first", true);
        }
        self.say(format!("deleting {}…", path.display()), false);
        self.request(Request::DeleteRun(path));
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
            Msg::Job(d) => self.on_done(d),
        }
    }

    fn on_train_event(&mut self, ev: Event) -> Redraw {
        /// Reconstructions refresh every epoch, but at most this often, and at the last epoch. A
        /// refresh of the 200x60 Train pane's reconstructions is about 13 KB of truecolor
        /// half-blocks against 5 KB for its charts: every 3 s keeps a training under 20 KB/s over
        /// SSH, where a refresh a second made 19 KB/s alone.
        const THUMBS_EVERY: std::time::Duration = std::time::Duration::from_secs(3);
        let changed = self.train.on_event(&ev);
        let redraw = match (&ev, changed) {
            (_, false) => Redraw::None,
            // Progress (steps, epochs, checkpoints: many a second on a fast machine) reaches the
            // screen at most once a second; changes of state (started, paused, finished, failed)
            // at once.
            (Event::Step { .. } | Event::Epoch(_) | Event::Checkpoint { .. }, true) => {
                Redraw::Coalesce
            }
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
                    self.refresh(Request::Thumbs { run });
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

    /// Once a second: follow a watched run, age the status message, tick the ETA (coalesced with
    /// the training's steps).
    pub fn on_tick(&mut self) -> Redraw {
        let mut dirty = self.poll_watch();
        self.follow_steps();
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

    /// Asks for a look at the watched run (its lock, metrics.jsonl's size, its checkpoints): a
    /// job, so a slow disk never stalls the screen; [`Self::on_watched`] folds the answer in.
    fn poll_watch(&mut self) -> bool {
        let Some(w) = &self.watch else {
            return false;
        };
        let req = Request::Watch {
            run: w.run.clone(),
            seen: WatchSeen {
                metrics_len: w.metrics_len,
                checkpoint: w.checkpoint,
            },
        };
        self.refresh(req);
        false
    }
}

//! What the jobs bring back, folded into the workbench's state: a result counts only while its
//! generation id is the current one of its kind, and only for what is still shown.

use std::path::PathBuf;

use super::App;
use crate::tui::jobs::{Done, FramesOpened, Outcome, Request, WatchPoll};
use crate::tui::panes::classify::ClassifyPane;
use crate::tui::panes::latent::LatentPane;
use crate::tui::panes::picker::PickerPane;
use crate::tui::panes::recon::ReconPane;
use crate::tui::panes::train::Status;
use crate::tui::redraw::Redraw;

impl App {
    fn on_deleted(&mut self, path: PathBuf, r: Result<(), String>) {
        match r {
            Ok(()) => {
                if self.runs.open.as_ref() == Some(&path) {
                    self.runs.open = None;
                    self.recon = ReconPane::default();
                    self.latent = LatentPane::default();
                    self.classify = ClassifyPane::default();
                }
                self.say(format!("deleted {}", path.display()), false);
            }
            Err(e) => self.say(e, true),
        }
        self.request(Request::ListRuns(self.runs_dir.clone()));
    }

    /// A job's result or progress: dropped unless its id is still the current one of its kind.
    pub(super) fn on_done(&mut self, d: Done) -> Redraw {
        if !self.jobs.is_current(&d) {
            tracing::debug!(key = ?d.key, id = d.id, "dropped a stale job result");
            return Redraw::None;
        }
        let last = !d.outcome.is_progress();
        let key = d.key.clone();
        let redraw = Redraw::now_if(self.on_outcome(d.outcome));
        self.sync_steps();
        if last {
            if let Some(r) = self.take_deferred(&key) {
                self.request(r);
            }
        }
        redraw
    }

    /// Folds in a current result. Returns whether anything visible changed.
    fn on_outcome(&mut self, o: Outcome) -> bool {
        match o {
            Outcome::Watched(p) => return self.on_watched(p),
            Outcome::Steps(runs, epoch, frames) => return self.on_steps(runs, epoch, frames),
            Outcome::Deleted(path, r) => self.on_deleted(path, r),
            Outcome::RunOpened(run, r) => self.on_run_opened(run, r),
            Outcome::Frames(dir, r) => self.on_frames(dir, r),
            Outcome::Frame(dir, index, r) if self.picker.dir.as_ref() == Some(&dir) => {
                self.picker.on_frame(index, r)
            }
            Outcome::Saved(_, Ok(())) => return false,
            Outcome::Saved(_, Err(e)) => {
                self.picker.error = Some(e.clone());
                self.say(format!("boxes not saved: {e}"), true);
            }
            Outcome::Extracted(out, r) => match r {
                Ok(()) => {
                    self.picker.error = None;
                    self.data.loading = true;
                    self.data.error = None;
                    self.say(format!("ROIs extracted into {}", out.display()), false);
                    self.request(Request::LoadData(out));
                }
                Err(e) => {
                    let first = e.lines().next().unwrap_or_default().to_string();
                    self.picker.error = Some(e);
                    self.say(first, true);
                }
            },
            Outcome::Data(Ok(d)) => {
                let mut msg = format!("loaded {} ROIs from {}", d.dataset.len(), d.dir.display());
                if let Some(note) = self.data_note.take() {
                    msg = format!("{msg} ({note})");
                }
                self.data.set_dataset(d.dir, d.dataset, d.split);
                self.say(msg, false);
            }
            Outcome::Data(Err(e)) => {
                self.data.loading = false;
                self.data.error = Some(e.clone());
                self.say(e, true);
            }
            Outcome::Runs(v) => {
                self.runs.set_runs(v);
                if std::mem::take(&mut self.open_newest)
                    && self.open_run_path().is_none()
                    && self.training.is_none()
                {
                    // Newest first: the run the user most likely wants to look at.
                    if let Some(r) = self.runs.runs.first() {
                        self.open_run(r.path.clone());
                    }
                }
            }
            Outcome::Recon(run, r) if self.recon.run.as_ref() == Some(&run) => {
                self.recon.busy = false;
                match r {
                    Ok(d) => {
                        self.recon.selected =
                            self.recon.selected.min(d.rois.len().saturating_sub(1));
                        let pick = d.pick;
                        self.recon.data = Some(d);
                        // The other models' rows were for other ROIs: never shown beside these.
                        self.recon.peers.clear();
                        self.request(Request::Peers {
                            run,
                            runs_dir: self.runs_dir.clone(),
                            pick,
                        });
                        self.recon.peers_busy = true;
                    }
                    Err(e) => self.recon.error = Some(e),
                }
            }
            Outcome::Peers(run, pick, r)
                if self.recon.run.as_ref() == Some(&run)
                    && self.recon.data.as_ref().is_some_and(|d| d.pick == pick) =>
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
            Outcome::Ood(run, r) if self.data.run.as_ref() == Some(&run) => self.data.on_ood(r),
            Outcome::Decoded(run, codes, r) if self.latent.run.as_ref() == Some(&run) => {
                self.latent.on_decoded(codes, r)
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
                    Ok(c) => self.classify.set_data(c),
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
            other => {
                tracing::debug!(
                    "dropped a job result for something no longer shown: {:?}",
                    std::mem::discriminant(&other)
                );
                return false;
            }
        }
        true
    }

    fn on_frames(&mut self, dir: PathBuf, r: Result<FramesOpened, String>) {
        match r {
            Ok(o) => {
                let p = PickerPane::opened(o);
                let msg = format!(
                    "{} frames, {} with boxes, from {}",
                    p.frames.len(),
                    p.done(),
                    dir.display()
                );
                self.picker = p;
                self.say(msg, false);
            }
            Err(e) => self.say(e, true),
        }
    }

    pub(super) fn on_watched(&mut self, p: WatchPoll) -> bool {
        let Some(w) = &mut self.watch else {
            return false;
        };
        if w.run != p.run {
            return false;
        }
        let mut dirty = p.live != w.live || p.ended != w.ended;
        w.live = p.live;
        w.ended = p.ended;
        let live = w.live;
        if self.train.run.as_ref() == Some(&w.run)
            && matches!(self.train.status, Status::Viewing { .. })
        {
            self.train.status = Status::Viewing { watching: live };
        }
        let run = w.run.clone();
        // Without records (the look was asked for before the last change was folded in), the
        // next look reads them.
        if let (true, Some((records, epochs))) = (p.metrics_len != w.metrics_len, p.records) {
            w.metrics_len = p.metrics_len;
            let epochs = epochs.unwrap_or(self.train.epochs);
            self.train.view_run(run.clone(), records, epochs, live);
            dirty = true;
        }
        if p.checkpoint != w.checkpoint {
            w.checkpoint = p.checkpoint;
            self.checkpoint = p.checkpoint;
            if p.checkpoint.is_some() {
                self.refresh(Request::Thumbs { run });
                self.ensure();
            }
            dirty = true;
        }
        dirty
    }
}

//! `vqtex watch RUN` is read-only: the training keys and the form are refused with a message, the
//! form shows the watched run's own settings, and the header says whether a process still holds
//! the run or when it ended.

use std::path::PathBuf;

use super::{App, Pane, Watch};
use crate::train::RunConfig;
use crate::tui::keymap::Action;

impl Watch {
    /// Following `run`; `live`: whether a process holds its lock now.
    pub fn new(run: PathBuf, live: bool) -> Watch {
        Watch {
            run,
            metrics_len: None,
            checkpoint: None,
            live,
            ended: None,
        }
    }

    /// The run's folder name.
    pub fn name(&self) -> String {
        self.run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.run.display().to_string())
    }

    /// The header's words: `watching NAME` while a process holds the run, then how and when it
    /// ended (`watched run finished at 16:05 UTC`, `watched run stopped at epoch 3 (16:05 UTC)`).
    /// The flag says whether it is live.
    pub fn header(&self) -> (String, bool) {
        if self.live {
            return (format!("watching {}", self.name()), true);
        }
        let text = match &self.ended {
            Some(e) => format!("watched run {e}"),
            None => "watched run not running".into(),
        };
        (text, false)
    }
}

/// How a watched run ended, from its status and its log's last write (seconds since 1970, UTC).
pub fn ended_words(status: &str, epoch: usize, last_write: Option<u64>) -> String {
    let at = last_write
        .map(|s| format!("{:02}:{:02} UTC", (s % 86_400) / 3600, (s % 3600) / 60))
        .unwrap_or_default();
    match (status, at.is_empty()) {
        ("finished", false) => format!("finished at {at}"),
        ("finished", true) => "finished".into(),
        (_, false) => format!("stopped at epoch {epoch} ({at})"),
        (_, true) => format!("stopped at epoch {epoch}"),
    }
}

impl App {
    /// Starts following `run` (read-only): the Train pane shows it with its own settings.
    pub fn start_watch(&mut self, run: PathBuf, config: &RunConfig) {
        let live = crate::train::lock::holder(&run).is_some();
        self.watch = Some(Watch::new(run.clone(), live));
        self.train.form = crate::tui::trainctl::form_of_run(config);
        self.pane = Pane::Train;
        self.open_run(run);
    }

    /// The message refusing `action` in a watch session, if it changes a training or the form.
    pub fn watch_refusal(&self, action: Action) -> Option<String> {
        let w = self.watch.as_ref()?;
        if self.pane != Pane::Train {
            return None;
        }
        let what = match action {
            Action::Start => "no training starts here",
            Action::Pause => "it cannot be paused from here",
            Action::Stop => "it cannot be stopped from here",
            Action::Select => "the form shows the run's settings",
            Action::Left | Action::Right if self.train.form.is_choice(self.train.form.selected) => {
                "the form shows the run's settings"
            }
            _ => return None,
        };
        Some(format!(
            "watching {}: read-only; {what} (quit, then `vqtex train --resume` or a new run)",
            w.name()
        ))
    }
}

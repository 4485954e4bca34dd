//! Keys: popups first (prompts take text, confirmations take y/n), then the help overlay, then the
//! keymap's global actions, then the visible pane.

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Exit, Pane, Popup};
use super::jobs::Request;
use super::keymap::Action;
use super::panes::{ConfirmKind, PromptKind};

impl App {
    /// Handles a terminal event. Returns whether to redraw.
    pub fn on_terminal(&mut self, ev: TermEvent) -> bool {
        match ev {
            TermEvent::Key(k) if k.kind != KeyEventKind::Release => self.on_key(k),
            TermEvent::Mouse(m) if self.wants_mouse() => {
                let effect = self.picker.on_mouse(m);
                self.apply(effect)
            }
            TermEvent::Resize(..) | TermEvent::FocusGained => true,
            _ => false,
        }
    }

    pub fn on_key(&mut self, k: KeyEvent) -> bool {
        if let Some(p) = self.popup.take() {
            return self.on_popup_key(p, k);
        }
        let action = self.keymap.action(&k, self.pane);
        if self.help {
            return self.on_help_key(k, action);
        }
        let Some(action) = action else { return false };
        match action {
            Action::Quit => {
                if self.is_training() {
                    self.popup = Some(Popup::Confirm(ConfirmKind::QuitWhileTraining));
                } else {
                    self.exit = Some(Exit::Quit);
                }
                true
            }
            Action::Help => {
                self.help = true;
                true
            }
            Action::NextPane => {
                self.switch(self.pane.next());
                true
            }
            Action::PrevPane => {
                self.switch(self.pane.prev());
                true
            }
            Action::Pane(n) => match Pane::from_index((n as usize).wrapping_sub(1)) {
                Some(p) => {
                    self.switch(p);
                    true
                }
                None => false,
            },
            Action::Back => self.message.take().is_some() || self.classify.close_list(),
            a if super::steps::move_of(a).is_some() => self.on_step_action(a),
            a => {
                if let Some(refused) = self.watch_refusal(a) {
                    self.say(refused, true);
                    return true;
                }
                let effect = match self.pane {
                    Pane::Data => self.data.on_action(a),
                    Pane::Train => self.train.on_action(a),
                    Pane::Recon => self.recon.on_action(a),
                    Pane::Latent => self.latent.on_action(a),
                    Pane::Classify => self.classify.on_action(a),
                    Pane::Runs => self.runs.on_action(a),
                    Pane::Compare => self.compare.on_action(a, &mut self.runs),
                    Pane::Picker => self.picker.on_action(a),
                };
                self.apply(effect)
            }
        }
    }

    fn on_popup_key(&mut self, popup: Popup, k: KeyEvent) -> bool {
        match popup {
            Popup::Prompt { kind, mut input } => {
                match k.code {
                    KeyCode::Esc => {}
                    KeyCode::Enter => self.submit(kind, input.trim().to_string()),
                    KeyCode::Tab if is_path(&kind) => {
                        let c = complete_path(&input);
                        if c.text == input && c.candidates.len() > 1 {
                            let shown: Vec<&str> =
                                c.candidates.iter().take(12).map(String::as_str).collect();
                            let more = c.candidates.len().saturating_sub(shown.len());
                            let more = if more > 0 {
                                format!(" … {more} more")
                            } else {
                                String::new()
                            };
                            self.say(format!("{}{more}", shown.join("  ")), false);
                        } else if c.candidates.is_empty() {
                            self.say("no match", false);
                        }
                        self.popup = Some(Popup::Prompt {
                            kind,
                            input: c.text,
                        });
                    }
                    KeyCode::Backspace => {
                        input.pop();
                        self.popup = Some(Popup::Prompt { kind, input });
                    }
                    KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        self.popup = Some(Popup::Prompt {
                            kind,
                            input: String::new(),
                        });
                    }
                    KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                        input.push(c);
                        self.popup = Some(Popup::Prompt { kind, input });
                    }
                    _ => self.popup = Some(Popup::Prompt { kind, input }),
                }
                true
            }
            Popup::Confirm(kind) => {
                let c = match k.code {
                    KeyCode::Char(c) => c.to_ascii_lowercase(),
                    KeyCode::Enter => 'y',
                    KeyCode::Esc => 'n',
                    _ => {
                        self.popup = Some(Popup::Confirm(kind));
                        return false;
                    }
                };
                match (kind, c) {
                    (ConfirmKind::StopTraining, 'y') => self.stop_training(),
                    (ConfirmKind::DeleteRun(p), 'y') => self.delete_run(p),
                    (ConfirmKind::QuitWhileTraining, 's' | 'y') => {
                        self.stop_training();
                        self.exit = Some(Exit::Quit);
                    }
                    (ConfirmKind::QuitWhileTraining, 'k') => self.exit = Some(Exit::KeepTraining),
                    (_, 'n') => {}
                    (kind, _) => self.popup = Some(Popup::Confirm(kind)),
                }
                true
            }
        }
    }

    fn submit(&mut self, kind: PromptKind, input: String) {
        match kind {
            PromptKind::JumpPatient => {
                if !self.data.jump(&input) {
                    self.say(format!("no patient '{input}'"), true);
                }
            }
            PromptKind::OpenDataset => {
                if input.is_empty() {
                    return;
                }
                let dir = std::path::PathBuf::from(shellexpand_home(&input));
                self.data.loading = true;
                self.data.error = None;
                self.say(format!("loading {}…", dir.display()), false);
                self.request(Request::LoadData(dir));
            }
            PromptKind::OpenFrames => {
                if input.is_empty() {
                    return;
                }
                let dir = std::path::PathBuf::from(shellexpand_home(&input));
                self.say(format!("opening {}…", dir.display()), false);
                self.request(Request::OpenFrames(dir));
            }
            PromptKind::Field(i) => {
                if let Err(e) = self.train.form.set(i, &input) {
                    self.say(e, true)
                }
            }
        }
    }
}

/// `~/x` -> `$HOME/x`.
fn shellexpand_home(s: &str) -> String {
    match (s.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => s.to_string(),
    }
}

/// Whether a prompt takes a path (and so gets Tab completion and starts at a folder).
pub fn is_path(kind: &PromptKind) -> bool {
    matches!(kind, PromptKind::OpenDataset | PromptKind::OpenFrames)
}

/// The text a path prompt starts with: the folder open now, else the current folder, ending in
/// `/` so that a name can be typed or completed at once (the cursor is at its end).
pub fn path_prompt_start(current: &str) -> String {
    let mut text = if current.is_empty() {
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    } else {
        current.to_string()
    };
    if !text.is_empty() && !text.ends_with('/') {
        text.push('/');
    }
    text
}

/// A completed path and the entries that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    /// The matching entries' names (folders with a trailing `/`), sorted.
    pub candidates: Vec<String>,
}

/// Completes the last part of `input` with the entries of its folder: to the longest prefix the
/// matching entries share, and a `/` after a single folder. Hidden entries only when the part
/// typed starts with `.`.
pub fn complete_path(input: &str) -> Completion {
    let (dir_typed, partial) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = match dir_typed {
        "" => std::path::PathBuf::from("."),
        d => std::path::PathBuf::from(shellexpand_home(d)),
    };
    let mut candidates: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if !name.starts_with(partial) || (name.starts_with('.') && !partial.starts_with('.')) {
                return None;
            }
            let is_dir = e.path().is_dir();
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .take(10_000)
        .collect();
    candidates.sort();
    let text = match candidates.as_slice() {
        [] => input.to_string(),
        [only] => format!("{dir_typed}{only}"),
        many => {
            let first = &many[0];
            let common = many.iter().fold(first.len(), |n, c| {
                first
                    .char_indices()
                    .zip(c.chars())
                    .take_while(|((i, a), b)| *i < n && a == b)
                    .count()
            });
            let prefix: String = first.chars().take(common).collect();
            format!(
                "{dir_typed}{}",
                if prefix.len() > partial.len() {
                    &prefix
                } else {
                    partial
                }
            )
        }
    };
    Completion { text, candidates }
}

//! Drawing the whole screen: tabs, the visible pane, the status bar, popups and the help overlay.
//! Below the minimum size only a message is drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::app::{App, Pane, Popup};
use super::keymap::{Action, ACTIONS};
use super::panes::{block, put, ConfirmKind, PromptKind};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 20;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = &self.ctx.theme;
        buf.set_style(area, theme.base());
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = vec![
                Line::from("vqtex: the terminal is too small"),
                Line::from(format!(
                    "{}x{}, need at least {MIN_WIDTH}x{MIN_HEIGHT}",
                    area.width, area.height
                )),
                Line::from(match self.keymap.first_key(Action::Quit) {
                    Some(k) => format!("enlarge it, or press {k} to quit"),
                    None => "enlarge it".into(),
                }),
            ];
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        }
        let [tabs, body, status] = area.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ]));
        self.draw_tabs(tabs, buf);
        let ctx = &self.ctx;
        match self.pane {
            Pane::Data => self.data.draw(body, buf, ctx),
            Pane::Train => self.train.draw(body, buf, ctx),
            Pane::Recon => self.recon.draw(body, buf, ctx),
            Pane::Latent => self.latent.draw(body, buf, ctx),
            Pane::Classify => self.classify.draw(body, buf, ctx),
            Pane::Runs => self.runs.draw(body, buf, ctx),
            Pane::Compare => self.compare.draw(body, buf, ctx, &self.runs),
            Pane::Picker => self.picker.draw(body, buf, ctx),
        }
        self.draw_status(status, buf);
        if let Some(p) = &self.popup {
            self.draw_popup(p, body, buf);
        }
        if self.help {
            self.draw_help(body, buf);
        }
    }
}

/// A rectangle of at most `w` x `h` centered in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

impl App {
    fn draw_tabs(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.ctx.theme;
        let mut spans = vec![Span::styled(" vqtex ", t.title())];
        for pane in Pane::ALL {
            let style = if pane == self.pane {
                t.tab_active()
            } else {
                t.muted()
            };
            let (n, name) = (pane.index() + 1, pane.name());
            spans.push(Span::styled(format!(" {n} {name} "), style));
        }
        if self.is_training() {
            spans.push(Span::styled(" ● training", t.good()));
        } else if let Some(w) = &self.watch {
            // Live while a process holds the run's lock; after that the run has ended.
            if w.live {
                spans.push(Span::styled(" ● watching", t.accent()));
            } else {
                spans.push(Span::styled(" ○ not running", t.muted()));
            }
        }
        Line::from(spans).render(area, buf);
    }

    fn draw_status(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.ctx.theme;
        buf.set_style(area, t.status());
        let right = self.key_hints();
        let right = right.as_str();
        let left = match &self.message {
            Some((m, true, _)) => Span::styled(format!(" {m}"), t.status().patch(t.bad())),
            Some((m, false, _)) => Span::styled(format!(" {m}"), t.status()),
            None => {
                let data = match (&self.data.dir, &self.data.dataset) {
                    (Some(d), Some(ds)) => format!(
                        "data {} ({} ROIs)",
                        d.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        ds.len()
                    ),
                    _ if self.data.loading => "loading data…".into(),
                    _ => "no data".into(),
                };
                let run = self
                    .open_run_path()
                    .and_then(|p| p.file_name())
                    .map(|n| format!(" · run {}", n.to_string_lossy()))
                    .unwrap_or_default();
                let device = self.train.device.clone().unwrap_or_else(|| {
                    self.train.form.value("device").unwrap_or("cpu").to_string()
                });
                Span::styled(format!(" {data}{run} · device {device}"), t.status())
            }
        };
        let w = area.width.saturating_sub(right.chars().count() as u16);
        buf.set_stringn(
            area.x,
            area.y,
            left.content.as_ref(),
            w as usize,
            left.style,
        );
        put(buf, area, area.x + w, area.y, right, t.status());
    }

    /// The status bar's hints, with the keys actually bound (` ? help · q quit ` by default).
    pub fn key_hints(&self) -> String {
        let hints: Vec<String> = [(Action::Help, "help"), (Action::Quit, "quit")]
            .into_iter()
            .filter_map(|(a, what)| self.keymap.first_key(a).map(|k| format!("{k} {what}")))
            .collect();
        format!(" {} ", hints.join(" · "))
    }

    fn draw_popup(&self, p: &Popup, area: Rect, buf: &mut Buffer) {
        let t = &self.ctx.theme;
        let (title, lines): (&str, Vec<String>) = match p {
            Popup::Confirm(ConfirmKind::StopTraining) => (
                "Stop the training?",
                vec![
                    "It stops after the current step; the last checkpoint stays.".into(),
                    "y: stop   n: keep training".into(),
                ],
            ),
            Popup::Confirm(ConfirmKind::DeleteRun(path)) => (
                "Delete this run?",
                vec![
                    format!("{}", path.display()),
                    "Its checkpoints and logs are removed.".into(),
                    "y: delete   n: keep".into(),
                ],
            ),
            Popup::Confirm(ConfirmKind::QuitWhileTraining) => (
                "A training is running",
                vec![
                    "s: stop it (keeps the last checkpoint) and quit".into(),
                    "k: keep it going: the screen closes, the process trains on".into(),
                    "   (follow it with `vqtex watch RUN`)".into(),
                    "n / esc: stay".into(),
                ],
            ),
            Popup::Prompt { kind, input } => {
                let what = match kind {
                    PromptKind::JumpPatient => "Jump to patient".to_string(),
                    PromptKind::OpenDataset => "Open a ROI folder".to_string(),
                    PromptKind::OpenFrames => "Open a frames folder (with frames.csv)".to_string(),
                    PromptKind::Field(i) => format!(
                        "Set {}",
                        self.train
                            .form
                            .fields
                            .get(*i)
                            .map(|f| f.label())
                            .unwrap_or_default()
                    ),
                };
                let r = centered(area, 64, 5);
                Clear.render(r, buf);
                let b = block(what, &self.ctx, true);
                let inner = b.inner(r);
                b.render(r, buf);
                put(buf, inner, inner.x, inner.y, &format!("{input}█"), t.base());
                put(
                    buf,
                    inner,
                    inner.x,
                    inner.y + 2,
                    "enter: ok · esc: cancel · ctrl-u: clear",
                    t.muted(),
                );
                return;
            }
        };
        let w = lines
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(20)
            .max(title.len()) as u16
            + 4;
        let r = centered(area, w, lines.len() as u16 + 2);
        Clear.render(r, buf);
        Paragraph::new(lines.into_iter().map(Line::from).collect::<Vec<_>>())
            .style(t.base())
            .wrap(Wrap { trim: false })
            .block(block(title, &self.ctx, true))
            .render(r, buf);
    }

    fn draw_help(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.ctx.theme;
        let entries: Vec<(String, &str)> = ACTIONS
            .iter()
            .map(|(a, _, _, desc)| (self.keymap.keys_of(*a), *desc))
            .collect();
        let inner_h = area.height.saturating_sub(2).max(1) as usize;
        let cols = entries.len().div_ceil(inner_h).max(1);
        let col_w = 48u16;
        let r = centered(
            area,
            col_w * cols as u16 + 2,
            (entries.len().div_ceil(cols) + 2) as u16,
        );
        Clear.render(r, buf);
        let closes = match self.keymap.first_key(Action::Help) {
            Some(k) if k != "esc" => format!("{k} or esc"),
            _ => "esc".into(),
        };
        let title = format!("Keys ({closes} closes; rebind in config.toml [keys])");
        let b = block(title.as_str(), &self.ctx, true);
        let inner = b.inner(r);
        b.render(r, buf);
        let per_col = entries.len().div_ceil(cols);
        for (i, (keys, desc)) in entries.iter().enumerate() {
            let (c, row) = ((i / per_col) as u16, (i % per_col) as u16);
            let x = inner.x + c * col_w;
            put(
                buf,
                inner,
                x,
                inner.y + row,
                &format!("{keys:>12}"),
                t.accent(),
            );
            put(buf, inner, x + 13, inner.y + row, desc, t.base());
        }
    }
}

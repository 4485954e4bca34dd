//! Drawing the whole screen: tabs, the visible pane, the status bar, popups and the help overlay.
//! Below the minimum size only a message is drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::app::{App, Pane, Popup};
use super::keymap::Action;
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
        // Terminal pixels would cover a popup or the help drawn over them: half-blocks then.
        let blocks;
        let ctx = if self.popup.is_some() || self.help {
            blocks = super::panes::Ctx {
                graphics: Default::default(),
                ..self.ctx.clone()
            };
            &blocks
        } else {
            &self.ctx
        };
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

/// Short tab names, for when the full ones do not fit.
fn short_name(p: Pane) -> &'static str {
    match p {
        Pane::Latent => "Lat",
        Pane::Classify => "Class",
        Pane::Compare => "Comp",
        Pane::Picker => "Pick",
        p => p.name(),
    }
}

/// The brand and the tab labels that fit in `width` columns beside a marker `marker_w` wide:
/// full names, else short names, else numbers with only the visible pane named. The marker (a
/// training or a watched run) always keeps its place.
pub fn tab_labels(active: Pane, width: usize, marker_w: usize) -> (String, Vec<String>) {
    let levels: [(&str, &dyn Fn(Pane) -> String); 4] = [
        (" vqtex ", &|p| format!(" {} {} ", p.index() + 1, p.name())),
        (" vqtex", &|p| {
            format!(" {} {}", p.index() + 1, short_name(p))
        }),
        (" vqtex", &|p| {
            if p == active {
                format!(" {} {}", p.index() + 1, p.name())
            } else {
                format!(" {}", p.index() + 1)
            }
        }),
        ("", &|p| {
            if p == active {
                format!(" {}{}", p.index() + 1, short_name(p))
            } else {
                format!(" {}", p.index() + 1)
            }
        }),
    ];
    let mut last = (String::new(), Vec::new());
    for (brand, label) in levels {
        let tabs: Vec<String> = Pane::ALL.into_iter().map(label).collect();
        let w: usize = brand.chars().count()
            + tabs.iter().map(|t| t.chars().count()).sum::<usize>()
            + marker_w;
        last = (brand.to_string(), tabs);
        if w <= width {
            break;
        }
    }
    last
}

/// `text` cut to `width` columns at a word boundary, with `…` when cut.
pub fn fit_words(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let head: String = text.chars().take(width - 1).collect();
    let cut = match head.rfind(' ') {
        Some(i) if i > 0 => head[..i].trim_end().to_string(),
        _ => head,
    };
    format!("{cut}…")
}

/// The status line's left and right parts in `width` columns. A message comes first (cut at a
/// word only when it alone is too long), then the key hints, as many as fit, each whole; the
/// information segments (data, run, device) give way to the hints, the last segment first.
pub fn status_line(
    segments: &[String],
    message: bool,
    hints: &[String],
    width: usize,
) -> (String, String) {
    let right = |n: usize| {
        if n == 0 {
            String::new()
        } else {
            format!(" {} ", hints[..n].join(" · "))
        }
    };
    let left = |k: usize| format!(" {}", segments[..k].join(" · "));
    let len = |s: &String| s.chars().count();
    if message {
        let l = left(segments.len());
        for n in (0..=hints.len()).rev() {
            if len(&l) + len(&right(n)) <= width {
                return (l, right(n));
            }
        }
        return (fit_words(&l, width), String::new());
    }
    for n in (0..=hints.len()).rev() {
        let r = right(n);
        for k in (1..=segments.len()).rev() {
            let l = left(k);
            if len(&l) + len(&r) <= width {
                return (l, r);
            }
        }
        // The first segment alone, cut, beside every hint that leaves it a dozen columns.
        if width >= len(&r) + 12 {
            return (fit_words(&left(1), width - len(&r)), r);
        }
    }
    (fit_words(&left(1), width), String::new())
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
        let marker = if self.is_training() {
            Some(Span::styled(" ● training", t.good()))
        } else {
            // Live while a process holds the run's lock; after that the run has ended.
            self.watch.as_ref().map(|w| match w.header() {
                (text, true) => Span::styled(format!(" ● {text}"), t.accent()),
                (text, false) => Span::styled(format!(" ○ {text}"), t.muted()),
            })
        };
        let marker_w = marker.as_ref().map_or(0, |m| m.content.chars().count());
        let (brand, tabs) = tab_labels(self.pane, area.width as usize, marker_w);
        let mut spans = vec![Span::styled(brand, t.title())];
        for (pane, label) in Pane::ALL.into_iter().zip(tabs) {
            let style = if pane == self.pane {
                t.tab_active()
            } else {
                t.muted()
            };
            spans.push(Span::styled(label, style));
        }
        spans.extend(marker);
        Line::from(spans).render(area, buf);
    }

    fn draw_status(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.ctx.theme;
        buf.set_style(area, t.status());
        let (segments, style, message) = match &self.message {
            Some((m, error, _)) => {
                let style = if *error {
                    t.status().patch(t.bad())
                } else {
                    t.status()
                };
                (vec![m.clone()], style, true)
            }
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
                let mut segments = vec![data];
                if let Some(n) = self.open_run_path().and_then(|p| p.file_name()) {
                    segments.push(format!("run {}", n.to_string_lossy()));
                }
                let device = self.train.device.clone().unwrap_or_else(|| {
                    self.train.form.value("device").unwrap_or("cpu").to_string()
                });
                segments.push(format!("device {device}"));
                (segments, t.status(), false)
            }
        };
        let hints = self.hint_list();
        let (left, right) = status_line(&segments, message, &hints, area.width as usize);
        put(buf, area, area.x, area.y, &left, style);
        let w = right.chars().count() as u16;
        put(
            buf,
            area,
            area.x + area.width.saturating_sub(w),
            area.y,
            &right,
            t.status(),
        );
    }

    /// The status bar's hints, with the keys actually bound (` ? help · q quit ` by default).
    pub fn key_hints(&self) -> String {
        format!(" {} ", self.hint_list().join(" · "))
    }

    /// The hints one by one (`? help`, `q quit`), most useful first.
    fn hint_list(&self) -> Vec<String> {
        [(Action::Help, "help"), (Action::Quit, "quit")]
            .into_iter()
            .filter_map(|(a, what)| self.keymap.first_key(a).map(|k| format!("{k} {what}")))
            .collect()
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
                    "k: keep it going in the background; the prompt comes back".into(),
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
}

//! Compare pane: the paper's Table 1 for the runs the user marks (space, here or in the Runs
//! pane), each model's published row beside it, the p-values of paired tests (Wilcoxon and t, per
//! ROI and per patient) of the reference run against each other run, and Table 2 (SVM on pixels
//! and on each run's latents, both protocols, accuracy with its 95% interval).
//!
//! The reference is the first marked VQ-VAE run, else the first marked run. `r` (or enter)
//! evaluates the marked set on a background thread; results are kept per set of runs (and their
//! epochs), so marking a set seen before shows it at once. Drawing only formats numbers.

use std::collections::HashMap;
use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::runs::RunsPane;
use super::{block, clamp_step, Ctx, Effect};
use crate::eval::report;
use crate::tui::jobs::{CompareData, Request};
use crate::tui::keymap::Action;
use crate::tui::widgets::table::table_lines;

/// A marked set: each run and the epoch it had, so that a run trained further is evaluated again.
pub type SetKey = Vec<(PathBuf, usize)>;

#[derive(Debug, Default)]
pub struct ComparePane {
    /// Results by set of runs.
    pub cache: HashMap<SetKey, CompareData>,
    /// The set being evaluated, and what the job last said.
    pub busy: Option<(SetKey, String)>,
    pub errors: HashMap<Vec<PathBuf>, String>,
    /// First line of the report shown.
    pub scroll: u16,
    /// First column of the report shown (tables wider than the screen scroll sideways).
    pub hscroll: u16,
}

/// The key of the runs marked in `runs`.
pub fn key_of(runs: &RunsPane) -> SetKey {
    runs.marked_runs()
        .into_iter()
        .map(|r| (r.path.clone(), r.epoch))
        .collect()
}

impl ComparePane {
    /// The request for the marked set, unless it is known, on its way or failed.
    pub fn request(&mut self, runs: &RunsPane) -> Option<Request> {
        let key = key_of(runs);
        let paths: Vec<PathBuf> = key.iter().map(|k| k.0.clone()).collect();
        if key.is_empty() || self.cache.contains_key(&key) || self.busy.is_some() {
            return None;
        }
        self.errors.remove(&paths);
        self.busy = Some((key, "starting".into()));
        self.scroll = 0;
        Some(Request::Compare { runs: paths })
    }

    /// Whether the set of `runs` is being evaluated.
    pub fn is_busy_with(&self, runs: &[PathBuf]) -> bool {
        self.busy
            .as_ref()
            .is_some_and(|(k, _)| k.iter().map(|x| &x.0).eq(runs.iter()))
    }

    /// Folds in what the job says while it works.
    pub fn on_progress(&mut self, runs: &[PathBuf], what: String) {
        if self.is_busy_with(runs) {
            if let Some(b) = &mut self.busy {
                b.1 = what;
            }
        }
    }

    /// Folds in the job's answer.
    pub fn on_result(&mut self, runs: Vec<PathBuf>, r: Result<CompareData, String>) {
        if !self.is_busy_with(&runs) {
            return;
        }
        let Some((key, _)) = self.busy.take() else {
            return;
        };
        match r {
            Ok(d) => {
                self.cache.insert(key, d);
            }
            Err(e) => {
                self.errors.insert(runs, e);
            }
        }
    }

    pub fn on_action(&mut self, a: Action, runs: &mut RunsPane) -> Effect {
        let n = runs.runs.len();
        match a {
            Action::Up => runs.selected = clamp_step(runs.selected, n, -1),
            Action::Down => runs.selected = clamp_step(runs.selected, n, 1),
            Action::Pause => return runs.toggle_mark(),
            Action::PageDown => self.scroll = self.scroll.saturating_add(10),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(10),
            Action::Left => self.hscroll = self.hscroll.saturating_sub(8),
            Action::Right => self.hscroll = self.hscroll.saturating_add(8),
            Action::Run | Action::Select => {
                if runs.marked.is_empty() {
                    return Effect::Say("mark runs with space first".into());
                }
                // `r` on a known set evaluates it again.
                if a == Action::Run {
                    self.cache.remove(&key_of(runs));
                }
                return match self.request(runs) {
                    Some(r) => Effect::Request(r),
                    None => Effect::Redraw,
                };
            }
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, runs: &RunsPane) {
        let wide = area.width >= 140;
        let list_h = (runs.runs.len() as u16 + 2).clamp(3, 8);
        let [list, report] = if wide {
            area.layout(&Layout::horizontal([
                Constraint::Length(40),
                Constraint::Min(10),
            ]))
        } else {
            area.layout(&Layout::vertical([
                Constraint::Length(list_h),
                Constraint::Min(3),
            ]))
        };
        self.draw_list(list, buf, ctx, runs);
        let key = key_of(runs);
        let paths: Vec<PathBuf> = key.iter().map(|k| k.0.clone()).collect();
        let lines = match (self.cache.get(&key), &self.busy, self.errors.get(&paths)) {
            (Some(d), ..) => report_lines(d, ctx),
            (None, Some((_, what)), _) if self.is_busy_with(&paths) => {
                vec![Line::styled(format!("Evaluating… {what}"), ctx.theme.warn())]
            }
            (None, _, Some(e)) => vec![Line::styled(format!("Cannot compare: {e}"), ctx.theme.bad())],
            (None, Some(_), _) => vec![Line::styled(
                "Evaluating another set of runs; r when it is done",
                ctx.theme.muted(),
            )],
            _ if paths.is_empty() => vec![
                Line::styled("Mark runs with space (here or in Runs, 6), then r.", ctx.theme.muted()),
                Line::styled(
                    "Table 1 with paired tests of the reference (first marked vqvae, else the first marked) against the others, and Table 2.",
                    ctx.theme.muted(),
                ),
            ],
            _ => vec![Line::styled(
                format!("r: compare the {} marked runs", paths.len()),
                ctx.theme.muted(),
            )],
        };
        let busy = if self.busy.is_some() {
            " · evaluating…"
        } else {
            ""
        };
        // Wide tables scroll sideways; the title says which way there is more.
        let inner_w = report.width.saturating_sub(2);
        let widest = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
        let hscroll = self.hscroll.min(widest.saturating_sub(inner_w));
        let more = match (hscroll > 0, hscroll + inner_w < widest) {
            (true, true) => " · ◀ more ▶ (←→)",
            (true, false) => " · ◀ more (←)",
            (false, true) => " · more ▶ (→)",
            (false, false) => "",
        };
        let title = format!("Table 1, paired tests, Table 2{busy}{more} · pgup/pgdn scroll");
        let scroll = self.scroll.min(lines.len().saturating_sub(1) as u16);
        Paragraph::new(lines)
            .scroll((scroll, hscroll))
            .block(block(title, ctx, false))
            .render(report, buf);
    }

    fn draw_list(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, runs: &RunsPane) {
        let rows = area.height.saturating_sub(2) as usize;
        let top = (runs.selected + 1).saturating_sub(rows.max(1));
        let lines: Vec<Line> = if runs.runs.is_empty() {
            let msg = if runs.loaded {
                "no runs yet"
            } else {
                "reading the runs…"
            };
            vec![Line::styled(msg, ctx.theme.muted())]
        } else {
            runs.runs
                .iter()
                .enumerate()
                .skip(top)
                .map(|(i, r)| {
                    let style = if i == runs.selected {
                        ctx.theme.selection()
                    } else {
                        ctx.theme.base()
                    };
                    Line::from(vec![
                        Span::styled(format!("{} ", runs.mark_of(&r.path)), ctx.theme.accent()),
                        Span::styled(format!("{} {}/{}", r.name, r.epoch, r.epochs), style),
                    ])
                })
                .collect()
        };
        Paragraph::new(lines)
            .block(block("Runs · space mark · r compare", ctx, true))
            .render(area, buf);
    }
}

/// The report for one set: the tables `reproduce` writes, from the same data, as styled lines.
pub fn report_lines(d: &CompareData, ctx: &Ctx) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (i, t) in report::tables(d).iter().enumerate() {
        if i > 0 {
            out.push(Line::from(""));
        }
        out.extend(table_lines(t, &ctx.theme));
        if i == 0 && d.pairings.is_empty() {
            out.push(Line::from(""));
            out.push(Line::styled(
                "Paired tests: mark a second run to test against",
                ctx.theme.muted(),
            ));
        }
    }
    out
}

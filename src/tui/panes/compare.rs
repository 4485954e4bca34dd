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
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::runs::RunsPane;
use super::{block, clamp_step, Ctx, Effect};
use crate::eval::metrics::MeanStd;
use crate::eval::report::{PAPER_TABLE1, PAPER_TABLE2};
use crate::eval::stats::TestResult;
use crate::eval::{Scores, Summary};
use crate::tui::jobs::{CompareData, Request};
use crate::tui::keymap::Action;

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
        let title = format!("Table 1, paired tests, Table 2{busy} · pgup/pgdn scroll");
        let scroll = self.scroll.min(lines.len().saturating_sub(1) as u16);
        Paragraph::new(lines)
            .scroll((scroll, 0))
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

fn ms(v: MeanStd, digits: usize) -> String {
    format!("{:.*} ± {:.*}", digits, v.mean, digits, v.std)
}

fn cells(w: usize, name: &str, source: &str, m: [String; 4]) -> String {
    format!(
        "{name:<w$.w$} {source:<6} {:<17} {:<17} {:<17} {}",
        m[0], m[1], m[2], m[3]
    )
}

fn summary_cells(s: &Summary) -> [String; 4] {
    [ms(s.mse, 4), ms(s.mae, 4), ms(s.ssim, 4), ms(s.psnr, 2)]
}

fn p_text(t: &Option<TestResult>) -> (String, bool) {
    match t {
        Some(t) if t.p < 1e-4 => (format!("{:.1e}", t.p), true),
        Some(t) => (format!("{:.4}", t.p), t.p < 0.05),
        None => ("–".into(), false),
    }
}

fn acc(s: &Scores) -> String {
    match s.accuracy_ci95 {
        Some([lo, hi]) => format!("{:.3} [{lo:.3}, {hi:.3}]", s.accuracy),
        None => format!("{:.3}", s.accuracy),
    }
}

/// The report for one set, as lines of text (aligned columns).
pub fn report_lines(d: &CompareData, ctx: &Ctx) -> Vec<Line<'static>> {
    let t = &ctx.theme;
    let mut out = Vec::new();
    let r = &d.rows[d.reference];
    // The first column fits the longest label (`*name (model)`, `name latents`).
    let w = d
        .rows
        .iter()
        .map(|r| r.name.chars().count() + r.model.name().len() + 4)
        .max()
        .unwrap_or(0)
        .clamp(26, 48);
    out.push(Line::styled(
        format!(
            "Table 1 · reconstruction of the test ROIs (mean ± sd; {} ROIs for the reference)",
            r.summary.n
        ),
        t.title(),
    ));
    out.push(Line::styled(
        cells(
            w,
            "run",
            "source",
            [
                "MSE".into(),
                "MAE".into(),
                "SSIM".into(),
                "PSNR (dB)".into(),
            ],
        ),
        t.accent(),
    ));
    for (i, row) in d.rows.iter().enumerate() {
        let mark = if i == d.reference { "*" } else { "" };
        let name = format!("{mark}{} ({})", row.name, row.model);
        out.push(Line::styled(
            cells(w, &name, "vqtex", summary_cells(&row.summary)),
            t.base(),
        ));
        if let Some(nc) = &row.no_copy {
            let name = format!("{} (no copy)", row.model);
            out.push(Line::styled(
                cells(w, &name, "vqtex", summary_cells(nc)),
                t.base(),
            ));
        }
        if let Some((_, p)) = PAPER_TABLE1.iter().find(|(m, _)| *m == row.model.name()) {
            let paper = |k: usize, dg: usize| {
                ms(
                    MeanStd {
                        mean: p[k].0,
                        std: p[k].1,
                    },
                    dg,
                )
            };
            let vals = [paper(0, 4), paper(1, 4), paper(2, 4), paper(3, 2)];
            out.push(Line::styled(
                cells(w, &format!("  {}", row.model), "paper", vals),
                t.muted(),
            ));
        }
    }
    out.push(Line::from(""));
    out.push(Line::styled(
        format!(
            "Paired tests · two-sided p of *{} against each run (Wilcoxon signed-rank, paired t; patient = mean of its ROIs)",
            r.name
        ),
        t.title(),
    ));
    if d.pairings.is_empty() {
        out.push(Line::styled("mark a second run to test against", t.muted()));
    } else {
        out.push(Line::styled(
            format!(
                "{:<w$} {:<6} {:<13} {:<13} {:<16} {}",
                "run", "metric", "Wilcoxon ROI", "t ROI", "Wilcoxon patient", "t patient"
            ),
            t.accent(),
        ));
    }
    for p in &d.pairings {
        let other = &d.rows[p.other];
        match &p.result {
            Err(e) => {
                let why = if e.contains("different test ROIs") {
                    "different split (other test ROIs): not paired".to_string()
                } else {
                    format!("not paired: {e}")
                };
                out.push(Line::styled(
                    format!("{:<w$.w$} {why}", other.name),
                    t.warn(),
                ))
            }
            Ok(c) => {
                out.push(Line::styled(
                    format!(
                        "{:<w$.w$} ({} ROIs, {} patients)",
                        other.name, c.rois, c.patients
                    ),
                    t.base(),
                ));
                for m in &c.tests {
                    let mut spans = vec![Span::styled(
                        format!("{:<w$} {:<6} ", "", m.metric.to_uppercase()),
                        t.base(),
                    )];
                    let ps = [&m.roi_wilcoxon, &m.roi_t, &m.patient_wilcoxon, &m.patient_t];
                    for (k, test) in ps.into_iter().enumerate() {
                        let (s, low) = p_text(test);
                        let w = [13, 13, 16, 9][k];
                        let style: Style = if low { t.good() } else { t.base() };
                        spans.push(Span::styled(format!("{s:<w$} "), style));
                    }
                    out.push(Line::from(spans));
                }
            }
        }
    }
    out.push(Line::from(""));
    out.push(Line::styled(
        format!(
            "Table 2 · SVM on pixels vs latents: accuracy [95% CI by patients] · paper protocol {} ROIs · lopo {} ROIs",
            r.paper.n, r.lopo.n
        ),
        t.title(),
    ));
    let row2 = |name: &str, source: &str, paper: String, lopo: String| {
        format!("{name:<w$.w$} {source:<6} {paper:<24} {lopo}")
    };
    out.push(Line::styled(
        row2("features", "source", "paper".into(), "lopo".into()),
        t.accent(),
    ));
    out.push(Line::styled(
        row2("pixels", "vqtex", acc(&r.paper.pixels), acc(&r.lopo.pixels)),
        t.base(),
    ));
    for (i, row) in d.rows.iter().enumerate() {
        if !d.same_split(i) {
            let name = format!("pixels ({} split)", row.model);
            let line = row2(
                &name,
                "vqtex",
                acc(&row.paper.pixels),
                acc(&row.lopo.pixels),
            );
            out.push(Line::styled(line, t.warn()));
        }
        let name = format!("{} latents", row.name);
        out.push(Line::styled(
            row2(
                &name,
                "vqtex",
                acc(&row.paper.latents),
                acc(&row.lopo.latents),
            ),
            t.base(),
        ));
    }
    for (name, m) in PAPER_TABLE2 {
        let label = if name == "latents" {
            "vqvae latents"
        } else {
            name
        };
        let s = Scores::from_confusion(m);
        out.push(Line::styled(
            row2(label, "paper", acc(&s), "–".into()),
            t.muted(),
        ));
    }
    out
}

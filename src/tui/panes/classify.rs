//! Classify pane: SVMs on pixels vs latent vectors as a background job; both confusion matrices
//! as heatmaps whose cells open the list of their ROIs (arrows move, enter opens, esc closes);
//! the scores beside the paper's; the per-patient ROC curves in braille and the per-patient table
//! (mean decision, vote) of the matrix under the cursor; and, when the run is a fold of a `vqtex
//! cv`, the cross-validation's results.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Row, Table, Widget};

use super::{block, put, Ctx, Effect};
use crate::cv::results::CvReport;
use crate::data::Label;
use crate::eval::binary::{self, Decision, PatientDecision};
use crate::eval::report::PAPER_TABLE2;
use crate::eval::{Classification, Protocol, Scores};
use crate::tui::jobs::{ClassifiedRoi, ClassifyData, Request};
use crate::tui::keymap::Action;
use crate::tui::widgets::heatmap::Heatmap;
use crate::tui::widgets::image::GrayImage;
use crate::tui::widgets::scroll::scrolled;

/// The two feature sets the pane compares, in the order of `ClassifiedRoi::decision`.
pub const SETS: [&str; 2] = ["pixels", "latents"];

#[derive(Debug)]
pub struct ClassifyPane {
    pub run: Option<PathBuf>,
    pub protocol: Protocol,
    pub result: Option<Classification>,
    /// Every classified ROI with its two decisions.
    pub rois: Vec<ClassifiedRoi>,
    pub progress: Option<String>,
    pub error: Option<String>,
    /// The cross-validation the run is a fold of.
    pub cv: Option<Box<CvReport>>,
    /// The confusion cell under the cursor: (true row, column 0..4 over both matrices).
    pub cursor: (usize, usize),
    /// Whether the cursor's cell is opened as a list of its ROIs.
    pub list_open: bool,
    /// First row shown of the per-patient table or of the opened list.
    pub scroll: usize,
    /// On a screen too short for every panel: the first row of the pane shown (page up/down
    /// scroll the pane then; the per-patient table shows all its rows).
    pub vscroll: u16,
    /// Whether the last drawing was scrolled so.
    pub compact: std::cell::Cell<bool>,
}

impl Default for ClassifyPane {
    fn default() -> Self {
        ClassifyPane {
            run: None,
            protocol: Protocol::Paper,
            result: None,
            rois: Vec::new(),
            progress: None,
            error: None,
            cv: None,
            cursor: (1, 1),
            list_open: false,
            scroll: 0,
            vscroll: 0,
            compact: std::cell::Cell::new(false),
        }
    }
}

impl ClassifyPane {
    /// Folds in the job's answer.
    pub fn set_data(&mut self, d: ClassifyData) {
        self.result = Some(d.result);
        self.rois = d.rois;
        self.list_open = false;
        self.scroll = 0;
    }

    /// Closes the opened cell; whether one was open.
    pub fn close_list(&mut self) -> bool {
        std::mem::take(&mut self.list_open)
    }

    /// The feature set under the cursor (0 pixels, 1 latents).
    pub fn set(&self) -> usize {
        self.cursor.1 / 2
    }

    /// The ROIs of the cursor's cell: true class its row, predicted class its column.
    pub fn cell_rois(&self) -> Vec<&ClassifiedRoi> {
        let (row, col) = self.cursor;
        let set = self.set();
        self.rois
            .iter()
            .filter(|r| r.truth.index() == row && usize::from(r.decision[set] >= 0.0) == col % 2)
            .collect()
    }

    fn decisions(&self, set: usize) -> Vec<Decision> {
        self.rois
            .iter()
            .map(|r| Decision {
                patient: r.patient.clone(),
                truth: r.truth,
                decision: r.decision[set],
            })
            .collect()
    }

    /// Per-patient decisions (mean of the ROIs' decisions, and the vote) of a set.
    pub fn patients(&self, set: usize) -> Vec<PatientDecision> {
        binary::per_patient(&self.decisions(set))
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        match a {
            Action::Protocol => {
                self.protocol = match self.protocol {
                    Protocol::Paper => Protocol::Lopo,
                    Protocol::Lopo => Protocol::Paper,
                };
                Effect::Redraw
            }
            Action::Up | Action::Down => {
                self.cursor.0 = usize::from(a == Action::Down);
                self.scroll = 0;
                Effect::Redraw
            }
            Action::Left => {
                self.cursor.1 = self.cursor.1.saturating_sub(1);
                self.scroll = 0;
                Effect::Redraw
            }
            Action::Right => {
                self.cursor.1 = (self.cursor.1 + 1).min(3);
                self.scroll = 0;
                Effect::Redraw
            }
            Action::PageDown if self.compact.get() && !self.list_open => {
                self.vscroll = self.vscroll.saturating_add(10);
                Effect::Redraw
            }
            Action::PageUp if self.compact.get() && !self.list_open => {
                self.vscroll = self.vscroll.saturating_sub(10);
                Effect::Redraw
            }
            Action::PageDown => {
                self.scroll += 5;
                Effect::Redraw
            }
            Action::PageUp => {
                self.scroll = self.scroll.saturating_sub(5);
                Effect::Redraw
            }
            Action::Select if !self.rois.is_empty() => {
                self.list_open = !self.list_open;
                self.scroll = 0;
                Effect::Redraw
            }
            Action::Run | Action::Select => {
                let Some(run) = self.run.clone() else {
                    return Effect::Say("no run open: train one or open one in Runs (6)".into());
                };
                if self.progress.is_some() {
                    return Effect::Say("the SVMs are already running".into());
                }
                self.progress = Some("starting".into());
                self.error = None;
                self.list_open = false;
                Effect::Request(Request::Classify {
                    run,
                    protocol: self.protocol,
                })
            }
            _ => Effect::None,
        }
    }

    /// The rows every panel needs at `width` columns: the head, the heatmaps, and under them
    /// the scores, the ROC curves and every patient's row (side by side when wide).
    pub fn height_wanted(&self, width: u16) -> u16 {
        let patients = self.patients(self.set()).len() as u16 + 3;
        let scores = 8;
        let lower = patients.max(10);
        3 + 11 + if width >= 150 { lower } else { scores + lower }
    }

    /// Draws the pane; on a screen too short for every panel, scrolled (page up/down).
    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let want = self.height_wanted(area.width);
        let compact = want > area.height && !self.list_open;
        self.compact.set(compact);
        if !compact {
            return self.draw_all(area, buf, ctx);
        }
        scrolled(area, buf, want, self.vscroll, ctx.theme.accent(), |a, b| {
            self.draw_all(a, b, ctx)
        });
    }

    fn draw_all(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let [head, maps, rest] = area.layout(&Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(11),
            Constraint::Min(4),
        ]));
        self.draw_head(head, buf, ctx);
        // An opened cell on a short screen takes the heatmaps' place too: a ROI needs 16 rows.
        if self.list_open && rest.height < 18 {
            let below = Rect {
                height: maps.height + rest.height,
                ..maps
            };
            return self.draw_list(below, buf, ctx);
        }
        let [left, right] = maps.layout(&Layout::horizontal([Constraint::Percentage(50); 2]));
        for (i, (area, name)) in [(left, SETS[0]), (right, SETS[1])].into_iter().enumerate() {
            // Before a run there is nothing of ours to show: no matrix stands in for a result.
            let Some(c) = &self.result else {
                let msg = match (&self.run, &self.progress) {
                    (_, Some(_)) => "running the SVMs…",
                    (None, _) => "no run open",
                    _ => "no result yet - press r",
                };
                let b = block(format!("{name} · no result yet"), ctx, false);
                let inner = b.inner(area);
                b.render(area, buf);
                Paragraph::new(msg)
                    .style(ctx.theme.muted())
                    .alignment(ratatui::layout::Alignment::Center)
                    .render(
                        Rect {
                            y: inner.y + inner.height / 2,
                            height: 1,
                            ..inner
                        },
                        buf,
                    );
                continue;
            };
            let counts = if i == 0 {
                c.pixels.confusion
            } else {
                c.latents.confusion
            };
            let here = self.set() == i;
            let mark = if here {
                let (r, c) = self.cursor;
                format!(
                    " · [{} → {}] enter",
                    Label::ALL[r].as_str(),
                    Label::ALL[c % 2].as_str()
                )
            } else {
                String::new()
            };
            let title = format!("{name} (vqtex) · rows true, columns predicted{mark}");
            let b = block(title, ctx, here);
            let inner = b.inner(area);
            b.render(area, buf);
            Heatmap {
                counts: &counts,
                row_labels: ["healthy", "steatosis"],
                col_labels: ["healthy", "steatosis"],
                low: ctx.theme.heat_low,
                high: ctx.theme.heat_high,
                label_style: ctx.theme.muted(),
                mode: ctx.mode,
            }
            .render(inner, buf);
        }
        if self.list_open {
            return self.draw_list(rest, buf, ctx);
        }
        let wide = rest.width >= 150;
        if wide {
            let [scores, roc, patients] = rest.layout(&Layout::horizontal([
                Constraint::Percentage(40),
                Constraint::Percentage(30),
                Constraint::Percentage(30),
            ]));
            self.draw_scores(scores, buf, ctx);
            self.draw_roc(roc, buf, ctx);
            self.draw_patients(patients, buf, ctx);
        } else {
            let [scores, lower] = rest.layout(&Layout::vertical([
                Constraint::Length(8),
                Constraint::Min(3),
            ]));
            self.draw_scores(scores, buf, ctx);
            let [roc, patients] =
                lower.layout(&Layout::horizontal([Constraint::Percentage(50); 2]));
            self.draw_roc(roc, buf, ctx);
            self.draw_patients(patients, buf, ctx);
        }
    }

    fn draw_head(&self, head: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let b = block("SVM: pixels vs latent vectors", ctx, true);
        let inner = b.inner(head);
        b.render(head, buf);
        let (state, style) = match (&self.run, &self.progress, &self.error, &self.result) {
            (None, ..) => (
                "no run open: train one (2) or open one in Runs (6)".to_string(),
                ctx.theme.muted(),
            ),
            (_, Some(p), ..) => (format!("running: {p}…"), ctx.theme.warn()),
            (_, _, Some(e), _) => (format!("failed: {e}"), ctx.theme.bad()),
            (_, _, _, Some(c)) => (
                format!(
                    "done: {} ROIs classified{} · enter: a cell's ROIs",
                    c.n,
                    // Said only when it is not the protocol chosen (p switched since).
                    if c.protocol == self.protocol {
                        String::new()
                    } else {
                        format!(" ({})", protocol_label(c.protocol))
                    }
                ),
                ctx.theme.good(),
            ),
            _ => ("r: run the SVMs".into(), ctx.theme.muted()),
        };
        let line = format!("protocol: {} (p) · ", protocol_label(self.protocol));
        put(buf, inner, inner.x, inner.y, &line, ctx.theme.base());
        let x = inner.x + line.chars().count() as u16;
        put(buf, inner, x, inner.y, &state, style);
    }

    fn draw_scores(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        if let Some(cv) = &self.cv {
            return draw_cv(cv, area, buf, ctx);
        }
        let row = |name: String, s: &Scores| {
            Row::new(vec![
                name,
                format!("{:?}", s.confusion),
                format!("{:.3}", s.accuracy),
                format!("{:.3}", s.sensitivity),
                format!("{:.3}", s.specificity),
                format!("{:.3}", s.f1),
            ])
        };
        let mut rows = Vec::new();
        let mut cells: Vec<[String; 2]> = Vec::new();
        if let Some(c) = &self.result {
            for (name, sc) in [
                ("pixels (vqtex)", &c.pixels),
                ("latents (vqtex)", &c.latents),
            ] {
                cells.push([name.into(), format!("{:?}", sc.confusion)]);
                rows.push(row(name.into(), sc));
            }
        }
        // The paper's own numbers (its split), named apart from the protocol of the same name.
        for (name, m) in PAPER_TABLE2 {
            let sc = Scores::from_confusion(m);
            let name = format!("published: {name}");
            cells.push([name.clone(), format!("{:?}", sc.confusion)]);
            rows.push(row(name, &sc).style(ctx.theme.muted()));
        }
        // Each column as wide as its widest cell: a lopo matrix counts every test ROI.
        let widest = |k: usize, min: usize| {
            cells
                .iter()
                .map(|c| c[k].chars().count())
                .max()
                .unwrap_or(0)
                .max(min) as u16
        };
        let (name_w, conf_w) = (widest(0, 6), widest(1, 9));
        // The scores' full names where they fit, else short ones: the cells above keep theirs.
        let long = name_w + conf_w + 8 + 11 + 11 + 6 + 5 <= area.width.saturating_sub(2);
        let (names, score_w): ([&str; 4], [u16; 4]) = if long {
            (
                ["accuracy", "sensitivity", "specificity", "F1"],
                [8, 11, 11, 6],
            )
        } else {
            (["acc", "sens", "spec", "F1"], [5, 5, 5, 5])
        };
        let widths = [
            Constraint::Length(name_w),
            Constraint::Length(conf_w),
            Constraint::Length(score_w[0]),
            Constraint::Length(score_w[1]),
            Constraint::Length(score_w[2]),
            Constraint::Length(score_w[3]),
        ];
        let mut head = vec!["", "confusion"];
        head.extend(names);
        let header = Row::new(head);
        Table::new(rows, widths)
            .header(header.style(ctx.theme.accent()))
            .block(block("Scores (steatosis positive)", ctx, false))
            .render(area, buf);
    }

    /// Both sets' per-patient ROC curves (mean decision), in braille.
    fn draw_roc(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let curves: Vec<(String, Vec<(f64, f64)>)> = (0..2)
            .filter(|_| !self.rois.is_empty())
            .map(|set| {
                let d = binary::mean_decisions(&self.patients(set));
                let truth: Vec<Label> = d.iter().map(|x| x.truth).collect();
                let v: Vec<f64> = d.iter().map(|x| x.decision).collect();
                let auc = binary::roc_auc(&truth, &v)
                    .map(|a| format!("{a:.2}"))
                    .unwrap_or_else(|| "–".into());
                (
                    format!("{} AUC {auc}", SETS[set]),
                    binary::roc_curve(&truth, &v),
                )
            })
            .collect();
        let b = block("ROC per patient (mean decision)", ctx, false);
        if curves.is_empty() {
            let inner = b.inner(area);
            b.render(area, buf);
            Paragraph::new("r: run the SVMs")
                .style(ctx.theme.muted())
                .render(inner, buf);
            return;
        }
        let styles = [ctx.theme.accent(), ctx.theme.good()];
        let datasets: Vec<Dataset> = curves
            .iter()
            .enumerate()
            .map(|(i, (name, pts))| {
                Dataset::default()
                    .name(name.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(styles[i])
                    .data(pts)
            })
            .collect();
        let axis = |t: &'static str| {
            Axis::default()
                .title(t)
                .bounds([0.0, 1.0])
                .labels(["0", "1"])
                .style(ctx.theme.muted())
        };
        Chart::new(datasets)
            .block(b)
            .x_axis(axis("1-spec"))
            .y_axis(axis("sens"))
            .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight))
            .hidden_legend_constraints((Constraint::Percentage(90), Constraint::Percentage(90)))
            .render(area, buf);
    }

    /// The patients of the set under the cursor: truth, mean decision, vote share, correct.
    fn draw_patients(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let set = self.set();
        let title = format!("Patients · {} · pgup/pgdn", SETS[set]);
        let ps = self.patients(set);
        // Scrolled with the pane when compact: every row is there.
        let skip = if self.compact.get() { 0 } else { self.scroll };
        let rows: Vec<Row> = ps
            .iter()
            .skip(skip.min(ps.len().saturating_sub(1)))
            .map(|p| {
                let correct = (p.mean_decision >= 0.0) == (p.truth == Label::Steatosis);
                let style: Style = if correct {
                    ctx.theme.base()
                } else {
                    ctx.theme.bad()
                };
                Row::new(vec![
                    p.patient.0.clone(),
                    p.truth.as_str().to_string(),
                    format!("{:+.2}", p.mean_decision),
                    format!("{:.0}%", 100.0 * p.vote_share),
                    if correct { "yes" } else { "NO" }.to_string(),
                ])
                .style(style)
            })
            .collect();
        let widths = [
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(7),
        ];
        let header = Row::new(vec!["patient", "truth", "mean", "vote", "correct"]);
        Table::new(rows, widths)
            .header(header.style(ctx.theme.accent()))
            .block(block(title, ctx, false))
            .render(area, buf);
    }

    /// The opened cell: its ROIs in half-blocks, with file, patient and decision.
    fn draw_list(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let rois = self.cell_rois();
        let (r, c) = self.cursor;
        let title = format!(
            "{} ROIs: true {}, predicted {} ({}) · enter/esc close · pgup/pgdn",
            rois.len(),
            Label::ALL[r].as_str(),
            Label::ALL[c % 2].as_str(),
            SETS[self.set()]
        );
        let b = block(title, ctx, true);
        let inner = b.inner(area);
        b.render(area, buf);
        if rois.is_empty() {
            put(
                buf,
                inner,
                inner.x,
                inner.y,
                "no ROI in this cell",
                ctx.theme.muted(),
            );
            return;
        }
        // Each ROI: 28 columns x 14 rows of half-blocks, a caption line under it.
        let (w, h) = (30u16, 16u16);
        let per_row = (inner.width / w).max(1) as usize;
        let rows = (inner.height / h).max(1) as usize;
        let first = (self.scroll * per_row).min(rois.len().saturating_sub(1)) / per_row * per_row;
        for (k, roi) in rois.iter().skip(first).take(per_row * rows).enumerate() {
            let x = inner.x + (k % per_row) as u16 * w;
            let y = inner.y + (k / per_row) as u16 * h;
            let img = Rect::new(x, y, 28, 14).intersection(inner);
            GrayImage::new(&roi.pixels, 28, 28, ctx.mode).render(img, buf);
            let cap = format!("{} {:+.2}", roi.patient.0, roi.decision[self.set()]);
            put(buf, inner, x, y + 14, &cap, ctx.theme.muted());
            let file: String = roi.file.chars().take(28).collect();
            if y + 15 < inner.y + inner.height {
                put(buf, inner, x, y + 15, &file, ctx.theme.muted());
            }
        }
    }
}

/// How the pane names a protocol: the paper's split apart from the paper's published numbers.
pub fn protocol_label(p: Protocol) -> &'static str {
    match p {
        Protocol::Paper => "paper split",
        Protocol::Lopo => "leave one patient out",
    }
}

/// The cross-validation's results: feature sets as rows, AUC and balanced accuracy per patient
/// with their intervals.
fn draw_cv(cv: &CvReport, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
    let ci = |v: Option<f64>, c: Option<[f64; 2]>| match (v, c) {
        (Some(v), Some([lo, hi])) => format!("{v:.2} [{lo:.2},{hi:.2}]"),
        (Some(v), None) => format!("{v:.2}"),
        _ => "–".into(),
    };
    let rows: Vec<Row> = cv
        .sets
        .iter()
        .map(|s| {
            let p = &s.patient;
            let auc = ci(p.pooled.auc, p.ci95.as_ref().and_then(|c| c.auc));
            let bacc = ci(
                Some(p.pooled.balanced_accuracy),
                p.ci95.as_ref().map(|c| c.balanced_accuracy),
            );
            let vs = s
                .vs_firstorder
                .as_ref()
                .map(|x| format!("{:+.2} p {:.3}", x.diff, x.p))
                .unwrap_or_else(|| "–".into());
            Row::new(vec![s.features.clone(), auc, bacc, vs])
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Length(17),
        Constraint::Length(17),
        Constraint::Length(14),
    ];
    let title = format!(
        "Cross-validation this run is a fold of: {} folds x {}, {} patients, per patient",
        cv.folds, cv.repeats, cv.patients
    );
    let header = Row::new(vec![
        "features",
        "AUC [95% CI]",
        "bal. acc.",
        "vs firstorder",
    ]);
    let verdict: Vec<Line> = crate::cv::results::verdicts(cv)
        .into_iter()
        .map(|v| Line::styled(v.replace('`', ""), ctx.theme.muted()))
        .collect();
    let b = block(title, ctx, false);
    let inner = b.inner(area);
    b.render(area, buf);
    let n = (cv.sets.len() as u16 + 1).min(inner.height);
    let [table, words] = inner.layout(&Layout::vertical([
        Constraint::Length(n),
        Constraint::Min(0),
    ]));
    Table::new(rows, widths)
        .header(header.style(ctx.theme.accent()))
        .render(table, buf);
    Paragraph::new(verdict)
        .wrap(ratatui::widgets::Wrap { trim: true })
        .render(words, buf);
}

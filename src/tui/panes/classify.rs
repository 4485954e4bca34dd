//! Classify pane: SVMs on pixels vs latent vectors as a background job, both confusion matrices as
//! heatmaps, and accuracy/sensitivity/specificity/F1 beside the paper's.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Row, Table, Widget};

use super::{block, put, Ctx, Effect};
use crate::eval::report::PAPER_TABLE2;
use crate::eval::{Classification, Protocol, Scores};
use crate::tui::jobs::Request;
use crate::tui::keymap::Action;
use crate::tui::widgets::heatmap::Heatmap;

#[derive(Debug)]
pub struct ClassifyPane {
    pub run: Option<PathBuf>,
    pub protocol: Protocol,
    pub result: Option<Classification>,
    pub progress: Option<String>,
    pub error: Option<String>,
}

impl Default for ClassifyPane {
    fn default() -> Self {
        ClassifyPane {
            run: None,
            protocol: Protocol::Paper,
            result: None,
            progress: None,
            error: None,
        }
    }
}

impl ClassifyPane {
    pub fn on_action(&mut self, a: Action) -> Effect {
        match a {
            Action::Protocol => {
                self.protocol = match self.protocol {
                    Protocol::Paper => Protocol::Lopo,
                    Protocol::Lopo => Protocol::Paper,
                };
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
                Effect::Request(Request::Classify {
                    run,
                    protocol: self.protocol,
                })
            }
            _ => Effect::None,
        }
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let [head, maps, table] = area.layout(&Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(11),
            Constraint::Min(4),
        ]));
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
                format!("done: {} ROIs classified ({})", c.n, c.protocol.as_str()),
                ctx.theme.good(),
            ),
            _ => ("r: run the SVMs".into(), ctx.theme.muted()),
        };
        let line = format!("protocol {} (p to change) · ", self.protocol.as_str());
        put(buf, inner, inner.x, inner.y, &line, ctx.theme.base());
        let x = inner.x + line.chars().count() as u16;
        put(buf, inner, x, inner.y, &state, style);

        let [left, right] = maps.layout(&Layout::horizontal([Constraint::Percentage(50); 2]));
        for (i, (area, name)) in [(left, "pixels"), (right, "latents")]
            .into_iter()
            .enumerate()
        {
            let (counts, who) = match &self.result {
                Some(c) if i == 0 => (c.pixels.confusion, "vqtex"),
                Some(c) => (c.latents.confusion, "vqtex"),
                None => (PAPER_TABLE2[i].1, "paper"),
            };
            let title = format!("{name} ({who}) · rows true, columns predicted");
            let b = block(title, ctx, false);
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
        self.draw_scores(table, buf, ctx);
    }

    fn draw_scores(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
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
        if let Some(c) = &self.result {
            rows.push(row("pixels (vqtex)".into(), &c.pixels));
            rows.push(row("latents (vqtex)".into(), &c.latents));
        }
        for (name, m) in PAPER_TABLE2 {
            let r = row(format!("{name} (paper)"), &Scores::from_confusion(m));
            rows.push(r.style(ctx.theme.muted()));
        }
        let widths = [
            Constraint::Length(18),
            Constraint::Length(18),
            Constraint::Length(9),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(6),
        ];
        let header = Row::new(vec![
            "",
            "confusion",
            "accuracy",
            "sensitivity",
            "specificity",
            "F1",
        ]);
        Table::new(rows, widths)
            .header(header.style(ctx.theme.accent()))
            .block(block("Scores (steatosis positive)", ctx, false))
            .render(area, buf);
    }
}

//! Runs pane: the runs in the runs directory with model, status, epochs, final losses and test
//! MSE; enter opens one in the other panes, d deletes (after asking), r refreshes, space marks
//! runs for the Compare pane (7).

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Row, StatefulWidget, Table, TableState};

use super::{block, clamp_step, placeholder, ConfirmKind, Ctx, Effect};
use crate::train::RunStatus;
use crate::tui::jobs::{Request, RunSummary};
use crate::tui::keymap::Action;

#[derive(Debug, Default)]
pub struct RunsPane {
    pub dir: PathBuf,
    pub runs: Vec<RunSummary>,
    pub selected: usize,
    /// The run open in the other panes.
    pub open: Option<PathBuf>,
    pub loaded: bool,
    /// Runs marked for the Compare pane, in the order they were marked.
    pub marked: Vec<PathBuf>,
}

impl RunsPane {
    pub fn set_runs(&mut self, runs: Vec<RunSummary>) {
        let keep = self.runs.get(self.selected).map(|r| r.path.clone());
        self.runs = runs;
        self.selected = keep
            .and_then(|p| self.runs.iter().position(|r| r.path == p))
            .unwrap_or(0)
            .min(self.runs.len().saturating_sub(1));
        self.loaded = true;
        let runs = &self.runs;
        self.marked.retain(|m| runs.iter().any(|r| &r.path == m));
    }

    /// Marks the selected run for the Compare pane, or unmarks it.
    pub fn toggle_mark(&mut self) -> Effect {
        let Some(r) = self.runs.get(self.selected) else {
            return Effect::None;
        };
        match self.marked.iter().position(|m| *m == r.path) {
            Some(i) => {
                self.marked.remove(i);
            }
            None => self.marked.push(r.path.clone()),
        }
        Effect::Redraw
    }

    /// The marked runs' summaries, in marking order.
    pub fn marked_runs(&self) -> Vec<&RunSummary> {
        self.marked
            .iter()
            .filter_map(|m| self.runs.iter().find(|r| &r.path == m))
            .collect()
    }

    /// `[1]` for the first marked run, `[ ]` for one not marked.
    pub fn mark_of(&self, path: &PathBuf) -> String {
        match self.marked.iter().position(|m| m == path) {
            Some(i) => format!("[{}]", i + 1),
            None => "[ ]".into(),
        }
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        let n = self.runs.len();
        match a {
            Action::Up => self.selected = clamp_step(self.selected, n, -1),
            Action::Down => self.selected = clamp_step(self.selected, n, 1),
            Action::Run => return Effect::Request(Request::ListRuns(self.dir.clone())),
            Action::Pause => return self.toggle_mark(),
            Action::Select => {
                return match self.runs.get(self.selected) {
                    Some(r) => Effect::OpenRun(r.path.clone()),
                    None => Effect::None,
                }
            }
            Action::Delete => {
                return match self.runs.get(self.selected) {
                    Some(r) => Effect::Confirm(ConfirmKind::DeleteRun(r.path.clone())),
                    None => Effect::None,
                }
            }
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        if self.runs.is_empty() {
            let msg = if self.loaded {
                format!(
                    "No runs in {} yet: start one in the Train pane (2).",
                    self.dir.display()
                )
            } else {
                "Reading the runs…".into()
            };
            placeholder(buf, area, "Runs", &[msg], ctx);
            return;
        }
        let f = |v: Option<f64>| v.map(|x| format!("{x:.5}")).unwrap_or_else(|| "-".into());
        // Below 100 columns the last losses give way, so that name, status, test MSE and the
        // creation time stay whole.
        let losses = area.width >= 100;
        let rows: Vec<Row> = self
            .runs
            .iter()
            .map(|r| {
                let open = if self.open.as_ref() == Some(&r.path) {
                    "▶"
                } else {
                    " "
                };
                let mark = format!("{open}{} ", self.mark_of(&r.path));
                let status_style = match r.status {
                    RunStatus::Finished => ctx.theme.good(),
                    RunStatus::Running(_) => ctx.theme.accent(),
                    RunStatus::Stopped | RunStatus::Empty => ctx.theme.warn(),
                };
                let mut cells = vec![
                    ratatui::text::Line::from(format!("{mark}{}", r.name)),
                    r.model.name().into(),
                    ratatui::text::Line::styled(r.status.as_str(), status_style),
                    format!("{}/{}", r.epoch, r.epochs).into(),
                ];
                if losses {
                    cells.push(f(r.train_loss).into());
                    cells.push(f(r.test_loss).into());
                }
                cells.push(f(r.test_mse).into());
                cells.push(created_compact(&r.created).into());
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![
            Constraint::Min(20),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(9),
        ];
        let mut head = vec!["run", "model", "status", "epochs"];
        if losses {
            widths.extend([Constraint::Length(9), Constraint::Length(9)]);
            head.extend(["train", "test"]);
        }
        widths.extend([Constraint::Length(9), Constraint::Length(CREATED_WIDTH)]);
        head.extend(["test MSE", "created"]);
        let t = Table::new(rows, widths)
            .header(Row::new(head).style(ctx.theme.accent()))
            .row_highlight_style(ctx.theme.selection())
            .block(block(
                format!(
                    "Runs in {} · enter open · space mark for Compare (7) · d delete · r refresh",
                    self.dir.display()
                ),
                ctx,
                true,
            ));
        let mut st = TableState::default().with_selected(Some(self.selected));
        StatefulWidget::render(t, area, buf, &mut st);
    }
}

/// The created column's width: `11-30 16:05`.
const CREATED_WIDTH: u16 = 11;

/// A run's creation time (RFC 3339, UTC) as `MM-DD HH:MM`; the year is left out (the column
/// must fit at 80 columns), and anything unexpected is shown as it is, cut to the column.
pub fn created_compact(created: &str) -> String {
    match (created.get(5..10), created.get(11..16)) {
        (Some(day), Some(time)) if created.as_bytes().get(10) == Some(&b'T') => {
            format!("{day} {time}")
        }
        _ => created.chars().take(CREATED_WIDTH as usize).collect(),
    }
}

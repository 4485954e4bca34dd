//! Data pane: patients (class, split side, ROI count, HI), the selected patient's ROI thumbnails,
//! and the selected ROI enlarged with its statistics and histogram. `u` switches to the ROIs
//! sorted by their out-of-distribution score against the open run (most unusual first), each
//! with the run's reconstruction beside it.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Row, StatefulWidget, Table, TableState, Widget};

use super::{block, clamp_step, fit_title, placeholder, put, wrap_step, Ctx, Effect, PromptKind};
use crate::data::{Dataset, Label, PatientInfo, Roi, Side, Split};
use crate::tui::jobs::{OodView, Request};
use crate::tui::keymap::Action;
use crate::tui::widgets::graphics;
use crate::tui::widgets::image::{draw_roi, draw_unit_image, fit_zoom};
use crate::tui::widgets::{draw_bars, histogram};

#[derive(Debug, Default)]
pub struct DataPane {
    pub dir: Option<PathBuf>,
    pub dataset: Option<Arc<Dataset>>,
    pub split: Option<Split>,
    pub patients: Vec<PatientInfo>,
    pub class_filter: Option<Label>,
    pub split_filter: Option<Side>,
    /// Index into the visible (filtered) patients.
    pub selected: usize,
    /// Index into the selected patient's ROIs.
    pub roi: usize,
    pub loading: bool,
    pub error: Option<String>,
    /// The run open in the workbench, which the ROIs are scored against.
    pub run: Option<PathBuf>,
    /// The ROIs' out-of-distribution scores against `run`.
    pub ood: Option<OodView>,
    /// Showing the ROIs by score (`u`).
    pub ood_mode: bool,
    pub ood_busy: bool,
    /// The selected row of the score list.
    pub ood_sel: usize,
}

impl DataPane {
    pub fn set_dataset(&mut self, dir: PathBuf, dataset: Arc<Dataset>, split: Option<Split>) {
        self.patients = dataset.patients();
        self.dir = Some(dir);
        self.dataset = Some(dataset);
        self.split = split;
        self.selected = 0;
        self.roi = 0;
        self.loading = false;
        self.error = None;
        self.ood = None;
        self.ood_mode = false;
    }

    /// Folds in the scores.
    pub fn on_ood(&mut self, r: Result<OodView, String>) {
        self.ood_busy = false;
        match r {
            Ok(v) => {
                self.ood = Some(v);
                self.ood_sel = 0;
            }
            Err(e) => {
                self.ood_mode = false;
                self.error = Some(format!("scores: {e}"));
            }
        }
    }

    fn on_ood_action(&mut self, a: Action) -> Effect {
        let n = self.ood.as_ref().map(|v| v.rows.len()).unwrap_or(0);
        match a {
            Action::Up => self.ood_sel = clamp_step(self.ood_sel, n, -1),
            Action::Down => self.ood_sel = clamp_step(self.ood_sel, n, 1),
            Action::PageUp => self.ood_sel = clamp_step(self.ood_sel, n, -10),
            Action::PageDown => self.ood_sel = clamp_step(self.ood_sel, n, 10),
            Action::Unusual => self.ood_mode = false,
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    fn side(&self, p: &PatientInfo) -> Option<Side> {
        self.split.as_ref().map(|s| s.side(&p.id))
    }

    /// The patients passing the filters.
    pub fn visible(&self) -> Vec<&PatientInfo> {
        self.patients
            .iter()
            .filter(|p| self.class_filter.is_none_or(|c| p.label == c))
            .filter(|p| self.split_filter.is_none_or(|s| self.side(p) == Some(s)))
            .collect()
    }

    /// ROIs of the selected patient.
    pub fn patient_rois(&self) -> Vec<&Roi> {
        let (Some(ds), Some(p)) = (&self.dataset, self.visible().get(self.selected).copied())
        else {
            return Vec::new();
        };
        ds.rois.iter().filter(|r| r.patient == p.id).collect()
    }

    /// Selects the patient `id` (clearing filters that hide it). False when there is none.
    pub fn jump(&mut self, id: &str) -> bool {
        let id = id.trim();
        let Some(p) = self
            .patients
            .iter()
            .find(|p| p.id.0 == id || p.id.0.trim_start_matches('0') == id.trim_start_matches('0'))
        else {
            return false;
        };
        let id = p.id.clone();
        if !self.visible().iter().any(|v| v.id == id) {
            self.class_filter = None;
            self.split_filter = None;
        }
        self.selected = self.visible().iter().position(|v| v.id == id).unwrap_or(0);
        self.roi = 0;
        true
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        if self.ood_mode {
            return self.on_ood_action(a);
        }
        if a == Action::Unusual {
            let (Some(run), Some(ds)) = (&self.run, &self.dataset) else {
                return Effect::Say(
                    "open a run (Runs, 6) to score the ROIs against its training ROIs".into(),
                );
            };
            self.ood_mode = true;
            if self.ood.as_ref().is_some_and(|v| &v.run == run) || self.ood_busy {
                return Effect::Redraw;
            }
            self.ood_busy = true;
            return Effect::Request(Request::Ood {
                run: run.clone(),
                rois: Arc::new(ds.rois.clone()),
            });
        }
        let n = self.visible().len();
        let rois = self.patient_rois().len();
        match a {
            Action::Up => self.select(clamp_step(self.selected, n, -1)),
            Action::Down => self.select(clamp_step(self.selected, n, 1)),
            Action::PageUp => self.select(clamp_step(self.selected, n, -10)),
            Action::PageDown => self.select(clamp_step(self.selected, n, 10)),
            Action::Left => self.roi = wrap_step(self.roi, rois, -1),
            Action::Right => self.roi = wrap_step(self.roi, rois, 1),
            Action::ClassFilter => {
                self.class_filter = match self.class_filter {
                    None => Some(Label::Healthy),
                    Some(Label::Healthy) => Some(Label::Steatosis),
                    Some(Label::Steatosis) => None,
                };
                self.select(0);
            }
            Action::SplitFilter => {
                self.split_filter = match self.split_filter {
                    None => Some(Side::Train),
                    Some(Side::Train) => Some(Side::Test),
                    Some(Side::Test) => None,
                };
                self.select(0);
            }
            Action::Jump => return Effect::Prompt(PromptKind::JumpPatient, String::new()),
            Action::Open => {
                let dir = self.dir.as_ref().map(|d| d.display().to_string());
                return Effect::Prompt(PromptKind::OpenDataset, dir.unwrap_or_default());
            }
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    fn select(&mut self, i: usize) {
        if i != self.selected {
            self.roi = 0;
        }
        self.selected = i;
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let Some(ds) = &self.dataset else {
            let msg = match (&self.error, self.loading) {
                (Some(e), _) => vec![
                    format!("Cannot load the data: {e}"),
                    "o: open another folder".into(),
                ],
                (None, true) => vec!["Loading the ROIs…".into()],
                _ => vec!["No data loaded. o: open a folder of ROIs".into()],
            };
            placeholder(buf, area, "Data", &msg, ctx);
            return;
        };
        // The enlarged ROI at the largest whole zoom there is room for (up to 3x), the list
        // keeping its 40 columns and the thumbnails two columns of theirs; 9 rows for its numbers.
        let z = fit_zoom(
            (area.width.saturating_sub(40 + 34), area.height),
            (1, 1),
            (0, 0),
            (2, 2 + 9),
            3,
        )
        .unwrap_or(1)
        .max(1);
        let [list, thumbs, zoom] = area.layout(&Layout::horizontal([
            Constraint::Length(40),
            Constraint::Min(16),
            Constraint::Length((28 * z + 2).max(32)),
        ]));
        if self.ood_mode {
            return self.draw_ood(ds, [list, thumbs, zoom], buf, ctx);
        }
        self.draw_list(list, buf, ctx, ds);
        let rois = self.patient_rois();
        self.draw_thumbs(thumbs, buf, ctx, &rois);
        self.draw_zoom(zoom, buf, ctx, rois.get(self.roi).copied());
    }

    fn draw_list(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, ds: &Dataset) {
        let visible = self.visible();
        // At 80 columns the list is 32 wide: the ROI count (in the thumbnails' title too) gives
        // way so that the class and the HI stay whole.
        let narrow = area.width < 36;
        let rows: Vec<Row> = visible
            .iter()
            .map(|p| {
                let mut cells = vec![
                    p.id.0.clone(),
                    p.label.as_str().to_string(),
                    self.side(p).map(|s| s.as_str()).unwrap_or("-").to_string(),
                    p.rois.to_string(),
                    p.hi.map(|h| format!("{h:.3}"))
                        .unwrap_or_else(|| "-".into()),
                ];
                if narrow {
                    cells.remove(3);
                }
                Row::new(cells)
            })
            .collect();
        let filt = [
            self.class_filter.map(|c| c.to_string()),
            self.split_filter.map(|s| s.as_str().to_string()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        // Shorter forms for narrow lists: the filter stays, the ROI count goes first.
        let (v, n, rois) = (visible.len(), self.patients.len(), ds.len());
        let titles: Vec<String> = if filt.is_empty() {
            vec![
                format!("Patients {v}/{n} · {rois} ROIs"),
                format!("Patients {v}/{n}"),
            ]
        } else {
            vec![
                format!("Patients {v}/{n} · {filt} · {rois} ROIs"),
                format!("Patients {v}/{n} · {filt}"),
                format!("{v}/{n} · {filt}"),
                format!("{v}/{n} {filt}"),
            ]
        };
        let title = fit_title(&titles, area.width.saturating_sub(2));
        let (widths, header) = if narrow {
            (vec![7, 9, 5, 5], vec!["patient", "class", "split", "HI"])
        } else {
            (
                vec![8, 10, 6, 5, 6],
                vec!["patient", "class", "split", "ROIs", "HI"],
            )
        };
        let table = Table::new(rows, widths.into_iter().map(Constraint::Length))
            .header(Row::new(header).style(ctx.theme.accent()))
            .row_highlight_style(ctx.theme.selection())
            .block(block(title, ctx, true));
        let mut state = TableState::default().with_selected(Some(self.selected));
        StatefulWidget::render(table, area, buf, &mut state);
    }

    fn draw_thumbs(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, rois: &[&Roi]) {
        let b = block(format!("ROIs ({})", rois.len()), ctx, false);
        let inner = b.inner(area);
        b.render(area, buf);
        let (cw, ch) = (16u16, 9u16);
        let per_row = (inner.width / cw).max(1) as usize;
        let rows_fit = (inner.height / ch).max(1) as usize;
        let first_row = (self.roi / per_row).saturating_sub(rows_fit - 1);
        for (i, r) in rois.iter().enumerate().skip(first_row * per_row) {
            let (row, col) = ((i / per_row - first_row) as u16, (i % per_row) as u16);
            let cell =
                Rect::new(inner.x + col * cw, inner.y + row * ch, cw, ch).intersection(inner);
            if cell.height < 2 {
                break;
            }
            draw_roi(buf, cell, &r.pixels, 0, ctx.mode);
            let name = r.file.trim_end_matches(".png");
            let style = if i == self.roi {
                ctx.theme.selection()
            } else {
                ctx.theme.muted()
            };
            put(
                buf,
                inner,
                cell.x,
                cell.y + 7,
                &format!("{name:.14}"),
                style,
            );
        }
    }

    fn draw_zoom(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, roi: Option<&Roi>) {
        let Some(roi) = roi else {
            placeholder(buf, area, "ROI", &["No ROI selected".into()], ctx);
            return;
        };
        let b = block(format!("{} · {}", roi.file, roi.label), ctx, false);
        let inner = b.inner(area);
        b.render(area, buf);
        // Leave 4 lines of stats and 4 of histogram.
        let img_rows = inner.height.saturating_sub(9);
        let zoom = (inner.width / 28).min(img_rows / 14).max(1);
        graphics::draw_roi(buf, inner, &roi.pixels, zoom, ctx);
        let st = roi.stats();
        let y = inner.y + (14 * zoom).min(inner.height);
        let lines = [
            format!("mean {:.1}  sd {:.1}", st.mean, st.sd),
            format!("min {}  max {}", st.min, st.max),
            format!(
                "patient {}  HI {}",
                roi.patient,
                roi.hi
                    .map(|h| format!("{h:.3}"))
                    .unwrap_or_else(|| "-".into())
            ),
        ];
        for (k, l) in lines.iter().enumerate() {
            put(buf, inner, inner.x, y + k as u16, l, ctx.theme.base());
        }
        let hy = y + 3;
        if hy + 2 <= inner.y + inner.height {
            let h = Rect::new(
                inner.x,
                hy,
                inner.width.min(32),
                (inner.y + inner.height - hy).min(4),
            );
            draw_bars(
                buf,
                h,
                &histogram(&roi.pixels, h.width as usize),
                ctx.theme.accent(),
            );
        }
    }

    /// The ROIs by out-of-distribution score: the list, the selected ROI beside the run's
    /// reconstruction with its measures, and its statistics.
    fn draw_ood(&self, ds: &Dataset, [list, mid, zoom]: [Rect; 3], buf: &mut Buffer, ctx: &Ctx) {
        let run = self
            .run
            .as_ref()
            .and_then(|r| r.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(v) = &self.ood else {
            let msg = if self.ood_busy {
                format!("Scoring {} ROIs against {run}…", ds.len())
            } else {
                "no scores".to_string()
            };
            placeholder(buf, list, "Unusual ROIs", &[msg], ctx);
            return;
        };
        let rows: Vec<Row> = v
            .rows
            .iter()
            .map(|r| {
                let roi = &ds.rois[r.roi.min(ds.len().saturating_sub(1))];
                let style = if r.score.score >= 95.0 {
                    ctx.theme.warn()
                } else {
                    ctx.theme.base()
                };
                Row::new(vec![
                    format!("{:.0}", r.score.score),
                    roi.file.clone(),
                    roi.label.as_str().to_string(),
                ])
                .style(style)
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(5),
                Constraint::Length(18),
                Constraint::Length(10),
            ],
        )
        .header(Row::new(vec!["score", "file", "class"]).style(ctx.theme.accent()))
        .row_highlight_style(ctx.theme.selection())
        .block(block(
            fit_title(
                &[
                    format!("Unusual ROIs vs {run} · u back"),
                    format!("Unusual ROIs vs {run}"),
                    "Unusual ROIs · u back".into(),
                ],
                list.width.saturating_sub(2),
            ),
            ctx,
            true,
        ));
        let mut state = TableState::default().with_selected(Some(self.ood_sel));
        StatefulWidget::render(table, list, buf, &mut state);
        let Some(sel) = v.rows.get(self.ood_sel) else {
            return;
        };
        let Some(roi) = ds.rois.get(sel.roi) else {
            return;
        };
        let b = block(
            format!(
                "{} · score {:.1} (percentile of the training ROIs)",
                roi.file, sel.score.score
            ),
            ctx,
            false,
        );
        let inner = b.inner(mid);
        b.render(mid, buf);
        draw_roi(
            buf,
            Rect::new(inner.x, inner.y, 28, 14).intersection(inner),
            &roi.pixels,
            1,
            ctx.mode,
        );
        put(buf, inner, inner.x, inner.y + 14, "ROI", ctx.theme.muted());
        let rx = inner.x + 30;
        draw_unit_image(
            buf,
            Rect::new(rx, inner.y, 28, 14).intersection(inner),
            &sel.recon,
            1,
            ctx.mode,
        );
        put(
            buf,
            inner,
            rx,
            inner.y + 14,
            "reconstruction",
            ctx.theme.muted(),
        );
        let s = &sel.score;
        let lines = [
            format!("reconstruction MSE {:.5}", s.recon_error),
            format!("latent density (k-NN distance) {:.3}", s.density),
            format!(
                "distance to the codes {}",
                s.vq_distance
                    .map(|d| format!("{d:.3}"))
                    .unwrap_or_else(|| "–".into())
            ),
            format!("speckle statistics (k-NN distance) {:.3}", s.texture),
        ];
        for (k, l) in lines.iter().enumerate() {
            put(
                buf,
                inner,
                inner.x,
                inner.y + 16 + k as u16,
                l,
                ctx.theme.base(),
            );
        }
        self.draw_zoom(zoom, buf, ctx, Some(roi));
    }
}

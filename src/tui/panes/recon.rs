//! Reconstructions pane: originals beside reconstructions (2 healthy + 2 steatotic test ROIs by
//! default, `n` picks others), per-ROI MSE/MAE/SSIM/PSNR, a ROI's 7x7 code map and the test means.
//!
//! Other models side by side: besides the open run, the newest finished run of every other model
//! kind trained on the same data and split (found by [`crate::tui::multirun::peer_runs`]) reconstructs
//! the same ROIs; the pane then shows one row per model under the originals and each model's
//! metrics of the selected ROI. With no such run it shows the open run alone.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Row, StatefulWidget, Table, TableState, Widget};

use super::{block, placeholder, put, wrap_step, Ctx, Effect};
use crate::eval::report::paper_table1;
use crate::tui::jobs::{PeerRecon, ReconData, Request};
use crate::tui::keymap::Action;
use crate::tui::widgets::image::{draw_roi, draw_unit_image, fit_zoom, roi_cells};
use crate::tui::widgets::scroll::scrolled;

#[derive(Debug, Default)]
pub struct ReconPane {
    pub run: Option<PathBuf>,
    pub data: Option<ReconData>,
    pub pick: usize,
    pub selected: usize,
    pub busy: bool,
    pub error: Option<String>,
    /// The same ROIs reconstructed by the other models' runs.
    pub peers: Vec<PeerRecon>,
    pub peers_busy: bool,
    /// Every shown run at the scrubbing cursor, while it is set (`tui/steps.rs`).
    pub scrub: Option<crate::tui::steps::StepView>,
    /// With other models' rows: show this run alone (its code map and test means) instead of
    /// the models side by side (enter toggles).
    pub this_run: bool,
    /// First row shown when the pane is taller than the screen (page up/down).
    pub vscroll: u16,
}

impl ReconPane {
    /// The request that fills the pane for its run, unless it is filled or on its way. The app
    /// keeps only the newest answer (generation ids), and shows the other models' rows only
    /// beside the pick they were computed for.
    pub fn wanted(&mut self) -> Option<Request> {
        let run = self.run.clone()?;
        let stale = self.data.as_ref().is_none_or(|d| d.run != run);
        if stale && !self.busy && self.error.is_none() {
            self.request()
        } else {
            None
        }
    }

    pub fn request(&mut self) -> Option<Request> {
        let run = self.run.clone()?;
        self.busy = true;
        self.error = None;
        Some(Request::Recon {
            run,
            pick: self.pick,
        })
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        let n = self.data.as_ref().map(|d| d.rois.len()).unwrap_or(0);
        match a {
            Action::Left | Action::Up => self.selected = wrap_step(self.selected, n, -1),
            Action::Right | Action::Down => self.selected = wrap_step(self.selected, n, 1),
            Action::Pick => {
                self.pick += 1;
                return self.request().map(Effect::Request).unwrap_or(Effect::None);
            }
            Action::Run => return self.request().map(Effect::Request).unwrap_or(Effect::None),
            Action::Select if !self.peers.is_empty() => {
                self.this_run = !self.this_run;
                self.vscroll = 0;
            }
            Action::PageDown => self.vscroll = self.vscroll.saturating_add(10),
            Action::PageUp => self.vscroll = self.vscroll.saturating_sub(10),
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    /// The rows the pane needs at `width` columns: the images at their smallest that fit the
    /// width, and the tables under them (this run), or a row of images per model.
    pub fn height_wanted(&self, width: u16) -> u16 {
        let Some(d) = &self.data else { return 0 };
        let n = d.rois.len().max(1) as u16;
        if !self.peers.is_empty() && !self.this_run {
            return 2 + 2 + 7 * (2 + self.peers.len() as u16);
        }
        [(n, 1u16), (n.div_ceil(2), 1), (n, 0), (n.div_ceil(2), 0)]
            .into_iter()
            .filter(|&(per, z)| per * if z == 0 { 30 } else { 58 } + 2 <= width)
            .map(|(per, z)| n.div_ceil(per) * if z == 0 { 8 } else { 15 } + 2 + 9)
            .min()
            .unwrap_or(n.div_ceil(2) * 8 + 2 + 9)
    }

    /// Draws the pane; when it is taller than `area`, scrolled (page up/down).
    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        if let Some(v) = &self.scrub {
            return v.draw_rows(area, buf, ctx);
        }
        let want = self.height_wanted(area.width);
        scrolled(area, buf, want, self.vscroll, ctx.theme.accent(), |a, b| {
            self.draw_all(a, b, ctx)
        });
    }

    fn draw_all(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let Some(d) = &self.data else {
            let msg = match (&self.run, &self.error, self.busy) {
                (None, ..) => "No run open: train one (2) or open one in Runs (6).".to_string(),
                (_, Some(e), _) => format!("Cannot reconstruct: {e}"),
                (_, _, true) => "Reconstructing the test ROIs…".into(),
                _ => "r: reconstruct".into(),
            };
            placeholder(buf, area, "Reconstructions", &[msg], ctx);
            return;
        };
        if !self.peers.is_empty() && !self.this_run {
            return self.draw_models(area, buf, ctx, d);
        }
        let n = d.rois.len().max(1) as u16;
        // Pairs (original | reconstruction), a column between the two and two between pairs, a
        // caption and a blank row under each: the largest whole zoom (up to 3x) that leaves 9
        // rows for the tables, on one row of pairs or two.
        let avail = (
            area.width.saturating_sub(2),
            area.height.saturating_sub(2 + 9),
        );
        let (zoom, per_row) = [n, n.div_ceil(2)]
            .into_iter()
            .filter_map(|per| {
                fit_zoom(avail, (2 * per, n.div_ceil(per)), (1, 2), (per, 0), 3).map(|z| (z, per))
            })
            .max_by_key(|&(z, per)| (z, per))
            .unwrap_or((0, n.div_ceil(2)));
        let (cw, ch) = roi_cells(zoom);
        let (pw, ph) = (2 * (cw + 1) + 1, ch + 2);
        let img_h = n.div_ceil(per_row) * ph - 1 + 2;
        let [imgs, low] = area.layout(&Layout::vertical([
            Constraint::Length(img_h),
            Constraint::Min(4),
        ]));
        let title = format!(
            "Original | reconstruction · epoch {}{}{} · ←→ select · n other ROIs · r refresh",
            d.epoch,
            if self.busy { " · updating…" } else { "" },
            if self.peers.is_empty() {
                ""
            } else {
                " · enter: models side by side"
            }
        );
        let b = block(title, ctx, false);
        let inner = b.inner(imgs);
        b.render(imgs, buf);
        for (i, r) in d.rois.iter().enumerate() {
            let (row, col) = (i as u16 / per_row, i as u16 % per_row);
            let (x, y) = (inner.x + col * pw, inner.y + row * ph);
            let left = Rect::new(x, y, cw, ch).intersection(inner);
            draw_roi(buf, left, &r.pixels, zoom, ctx.mode);
            let right = Rect::new(x + cw + 1, y, cw, ch).intersection(inner);
            draw_unit_image(buf, right, &r.recon, zoom, ctx.mode);
            let style = if i == self.selected {
                ctx.theme.selection()
            } else {
                ctx.theme.muted()
            };
            let caption = format!("{} {}", r.label, r.file);
            put(buf, inner, x, y + ch, &caption, style);
        }
        // A model without a codebook (MAE, CAE, VAE) has no code map: its room goes to the rest.
        let has_codes = d.rois.iter().any(|r| r.codes.is_some());
        let [table, codes, means] = low.layout(&Layout::horizontal([
            Constraint::Min(40),
            Constraint::Length(if has_codes { 30 } else { 0 }),
            Constraint::Length(30),
        ]));
        self.draw_table(table, buf, ctx, d);
        if has_codes {
            self.draw_codes(codes, buf, ctx, d);
        }
        draw_means(means, buf, ctx, d);
    }

    /// One row of images per model under the originals, and each model's metrics of the selected
    /// ROI beside them.
    fn draw_models(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, d: &ReconData) {
        const LABEL: u16 = 9;
        let n = d.rois.len() as u16;
        let grid_w = LABEL + n * 15 + 2;
        let table_w = if area.width >= grid_w + 48 { 48 } else { 30 };
        // The largest whole zoom at which every model's row fits (two caption rows on top, a
        // blank column and row after each image), else half size, clipped.
        let models = 1 + self.peers.len() as u16;
        let zoom = fit_zoom(
            (
                area.width.saturating_sub(table_w + 2),
                area.height.saturating_sub(2),
            ),
            (n, 1 + models),
            (1, 1),
            (LABEL, 2),
            3,
        )
        .unwrap_or(0);
        let (cw, ch) = roi_cells(zoom);
        let [grid, table] = area.layout(&Layout::horizontal([
            Constraint::Min(grid_w.min(area.width.saturating_sub(table_w))),
            Constraint::Length(table_w),
        ]));
        let title = format!(
            "Models side by side{} · enter: this run · ←→ · n · newest finished run of each, same split",
            if self.busy || self.peers_busy {
                " · updating…"
            } else {
                ""
            }
        );
        let b = block(title, ctx, false);
        let inner = b.inner(grid);
        b.render(grid, buf);
        let open_model = d.model.to_string();
        let mut rows: Vec<(String, Vec<&[f32]>)> = vec![(
            open_model,
            d.rois.iter().map(|r| r.recon.as_slice()).collect(),
        )];
        for p in &self.peers {
            rows.push((
                p.model.to_string(),
                p.recons.iter().map(Vec::as_slice).collect(),
            ));
        }
        let mut y = inner.y;
        for (i, r) in d.rois.iter().enumerate() {
            let x = inner.x + LABEL + i as u16 * (cw + 1);
            let style = if i == self.selected {
                ctx.theme.selection()
            } else {
                ctx.theme.muted()
            };
            let stem = r.file.trim_end_matches(".png");
            put(
                buf,
                inner,
                x,
                y,
                &format!("{:.14}", r.label.as_str()),
                style,
            );
            put(buf, inner, x, y + 1, &format!("{stem:.14}"), style);
        }
        y += 2;
        put(buf, inner, inner.x, y, "original", ctx.theme.accent());
        for (i, r) in d.rois.iter().enumerate() {
            let x = inner.x + LABEL + i as u16 * (cw + 1);
            draw_roi(
                buf,
                Rect::new(x, y, cw, ch).intersection(inner),
                &r.pixels,
                zoom,
                ctx.mode,
            );
        }
        y += ch + 1;
        let mut hidden = 0;
        for (name, images) in &rows {
            if y + 2 > inner.y + inner.height {
                hidden += 1;
                continue;
            }
            put(buf, inner, inner.x, y, name, ctx.theme.accent());
            for (i, img) in images.iter().enumerate() {
                let x = inner.x + LABEL + i as u16 * (cw + 1);
                draw_unit_image(
                    buf,
                    Rect::new(x, y, cw, ch).intersection(inner),
                    img,
                    zoom,
                    ctx.mode,
                );
            }
            y += ch + 1;
        }
        if hidden > 0 {
            let note = format!("+{hidden} more models below: make the terminal taller");
            let last = inner.y + inner.height.saturating_sub(1);
            buf.set_style(Rect::new(inner.x, last, inner.width, 1), ctx.theme.base());
            for x in inner.x..inner.x + inner.width {
                buf[(x, last)].set_char(' ');
            }
            put(buf, inner, inner.x, last, &note, ctx.theme.warn());
        }
        let sel = self.selected.min(d.rois.len().saturating_sub(1));
        let mut metrics = vec![(d.model.to_string(), d.rois.get(sel).map(|r| r.metrics))];
        for p in &self.peers {
            metrics.push((p.model.to_string(), p.metrics.get(sel).copied()));
        }
        let wide = table_w >= 48;
        let rows: Vec<Row> = metrics
            .into_iter()
            .map(|(name, m)| {
                let f = |v: Option<f64>, dg: usize| {
                    v.map(|x| format!("{x:.dg$}")).unwrap_or_else(|| "-".into())
                };
                let mut cells = vec![name, f(m.map(|m| m.mse), 4), f(m.map(|m| m.ssim), 4)];
                if wide {
                    cells.push(f(m.map(|m| m.mae), 4));
                    cells.push(f(m.map(|m| m.psnr), 2));
                }
                Row::new(cells)
            })
            .collect();
        let mut header = vec!["model", "MSE", "SSIM"];
        let mut widths = vec![
            Constraint::Min(6),
            Constraint::Length(6),
            Constraint::Length(6),
        ];
        if wide {
            header.extend(["MAE", "PSNR"]);
            widths.extend([Constraint::Length(6), Constraint::Length(5)]);
        }
        let file = d.rois.get(sel).map(|r| r.file.as_str()).unwrap_or("");
        let t = Table::new(rows, widths)
            .header(Row::new(header).style(ctx.theme.accent()))
            .block(block(format!("Selected ROI {file}"), ctx, true));
        Widget::render(t, table, buf);
    }

    fn draw_table(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, d: &ReconData) {
        let rows: Vec<Row> = d
            .rois
            .iter()
            .map(|r| {
                let m = &r.metrics;
                Row::new(vec![
                    r.file.trim_end_matches(".png").to_string(),
                    format!("{:.4}", m.mse),
                    format!("{:.4}", m.mae),
                    format!("{:.4}", m.ssim),
                    format!("{:.2}", m.psnr),
                ])
            })
            .collect();
        let widths = [
            Constraint::Min(8),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(5),
        ];
        let header = Row::new(vec!["ROI", "MSE", "MAE", "SSIM", "PSNR"]);
        let t = Table::new(rows, widths)
            .header(header.style(ctx.theme.accent()))
            .row_highlight_style(ctx.theme.selection())
            .block(block("Per-ROI metrics", ctx, true));
        let mut st = TableState::default().with_selected(Some(self.selected));
        StatefulWidget::render(t, area, buf, &mut st);
    }

    fn draw_codes(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, d: &ReconData) {
        let b = block("7x7 code indices", ctx, false);
        let inner = b.inner(area);
        b.render(area, buf);
        let Some(codes) = d.rois.get(self.selected).and_then(|r| r.codes.as_ref()) else {
            put(
                buf,
                inner,
                inner.x,
                inner.y,
                "no codes (not a VQ model)",
                ctx.theme.muted(),
            );
            return;
        };
        for (row, chunk) in codes.chunks(7).enumerate() {
            let line: String = chunk.iter().map(|c| format!("{c:>4}")).collect();
            put(
                buf,
                inner,
                inner.x,
                inner.y + row as u16,
                &line,
                ctx.theme.base(),
            );
        }
    }
}

fn draw_means(area: Rect, buf: &mut Buffer, ctx: &Ctx, d: &ReconData) {
    let b = block(format!("Test means (n = {})", d.summary.n), ctx, false);
    let inner = b.inner(area);
    b.render(area, buf);
    let s = &d.summary;
    // The paper's row of the run's own model.
    let paper = paper_table1(d.model);
    let rows = [
        ("MSE", s.mse.mean, s.mse.std, 4, paper.map(|p| p[0])),
        ("MAE", s.mae.mean, s.mae.std, 4, paper.map(|p| p[1])),
        ("SSIM", s.ssim.mean, s.ssim.std, 4, paper.map(|p| p[2])),
        ("PSNR", s.psnr.mean, s.psnr.std, 2, paper.map(|p| p[3])),
    ];
    let head = "     vqtex           paper";
    put(buf, inner, inner.x, inner.y, head, ctx.theme.accent());
    for (i, (name, m, sd, dg, p)) in rows.iter().enumerate() {
        let paper = p
            .map(|(pm, _)| format!("{pm:.dg$}", dg = *dg))
            .unwrap_or_default();
        let line = format!("{name:<4} {m:.dg$}±{sd:.dg$}  {paper}", dg = *dg);
        put(
            buf,
            inner,
            inner.x,
            inner.y + 1 + i as u16,
            &line,
            ctx.theme.base(),
        );
    }
}

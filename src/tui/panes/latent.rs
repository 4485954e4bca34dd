//! Latent pane: a traversal of one latent variable (the paper's Fig. 4: -2 sd .. +2 sd in 5 steps;
//! variable with ←→, steps with + -, range with n), and the codebook decoded as prototypes with how
//! often healthy and steatotic test ROIs use each code.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Widget;

use super::{block, placeholder, put, wrap_step, Ctx, Effect};
use crate::tui::jobs::{CodebookData, Request, TraversalData};
use crate::tui::keymap::Action;
use crate::tui::widgets::image::draw_unit_image;

#[derive(Debug)]
pub struct LatentPane {
    pub run: Option<PathBuf>,
    pub dim: usize,
    pub dims: usize,
    pub steps: usize,
    pub range: f64,
    pub traversal: Option<TraversalData>,
    pub codebook: Option<CodebookData>,
    /// First codebook row shown.
    pub scroll: usize,
    pub busy: bool,
    pub codebook_busy: bool,
    pub error: Option<String>,
}

impl Default for LatentPane {
    fn default() -> Self {
        LatentPane {
            run: None,
            dim: 0,
            dims: 32,
            steps: 5,
            range: 2.0,
            traversal: None,
            codebook: None,
            scroll: 0,
            busy: false,
            codebook_busy: false,
            error: None,
        }
    }
}

impl LatentPane {
    fn traverse_req(&mut self) -> Option<Request> {
        let run = self.run.clone()?;
        self.busy = true;
        self.error = None;
        Some(Request::Traverse {
            run,
            dim: self.dim,
            steps: self.steps,
            range: self.range,
        })
    }

    /// Requests that fill the pane for its run, unless filled or on their way.
    pub fn wanted(&mut self) -> Vec<Request> {
        let Some(run) = self.run.clone() else {
            return Vec::new();
        };
        let mut v = Vec::new();
        if self.error.is_some() {
            return v;
        }
        if !self.busy && self.traversal.as_ref().is_none_or(|t| t.run != run) {
            v.extend(self.traverse_req());
        }
        if !self.codebook_busy && self.codebook.as_ref().is_none_or(|c| c.run != run) {
            self.codebook_busy = true;
            v.push(Request::Codebook { run });
        }
        v
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        match a {
            Action::Left => self.dim = wrap_step(self.dim, self.dims, -1),
            Action::Right => self.dim = wrap_step(self.dim, self.dims, 1),
            Action::More => self.steps = (self.steps + 2).min(15),
            Action::Less => self.steps = self.steps.saturating_sub(2).max(3),
            Action::Pick => {
                self.range = if self.range >= 3.0 {
                    1.0
                } else {
                    self.range + 0.5
                }
            }
            Action::Up => {
                self.scroll = self.scroll.saturating_sub(1);
                return Effect::Redraw;
            }
            Action::Down => {
                self.scroll += 1;
                return Effect::Redraw;
            }
            Action::Run => {}
            _ => return Effect::None,
        }
        self.traverse_req()
            .map(Effect::Request)
            .unwrap_or(Effect::Redraw)
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        if self.run.is_none() {
            let msg = "No run open: train one (2) or open one in Runs (6).".to_string();
            placeholder(buf, area, "Latent", &[msg], ctx);
            return;
        }
        let top_h = if area.height >= 36 { 18 } else { 11 };
        let [top, bottom] = area.layout(&Layout::vertical([
            Constraint::Length(top_h),
            Constraint::Min(4),
        ]));
        self.draw_traversal(top, buf, ctx);
        self.draw_codebook(bottom, buf, ctx);
    }

    fn draw_traversal(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let title = format!(
            "Traversal · variable {}/{} · {} steps · ±{:.1} sd{} · ←→ variable, + - steps, n range",
            self.dim,
            self.dims.saturating_sub(1),
            self.steps,
            self.range,
            if self.busy { " · computing…" } else { "" }
        );
        let b = block(title, ctx, true);
        let inner = b.inner(area);
        b.render(area, buf);
        if let Some(e) = &self.error {
            put(
                buf,
                inner,
                inner.x,
                inner.y,
                &format!("error: {e}"),
                ctx.theme.bad(),
            );
            return;
        }
        let Some(t) = &self.traversal else {
            put(
                buf,
                inner,
                inner.x,
                inner.y,
                "computing the traversal…",
                ctx.theme.muted(),
            );
            return;
        };
        let n = t.images.len().max(1) as u16;
        let zoom = if n * 29 <= inner.width && inner.height >= 15 {
            1
        } else {
            0
        };
        let (w, h) = if zoom == 1 { (29u16, 14u16) } else { (15, 7) };
        for (i, (img, off)) in t.images.iter().zip(&t.offsets).enumerate() {
            let x = inner.x + i as u16 * w;
            if x + w > inner.x + inner.width + 1 {
                break;
            }
            let r = Rect::new(x, inner.y, w - 1, h).intersection(inner);
            draw_unit_image(buf, r, img, zoom, ctx.mode);
            put(
                buf,
                inner,
                x,
                inner.y + h,
                &format!("{off:+.1} sd"),
                ctx.theme.muted(),
            );
        }
    }

    fn draw_codebook(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let Some(cb) = &self.codebook else {
            let b = block("Codebook prototypes", ctx, false);
            let inner = b.inner(area);
            b.render(area, buf);
            put(
                buf,
                inner,
                inner.x,
                inner.y,
                "decoding the codebook…",
                ctx.theme.muted(),
            );
            return;
        };
        let used = cb.usage.iter().filter(|u| u[0] + u[1] > 0).count();
        let title = format!(
            "Codebook: {} prototypes, {} used by test ROIs · h/s: healthy/steatotic uses · ↑↓ scroll",
            cb.prototypes.len(),
            used
        );
        let b = block(title, ctx, false);
        let inner = b.inner(area);
        b.render(area, buf);
        let (cw, ch) = (16u16, 8u16);
        let per_row = (inner.width / cw).max(1) as usize;
        let rows = cb.prototypes.len().div_ceil(per_row);
        let first = self.scroll.min(rows.saturating_sub(1));
        for (k, proto) in cb.prototypes.iter().enumerate().skip(first * per_row) {
            let (row, col) = ((k / per_row - first) as u16, (k % per_row) as u16);
            let (x, y) = (inner.x + col * cw, inner.y + row * ch);
            if y + 2 > inner.y + inner.height {
                break;
            }
            let r = Rect::new(x, y, 14, 7).intersection(inner);
            draw_unit_image(buf, r, proto, 0, ctx.mode);
            let [h, s] = cb.usage.get(k).copied().unwrap_or([0, 0]);
            put(
                buf,
                inner,
                x,
                y + 7,
                &format!("#{k} h{h} s{s}"),
                ctx.theme.muted(),
            );
        }
    }
}

//! Latent pane: a traversal of one latent variable (the paper's Fig. 4: -2 sd .. +2 sd in 5 steps;
//! variable with ←→, steps with + -, range with n) starting from a real test ROI, the anchor (`a`
//! picks the next test ROI), with the VQ-VAE's z_e row and re-quantised row; the anchor's 7x7
//! code map, which `i` opens for editing (arrows a cell, + - its code, n every use of the code,
//! r undo) with the edited decoding beside the original; and the codebook decoded as prototypes
//! with how often healthy and steatotic test ROIs use each code.

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::{block, fit_title, placeholder, put, wrap_step, Ctx, Effect};
use crate::eval::codes::{CodeSort, CodeStats};
use crate::tui::jobs::{CodebookData, Request, TraversalData};
use crate::tui::keymap::Action;
use crate::tui::widgets::image::{draw_roi, draw_unit_image, GrayImage};

/// From this width the code map (96 columns, full-size images) sits beside the codebook list.
const WIDE_MAP: u16 = 100;
/// The code map's height under the traversal on a narrower screen: the 7 rows of codes and the
/// count of changed cells, in a border.
const NARROW_MAP_H: u16 = 10;

/// An edit of the anchor's code map.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeEdit {
    /// The cell under the cursor (row, column of the 7x7 map).
    pub cursor: (usize, usize),
    /// The edited map, row by row.
    pub codes: Vec<u32>,
    /// `+ -` change every use of the cell's code, not only the cell.
    pub all_uses: bool,
    /// The edited map's decoding, once the job answers.
    pub decoded: Option<Vec<f32>>,
}

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
    /// The anchor chosen with `a` (an index into the run's dataset); `None`: the default one.
    pub anchor: Option<usize>,
    /// The code map being edited (`i`).
    pub edit: Option<CodeEdit>,
    /// The codebook's order (`S` cycles).
    pub sort: CodeSort,
    /// First row shown when the pane is taller than the screen (page up/down).
    pub vscroll: u16,
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
            anchor: None,
            edit: None,
            sort: CodeSort::Code,
            vscroll: 0,
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
            anchor: self.anchor,
        })
    }

    /// Folds in a decoded code map, if it is the one being edited now.
    pub fn on_decoded(&mut self, codes: Vec<u32>, r: Result<Vec<f32>, String>) {
        match (&mut self.edit, r) {
            (Some(e), Ok(img)) if e.codes == codes => e.decoded = Some(img),
            (Some(_), Err(err)) => self.error = Some(err),
            _ => {}
        }
    }

    fn decode_req(&self) -> Effect {
        match (&self.run, &self.edit) {
            (Some(run), Some(e)) => Effect::Request(Request::DecodeCodes {
                run: run.clone(),
                codes: e.codes.clone(),
            }),
            _ => Effect::Redraw,
        }
    }

    /// Keys while the code map is being edited.
    fn on_edit_action(&mut self, a: Action, k: usize) -> Effect {
        let original = self
            .traversal
            .as_ref()
            .and_then(|t| t.anchor.as_ref())
            .and_then(|x| x.codes.clone());
        let Some(e) = &mut self.edit else {
            return Effect::None;
        };
        let (r, c) = &mut e.cursor;
        match a {
            Action::Up => *r = r.saturating_sub(1),
            Action::Down => *r = (*r + 1).min(6),
            Action::Left => *c = c.saturating_sub(1),
            Action::Right => *c = (*c + 1).min(6),
            Action::Pick => e.all_uses = !e.all_uses,
            Action::More | Action::Less => {
                let i = *r * 7 + *c;
                let old = e.codes[i];
                let new = if a == Action::More {
                    (old + 1) % k as u32
                } else {
                    (old + k as u32 - 1) % k as u32
                };
                if e.all_uses {
                    for x in e.codes.iter_mut().filter(|x| **x == old) {
                        *x = new;
                    }
                } else {
                    e.codes[i] = new;
                }
                e.decoded = None;
                return self.decode_req();
            }
            Action::Run => {
                if let Some(o) = original {
                    e.codes = o;
                    e.decoded = None;
                    return self.decode_req();
                }
            }
            _ => return Effect::None,
        }
        Effect::Redraw
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
            Action::PageDown => self.vscroll = self.vscroll.saturating_add(10),
            Action::PageUp => self.vscroll = self.vscroll.saturating_sub(10),
            _ => return self.on_other_action(a),
        }
        Effect::Redraw
    }

    fn on_other_action(&mut self, a: Action) -> Effect {
        let anchor = self.traversal.as_ref().and_then(|t| t.anchor.clone());
        if a == Action::SortCodes {
            let i = CodeSort::ALL
                .iter()
                .position(|&x| x == self.sort)
                .unwrap_or(0);
            self.sort = CodeSort::ALL[(i + 1) % CodeSort::ALL.len()];
            self.scroll = 0;
            return Effect::Redraw;
        }
        if a == Action::EditCodes {
            if self.edit.take().is_some() {
                return Effect::Redraw;
            }
            let Some(codes) = anchor.as_ref().and_then(|x| x.codes.clone()) else {
                return Effect::Say("the run's model has no code map to edit".into());
            };
            self.edit = Some(CodeEdit {
                cursor: (3, 3),
                codes,
                all_uses: false,
                decoded: None,
            });
            return self.decode_req();
        }
        if let (Some(_), Some(k)) = (&self.edit, anchor.as_ref().and_then(|x| x.codebook)) {
            return self.on_edit_action(a, k);
        }
        match a {
            Action::Anchor => {
                let Some(x) = anchor else {
                    return Effect::Say("no anchor yet: the traversal is on its way".into());
                };
                if x.choices.is_empty() {
                    return Effect::Say("the run has no test ROI to anchor on".into());
                }
                let next = x
                    .choices
                    .iter()
                    .position(|&i| i == x.index)
                    .map(|p| (p + 1) % x.choices.len())
                    .unwrap_or(0);
                self.anchor = Some(x.choices[next]);
                self.edit = None;
            }
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

    /// Whether the anchor has a code map (a VQ-VAE's).
    fn has_codes(&self) -> bool {
        self.traversal
            .as_ref()
            .and_then(|t| t.anchor.as_ref())
            .is_some_and(|a| a.codes.is_some())
    }

    /// Draws the pane; on a screen too short for the traversal, the code map and a useful
    /// codebook list, scrolled (page up/down). Below 100 columns the code map goes under the
    /// traversal with half-size images, and while it is edited it is scrolled into view.
    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let rows = self
            .traversal
            .as_ref()
            .map(|t| 1 + t.more.len() as u16)
            .unwrap_or(1);
        let map_h = if self.has_codes() && area.width < WIDE_MAP {
            NARROW_MAP_H
        } else {
            0
        };
        // A row of images, its captions and a blank row: 16 at full size, 9 at half.
        let trav_h = if area.height >= 20 + 16 * rows + map_h {
            2 + 16 * rows - 1
        } else {
            2 + 9 * rows - 1
        };
        // The traversal, the code map and a codebook list of 8 rows.
        let want = if self.run.is_some() {
            trav_h + map_h + 10
        } else {
            0
        };
        let top = if map_h > 0 && self.edit.is_some() {
            trav_h
        } else {
            self.vscroll
        };
        crate::tui::widgets::scroll::scrolled(area, buf, want, top, ctx.theme.accent(), |a, b| {
            self.draw_all(a, b, ctx, trav_h)
        });
    }

    fn draw_all(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, trav_h: u16) {
        if self.run.is_none() {
            let msg = "No run open: train one (2) or open one in Runs (6).".to_string();
            placeholder(buf, area, "Latent", &[msg], ctx);
            return;
        }
        let [top, bottom] = area.layout(&Layout::vertical([
            Constraint::Length(trav_h.min(area.height.saturating_sub(4))),
            Constraint::Min(4),
        ]));
        self.draw_traversal(top, buf, ctx);
        if !self.has_codes() {
            self.draw_codebook(bottom, buf, ctx);
        } else if bottom.width >= WIDE_MAP {
            let [map, book] = bottom.layout(&Layout::horizontal([
                Constraint::Length(96),
                Constraint::Min(20),
            ]));
            self.draw_code_map(map, buf, ctx);
            self.draw_codebook(book, buf, ctx);
        } else {
            let [map, book] = bottom.layout(&Layout::vertical([
                Constraint::Length(NARROW_MAP_H),
                Constraint::Min(4),
            ]));
            self.draw_code_map(map, buf, ctx);
            self.draw_codebook(book, buf, ctx);
        }
    }

    fn draw_traversal(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let anchor = self
            .traversal
            .as_ref()
            .and_then(|t| t.anchor.as_ref())
            .map(|a| format!(" · anchor {} ({}) · a next", a.file, a.label.as_str()))
            .unwrap_or_default();
        let title = format!(
            "Traversal · variable {}/{} · {} steps · ±{:.1} sd{anchor}{} · ←→ variable, + - steps, n range",
            self.dim,
            self.dims.saturating_sub(1),
            self.steps,
            self.range,
            if self.busy { " · computing…" } else { "" }
        );
        let mut b = block(title, ctx, self.edit.is_none());
        let inner = b.inner(area);
        // How many steps fit beside the anchor (and the row labels); the others are named.
        if let Some(t) = &self.traversal {
            let (_, w, _, label_w) = traversal_layout(t, inner);
            let anchor_w = if t.anchor.is_some() { w } else { 0 };
            let fit = ((inner.width + 1).saturating_sub(label_w + anchor_w) / w) as usize;
            if fit < t.images.len() && self.error.is_none() {
                b = b.title_bottom(
                    Line::from(format!(
                        " showing {fit} of {} steps: widen the terminal or press - ",
                        t.images.len()
                    ))
                    .right_aligned(),
                );
            }
        }
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
        let mut rows: Vec<(&str, &Vec<Vec<f32>>)> = vec![("", &t.images)];
        rows.extend(t.more.iter().map(|(l, v)| (l.as_str(), v)));
        if t.anchor.is_some() && rows.len() > 1 {
            rows[0].0 = "z_e";
        }
        let (zoom, w, h, label_w) = traversal_layout(t, inner);
        for (k, (label, images)) in rows.iter().enumerate() {
            // A caption row and a blank row under each row of images.
            let y = inner.y + k as u16 * (h + 2);
            if y + 2 > inner.y + inner.height {
                break;
            }
            if label_w > 0 {
                put(buf, inner, inner.x, y, label, ctx.theme.muted());
            }
            let mut x = inner.x + label_w;
            if let Some(a) = &t.anchor {
                let r = Rect::new(x, y, w - 1, h).intersection(inner);
                draw_roi(buf, r, &a.pixels, zoom, ctx.mode);
                let caption = if label_w == 0 && !label.is_empty() {
                    label
                } else {
                    "anchor"
                };
                put(buf, inner, x, y + h, caption, ctx.theme.accent());
                x += w;
            }
            for (img, off) in images.iter().zip(&t.offsets) {
                if x + w > inner.x + inner.width + 1 {
                    break;
                }
                let r = Rect::new(x, y, w - 1, h).intersection(inner);
                draw_unit_image(buf, r, img, zoom, ctx.mode);
                put(
                    buf,
                    inner,
                    x,
                    y + h,
                    &format!("{off:+.1} sd"),
                    ctx.theme.muted(),
                );
                x += w;
            }
        }
    }

    /// The anchor's code map (a cursor over it while editing) beside the anchor and the edited
    /// map's decoding.
    fn draw_code_map(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let Some(a) = self.traversal.as_ref().and_then(|t| t.anchor.as_ref()) else {
            return;
        };
        let Some(original) = &a.codes else {
            return;
        };
        let codes = self.edit.as_ref().map(|e| &e.codes).unwrap_or(original);
        let changed = codes.iter().zip(original).filter(|(a, b)| a != b).count();
        let title = match &self.edit {
            Some(e) => {
                let head = format!(
                    "Code map · editing · {changed} of 49 cells changed · {}",
                    if e.decoded.is_some() {
                        "decoded"
                    } else {
                        "decoding…"
                    }
                );
                // The keys' meanings are in the help (?): a narrow screen keeps just the keys.
                let long = format!(
                    "{head} · arrows, + -{}, n {}, r undo, i done",
                    if e.all_uses { " everywhere" } else { "" },
                    if e.all_uses { "one cell" } else { "every use" }
                );
                fit_title(
                    &[long, format!("{head} · arrows + - n r i")],
                    area.width.saturating_sub(2),
                )
            }
            None => "Code map of the anchor · i edit".to_string(),
        };
        let b = block(title, ctx, self.edit.is_some());
        let inner = b.inner(area);
        b.render(area, buf);
        for r in 0..7 {
            for c in 0..7 {
                let i = r * 7 + c;
                let here = self.edit.as_ref().is_some_and(|e| e.cursor == (r, c));
                let edited = codes[i] != original[i];
                let style = if here {
                    ctx.theme.selection()
                } else if edited {
                    ctx.theme.warn()
                } else {
                    ctx.theme.base()
                };
                let x = inner.x + c as u16 * 4;
                let y = inner.y + r as u16;
                put(buf, inner, x, y, &format!("{:>3}", codes[i]), style);
            }
        }
        // Beside the 7x7 numbers (28 columns): the anchor and the edited map's decoding, at full
        // size (28x14 cells each) where they fit, else at half size.
        let (zoom, w, h) = if inner.width >= 88 {
            (1, 28, 14)
        } else {
            (0, 14, 7)
        };
        let x0 = inner.x + 30;
        draw_roi(
            buf,
            Rect::new(x0, inner.y, w, h).intersection(inner),
            &a.pixels,
            zoom,
            ctx.mode,
        );
        put(buf, inner, x0, inner.y + h, "anchor", ctx.theme.muted());
        let x1 = x0 + w + 2;
        match self.edit.as_ref().map(|e| &e.decoded) {
            Some(Some(d)) => {
                let r = Rect::new(x1, inner.y, w, h).intersection(inner);
                draw_unit_image(buf, r, d, zoom, ctx.mode);
                let caption = if zoom == 1 {
                    "edited, decoded"
                } else {
                    "edited"
                };
                put(buf, inner, x1, inner.y + h, caption, ctx.theme.muted());
            }
            Some(None) => put(buf, inner, x1, inner.y, "decoding…", ctx.theme.muted()),
            None => {}
        }
        put(
            buf,
            inner,
            inner.x,
            inner.y + 7,
            &format!("{changed} of 49 cells changed"),
            ctx.theme.muted(),
        );
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
        if !cb.stats.is_empty() {
            return self.draw_code_table(cb, area, buf, ctx);
        }
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

    /// The codebook as a table, one code a block: its repeated-code decoding, its 8 most typical
    /// real patches, its use by class with the odds ratio and Fisher p, and the texture it covers;
    /// in the order `S` chose.
    fn draw_code_table(&self, cb: &CodebookData, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let mut stats: Vec<CodeStats> = cb.stats.clone();
        self.sort.sort(&mut stats);
        let used = stats.iter().filter(|s| s.used()).count();
        let title = format!(
            "Codebook: {} codes, {} used by test ROIs · sorted by {} (S) · ↑↓ scroll",
            stats.len(),
            used,
            self.sort.as_str()
        );
        let b = block(title, ctx, false);
        let inner = b.inner(area);
        b.render(area, buf);
        let opt =
            |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "–".into());
        let h = 9u16;
        let first = self.scroll.min(stats.len().saturating_sub(1));
        for (k, s) in stats.iter().skip(first).enumerate() {
            let y = inner.y + k as u16 * h;
            if y + 3 > inner.y + inner.height {
                break;
            }
            let code = s.code as usize;
            if let Some(p) = cb.prototypes.get(code) {
                draw_unit_image(
                    buf,
                    Rect::new(inner.x, y, 14, 7).intersection(inner),
                    p,
                    0,
                    ctx.mode,
                );
            }
            put(buf, inner, inner.x, y + 7, "repeated", ctx.theme.muted());
            let px = inner.x + 15;
            for (j, patch) in cb
                .patches
                .get(code)
                .into_iter()
                .flatten()
                .take(8)
                .enumerate()
            {
                let r = Rect::new(px + (j % 4) as u16 * 9, y + (j / 4) as u16 * 4, 8, 4)
                    .intersection(inner);
                GrayImage::new(patch, 8, 8, ctx.mode).render(r, buf);
            }
            put(buf, inner, px, y + 8, "typical patches", ctx.theme.muted());
            let tx = px + 37;
            let strong = s.used() && s.p_bh < 0.05;
            let head = format!(
                "#{code}  positions healthy {} · steatotic {}  (ROIs {} / {})",
                s.positions[0], s.positions[1], s.rois[0], s.rois[1]
            );
            put(buf, inner, tx, y, &head, ctx.theme.accent());
            let assoc = if s.used() {
                format!(
                    "OR {:.2} [{:.2}, {:.2}]  Fisher p {:.2e}  BH {:.3}",
                    s.odds_ratio, s.or_ci95[0], s.or_ci95[1], s.p, s.p_bh
                )
            } else {
                "unused by the test ROIs".into()
            };
            let style = if strong {
                ctx.theme.good()
            } else {
                ctx.theme.base()
            };
            put(buf, inner, tx, y + 1, &assoc, style);
            let tex = format!(
                "echogenicity {}  heterogeneity {}  granularity {} px",
                opt(s.echogenicity, 2),
                opt(s.heterogeneity, 3),
                opt(s.granularity, 1)
            );
            put(buf, inner, tx, y + 2, &tex, ctx.theme.muted());
        }
    }
}

/// The traversal's zoom, column pitch (an image and a gap), image height and label column width:
/// full size when every step and the anchor fit across and every row fits down, else half size.
/// The anchor takes the first column; a label column names the rows when it fits, else the
/// caption under each row's anchor does.
fn traversal_layout(t: &TraversalData, inner: Rect) -> (u16, u16, u16, u16) {
    let rows = 1 + t.more.len() as u16;
    let cols = t.images.len() as u16 + u16::from(t.anchor.is_some());
    let labels = rows > 1;
    let zoom1 = cols * 29 + 13 * u16::from(labels) <= inner.width && inner.height >= 16 * rows - 1;
    let (zoom, w, h) = if zoom1 { (1, 29u16, 14u16) } else { (0, 15, 7) };
    let label_w: u16 = if labels && cols * w + 13 <= inner.width {
        13
    } else {
        0
    };
    (zoom, w, h, label_w)
}

//! The ROI picker: a frame of a frames folder drawn in half-blocks, a liver box and a kidney box
//! moved with the keys, the live HI and both ROIs' means; each frame's boxes are saved to the
//! folder's `coords.csv` (the same file `vqtex roi extract --coords` reads), so a partly done set
//! resumes where it stopped, and `r` extracts the HI-normalised ROIs and opens them in the Data pane.
//! The pane reads and writes no file itself: frames, `coords.csv` and the extraction are jobs
//! (`crate::tui::jobs::files`), asked for with an [`Effect`].

use std::cell::Cell;
use std::path::PathBuf;

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{block, placeholder, Ctx, Effect, PromptKind};
use crate::data::extract::{crop, Boxes};
use crate::data::frames::FrameRecord;
use crate::data::roi::hepatorenal_index;
use crate::data::ROI_SIZE;
pub use crate::tui::jobs::Frame;
use crate::tui::jobs::{FramesOpened, Request};
use crate::tui::keymap::Action;
use crate::tui::widgets::graphics::{self, Graphics, Rgb};
use crate::tui::widgets::image::gray;

/// Which box the keys move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    #[default]
    Liver,
    Kidney,
}

/// Live numbers of the boxes on the current frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    pub liver_mean: f64,
    pub kidney_mean: f64,
    pub hi: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct PickerPane {
    pub dir: Option<PathBuf>,
    pub frames: Vec<FrameRecord>,
    /// Saved boxes of each frame (in `coords.csv`).
    pub saved: Vec<Option<Boxes>>,
    pub current: usize,
    /// The boxes being moved on the current frame.
    pub draft: Boxes,
    pub image: Option<Frame>,
    pub active: Which,
    /// 1 shows the whole frame; 2, 4, 8 magnify around the active box.
    pub zoom: u16,
    pub error: Option<String>,
    /// The terminal sends mouse events while this is on (`m`).
    pub mouse: bool,
    /// Where the last draw put the frame, to map a click to a pixel.
    view: Cell<Option<View>>,
}

/// The frame's place on screen: sub-pixel (half-cell) `i, j` of `area` shows frame pixel
/// `(x0 + (i + 0.5) s, y0 + (j + 0.5) s)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    area: Rect,
    x0: f64,
    y0: f64,
    s: f64,
}

/// Colours of the boxes (named colours: they work in every terminal).
const LIVER: Color = Color::LightGreen;
const KIDNEY: Color = Color::LightRed;
const INACTIVE_LIVER: Color = Color::Green;
const INACTIVE_KIDNEY: Color = Color::Red;

impl PickerPane {
    /// The pane for a frames folder read by a job, resuming at its first frame without boxes.
    pub fn opened(o: FramesOpened) -> PickerPane {
        let mut p = PickerPane {
            dir: Some(o.dir),
            frames: o.frames,
            saved: o.saved,
            current: o.current,
            zoom: 1,
            ..PickerPane::default()
        };
        p.on_frame(o.current, o.image);
        p
    }

    /// Opens a frames folder on this thread (tests).
    #[cfg(test)]
    pub fn open(dir: &std::path::Path) -> Result<PickerPane, String> {
        crate::tui::jobs::files::open_frames(dir).map(PickerPane::opened)
    }

    pub fn coords_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("coords.csv"))
    }

    pub fn done(&self) -> usize {
        self.saved.iter().filter(|s| s.is_some()).count()
    }

    /// Frame `index` was read: shown, with its boxes (saved ones, else the previous frame's, else
    /// a guess: kidney on the left, liver on the right), if it is still the current frame.
    pub fn on_frame(&mut self, index: usize, frame: Result<Frame, String>) {
        if index != self.current || index >= self.frames.len() {
            return;
        }
        let img = match frame {
            Ok(f) => f,
            Err(e) => {
                self.image = None;
                self.error = Some(e);
                return;
            }
        };
        self.error = None;
        let earlier = self.saved[..self.current].iter().rev().flatten().next();
        self.draft = match (self.saved[self.current], earlier) {
            (Some(b), _) => b,
            (None, Some(b)) => *b,
            (None, None) => {
                let (w, h) = (img.width, img.height);
                let s = ROI_SIZE as u32;
                Boxes {
                    liver: (
                        (w * 2 / 3).min(w.saturating_sub(s)),
                        (h / 3).min(h.saturating_sub(s)),
                    ),
                    kidney: (
                        (w / 4).min(w.saturating_sub(s)),
                        (h / 2).min(h.saturating_sub(s)),
                    ),
                }
            }
        };
        self.image = Some(img);
        self.clamp();
    }

    fn clamp(&mut self) {
        let Some(img) = &self.image else { return };
        let s = ROI_SIZE as u32;
        let (mx, my) = (img.width.saturating_sub(s), img.height.saturating_sub(s));
        for b in [&mut self.draft.liver, &mut self.draft.kidney] {
            b.0 = b.0.min(mx);
            b.1 = b.1.min(my);
        }
    }

    /// Means of both boxes and the HI, on the current frame.
    pub fn live(&self) -> Option<Live> {
        let img = self.image.as_ref()?;
        let liver = crop(&img.pixels, img.width, img.height, self.draft.liver).ok()?;
        let kidney = crop(&img.pixels, img.width, img.height, self.draft.kidney).ok()?;
        let mean = |v: &[u8]| v.iter().map(|&p| p as f64).sum::<f64>() / v.len() as f64;
        Some(Live {
            liver_mean: mean(&liver),
            kidney_mean: mean(&kidney),
            hi: hepatorenal_index(&liver, &kidney).ok(),
        })
    }

    fn step(&self) -> i64 {
        (4 / self.zoom.max(1) as i64).max(1)
    }

    fn nudge(&mut self, dx: i64, dy: i64) {
        let b = match self.active {
            Which::Liver => &mut self.draft.liver,
            Which::Kidney => &mut self.draft.kidney,
        };
        b.0 = (b.0 as i64 + dx).max(0) as u32;
        b.1 = (b.1 as i64 + dy).max(0) as u32;
        self.clamp();
    }

    /// Where the last draw put the frame.
    pub fn frame_area(&self) -> Option<Rect> {
        self.view.get().map(|v| v.area)
    }

    /// Moves to frame `index`; the request reads it (see [`Self::on_frame`]).
    fn go(&mut self, index: usize) -> Option<Request> {
        let dir = self.dir.clone()?;
        let file = self.frames.get(index)?.file.clone();
        if index == self.current && self.image.is_some() {
            return None;
        }
        self.current = index;
        self.image = None;
        Some(Request::Frame { dir, index, file })
    }

    /// Every saved frame's boxes, in frame order.
    fn rows(&self) -> Vec<(String, Boxes)> {
        self.frames
            .iter()
            .zip(&self.saved)
            .filter_map(|(f, b)| b.map(|b| (f.file.clone(), b)))
            .collect()
    }

    /// Marks the current frame's boxes saved; the request writes coords.csv (every saved frame).
    pub fn save(&mut self) -> Result<Request, String> {
        let path = self.coords_path().ok_or("no frames folder open")?;
        if self.live().is_none() {
            return Err("no frame to save".into());
        }
        self.saved[self.current] = Some(self.draft);
        Ok(Request::SaveCoords {
            path,
            rows: self.rows(),
        })
    }

    /// Where `r` writes the ROIs: beside the frames folder, `<name>-rois`.
    pub fn rois_dir(&self) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let name = dir.file_name()?.to_string_lossy().into_owned();
        Some(dir.with_file_name(format!("{name}-rois")))
    }

    pub fn on_action(&mut self, a: Action) -> Effect {
        if a == Action::Open {
            let dir = self
                .dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            return Effect::Prompt(PromptKind::OpenFrames, dir);
        }
        if self.frames.is_empty() {
            return Effect::None;
        }
        let s = self.step();
        match a {
            Action::Up => self.nudge(0, -s),
            Action::Down => self.nudge(0, s),
            Action::Left => self.nudge(-s, 0),
            Action::Right => self.nudge(s, 0),
            Action::BoxSwitch => {
                self.active = match self.active {
                    Which::Liver => Which::Kidney,
                    Which::Kidney => Which::Liver,
                }
            }
            Action::More => self.zoom = (self.zoom * 2).min(8),
            Action::Less => self.zoom = (self.zoom / 2).max(1),
            Action::PageDown | Action::PageUp => {
                let i = match a {
                    Action::PageDown => self.current + 1,
                    _ => self.current.saturating_sub(1),
                };
                if let Some(r) = self.go(i) {
                    return Effect::Request(r);
                }
            }
            Action::CopyPrev => match self.current.checked_sub(1).and_then(|i| self.saved[i]) {
                Some(b) => {
                    self.draft = b;
                    self.clamp();
                }
                None => return Effect::Say("the previous frame has no saved boxes".into()),
            },
            Action::Select => {
                let save = match self.save() {
                    Ok(r) => r,
                    Err(e) => {
                        self.error = Some(e.clone());
                        return Effect::Say(e);
                    }
                };
                let next = (self.current + 1..self.frames.len())
                    .chain(0..self.current)
                    .find(|&i| self.saved[i].is_none());
                let then = match next.and_then(|i| self.go(i)) {
                    Some(frame) => Effect::Request(frame),
                    None => Effect::Say(format!(
                        "all {} frames have boxes: r extracts the ROIs",
                        self.frames.len()
                    )),
                };
                return Effect::Many(vec![Effect::Request(save), then]);
            }
            Action::Run => return self.extract(),
            Action::Mouse => {
                self.mouse = !self.mouse;
                return Effect::Say(if self.mouse {
                    "mouse on: click places the active box, right click switches box, wheel zooms; m turns it off".into()
                } else {
                    "mouse off: the terminal selects text again".into()
                });
            }
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    /// A mouse event on the frame: left click or drag centres the active box on the pointer, right
    /// click switches box, the wheel zooms.
    pub fn on_mouse(&mut self, m: MouseEvent) -> Effect {
        let Some(v) = self.view.get() else {
            return Effect::None;
        };
        let inside = m.column >= v.area.x
            && m.column < v.area.x + v.area.width
            && m.row >= v.area.y
            && m.row < v.area.y + v.area.height;
        if !inside || self.image.is_none() {
            return Effect::None;
        }
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) | MouseEventKind::Drag(MouseButton::Left) => {
                let i = (m.column - v.area.x) as f64;
                // The cell's two sub-pixels: aim at its middle.
                let j = 2.0 * (m.row - v.area.y) as f64 + 0.5;
                let x = v.x0 + (i + 0.5) * v.s;
                let y = v.y0 + (j + 0.5) * v.s;
                let half = ROI_SIZE as f64 / 2.0;
                let corner = (
                    (x - half).round().max(0.0) as u32,
                    (y - half).round().max(0.0) as u32,
                );
                match self.active {
                    Which::Liver => self.draft.liver = corner,
                    Which::Kidney => self.draft.kidney = corner,
                }
                self.clamp();
            }
            MouseEventKind::Down(MouseButton::Right) => return self.on_action(Action::BoxSwitch),
            MouseEventKind::ScrollUp => return self.on_action(Action::More),
            MouseEventKind::ScrollDown => return self.on_action(Action::Less),
            _ => return Effect::None,
        }
        Effect::Redraw
    }

    /// Asks for the ROIs to be extracted into [`Self::rois_dir`] (the boxes are saved first, in
    /// the same job); the app then opens them in the Data pane.
    fn extract(&mut self) -> Effect {
        let (Some(dir), Some(out)) = (self.dir.clone(), self.rois_dir()) else {
            return Effect::None;
        };
        let missing = self.frames.len() - self.done();
        if missing > 0 {
            return Effect::Say(format!(
                "{missing} frames still have no saved boxes (enter saves)"
            ));
        }
        self.error = None;
        Effect::Many(vec![
            Effect::Say(format!("extracting the ROIs into {}…", out.display())),
            Effect::Request(Request::Extract {
                dir,
                rows: self.rows(),
                out,
            }),
        ])
    }

    pub fn draw(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx) {
        let (Some(f), Some(img)) = (self.frames.get(self.current), &self.image) else {
            let mut lines = match self.frames.get(self.current) {
                Some(f) if self.error.is_none() => vec![format!("Reading {}…", f.file)],
                Some(_) => Vec::new(),
                None => vec![
                    "No frames folder open.".to_string(),
                    "o opens one: a folder with frames.csv (made by `vqtex import`, or \
                     sample-data/frames)."
                        .to_string(),
                ],
            };
            if let Some(e) = &self.error {
                lines.push(e.clone());
            }
            return placeholder(buf, area, "ROI picker", &lines, ctx);
        };
        let [view, side] = area.layout(&Layout::horizontal([
            Constraint::Min(10),
            Constraint::Length(34),
        ]));
        let title = format!("{} ({}/{})", f.file, self.current + 1, self.frames.len());
        let outer = block(title, ctx, true);
        let inner = outer.inner(view);
        outer.render(view, buf);
        self.draw_frame(inner, buf, ctx, img);
        let sb = block("Boxes", ctx, false);
        let si = sb.inner(side);
        sb.render(side, buf);
        let t = &ctx.theme;
        let live = self.live();
        let fmt =
            |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "-".into());
        let marker = |w: Which| if self.active == w { "▶" } else { " " };
        let status = if self.saved[self.current] == Some(self.draft) {
            "saved"
        } else {
            "not saved"
        };
        let lines = [
            (format!("patient {} · {}", f.patient, f.label), t.title()),
            (
                format!("{} of {} frames saved", self.done(), self.frames.len()),
                t.muted(),
            ),
            (format!("this frame: {status}"), t.muted()),
            (String::new(), Style::default()),
            (
                format!(
                    "{} liver  x {:>3} y {:>3}",
                    marker(Which::Liver),
                    self.draft.liver.0,
                    self.draft.liver.1
                ),
                Style::default().fg(LIVER),
            ),
            (
                format!("   mean {}", fmt(live.map(|l| l.liver_mean), 1)),
                Style::default(),
            ),
            (
                format!(
                    "{} kidney x {:>3} y {:>3}",
                    marker(Which::Kidney),
                    self.draft.kidney.0,
                    self.draft.kidney.1
                ),
                Style::default().fg(KIDNEY),
            ),
            (
                format!("   mean {}", fmt(live.map(|l| l.kidney_mean), 1)),
                Style::default(),
            ),
            (format!("HI {}", fmt(live.and_then(|l| l.hi), 3)), t.title()),
            (format!("zoom {}x", self.zoom), t.muted()),
            (String::new(), Style::default()),
            ("arrows move · b other box".into(), t.muted()),
            ("+/- zoom · pgup/pgdn frame".into(), t.muted()),
            ("enter save, next · y copy prev".into(), t.muted()),
            ("r extract ROIs · o open".into(), t.muted()),
            (
                format!("m mouse ({})", if self.mouse { "on" } else { "off" }),
                t.muted(),
            ),
        ];
        // Wrapped, not cut, whatever the panel's width (an error can be long).
        let mut text: Vec<Line> = lines
            .into_iter()
            .map(|(l, style)| Line::styled(l, style))
            .collect();
        if let Some(e) = &self.error {
            text.push(Line::from(""));
            text.extend(e.lines().map(|l| Line::styled(l.to_string(), t.bad())));
        }
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .render(si, buf);
    }

    /// The frame, scaled to fit (times the zoom, centred on the active box), two pixels a cell.
    fn draw_frame(&self, area: Rect, buf: &mut Buffer, ctx: &Ctx, img: &Frame) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let (w, h) = (img.width as f64, img.height as f64);
        let (cols, subrows) = (area.width as f64, 2.0 * area.height as f64);
        // Frame pixels per sub-pixel (a half cell), the same both ways so boxes stay square.
        let s = (w / cols).max(h / subrows) / self.zoom.max(1) as f64;
        let (vw, vh) = (cols * s, subrows * s);
        let half = ROI_SIZE as f64 / 2.0;
        let focus = match (self.zoom, self.active) {
            (1, _) => (w / 2.0, h / 2.0),
            (_, Which::Liver) => (
                self.draft.liver.0 as f64 + half,
                self.draft.liver.1 as f64 + half,
            ),
            (_, Which::Kidney) => (
                self.draft.kidney.0 as f64 + half,
                self.draft.kidney.1 as f64 + half,
            ),
        };
        let origin = |c: f64, v: f64, full: f64| {
            if v >= full {
                (full - v) / 2.0
            } else {
                (c - v / 2.0).clamp(0.0, full - v)
            }
        };
        let (x0, y0) = (origin(focus.0, vw, w), origin(focus.1, vh, h));
        self.view.set(Some(View { area, x0, y0, s }));
        if self.draw_pixels(area, buf, ctx, img, (x0, y0, s)) {
            return;
        }
        // Box edges in sub-pixel units.
        let edges = |(bx, by): (u32, u32)| {
            let f = |p: f64, o: f64| ((p - o) / s).floor() as i64;
            let last = ROI_SIZE as f64 - 1.0;
            (
                f(bx as f64, x0),
                f(bx as f64 + last, x0),
                f(by as f64, y0),
                f(by as f64 + last, y0),
            )
        };
        let on_edge = |(l, r, t, b): (i64, i64, i64, i64), i: i64, j: i64| {
            ((j == t || j == b) && (l..=r).contains(&i))
                || ((i == l || i == r) && (t..=b).contains(&j))
        };
        let (le, ke) = (edges(self.draft.liver), edges(self.draft.kidney));
        let (lc, kc) = match self.active {
            Which::Liver => (LIVER, INACTIVE_KIDNEY),
            Which::Kidney => (INACTIVE_LIVER, KIDNEY),
        };
        // `None`: outside the frame, drawn as the background.
        let colour = |i: i64, j: i64| -> Option<Color> {
            // The active box is drawn over the other one.
            let (first, second) = match self.active {
                Which::Liver => ((le, lc), (ke, kc)),
                Which::Kidney => ((ke, kc), (le, lc)),
            };
            if on_edge(first.0, i, j) {
                return Some(first.1);
            }
            if on_edge(second.0, i, j) {
                return Some(second.1);
            }
            let px = (x0 + (i as f64 + 0.5) * s).floor();
            let py = (y0 + (j as f64 + 0.5) * s).floor();
            if px < 0.0 || py < 0.0 || px >= w || py >= h {
                return None;
            }
            Some(gray(
                img.pixels[py as usize * img.width as usize + px as usize],
                ctx.mode,
            ))
        };
        for row in 0..area.height {
            for col in 0..area.width {
                let (i, j) = (col as i64, 2 * row as i64);
                let cell = &mut buf[(area.x + col, area.y + row)];
                let (symbol, fg, bg) = match (colour(i, j), colour(i, j + 1)) {
                    (Some(up), Some(down)) => ("▀", up, down),
                    (Some(up), None) => ("▀", up, Color::Reset),
                    (None, Some(down)) => ("▄", down, Color::Reset),
                    (None, None) => (" ", Color::Reset, Color::Reset),
                };
                cell.set_symbol(symbol).set_fg(fg).set_bg(bg);
            }
        }
    }
}

impl PickerPane {
    /// The frame and its boxes as kitty or sixel pixels over `area` (the view `x0, y0, s` of
    /// [`Self::draw_frame`]); false in half-block mode.
    fn draw_pixels(
        &self,
        area: Rect,
        buf: &mut Buffer,
        ctx: &Ctx,
        img: &Frame,
        (x0, y0, s): (f64, f64, f64),
    ) -> bool {
        if ctx.graphics == Graphics::HalfBlocks {
            return false;
        }
        // About one image pixel a frame pixel (kitty scales it to the area), at most 8 a
        // sub-pixel; sixel draws at the cell size.
        let per = s.ceil().clamp(1.0, 8.0) as usize;
        let (pw, ph) = graphics::pixel_size(ctx.graphics, area.width, area.height, per);
        if pw * ph > 4_000_000 {
            return false;
        }
        // Frame pixels per image pixel, across and down.
        let sx = area.width as f64 * s / pw as f64;
        let sy = 2.0 * area.height as f64 * s / ph as f64;
        let thick = (pw / area.width.max(1) as usize / 4).max(1) as i64;
        let rgb_of = |c: Color| match c {
            LIVER => [95, 255, 95],
            KIDNEY => [255, 95, 95],
            INACTIVE_LIVER => [0, 175, 0],
            _ => [175, 0, 0],
        };
        let edges = |(bx, by): (u32, u32)| {
            let last = ROI_SIZE as f64 - 1.0;
            let f = |p: f64, o: f64, st: f64| ((p - o) / st).floor() as i64;
            (
                f(bx as f64, x0, sx),
                f(bx as f64 + last, x0, sx) + thick - 1,
                f(by as f64, y0, sy),
                f(by as f64 + last, y0, sy) + thick - 1,
            )
        };
        let on_edge = |(l, r, t, b): (i64, i64, i64, i64), i: i64, j: i64| {
            let near = |v: i64, e: i64| v >= e && v < e + thick;
            ((near(j, t) || near(j, b + 1 - thick)) && (l..=r).contains(&i))
                || ((near(i, l) || near(i, r + 1 - thick)) && (t..=b).contains(&j))
        };
        let (le, ke) = (edges(self.draft.liver), edges(self.draft.kidney));
        let ((first, fc), (second, sc)) = match self.active {
            Which::Liver => ((le, LIVER), (ke, INACTIVE_KIDNEY)),
            Which::Kidney => ((ke, KIDNEY), (le, INACTIVE_LIVER)),
        };
        let (w, h) = (img.width as f64, img.height as f64);
        let mut data = Vec::with_capacity(pw * ph * 3);
        for j in 0..ph as i64 {
            let py = (y0 + (j as f64 + 0.5) * sy).floor();
            for i in 0..pw as i64 {
                let px = (x0 + (i as f64 + 0.5) * sx).floor();
                let c = if on_edge(first, i, j) {
                    rgb_of(fc)
                } else if on_edge(second, i, j) {
                    rgb_of(sc)
                } else if px < 0.0 || py < 0.0 || px >= w || py >= h {
                    [0, 0, 0]
                } else {
                    let v = img.pixels[py as usize * img.width as usize + px as usize];
                    [v, v, v]
                };
                data.extend_from_slice(&c);
            }
        }
        let rgb = Rgb {
            width: pw,
            height: ph,
            data,
        };
        graphics::draw_image(buf, area, &rgb, ctx.graphics, graphics::PICKER_FRAME)
    }
}

#[cfg(test)]
mod tests;

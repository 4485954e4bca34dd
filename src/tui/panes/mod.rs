//! The seven panes. Each holds plain data (no model), reacts to actions with an [`Effect`] the app
//! carries out, and draws itself into a buffer.

pub mod classify;
pub mod compare;
pub mod data;
pub mod form;
pub mod latent;
pub mod picker;
pub mod recon;
pub mod runs;
pub mod train;

use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use super::jobs::Request;
use super::theme::Theme;
use super::widgets::graphics::Graphics;
use super::widgets::image::GrayMode;

/// What drawing needs besides the pane's own state.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub theme: Theme,
    pub mode: GrayMode,
    /// Kitty or sixel pixels for the large images, or half-blocks.
    pub graphics: Graphics,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx {
            theme: Theme::default(),
            mode: GrayMode::TrueColor,
            graphics: Graphics::HalfBlocks,
        }
    }
}

/// What to ask of the user.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    JumpPatient,
    OpenDataset,
    /// A frames folder for the ROI picker.
    OpenFrames,
    /// Edit field `n` of the training form.
    Field(usize),
}

/// Questions that need a yes/no.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmKind {
    StopTraining,
    DeleteRun(PathBuf),
    /// Quit while a training runs: stop it, or keep it going.
    QuitWhileTraining,
}

/// Training controls the Train pane asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainOp {
    Start,
    PauseResume,
}

/// What a pane wants done after an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing changed.
    None,
    /// The pane changed: redraw.
    Redraw,
    Request(Request),
    /// Several effects, in this order.
    Many(Vec<Effect>),
    Prompt(PromptKind, String),
    Confirm(ConfirmKind),
    Train(TrainOp),
    OpenRun(PathBuf),
    /// A message for the status bar.
    Say(String),
}

/// A bordered block with the theme's colours: every pane's blocks and titles look alike. Without
/// colour a focused block has a thick border instead of a coloured one.
pub fn block<'a>(title: impl Into<Line<'a>>, ctx: &Ctx, focus: bool) -> Block<'a> {
    let kind = if focus && ctx.theme.plain {
        BorderType::Thick
    } else {
        BorderType::Plain
    };
    Block::bordered()
        .border_type(kind)
        .title(title)
        .border_style(ctx.theme.border(focus))
        .title_style(ctx.theme.block_title(focus))
}

/// The first of `titles` (longest first) that fits in `width` columns, else the last: a title is
/// shortened where it matters least, not cut at the block's corner.
pub fn fit_title(titles: &[String], width: u16) -> String {
    titles
        .iter()
        .find(|t| t.chars().count() <= width as usize)
        .or(titles.last())
        .cloned()
        .unwrap_or_default()
}

/// Centered, wrapped text in a block: for "nothing here yet" and errors.
pub fn placeholder(buf: &mut Buffer, area: Rect, title: &str, lines: &[String], ctx: &Ctx) {
    let text: Vec<Line> = lines.iter().map(|l| Line::from(l.clone())).collect();
    Paragraph::new(text)
        .style(ctx.theme.muted())
        .wrap(Wrap { trim: true })
        .block(block(title.to_string(), ctx, false))
        .render(area, buf);
}

/// Writes `text` at (x, y), clipped to `area`.
pub fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: &str, style: ratatui::style::Style) {
    if y >= area.y + area.height || x >= area.x + area.width {
        return;
    }
    let max = (area.x + area.width - x) as usize;
    buf.set_stringn(x, y, text, max, style);
}

/// A step through `0..len` that wraps around.
pub fn wrap_step(i: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    (i as isize + delta).rem_euclid(len as isize) as usize
}

/// A step through `0..len` that stops at the ends.
pub fn clamp_step(i: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    (i as isize + delta).clamp(0, len as isize - 1) as usize
}

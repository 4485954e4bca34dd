//! Screenshots of the workbench as PNG files, rendered by the project itself so the README's
//! picture and the docs stay current (`scripts/screenshots.sh`).
//!
//! Each pane is drawn into a ratatui `TestBackend` from the fixed state of `vqtex bench --tui`
//! (sample data, a run 12 epochs into training, results in every pane), and the buffer becomes
//! an image: every cell a box of [`CELL`] pixels, its background filled and its symbol drawn in
//! its foreground (see [`glyphs`]). The same inputs give the same PNG bytes.

mod glyphs;

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use ab_glyph::FontRef;
use anyhow::{bail, ensure, Context, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, RgbImage};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

pub use glyphs::CellSize;

use super::app::Pane;

/// The pixel size of a cell in the screenshots.
pub const CELL: CellSize = CellSize {
    width: 8,
    height: 16,
};

/// What `Color::Reset` stands for: a dark terminal's default background and foreground (the
/// dark theme's foreground).
pub const DEFAULT_BG: [u8; 3] = [0x12, 0x12, 0x12];
pub const DEFAULT_FG: [u8; 3] = [0xd0, 0xd0, 0xd0];

/// The largest screenshot, in cells.
pub const MAX_WIDTH: u16 = 400;
pub const MAX_HEIGHT: u16 = 150;

/// xterm's 16 basic colours.
const BASIC: [[u8; 3]; 16] = [
    [0x00, 0x00, 0x00],
    [0xcd, 0x00, 0x00],
    [0x00, 0xcd, 0x00],
    [0xcd, 0xcd, 0x00],
    [0x00, 0x00, 0xee],
    [0xcd, 0x00, 0xcd],
    [0x00, 0xcd, 0xcd],
    [0xe5, 0xe5, 0xe5],
    [0x7f, 0x7f, 0x7f],
    [0xff, 0x00, 0x00],
    [0x00, 0xff, 0x00],
    [0xff, 0xff, 0x00],
    [0x5c, 0x5c, 0xff],
    [0xff, 0x00, 0xff],
    [0x00, 0xff, 0xff],
    [0xff, 0xff, 0xff],
];

/// A 256-colour palette entry as xterm draws it: 16 basic colours, a 6x6x6 cube, 24 greys.
pub fn indexed_rgb(i: u8) -> [u8; 3] {
    const LEVELS: [u8; 6] = [0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff];
    match i {
        0..=15 => BASIC[i as usize],
        16..=231 => {
            let k = (i - 16) as usize;
            [LEVELS[k / 36], LEVELS[k / 6 % 6], LEVELS[k % 6]]
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            [v, v, v]
        }
    }
}

/// The RGB a colour is drawn in; `Reset` is `default`.
pub fn color_rgb(c: Color, default: [u8; 3]) -> [u8; 3] {
    let basic = |i: u8| BASIC[i as usize];
    match c {
        Color::Reset => default,
        Color::Black => basic(0),
        Color::Red => basic(1),
        Color::Green => basic(2),
        Color::Yellow => basic(3),
        Color::Blue => basic(4),
        Color::Magenta => basic(5),
        Color::Cyan => basic(6),
        Color::Gray => basic(7),
        Color::DarkGray => basic(8),
        Color::LightRed => basic(9),
        Color::LightGreen => basic(10),
        Color::LightYellow => basic(11),
        Color::LightBlue => basic(12),
        Color::LightMagenta => basic(13),
        Color::LightCyan => basic(14),
        Color::White => basic(15),
        Color::Rgb(r, g, b) => [r, g, b],
        Color::Indexed(i) => indexed_rgb(i),
    }
}

/// `a` over `b` at coverage `t` (0..=255), rounded.
fn blend(fg: [u8; 3], bg: [u8; 3], t: u8) -> [u8; 3] {
    let t = t as u32;
    let mix = |f: u8, b: u8| ((f as u32 * t + b as u32 * (255 - t) + 127) / 255) as u8;
    [mix(fg[0], bg[0]), mix(fg[1], bg[1]), mix(fg[2], bg[2])]
}

/// The bundled font (the one the figures use).
fn font() -> Result<FontRef<'static>> {
    FontRef::try_from_slice(crate::eval::figures::FONT_BYTES)
        .context("the bundled font does not parse")
}

/// The buffer as an image, each cell `cell` pixels.
pub fn render(buf: &Buffer, cell: CellSize) -> Result<RgbImage> {
    ensure!(
        cell.width >= 2 && cell.height >= 2,
        "a cell must be at least 2x2 pixels"
    );
    let area = buf.area;
    let (cw, ch) = (cell.width, cell.height);
    let mut img = RgbImage::new(area.width as u32 * cw, area.height as u32 * ch);
    let glyphs = glyphs::Glyphs::new(cell, font()?);
    let mut masks: HashMap<(String, bool), glyphs::Mask> = HashMap::new();
    for y in 0..area.height {
        for x in 0..area.width {
            let Some(c) = buf.cell((area.x + x, area.y + y)) else {
                continue;
            };
            let mut fg = color_rgb(c.fg, DEFAULT_FG);
            let mut bg = color_rgb(c.bg, DEFAULT_BG);
            if c.modifier.contains(Modifier::REVERSED) {
                std::mem::swap(&mut fg, &mut bg);
            }
            if c.modifier.contains(Modifier::DIM) {
                fg = blend(fg, bg, 160);
            }
            let bold = c.modifier.contains(Modifier::BOLD);
            let symbol = c.symbol();
            let hidden = c.modifier.contains(Modifier::HIDDEN);
            let mask = match hidden {
                true => None,
                false => Some(
                    &*masks
                        .entry((symbol.to_string(), bold))
                        .or_insert_with(|| glyphs.mask(symbol, bold)),
                ),
            };
            let (x0, y0) = (x as u32 * cw, y as u32 * ch);
            for py in 0..ch {
                let line = (c.modifier.contains(Modifier::UNDERLINED) && py == ch - 2)
                    || (c.modifier.contains(Modifier::CROSSED_OUT) && py == ch / 2);
                for px in 0..cw {
                    let t = match mask {
                        _ if line => 255,
                        Some(m) => m[(py * cw + px) as usize],
                        None => 0,
                    };
                    img.put_pixel(x0 + px, y0 + py, image::Rgb(blend(fg, bg, t)));
                }
            }
        }
    }
    Ok(img)
}

/// Writes `img` as a PNG at `path` (best compression; flat colours compress well).
pub fn write_png(img: &RgbImage, path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let encoder = PngEncoder::new_with_quality(
        BufWriter::new(file),
        CompressionType::Best,
        FilterType::Adaptive,
    );
    encoder
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct ShotOptions {
    /// The panes to draw, in this order.
    pub panes: Vec<Pane>,
    /// Terminal size in cells.
    pub width: u16,
    pub height: u16,
    /// Folder for the PNGs (created if missing).
    pub out: PathBuf,
    /// ROI folder the panes show (default: the sample data).
    pub data: Option<PathBuf>,
}

/// The panes a `--pane` value names: `all`, a pane's name (any case) or its number, 1 to 8.
pub fn parse_panes(s: &str) -> Result<Vec<Pane>> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("all") {
        return Ok(Pane::ALL.to_vec());
    }
    if let Some(p) = Pane::ALL
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(s))
    {
        return Ok(vec![p]);
    }
    let number = s.parse::<usize>().ok().and_then(|n| n.checked_sub(1));
    match number.and_then(Pane::from_index) {
        Some(p) => Ok(vec![p]),
        None => {
            let names: Vec<&str> = Pane::ALL.iter().map(|p| p.name()).collect();
            bail!(
                "'{s}' is not a pane: use all, 1 to {}, or one of {}",
                Pane::ALL.len(),
                names.join(", ").to_lowercase()
            )
        }
    }
}

/// The file a pane's screenshot goes to: `<pane>-<W>x<H>.png`.
pub fn file_name(pane: Pane, width: u16, height: u16) -> String {
    let name = pane.name().to_lowercase();
    format!("{name}-{width}x{height}.png")
}

/// Draws each pane at the given size into `out/<pane>-<W>x<H>.png`; returns the files written.
pub fn screenshots(opts: &ShotOptions) -> Result<Vec<PathBuf>> {
    let (w, h) = (opts.width, opts.height);
    ensure!(
        (super::ui::MIN_WIDTH..=MAX_WIDTH).contains(&w)
            && (super::ui::MIN_HEIGHT..=MAX_HEIGHT).contains(&h),
        "{w}x{h}: screenshots are {}x{} to {MAX_WIDTH}x{MAX_HEIGHT} cells",
        super::ui::MIN_WIDTH,
        super::ui::MIN_HEIGHT
    );
    let (mut app, _rx) = super::fixture::fixed_app(opts.data.clone())?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let mut written = Vec::new();
    for &pane in &opts.panes {
        app.pane = pane;
        let mut term = Terminal::new(TestBackend::new(w, h))?;
        term.draw(|f| f.render_widget(&app, f.area()))?;
        let img = render(term.backend().buffer(), CELL)?;
        let path = opts.out.join(file_name(pane, w, h));
        write_png(&img, &path)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;

//! Grayscale images drawn with the upper half block: one cell holds two pixels, the upper one as
//! the foreground colour of '▀' and the lower one as the background.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

/// How gray levels reach the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrayMode {
    /// 24-bit `Rgb(v, v, v)`.
    TrueColor,
    /// The 24-step gray ramp of the 256-colour palette (indices 232..=255).
    Ansi256,
}

impl GrayMode {
    /// Truecolor when `COLORTERM` says `truecolor` or `24bit`, else the 256-colour ramp.
    pub fn detect() -> GrayMode {
        Self::from_colorterm(std::env::var("COLORTERM").ok().as_deref())
    }

    pub fn from_colorterm(value: Option<&str>) -> GrayMode {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "truecolor" || v == "24bit" => GrayMode::TrueColor,
            _ => GrayMode::Ansi256,
        }
    }
}

/// Index 232..=255 of the xterm gray ramp nearest to `v` (level i has the value 8 + 10 i).
pub fn gray_ramp_index(v: u8) -> u8 {
    let i = ((v as f64 - 8.0) / 10.0).round().clamp(0.0, 23.0) as u8;
    232 + i
}

/// Gray levels of the truecolor path: 64, evenly spaced from 0 to 255 (a step of about 4).
pub const TRUECOLOR_LEVELS: u16 = 64;

/// `v` rounded to the nearest of [`TRUECOLOR_LEVELS`] levels (0 and 255 stay). A step of 4 out of
/// 255 cannot be seen in a half-block thumbnail, but it spares rewriting the cells whose pixels
/// barely moved between two frames (the reconstructions refreshed every epoch).
pub fn quantise_gray(v: u8) -> u8 {
    let top = TRUECOLOR_LEVELS - 1;
    let level = (v as u16 * top + 127) / 255;
    ((level * 255 + top / 2) / top) as u8
}

/// The terminal colour of a gray level: quantised truecolor, or the 256-colour ramp.
pub fn gray(v: u8, mode: GrayMode) -> Color {
    match mode {
        GrayMode::TrueColor => {
            let q = quantise_gray(v);
            Color::Rgb(q, q, q)
        }
        GrayMode::Ansi256 => Color::Indexed(gray_ramp_index(v)),
    }
}

/// A float in [0, 1] as an 8-bit level (clamped, rounded).
pub fn unit_to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// A grayscale image, row-major 8-bit pixels.
#[derive(Debug, Clone, Copy)]
pub struct GrayImage<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub mode: GrayMode,
}

impl<'a> GrayImage<'a> {
    pub fn new(pixels: &'a [u8], width: usize, height: usize, mode: GrayMode) -> GrayImage<'a> {
        debug_assert_eq!(pixels.len(), width * height);
        GrayImage {
            pixels,
            width,
            height,
            mode,
        }
    }

    /// Cells (columns, rows) the image takes at integer zoom `z` (z pixels per pixel).
    pub fn zoomed_size(&self, z: u16) -> (u16, u16) {
        let z = z.max(1) as usize;
        (
            (self.width * z).min(u16::MAX as usize) as u16,
            (self.height * z).div_ceil(2).min(u16::MAX as usize) as u16,
        )
    }

    /// Pixel at image coordinates, nearest neighbour from a `cols x (2 rows)` pixel grid.
    fn sample(&self, x: usize, y: usize, cols: usize, prows: usize) -> u8 {
        let sx = (x * self.width / cols.max(1)).min(self.width.saturating_sub(1));
        let sy = (y * self.height / prows.max(1)).min(self.height.saturating_sub(1));
        self.pixels.get(sy * self.width + sx).copied().unwrap_or(0)
    }
}

impl Widget for GrayImage<'_> {
    /// Scales the image (nearest neighbour) to fill `area`: `area.width` pixels across and
    /// `2 * area.height` down. Callers pick an area of the right aspect (see `zoomed_size`).
    fn render(self, area: Rect, buf: &mut Buffer) {
        if self.width == 0 || self.height == 0 || area.is_empty() {
            return;
        }
        let cols = area.width as usize;
        let prows = area.height as usize * 2;
        for row in 0..area.height {
            for col in 0..area.width {
                let x = col as usize;
                let up = self.sample(x, row as usize * 2, cols, prows);
                let down = self.sample(x, row as usize * 2 + 1, cols, prows);
                if let Some(cell) = buf.cell_mut((area.x + col, area.y + row)) {
                    cell.set_char('▀')
                        .set_fg(gray(up, self.mode))
                        .set_bg(gray(down, self.mode));
                }
            }
        }
    }
}

/// Cells (columns, rows) of a 28x28 ROI at zoom `z`: `28 z` by `14 z`, or 14 by 7 for `z == 0`
/// (half size).
pub fn roi_cells(z: u16) -> (u16, u16) {
    let side = crate::data::ROI_SIZE as u16;
    if z == 0 {
        (side / 2, side / 4)
    } else {
        (side * z, side / 2 * z)
    }
}

/// The largest zoom, from `max_zoom` down to 1 and then half size (0), at which `cols` x `rows`
/// ROIs fit in `avail` (columns, rows), each taking `pad` more cells (gaps, captions) and the
/// grid `fixed` more (labels); `None` when not even half size fits.
pub fn fit_zoom(
    avail: (u16, u16),
    (cols, rows): (u16, u16),
    pad: (u16, u16),
    fixed: (u16, u16),
    max_zoom: u16,
) -> Option<u16> {
    (1..=max_zoom.max(1)).rev().chain([0]).find(|&z| {
        let (w, h) = roi_cells(z);
        let need_w = cols as u32 * (w + pad.0) as u32 + fixed.0 as u32;
        let need_h = rows as u32 * (h + pad.1) as u32 + fixed.1 as u32;
        need_w <= avail.0 as u32 && need_h <= avail.1 as u32
    })
}

/// Draws a 28x28 image of floats in [0, 1] at the top-left of `area`, at integer zoom `z`
/// (or half size with `z == 0`: 14 columns by 7 rows), clipped to the area.
pub fn draw_unit_image(buf: &mut Buffer, area: Rect, pixels: &[f32], z: u16, mode: GrayMode) {
    let bytes: Vec<u8> = pixels.iter().map(|&v| unit_to_u8(v)).collect();
    draw_roi(buf, area, &bytes, z, mode);
}

/// Draws a 28x28 8-bit ROI at the top-left of `area` at zoom `z` (0 = half size), clipped.
pub fn draw_roi(buf: &mut Buffer, area: Rect, pixels: &[u8], z: u16, mode: GrayMode) {
    let side = crate::data::ROI_SIZE;
    if pixels.len() != side * side {
        return;
    }
    let img = GrayImage::new(pixels, side, side, mode);
    let (w, h) = if z == 0 {
        (side as u16 / 2, side as u16 / 4)
    } else {
        img.zoomed_size(z)
    };
    let target = Rect::new(area.x, area.y, w.min(area.width), h.min(area.height));
    // Keep the scale when clipped: render the full size into a scratch buffer and copy.
    if target.width == w && target.height == h {
        img.render(target, buf);
    } else {
        let mut scratch = Buffer::empty(Rect::new(0, 0, w, h));
        img.render(scratch.area, &mut scratch);
        for y in 0..target.height {
            for x in 0..target.width {
                if let (Some(src), Some(dst)) = (
                    scratch.cell((x, y)).cloned(),
                    buf.cell_mut((target.x + x, target.y + y)),
                ) {
                    *dst = src;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_ramp_quantisation() {
        assert_eq!(gray_ramp_index(0), 232);
        assert_eq!(gray_ramp_index(8), 232);
        assert_eq!(gray_ramp_index(128), 244);
        assert_eq!(gray_ramp_index(238), 255);
        assert_eq!(gray_ramp_index(255), 255);
        assert_eq!(gray_ramp_index(12), 232);
        assert_eq!(gray_ramp_index(14), 233);
        assert_eq!(gray(77, GrayMode::TrueColor), Color::Rgb(77, 77, 77));
        assert_eq!(gray(78, GrayMode::TrueColor), Color::Rgb(77, 77, 77));
        assert_eq!(gray(79, GrayMode::TrueColor), Color::Rgb(81, 81, 81));
        assert_eq!(gray(77, GrayMode::Ansi256), Color::Indexed(239));
        assert_eq!(unit_to_u8(1.5), 255);
        assert_eq!(unit_to_u8(-0.1), 0);
        assert_eq!(unit_to_u8(0.5), 128);
        assert_eq!(unit_to_u8(f32::NAN), 0);
    }

    #[test]
    fn truecolor_quantisation_has_64_levels() {
        let levels: std::collections::BTreeSet<u8> = (0..=255u8).map(quantise_gray).collect();
        assert_eq!(levels.len(), TRUECOLOR_LEVELS as usize);
        assert_eq!(quantise_gray(0), 0);
        assert_eq!(quantise_gray(1), 0);
        assert_eq!(quantise_gray(255), 255);
        assert_eq!(quantise_gray(254), 255);
        for v in 0..=255u8 {
            let q = quantise_gray(v);
            assert!(q.abs_diff(v) <= 2, "{v} -> {q}");
            assert_eq!(quantise_gray(q), q, "levels are fixed points");
        }
        let mut prev = 0;
        for v in 0..=255u8 {
            assert!(quantise_gray(v) >= prev, "monotonic");
            prev = quantise_gray(v);
        }
    }

    #[test]
    fn colorterm_detection() {
        assert_eq!(
            GrayMode::from_colorterm(Some("truecolor")),
            GrayMode::TrueColor
        );
        assert_eq!(GrayMode::from_colorterm(Some("24bit")), GrayMode::TrueColor);
        assert_eq!(GrayMode::from_colorterm(Some("")), GrayMode::Ansi256);
        assert_eq!(GrayMode::from_colorterm(None), GrayMode::Ansi256);
    }

    #[test]
    fn half_blocks_carry_upper_and_lower_pixels() {
        // 2x4 image: rows 0..4 of levels 10, 20, 30, 40 (left) and 200.. (right).
        let px = [10u8, 200, 20, 210, 30, 220, 40, 230];
        let img = GrayImage::new(&px, 2, 4, GrayMode::TrueColor);
        let area = Rect::new(0, 0, 2, 2);
        let mut buf = Buffer::empty(area);
        img.render(area, &mut buf);
        let c = &buf[(0, 0)];
        assert_eq!(c.symbol(), "▀");
        // Truecolor greys are quantised to 64 levels: 10 -> 8, 20 -> 20, 220 -> 219, 230 -> 231.
        assert_eq!(c.fg, Color::Rgb(8, 8, 8));
        assert_eq!(c.bg, Color::Rgb(20, 20, 20));
        assert_eq!(buf[(1, 1)].fg, Color::Rgb(219, 219, 219));
        assert_eq!(buf[(1, 1)].bg, Color::Rgb(231, 231, 231));
    }

    #[test]
    fn the_largest_whole_zoom_that_fits() {
        assert_eq!(roi_cells(0), (14, 7));
        assert_eq!(roi_cells(3), (84, 42));
        // One ROI, with a caption row: 3x needs 84 x 43.
        assert_eq!(fit_zoom((84, 43), (1, 1), (0, 1), (0, 0), 3), Some(3));
        assert_eq!(fit_zoom((84, 42), (1, 1), (0, 1), (0, 0), 3), Some(2));
        assert_eq!(fit_zoom((84, 43), (1, 1), (0, 1), (0, 0), 2), Some(2));
        // Four pairs side by side, a gap after each image.
        assert_eq!(fit_zoom((196, 40), (8, 1), (1, 2), (0, 0), 3), Some(0));
        assert_eq!(fit_zoom((232, 40), (8, 1), (1, 2), (0, 0), 3), Some(1));
        assert_eq!(fit_zoom((10, 40), (1, 1), (0, 0), (0, 0), 3), None);
    }

    #[test]
    fn nearest_neighbour_upscale() {
        let px = [0u8, 255, 255, 0];
        let img = GrayImage::new(&px, 2, 2, GrayMode::Ansi256);
        assert_eq!(img.zoomed_size(3), (6, 3));
        let area = Rect::new(0, 0, 6, 3);
        let mut buf = Buffer::empty(area);
        img.render(area, &mut buf);
        // Pixel rows 0..6 map to source rows 0,0,0,1,1,1: cell row 1 has upper row 2 (src 0) and
        // lower row 3 (src 1).
        assert_eq!(buf[(0, 1)].fg, Color::Indexed(232));
        assert_eq!(buf[(0, 1)].bg, Color::Indexed(255));
        assert_eq!(buf[(5, 0)].fg, Color::Indexed(255));
    }
}

//! A confusion matrix as a coloured heatmap with the counts written in each cell.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::Widget;

use super::image::GrayMode;

/// Linear interpolation between two colours; non-RGB ends fall back to `low` below half, `high`
/// above. In 256-colour mode the result is quantised to the 6x6x6 colour cube.
pub fn lerp_color(low: Color, high: Color, t: f64, mode: GrayMode) -> Color {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    match (low, high) {
        (Color::Rgb(r0, g0, b0), Color::Rgb(r1, g1, b1)) => {
            let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
            let (r, g, b) = (mix(r0, r1), mix(g0, g1), mix(b0, b1));
            match mode {
                GrayMode::TrueColor => Color::Rgb(r, g, b),
                GrayMode::Ansi256 => Color::Indexed(cube_index(r, g, b)),
            }
        }
        _ if t < 0.5 => low,
        _ => high,
    }
}

/// Index of the nearest colour of the xterm 6x6x6 cube (16..=231).
pub fn cube_index(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let q = |v: u8| {
        (0..6)
            .min_by_key(|&i| (LEVELS[i] as i32 - v as i32).abs())
            .unwrap_or(0) as u8
    };
    16 + 36 * q(r) + 6 * q(g) + q(b)
}

/// The RGB value of a colour the workbench draws (truecolor, or the xterm cube and gray ramp);
/// `None` for the 16 named colours, whose values depend on the terminal's palette.
pub fn rgb_of(c: Color) -> Option<(u8, u8, u8)> {
    match c {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Indexed(i) if (16..=231).contains(&i) => {
            let i = i - 16;
            let lv = |v: u8| [0u8, 95, 135, 175, 215, 255][v as usize];
            Some((lv(i / 36), lv((i / 6) % 6), lv(i % 6)))
        }
        Color::Indexed(i) if i >= 232 => {
            let v = 8 + 10 * (i - 232);
            Some((v, v, v))
        }
        _ => None,
    }
}

/// WCAG relative luminance in [0, 1].
pub fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let lin = |v: u8| {
        let c = v as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// Black or white text, whichever contrasts more with `bg`, as exact colours of the mode (the
/// named Black and White are the palette's, often two greys: grey on khaki in 256 colours).
pub fn text_on(bg: Color, mode: GrayMode) -> Color {
    let lum = rgb_of(bg).map(luminance).unwrap_or(0.0);
    // Contrast with black (lum + 0.05) / 0.05 against white 1.05 / (lum + 0.05): equal at 0.179.
    let dark_text = lum > 0.179;
    match (mode, dark_text) {
        (GrayMode::TrueColor, true) => Color::Rgb(0, 0, 0),
        (GrayMode::TrueColor, false) => Color::Rgb(255, 255, 255),
        (GrayMode::Ansi256, true) => Color::Indexed(16),
        (GrayMode::Ansi256, false) => Color::Indexed(231),
    }
}

/// A 2x2 (or any) matrix of counts; rows are the true class, columns the predicted one.
pub struct Heatmap<'a> {
    pub counts: &'a [[usize; 2]; 2],
    pub row_labels: [&'a str; 2],
    pub col_labels: [&'a str; 2],
    pub low: Color,
    pub high: Color,
    pub label_style: Style,
    pub mode: GrayMode,
}

impl Heatmap<'_> {
    /// Colour of a count relative to the largest one.
    pub fn color_of(&self, count: usize) -> Color {
        let max = self.counts.iter().flatten().copied().max().unwrap_or(0);
        let t = if max == 0 {
            0.0
        } else {
            count as f64 / max as f64
        };
        lerp_color(self.low, self.high, t, self.mode)
    }

    /// Where cell (row, col) is drawn inside `area` (label column of 10, header row of 1).
    pub fn cell_rect(area: Rect, row: usize, col: usize) -> Rect {
        let label_w = 10u16.min(area.width);
        let cw = (area.width.saturating_sub(label_w)) / 2;
        let ch = (area.height.saturating_sub(1)) / 2;
        Rect::new(
            area.x + label_w + cw * col as u16,
            area.y + 1 + ch * row as u16,
            cw,
            ch,
        )
    }
}

impl Widget for Heatmap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 14 || area.height < 3 {
            return;
        }
        for (c, label) in self.col_labels.iter().enumerate() {
            let r = Self::cell_rect(area, 0, c);
            let text: String = label.chars().take(r.width as usize).collect();
            let x = r.x + (r.width.saturating_sub(text.chars().count() as u16)) / 2;
            buf.set_string(x, area.y, text, self.label_style);
        }
        for (row, counts) in self.counts.iter().enumerate() {
            let r0 = Self::cell_rect(area, row, 0);
            let label: String = self.row_labels[row].chars().take(9).collect();
            buf.set_string(area.x, r0.y + r0.height / 2, label, self.label_style);
            for (col, &n) in counts.iter().enumerate() {
                let r = Self::cell_rect(area, row, col);
                let bg = self.color_of(n);
                buf.set_style(r, Style::default().bg(bg).fg(text_on(bg, self.mode)));
                for y in r.y..r.y + r.height {
                    for x in r.x..r.x + r.width {
                        if let Some(cell) = buf.cell_mut((x, y)) {
                            cell.set_char(' ');
                        }
                    }
                }
                let text = n.to_string();
                let x = r.x + r.width.saturating_sub(text.len() as u16) / 2;
                buf.set_string(
                    x,
                    r.y + r.height / 2,
                    text,
                    Style::default().bg(bg).fg(text_on(bg, self.mode)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::Theme;

    #[test]
    fn colours_scale_with_counts() {
        let low = Color::Rgb(0, 0, 0);
        let high = Color::Rgb(200, 100, 0);
        assert_eq!(
            lerp_color(low, high, 0.5, GrayMode::TrueColor),
            Color::Rgb(100, 50, 0)
        );
        assert_eq!(lerp_color(low, high, 2.0, GrayMode::TrueColor), high);
        assert_eq!(cube_index(0, 0, 0), 16);
        assert_eq!(cube_index(255, 255, 255), 231);
        assert_eq!(cube_index(255, 0, 0), 196);
        assert_eq!(
            lerp_color(low, high, 1.0, GrayMode::Ansi256),
            Color::Indexed(16 + 36 * 4 + 6)
        );
        assert_eq!(
            lerp_color(Color::Blue, Color::Red, 0.7, GrayMode::TrueColor),
            Color::Red
        );
    }

    #[test]
    fn heatmap_cells_have_count_colours() {
        let counts = [[2, 8], [1, 19]];
        let hm = Heatmap {
            counts: &counts,
            row_labels: ["healthy", "steatosis"],
            col_labels: ["healthy", "steatosis"],
            low: Color::Rgb(0, 0, 0),
            high: Color::Rgb(190, 190, 0),
            label_style: Style::default(),
            mode: GrayMode::TrueColor,
        };
        let area = Rect::new(0, 0, 30, 7);
        let mut buf = Buffer::empty(area);
        hm.render(area, &mut buf);
        let r = Heatmap::cell_rect(area, 1, 1);
        let cell = &buf[(r.x, r.y)];
        assert_eq!(cell.bg, Color::Rgb(190, 190, 0));
        let r = Heatmap::cell_rect(area, 1, 0);
        assert_eq!(buf[(r.x, r.y)].bg, Color::Rgb(10, 10, 0));
        let row: String = (0..30)
            .map(|x| buf[(x, r.y + r.height / 2)].symbol().to_string())
            .collect();
        assert!(row.contains("19") && row.contains('1'), "{row}");
    }

    #[test]
    fn numbers_are_exact_black_or_white_by_the_cell_luminance_in_every_mode() {
        let contrast = |a: Color, b: Color| {
            let (la, lb) = (luminance(rgb_of(a).unwrap()), luminance(rgb_of(b).unwrap()));
            (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
        };
        for (name, _) in crate::tui::theme::PRESETS {
            let t = crate::tui::theme::Theme::preset(name).unwrap();
            for mode in [GrayMode::TrueColor, GrayMode::Ansi256] {
                // Every count from 0 to the largest: every shade of the theme's scale.
                let counts = [[0, 7], [13, 20]];
                let hm = Heatmap {
                    counts: &counts,
                    row_labels: ["healthy", "steatosis"],
                    col_labels: ["healthy", "steatosis"],
                    low: t.heat_low,
                    high: t.heat_high,
                    label_style: Style::default(),
                    mode,
                };
                let area = Rect::new(0, 0, 30, 7);
                let mut buf = Buffer::empty(area);
                hm.render(area, &mut buf);
                for (row, col) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let r = Heatmap::cell_rect(area, row, col);
                    let y = r.y + r.height / 2;
                    let x = (r.x..r.x + r.width)
                        .find(|&x| buf[(x, y)].symbol() != " ")
                        .expect("a number");
                    let cell = &buf[(x, y)];
                    let exact = match mode {
                        GrayMode::TrueColor => [Color::Rgb(0, 0, 0), Color::Rgb(255, 255, 255)],
                        GrayMode::Ansi256 => [Color::Indexed(16), Color::Indexed(231)],
                    };
                    assert!(exact.contains(&cell.fg), "{name} {mode:?}: {:?}", cell.fg);
                    let c = contrast(cell.fg, cell.bg);
                    assert!(
                        c >= 4.5,
                        "{name} {mode:?} {:?} on {:?}: {c:.2}",
                        cell.fg,
                        cell.bg
                    );
                }
            }
        }
        // The reported case: the dark theme's khaki top of the scale in 256 colours.
        let top = lerp_color(
            Theme::default().heat_low,
            Theme::default().heat_high,
            1.0,
            GrayMode::Ansi256,
        );
        assert_eq!(text_on(top, GrayMode::Ansi256), Color::Indexed(16));
    }
}

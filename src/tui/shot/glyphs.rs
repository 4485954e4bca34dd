//! What one cell's symbol covers: a coverage mask (0 = background, 255 = foreground) of the cell's
//! pixels. Block elements, box drawing and braille are drawn by hand so images, borders and charts
//! are exact; everything else is a glyph of the bundled DejaVu Sans, centred in its cell and
//! narrowed to fit it.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

/// The pixel size of one terminal cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellSize {
    pub width: u32,
    pub height: u32,
}

/// A cell's coverage, row by row.
pub(super) type Mask = Vec<u8>;

/// Draws masks of a fixed cell size.
pub(super) struct Glyphs<'f> {
    cell: CellSize,
    font: FontRef<'f>,
}

impl<'f> Glyphs<'f> {
    pub(super) fn new(cell: CellSize, font: FontRef<'f>) -> Self {
        Glyphs { cell, font }
    }

    /// The mask of `symbol` (its first character), emboldened when `bold`.
    pub(super) fn mask(&self, symbol: &str, bold: bool) -> Mask {
        let Some(ch) = symbol.chars().next() else {
            return self.empty();
        };
        if let Some(m) = self.drawn(ch) {
            return m;
        }
        let mut m = self.text(ch);
        if bold {
            embolden(&mut m, self.cell.width as usize);
        }
        m
    }

    fn empty(&self) -> Mask {
        vec![0; (self.cell.width * self.cell.height) as usize]
    }

    /// Sets the pixels `x0..x1` x `y0..y1` (clipped to the cell) to `value`.
    fn fill(&self, m: &mut Mask, x0: i32, x1: i32, y0: i32, y1: i32, value: u8) {
        let (w, h) = (self.cell.width as i32, self.cell.height as i32);
        for y in y0.max(0)..y1.min(h) {
            for x in x0.max(0)..x1.min(w) {
                m[(y * w + x) as usize] = value;
            }
        }
    }

    /// Block elements, box drawing and braille; `None` for anything the font draws.
    fn drawn(&self, ch: char) -> Option<Mask> {
        let c = ch as u32;
        match c {
            0x2500..=0x257F => Some(self.box_drawing(c)),
            0x2580..=0x259F => Some(self.block(c)),
            0x2800..=0x28FF => Some(self.braille(c - 0x2800)),
            _ => None,
        }
    }

    /// U+2580..U+259F: halves, eighths, shades and quadrants.
    fn block(&self, c: u32) -> Mask {
        let (w, h) = (self.cell.width as i32, self.cell.height as i32);
        let mut m = self.empty();
        let eighth_h = |n: i32| h * n / 8;
        let eighth_w = |n: i32| w * n / 8;
        match c {
            // ▀ upper half
            0x2580 => self.fill(&mut m, 0, w, 0, h / 2, 255),
            // ▁..█ lower one to eight eighths (▄ is the lower half)
            0x2581..=0x2588 => {
                let n = (c - 0x2580) as i32;
                self.fill(&mut m, 0, w, h - eighth_h(n), h, 255);
            }
            // ▉..▏ left seven to one eighths
            0x2589..=0x258F => {
                let n = (0x2590 - c) as i32;
                self.fill(&mut m, 0, eighth_w(n), 0, h, 255);
            }
            // ▐ right half
            0x2590 => self.fill(&mut m, w / 2, w, 0, h, 255),
            // ░ ▒ ▓ shades: a uniform blend
            0x2591..=0x2593 => {
                let v = [64u8, 128, 191][(c - 0x2591) as usize];
                self.fill(&mut m, 0, w, 0, h, v);
            }
            // ▔ upper eighth, ▕ right eighth
            0x2594 => self.fill(&mut m, 0, w, 0, eighth_h(1), 255),
            0x2595 => self.fill(&mut m, w - eighth_w(1), w, 0, h, 255),
            // Quadrants ▖ ▗ ▘ ▙ ▚ ▛ ▜ ▝ ▞ ▟: bits upper-left, upper-right, lower-left, lower-right.
            _ => {
                let bits: u8 = match c {
                    0x2596 => 0b0100,
                    0x2597 => 0b1000,
                    0x2598 => 0b0001,
                    0x2599 => 0b1101,
                    0x259A => 0b1001,
                    0x259B => 0b0111,
                    0x259C => 0b1011,
                    0x259D => 0b0010,
                    0x259E => 0b0110,
                    _ => 0b1110,
                };
                let (hw, hh) = (w / 2, h / 2);
                for (i, (x0, x1, y0, y1)) in [
                    (0, hw, 0, hh),
                    (hw, w, 0, hh),
                    (0, hw, hh, h),
                    (hw, w, hh, h),
                ]
                .into_iter()
                .enumerate()
                {
                    if bits & (1 << i) != 0 {
                        self.fill(&mut m, x0, x1, y0, y1, 255);
                    }
                }
            }
        }
        m
    }

    /// U+2800..U+28FF: a 2x4 grid of dots, bit k of the pattern is dot k+1.
    fn braille(&self, pattern: u32) -> Mask {
        let (w, h) = (self.cell.width as i32, self.cell.height as i32);
        let mut m = self.empty();
        // Dot (column, row) of each bit.
        const DOTS: [(i32, i32); 8] = [
            (0, 0),
            (0, 1),
            (0, 2),
            (1, 0),
            (1, 1),
            (1, 2),
            (0, 3),
            (1, 3),
        ];
        let size = (w / 4).max(1);
        for (bit, &(col, row)) in DOTS.iter().enumerate() {
            if pattern & (1 << bit) == 0 {
                continue;
            }
            // Dot centres at a quarter and three quarters of the width, and at the middle of each
            // quarter of the height.
            let cx = w * (1 + 2 * col) / 4;
            let cy = h * (1 + 2 * row) / 8;
            let x0 = cx - size / 2;
            let y0 = cy - size / 2;
            self.fill(&mut m, x0, x0 + size, y0, y0 + size, 255);
        }
        m
    }

    /// U+2500..U+257F: lines from the centre to the edges, light, heavy or double.
    fn box_drawing(&self, c: u32) -> Mask {
        let (w, h) = (self.cell.width as i32, self.cell.height as i32);
        let mut m = self.empty();
        let i = (c - 0x2500) as usize;
        if (0x2571..=0x2573).contains(&c) {
            // ╱ ╲ ╳: diagonals, one pixel a row.
            for y in 0..h {
                let rising = (h - 1 - y) * w / h;
                let falling = y * w / h;
                if c != 0x2572 {
                    self.fill(&mut m, rising, rising + 1, y, y + 1, 255);
                }
                if c != 0x2571 {
                    self.fill(&mut m, falling, falling + 1, y, y + 1, 255);
                }
            }
            return m;
        }
        let arms: Vec<u8> = BOX_ARMS[i].bytes().map(|b| b - b'0').collect();
        let (left, right, up, down) = (arms[0], arms[1], arms[2], arms[3]);
        let (cx, cy) = (w / 2, h / 2);
        // The band a stroke of `weight` occupies around centre `c`: [start, end).
        let band = |c: i32, weight: u8| match weight {
            2 => (c - 1, c + 1),
            3 => (c - 2, c + 2),
            _ => (c, c + 1),
        };
        let vertical = band(cx, up.max(down).max(1));
        let horizontal = band(cy, left.max(right).max(1));
        // Dashes: how many a cell holds (0 for a solid line).
        let dashes = match c {
            0x2504..=0x2507 => 3,
            0x2508..=0x250B => 4,
            0x254C..=0x254F => 2,
            _ => 0,
        };
        let along = |len: i32, p: i32| dashes == 0 || (p * dashes * 2 / len) % 2 == 0;
        // A horizontal arm over x0..x1.
        let hline = |m: &mut Mask, weight: u8, x0: i32, x1: i32| {
            let rows: Vec<(i32, i32)> = match weight {
                3 => vec![(cy - 2, cy - 1), (cy + 1, cy + 2)],
                _ => vec![band(cy, weight)],
            };
            for (y0, y1) in rows {
                for x in x0..x1 {
                    if along(w, x) {
                        self.fill(m, x, x + 1, y0, y1, 255);
                    }
                }
            }
        };
        if left > 0 {
            hline(&mut m, left, 0, vertical.1);
        }
        if right > 0 {
            hline(&mut m, right, vertical.0, w);
        }
        let vline = |m: &mut Mask, weight: u8, y0: i32, y1: i32| {
            let cols: Vec<(i32, i32)> = match weight {
                3 => vec![(cx - 2, cx - 1), (cx + 1, cx + 2)],
                _ => vec![band(cx, weight)],
            };
            for (x0, x1) in cols {
                for y in y0..y1 {
                    if along(h, y) {
                        self.fill(m, x0, x1, y, y + 1, 255);
                    }
                }
            }
        };
        if up > 0 {
            vline(&mut m, up, 0, horizontal.1);
        }
        if down > 0 {
            vline(&mut m, down, horizontal.0, h);
        }
        m
    }

    /// A glyph of the font: centred on the cell, narrowed (never widened) to fit its width, on a
    /// baseline that keeps ascenders and descenders inside the cell.
    fn text(&self, ch: char) -> Mask {
        let mut m = self.empty();
        let id = self.font.glyph_id(ch);
        if ch.is_whitespace() || id.0 == 0 {
            return m;
        }
        let (w, h) = (self.cell.width as f32, self.cell.height as f32);
        let size = h * 0.875;
        let scaled = self.font.as_scaled(PxScale::from(size));
        let advance = scaled.h_advance(id);
        let squeeze = if advance > w { w / advance } else { 1.0 };
        let x0 = ((w - advance * squeeze) / 2.0).max(0.0);
        let baseline = ((h - size) / 2.0 + scaled.ascent()).round();
        let glyph = id.with_scale_and_position(
            PxScale {
                x: size * squeeze,
                y: size,
            },
            point(x0, baseline),
        );
        let Some(outline) = self.font.outline_glyph(glyph) else {
            return m;
        };
        let bounds = outline.px_bounds();
        let (cw, chh) = (self.cell.width as i32, self.cell.height as i32);
        outline.draw(|x, y, coverage| {
            let px = bounds.min.x as i32 + x as i32;
            let py = bounds.min.y as i32 + y as i32;
            if (0..cw).contains(&px) && (0..chh).contains(&py) {
                let v = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
                let slot = &mut m[(py * cw + px) as usize];
                *slot = (*slot).max(v);
            }
        });
        m
    }
}

/// Faux bold: each pixel also takes the coverage of its left neighbour.
fn embolden(m: &mut Mask, width: usize) {
    for row in m.chunks_mut(width) {
        for x in (1..row.len()).rev() {
            row[x] = row[x].max(row[x - 1]);
        }
    }
}

/// The arms of U+2500..U+257F: left, right, up, down; 0 none, 1 light, 2 heavy, 3 double.
/// (Diagonals U+2571..U+2573 are drawn apart; rounded corners are drawn square.)
#[rustfmt::skip]
const BOX_ARMS: [&str; 128] = [
    // 2500 ─ ━ │ ┃ ┄ ┅ ┆ ┇
    "1100", "2200", "0011", "0022", "1100", "2200", "0011", "0022",
    // 2508 ┈ ┉ ┊ ┋ ┌ ┍ ┎ ┏
    "1100", "2200", "0011", "0022", "0101", "0201", "0102", "0202",
    // 2510 ┐ ┑ ┒ ┓ └ ┕ ┖ ┗
    "1001", "2001", "1002", "2002", "0110", "0210", "0120", "0220",
    // 2518 ┘ ┙ ┚ ┛ ├ ┝ ┞ ┟
    "1010", "2010", "1020", "2020", "0111", "0211", "0121", "0112",
    // 2520 ┠ ┡ ┢ ┣ ┤ ┥ ┦ ┧
    "0122", "0221", "0212", "0222", "1011", "2011", "1021", "1012",
    // 2528 ┨ ┩ ┪ ┫ ┬ ┭ ┮ ┯
    "1022", "2021", "2012", "2022", "1101", "2101", "1201", "2201",
    // 2530 ┰ ┱ ┲ ┳ ┴ ┵ ┶ ┷
    "1102", "2102", "1202", "2202", "1110", "2110", "1210", "2210",
    // 2538 ┸ ┹ ┺ ┻ ┼ ┽ ┾ ┿
    "1120", "2120", "1220", "2220", "1111", "2111", "1211", "2211",
    // 2540 ╀ ╁ ╂ ╃ ╄ ╅ ╆ ╇
    "1121", "1112", "1122", "2121", "1221", "2112", "1212", "2221",
    // 2548 ╈ ╉ ╊ ╋ ╌ ╍ ╎ ╏
    "2212", "2122", "1222", "2222", "1100", "2200", "0011", "0022",
    // 2550 ═ ║ ╒ ╓ ╔ ╕ ╖ ╗
    "3300", "0033", "0301", "0103", "0303", "3001", "1003", "3003",
    // 2558 ╘ ╙ ╚ ╛ ╜ ╝ ╞ ╟
    "0310", "0130", "0330", "3010", "1030", "3030", "0311", "0133",
    // 2560 ╠ ╡ ╢ ╣ ╤ ╥ ╦ ╧
    "0333", "3011", "1033", "3033", "3301", "1103", "3303", "3310",
    // 2568 ╨ ╩ ╪ ╫ ╬ ╭ ╮ ╯
    "1130", "3330", "3311", "1133", "3333", "0101", "1001", "1010",
    // 2570 ╰ ╱ ╲ ╳ ╴ ╵ ╶ ╷
    "0110", "0000", "0000", "0000", "1000", "0010", "0100", "0001",
    // 2578 ╸ ╹ ╺ ╻ ╼ ╽ ╾ ╿
    "2000", "0020", "0200", "0002", "1200", "0012", "2100", "0021",
];

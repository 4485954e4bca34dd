//! Widgets of the workbench: half-block images, loss charts, confusion heatmaps, histograms.

pub mod chart;
pub mod graphics;
pub mod heatmap;
pub mod image;
pub mod scroll;
pub mod table;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// Counts of 8-bit values in `bins` equal-width bins.
pub fn histogram(pixels: &[u8], bins: usize) -> Vec<u64> {
    let bins = bins.clamp(1, 256);
    let mut h = vec![0u64; bins];
    for &p in pixels {
        h[p as usize * bins / 256] += 1;
    }
    h
}

/// Draws counts as vertical bars of eighth blocks filling `area` (one column per bin, or wider).
pub fn draw_bars(buf: &mut Buffer, area: Rect, counts: &[u64], style: Style) {
    const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if area.is_empty() || counts.is_empty() {
        return;
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let col_w = (area.width as usize / counts.len()).max(1);
    for (i, &c) in counts.iter().enumerate() {
        let x0 = area.x as usize + i * col_w;
        if x0 >= (area.x + area.width) as usize {
            break;
        }
        let eighths = (c as f64 / max as f64 * area.height as f64 * 8.0).round() as usize;
        for row in 0..area.height as usize {
            let filled = eighths.saturating_sub(row * 8).min(8);
            let y = area.y + area.height - 1 - row as u16;
            for x in x0..(x0 + col_w).min((area.x + area.width) as usize) {
                if let Some(cell) = buf.cell_mut((x as u16, y)) {
                    cell.set_char(BLOCKS[filled]).set_style(style);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins() {
        let h = histogram(&[0, 1, 127, 128, 255], 2);
        assert_eq!(h, vec![3, 2]);
        let h = histogram(&[0, 255], 16);
        assert_eq!(h[0], 1);
        assert_eq!(h[15], 1);
    }

    #[test]
    fn bars_fill_to_height() {
        let area = Rect::new(0, 0, 2, 2);
        let mut buf = Buffer::empty(area);
        draw_bars(&mut buf, area, &[4, 2], Style::default());
        assert_eq!(buf[(0, 0)].symbol(), "█");
        assert_eq!(buf[(1, 1)].symbol(), "█");
        assert_eq!(buf[(1, 0)].symbol(), " ");
    }
}

//! A pane taller than the screen, scrolled: drawn whole into a buffer of its own height, then
//! the rows from `top` copied to the screen, with a mark on the right of the first and last row
//! that says there is more above or below (and which keys show it).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// The largest first row for content `height` rows tall in `area`.
pub fn max_top(area: Rect, height: u16) -> u16 {
    height.saturating_sub(area.height)
}

/// Draws `draw` into a `height`-row virtual area as wide as `area` and shows its rows from `top`
/// (clamped); when it fits, draws straight into `area`. Returns the first row shown.
pub fn scrolled(
    area: Rect,
    buf: &mut Buffer,
    height: u16,
    top: u16,
    style: Style,
    draw: impl FnOnce(Rect, &mut Buffer),
) -> u16 {
    if height <= area.height || area.is_empty() {
        draw(area, buf);
        return 0;
    }
    let top = top.min(max_top(area, height));
    let virt = Rect::new(0, 0, area.width, height);
    let mut off = Buffer::empty(virt);
    // The screen's base style (background) under whatever the pane leaves blank.
    off.set_style(virt, buf[(area.x, area.y)].style());
    draw(virt, &mut off);
    for y in 0..area.height {
        for x in 0..area.width {
            buf[(area.x + x, area.y + y)] = off[(x, top + y)].clone();
        }
    }
    let mark = |buf: &mut Buffer, y: u16, text: &str| {
        let w = text.chars().count() as u16;
        if w + 2 <= area.width {
            buf.set_string(area.x + area.width - w - 1, y, text, style);
        }
    };
    let shown = format!(" rows {}-{} of {height} ", top + 1, top + area.height);
    if top > 0 {
        mark(buf, area.y, &format!(" ▲ more · pgup{shown}"));
    }
    if top + area.height < height {
        mark(
            buf,
            area.y + area.height - 1,
            &format!(" ▼ more · pgdn{shown}"),
        );
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::widgets::{Paragraph, Widget};

    fn rows(n: u16) -> impl Fn(Rect, &mut Buffer) {
        move |a: Rect, b: &mut Buffer| {
            let lines: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
            Paragraph::new(lines.join("\n")).render(a, b);
        }
    }

    fn line(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
    }

    #[test]
    fn shows_the_rows_from_top_and_marks_what_is_hidden() {
        let area = Rect::new(0, 0, 60, 5);
        let mut buf = Buffer::empty(area);
        assert_eq!(scrolled(area, &mut buf, 12, 3, Style::new(), rows(12)), 3);
        assert!(line(&buf, 0).starts_with("line 3"), "{}", line(&buf, 0));
        assert!(line(&buf, 0).contains("▲ more · pgup rows 4-8 of 12"));
        assert!(line(&buf, 4).starts_with("line 7"));
        assert!(line(&buf, 4).contains("▼ more · pgdn"));
        // Past the end: the last rows, nothing more below.
        let mut buf = Buffer::empty(area);
        assert_eq!(scrolled(area, &mut buf, 12, 99, Style::new(), rows(12)), 7);
        assert!(line(&buf, 4).starts_with("line 11"));
        assert!(!line(&buf, 4).contains("more"));
        // Content that fits is drawn as it is.
        let mut buf = Buffer::empty(area);
        assert_eq!(scrolled(area, &mut buf, 5, 2, Style::new(), rows(5)), 0);
        assert!(line(&buf, 0).starts_with("line 0") && !line(&buf, 0).contains("more"));
    }
}

//! A report table (`eval::table::Table`, the same data the CLI prints as text or Markdown) as
//! styled lines: the title, the header in the accent colour, rows by tone (ours, the paper's, a
//! caveat), cells to notice in the good colour, the notes muted.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::eval::table::{Table, Tone};
use crate::tui::theme::Theme;

/// The lines of `t`, columns aligned as in its text rendering.
pub fn table_lines(t: &Table, theme: &Theme) -> Vec<Line<'static>> {
    let widths = t.widths();
    let mut out = vec![Line::styled(t.title.clone(), theme.title())];
    let (header, _) = t.aligned();
    out.push(Line::styled(header, theme.accent()));
    for row in &t.rows {
        let style: Style = match row.tone {
            Tone::Ours => theme.base(),
            Tone::Paper => theme.muted(),
            Tone::Warn => theme.warn(),
        };
        let last = row.cells.len().saturating_sub(1);
        let spans: Vec<Span<'static>> = row
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let text = if i == last {
                    c.text.clone()
                } else {
                    let w = widths.get(i).copied().unwrap_or(0);
                    format!("{:<w$}  ", c.text)
                };
                Span::styled(text, if c.strong { theme.good() } else { style })
            })
            .collect();
        out.push(Line::from(spans));
    }
    out.extend(
        t.notes
            .iter()
            .map(|n| Line::styled(n.clone(), theme.muted())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::table::{Cell, Row};

    #[test]
    fn lines_match_the_text_rendering_and_style_by_tone() {
        let t = Table {
            title: "T".into(),
            header: vec!["name".into(), "p".into()],
            rows: vec![
                Row {
                    cells: vec![
                        "a".into(),
                        Cell {
                            text: "0.01".into(),
                            strong: true,
                        },
                    ],
                    tone: Tone::Ours,
                    spans: false,
                },
                Row::new(Tone::Paper, ["paper", "0.5"]),
            ],
            notes: vec!["n".into()],
        };
        let theme = Theme::default();
        let lines = table_lines(&t, &theme);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let plain: Vec<String> = t.text().lines().map(String::from).collect();
        assert_eq!(text, plain);
        assert_eq!(lines[2].spans[1].style, theme.good());
        assert_eq!(lines[3].spans[0].style, theme.muted());
        assert_eq!(lines[4].style, theme.muted());
    }
}

//! A table as data: a title, a header, rows of cells with a tone, and notes. The report builders
//! (`report`) make tables; the CLI renders them as aligned text or Markdown ([`Table::text`],
//! [`Table::markdown`]) and the workbench as styled lines, from the same values.

use std::fmt::Write;

/// What kind of row it is, so that each front end can style it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A result vqtex measured.
    Ours,
    /// A number published in the paper, shown for comparison.
    Paper,
    /// A caveat: a row that is not comparable with the others (another split, nothing paired).
    Warn,
}

/// One cell; `strong` marks a value to notice (a p-value under 0.05).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub strong: bool,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            strong: false,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub tone: Tone,
    /// The last cell runs on across the remaining columns (a message in place of values): it
    /// does not widen its column.
    pub spans: bool,
}

impl Row {
    pub fn new(tone: Tone, cells: impl IntoIterator<Item = impl Into<Cell>>) -> Row {
        Row {
            cells: cells.into_iter().map(Into::into).collect(),
            tone,
            spans: false,
        }
    }

    /// A row whose last cell is a message running across the remaining columns.
    pub fn message(tone: Tone, cells: impl IntoIterator<Item = impl Into<Cell>>) -> Row {
        Row {
            spans: true,
            ..Row::new(tone, cells)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
    /// Sentences printed under the table.
    pub notes: Vec<String>,
}

impl Table {
    /// The width of each column in characters: its widest cell or header.
    pub fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            let sized = r.cells.len() - usize::from(r.spans && !r.cells.is_empty());
            for (i, c) in r.cells.iter().take(sized).enumerate() {
                let n = c.text.chars().count();
                match w.get_mut(i) {
                    Some(x) => *x = (*x).max(n),
                    None => w.push(n),
                }
            }
        }
        w
    }

    /// The header and each row as aligned text, cells left-aligned and two spaces apart (no
    /// title, no notes): what a terminal front end styles line by line.
    pub fn aligned(&self) -> (String, Vec<String>) {
        let w = self.widths();
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut s = String::new();
            for (i, c) in cells.enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let _ = write!(s, "{c:<width$}", width = w.get(i).copied().unwrap_or(0));
            }
            s.trim_end().to_string()
        };
        let header = line(&mut self.header.iter().map(String::as_str));
        let rows = self
            .rows
            .iter()
            .map(|r| line(&mut r.cells.iter().map(|c| c.text.as_str())))
            .collect();
        (header, rows)
    }

    /// Plain text: title, aligned header and rows, notes.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.title);
        let (header, rows) = self.aligned();
        let _ = writeln!(s, "{header}");
        for r in rows {
            let _ = writeln!(s, "{r}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "{n}");
        }
        s
    }

    /// Markdown: the title as a paragraph, a pipe table, the notes as paragraphs.
    pub fn markdown(&self) -> String {
        let esc = |t: &str| t.replace('|', "\\|");
        let mut s = String::new();
        let _ = writeln!(s, "{}\n", self.title);
        let _ = writeln!(
            s,
            "| {} |",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(s, "|{}", "---|".repeat(self.header.len()));
        for r in &self.rows {
            let mut cells: Vec<String> = r.cells.iter().map(|c| esc(&c.text)).collect();
            cells.resize(self.header.len().max(cells.len()), String::new());
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        for n in &self.notes {
            let _ = writeln!(s, "\n{n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            title: "T".into(),
            header: vec!["a".into(), "bb".into()],
            rows: vec![
                Row::new(Tone::Ours, ["long cell", "x|y"]),
                Row::new(Tone::Paper, ["z"]),
                Row::message(Tone::Warn, ["w", "a message wider than the column"]),
            ],
            notes: vec!["note.".into()],
        }
    }

    #[test]
    fn text_aligns_columns_to_the_widest_cell() {
        let t = table().text();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "T");
        assert_eq!(lines[1], "a          bb");
        assert_eq!(lines[2], "long cell  x|y");
        assert_eq!(lines[3], "z");
        assert_eq!(lines[4], "w          a message wider than the column");
        assert_eq!(lines[5], "note.");
    }

    #[test]
    fn markdown_escapes_pipes_and_pads_short_rows() {
        let m = table().markdown();
        assert!(m.contains("| a | bb |\n|---|---|\n"), "{m}");
        assert!(m.contains("| long cell | x\\|y |"), "{m}");
        assert!(m.contains("| z |  |"), "{m}");
        assert!(m.ends_with("\nnote.\n"), "{m}");
    }
}

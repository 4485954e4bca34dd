//! The help overlay: every action with its keys, scrollable (arrows, page up/down, home/end) and
//! searchable (`/` types a filter matched against keys, names and descriptions; esc clears it).
//! It lays its entries out in as many columns as fit, and scrolls when they do not.

use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Widget};

use super::app::App;
use super::keymap::{Action, ACTIONS};
use super::panes::{block, put};
use super::ui::centered;

/// What the help overlay shows: its first row, and the filter (typed after `/`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HelpView {
    /// First row shown when the entries do not fit.
    pub top: usize,
    pub filter: String,
    /// Whether keys go to the filter (after `/`, until enter or esc).
    pub typing: bool,
    /// The largest `top` at the last drawing (the box's size is known only then).
    pub max_top: Cell<usize>,
}

/// One line of the overlay: the keys, and what they do.
pub struct Entry {
    pub keys: String,
    pub desc: &'static str,
}

/// How the entries are placed: columns, rows shown, the width of a column and of its keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub cols: usize,
    pub rows: usize,
    pub col_w: u16,
    pub key_w: u16,
    /// Whether everything fits (column by column), or rows scroll (entries row by row).
    pub fits: bool,
}

impl Grid {
    /// The largest layout of `n` entries in `area` (borders included).
    pub fn of(area: Rect, n: usize, key_w: u16, desc_w: u16) -> Grid {
        let rows = area.height.saturating_sub(2).max(1) as usize;
        let col_w = key_w + 1 + desc_w + 2;
        let inner_w = area.width.saturating_sub(2);
        let most = (inner_w / col_w).max(1) as usize;
        let cols = n.div_ceil(rows).clamp(1, most);
        let col_w = if cols == 1 { inner_w } else { col_w };
        Grid {
            cols,
            rows,
            col_w,
            key_w,
            fits: n <= cols * rows,
        }
    }

    /// The last first row that still fills the box.
    pub fn max_top(&self, n: usize) -> usize {
        n.div_ceil(self.cols).saturating_sub(self.rows)
    }
}

impl App {
    /// The entries the filter lets through, in the keymap's order.
    pub fn help_entries(&self) -> Vec<Entry> {
        let needle = self.help_view.filter.to_lowercase();
        ACTIONS
            .iter()
            .map(|(a, name, _, desc)| {
                (
                    Entry {
                        keys: self.keymap.keys_of(*a),
                        desc,
                    },
                    *name,
                )
            })
            .filter(|(e, name)| {
                needle.is_empty()
                    || e.desc.to_lowercase().contains(&needle)
                    || e.keys.to_lowercase().contains(&needle)
                    || name.replace('_', " ").contains(&needle)
            })
            .map(|(e, _)| e)
            .collect()
    }

    /// A key while the help overlay is open. Returns whether to redraw.
    pub(super) fn on_help_key(&mut self, k: KeyEvent, action: Option<Action>) -> bool {
        let page = 10;
        let v = &mut self.help_view;
        if v.typing {
            match k.code {
                KeyCode::Esc => {
                    v.filter.clear();
                    v.typing = false;
                }
                KeyCode::Enter => v.typing = false,
                KeyCode::Backspace => {
                    v.filter.pop();
                }
                KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    v.filter.clear()
                }
                KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                    v.filter.push(c)
                }
                KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown => {
                    return self.scroll_help(k.code, page)
                }
                _ => return false,
            }
            v.top = 0;
            return true;
        }
        match (k.code, action) {
            (KeyCode::Char('/'), _) => {
                v.typing = true;
                true
            }
            (KeyCode::Esc, _) | (_, Some(Action::Back)) if !v.filter.is_empty() => {
                v.filter.clear();
                v.top = 0;
                true
            }
            (KeyCode::Esc, _) | (_, Some(Action::Help | Action::Back | Action::Quit)) => {
                self.help = false;
                self.help_view = HelpView::default();
                true
            }
            (_, Some(Action::Up)) => self.scroll_help(KeyCode::Up, page),
            (_, Some(Action::Down)) => self.scroll_help(KeyCode::Down, page),
            (_, Some(Action::PageUp)) => self.scroll_help(KeyCode::PageUp, page),
            (_, Some(Action::PageDown)) => self.scroll_help(KeyCode::PageDown, page),
            (code @ (KeyCode::Home | KeyCode::End | KeyCode::Up | KeyCode::Down), _) => {
                self.scroll_help(code, page)
            }
            _ => false,
        }
    }

    /// Moves the first row shown, within what the last drawing could show.
    fn scroll_help(&mut self, code: KeyCode, page: usize) -> bool {
        let v = &mut self.help_view;
        let before = v.top;
        v.top = match code {
            KeyCode::Up => v.top.saturating_sub(1),
            KeyCode::Down => v.top + 1,
            KeyCode::PageUp => v.top.saturating_sub(page),
            KeyCode::PageDown => v.top + page,
            KeyCode::Home => 0,
            KeyCode::End => usize::MAX / 2,
            _ => v.top,
        };
        v.top = v.top.min(v.max_top.get());
        v.top != before
    }

    pub(super) fn draw_help(&self, area: Rect, buf: &mut Buffer) {
        let t = &self.ctx.theme;
        let entries = self.help_entries();
        let n = entries.len();
        let key_w = entries
            .iter()
            .map(|e| e.keys.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 20) as u16;
        let desc_w = ACTIONS
            .iter()
            .map(|a| a.3.chars().count())
            .max()
            .unwrap_or(20) as u16;
        let grid = Grid::of(area, n.max(1), key_w, desc_w);
        let w = if grid.cols == 1 {
            (key_w + desc_w + 4).min(area.width)
        } else {
            grid.col_w * grid.cols as u16 + 2
        };
        // Room for the filter line even when few entries pass it.
        let h = (n.div_ceil(grid.cols).max(3) + 2) as u16;
        let r = centered(area, w.max(40), h);
        let grid = Grid::of(r, n.max(1), key_w, desc_w);
        let top = self.help_view.top.min(grid.max_top(n));
        self.help_view.max_top.set(grid.max_top(n));
        Clear.render(r, buf);
        let closes = match self.keymap.first_key(Action::Help) {
            Some(k) if k != "esc" => format!("{k}/esc close"),
            _ => "esc closes".into(),
        };
        let shown = if grid.fits || n == 0 {
            format!("{n} keys")
        } else {
            let first = top * grid.cols + 1;
            let last = ((top + grid.rows) * grid.cols).min(n);
            format!("{first}-{last} of {n} ↑↓")
        };
        let title = format!("Keys · {shown} · / search · {closes}");
        let filter = if self.help_view.typing {
            format!(" /{}█ · enter keeps · esc clears ", self.help_view.filter)
        } else if !self.help_view.filter.is_empty() {
            format!(" /{} · esc clears ", self.help_view.filter)
        } else {
            " rebind in config.toml [keys] ".into()
        };
        let b = block(title, &self.ctx, true).title_bottom(filter);
        let inner = b.inner(r);
        b.render(r, buf);
        if n == 0 {
            let msg = format!("no key matches '{}'", self.help_view.filter);
            put(buf, inner, inner.x, inner.y, &msg, t.muted());
            return;
        }
        for (i, e) in entries.iter().enumerate() {
            // Column by column when everything fits; row by row (scrolling) when not.
            let (c, row) = if grid.fits {
                let per_col = n.div_ceil(grid.cols);
                (i / per_col, i % per_col)
            } else {
                let row = i / grid.cols;
                if row < top || row >= top + grid.rows {
                    continue;
                }
                (i % grid.cols, row - top)
            };
            let x = inner.x + c as u16 * grid.col_w;
            let y = inner.y + row as u16;
            let keys: String = e.keys.chars().take(key_w as usize).collect();
            let keys = format!("{keys:>w$}", w = key_w as usize);
            put(buf, inner, x, y, &keys, t.accent());
            let room = grid.col_w.saturating_sub(key_w + 1).min(inner.width) as usize;
            let desc: String = if e.desc.chars().count() > room {
                let mut s: String = e.desc.chars().take(room.saturating_sub(1)).collect();
                s.push('…');
                s
            } else {
                e.desc.to_string()
            };
            put(buf, inner, x + key_w + 1, y, &desc, t.base());
        }
    }
}

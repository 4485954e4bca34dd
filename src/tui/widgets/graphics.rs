//! Sharper images where the terminal can show pixels: the kitty graphics protocol or sixel, else
//! the half-blocks of [`super::image`].
//!
//! An image goes out inside ratatui's own buffer diffing: the whole escape sequence is the symbol
//! of the image area's top-left cell (with a forced width of one cell) and the area's other cells
//! are skipped, so ratatui writes the sequence at the right place, only when it changed, and never
//! paints over the picture. A kitty image stays on screen until deleted, so after each frame the
//! runtime deletes the images the new frame no longer holds ([`kitty_ids`], [`kitty_deletes`]).
//!
//! Which mode is used: `--images auto|halfblocks|kitty|sixel` or `images = "..."` in the config;
//! `auto` looks at the environment only ([`TermEnv`], [`choose`]): half-blocks inside tmux (its
//! passthrough is off by default), kitty in kitty, WezTerm, ghostty, sixel in foot, mlterm,
//! contour, konsole or a `TERM` naming sixel when the cell size in pixels is known.

use std::fmt;
use std::io::Write;
use std::num::NonZeroU16;

use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;

/// The user's choice (`--images`, `images = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Images {
    #[default]
    Auto,
    HalfBlocks,
    Kitty,
    Sixel,
}

impl Images {
    pub const NAMES: &'static str = "auto, halfblocks, kitty or sixel";

    pub fn name(self) -> &'static str {
        match self {
            Images::Auto => "auto",
            Images::HalfBlocks => "halfblocks",
            Images::Kitty => "kitty",
            Images::Sixel => "sixel",
        }
    }
}

impl std::str::FromStr for Images {
    type Err = String;

    fn from_str(s: &str) -> Result<Images, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Images::Auto,
            "halfblocks" | "half-blocks" => Images::HalfBlocks,
            "kitty" => Images::Kitty,
            "sixel" => Images::Sixel,
            _ => return Err(format!("unknown image mode '{s}': use {}", Images::NAMES)),
        })
    }
}

/// How images reach this terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Graphics {
    #[default]
    HalfBlocks,
    /// The kitty graphics protocol; wrapped for tmux's passthrough when `tmux`.
    Kitty { tmux: bool },
    /// Sixel, drawn at `cell` (width, height) pixels a cell.
    Sixel { cell: (u16, u16) },
}

impl Graphics {
    pub fn name(self) -> &'static str {
        match self {
            Graphics::HalfBlocks => "halfblocks",
            Graphics::Kitty { .. } => "kitty",
            Graphics::Sixel { .. } => "sixel",
        }
    }
}

/// Cell size assumed for sixel when the terminal does not report it.
pub const DEFAULT_CELL: (u16, u16) = (10, 20);

/// What the environment says about the terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermEnv {
    pub term: String,
    pub term_program: String,
    /// `KITTY_WINDOW_ID` is set.
    pub kitty_window: bool,
    /// `KONSOLE_VERSION` is set.
    pub konsole: bool,
    /// `TMUX` is set.
    pub tmux: bool,
    /// A cell's size in pixels, when the terminal reports it (`TIOCGWINSZ`).
    pub cell: Option<(u16, u16)>,
}

impl TermEnv {
    /// This process's environment and terminal.
    pub fn current() -> TermEnv {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        let cell = crossterm::terminal::window_size().ok().and_then(|w| {
            (w.columns > 0 && w.rows > 0 && w.width >= w.columns && w.height >= w.rows)
                .then(|| (w.width / w.columns, w.height / w.rows))
        });
        TermEnv {
            term: var("TERM"),
            term_program: var("TERM_PROGRAM"),
            kitty_window: set("KITTY_WINDOW_ID"),
            konsole: set("KONSOLE_VERSION"),
            tmux: set("TMUX"),
            cell,
        }
    }

    /// Why this looks like a terminal with the kitty graphics protocol.
    fn kitty(&self) -> Option<String> {
        if self.term == "xterm-kitty" || self.term == "xterm-ghostty" {
            return Some(format!("TERM={}", self.term));
        }
        if self.kitty_window {
            return Some("KITTY_WINDOW_ID is set".into());
        }
        let p = self.term_program.to_ascii_lowercase();
        (p == "wezterm" || p == "ghostty").then(|| format!("TERM_PROGRAM={}", self.term_program))
    }

    /// Why this looks like a sixel terminal.
    fn sixel(&self) -> Option<String> {
        let t = self.term.to_ascii_lowercase();
        if t.contains("sixel") || t.starts_with("foot") || t.starts_with("mlterm") || t == "contour"
        {
            return Some(format!("TERM={}", self.term));
        }
        if self.konsole {
            return Some("KONSOLE_VERSION is set".into());
        }
        let p = self.term_program.to_ascii_lowercase();
        (p == "mlterm" || p == "foot" || p == "contour")
            .then(|| format!("TERM_PROGRAM={}", self.term_program))
    }
}

/// The mode for `choice` in `env`, and why (for the status line and the log).
pub fn choose(choice: Images, env: &TermEnv) -> (Graphics, String) {
    let why = |g: Graphics, reason: &str| (g, format!("images: {} ({reason})", g.name()));
    match choice {
        Images::HalfBlocks => why(Graphics::HalfBlocks, "asked for"),
        Images::Kitty if env.tmux => why(
            Graphics::Kitty { tmux: true },
            "asked for; through tmux's passthrough (set -g allow-passthrough on)",
        ),
        Images::Kitty => why(Graphics::Kitty { tmux: false }, "asked for"),
        Images::Sixel => match env.cell {
            Some(cell) => why(Graphics::Sixel { cell }, "asked for"),
            None => why(
                Graphics::Sixel { cell: DEFAULT_CELL },
                "asked for; cell size unknown, assuming 10x20 pixels",
            ),
        },
        Images::Auto if env.tmux => why(Graphics::HalfBlocks, "inside tmux"),
        Images::Auto => {
            if let Some(r) = env.kitty() {
                return why(Graphics::Kitty { tmux: false }, &r);
            }
            match (env.sixel(), env.cell) {
                (Some(r), Some(cell)) => why(Graphics::Sixel { cell }, &r),
                (Some(r), None) => why(
                    Graphics::HalfBlocks,
                    &format!("{r} but the cell size in pixels is unknown"),
                ),
                (None, _) => why(Graphics::HalfBlocks, "no kitty or sixel terminal seen"),
            }
        }
    }
}

/// An 8-bit RGB image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Rgb {
    /// A grey image enlarged `n` times (nearest neighbour).
    pub fn from_gray(pixels: &[u8], width: usize, height: usize, n: usize) -> Rgb {
        let n = n.max(1);
        let (w, h) = (width * n, height * n);
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let v = pixels.get(y / n * width + x / n).copied().unwrap_or(0);
                data.extend_from_slice(&[v, v, v]);
            }
        }
        Rgb {
            width: w,
            height: h,
            data,
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 characters per kitty escape (the protocol's limit).
const KITTY_CHUNK: usize = 4096;

/// Payloads above this many bytes are sent zlib-compressed (`o=z`).
const KITTY_COMPRESS_ABOVE: usize = 4096;

/// The kitty escapes that replace image `id` with `img`, scaled by the terminal to `cols` x `rows`
/// cells at the cursor, which does not move (`C=1`); the terminal does not answer (`q=2`).
pub fn kitty(img: &Rgb, id: u32, cols: u16, rows: u16, compress: bool) -> String {
    let (payload, o) = if compress {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let _ = z.write_all(&img.data);
        (z.finish().unwrap_or_default(), ",o=z")
    } else {
        (img.data.clone(), "")
    };
    let b64 = base64(&payload);
    let mut out = format!("\x1b_Ga=d,d=I,i={id},q=2\x1b\\");
    let chunks: Vec<&[u8]> = if b64.is_empty() {
        vec![&[]]
    } else {
        b64.as_bytes().chunks(KITTY_CHUNK).collect()
    };
    for (k, chunk) in chunks.iter().enumerate() {
        let more = u8::from(k + 1 < chunks.len());
        // Base64 is ASCII.
        let chunk = std::str::from_utf8(chunk).unwrap_or_default();
        if k == 0 {
            out.push_str(&format!(
                "\x1b_Ga=T,f=24,s={},v={},i={id},c={cols},r={rows},C=1,q=2{o},m={more};{chunk}\x1b\\",
                img.width, img.height
            ));
        } else {
            out.push_str(&format!("\x1b_Gm={more};{chunk}\x1b\\"));
        }
    }
    out
}

/// Each escape of `s` wrapped for tmux's passthrough (its ESCs doubled).
pub fn tmux_wrap(s: &str) -> String {
    s.split_inclusive("\x1b\\")
        .map(|e| format!("\x1bPtmux;{}\x1b\\", e.replace('\x1b', "\x1b\x1b")))
        .collect()
}

/// The sixel image of `img`: colours rounded to 64 levels a channel (fewer when that still makes
/// more than 256), a palette of the colours used in the order they first appear, and runs of 4 or
/// more equal columns compressed. No graphics newline after the last band, so an image that ends
/// on the screen's last row does not scroll it.
pub fn sixel(img: &Rgb) -> String {
    let n = img.width * img.height;
    let quantise = |levels: u16| {
        let mut palette: Vec<[u8; 3]> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut ids = Vec::with_capacity(n);
        for p in img.data.chunks_exact(3).take(n) {
            let q = |v: u8| {
                let top = levels - 1;
                let l = (v as u16 * top + 127) / 255;
                ((l * 255 + top / 2) / top) as u8
            };
            let c = [q(p[0]), q(p[1]), q(p[2])];
            let id = *index.entry(c).or_insert_with(|| {
                palette.push(c);
                palette.len() - 1
            });
            ids.push(id);
        }
        (palette, ids)
    };
    let (mut palette, mut ids) = quantise(64);
    if palette.len() > 256 {
        (palette, ids) = quantise(6);
    }
    let pct = |v: u8| (v as u32 * 100 + 127) / 255;
    let mut out = format!("\x1bP0;1;0q\"1;1;{};{}", img.width, img.height);
    for (i, c) in palette.iter().enumerate() {
        out.push_str(&format!("#{i};2;{};{};{}", pct(c[0]), pct(c[1]), pct(c[2])));
    }
    let mut row = vec![0u8; img.width];
    for band in (0..img.height).step_by(6) {
        if band > 0 {
            out.push('-');
        }
        let rows = band..(band + 6).min(img.height);
        let mut used: Vec<usize> = Vec::new();
        for y in rows.clone() {
            for &id in &ids[y * img.width..(y + 1) * img.width] {
                if !used.contains(&id) {
                    used.push(id);
                }
            }
        }
        for (k, &colour) in used.iter().enumerate() {
            if k > 0 {
                out.push('$');
            }
            row.iter_mut().for_each(|b| *b = 0);
            for y in rows.clone() {
                for (x, b) in row.iter_mut().enumerate() {
                    if ids[y * img.width + x] == colour {
                        *b |= 1 << (y - band);
                    }
                }
            }
            out.push_str(&format!("#{colour}"));
            let mut x = 0;
            while x < row.len() {
                let run = row[x..].iter().take_while(|&&b| b == row[x]).count();
                let ch = (63 + row[x]) as char;
                if run >= 4 {
                    out.push_str(&format!("!{run}{ch}"));
                } else {
                    (0..run).for_each(|_| out.push(ch));
                }
                x += run;
            }
        }
    }
    out.push_str("\x1b\\");
    out
}

/// Puts `escape` in `area`'s top-left cell (one cell wide for ratatui's diff) and marks the other
/// cells skipped, so ratatui writes the escape there when it changed and leaves the picture alone.
pub fn place(buf: &mut Buffer, area: Rect, escape: &str) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            cell.reset();
            cell.set_diff_option(CellDiffOption::Skip);
        }
    }
    let first = &mut buf[(area.x, area.y)];
    first.set_symbol(escape);
    first.set_diff_option(CellDiffOption::ForcedWidth(NonZeroU16::MIN));
}

/// Image ids: one per place an image can be shown, so that each replaces only its own.
pub const PICKER_FRAME: u32 = 1;
pub const DATA_ROI: u32 = 2;

/// Draws `img` over `area` in pixels, as image `id`; false in half-block mode (the caller draws
/// half-blocks). Kitty scales the image to the area; sixel expects it at the area's pixel size.
pub fn draw_image(buf: &mut Buffer, area: Rect, img: &Rgb, g: Graphics, id: u32) -> bool {
    if area.is_empty() || img.width == 0 || img.height == 0 {
        return false;
    }
    if g == Graphics::HalfBlocks {
        return false;
    }
    // Redraws that change something else (a tick, the status line) find the escape ready.
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (g, area, img.width, img.height, &img.data).hash(&mut h);
        h.finish()
    };
    let cached = ENCODED.with_borrow(|m| {
        m.get(&id)
            .filter(|(k, _)| *k == key)
            .map(|(_, e)| e.clone())
    });
    if let Some(e) = cached {
        place(buf, area, &e);
        return true;
    }
    let escape = match g {
        Graphics::HalfBlocks => return false,
        Graphics::Kitty { tmux } => {
            let e = kitty(
                img,
                id,
                area.width,
                area.height,
                img.data.len() > KITTY_COMPRESS_ABOVE,
            );
            if tmux {
                tmux_wrap(&e)
            } else {
                e
            }
        }
        Graphics::Sixel { .. } => sixel(img),
    };
    place(buf, area, &escape);
    ENCODED.with_borrow_mut(|m| m.insert(id, (key, escape)));
    true
}

thread_local! {
    /// The last escape of each image id, with the hash of what it encodes.
    static ENCODED: std::cell::RefCell<std::collections::HashMap<u32, (u64, String)>> =
        Default::default();
}

/// The size in pixels an image drawn over `cols` x `rows` cells should have: the cell size for
/// sixel (the terminal does not scale it); for kitty (which does), `per` pixels a half-block
/// sub-pixel (`cols` x `2 rows` of them), a trade between sharpness and bytes.
pub fn pixel_size(g: Graphics, cols: u16, rows: u16, per: usize) -> (usize, usize) {
    let (cw, ch) = match g {
        Graphics::Sixel { cell } => (cell.0.max(1) as usize, cell.1.max(1) as usize),
        _ => (per.max(1), 2 * per.max(1)),
    };
    (cols as usize * cw, rows as usize * ch)
}

/// A 28x28 ROI drawn as [`super::image::draw_roi`] does (top-left of `area`, `z` cells across a
/// pixel, half size for 0, clipped), in pixels when the terminal can.
pub fn draw_roi(buf: &mut Buffer, area: Rect, pixels: &[u8], z: u16, ctx: &crate::tui::panes::Ctx) {
    let side = crate::data::ROI_SIZE;
    let (w, h) = (side as u16 * z, (side as u16 * z).div_ceil(2));
    let fits = z > 0 && w <= area.width && h <= area.height && pixels.len() == side * side;
    if ctx.graphics != Graphics::HalfBlocks && fits {
        let target = Rect::new(area.x, area.y, w, h);
        let (pw, _) = pixel_size(ctx.graphics, w, h, 4);
        let img = Rgb::from_gray(pixels, side, side, (pw / side).clamp(1, 32));
        if draw_image(buf, target, &img, ctx.graphics, DATA_ROI) {
            return;
        }
    }
    super::image::draw_roi(buf, area, pixels, z, ctx.mode);
}

/// The kitty image ids of the images in `buf` (read from the escapes [`place`] put there).
pub fn kitty_ids(buf: &Buffer) -> Vec<u32> {
    let mut ids: Vec<u32> = buf
        .content()
        .iter()
        .filter(|c| matches!(c.diff_option, CellDiffOption::ForcedWidth(_)))
        .filter_map(|c| {
            let s = c.symbol();
            let at = s.find("_Ga=T,")?;
            let rest = &s[at..];
            let i = rest.find(",i=")? + 3;
            let digits: String = rest[i..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The escapes deleting the kitty images of `before` that `now` no longer shows.
pub fn kitty_deletes(before: &[u32], now: &[u32], tmux: bool) -> String {
    let e: String = before
        .iter()
        .filter(|id| !now.contains(id))
        .map(|id| format!("\x1b_Ga=d,d=I,i={id},q=2\x1b\\"))
        .collect();
    if tmux && !e.is_empty() {
        tmux_wrap(&e)
    } else {
        e
    }
}

impl fmt::Display for Images {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;

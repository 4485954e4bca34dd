//! Themes: TOML files of colours. Presets from themes/ are compiled in; a file of the same name in
//! the user's config dir (`themes/NAME.toml`) overrides a preset key by key, and `--theme` may
//! also name a TOML file directly.

use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use super::userfile::read_small_file;

/// The compiled-in presets, by name.
pub const PRESETS: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("theme file {path}: `{key}` = '{value}' is not a colour (use a name like 'blue', '#rrggbb', or 0-255)")]
    Color {
        path: String,
        key: &'static str,
        value: String,
    },
    #[error("unknown theme '{name}': the presets are dark, light and high-contrast, or put {name}.toml in {dir}")]
    Unknown { name: String, dir: String },
    #[error("cannot read theme file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A theme file as written; every key optional so a user file can override a few.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    background: Option<String>,
    foreground: Option<String>,
    muted: Option<String>,
    accent: Option<String>,
    border: Option<String>,
    border_focus: Option<String>,
    title: Option<String>,
    selection_fg: Option<String>,
    selection_bg: Option<String>,
    tab_active: Option<String>,
    status_fg: Option<String>,
    status_bg: Option<String>,
    good: Option<String>,
    bad: Option<String>,
    warn: Option<String>,
    curve_train: Option<String>,
    curve_test: Option<String>,
    curve_extra: Option<String>,
    heat_low: Option<String>,
    heat_high: Option<String>,
}

/// Colours of the workbench.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub background: Color,
    pub foreground: Color,
    pub muted: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focus: Color,
    pub title: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
    pub tab_active: Color,
    pub status_fg: Color,
    pub status_bg: Color,
    pub good: Color,
    pub bad: Color,
    pub warn: Color,
    pub curve_train: Color,
    pub curve_test: Color,
    pub curve_extra: Color,
    pub heat_low: Color,
    pub heat_high: Color,
    /// No colour (NO_COLOR): the chrome is monochrome and the curves differ by marker too.
    pub plain: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::preset("dark").expect("the dark preset is valid")
    }
}

macro_rules! apply {
    ($theme:ident, $file:ident, $path:expr, $($key:ident),*) => {
        $(
            if let Some(v) = &$file.$key {
                $theme.$key = parse_color(v).ok_or_else(|| ThemeError::Color {
                    path: $path.to_string(),
                    key: stringify!($key),
                    value: v.clone(),
                })?;
            }
        )*
    };
}

fn parse_color(s: &str) -> Option<Color> {
    s.trim().parse::<Color>().ok()
}

impl Theme {
    /// Applies a TOML theme text over `self`. `path` names the source in errors.
    pub fn overlay(mut self, text: &str, path: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Parse {
            path: path.to_string(),
            message: e.message().to_string()
                + &e.span()
                    .map(|s| format!(" (at line {})", line_of(text, s.start)))
                    .unwrap_or_default(),
        })?;
        if let Some(n) = &file.name {
            self.name = n.clone();
        }
        apply!(
            self,
            file,
            path,
            background,
            foreground,
            muted,
            accent,
            border,
            border_focus,
            title,
            selection_fg,
            selection_bg,
            tab_active,
            status_fg,
            status_bg,
            good,
            bad,
            warn,
            curve_train,
            curve_test,
            curve_extra,
            heat_low,
            heat_high
        );
        Ok(self)
    }

    /// A compiled-in preset.
    pub fn preset(name: &str) -> Option<Theme> {
        let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
        let blank = Theme {
            name: name.to_string(),
            background: Color::Reset,
            foreground: Color::Reset,
            muted: Color::Reset,
            accent: Color::Reset,
            border: Color::Reset,
            border_focus: Color::Reset,
            title: Color::Reset,
            selection_fg: Color::Reset,
            selection_bg: Color::Reset,
            tab_active: Color::Reset,
            status_fg: Color::Reset,
            status_bg: Color::Reset,
            good: Color::Reset,
            bad: Color::Reset,
            warn: Color::Reset,
            curve_train: Color::Reset,
            curve_test: Color::Reset,
            curve_extra: Color::Reset,
            heat_low: Color::Reset,
            heat_high: Color::Reset,
            plain: false,
        };
        blank.overlay(text, &format!("themes/{name}.toml")).ok()
    }

    /// Resolves a theme name: a path to a TOML file, a user theme in `user_dir/themes/NAME.toml`
    /// (over the preset of that name, or over dark), or a preset.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let as_path = Path::new(name);
        let file = if name.ends_with(".toml") || name.contains('/') {
            Some(as_path.to_path_buf())
        } else {
            user_dir
                .map(|d| d.join("themes").join(format!("{name}.toml")))
                // Whatever is there is read (and refused if not a small regular file).
                .filter(|p| p.exists())
        };
        let stem = as_path.file_stem().and_then(|s| s.to_str()).unwrap_or(name);
        match file {
            Some(path) => {
                let text = read_small_file(&path).map_err(|source| ThemeError::Io {
                    path: path.clone(),
                    source,
                })?;
                let base = Theme::preset(stem).unwrap_or_default();
                base.overlay(&text, &path.display().to_string())
            }
            None => Theme::preset(name).ok_or_else(|| ThemeError::Unknown {
                name: name.to_string(),
                dir: user_dir
                    .map(|d| d.join("themes").display().to_string())
                    .unwrap_or_else(|| "the config dir's themes/".into()),
            }),
        }
    }

    /// NO_COLOR: the chrome loses its colours (images, curves and heatmaps keep theirs).
    pub fn without_color(mut self) -> Theme {
        for c in [
            &mut self.background,
            &mut self.foreground,
            &mut self.muted,
            &mut self.accent,
            &mut self.border,
            &mut self.border_focus,
            &mut self.title,
            &mut self.selection_fg,
            &mut self.selection_bg,
            &mut self.tab_active,
            &mut self.status_fg,
            &mut self.status_bg,
            &mut self.good,
            &mut self.bad,
            &mut self.warn,
        ] {
            *c = Color::Reset;
        }
        self.plain = true;
        self
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.foreground).bg(self.background)
    }
    pub fn muted(&self) -> Style {
        Style::default().fg(self.muted)
    }
    pub fn accent(&self) -> Style {
        Style::default().fg(self.accent)
    }
    pub fn title(&self) -> Style {
        Style::default().fg(self.title).add_modifier(Modifier::BOLD)
    }
    /// A block's title: bold in the title colour, in the focused border's colour when focused.
    pub fn block_title(&self, focus: bool) -> Style {
        let fg = if focus && self.border_focus != Color::Reset {
            self.border_focus
        } else {
            self.title
        };
        Style::default().fg(fg).add_modifier(Modifier::BOLD)
    }
    pub fn border(&self, focus: bool) -> Style {
        Style::default().fg(if focus {
            self.border_focus
        } else {
            self.border
        })
    }
    /// The selected row: colours plus reverse video when they are off (NO_COLOR).
    pub fn selection(&self) -> Style {
        if self.selection_bg == Color::Reset {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().fg(self.selection_fg).bg(self.selection_bg)
        }
    }
    pub fn tab_active(&self) -> Style {
        Style::default()
            .fg(self.tab_active)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
    pub fn status(&self) -> Style {
        Style::default().fg(self.status_fg).bg(self.status_bg)
    }
    pub fn good(&self) -> Style {
        Style::default().fg(self.good)
    }
    pub fn bad(&self) -> Style {
        Style::default().fg(self.bad).add_modifier(Modifier::BOLD)
    }
    pub fn warn(&self) -> Style {
        Style::default().fg(self.warn)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_complete_and_distinct() {
        for (name, text) in PRESETS {
            let file: ThemeFile = toml::from_str(text).unwrap();
            assert!(
                file.heat_high.is_some() && file.curve_extra.is_some(),
                "{name}"
            );
            let t = Theme::preset(name).unwrap_or_else(|| panic!("preset {name} parses"));
            assert_eq!(t.name, name);
            assert_ne!(t.foreground, Color::Reset, "{name}");
        }
        assert_ne!(Theme::preset("dark"), Theme::preset("light"));
    }

    #[test]
    fn bad_theme_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let themes = dir.path().join("themes");
        std::fs::create_dir_all(&themes).unwrap();
        std::fs::write(themes.join("mine.toml"), "accent = \"not-a-colour\"\n").unwrap();
        let err = Theme::load("mine", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine.toml"), "{err}");
        assert!(
            err.contains("`accent`") && err.contains("not-a-colour"),
            "{err}"
        );

        std::fs::write(themes.join("typo.toml"), "name = \"x\"\naccnt = \"red\"\n").unwrap();
        let err = Theme::load("typo", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("typo.toml") && err.contains("accnt"), "{err}");
        assert!(err.contains("line 2"), "{err}");

        std::fs::write(themes.join("broken.toml"), "accent = \n").unwrap();
        let err = Theme::load("broken", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("theme file"), "{err}");

        let err = Theme::load("nope", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown theme 'nope'"), "{err}");
    }

    #[test]
    fn user_theme_overrides_a_preset_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let themes = dir.path().join("themes");
        std::fs::create_dir_all(&themes).unwrap();
        std::fs::write(themes.join("light.toml"), "accent = \"#010203\"\n").unwrap();
        let t = Theme::load("light", Some(dir.path())).unwrap();
        let light = Theme::preset("light").unwrap();
        assert_eq!(t.accent, Color::Rgb(1, 2, 3));
        assert_eq!(t.foreground, light.foreground);
        let plain = Theme::load("dark", Some(dir.path())).unwrap();
        assert_eq!(plain, Theme::default());
    }

    #[test]
    fn no_color_keeps_data_colours_only() {
        let t = Theme::default().without_color();
        assert_eq!(t.accent, Color::Reset);
        assert_eq!(t.selection().add_modifier, Modifier::REVERSED);
        assert_eq!(t.heat_high, Theme::default().heat_high);
        assert_eq!(t.curve_train, Theme::default().curve_train);
    }

    #[test]
    fn theme_files_must_be_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let themes = dir.path().join("themes");
        std::fs::create_dir_all(themes.join("folder.toml")).unwrap();
        let err = |name: &str| Theme::load(name, Some(dir.path())).unwrap_err().to_string();

        // The reported case: read until out of memory.
        let e = err("/dev/zero");
        assert!(
            e.contains("/dev/zero") && e.contains("a character device, not a regular file"),
            "{e}"
        );
        let e = err("folder");
        assert!(
            e.contains("folder.toml") && e.contains("a directory, not a regular file"),
            "{e}"
        );
        let big = dir.path().join("big.toml");
        let mut text = "accent = \"red\"\n".to_string();
        text.push_str(&"# padding\n".repeat(120_000));
        std::fs::write(&big, text).unwrap();
        let e = err(big.to_str().unwrap());
        assert!(e.contains("big.toml") && e.contains("too large"), "{e}");
        std::fs::write(&big, [b'#', 0xff, b'\n']).unwrap();
        let e = err(big.to_str().unwrap());
        assert!(e.contains("not UTF-8"), "{e}");

        // A FIFO would block the open: refused first.
        let fifo = themes.join("pipe.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = err("pipe");
            assert!(e.contains("a FIFO, not a regular file"), "{e}");
        }
    }
}

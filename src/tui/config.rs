//! The user's config: `config.toml` in the config dir (`directories`), with the theme and keys.
//!
//! ```toml
//! theme = "light"          # a preset, a themes/NAME.toml beside this file, or a path
//! images = "auto"          # or halfblocks, kitty, sixel (`--images` wins)
//! [keys]
//! log_scale = ["L", "g"]   # or a single string
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::keymap::Keymap;
use super::theme::Theme;
use super::widgets::graphics::Images;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    theme: Option<String>,
    images: Option<String>,
    keys: BTreeMap<String, OneOrMany>,
}

/// The config dir of vqtex (`~/.config/vqtex` on Linux), when the platform has one.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "vqtex").map(|d| d.config_dir().to_path_buf())
}

use super::userfile::read_small_file;
#[cfg(test)]
use super::userfile::MAX_FILE_BYTES;

/// What the user config settles.
#[derive(Debug, Clone)]
pub struct Settings {
    pub theme: Theme,
    pub keymap: Keymap,
    /// The file's `images` (`auto` when absent); `--images` wins over it.
    pub images: Images,
}

/// Reads `dir/config.toml` (absent is fine) and resolves the theme: `theme_arg` (from `--theme`)
/// wins over the file's `theme`, which wins over `dark`. NO_COLOR strips the chrome's colours.
pub fn load(
    dir: Option<&Path>,
    theme_arg: Option<&str>,
    no_color: bool,
) -> Result<Settings, String> {
    let path = dir.map(|d| d.join("config.toml"));
    let file = match &path {
        Some(path) => match read_small_file(path) {
            Ok(text) => parse(&text).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        },
        None => ConfigFile::default(),
    };
    let name = theme_arg
        .map(str::to_string)
        .or(file.theme.clone())
        .unwrap_or_else(|| "dark".into());
    let mut theme = Theme::load(&name, dir).map_err(|e| e.to_string())?;
    if no_color {
        theme = theme.without_color();
    }
    let keys: BTreeMap<String, Vec<String>> = file
        .keys
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                match v {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                },
            )
        })
        .collect();
    let keymap = Keymap::with_overrides(&keys).map_err(|e| match &path {
        Some(p) if p.exists() => format!("{}: {e}", p.display()),
        _ => e,
    })?;
    let images = match &file.images {
        Some(v) => v.parse().map_err(|e| match &path {
            Some(p) => format!("{}: images: {e}", p.display()),
            None => e,
        })?,
        None => Images::Auto,
    };
    Ok(Settings {
        theme,
        keymap,
        images,
    })
}

fn parse(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sets_theme_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "theme = \"light\"\n[keys]\nlog_scale = \"g\"\nquit = [\"q\", \"ctrl-q\"]\n",
        )
        .unwrap();
        let s = load(Some(dir.path()), None, false).unwrap();
        assert_eq!(s.theme.name, "light");
        assert_eq!(
            s.keymap.keys_of(super::super::keymap::Action::LogScale),
            "g"
        );
        let s = load(Some(dir.path()), Some("high-contrast"), true).unwrap();
        assert_eq!(s.theme.name, "high-contrast");
        assert_eq!(s.theme.accent, ratatui::style::Color::Reset);
    }

    #[test]
    fn config_sets_the_image_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert_eq!(
            load(Some(dir.path()), None, false).unwrap().images,
            Images::Auto
        );
        std::fs::write(&path, "images = \"kitty\"\n").unwrap();
        assert_eq!(
            load(Some(dir.path()), None, false).unwrap().images,
            Images::Kitty
        );
        std::fs::write(&path, "images = \"chafa\"\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(
            e.contains("config.toml: images: unknown image mode 'chafa'"),
            "{e}"
        );
    }

    #[test]
    fn bad_config_names_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "colour = \"x\"\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(e.contains("config.toml") && e.contains("colour"), "{e}");
        std::fs::write(dir.path().join("config.toml"), "[keys]\nzap = \"z\"\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(e.contains("unknown action 'zap'"), "{e}");
        std::fs::write(dir.path().join("config.toml"), "theme = \"nope\"\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(e.contains("unknown theme 'nope'"), "{e}");
        assert!(load(None, None, false).is_ok());
    }

    #[test]
    fn config_must_be_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::create_dir(&path).unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(
            e.contains("config.toml") && e.contains("a directory, not a regular file"),
            "{e}"
        );
        std::fs::remove_dir(&path).unwrap();
        std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(e.contains("config.toml") && e.contains("too large"), "{e}");
        // A link to a device is followed and refused.
        std::fs::remove_file(&path).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
            let e = load(Some(dir.path()), None, false).unwrap_err();
            assert!(e.contains("a character device"), "{e}");
            std::fs::remove_file(&path).unwrap();
        }
        // theme = "/dev/zero" in the file: refused, not read.
        std::fs::write(&path, "theme = \"/dev/zero\"\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
        // Absent is fine.
        std::fs::remove_file(&path).unwrap();
        assert!(load(Some(dir.path()), None, false).is_ok());
    }

    #[test]
    fn lock_in_keys_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[keys]\nquit = []\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(e.contains("config.toml") && e.contains("quit = []"), "{e}");
        std::fs::write(&path, "[keys]\njump = \"?\"\n").unwrap();
        let e = load(Some(dir.path()), None, false).unwrap_err();
        assert!(
            e.contains("config.toml") && e.contains("key '?'") && e.contains("help"),
            "{e}"
        );
    }
}

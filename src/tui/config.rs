//! The user's config: `config.toml` in the config dir (`directories`), with the theme and keys.
//!
//! ```toml
//! theme = "light"          # a preset, a themes/NAME.toml beside this file, or a path
//! [keys]
//! log_scale = ["L", "g"]   # or a single string
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::keymap::Keymap;
use super::theme::Theme;

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
    keys: BTreeMap<String, OneOrMany>,
}

/// The config dir of vqtex (`~/.config/vqtex` on Linux), when the platform has one.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "vqtex").map(|d| d.config_dir().to_path_buf())
}

/// The data dir of vqtex, where the log file goes.
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "vqtex").map(|d| d.data_dir().to_path_buf())
}

/// What the user config settles.
#[derive(Debug, Clone)]
pub struct Settings {
    pub theme: Theme,
    pub keymap: Keymap,
}

/// Reads `dir/config.toml` (absent is fine) and resolves the theme: `theme_arg` (from `--theme`)
/// wins over the file's `theme`, which wins over `dark`. NO_COLOR strips the chrome's colours.
pub fn load(
    dir: Option<&Path>,
    theme_arg: Option<&str>,
    no_color: bool,
) -> Result<Settings, String> {
    let file = match dir.map(|d| d.join("config.toml")) {
        Some(path) if path.is_file() => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        _ => ConfigFile::default(),
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
    let keymap = Keymap::with_overrides(&keys)?;
    Ok(Settings { theme, keymap })
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
}

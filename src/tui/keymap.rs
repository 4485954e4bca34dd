//! Keys to actions. Defaults are vim-style and arrows; `[keys]` in the user's config.toml rebinds
//! an action (`log_scale = ["L", "ctrl-l"]`), replacing its default keys.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can do. Panes interpret the generic ones (up, select, run...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    NextPane,
    PrevPane,
    Pane(u8),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Select,
    Back,
    Start,
    Pause,
    Stop,
    LogScale,
    Smooth,
    SmoothLess,
    SmoothMore,
    NextTerm,
    Run,
    Protocol,
    ClassFilter,
    SplitFilter,
    Jump,
    Open,
    Delete,
    More,
    Less,
    Pick,
    BoxSwitch,
    CopyPrev,
    Mouse,
}

/// Name in config files, default keys, and what it does (for the help overlay).
pub const ACTIONS: [(Action, &str, &[&str], &str); 41] = [
    (
        Action::Quit,
        "quit",
        &["q", "ctrl-c"],
        "quit (asks while training)",
    ),
    (Action::Help, "help", &["?"], "show or hide this help"),
    (Action::NextPane, "next_pane", &["tab"], "next pane"),
    (Action::PrevPane, "prev_pane", &["backtab"], "previous pane"),
    (Action::Pane(1), "pane_data", &["1"], "Data pane"),
    (Action::Pane(2), "pane_train", &["2"], "Train pane"),
    (
        Action::Pane(3),
        "pane_recon",
        &["3"],
        "Reconstructions pane",
    ),
    (Action::Pane(4), "pane_latent", &["4"], "Latent pane"),
    (Action::Pane(5), "pane_classify", &["5"], "Classify pane"),
    (Action::Pane(6), "pane_runs", &["6"], "Runs pane"),
    (Action::Pane(7), "pane_compare", &["7"], "Compare pane"),
    (Action::Pane(8), "pane_picker", &["8"], "ROI picker pane"),
    (Action::Up, "up", &["up", "k"], "move up / previous field"),
    (
        Action::Down,
        "down",
        &["down", "j"],
        "move down / next field",
    ),
    (
        Action::Left,
        "left",
        &["left", "h"],
        "move left / previous variable",
    ),
    (
        Action::Right,
        "right",
        &["right", "l"],
        "move right / next variable",
    ),
    (Action::PageUp, "page_up", &["pageup"], "page up"),
    (Action::PageDown, "page_down", &["pagedown"], "page down"),
    (
        Action::Select,
        "select",
        &["enter"],
        "edit field / open / confirm",
    ),
    (Action::Back, "back", &["esc"], "cancel, close popup"),
    (Action::Start, "start", &["s"], "Train: start a training"),
    (
        Action::Pause,
        "pause",
        &["space"],
        "Train: pause/resume · mark a run",
    ),
    (Action::Stop, "stop", &["x"], "Train: stop (asks)"),
    (
        Action::LogScale,
        "log_scale",
        &["L"],
        "Train: log scale on/off",
    ),
    (
        Action::Smooth,
        "smooth",
        &["e"],
        "Train: EMA smoothing on/off",
    ),
    (
        Action::SmoothLess,
        "smooth_less",
        &["["],
        "Train: less smoothing",
    ),
    (
        Action::SmoothMore,
        "smooth_more",
        &["]"],
        "Train: more smoothing",
    ),
    (
        Action::NextTerm,
        "next_term",
        &["t"],
        "Train: next loss term",
    ),
    (Action::Run, "run", &["r"], "compute / refresh the pane"),
    (
        Action::Protocol,
        "protocol",
        &["p"],
        "Classify: protocol paper/lopo",
    ),
    (
        Action::ClassFilter,
        "class_filter",
        &["c"],
        "Data: filter by class",
    ),
    (
        Action::SplitFilter,
        "split_filter",
        &["f"],
        "Data: filter by split",
    ),
    (Action::Jump, "jump", &["/"], "Data: jump to a patient id"),
    (
        Action::Open,
        "open",
        &["o"],
        "open a dataset / frames folder",
    ),
    (
        Action::Delete,
        "delete",
        &["d"],
        "Runs: delete a run (asks)",
    ),
    (
        Action::More,
        "more",
        &["+", "="],
        "Latent: steps+ · Picker: zoom in",
    ),
    (
        Action::Less,
        "less",
        &["-"],
        "Latent: steps- · Picker: zoom out",
    ),
    (
        Action::Pick,
        "pick",
        &["n"],
        "Recon: other ROIs · Latent: range",
    ),
    (
        Action::BoxSwitch,
        "box_switch",
        &["b"],
        "Picker: switch liver/kidney box",
    ),
    (
        Action::CopyPrev,
        "copy_prev",
        &["y"],
        "Picker: copy previous frame's boxes",
    ),
    (Action::Mouse, "mouse", &["m"], "Picker: mouse on/off"),
];

/// A key with modifiers, as written in config files: `q`, `ctrl-c`, `alt-x`, `enter`, `f5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// The subset of key codes bindable, ordered (crossterm's KeyCode is not `Ord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(&'static str),
}

const NAMED: [(&str, KeyCode); 14] = [
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("delete", KeyCode::Delete),
];

impl Key {
    /// Parses `ctrl-c`, `alt-enter`, `space`, `F5`, `L` (a capital letter is shift+letter).
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let lower = rest.to_ascii_lowercase();
        let code = if rest.chars().count() == 1 {
            let c = rest.chars().next().expect("one char");
            KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c })
        } else if lower == "space" {
            KeyCodeOrd::Char(' ')
        } else if let Some((name, _)) = NAMED.iter().find(|(n, _)| *n == lower) {
            KeyCodeOrd::Named(name)
        } else if let Some(n) = lower
            .strip_prefix('f')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=12).contains(n))
        {
            KeyCodeOrd::F(n)
        } else {
            return Err(format!(
                "unknown key '{s}' (examples: q, L, ctrl-c, alt-x, enter, esc, tab, space, up, f5)"
            ));
        };
        Ok(Key { code, ctrl, alt })
    }

    /// The key of a terminal event (shift is folded into the character).
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            other => NAMED
                .iter()
                .find(|(_, k)| *k == other)
                .map(|(n, _)| KeyCodeOrd::Named(n))?,
        };
        Some(Key { code, ctrl, alt })
    }

    /// How the help overlay writes the key.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCodeOrd::Char(' ') => "space".to_string(),
            KeyCodeOrd::Char(c) => c.to_string(),
            KeyCodeOrd::F(n) => format!("F{n}"),
            KeyCodeOrd::Named(n) => n.to_string(),
        };
        let mut s = String::new();
        if self.ctrl {
            s.push_str("ctrl-");
        }
        if self.alt {
            s.push_str("alt-");
        }
        s + &base
    }
}

/// The bindings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    map: BTreeMap<Key, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut map = BTreeMap::new();
        for (action, _, keys, _) in ACTIONS {
            for k in keys {
                map.insert(Key::parse(k).expect("default keys parse"), action);
            }
        }
        Keymap { map }
    }
}

impl Keymap {
    /// The defaults with `overrides` (action name -> keys) applied: an overridden action loses its
    /// default keys, and a key bound by the user leaves whatever action had it.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut km = Keymap::default();
        for (name, keys) in overrides {
            let action = ACTIONS
                .iter()
                .find(|(_, n, _, _)| n == name)
                .map(|(a, ..)| *a)
                .ok_or_else(|| {
                    let names: Vec<&str> = ACTIONS.iter().map(|(_, n, ..)| *n).collect();
                    format!(
                        "[keys]: unknown action '{name}' (actions: {})",
                        names.join(", ")
                    )
                })?;
            km.map.retain(|_, a| *a != action);
            for k in keys {
                let key = Key::parse(k).map_err(|e| format!("[keys] {name}: {e}"))?;
                km.map.insert(key, action);
            }
        }
        Ok(km)
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        Key::from_event(ev).and_then(|k| self.map.get(&k).copied())
    }

    /// The keys of an action, as labels (`q, ctrl-c`).
    pub fn keys_of(&self, action: Action) -> String {
        let mut keys: Vec<&Key> = self
            .map
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| k)
            .collect();
        // Plain keys first.
        keys.sort_by_key(|k| k.ctrl || k.alt);
        let v: Vec<String> = keys.iter().map(|k| k.label()).collect();
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn parses_keys() {
        assert_eq!(Key::parse("q").unwrap().code, KeyCodeOrd::Char('q'));
        let k = Key::parse("Ctrl-C").unwrap();
        assert!(k.ctrl && k.code == KeyCodeOrd::Char('c'));
        assert_eq!(Key::parse("space").unwrap().code, KeyCodeOrd::Char(' '));
        assert_eq!(Key::parse("F5").unwrap().code, KeyCodeOrd::F(5));
        assert_eq!(
            Key::parse("ENTER").unwrap().code,
            KeyCodeOrd::Named("enter")
        );
        assert!(Key::parse("alt-x").unwrap().alt);
        assert_eq!(Key::parse("-").unwrap().code, KeyCodeOrd::Char('-'));
        assert!(Key::parse("hyper-q").unwrap_err().contains("unknown key"));
        assert!(Key::parse("f13").is_err());
    }

    #[test]
    fn default_bindings_and_events() {
        let km = Keymap::default();
        let a = |c, m| km.action(&ev(c, m));
        assert_eq!(
            a(KeyCode::Char('q'), KeyModifiers::NONE),
            Some(Action::Quit)
        );
        assert_eq!(
            a(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Action::Quit)
        );
        assert_eq!(
            a(KeyCode::Char('L'), KeyModifiers::SHIFT),
            Some(Action::LogScale)
        );
        assert_eq!(
            a(KeyCode::Char('l'), KeyModifiers::NONE),
            Some(Action::Right)
        );
        assert_eq!(a(KeyCode::Tab, KeyModifiers::NONE), Some(Action::NextPane));
        assert_eq!(
            a(KeyCode::Char('3'), KeyModifiers::NONE),
            Some(Action::Pane(3))
        );
        assert_eq!(a(KeyCode::Char('Z'), KeyModifiers::SHIFT), None);
        assert_eq!(km.keys_of(Action::Quit), "q, ctrl-c");
        // Every default key is bound once.
        let n: usize = ACTIONS.iter().map(|(_, _, k, _)| k.len()).sum();
        assert_eq!(km.map.len(), n, "a default key is bound twice");
    }

    #[test]
    fn overrides_replace_and_steal_keys() {
        let mut o = BTreeMap::new();
        o.insert("log_scale".to_string(), vec!["g".to_string()]);
        o.insert("quit".to_string(), vec!["ctrl-q".to_string()]);
        let km = Keymap::with_overrides(&o).unwrap();
        let a = |c, m| km.action(&ev(c, m));
        assert_eq!(
            a(KeyCode::Char('g'), KeyModifiers::NONE),
            Some(Action::LogScale)
        );
        assert_eq!(a(KeyCode::Char('L'), KeyModifiers::SHIFT), None);
        assert_eq!(a(KeyCode::Char('q'), KeyModifiers::NONE), None);
        assert_eq!(
            a(KeyCode::Char('q'), KeyModifiers::CONTROL),
            Some(Action::Quit)
        );

        let mut bad = BTreeMap::new();
        bad.insert("fly".to_string(), vec!["f".to_string()]);
        let e = Keymap::with_overrides(&bad).unwrap_err();
        assert!(e.contains("unknown action 'fly'"), "{e}");
        let mut bad = BTreeMap::new();
        bad.insert(
            "quit".to_string(),
            vec!["ctrl-".to_string(), "meta-q".to_string()],
        );
        let e = Keymap::with_overrides(&bad).unwrap_err();
        assert!(
            e.contains("[keys] quit") && e.contains("unknown key"),
            "{e}"
        );
    }
}

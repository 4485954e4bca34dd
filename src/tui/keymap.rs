//! Keys to actions. Defaults are vim-style and arrows; `[keys]` in the user's config.toml rebinds
//! an action (`log_scale = ["L", "ctrl-l"]`), replacing its default keys.
//!
//! A key does one thing where it is pressed: two actions may share a key only when no pane reads
//! both (global actions such as `quit` and `help` are read in every pane). A config that binds a
//! key twice in one pane, or leaves `quit` without a key, is refused before the screen changes.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Pane;

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
    Anchor,
    EditCodes,
    SortCodes,
    Unusual,
    StepBack,
    StepForward,
    StepBack10,
    StepForward10,
    StepFirst,
    StepLatest,
}

/// Name in config files, default keys, and what it does (for the help overlay).
pub const ACTIONS: [(Action, &str, &[&str], &str); 51] = [
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
        "edit / open / confirm · Recon: view",
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
    (
        Action::Anchor,
        "anchor",
        &["a"],
        "Latent: next test ROI as anchor",
    ),
    (
        Action::EditCodes,
        "edit_codes",
        &["i"],
        "Latent: edit the anchor's codes",
    ),
    (
        Action::SortCodes,
        "sort_codes",
        &["S"],
        "Latent: sort codes by next column",
    ),
    (
        Action::Unusual,
        "unusual",
        &["u"],
        "Data: ROIs by OOD score vs run",
    ),
    (
        Action::StepBack,
        "step_back",
        &[","],
        "Train/Recon: scrub one epoch back",
    ),
    (
        Action::StepForward,
        "step_forward",
        &["."],
        "Train/Recon: one epoch forward",
    ),
    (
        Action::StepBack10,
        "step_back_10",
        &["<"],
        "Train/Recon: ten epochs back",
    ),
    (
        Action::StepForward10,
        "step_forward_10",
        &[">"],
        "Train/Recon: ten epochs forward",
    ),
    (
        Action::StepFirst,
        "step_first",
        &["home"],
        "Train/Recon: first epoch",
    ),
    (
        Action::StepLatest,
        "step_latest",
        &["end"],
        "Train/Recon: back to latest epoch",
    ),
];

/// Where an action's keys are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every pane, before the pane sees the key (`input.rs`).
    Global,
    /// Only in these panes: the panes whose `on_action` reads it.
    Panes(&'static [Pane]),
}

impl Scope {
    fn has(self, pane: Pane) -> bool {
        match self {
            Scope::Global => true,
            Scope::Panes(p) => p.contains(&pane),
        }
    }

    fn overlaps(self, other: Scope) -> bool {
        match (self, other) {
            (Scope::Panes(a), Scope::Panes(b)) => a.iter().any(|p| b.contains(p)),
            _ => true,
        }
    }

    fn describe(self) -> String {
        match self {
            Scope::Global => "every pane".into(),
            Scope::Panes(p) => {
                let names: Vec<&str> = p.iter().map(|p| p.name()).collect();
                format!("{} pane", names.join("/"))
            }
        }
    }
}

/// Where `action` is read: kept in step with the panes' `on_action` (a test checks it against the
/// panes' sources).
pub fn scope(action: Action) -> Scope {
    use super::app::Pane as P;
    use Action::*;
    match action {
        Quit | Help | NextPane | PrevPane | Pane(_) | Back => Scope::Global,
        Up | Down => Scope::Panes(&[
            P::Data,
            P::Train,
            P::Recon,
            P::Latent,
            P::Classify,
            P::Runs,
            P::Compare,
            P::Picker,
        ]),
        Left | Right => Scope::Panes(&[
            P::Data,
            P::Train,
            P::Recon,
            P::Latent,
            P::Classify,
            P::Compare,
            P::Picker,
        ]),
        PageUp | PageDown => Scope::Panes(&[
            P::Data,
            P::Recon,
            P::Latent,
            P::Classify,
            P::Compare,
            P::Picker,
        ]),
        Select => Scope::Panes(&[
            P::Train,
            P::Recon,
            P::Classify,
            P::Runs,
            P::Compare,
            P::Picker,
        ]),
        Start | Stop | LogScale | Smooth | SmoothLess | SmoothMore | NextTerm => {
            Scope::Panes(&[P::Train])
        }
        Pause => Scope::Panes(&[P::Train, P::Runs, P::Compare]),
        Run => Scope::Panes(&[
            P::Recon,
            P::Latent,
            P::Classify,
            P::Runs,
            P::Compare,
            P::Picker,
        ]),
        Protocol => Scope::Panes(&[P::Classify]),
        ClassFilter | SplitFilter | Jump | Unusual => Scope::Panes(&[P::Data]),
        Open => Scope::Panes(&[P::Data, P::Picker]),
        Delete => Scope::Panes(&[P::Runs]),
        More | Less => Scope::Panes(&[P::Latent, P::Picker]),
        Pick => Scope::Panes(&[P::Recon, P::Latent]),
        BoxSwitch | CopyPrev | Mouse => Scope::Panes(&[P::Picker]),
        Anchor | EditCodes | SortCodes => Scope::Panes(&[P::Latent]),
        // Read by the app for both panes (`tui/steps.rs`): one cursor.
        StepBack | StepForward | StepBack10 | StepForward10 | StepFirst | StepLatest => {
            Scope::Panes(&[P::Train, P::Recon])
        }
    }
}

fn name_of(action: Action) -> &'static str {
    ACTIONS
        .iter()
        .find(|(a, ..)| *a == action)
        .map(|(_, n, ..)| *n)
        .unwrap_or("?")
}

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

    /// Whether every terminal sends this key as itself. Not so with ctrl and i, m, h or j (sent as
    /// tab, enter, backspace and a newline) or with ctrl and anything but a letter or F-key (a
    /// digit, a sign, enter, tab: sent as the plain key or not at all).
    pub fn reliable(&self) -> bool {
        if !self.ctrl {
            return true;
        }
        match self.code {
            KeyCodeOrd::Char(c) => {
                c.is_ascii_alphabetic() && !matches!(c.to_ascii_lowercase(), 'i' | 'm' | 'h' | 'j')
            }
            KeyCodeOrd::F(_) => true,
            KeyCodeOrd::Named(_) => false,
        }
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

/// The bindings in force: each key with the actions it does, no two of them read in one pane.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    map: BTreeMap<Key, Vec<Action>>,
}

impl Default for Keymap {
    fn default() -> Self {
        // Not reachable from user input; a test checks that the defaults bind each key once.
        Keymap::with_overrides(&BTreeMap::new()).expect("the default keys are valid")
    }
}

impl Keymap {
    /// The defaults with `overrides` (action name -> keys) applied: an overridden action loses its
    /// default keys. Refused: an unknown action or key, `quit` without a key, and a key given to
    /// two actions that a pane reads both of (the message names the key and both actions).
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut bound: Vec<(Action, Vec<Key>, bool)> = Vec::new();
        for (action, _, keys, _) in ACTIONS {
            let keys = keys
                .iter()
                .map(|k| Key::parse(k).map_err(|e| format!("default key of {action:?}: {e}")))
                .collect::<Result<Vec<Key>, String>>()?;
            bound.push((action, keys, false));
        }
        for (name, keys) in overrides {
            let entry = bound
                .iter_mut()
                .find(|(a, ..)| name_of(*a) == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = ACTIONS.iter().map(|(_, n, ..)| *n).collect();
                    format!(
                        "[keys]: unknown action '{name}' (actions: {})",
                        names.join(", ")
                    )
                })?;
            // A set: a hostile file may list many thousands of keys.
            let mut parsed = std::collections::BTreeSet::new();
            for k in keys {
                parsed.insert(Key::parse(k).map_err(|e| format!("[keys] {name}: {e}"))?);
            }
            entry.1 = parsed.into_iter().collect();
            entry.2 = true;
        }
        if let Some((_, keys, _)) = bound.iter().find(|(a, ..)| *a == Action::Quit) {
            if keys.is_empty() {
                return Err(
                    "[keys]: quit = [] leaves no way out of the workbench; give quit at least \
                     one key, e.g. quit = [\"q\", \"ctrl-c\"]"
                        .into(),
                );
            }
            if !keys.iter().any(Key::reliable) {
                let labels: Vec<String> =
                    keys.iter().map(|k| format!("\"{}\"", k.label())).collect();
                return Err(format!(
                    "[keys]: quit = [{}] has no key every terminal can send (ctrl with i, m, h or j \
                     arrives as tab, enter or backspace, ctrl with a digit or sign as the plain key \
                     or not at all), which could leave no way out; add a plain key or ctrl with a \
                     letter, e.g. \"q\" or \"ctrl-c\"",
                    labels.join(", ")
                ));
            }
        }
        let mut map: BTreeMap<Key, Vec<(Action, bool)>> = BTreeMap::new();
        for (action, keys, user) in &bound {
            for k in keys {
                map.entry(*k).or_default().push((*action, *user));
            }
        }
        let mut conflicts = Vec::new();
        for (key, actions) in &map {
            for (i, &(a, a_user)) in actions.iter().enumerate() {
                for &(b, b_user) in &actions[i + 1..] {
                    if scope(a).overlaps(scope(b)) {
                        let how = |x: Action, user: bool| {
                            format!(
                                "{} ({}, {})",
                                name_of(x),
                                if user { "set in [keys]" } else { "its default" },
                                scope(x).describe()
                            )
                        };
                        conflicts.push(format!(
                            "key '{}' is bound to both {} and {}",
                            key.label(),
                            how(a, a_user),
                            how(b, b_user)
                        ));
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(format!(
                "[keys]: {}; a key can do only one thing in a pane (quit, help, back, next_pane, \
                 prev_pane and pane_* work in every pane): give one of each pair other keys, e.g. \
                 help = [\"F1\"]",
                conflicts.join("; ")
            ));
        }
        Ok(Keymap {
            map: map
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().map(|(a, _)| a).collect()))
                .collect(),
        })
    }

    /// The action of a key pressed while `pane` is shown: a global action, or one `pane` reads.
    pub fn action(&self, ev: &KeyEvent, pane: Pane) -> Option<Action> {
        let actions = self.map.get(&Key::from_event(ev)?)?;
        actions.iter().copied().find(|a| scope(*a).has(pane))
    }

    /// The keys of an action, as labels (`q, ctrl-c`).
    pub fn keys_of(&self, action: Action) -> String {
        self.labels(action).join(", ")
    }

    /// The first key of an action (a plain key when it has one), for hints like `? help`.
    pub fn first_key(&self, action: Action) -> Option<String> {
        self.labels(action).into_iter().next()
    }

    fn labels(&self, action: Action) -> Vec<String> {
        let mut keys: Vec<&Key> = self
            .map
            .iter()
            .filter(|(_, a)| a.contains(&action))
            .map(|(k, _)| k)
            .collect();
        // Plain keys first.
        keys.sort_by_key(|k| k.ctrl || k.alt);
        keys.iter().map(|k| k.label()).collect()
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
        let a = |c, m| km.action(&ev(c, m), Pane::Train);
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
        assert_eq!(km.first_key(Action::Help).as_deref(), Some("?"));
    }

    fn over(pairs: &[(&str, &[&str])]) -> Result<Keymap, String> {
        let o: BTreeMap<String, Vec<String>> = pairs
            .iter()
            .map(|(a, k)| (a.to_string(), k.iter().map(|s| s.to_string()).collect()))
            .collect();
        Keymap::with_overrides(&o)
    }

    #[test]
    fn overrides_replace_default_keys() {
        let km = over(&[("log_scale", &["g"]), ("quit", &["ctrl-q"])]).unwrap();
        let a = |c, m| km.action(&ev(c, m), Pane::Train);
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
        assert_eq!(km.first_key(Action::Quit).as_deref(), Some("ctrl-q"));

        let e = over(&[("fly", &["f"])]).unwrap_err();
        assert!(e.contains("unknown action 'fly'"), "{e}");
        let e = over(&[("quit", &["ctrl-", "meta-q"])]).unwrap_err();
        assert!(
            e.contains("[keys] quit") && e.contains("unknown key"),
            "{e}"
        );
    }

    #[test]
    fn empty_quit_is_refused() {
        let e = over(&[("quit", &[])]).unwrap_err();
        assert!(e.contains("quit = []") && e.contains("no way out"), "{e}");
        // Other actions may lose all their keys.
        let km = over(&[("mouse", &[])]).unwrap();
        assert_eq!(km.first_key(Action::Mouse), None);
    }

    #[test]
    fn many_keys_for_one_action_are_cheap() {
        // About what a 1 MiB config can list: distinct keys, some twice.
        let keys: Vec<String> = (0..200_000u32)
            .filter_map(|i| char::from_u32(0x4e00 + i % 150_000))
            .map(|c| c.to_string())
            .collect();
        let o: BTreeMap<String, Vec<String>> = [("mouse".to_string(), keys)].into_iter().collect();
        let t0 = std::time::Instant::now();
        let km = Keymap::with_overrides(&o).unwrap();
        assert!(km.map.len() > 100_000);
        assert!(t0.elapsed().as_secs() < 10, "{:?}", t0.elapsed());
    }

    #[test]
    fn quit_needs_a_key_terminals_can_send() {
        for keys in [&["ctrl-m"][..], &["ctrl-i", "ctrl-1"], &["ctrl-enter"]] {
            let e = over(&[("quit", keys)]).unwrap_err();
            assert!(
                e.contains("quit = [") && e.contains("every terminal"),
                "{e}"
            );
        }
        for keys in [
            &["ctrl-m", "ctrl-q"][..],
            &["F10"],
            &["alt-x"],
            &["ctrl-F4"],
        ] {
            assert!(over(&[("quit", keys)]).is_ok(), "{keys:?}");
        }
    }

    #[test]
    fn a_key_bound_twice_in_one_pane_is_refused() {
        // The reported case: another action takes help's `?`.
        let e = over(&[("jump", &["?"])]).unwrap_err();
        assert!(
            e.contains("key '?'") && e.contains("help (its default") && e.contains("jump (set in"),
            "{e}"
        );
        // Two user bindings in the Train pane.
        let e = over(&[("log_scale", &["g"]), ("smooth", &["g"])]).unwrap_err();
        assert!(
            e.contains("key 'g'") && e.contains("log_scale") && e.contains("smooth"),
            "{e}"
        );
        // A global key against any pane key.
        let e = over(&[("mouse", &["q"])]).unwrap_err();
        assert!(e.contains("key 'q'") && e.contains("quit"), "{e}");
        // Every conflict is named, not only the first.
        let e = over(&[("jump", &["?"]), ("protocol", &["tab"])]).unwrap_err();
        assert!(e.contains("key '?'") && e.contains("key 'tab'"), "{e}");
    }

    #[test]
    fn panes_that_never_meet_may_share_a_key() {
        // `p` (protocol) is read in Classify only, `s` (start) in Train only.
        let km = over(&[("protocol", &["s"])]).unwrap();
        let k = ev(KeyCode::Char('s'), KeyModifiers::NONE);
        assert_eq!(km.action(&k, Pane::Train), Some(Action::Start));
        assert_eq!(km.action(&k, Pane::Classify), Some(Action::Protocol));
        assert_eq!(km.action(&k, Pane::Data), None);
        assert_eq!(km.keys_of(Action::Protocol), "s");
    }

    /// The scope table must list every pane whose `on_action` reads an action, or a key bound to
    /// it would not reach that pane.
    #[test]
    fn scopes_match_the_panes_sources() {
        let panes: [(Pane, &str); 8] = [
            (Pane::Data, include_str!("panes/data.rs")),
            (Pane::Train, include_str!("panes/train.rs")),
            (Pane::Recon, include_str!("panes/recon.rs")),
            (Pane::Latent, include_str!("panes/latent.rs")),
            (Pane::Classify, include_str!("panes/classify.rs")),
            (Pane::Runs, include_str!("panes/runs.rs")),
            (Pane::Compare, include_str!("panes/compare.rs")),
            (Pane::Picker, include_str!("panes/picker.rs")),
        ];
        for (pane, src) in panes {
            for (action, ..) in ACTIONS {
                let name = format!("Action::{action:?}");
                let used = src.match_indices(&name).any(|(i, _)| {
                    // `Action::Pane(1)` is not `Action::Pause`; whole words only.
                    !src[i + name.len()..].starts_with(|c: char| c.is_alphanumeric())
                });
                if used {
                    assert!(
                        scope(action).has(pane),
                        "{} pane reads {name} but scope() leaves it out",
                        pane.name()
                    );
                }
            }
        }
    }
}

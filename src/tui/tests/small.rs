//! Every pane at 80x24, 100x30 and 200x60: each panel has a place or can be scrolled to, the
//! help overlay scrolls and filters, the tab bar keeps its marker, the status line cuts whole
//! words.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{app, key, screen};
use crate::tui::app::{App, Pane};
use crate::tui::keymap::ACTIONS;

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (200, 60)];

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn full() -> App {
    let (app, rx) = crate::tui::fixture::fixed_app(None).unwrap();
    // The receiver is only needed while jobs would answer; none are started.
    std::mem::forget(rx);
    app
}

/// The text of the help overlay's entries seen at `w`x`h` while scrolling from the top to the
/// end with `down`.
fn help_pages(app: &mut App, w: u16, h: u16, down: KeyEvent) -> (String, Vec<String>) {
    app.on_key(code(KeyCode::Home));
    let mut seen = String::new();
    let mut titles = Vec::new();
    for _ in 0..60 {
        let s = screen(app, w, h);
        titles.push(
            s.lines()
                .find(|l| l.contains("Keys ·"))
                .unwrap_or("")
                .to_string(),
        );
        seen.push_str(&s);
        if !app.on_key(down) {
            break;
        }
    }
    (seen, titles)
}

#[test]
fn help_scrolls_to_every_key_at_every_size() {
    let (mut app, _rx) = app();
    app.on_key(key('?'));
    assert!(app.help);
    for (w, h) in SIZES {
        let first = screen(&app, w, h);
        for down in [code(KeyCode::Down), code(KeyCode::PageDown), key('j')] {
            let (seen, titles) = help_pages(&mut app, w, h, down);
            for (_, _, _, desc) in ACTIONS {
                assert!(
                    seen.contains(desc),
                    "{w}x{h}: '{desc}' unreachable:\n{first}"
                );
            }
            let n = ACTIONS.len();
            if titles[0].contains(&format!(" of {n}")) {
                // Not all fit: the title says which ones are shown, down to the last.
                assert!(titles[0].contains("1-"), "{}", titles[0]);
                let last = format!("-{n} of {n}");
                assert!(titles.last().unwrap().contains(&last), "{titles:?}");
            } else {
                assert!((w, h) != (80, 24), "80x24 cannot hold {n} keys");
                assert!(
                    titles[0].contains(&format!("{n} keys")),
                    "{w}x{h}: {}",
                    titles[0]
                );
            }
        }
    }
    // End, then up: one row back at once.
    screen(&app, 80, 24);
    app.on_key(code(KeyCode::End));
    let end = screen(&app, 80, 24);
    let n = ACTIONS.len();
    assert!(end.contains(&format!("{}-{n} of {n}", n - 19)), "{end}");
    app.on_key(code(KeyCode::Up));
    assert!(screen(&app, 80, 24).contains(&format!("{}-{} of {n}", n - 20, n - 1)));
    for _ in 0..3 {
        app.on_key(code(KeyCode::PageUp));
    }
    assert!(screen(&app, 80, 24).contains(&format!("1-20 of {}", ACTIONS.len())));
}

#[test]
fn help_filters_by_key_name_and_description() {
    let (mut app, _rx) = app();
    app.on_key(key('?'));
    app.on_key(key('/'));
    for c in "zoom".chars() {
        app.on_key(key(c));
    }
    let s = screen(&app, 80, 24);
    assert!(s.contains("/zoom█"), "{s}");
    assert!(
        s.contains("Picker: zoom in") && s.contains("Picker: zoom out"),
        "{s}"
    );
    assert!(s.contains("2 keys") && !s.contains("Data pane"), "{s}");
    // Typed keys go to the filter, not to the workbench: `q` did not quit, `2` no pane.
    app.on_key(code(KeyCode::Backspace));
    app.on_key(code(KeyCode::Backspace));
    app.on_key(code(KeyCode::Backspace));
    app.on_key(code(KeyCode::Backspace));
    for c in "ctrl-c".chars() {
        app.on_key(key(c));
    }
    let s = screen(&app, 80, 24);
    assert!(
        s.contains("quit (asks while training)") && s.contains("1 keys"),
        "{s}"
    );
    assert!(app.exit.is_none() && app.pane == Pane::Data);
    // Enter keeps the filter, esc clears it, a second esc closes.
    app.on_key(code(KeyCode::Enter));
    assert!(screen(&app, 80, 24).contains("/ctrl-c · esc clears"));
    app.on_key(code(KeyCode::Esc));
    assert!(app.help && screen(&app, 80, 24).contains(&format!("1-20 of {}", ACTIONS.len())));
    let s = screen(&app, 80, 24);
    assert!(s.contains("Data pane"), "{s}");
    // A filter nothing matches says so.
    app.on_key(key('/'));
    app.on_key(key('@'));
    assert!(screen(&app, 80, 24).contains("no key matches '@'"));
    app.on_key(code(KeyCode::Esc));
    app.on_key(code(KeyCode::Esc));
    assert!(!app.help);
    assert!(app.help_view.filter.is_empty());
}

#[test]
fn the_tab_bar_keeps_its_marker_and_every_pane_number() {
    use crate::tui::ui::tab_labels;
    for width in [60usize, 80, 100, 120, 200] {
        for marker in [" ● training", " ● watching", " ○ not running"] {
            let mw = marker.chars().count();
            for active in Pane::ALL {
                let (brand, tabs) = tab_labels(active, width, mw);
                let line = format!("{brand}{}{marker}", tabs.concat());
                assert!(line.chars().count() <= width, "{width}: {line}");
                for p in Pane::ALL {
                    assert!(
                        tabs[p.index()].contains(&(p.index() + 1).to_string()),
                        "{line}"
                    );
                }
                assert!(
                    tabs[active.index()].contains(&active.name()[..3]),
                    "{width}: the shown pane is named: {line}"
                );
            }
        }
    }
    // Full names where they fit, short ones at 80 beside the marker.
    let (_, tabs) = tab_labels(Pane::Data, 200, 11);
    assert_eq!(tabs[4], " 5 Classify ");
    let (_, tabs) = tab_labels(Pane::Data, 80, 11);
    assert_eq!(tabs[4], " 5 Class");
    let (mut app, _rx) = app();
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        let bar = s.lines().next().unwrap();
        assert!(bar.contains("8 Pick"), "{w}x{h}: {bar}");
    }
    app.on_key(key('5'));
    let bar = screen(&app, 60, 20).lines().next().unwrap().to_string();
    assert!(bar.contains("5 Classify") && bar.contains(" 8"), "{bar}");
}

#[test]
fn the_status_line_puts_the_message_first_and_cuts_whole_words() {
    use crate::tui::ui::{fit_words, status_line};
    let hints = vec!["? help".to_string(), "q quit".to_string()];
    let info = vec![
        "data sample-data (550 ROIs)".to_string(),
        "run vqvae-20260101-120000".to_string(),
        "device cpu (2 threads)".to_string(),
    ];
    // Information gives way to the hints, the last segment first.
    let (l, r) = status_line(&info, false, &hints, 80);
    assert_eq!(r, " ? help · q quit ");
    assert_eq!(
        l,
        " data sample-data (550 ROIs) · run vqvae-20260101-120000"
    );
    let (l, r) = status_line(&info, false, &hints, 200);
    assert!(l.ends_with("device cpu (2 threads)") && r.contains("q quit"));
    // A message keeps its place; hints go, whole, when it needs their room.
    let msg =
        vec!["training in /home/someone/vqtex/runs/vqvae-20261130-101010 (epochs 250)".into()];
    let (l, r) = status_line(&msg, true, &hints, 80);
    assert!(l.contains("(epochs 250)"), "{l}");
    assert!(r.is_empty() || r == " ? help ", "{r}");
    assert!(l.chars().count() + r.chars().count() <= 80);
    let (l, r) = status_line(&msg, true, &hints, 60);
    assert!(
        r.is_empty() && l.ends_with('…') && l.chars().count() <= 60,
        "{l}"
    );
    // Cut at a space, never mid-word.
    assert_eq!(
        fit_words("stopping after the current step", 20),
        "stopping after the…"
    );
    assert_eq!(fit_words("short", 20), "short");
    // On the screen: a long message at 80 columns, whole words.
    let (mut app, _rx) = app();
    app.say(
        "cannot start: the runs folder /very/long/path/to/the/runs is not writable by you",
        true,
    );
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        let status = s.lines().last().unwrap();
        assert!(
            status.contains(" cannot start: the runs"),
            "{w}x{h}: {status}"
        );
        let cut = status.trim_end();
        assert!(
            cut.ends_with("by you") || cut.ends_with('…') || cut.ends_with("quit"),
            "{w}x{h}: {status}"
        );
    }
}

#[test]
fn the_train_pane_shows_every_panel_at_every_size_and_no_codebook_for_an_mae() {
    let mut app = full();
    app.pane = Pane::Train;
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        for needle in [
            "Progress · training",
            "Hyperparameters",
            "Loss: total",
            "Codebook: 42 used",
            "Reconstructions · epoch 12",
            "▀",
        ] {
            assert!(s.contains(needle), "{w}x{h}: missing {needle}:\n{s}");
        }
    }
    // An MAE records no codebook: no Codebook panel, the reconstructions take its room.
    for r in &mut app.train.records {
        r.codes_used = None;
        r.perplexity = None;
    }
    app.train.form.cycle_model(-1);
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        assert!(!s.contains("Codebook"), "{w}x{h}:\n{s}");
        let thumbs = s.lines().find(|l| l.contains("Reconstructions")).unwrap();
        assert!(thumbs.starts_with('┌'), "{w}x{h}: full width: {thumbs}");
    }
    // Before any record, the form's model decides.
    let mut pane = crate::tui::panes::train::TrainPane::default();
    assert!(pane.has_codebook(), "the form starts on the VQ-VAE");
    pane.form.cycle_model(-1);
    assert_eq!(pane.form.model(), "mae");
    assert!(!pane.has_codebook());
}

#[test]
fn recon_reaches_this_runs_code_map_and_means_beside_other_models() {
    let mut app = full();
    app.pane = Pane::Recon;
    assert!(!app.recon.peers.is_empty());
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        assert!(s.contains("Models side by side"), "{w}x{h}:\n{s}");
        assert!(!s.contains("Test means"), "{w}x{h}:\n{s}");
    }
    // enter: this run alone, with its code map and test means.
    app.on_key(code(KeyCode::Enter));
    assert!(app.recon.this_run);
    for (w, h) in SIZES {
        let mut s = screen(&app, w, h);
        // What the screen cannot hold is a page down away.
        for _ in 0..3 {
            if s.contains("Test means") {
                break;
            }
            assert!(s.contains("▼ more · pgdn"), "{w}x{h}:\n{s}");
            app.on_key(code(KeyCode::PageDown));
            s = screen(&app, w, h);
        }
        for needle in ["7x7 code indices", "Test means (n = ", "Per-ROI metrics"] {
            assert!(s.contains(needle), "{w}x{h}: missing {needle}:\n{s}");
        }
        app.on_key(code(KeyCode::PageUp));
        app.on_key(code(KeyCode::PageUp));
        assert!(screen(&app, w, h).contains("enter: models side by side"));
    }
    app.on_key(code(KeyCode::Enter));
    assert!(screen(&app, 100, 30).contains("Models side by side"));
    // The models view too scrolls to its last model at 80x24.
    let s = screen(&app, 80, 24);
    assert!(!s.contains("vaenf    ▀"), "{s}");
    for _ in 0..3 {
        app.on_key(code(KeyCode::PageDown));
    }
    let s = screen(&app, 80, 24);
    assert!(s.contains("vaenf    ▀"), "{s}");
}

#[test]
fn recon_without_codes_gives_the_code_map_room_to_the_rest() {
    let mut app = full();
    app.pane = Pane::Recon;
    app.recon.peers.clear();
    let d = app.recon.data.as_mut().unwrap();
    d.model = crate::model::ModelKind::Mae;
    for r in &mut d.rois {
        r.codes = None;
    }
    for (w, h) in SIZES {
        let mut s = screen(&app, w, h);
        for _ in 0..3 {
            if s.contains("Test means") {
                break;
            }
            app.on_key(code(KeyCode::PageDown));
            s = screen(&app, w, h);
        }
        assert!(
            s.contains("Test means") && s.contains("Per-ROI metrics"),
            "{w}x{h}:\n{s}"
        );
        assert!(
            !s.contains("code indices") && !s.contains("no codes"),
            "{w}x{h}:\n{s}"
        );
        app.on_key(code(KeyCode::Home));
        for _ in 0..3 {
            app.on_key(code(KeyCode::PageUp));
        }
    }
}

#[test]
fn classify_before_a_run_shows_no_matrix_and_names_the_published_numbers() {
    let (mut app, _rx) = app();
    app.classify.run = Some("/runs/r".into());
    app.pane = Pane::Classify;
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        assert!(s.contains("no result yet - press r"), "{w}x{h}:\n{s}");
        assert!(s.contains("protocol: paper split"), "{w}x{h}:\n{s}");
        assert!(s.contains("published: pixels"), "{w}x{h}:\n{s}");
        assert!(!s.contains("(paper)"), "{w}x{h}:\n{s}");
        // The paper's matrix is not drawn as a heatmap: its counts are only in the scores table.
        assert!(!s.contains("rows true, columns predicted"), "{w}x{h}:\n{s}");
    }
    app.on_key(key('p'));
    assert!(screen(&app, 100, 30).contains("protocol: leave one patient out"));
    // With a result, the head line is whole at 80 columns.
    let mut full = full();
    full.pane = Pane::Classify;
    let s = screen(&full, 80, 24);
    assert!(
        s.contains("done: 110 ROIs classified · enter: a cell's ROIs"),
        "{s}"
    );
}

#[test]
fn classify_shows_a_lopo_matrix_whole_and_scrolls_to_every_panel() {
    use crate::eval::{Classification, Protocol, Scores};
    let mut app = full();
    app.pane = Pane::Classify;
    app.classify.result = Some(Classification {
        protocol: Protocol::Lopo,
        n: 550,
        pixels: Scores::from_confusion([[230, 40], [35, 245]]),
        latents: Scores::from_confusion([[250, 20], [15, 265]]),
    });
    for (w, h) in SIZES {
        let mut s = screen(&app, w, h);
        for needle in ["[[230, 40], [35, 245]]", "[[250, 20], [15, 265]]"] {
            assert!(s.contains(needle), "{w}x{h}: {needle} cut:\n{s}");
        }
        assert!(s.contains("(leave one patient out)"), "{w}x{h}:\n{s}");
        for _ in 0..4 {
            if s.contains("ROC per patient") && s.contains("Patients · pixels") {
                break;
            }
            assert!(s.contains("▼ more · pgdn"), "{w}x{h}:\n{s}");
            app.on_key(code(KeyCode::PageDown));
            s = screen(&app, w, h);
        }
        assert!(
            s.contains("ROC per patient") && s.contains("Patients · pixels"),
            "{w}x{h}:\n{s}"
        );
        for _ in 0..4 {
            app.on_key(code(KeyCode::PageUp));
        }
    }
    // Scrolled to the end at 80x24, the last patient's row is there.
    let last = app.classify.patients(0).last().unwrap().patient.0.clone();
    // (Keys act on the size last drawn.)
    screen(&app, 80, 24);
    for _ in 0..6 {
        app.on_key(code(KeyCode::PageDown));
    }
    let s = screen(&app, 80, 24);
    assert!(
        s.lines().any(|l| l.contains(&format!("│{last} "))),
        "{last}:\n{s}"
    );
}

#[test]
fn compare_scrolls_wide_tables_sideways() {
    let mut app = full();
    app.pane = Pane::Compare;
    let s = screen(&app, 80, 24);
    assert!(s.contains("more ▶ (→)"), "{s}");
    assert!(!s.contains("PSNR"), "{s}");
    let mut s = String::new();
    for _ in 0..12 {
        app.on_key(key('l'));
        s = screen(&app, 80, 24);
        if s.contains("PSNR") {
            break;
        }
    }
    assert!(s.contains("PSNR") && s.contains("◀ more"), "{s}");
    for _ in 0..20 {
        app.on_key(code(KeyCode::Left));
    }
    let s = screen(&app, 80, 24);
    assert!(s.contains("more ▶ (→)") && !s.contains("◀"), "{s}");
    // At 200 columns every column of the tables is there without scrolling.
    let s = screen(&app, 200, 60);
    assert!(s.contains("PSNR") && s.contains("t p (patients)"), "{s}");
}

#[test]
fn latent_scrolls_to_a_useful_codebook_list_at_80x24() {
    let mut app = full();
    app.pane = Pane::Latent;
    let rows_of = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        let top = lines.iter().position(|l| l.contains("Codebook:"));
        top.map(|t| {
            lines[t + 1..]
                .iter()
                .take_while(|l| !l.starts_with('└'))
                .count()
        })
    };
    for (w, h) in SIZES {
        let mut s = screen(&app, w, h);
        for _ in 0..3 {
            if rows_of(&s).is_some_and(|n| n >= 8) {
                break;
            }
            assert!(s.contains("▼ more · pgdn"), "{w}x{h}:\n{s}");
            app.on_key(code(KeyCode::PageDown));
            s = screen(&app, w, h);
        }
        assert!(rows_of(&s).is_some_and(|n| n >= 8), "{w}x{h}:\n{s}");
        assert!(
            s.contains("Traversal") || s.contains("▲ more"),
            "{w}x{h}:\n{s}"
        );
        for _ in 0..3 {
            app.on_key(code(KeyCode::PageUp));
        }
    }
}

#[test]
fn an_opened_confusion_cell_shows_whole_rois_at_80x24() {
    let mut app = full();
    app.pane = Pane::Classify;
    screen(&app, 80, 24);
    app.on_key(code(KeyCode::Enter));
    assert!(app.classify.list_open);
    let first = app.classify.cell_rois()[0].file.clone();
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        assert!(s.contains("ROIs: true"), "{w}x{h}:\n{s}");
        // The caption under the 14-row image, and the file under it, are on the screen.
        assert!(s.contains(&first), "{w}x{h}: {first}:\n{s}");
    }
}

#[test]
fn the_data_list_keeps_class_and_hi_whole_at_80_columns() {
    let mut app = full();
    app.pane = Pane::Data;
    for (w, h) in SIZES {
        let s = screen(&app, w, h);
        for needle in [
            "patient",
            "healthy",
            "steatosis",
            "0.984",
            "p01_f0.png · healthy",
        ] {
            assert!(s.contains(needle), "{w}x{h}: missing {needle}:\n{s}");
        }
    }
    assert!(screen(&app, 100, 30).contains("ROIs  HI"));
}

#[test]
fn latent_shows_and_edits_the_code_map_at_every_size() {
    for (w, h) in SIZES {
        let mut app = full();
        app.pane = Pane::Latent;
        // Scrolled to, where the screen is short.
        let mut s = screen(&app, w, h);
        for _ in 0..4 {
            if s.contains("Code map of the anchor") && s.contains("cells changed") {
                break;
            }
            app.on_key(code(KeyCode::PageDown));
            s = screen(&app, w, h);
        }
        assert!(s.contains("Code map of the anchor"), "{w}x{h}:\n{s}");
        assert!(s.contains("0 of 49 cells changed"), "{w}x{h}:\n{s}");
        // Editing brings the map into view whatever was scrolled, with the cursor on (3, 3).
        for _ in 0..4 {
            app.on_key(code(KeyCode::PageUp));
        }
        app.on_key(code(KeyCode::Char('i')));
        let e = app.latent.edit.as_ref().expect("editing");
        let under = e.codes[3 * 7 + 3];
        let s = screen(&app, w, h);
        assert!(s.contains("Code map · editing"), "{w}x{h}:\n{s}");
        assert!(
            s.contains("anchor") && s.contains("decoding…"),
            "{w}x{h}:\n{s}"
        );
        // The 7 rows of codes are whole: the fourth row holds the cursor's code.
        let grid: Vec<&str> = s
            .lines()
            .skip_while(|l| !l.contains("Code map · editing"))
            .skip(1)
            .take(7)
            .collect();
        assert_eq!(grid.len(), 7, "{w}x{h}:\n{s}");
        assert!(grid[3].contains(&format!("{under:>3}")), "{w}x{h}:\n{s}");
        app.on_key(code(KeyCode::Char('+')));
        let s = screen(&app, w, h);
        assert!(s.contains("1 of 49 cells changed"), "{w}x{h}:\n{s}");
    }
}

/// The whole number right after the first `prefix` in `s`.
fn number_after(s: &str, prefix: &str) -> usize {
    s.split(prefix)
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {prefix:?} in:\n{s}"))
}

#[test]
fn what_does_not_fit_is_named_and_nothing_when_all_fits() {
    let mut app = full();
    // Train: 4 pairs of reconstructions, 31 columns each.
    app.pane = Pane::Train;
    let pairs = app
        .train
        .thumbs
        .as_ref()
        .map(|t| t.originals.len())
        .unwrap();
    assert!(pairs >= 4);
    let s = screen(&app, 80, 24);
    let line = s
        .lines()
        .find(|l| l.contains("more: widen the terminal"))
        .unwrap_or_else(|| panic!("80x24:\n{s}"));
    let hidden = number_after(line, "+");
    // As many pairs drawn as the note does not name (a pair's original starts with `▀`s).
    let drawn = s
        .lines()
        .find(|l| l.contains('▀'))
        .map(|l| l.split("▀▀▀▀▀▀▀▀▀▀▀▀▀▀ ▀▀▀▀▀▀▀▀▀▀▀▀▀▀").count() - 1)
        .unwrap();
    assert_eq!(drawn + hidden, pairs, "80x24:\n{s}");
    assert!(hidden >= 1 && hidden < pairs, "{hidden} of {pairs}:\n{s}");
    let s = screen(&app, 200, 60);
    assert!(!s.contains("more: widen"), "200x60:\n{s}");
    // Latent: the traversal's steps beyond the width.
    app.pane = Pane::Latent;
    let steps = app.latent.traversal.as_ref().unwrap().images.len();
    let s = screen(&app, 80, 24);
    let note = format!("of {steps} steps: widen the terminal or press -");
    assert!(s.contains("showing ") && s.contains(&note), "80x24:\n{s}");
    let shown = number_after(&s, "showing ");
    assert!(shown >= 1 && shown < steps, "{shown} of {steps}");
    let s = screen(&app, 200, 60);
    assert!(!s.contains("steps: widen"), "200x60:\n{s}");
}

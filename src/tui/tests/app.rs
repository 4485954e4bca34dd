//! The whole screen: tabs, status bar, popups, help, the minimum size, keys, and `watch`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{ctx, dataset, render, run_jobs, text};
use crate::data::LoadOptions;
use crate::train::{runlog, DataSpec, EpochRecord, RunConfig, RunDir, TrainConfig};
use crate::tui::app::{App, Exit, Pane, Popup, Watch};
use crate::tui::keymap::Keymap;
use crate::tui::panes::ConfirmKind;
use crate::tui::redraw::Redraw;
use crate::tui::Msg;

pub(super) fn app() -> (App, tokio::sync::mpsc::UnboundedReceiver<Msg>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = App::new(
        ctx(),
        Keymap::default(),
        LoadOptions::default(),
        "/tmp/none".into(),
        tx,
    );
    app.spawn_jobs = false;
    let (ds, split) = dataset();
    app.data
        .set_dataset("/data/fixture".into(), ds, Some(split));
    (app, rx)
}

pub(super) fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

pub(super) fn screen(app: &App, w: u16, h: u16) -> String {
    text(&render(w, h, |a, b| {
        ratatui::widgets::Widget::render(app, a, b)
    }))
}

#[test]
fn panes_round_trip_through_their_index_and_number_keys_select_them() {
    assert_eq!(Pane::ALL.len(), 8);
    for (i, p) in Pane::ALL.into_iter().enumerate() {
        assert_eq!(p.index(), i);
        assert_eq!(Pane::from_index(p.index()), Some(p));
        assert_eq!(p.next().prev(), p);
    }
    assert_eq!(Pane::from_index(Pane::ALL.len()), None);
    let names: Vec<&str> = Pane::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        ["Data", "Train", "Recon", "Latent", "Classify", "Runs", "Compare", "Picker"]
    );
    let (mut app, _rx) = app();
    // Backwards, so that each key moves the pane away from the one the last key chose.
    for p in Pane::ALL.into_iter().rev() {
        app.on_key(key(char::from(b'1' + p.index() as u8)));
        assert_eq!(app.pane, p, "key {}", p.index() + 1);
    }
    assert!(!app.on_key(key('9')), "no ninth pane");
    assert_eq!(app.pane, Pane::Data);
}

#[test]
fn every_pane_draws_with_tabs_and_status() {
    let (mut app, _rx) = app();
    let titles = [
        "Patients 4/4",
        "Hyperparameters",
        "No run open",
        "No run open",
        "SVM: pixels",
        "Reading the runs",
        "reading the runs",
        "No frames folder open",
    ];
    for (i, title) in titles.iter().enumerate() {
        app.on_key(key(char::from(b'1' + i as u8)));
        assert_eq!(app.pane.index(), i);
        assert_eq!(app.pane, Pane::ALL[i]);
        for (w, h) in [(100, 30), (80, 24), (200, 60), (60, 20)] {
            let s = screen(&app, w, h);
            // Full tab names where they fit; every pane's number at every size.
            let bar = s.lines().next().unwrap();
            if w >= 100 {
                assert!(bar.contains(" 1 Data  2 Train  3 Recon"), "{w}x{h}:\n{s}");
            }
            assert!(
                (1..=8).all(|n| bar.contains(&format!(" {n}"))),
                "{w}x{h}: {bar}"
            );
            assert!(s.contains("? help · q quit"), "{w}x{h}:\n{s}");
            if w >= 80 {
                assert!(s.contains(title), "pane {i} at {w}x{h}:\n{s}");
            }
        }
    }
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.pane, Pane::Data);
    app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.pane, Pane::Picker);
    app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.pane, Pane::Compare);
    assert!(app
        .requested
        .iter()
        .any(|r| matches!(r, crate::tui::jobs::Request::ListRuns(_))));
}

#[test]
fn small_terminals_get_a_message_and_no_panic() {
    let (app, _rx) = app();
    let s = screen(&app, 50, 15);
    assert!(s.contains("too small") && s.contains("50x15"), "{s}");
    for (w, h) in [(1, 1), (0, 0), (59, 40), (300, 19)] {
        let _ = render(w.max(1), h.max(1), |a, b| {
            ratatui::widgets::Widget::render(&app, a, b)
        });
    }
}

#[test]
fn help_lists_every_action() {
    let (mut app, _rx) = app();
    app.on_key(key('?'));
    let s = screen(&app, 120, 40);
    for (_, _, _, desc) in crate::tui::keymap::ACTIONS {
        assert!(s.contains(desc), "help lacks '{desc}':\n{s}");
    }
    assert!(s.contains("q, ctrl-c"));
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(!app.help);
}

#[test]
fn quit_without_training_exits_and_prompts_edit_the_form() {
    let (mut app, _rx) = app();
    app.on_key(key('2'));
    app.on_key(key('j'));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(matches!(app.popup, Some(Popup::Prompt { .. })));
    assert!(screen(&app, 100, 30).contains("Set epochs"));
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    app.on_key(key('0'));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(
        app.train.form.value("epochs"),
        Some("250"),
        "0 epochs is refused"
    );
    assert!(app.message.as_ref().unwrap().0.contains("epochs"));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    app.on_key(key('2'));
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.train.form.value("epochs"), Some("2"));
    app.on_key(key('q'));
    assert_eq!(app.exit, Some(Exit::Quit));
}

#[test]
fn confirm_popups_are_drawn_and_answered() {
    let (mut app, _rx) = app();
    app.popup = Some(Popup::Confirm(ConfirmKind::QuitWhileTraining));
    let s = screen(&app, 100, 30);
    assert!(
        s.contains("A training is running") && s.contains("k: keep it going"),
        "{s}"
    );
    app.on_key(key('x'));
    assert!(app.popup.is_some(), "other keys leave the question open");
    app.on_key(key('k'));
    assert_eq!(app.exit, Some(Exit::KeepTraining));

    let (mut app, _rx) = super::app::app_for_delete();
    app.popup = Some(Popup::Confirm(ConfirmKind::DeleteRun(
        "/tmp/none/not-a-run".into(),
    )));
    assert!(screen(&app, 100, 30).contains("Delete this run?"));
    app.on_key(key('y'));
    assert!(app.message.as_ref().unwrap().0.contains("deleting"));
    assert!(matches!(
        app.unsent.last(),
        Some((_, crate::tui::jobs::Request::DeleteRun(_)))
    ));
    run_jobs(&mut app);
    assert!(app.message.as_ref().unwrap().0.contains("not a run"));

    // A real run is deleted by the job, and the Runs pane asks for the list again.
    let tmp = tempfile::tempdir().unwrap();
    let run = write_run(tmp.path());
    app.delete_run(run.path.clone());
    assert!(run.path.is_dir(), "nothing is deleted on the UI thread");
    run_jobs(&mut app);
    assert!(!run.path.exists());
    assert!(app.message.as_ref().unwrap().0.contains("deleted"));
}

pub fn app_for_delete() -> (App, tokio::sync::mpsc::UnboundedReceiver<Msg>) {
    app()
}

pub(super) fn write_run(dir: &std::path::Path) -> RunDir {
    let run = RunDir::new(dir.join("vqvae-w"));
    let config = RunConfig {
        version: RunConfig::VERSION,
        model: Default::default(),
        train: TrainConfig {
            epochs: 5,
            ..TrainConfig::default()
        },
        data: DataSpec::from_options(dir.join("data"), &LoadOptions::default()),
        device: "cpu".into(),
        split_seed: 0,
        test_fraction: 0.2,
        created: "2026-01-01T00:00:00Z".into(),
    };
    run.create(&config, "patient,split\n").unwrap();
    run
}

pub(super) fn rec(epoch: usize) -> EpochRecord {
    // Through serde, so optional fields the engine adds later keep their defaults.
    serde_json::from_value(serde_json::json!({
        "epoch": epoch, "epochs": 5,
        "train": {"total": 0.1 / epoch as f64},
        "test": {"total": 0.12 / epoch as f64},
        "codes_used": 30, "perplexity": 12.0,
        "lr": 2e-4, "seconds": 1.0, "rois_per_sec": 400.0
    }))
    .unwrap()
}

#[test]
fn watch_follows_a_growing_metrics_file() {
    let tmp = tempfile::tempdir().unwrap();
    let run = write_run(tmp.path());
    let (mut app, _rx) = app();
    app.watch = Some(Watch::new(run.path.clone(), true));
    app.open_run(run.path.clone());
    assert_eq!(app.runs.open, None, "the run is read by a job");
    run_jobs(&mut app);
    assert_eq!(app.runs.open.as_ref(), Some(&run.path));
    app.pane = Pane::Train;
    // Another process trains it: it holds the run's lock.
    let writer = crate::train::RunLock::acquire(&run.path).unwrap();
    runlog::append(&run.metrics(), &rec(1)).unwrap();
    // The tick only asks; the files are read by a job.
    let tick = |app: &mut App| {
        let asked = app.on_tick();
        assert_eq!(asked, Redraw::None);
        assert!(matches!(
            app.unsent.last(),
            Some((_, crate::tui::jobs::Request::Watch { .. }))
        ));
        asked.max(run_jobs(app))
    };
    assert_eq!(tick(&mut app), Redraw::Now);
    assert_eq!(app.train.records.len(), 1);
    runlog::append(&run.metrics(), &rec(2)).unwrap();
    assert_eq!(tick(&mut app), Redraw::Now);
    assert_eq!(app.train.records.len(), 2);
    let s = screen(&app, 100, 30);
    assert!(s.contains("watching") && s.contains("epoch 2/5"), "{s}");
    assert_eq!(tick(&mut app), Redraw::None, "nothing new, nothing to draw");

    // The Runs pane lists it: running only while a live process holds the run's lock, however
    // fresh its log is (a training killed by an SSH drop leaves a fresh log and no lock).
    let runs = crate::tui::jobs::list_runs(tmp.path());
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].epoch, runs[0].epochs), (2, 5));
    assert_eq!(runs[0].status.as_str(), "running");
    drop(writer);
    let runs = crate::tui::jobs::list_runs(tmp.path());
    assert_eq!(runs[0].status, crate::train::RunStatus::Empty);
    assert_eq!(tick(&mut app), Redraw::Now, "the writer's end is news");
    let s = screen(&app, 200, 30);
    assert!(
        s.contains("watched run stopped at epoch 2") && !s.contains("● watching"),
        "{s}"
    );
}

#[test]
fn watch_is_read_only_shows_the_run_s_settings_and_says_when_the_run_ended() {
    let tmp = tempfile::tempdir().unwrap();
    let run = write_run(tmp.path());
    let mut config = run.read_config().unwrap();
    let (mut app, _rx) = app();
    app.runs_dir = tmp.path().to_path_buf();
    let writer = crate::train::RunLock::acquire(&run.path).unwrap();
    config.train.batch = 1;
    app.start_watch(run.path.clone(), &config);
    run_jobs(&mut app);
    assert_eq!(app.pane, Pane::Train);
    // The form shows the run's own settings, not the defaults (250 epochs, batch 64).
    assert_eq!(app.train.form.value("epochs"), Some("5"));
    assert_eq!(app.train.form.value("batch"), Some("1"));
    assert_eq!(app.train.form.value("model"), Some(config.model.name()));
    let s = screen(&app, 200, 60);
    assert!(s.contains("● watching vqvae-w"), "{s}");

    // Every training key and the form are refused, with a message; nothing starts or opens.
    let before: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    for k in [
        key('s'),
        key(' '),
        key('x'),
        KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
    ] {
        app.message = None;
        app.on_key(k);
        let (m, error, _) = app.message.clone().expect("a message");
        assert!(
            error && m.starts_with("watching vqvae-w: read-only;"),
            "{k:?}: {m}"
        );
        assert!(app.training.is_none() && app.popup.is_none(), "{k:?}");
    }
    let s = screen(&app, 100, 30);
    assert!(s.contains("read-only"), "{s}");
    let after: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(before.len(), after.len(), "no run folder was created");
    // Other panes' keys still work.
    app.on_key(key('6'));
    assert_eq!(app.pane, Pane::Runs);
    assert!(app
        .watch_refusal(crate::tui::keymap::Action::Start)
        .is_none());

    // The writer ends: the header says so at the next look.
    runlog::append(&run.metrics(), &rec(3)).unwrap();
    drop(writer);
    app.on_tick();
    run_jobs(&mut app);
    let s = screen(&app, 200, 60);
    assert!(
        s.contains("○ watched run stopped at epoch 3 (") && !s.contains("● watching"),
        "{s}"
    );
}

#[test]
fn a_watched_run_s_end_reads_finished_or_stopped_with_its_time() {
    let t = 1_764_518_700; // 2025-11-30 16:05:00 UTC
    assert_eq!(
        crate::tui::app::ended_words("finished", 5, Some(t)),
        "finished at 16:05 UTC"
    );
    assert_eq!(
        crate::tui::app::ended_words("stopped", 3, Some(t)),
        "stopped at epoch 3 (16:05 UTC)"
    );
    assert_eq!(
        crate::tui::app::ended_words("empty", 0, None),
        "stopped at epoch 0"
    );
}

#[test]
fn picker_opens_a_frames_folder_by_prompt_and_asks_for_the_mouse_only_when_shown() {
    let (mut app, _rx) = app();
    app.on_key(key('8'));
    assert!(screen(&app, 100, 30).contains("No frames folder open"));
    app.on_key(key('o'));
    assert!(matches!(app.popup, Some(Popup::Prompt { .. })));
    // It starts at the current folder: ctrl-u clears it.
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/frames");
    for c in dir.chars() {
        app.on_key(key(c));
    }
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.picker.frames.is_empty(), "the folder is read by a job");
    run_jobs(&mut app);
    assert_eq!(app.picker.frames.len(), 12);
    let s = screen(&app, 120, 40);
    assert!(
        s.contains("p01_f0.png (1/12)") && s.contains("12 of 12 frames saved"),
        "{s}"
    );
    assert!(!app.wants_mouse());
    app.on_key(key('m'));
    assert!(app.wants_mouse());
    app.on_key(key('1'));
    assert!(!app.wants_mouse(), "only while the picker is shown");
}

/// Every model chosen in the Train pane (right arrow on the model field) becomes a run of that
/// model, with the paper's learning rate, written to the run's config.json.
#[test]
fn the_train_pane_starts_a_run_of_the_chosen_model() {
    let (mut app, _rx) = app();
    let runs = tempfile::tempdir().unwrap();
    app.on_key(key('2'));
    for (k, name) in crate::model::ModelConfig::NAMES.iter().enumerate() {
        if k > 0 {
            app.on_key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
        }
        assert!(screen(&app, 100, 30).contains(&format!("◀ {name} ▶")));
        let ds = app.data.dataset.clone().unwrap();
        let job = crate::tui::trainctl::new_job(
            &app.train.form,
            std::path::Path::new("/data/fixture"),
            &app.load,
            &ds,
            runs.path(),
        )
        .unwrap();
        let paper = crate::model::ModelConfig::from_name(name).unwrap();
        assert_eq!(job.config.model, paper);
        assert_eq!(job.config.train.lr, paper.paper_lr());
        let written = crate::train::RunDir::new(&job.dir.path)
            .read_config()
            .unwrap();
        assert_eq!(written.model.name(), *name);
    }
}

/// A run's reconstructions arriving ask for the other models' on the same ROIs; an answer for
/// another pick is dropped.
#[test]
fn reconstructions_ask_for_the_other_models() {
    use crate::tui::jobs::{Done, JobKey, Outcome, PeerRecon, ReconData, Request};
    let (mut app, _rx) = app();
    app.recon.run = Some("/runs/r".into());
    let data = ReconData {
        run: "/runs/r".into(),
        model: crate::model::ModelKind::Vqvae,
        epoch: 1,
        pick: 0,
        rois: Vec::new(),
        summary: crate::eval::Summary::of(&[]),
    };
    let id = app.jobs.scheduler.issue(JobKey::Recon);
    let done = |key, id, outcome| Msg::Job(Done { key, id, outcome });
    app.on_msg(done(
        JobKey::Recon,
        id,
        Outcome::Recon("/runs/r".into(), Ok(data)),
    ));
    assert_eq!(
        app.requested.last(),
        Some(&Request::Peers {
            run: "/runs/r".into(),
            runs_dir: "/tmp/none".into(),
            pick: 0
        })
    );
    assert!(app.recon.peers_busy);
    let peer = PeerRecon {
        run: "/runs/c".into(),
        model: crate::model::ModelKind::Cae,
        epoch: 1,
        recons: Vec::new(),
        metrics: Vec::new(),
    };
    let peers_id = app.unsent.last().unwrap().0;
    app.on_msg(done(
        JobKey::Peers,
        peers_id,
        Outcome::Peers("/runs/r".into(), 3, Ok(vec![peer.clone()])),
    ));
    assert!(
        app.recon.peers.is_empty(),
        "another pick's answer is dropped"
    );
    app.on_msg(done(
        JobKey::Peers,
        peers_id,
        Outcome::Peers("/runs/r".into(), 0, Ok(vec![peer])),
    ));
    assert_eq!(app.recon.peers.len(), 1);
    assert!(!app.recon.peers_busy);
}

#[test]
fn status_bar_shows_the_keys_actually_bound() {
    let (mut app, _rx) = app();
    let o: std::collections::BTreeMap<String, Vec<String>> = [
        ("help".to_string(), vec!["F1".to_string()]),
        ("quit".to_string(), vec!["ctrl-q".to_string()]),
        ("jump".to_string(), vec!["?".to_string()]),
    ]
    .into_iter()
    .collect();
    app.keymap = Keymap::with_overrides(&o).unwrap();
    let s = screen(&app, 100, 30);
    assert!(s.contains("F1 help · ctrl-q quit"), "{s}");
    assert!(!s.contains("? help"), "{s}");
    let small = screen(&app, 50, 15);
    assert!(small.contains("press ctrl-q to quit"), "{small}");
    // `?` now jumps (a prompt opens) instead of showing help; F1 shows help.
    app.on_key(key('?'));
    assert!(
        matches!(app.popup, Some(Popup::Prompt { .. })),
        "{:?}",
        app.popup
    );
    app.popup = None;
    app.on_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    assert!(app.help);
}

#[test]
fn the_data_s_origin_is_said_when_it_may_surprise() {
    let (mut app, _rx) = app();
    app.data_note = Some("using the build folder's, /src/vqtex/sample-data".into());
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data"));
    app.request(crate::tui::jobs::Request::LoadData(dir));
    run_jobs(&mut app);
    let (m, _, _) = app.message.clone().unwrap();
    assert!(
        m.starts_with("loaded 550 ROIs") && m.contains("using the build folder's"),
        "{m}"
    );
    assert_eq!(app.data_note, None, "said once");
}

fn prompt_text(app: &App) -> String {
    match &app.popup {
        Some(Popup::Prompt { input, .. }) => input.clone(),
        other => panic!("no prompt: {other:?}"),
    }
}

#[test]
fn both_path_prompts_start_at_a_folder_and_tab_completes_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().display().to_string();
    for d in ["frames-a", "frames-b", "rois", ".hidden"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    std::fs::write(tmp.path().join("roster.csv"), "x").unwrap();

    // Data's o starts at the folder open (the fixture's), the Picker's at the current folder
    // (none open): both end in / with the cursor after it.
    let (mut app, _rx) = app();
    app.on_key(key('o'));
    assert_eq!(prompt_text(&app), "/data/fixture/");
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    app.on_key(key('8'));
    app.on_key(key('o'));
    let cwd = std::env::current_dir().unwrap().display().to_string();
    assert_eq!(prompt_text(&app), format!("{cwd}/"));

    // Tab: the longest common prefix, then the candidates in the status line, then a unique
    // folder with its slash.
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
    for c in format!("{root}/f").chars() {
        app.on_key(key(c));
    }
    app.on_key(tab);
    assert_eq!(prompt_text(&app), format!("{root}/frames-"));
    app.message = None;
    app.on_key(tab);
    assert_eq!(
        prompt_text(&app),
        format!("{root}/frames-"),
        "nothing more to add"
    );
    let (m, _, _) = app.message.clone().expect("the candidates are listed");
    assert_eq!(m, "frames-a/  frames-b/");
    app.on_key(key('b'));
    app.on_key(tab);
    assert_eq!(prompt_text(&app), format!("{root}/frames-b/"));
    // Files complete without a slash; hidden entries only when asked for.
    let done = |typed: &str| crate::tui::input::complete_path(&format!("{root}/{typed}"));
    assert_eq!(done("ros").text, format!("{root}/roster.csv"));
    assert_eq!(done("r").candidates, ["rois/", "roster.csv"]);
    assert_eq!(
        done("r").text,
        format!("{root}/ro"),
        "rois/ and roster.csv share ro"
    );
    assert_eq!(done(".h").text, format!("{root}/.hidden/"));
    assert!(!done("").candidates.contains(&".hidden/".to_string()));
    assert!(done("zzz").candidates.is_empty());
}

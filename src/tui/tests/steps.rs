//! Step scrubbing: the keys move one cursor shared by the Train pane and every run the
//! Reconstructions pane shows, each run showing its record at the cursor or the newest before it.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::app::{app, key, write_run};
use super::{dataset, find, render, run_jobs, text};
use crate::data::{Roi, Side, ROI_PIXELS};
use crate::model::{ModelConfig, ModelKind};
use crate::train::steps::StepWriter;
use crate::train::RunDir;
use crate::tui::app::{App, Pane};
use crate::tui::jobs::{PeerRecon, Request};
use crate::tui::steps::{apply, Move};
use crate::tui::widgets::image::{gray, GrayMode};

/// Every pixel of `epoch`'s reconstructions in the run `offset` apart from the first.
fn level(epoch: u32, offset: u32) -> u8 {
    (epoch * 8 + offset) as u8
}

/// A run folder of `model` with records of `epochs` for the fixture's fixed ROIs.
fn step_run(dir: &Path, name: &str, model: ModelConfig, epochs: u32, offset: u32) -> PathBuf {
    let run = write_run(&dir.join(name));
    let mut config = run.read_config().unwrap();
    config.model = model;
    run.write_config(&config).unwrap();
    let (ds, split) = dataset();
    let test: Vec<&Roi> = ds
        .indices(&split, Side::Test)
        .into_iter()
        .map(|i| &ds.rois[i])
        .collect();
    let fixed = crate::train::steps::fixed_rois(&test);
    let mut w = StepWriter::start(&run.steps(), &fixed, 0).unwrap();
    for e in 1..=epochs {
        let v = level(e, offset) as f32 / 255.0;
        w.append(e as usize, &vec![vec![v; ROI_PIXELS]; fixed.len()])
            .unwrap();
    }
    run.path
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    run_jobs(app);
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    render(w, h, |a, b| ratatui::widgets::Widget::render(app, a, b))
}

/// The colour of the upper half of the cell at `dx`, `dy` from where `needle` is written.
fn fg_near(buf: &Buffer, needle: &str, dx: u16, dy: u16) -> Color {
    let (x, y) = find(buf, needle).unwrap_or_else(|| panic!("no {needle}:\n{}", text(buf)));
    buf[(x + dx, y + dy)].fg
}

/// The colour of the upper half of the cell at `dx`, `dy` inside the scrubbing block's corner.
fn fg_in_block(buf: &Buffer, dx: u16, dy: u16) -> Color {
    let (mut x, y) = find(buf, "(scrubbing").unwrap_or_else(|| panic!("{}", text(buf)));
    while buf[(x, y)].symbol() != "┌" {
        x -= 1;
    }
    buf[(x + 1 + dx, y + 1 + dy)].fg
}

fn grey(v: u8) -> Color {
    gray(v, GrayMode::TrueColor)
}

#[test]
fn the_cursor_moves_by_one_ten_and_to_the_ends_and_skips_missing_epochs() {
    let e: Vec<u32> = (1..=25).collect();
    assert_eq!(apply(Move::Back(1), None, &e), Some(24));
    assert_eq!(apply(Move::Back(10), Some(24), &e), Some(14));
    assert_eq!(apply(Move::Back(10), Some(4), &e), Some(1));
    assert_eq!(apply(Move::Forward(10), Some(20), &e), Some(25));
    assert_eq!(apply(Move::Forward(1), None, &e), None, "already following");
    assert_eq!(apply(Move::First, None, &e), Some(1));
    assert_eq!(apply(Move::Latest, Some(3), &e), None);
    // Epochs with gaps (a run resumed from an older checkpoint, or two runs' union).
    let gaps = [2, 5, 9];
    assert_eq!(apply(Move::Forward(1), Some(6), &gaps), Some(9));
    assert_eq!(apply(Move::Back(1), Some(6), &gaps), Some(5));
    assert_eq!(apply(Move::Back(1), Some(1), &gaps), Some(2));
    assert_eq!(apply(Move::Forward(1), Some(1), &gaps), Some(2));
    assert_eq!(apply(Move::Back(1), None, &[]), None, "nothing recorded");
}

#[test]
fn scrubbing_keys_change_the_train_panes_epoch_and_images() {
    let tmp = tempfile::tempdir().unwrap();
    let run = step_run(tmp.path(), "a", ModelConfig::default(), 25, 0);
    for (w, h) in [(100, 30), (80, 24), (200, 60)] {
        let (mut app, _rx) = app();
        app.on_key(key('2'));
        app.train.run = Some(run.clone());
        let s = text(&draw(&app, w, h));
        assert!(
            !s.contains("scrubbing"),
            "{w}x{h}: follows the latest:\n{s}"
        );
        press(&mut app, KeyCode::Char(','));
        assert_eq!(app.steps.cursor, Some(24), "{w}x{h}");
        let title = "epoch 24 / 25 (scrubbing · End: latest)";
        let buf = draw(&app, w, h);
        assert!(text(&buf).contains(title), "{w}x{h}:\n{}", text(&buf));
        if w >= 100 {
            assert!(text(&buf).contains(&format!("Reconstructions · {title}")));
        }
        // The reconstruction beside the first original is epoch 24's.
        assert_eq!(fg_in_block(&buf, 15, 0), grey(level(24, 0)));
        for (k, epoch) in [
            (KeyCode::Char('<'), 14),
            (KeyCode::Home, 1),
            (KeyCode::Char('.'), 2),
            (KeyCode::Char('>'), 12),
            (KeyCode::Char('>'), 22),
            (KeyCode::Char('>'), 25),
        ] {
            press(&mut app, k);
            let buf = draw(&app, w, h);
            let title = format!("epoch {epoch} / 25 (scrubbing");
            assert!(
                text(&buf).contains(&title),
                "{w}x{h} {k:?}:\n{}",
                text(&buf)
            );
            assert_eq!(
                fg_in_block(&buf, 15, 0),
                grey(level(epoch, 0)),
                "{w}x{h} {k:?}"
            );
        }
        press(&mut app, KeyCode::End);
        assert_eq!(app.steps.cursor, None);
        assert!(!text(&draw(&app, w, h)).contains("scrubbing"), "{w}x{h}");
    }
}

#[test]
fn runs_side_by_side_in_recon_follow_one_cursor_shared_with_train() {
    let tmp = tempfile::tempdir().unwrap();
    let a = step_run(tmp.path(), "a", ModelConfig::default(), 25, 0);
    // The CAE trained 20 epochs: past them it shows its newest.
    let cae = ModelConfig::from_name("cae").unwrap();
    let b = step_run(tmp.path(), "b", cae, 20, 2);
    for (w, h) in [(100, 30), (80, 24), (200, 60)] {
        let (mut app, _rx) = app();
        app.on_key(key('3'));
        app.train.run = Some(a.clone());
        app.recon.run = Some(a.clone());
        app.recon.peers = vec![PeerRecon {
            run: b.clone(),
            model: ModelKind::Cae,
            epoch: 20,
            recons: Vec::new(),
            metrics: Vec::new(),
        }];
        press(&mut app, KeyCode::Char(','));
        let buf = draw(&app, w, h);
        let s = text(&buf);
        assert!(
            s.contains("Models by epoch · epoch 24 / 25 (scrubbing · End: latest)"),
            "{w}x{h}:\n{s}"
        );
        assert!(s.contains("vqvae") && s.contains("cae"), "{w}x{h}:\n{s}");
        assert!(
            s.contains("ep 20"),
            "the CAE shows its newest: {w}x{h}:\n{s}"
        );
        assert_eq!(fg_near(&buf, "vqvae", 10, 0), grey(level(24, 0)), "{w}x{h}");
        assert_eq!(fg_near(&buf, "cae", 10, 0), grey(level(20, 2)), "{w}x{h}");
        // Images scale by whole factors to the room: 28 columns each at 200x60, 14 below; the
        // originals' row gives way at 80x24.
        let wide = fg_near(&buf, "vqvae", 10 + 14, 0);
        assert_eq!(wide == grey(level(24, 0)), w >= 200, "{w}x{h}");
        assert_eq!(text(&buf).contains("original"), h >= 30, "{w}x{h}");
        press(&mut app, KeyCode::Home);
        let buf = draw(&app, w, h);
        assert!(text(&buf).contains("epoch 1 / 25"), "{w}x{h}");
        assert_eq!(fg_near(&buf, "vqvae", 10, 0), grey(level(1, 0)), "{w}x{h}");
        assert_eq!(fg_near(&buf, "cae", 10, 0), grey(level(1, 2)), "{w}x{h}");
        // The same cursor in the Train pane.
        app.on_key(key('2'));
        let buf = draw(&app, w, h);
        assert!(
            text(&buf).contains("epoch 1 / 25 (scrubbing"),
            "{w}x{h}:\n{}",
            text(&buf)
        );
        assert_eq!(fg_in_block(&buf, 15, 0), grey(level(1, 0)));
        // A pane without a run keeps its own view while the other scrubs.
        app.train.run = None;
        app.sync_steps();
        assert!(!text(&draw(&app, w, h)).contains("scrubbing"), "{w}x{h}");
        press(&mut app, KeyCode::End);
        app.on_key(key('3'));
        assert!(!text(&draw(&app, w, h)).contains("Models by epoch"));
    }
}

#[test]
fn a_run_without_records_says_so_and_a_live_run_is_read_again_each_tick() {
    let tmp = tempfile::tempdir().unwrap();
    let old = write_run(&tmp.path().join("old")).path;
    let (mut app, _rx) = app();
    app.pane = Pane::Train;
    app.train.run = Some(old);
    press(&mut app, KeyCode::Char(','));
    assert_eq!(app.steps.cursor, None);
    let msg = app.message.as_ref().unwrap().0.clone();
    assert!(msg.contains("no images per epoch"), "{msg}");

    // A run that trains: each tick reads its records again, so its newest epoch is reachable.
    let run = step_run(tmp.path(), "live", ModelConfig::default(), 3, 0);
    app.train.run = Some(run.clone());
    app.watch = Some(crate::tui::app::Watch {
        run: run.clone(),
        metrics_len: None,
        checkpoint: None,
        live: true,
        ended: None,
    });
    press(&mut app, KeyCode::Char(','));
    assert_eq!(app.steps.cursor, Some(2));
    let (ds, split) = dataset();
    let test: Vec<&Roi> = ds
        .indices(&split, Side::Test)
        .into_iter()
        .map(|i| &ds.rois[i])
        .collect();
    let fixed = crate::train::steps::fixed_rois(&test);
    let mut w = StepWriter::start(&RunDir::new(&run).steps(), &fixed, 3).unwrap();
    w.append(4, &vec![vec![0.5; ROI_PIXELS]; fixed.len()])
        .unwrap();
    app.on_tick();
    assert!(app
        .unsent
        .iter()
        .any(|(_, r)| matches!(r, Request::Steps { .. })));
    run_jobs(&mut app);
    assert!(text(&draw(&app, 100, 30)).contains("epoch 2 / 4 (scrubbing"));
    press(&mut app, KeyCode::Char('>'));
    assert_eq!(app.steps.cursor, Some(4));
}

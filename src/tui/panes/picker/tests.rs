use std::path::Path;

use super::*;
use crate::data::extract::read_coords;
use crate::data::frames::FRAMES_CSV;
use crate::data::LoadOptions;
use crate::runs::RunCache;
use crate::tui::jobs::{execute, Outcome};
use crate::tui::scheduler::Cancel;
use crate::tui::tests::ctx;

/// `a`, with the jobs it asks for run here, as the pool would, and their results folded in.
fn act(p: &mut PickerPane, a: Action) -> Effect {
    let e = p.on_action(a);
    run(p, &e);
    e
}

fn run(p: &mut PickerPane, e: &Effect) {
    match e {
        Effect::Many(v) => v.iter().for_each(|e| run(p, e)),
        Effect::Request(r) => {
            let out = std::cell::RefCell::new(Vec::new());
            let cache = RunCache::new();
            let opts = LoadOptions::default();
            execute(r.clone(), &opts, &cache, &Cancel::new(), &|o| {
                out.borrow_mut().push(o)
            });
            for o in out.into_inner() {
                match o {
                    Outcome::Frame(_, i, r) => p.on_frame(i, r),
                    Outcome::Saved(_, r) | Outcome::Extracted(_, r) => r.unwrap(),
                    other => panic!("{other:?}"),
                }
            }
        }
        _ => {}
    }
}

/// A copy of sample-data/frames without its coords.csv.
fn frames_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/frames");
    let out = dir.join("frames");
    std::fs::create_dir(&out).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let name = e.unwrap().file_name();
        if name != "coords.csv" {
            std::fs::copy(src.join(&name), out.join(&name)).unwrap();
        }
    }
    assert!(out.join(FRAMES_CSV).is_file());
    out
}

#[test]
fn move_save_next_copy_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = frames_copy(tmp.path());
    let mut p = PickerPane::open(&dir).unwrap();
    assert_eq!((p.frames.len(), p.current, p.done()), (12, 0, 0));
    let start = p.draft;
    // At zoom 1 a key moves 4 pixels; at zoom 4, one.
    p.on_action(Action::Right);
    p.on_action(Action::More);
    p.on_action(Action::More);
    p.on_action(Action::Down);
    assert_eq!(p.draft.liver, (start.liver.0 + 4, start.liver.1 + 1));
    p.on_action(Action::BoxSwitch);
    p.on_action(Action::Left);
    assert_eq!(p.draft.kidney, (start.kidney.0 - 1, start.kidney.1));
    let live = p.live().unwrap();
    assert!((live.hi.unwrap() - live.liver_mean / live.kidney_mean).abs() < 1e-12);

    let first = p.draft;
    match p.on_action(Action::Select) {
        Effect::Many(v) => {
            assert!(matches!(v[0], Effect::Request(Request::SaveCoords { .. })));
            assert!(matches!(
                v[1],
                Effect::Request(Request::Frame { index: 1, .. })
            ));
            assert!(!dir.join("coords.csv").exists(), "written by the job");
            assert!(p.image.is_none(), "the next frame is read by a job");
            run(&mut p, &Effect::Many(v));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.current, 1);
    let coords = std::fs::read_to_string(dir.join("coords.csv")).unwrap();
    assert_eq!(
        coords,
        format!(
            "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,{},{},{},{}\n",
            first.liver.0, first.liver.1, first.kidney.0, first.kidney.1
        )
    );
    // A new frame starts from the previous frame's boxes; y copies them back after moving.
    assert_eq!(p.draft, first);
    p.on_action(Action::Up);
    assert_ne!(p.draft, first);
    p.on_action(Action::CopyPrev);
    assert_eq!(p.draft, first);
    act(&mut p, Action::Select);
    // A frame read for a frame no longer current is not shown.
    act(&mut p, Action::PageDown);
    assert_eq!(p.current, 3);
    p.on_frame(2, Err("stale".into()));
    assert!(p.error.is_none() && p.image.is_some());

    // Reopening resumes at the first frame without boxes, with the saved ones.
    let q = PickerPane::open(&dir).unwrap();
    assert_eq!((q.current, q.done()), (2, 2));
    assert_eq!(q.saved[1], Some(first));
}

#[test]
fn extract_needs_every_frame_then_opens_the_rois() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = frames_copy(tmp.path());
    let mut p = PickerPane::open(&dir).unwrap();
    match p.on_action(Action::Run) {
        Effect::Say(m) => assert!(m.contains("12 frames still have no saved boxes"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The generator's own boxes, saved frame by frame.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/frames/coords.csv");
    let mut problems = Vec::new();
    let want = read_coords(&sample, &mut problems).unwrap();
    for _ in 0..12 {
        p.draft = want[&p.frames[p.current].file].0;
        act(&mut p, Action::Select);
    }
    assert_eq!(p.done(), 12);
    assert_eq!(
        std::fs::read_to_string(dir.join("coords.csv")).unwrap(),
        std::fs::read_to_string(&sample).unwrap()
    );
    let out = tmp.path().join("frames-rois");
    match act(&mut p, Action::Run) {
        Effect::Many(v) => assert!(
            matches!(&v[1], Effect::Request(Request::Extract { out: o, .. }) if *o == out),
            "{v:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(out.join("labels.csv").is_file());
}

#[test]
fn draws_the_frame_boxes_and_live_hi() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = frames_copy(tmp.path());
    let mut p = PickerPane::open(&dir).unwrap();
    let area = Rect::new(0, 0, 100, 40);
    let mut buf = Buffer::empty(area);
    p.draw(area, &mut buf, &ctx());
    let text: String = (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                + "\n"
        })
        .collect();
    let hi = p.live().unwrap().hi.unwrap();
    assert!(text.contains(&format!("HI {hi:.3}")), "{text}");
    assert!(
        text.contains("p01_f0.png (1/12)") && text.contains("0 of 12 frames saved"),
        "{text}"
    );
    // The fan's black corner, gray speckle inside, and both box outlines somewhere.
    let cells: Vec<&ratatui::buffer::Cell> = (1..39)
        .flat_map(|y| (1..65).map(move |x| (x, y)))
        .map(|xy| &buf[xy])
        .collect();
    // Letterboxed: the frame is wider than the view's shape, so rows above it are empty.
    assert_eq!(buf[(1, 1)].fg, Color::Reset);
    assert!(cells.iter().any(|c| c.fg == Color::Rgb(0, 0, 0)));
    assert!(cells.iter().any(|c| c.fg == LIVER || c.bg == LIVER));
    assert!(cells
        .iter()
        .any(|c| c.fg == INACTIVE_KIDNEY || c.bg == INACTIVE_KIDNEY));
    assert!(cells
        .iter()
        .any(|c| matches!(c.fg, Color::Rgb(v, _, _) if v > 60)));
    // Zoomed in, the active (liver) box is larger on screen.
    let count = |b: &Buffer| {
        (0..40)
            .flat_map(|y| (0..66).map(move |x| (x, y)))
            .filter(|&xy| b[xy].fg == LIVER || b[xy].bg == LIVER)
            .count()
    };
    let before = count(&buf);
    p.on_action(Action::More);
    let mut zoomed = Buffer::empty(area);
    p.draw(area, &mut zoomed, &ctx());
    assert!(count(&zoomed) > before, "{} vs {before}", count(&zoomed));
    // Nothing open: a hint, not a panic.
    let mut empty = Buffer::empty(Rect::new(0, 0, 40, 6));
    PickerPane::default().draw(empty.area, &mut empty, &ctx());
}

#[test]
fn the_mouse_places_boxes_switches_and_zooms() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let tmp = tempfile::tempdir().unwrap();
    let dir = frames_copy(tmp.path());
    let mut p = PickerPane::open(&dir).unwrap();
    let ev = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // Before anything is drawn, clicks do nothing.
    assert_eq!(
        p.on_mouse(ev(MouseEventKind::Down(MouseButton::Left), 5, 5)),
        Effect::None
    );
    assert!(matches!(p.on_action(Action::Mouse), Effect::Say(_)) && p.mouse);
    // A 180x120 frame in a 90x60-cell view: 2 pixels a sub-pixel (half cell) both ways, so the
    // frame fills the width and is letterboxed vertically (y0 = (120 - 240) / 2 = -60).
    let area = Rect::new(0, 0, 90 + 34 + 2, 62);
    p.draw(area, &mut Buffer::empty(area), &ctx());
    let v = p.view.get().unwrap();
    assert_eq!(
        (v.area, v.s, v.x0, v.y0),
        (Rect::new(1, 1, 90, 60), 2.0, 0.0, -60.0)
    );
    // Cell (31, 21) is sub-pixel i = 30, j = 40.5: pixel x = 61, y = -60 + 41 * 2 = 22; the box is
    // centred there: corner (47, 8).
    p.on_mouse(ev(MouseEventKind::Down(MouseButton::Left), 31, 21));
    assert_eq!(p.draft.liver, (47, 8));
    p.on_mouse(ev(MouseEventKind::Down(MouseButton::Right), 31, 21));
    assert_eq!(p.active, Which::Kidney);
    p.on_mouse(ev(MouseEventKind::Drag(MouseButton::Left), 200, 21));
    assert_eq!(p.draft.liver, (47, 8), "outside the frame view: ignored");
    p.on_mouse(ev(MouseEventKind::ScrollUp, 31, 21));
    assert_eq!(p.zoom, 2);
}

//! Tests of the workbench drawn on a TestBackend with fixed data: text, and the colours of
//! half-block and heatmap cells.

mod app;
mod classify;
mod compare;
mod jobs;
mod look;
mod panes;
mod recon_race;
mod refresh;
mod runs_list;
mod scheduler;
mod small;
mod steps;

use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::data::{Dataset, Label, PatientId, Roi, Side, Split, ROI_PIXELS};
use crate::tui::app::App;
use crate::tui::jobs::{execute, Done};
use crate::tui::panes::Ctx;
use crate::tui::redraw::Redraw;
use crate::tui::scheduler::Cancel;
use crate::tui::widgets::image::GrayMode;
use crate::tui::Msg;

/// Truecolor dark theme, so cell colours are `Rgb(v, v, v)`.
pub fn ctx() -> Ctx {
    Ctx {
        theme: crate::tui::theme::Theme::default(),
        mode: GrayMode::TrueColor,
        graphics: Default::default(),
    }
}

/// A ROI whose row r has the gray level `base + r`.
pub fn roi(patient: &str, k: usize, label: Label, base: u8) -> Roi {
    Roi {
        file: format!("p{patient}_f{k}.png"),
        patient: PatientId(patient.into()),
        label,
        pixels: (0..ROI_PIXELS).map(|i| base + (i / 28) as u8).collect(),
        hi: Some(1.25),
        split: None,
        fat: None,
    }
}

/// 4 patients (2 healthy, 2 steatotic), 3 ROIs each; patients 2 and 4 are test.
pub fn dataset() -> (Arc<Dataset>, Split) {
    let mut rois = Vec::new();
    for (p, label) in [
        ("1", Label::Healthy),
        ("2", Label::Healthy),
        ("3", Label::Steatosis),
        ("4", Label::Steatosis),
    ] {
        for k in 0..3 {
            rois.push(roi(p, k, label, 10 * k as u8 + 100));
        }
    }
    let split = Split {
        test: [PatientId("2".into()), PatientId("4".into())].into(),
    };
    assert_eq!(split.side(&PatientId("2".into())), Side::Test);
    (
        Arc::new(Dataset {
            root: "fixture".into(),
            rois,
        }),
        split,
    )
}

/// Draws with `f` on a `w` x `h` TestBackend and returns the buffer.
pub fn render(w: u16, h: u16, f: impl FnOnce(Rect, &mut Buffer)) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|frame| {
        let area = frame.area();
        f(area, frame.buffer_mut())
    })
    .unwrap();
    term.backend().buffer().clone()
}

/// The buffer as lines of text.
pub fn text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut s = String::new();
    for y in a.y..a.y + a.height {
        for x in a.x..a.x + a.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Position of the first occurrence of `needle` (single-width characters before it).
pub fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let a = buf.area;
    for y in a.y..a.y + a.height {
        let line: Vec<String> = (a.x..a.x + a.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        let joined: String = line.concat();
        if let Some(byte) = joined.find(needle) {
            // Map the byte offset back to a column.
            let mut acc = 0;
            for (col, sym) in line.iter().enumerate() {
                if acc == byte {
                    return Some((a.x + col as u16, y));
                }
                acc += sym.len();
            }
        }
    }
    None
}

/// Runs the requests an app with `spawn_jobs` off left in [`App::unsent`] on this thread, as the
/// pool would, and folds their results in (and those of the requests they make, a few rounds).
/// Returns the most urgent redraw they asked for.
pub fn run_jobs(app: &mut App) -> Redraw {
    let mut redraw = Redraw::None;
    for _ in 0..8 {
        let unsent = std::mem::take(&mut app.unsent);
        if unsent.is_empty() {
            break;
        }
        for (id, req) in unsent {
            let key = req.key();
            let out = std::cell::RefCell::new(Vec::new());
            let cache = app.jobs.cache.clone();
            execute(req, &app.load.clone(), &cache, &Cancel::new(), &|o| {
                out.borrow_mut().push(o)
            });
            for outcome in out.into_inner() {
                let key = key.clone();
                redraw = redraw.max(app.on_msg(Msg::Job(Done { key, id, outcome })));
            }
        }
    }
    redraw
}

//! How the workbench looks at 80x24, 100x30 and 200x60 (issue 16): images keep their greys under
//! NO_COLOR, charts have legends and 1-2-5 ticks, images scale to the space they have, the
//! picker's margins are blank, borders and titles are legible.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Widget};

use super::{find, render, text};
use crate::tui::app::{App, Pane};
use crate::tui::widgets::chart::{Curve, LossChart};
use crate::tui::widgets::image::{draw_roi, GrayMode};

pub const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (200, 60)];

/// The workbench in its fixed state (sample data, a run 12 epochs in), showing `pane`.
pub fn fixed(pane: Pane) -> (App, tokio::sync::mpsc::UnboundedReceiver<crate::tui::Msg>) {
    let (mut app, rx) = crate::tui::fixture::fixed_app(None).unwrap();
    app.pane = pane;
    (app, rx)
}

pub fn shot(app: &App, w: u16, h: u16) -> Buffer {
    render(w, h, |a, b| Widget::render(app, a, b))
}

/// What crossterm writes for the cells of `buf`.
fn crossterm_bytes(buf: &Buffer) -> String {
    use ratatui::backend::{Backend, CrosstermBackend};
    /// A writer whose bytes the test keeps.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Shared::default();
    let mut backend = CrosstermBackend::new(out.clone());
    let a = buf.area;
    let cells: Vec<(u16, u16, &ratatui::buffer::Cell)> = (a.y..a.y + a.height)
        .flat_map(|y| (a.x..a.x + a.width).map(move |x| (x, y)))
        .map(|(x, y)| (x, y, &buf[(x, y)]))
        .collect();
    backend.draw(cells.into_iter()).unwrap();
    Backend::flush(&mut backend).unwrap();
    let bytes = out.0.borrow().clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn no_color_keeps_the_greys_of_images_in_what_reaches_the_terminal() {
    // A ROI whose rows are the levels 100..128.
    let roi = super::roi("1", 0, crate::data::Label::Healthy, 100);
    for mode in [GrayMode::TrueColor, GrayMode::Ansi256] {
        let area = Rect::new(0, 0, 28, 14);
        let mut buf = Buffer::empty(area);
        draw_roi(&mut buf, area, &roi.pixels, 1, mode);
        let want = match mode {
            // Row 0 (level 100, quantised to 101) over row 1 (101).
            GrayMode::TrueColor => "38;2;101;101;101",
            GrayMode::Ansi256 => "38;5;241",
        };
        // What crossterm does with NO_COLOR set (it reads the variable once; this is its flag).
        crossterm::style::force_color_output(false);
        let bytes = crossterm_bytes(&buf);
        assert!(
            !bytes.contains(want) && !bytes.contains("48;"),
            "without the override the greys are dropped"
        );
        crate::tui::runtime::keep_image_colours();
        let bytes = crossterm_bytes(&buf);
        assert!(bytes.contains(want), "{mode:?}: {bytes:.200}");
        assert!(bytes.contains("48;"), "the lower pixels are backgrounds");
    }
}

#[test]
fn without_colour_chart_series_differ_in_marker_and_the_legend_says_which() {
    let train: Vec<(f64, f64)> = (1..=40).map(|i| (i as f64, 1.0 / i as f64)).collect();
    let test: Vec<(f64, f64)> = (1..=40).map(|i| (i as f64, 2.0 / i as f64)).collect();
    let theme = crate::tui::theme::Theme::default().without_color();
    assert!(theme.plain);
    let draw = |which: &[usize]| {
        render(60, 20, |a, b| {
            // The same colour for both: only the markers tell them apart.
            let all = [("train", &train[..]), ("test", &test[..])];
            LossChart {
                curves: all
                    .iter()
                    .enumerate()
                    .map(|(i, (name, pts))| Curve {
                        name: name.to_string(),
                        points: if which.contains(&i) { pts } else { &[] },
                        color: theme.curve_train,
                    })
                    .collect(),
                log: false,
                smooth: None,
                block: Block::bordered(),
                axis_style: Style::default(),
                x_title: "epoch",
                y_title: "loss",
                plain: theme.plain,
                x_span: None,
            }
            .render(a, b)
        })
    };
    // The symbols of the plot (right of the y labels, above the x axis), the legend's row excepted.
    let symbols = |b: &Buffer| -> std::collections::BTreeSet<String> {
        (3..16)
            .flat_map(|y| (8..58).map(move |x| (x, y)))
            .map(|xy| b[xy].symbol().to_string())
            .filter(|s| s != " " && !s.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect()
    };
    let (a, b) = (symbols(&draw(&[0])), symbols(&draw(&[1])));
    assert!(!a.is_empty() && !b.is_empty());
    assert!(a.is_disjoint(&b), "{a:?} vs {b:?}");
    let both = text(&draw(&[0, 1]));
    assert!(
        both.contains("⠒ train") && both.contains("• test"),
        "{both}"
    );
}

/// The numbers of the row of `buf` from column `x0` to `x1`.
fn numbers(buf: &Buffer, y: u16, x0: u16, x1: u16) -> Vec<f64> {
    let row: String = (x0..x1).map(|x| buf[(x, y)].symbol().to_string()).collect();
    row.split_whitespace()
        .filter_map(|t| t.parse::<f64>().ok())
        .collect()
}

/// 1, 2 or 5 times a power of ten.
fn is_nice(v: f64) -> bool {
    let e = v.abs().log10().floor();
    let m = v.abs() / 10f64.powf(e);
    [1.0, 2.0, 5.0, 10.0].iter().any(|n| (m - n).abs() < 1e-6)
}

/// The chart whose block title starts with `title`: its x tick labels, its y tick labels (top
/// down) and the text inside it.
fn chart_ticks(buf: &Buffer, title: &str) -> (Vec<f64>, Vec<f64>, String) {
    let (tx, ty) = find(buf, title).unwrap_or_else(|| panic!("no {title}:\n{}", text(buf)));
    let left = tx - 1;
    let mut right = tx;
    while right + 1 < buf.area.width && buf[(right, ty)].symbol() != "┐" {
        right += 1;
    }
    let mut bottom = ty + 1;
    while buf[(left, bottom)].symbol() != "└" {
        bottom += 1;
    }
    let (mut cx, mut cy) = (0, 0);
    for y in ty + 1..bottom {
        for x in left + 1..right {
            if buf[(x, y)].symbol() == "└" {
                (cx, cy) = (x, y);
            }
        }
    }
    assert!(cx > 0, "{title}: no axes\n{}", text(buf));
    let xs = numbers(buf, cy + 1, left + 1, right);
    let ys = (ty + 1..cy)
        .flat_map(|y| numbers(buf, y, left + 1, cx))
        .collect();
    let inside: String = (ty + 1..bottom)
        .map(|y| {
            (left + 1..right)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                + "\n"
        })
        .collect();
    (xs, ys, inside)
}

#[test]
fn charts_have_a_legend_labelled_axes_and_1_2_5_ticks_at_every_size() {
    let (app, _rx) = fixed(Pane::Train);
    for (w, h) in SIZES {
        let buf = shot(&app, w, h);
        let (xs, ys, inside) = chart_ticks(&buf, "Loss:");
        for needle in ["━ step", "━ train", "━ test", "epoch", "loss (log)"] {
            assert!(inside.contains(needle), "{w}x{h}: {needle}\n{inside}");
        }
        // Whole epochs, evenly spaced by a 1-2-5 step, covering the 12 epochs.
        assert!(xs.len() >= 2, "{w}x{h}: {xs:?}\n{inside}");
        let step = xs[1] - xs[0];
        assert!(step >= 1.0 && is_nice(step), "{w}x{h}: {xs:?}");
        for pair in xs.windows(2) {
            assert!((pair[1] - pair[0] - step).abs() < 1e-9, "{w}x{h}: {xs:?}");
        }
        assert!(xs.iter().all(|x| x.fract() == 0.0) && *xs.last().unwrap() >= 12.0);
        // A log axis: every label a 1-2-5 value, falling down the axis.
        assert!(ys.len() >= 2, "{w}x{h}: {ys:?}\n{inside}");
        assert!(ys.iter().all(|&y| is_nice(y)), "{w}x{h}: {ys:?}");
        assert!(ys.windows(2).all(|p| p[0] > p[1]), "{w}x{h}: {ys:?}");
        if find(&buf, "Codebook:").is_some() || h >= 30 {
            let (xs, ys, inside) = chart_ticks(&buf, "Codebook:");
            assert!(
                inside.contains("used codes") && inside.contains("perplexity"),
                "{w}x{h}:\n{inside}"
            );
            assert!(xs.iter().all(|x| x.fract() == 0.0), "{w}x{h}: {xs:?}");
            let step = ys[0] - ys[1];
            assert!(is_nice(step), "{w}x{h}: {ys:?}");
        }
    }
}

/// The picker on the sample frames, as in the fixed state with its folder opened.
fn with_picker() -> (App, tokio::sync::mpsc::UnboundedReceiver<crate::tui::Msg>) {
    let (mut app, rx) = fixed(Pane::Picker);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/frames");
    app.picker = crate::tui::panes::picker::PickerPane::open(&dir).unwrap();
    (app, rx)
}

#[test]
fn the_picker_draws_outside_the_frame_as_background_and_its_panel_uncut() {
    let (app, _rx) = with_picker();
    let mut letterboxed = 0;
    for (w, h) in SIZES {
        let buf = shot(&app, w, h);
        let view = app.picker.frame_area().expect("the frame was drawn");
        let mut blank = 0;
        for y in view.y..view.bottom() {
            for x in view.x..view.right() {
                let c = &buf[(x, y)];
                // A half block's drawn half never has the terminal's default colour.
                if c.symbol() == "▀" || c.symbol() == "▄" {
                    assert_ne!(c.fg, Color::Reset, "{w}x{h}: stripe at {x},{y}");
                } else {
                    assert_eq!((c.symbol(), c.bg), (" ", Color::Reset), "{w}x{h}");
                    blank += 1;
                }
            }
        }
        letterboxed += usize::from(blank > 0);
        // Every line of the side panel in full.
        let t = text(&buf);
        for needle in [
            "patient 01 · healthy",
            "12 of 12 frames saved",
            "this frame: saved",
            "HI 0.926",
            "enter save, next · y copy prev",
            "m mouse (off)",
        ] {
            assert!(t.contains(needle), "{w}x{h}: {needle}\n{t}");
        }
    }
    assert!(
        letterboxed > 0,
        "the sample frame is letterboxed at some size"
    );
    // A long error wraps inside the panel instead of running off it.
    let (mut app, _rx) = with_picker();
    app.picker.error = Some("cannot write coords.csv: permission denied (os error 13)".into());
    let t = text(&shot(&app, 80, 24));
    assert!(t.contains("(os error 13)"), "{t}");
}

/// WCAG contrast of two RGB colours.
fn contrast(a: Color, b: Color) -> f64 {
    use crate::tui::widgets::heatmap::{luminance, rgb_of};
    let (la, lb) = (luminance(rgb_of(a).unwrap()), luminance(rgb_of(b).unwrap()));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn borders_stand_out_and_titles_look_alike() {
    use crate::tui::theme::{Theme, PRESETS};
    for (name, _) in PRESETS {
        let t = Theme::preset(name).unwrap();
        // The background the theme is for: its own, or the terminal's (dark, or light).
        let bg = match (t.background, name) {
            (Color::Reset, "light") => Color::Rgb(255, 255, 255),
            (Color::Reset, _) => Color::Rgb(0, 0, 0),
            (c, _) => c,
        };
        let c = contrast(t.border, bg);
        assert!(c >= 3.0, "{name}: inactive border contrast {c:.2}");
        assert!(
            contrast(t.border_focus, bg) >= 3.0 && t.border_focus != t.border,
            "{name}"
        );
    }
    // Every pane's blocks: titles in one style, focused ones in the focus colour; no title
    // padded with spaces.
    let (mut app, _rx) = with_picker();
    let theme = Theme::default();
    for pane in [
        Pane::Data,
        Pane::Train,
        Pane::Recon,
        Pane::Latent,
        Pane::Picker,
    ] {
        app.pane = pane;
        let buf = shot(&app, 200, 60);
        for y in 1..59 {
            for x in 0..199u16 {
                if buf[(x, y)].symbol() != "┌" && buf[(x, y)].symbol() != "┏" {
                    continue;
                }
                let first = &buf[(x + 1, y)];
                if first.symbol() == "─" || first.symbol() == "━" {
                    continue;
                }
                assert_ne!(first.symbol(), " ", "{pane:?}: a padded title at {x},{y}");
                let border = buf[(x, y)].fg;
                let want = if border == theme.border_focus {
                    theme.block_title(true)
                } else {
                    assert_eq!(border, theme.border, "{pane:?} {x},{y}");
                    theme.block_title(false)
                };
                assert_eq!(first.fg, want.fg.unwrap(), "{pane:?}: title at {x},{y}");
            }
        }
    }
}

#[test]
fn the_data_pane_filter_title_fits() {
    let (mut app, _rx) = fixed(Pane::Data);
    app.data.on_action(crate::tui::keymap::Action::ClassFilter);
    app.data.on_action(crate::tui::keymap::Action::ClassFilter);
    app.data.on_action(crate::tui::keymap::Action::SplitFilter);
    for (w, h) in SIZES {
        let t = text(&shot(&app, w, h));
        // The patient list's top border, under the tab bar.
        let line = t.lines().nth(1).unwrap();
        // The filter is named in full, and the title ends before the block's corner.
        assert!(line.contains("steatosis train"), "{w}x{h}: {line}");
        let title_end = line.find("steatosis train").unwrap() + "steatosis train".len();
        let rest = &line[title_end..];
        assert!(rest.starts_with('─') || rest.starts_with(" · "), "{line}");
    }
}

#[test]
fn the_enlarged_roi_scales_by_whole_factors_to_the_space() {
    let (app, _rx) = fixed(Pane::Data);
    for ((w, h), want) in SIZES.into_iter().zip([1u16, 1, 3]) {
        let buf = shot(&app, w, h);
        // The enlarged ROI's block is the rightmost one; its image starts under its title.
        let y = 2;
        let x = (0..w).rev().find(|&x| buf[(x, 1)].symbol() == "┌").unwrap() + 1;
        let run = (x..w)
            .take_while(|&cx| buf[(cx, y)].symbol() == "▀")
            .count() as u16;
        assert_eq!(run, 28 * want, "{w}x{h}\n{}", text(&buf));
    }
}

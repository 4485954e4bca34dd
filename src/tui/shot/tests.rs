use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::*;

const GREY200: Color = Color::Rgb(200, 200, 200);
const GREY50: Color = Color::Rgb(50, 50, 50);

/// A one-row buffer of `symbols`, each with `style`, rendered at [`CELL`].
fn draw(symbols: &[&str], style: Style) -> RgbImage {
    let mut buf = Buffer::empty(Rect::new(0, 0, symbols.len() as u16, 1));
    for (x, s) in symbols.iter().enumerate() {
        if let Some(c) = buf.cell_mut((x as u16, 0)) {
            c.set_symbol(s).set_style(style);
        }
    }
    render(&buf, CELL).unwrap()
}

/// The distinct colours of rows `y0..y1` of cell `cx`.
fn colours(img: &RgbImage, cx: u32, y0: u32, y1: u32) -> Vec<[u8; 3]> {
    let mut out: Vec<[u8; 3]> = Vec::new();
    for y in y0..y1 {
        for x in cx * CELL.width..(cx + 1) * CELL.width {
            let p = img.get_pixel(x, y).0;
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn half_blocks_are_exact() {
    let img = draw(&["▀", "▄", "█", " "], Style::new().fg(GREY200).bg(GREY50));
    assert_eq!((img.width(), img.height()), (4 * CELL.width, CELL.height));
    let half = CELL.height / 2;
    let (hi, lo) = ([200; 3], [50; 3]);
    // ▀: upper half foreground, lower half background, every pixel.
    assert_eq!(colours(&img, 0, 0, half), vec![hi]);
    assert_eq!(colours(&img, 0, half, CELL.height), vec![lo]);
    // ▄ the other way round; █ all foreground; a space all background.
    assert_eq!(colours(&img, 1, 0, half), vec![lo]);
    assert_eq!(colours(&img, 1, half, CELL.height), vec![hi]);
    assert_eq!(colours(&img, 2, 0, CELL.height), vec![hi]);
    assert_eq!(colours(&img, 3, 0, CELL.height), vec![lo]);
}

#[test]
fn reset_reversed_and_lines() {
    // Reset is the default dark theme; reversed swaps.
    let img = draw(&[" "], Style::new());
    assert_eq!(colours(&img, 0, 0, CELL.height), vec![DEFAULT_BG]);
    let img = draw(&[" "], Style::new().add_modifier(Modifier::REVERSED));
    assert_eq!(colours(&img, 0, 0, CELL.height), vec![DEFAULT_FG]);
    // ─ is one row of foreground through the middle; │ one column.
    let img = draw(&["─", "│"], Style::new().fg(GREY200).bg(GREY50));
    for y in 0..CELL.height {
        let want = if y == CELL.height / 2 {
            [200; 3]
        } else {
            [50; 3]
        };
        assert_eq!(colours(&img, 0, y, y + 1), vec![want], "row {y}");
    }
    let x = CELL.width + CELL.width / 2;
    for y in 0..CELL.height {
        assert_eq!(img.get_pixel(x, y).0, [200; 3]);
        assert_eq!(img.get_pixel(x - 1, y).0, [50; 3]);
    }
    // ⣿: eight dots, ⠀: none.
    let img = draw(&["⣿", "⠀"], Style::new().fg(GREY200).bg(GREY50));
    let lit = |cx: u32| {
        (0..CELL.height)
            .flat_map(|y| (0..CELL.width).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(cx * CELL.width + x, y).0 == [200; 3])
            .count()
    };
    let dot = (CELL.width / 4).max(1) as usize;
    assert_eq!(lit(0), 8 * dot * dot);
    assert_eq!(lit(1), 0);
}

#[test]
fn text_is_drawn_inside_its_cell() {
    let img = draw(&["W", "g", "·"], Style::new().fg(GREY200).bg(GREY50));
    for cx in 0..3 {
        let c = colours(&img, cx, 0, CELL.height);
        assert!(c.contains(&[200; 3]) || c.len() > 2, "cell {cx}: {c:?}");
        assert!(c.contains(&[50; 3]), "cell {cx}: {c:?}");
    }
}

#[test]
fn palette_is_xterm() {
    // The grey ramp: 232 + i is 8 + 10 i.
    assert_eq!(indexed_rgb(232), [8, 8, 8]);
    assert_eq!(indexed_rgb(240), [88, 88, 88]);
    assert_eq!(indexed_rgb(244), [128, 128, 128]);
    assert_eq!(indexed_rgb(255), [238, 238, 238]);
    assert_eq!(color_rgb(Color::Indexed(250), [0; 3]), [188, 188, 188]);
    // The cube and the basic colours.
    assert_eq!(indexed_rgb(16), [0, 0, 0]);
    assert_eq!(indexed_rgb(196), [255, 0, 0]);
    assert_eq!(indexed_rgb(67), [0x5f, 0x87, 0xaf]);
    assert_eq!(indexed_rgb(231), [255, 255, 255]);
    assert_eq!(color_rgb(Color::DarkGray, [0; 3]), [0x7f, 0x7f, 0x7f]);
    assert_eq!(color_rgb(Color::Indexed(8), [0; 3]), [0x7f, 0x7f, 0x7f]);
    assert_eq!(color_rgb(Color::Rgb(1, 2, 3), [0; 3]), [1, 2, 3]);
    assert_eq!(color_rgb(Color::Reset, [9; 3]), [9, 9, 9]);
}

#[test]
fn pane_names() {
    assert_eq!(parse_panes("all").unwrap(), Pane::ALL);
    assert_eq!(parse_panes("Train").unwrap(), vec![Pane::Train]);
    assert_eq!(parse_panes("8").unwrap(), vec![Pane::Picker]);
    for bad in ["0", "9", "trains", ""] {
        let e = parse_panes(bad).unwrap_err().to_string();
        assert!(e.contains("is not a pane"), "{e}");
    }
    assert_eq!(file_name(Pane::Train, 80, 24), "train-80x24.png");
}

#[test]
fn every_pane_to_a_png_of_the_right_size_and_the_same_bytes_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = ShotOptions {
        panes: parse_panes("all").unwrap(),
        width: 80,
        height: 24,
        out: tmp.path().join("shots"),
        data: None,
    };
    let written = screenshots(&opts).unwrap();
    assert_eq!(written.len(), Pane::ALL.len());
    for (pane, path) in Pane::ALL.into_iter().zip(&written) {
        assert_eq!(path, &opts.out.join(file_name(pane, 80, 24)));
        let img = image::open(path).unwrap();
        assert_eq!((img.width(), img.height()), (80 * 8, 24 * 16), "{path:?}");
    }
    let again = ShotOptions {
        panes: vec![Pane::Train],
        out: tmp.path().join("again"),
        ..opts.clone()
    };
    let second = screenshots(&again).unwrap();
    assert_eq!(
        std::fs::read(&second[0]).unwrap(),
        std::fs::read(&written[1]).unwrap()
    );
    // Sizes outside the workbench's range are refused.
    let e = screenshots(&ShotOptions {
        width: 59,
        ..opts.clone()
    })
    .unwrap_err();
    assert!(e.to_string().contains("60x20"), "{e}");
}

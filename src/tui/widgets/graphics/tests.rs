use super::*;

fn env(term: &str, program: &str) -> TermEnv {
    TermEnv {
        term: term.into(),
        term_program: program.into(),
        ..TermEnv::default()
    }
}

/// 2x2: black, white / white, black.
fn checker() -> Rgb {
    Rgb {
        width: 2,
        height: 2,
        data: vec![0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0],
    }
}

#[test]
fn images_parse_and_refuse_unknown_names() {
    assert_eq!("auto".parse::<Images>(), Ok(Images::Auto));
    assert_eq!("HalfBlocks".parse::<Images>(), Ok(Images::HalfBlocks));
    assert_eq!("kitty".parse::<Images>(), Ok(Images::Kitty));
    assert_eq!(" sixel".parse::<Images>(), Ok(Images::Sixel));
    let e = "iterm".parse::<Images>().unwrap_err();
    assert!(e.contains("'iterm'") && e.contains("halfblocks"), "{e}");
}

#[test]
fn auto_detection_from_the_environment() {
    let cell = Some((9, 18));
    let pick = |e: TermEnv| choose(Images::Auto, &e);
    // Kitty by TERM, by KITTY_WINDOW_ID, by TERM_PROGRAM.
    assert_eq!(
        pick(env("xterm-kitty", "")),
        (
            Graphics::Kitty { tmux: false },
            "images: kitty (TERM=xterm-kitty)".into()
        )
    );
    let k = TermEnv {
        kitty_window: true,
        ..env("xterm-256color", "")
    };
    assert_eq!(pick(k).0, Graphics::Kitty { tmux: false });
    assert_eq!(pick(env("xterm-256color", "WezTerm")).0.name(), "kitty");
    assert_eq!(pick(env("xterm-ghostty", "")).0.name(), "kitty");
    // Inside tmux: half-blocks, even in kitty.
    let t = TermEnv {
        tmux: true,
        ..env("xterm-kitty", "")
    };
    assert_eq!(
        pick(t.clone()),
        (
            Graphics::HalfBlocks,
            "images: halfblocks (inside tmux)".into()
        )
    );
    // ... unless asked for: then through the passthrough.
    assert_eq!(choose(Images::Kitty, &t).0, Graphics::Kitty { tmux: true });
    // Sixel only with a known cell size.
    let foot = TermEnv {
        cell,
        ..env("foot", "")
    };
    assert_eq!(
        pick(foot.clone()),
        (
            Graphics::Sixel { cell: (9, 18) },
            "images: sixel (TERM=foot)".into()
        )
    );
    let (g, why) = pick(TermEnv { cell: None, ..foot });
    assert_eq!(g, Graphics::HalfBlocks);
    assert!(why.contains("cell size in pixels is unknown"), "{why}");
    let konsole = TermEnv {
        konsole: true,
        cell,
        ..env("xterm-256color", "")
    };
    assert_eq!(pick(konsole).0, Graphics::Sixel { cell: (9, 18) });
    // Nothing known.
    let (g, why) = pick(env("xterm-256color", "Apple_Terminal"));
    assert_eq!(g, Graphics::HalfBlocks);
    assert!(why.contains("no kitty or sixel"), "{why}");
    // Asked for: as asked, whatever the terminal.
    assert_eq!(
        choose(Images::HalfBlocks, &env("xterm-kitty", "")).0,
        Graphics::HalfBlocks
    );
    assert_eq!(
        choose(Images::Sixel, &env("xterm", "")),
        (
            Graphics::Sixel { cell: DEFAULT_CELL },
            "images: sixel (asked for; cell size unknown, assuming 10x20 pixels)".into()
        )
    );
}

#[test]
fn base64_matches_the_standard() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"M"), "TQ==");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
}

#[test]
fn kitty_escape_of_a_2x2_image() {
    assert_eq!(
        kitty(&checker(), 7, 4, 2, false),
        "\x1b_Ga=d,d=I,i=7,q=2\x1b\\\
         \x1b_Ga=T,f=24,s=2,v=2,i=7,c=4,r=2,C=1,q=2,m=0;AAAA////////AAAA\x1b\\"
    );
    assert_eq!(
        tmux_wrap("\x1b_Ga=d\x1b\\\x1b_Gm=0;\x1b\\"),
        "\x1bPtmux;\x1b\x1b_Ga=d\x1b\x1b\\\x1b\\\x1bPtmux;\x1b\x1b_Gm=0;\x1b\x1b\\\x1b\\"
    );
}

#[test]
fn kitty_large_images_are_chunked_and_compressed() {
    use std::io::Read;
    // Speckle (a linear congruential sequence) does not compress much: several chunks.
    let mut x = 12345u32;
    let noise: Vec<u8> = (0..64 * 64)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let img = Rgb::from_gray(&noise, 64, 64, 1);
    let e = kitty(&img, 1, 10, 5, true);
    assert!(e.contains(",o=z,m=1;"), "first chunk says more follow");
    assert!(e.ends_with("\x1b\\"));
    // Reassemble the payload: every chunk but the last has m=1 and 4096 characters.
    let mut b64 = String::new();
    for part in e.split("\x1b\\").filter(|p| p.contains(';')) {
        let (head, data) = part.split_once(';').unwrap();
        assert!(data.len() <= KITTY_CHUNK);
        if head.ends_with("m=1") {
            assert_eq!(data.len(), KITTY_CHUNK);
        }
        b64.push_str(data);
    }
    let bytes = decode64(&b64);
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(raw, img.data);
}

fn decode64(s: &str) -> Vec<u8> {
    let val = |c: u8| B64.iter().position(|&b| b == c).unwrap() as u32;
    let mut out = Vec::new();
    for q in s.as_bytes().chunks(4) {
        let pad = q.iter().filter(|&&c| c == b'=').count();
        let n = q
            .iter()
            .map(|&c| if c == b'=' { 0 } else { val(c) })
            .fold(0u32, |n, v| n << 6 | v);
        let b = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&b[..3 - pad]);
    }
    out
}

#[test]
fn sixel_of_a_2x2_image() {
    // Palette black then white (order of first use); one band: black is row 0 at x 0 ('@' = 1)
    // and row 1 at x 1 ('A' = 2), white the other way round.
    assert_eq!(
        sixel(&checker()),
        "\x1bP0;1;0q\"1;1;2;2#0;2;0;0;0#1;2;100;100;100#0@A$#1A@\x1b\\"
    );
}

#[test]
fn sixel_runs_bands_and_grey_levels() {
    // 5x7 all one grey (128 rounds to the 64-level 130, 51 %): a run in the first band, a
    // second band ('-') holding row 6 only.
    let img = Rgb::from_gray(&[128; 35], 5, 7, 1);
    assert_eq!(
        sixel(&img),
        "\x1bP0;1;0q\"1;1;5;7#0;2;51;51;51#0!5~-#0!5@\x1b\\"
    );
    // 256 greys become 64 palette entries.
    let ramp: Vec<u8> = (0..=255).collect();
    let s = sixel(&Rgb::from_gray(&ramp, 256, 1, 1));
    assert!(
        s.contains("#63;2;100;100;100") && !s.contains("#64;"),
        "{s:.200}"
    );
}

#[test]
fn placed_escape_is_written_once_and_skips_its_cells() {
    let area = Rect::new(0, 0, 6, 3);
    let mut buf = Buffer::empty(area);
    buf.set_string(0, 0, "xxxxxx", ratatui::style::Style::default());
    let img = Rgb::from_gray(&[0, 255, 255, 0], 2, 2, 1);
    assert!(!draw_image(
        &mut buf,
        Rect::new(1, 0, 4, 2),
        &img,
        Graphics::HalfBlocks,
        3
    ));
    assert!(draw_image(
        &mut buf,
        Rect::new(1, 0, 4, 2),
        &img,
        Graphics::Kitty { tmux: false },
        3
    ));
    assert!(buf[(1, 0)].symbol().starts_with("\x1b_Ga=d,d=I,i=3"));
    assert_eq!(buf[(2, 0)].diff_option, CellDiffOption::Skip);
    assert_eq!(buf[(4, 1)].diff_option, CellDiffOption::Skip);
    assert_eq!(buf[(5, 0)].symbol(), "x");
    assert_eq!(kitty_ids(&buf), vec![3]);
    // ratatui's diff from an empty screen: the escape once, no skipped cell, the text around.
    let prev = Buffer::empty(area);
    let diff = prev.diff(&buf);
    let at: Vec<(u16, u16)> = diff.iter().map(|&(x, y, _)| (x, y)).collect();
    assert!(at.contains(&(1, 0)) && at.contains(&(0, 0)) && at.contains(&(5, 0)));
    assert!(!at.contains(&(2, 0)) && !at.contains(&(1, 1)), "{at:?}");
    // The same frame again: nothing to write.
    assert!(buf.diff(&buf.clone()).is_empty());
}

#[test]
fn an_unchanged_image_is_not_encoded_again_but_a_changed_one_is() {
    let area = Rect::new(0, 0, 4, 2);
    let g = Graphics::Sixel { cell: (2, 4) };
    let a = Rgb::from_gray(&[0; 64], 8, 8, 1);
    let b = Rgb::from_gray(&[255; 64], 8, 8, 1);
    let mut buf = Buffer::empty(area);
    for (img, grey) in [
        (&a, "#0;2;0;0;0"),
        (&a, "#0;2;0;0;0"),
        (&b, "#0;2;100;100;100"),
    ] {
        assert!(draw_image(&mut buf, area, img, g, 99));
        assert!(buf[(0, 0)].symbol().contains(grey));
    }
    assert_eq!(ENCODED.with_borrow(|m| m[&99].1.clone()), sixel(&b));
}

#[test]
fn kitty_images_gone_from_a_frame_are_deleted() {
    assert_eq!(
        kitty_deletes(&[1, 2], &[2], false),
        "\x1b_Ga=d,d=I,i=1,q=2\x1b\\"
    );
    assert_eq!(kitty_deletes(&[2], &[1, 2], false), "");
    assert!(kitty_deletes(&[1], &[], true).starts_with("\x1bPtmux;\x1b\x1b_Ga=d,d=I,i=1"));
}

/// A terminal's output kept in memory.
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

/// What drawing the sample frames' first frame in the picker at 100x30 writes to the terminal,
/// twice (the second draw is diffed against the first).
fn picker_bytes(g: Graphics) -> (String, String) {
    use ratatui::backend::CrosstermBackend;
    use ratatui::{Terminal, TerminalOptions, Viewport};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/frames");
    let picker = crate::tui::panes::picker::PickerPane::open(&dir).unwrap();
    let ctx = crate::tui::panes::Ctx {
        graphics: g,
        ..crate::tui::tests::ctx()
    };
    let out = Shared::default();
    let mut term = Terminal::with_options(
        CrosstermBackend::new(out.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 100, 30)),
        },
    )
    .unwrap();
    let mut draw = || {
        term.draw(|f| picker.draw(f.area(), f.buffer_mut(), &ctx))
            .unwrap();
        String::from_utf8_lossy(&std::mem::take(&mut *out.0.borrow_mut())).into_owned()
    };
    (draw(), draw())
}

#[test]
fn picker_frame_is_sent_as_kitty_or_sixel_pixels_once() {
    let (first, again) = picker_bytes(Graphics::Kitty { tmux: false });
    assert_eq!(first.matches("\x1b_Ga=T,f=24,").count(), 1, "one image");
    assert!(first.contains(",i=1,"), "the picker's image id");
    // Its cells are not painted: no half-block at all.
    assert!(!first.contains('▀'));
    // The same frame again: nothing is re-sent.
    assert!(!again.contains("\x1b_G"), "{again:.200}");

    let (first, _) = picker_bytes(Graphics::Sixel { cell: (8, 16) });
    // The frame's area is 100 - 34 (side panel) - 2 (border) = 64 columns by 28 rows.
    assert!(
        first.contains("\x1bP0;1;0q\"1;1;512;448#"),
        "sixel at the cell size: {:?}",
        first.find("\x1bP")
    );

    let (first, _) = picker_bytes(Graphics::HalfBlocks);
    assert!(!first.contains("\x1b_G") && !first.contains("\x1bP"));
    assert!(first.contains('▀'));
}

#[test]
fn enlarged_roi_in_kitty_and_half_blocks_under_the_help() {
    use crate::tui::app::App;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = crate::tui::panes::Ctx {
        graphics: Graphics::Kitty { tmux: false },
        ..crate::tui::tests::ctx()
    };
    let mut app = App::new(
        ctx,
        Default::default(),
        Default::default(),
        "/tmp/none".into(),
        tx,
    );
    app.spawn_jobs = false;
    let (ds, split) = crate::tui::tests::dataset();
    app.data
        .set_dataset("/data/fixture".into(), ds, Some(split));
    let draw = |app: &App| {
        crate::tui::tests::render(200, 60, |a, b| ratatui::widgets::Widget::render(app, a, b))
    };
    let buf = draw(&app);
    assert_eq!(kitty_ids(&buf), vec![DATA_ROI]);
    // The help overlay covers the pane: the ROI is drawn in half-blocks, no kitty image is left.
    app.help = true;
    let buf = draw(&app);
    assert!(kitty_ids(&buf).is_empty());
    assert!(buf.content().iter().any(|c| c.symbol() == "▀"));
}

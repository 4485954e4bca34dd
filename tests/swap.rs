//! `vqtex swap` end to end: a tiny VQ-VAE run's ROI with one code replaced, or one cell set,
//! drawn as three labelled panels; bad edits, unknown ROIs and runs without a codebook are
//! refused with a clear message.

mod common;

use common::*;

fn train(data: &std::path::Path, run: &std::path::Path, model: &str) {
    let o = vqtex(&[
        "train",
        "--data",
        p(data),
        "--run",
        p(run),
        "--model",
        model,
        "--epochs",
        "2",
        "--batch",
        "16",
        "--seed",
        "3",
        "--quiet",
    ]);
    assert!(o.status.success(), "{model}: {}", stderr(&o));
}

/// The 7x7 code map printed after "before ... after": (before, after) codes.
fn printed_maps(text: &str) -> (Vec<u32>, Vec<u32>) {
    let start = text.lines().position(|l| l.starts_with("before")).unwrap();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for line in text.lines().skip(start + 1).take(7) {
        let nums: Vec<u32> = line
            .split_whitespace()
            .map(|w| w.trim_end_matches('*').parse().unwrap())
            .collect();
        assert_eq!(nums.len(), 14, "{line}");
        before.extend(&nums[..7]);
        after.extend(&nums[7..]);
    }
    (before, after)
}

#[test]
fn swap_draws_three_panels_and_refuses_bad_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_dataset(&tmp.path().join("data"), 6, 6, 3);
    let run = tmp.path().join("vq");
    train(&data, &run, "vqvae");
    let roi = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".png"))
        .min()
        .unwrap();

    // One cell set to another code.
    let out = tmp.path().join("cell.png");
    let o = vqtex(&[
        "swap",
        p(&run),
        "--roi",
        &roi,
        "--cell",
        "3,4",
        "--to",
        "7",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let (before, after) = printed_maps(&text);
    let changed: Vec<usize> = (0..49).filter(|&i| before[i] != after[i]).collect();
    assert!(changed.is_empty() || changed == vec![3 * 7 + 4], "{text}");
    assert_eq!(after[3 * 7 + 4], 7, "{text}");
    assert!(text.contains("cell (3,4) -> code 7"), "{text}");
    let img = image::open(&out).unwrap();
    let (w, h) = (img.width(), img.height());
    // Three panels of 28x6 pixels side by side, a label column, one row under a title.
    assert!((3 * 168..4 * 168 + 100).contains(&w), "{w}x{h}");
    assert!((168..2 * 168).contains(&h), "{w}x{h}");

    // Every use of the ROI's first code replaced.
    let from = before[0];
    let to = (from + 1) % 64;
    let out = tmp.path().join("sub").join("replace.png");
    let o = vqtex(&[
        "swap",
        p(&run),
        "--roi",
        &roi,
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let (b, a) = printed_maps(&text);
    assert_eq!(b, before);
    let n = before.iter().filter(|&&c| c == from).count();
    assert!(text.contains(&format!("{n} of 49 cells changed")), "{text}");
    for i in 0..49 {
        let want = if before[i] == from { to } else { before[i] };
        assert_eq!(a[i], want, "{text}");
    }
    assert!(out.is_file());

    let swap = |extra: &[&str]| {
        let mut args = vec!["swap", p(&run), "--out"];
        let out = tmp.path().join("bad.png");
        let out = p(&out).to_string();
        args.push(&out);
        args.extend_from_slice(extra);
        vqtex(&args)
    };
    let o = swap(&["--roi", &roi, "--from", "64", "--to", "1"]);
    assert_fails_with(&o, &["code 64 is out of range: the codebook has 64 codes"]);
    let o = swap(&["--roi", &roi, "--cell", "7,0", "--to", "1"]);
    assert_fails_with(&o, &["cell (7,0) is out of range: the code map is 7x7"]);
    let o = swap(&["--roi", "nope.png", "--from", "1", "--to", "2"]);
    assert_fails_with(&o, &["no ROI named \"nope.png\""]);
    assert!(!tmp.path().join("bad.png").exists());
    // Clap: an edit is needed, and only one.
    let o = swap(&["--roi", &roi, "--to", "2"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--from"), "{}", stderr(&o));
    let o = swap(&["--roi", &roi, "--from", "1", "--cell", "1,1", "--to", "2"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    let o = swap(&["--roi", &roi, "--cell", "1", "--to", "2"]);
    assert!(stderr(&o).contains("ROW,COL"), "{}", stderr(&o));

    let cae = tmp.path().join("cae");
    train(&data, &cae, "cae");
    let o = vqtex(&[
        "swap",
        p(&cae),
        "--roi",
        &roi,
        "--from",
        "1",
        "--to",
        "2",
        "--out",
        p(&tmp.path().join("cae.png")),
    ]);
    assert_fails_with(&o, &["the cae model has no codebook"]);
}

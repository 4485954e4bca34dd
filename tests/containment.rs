//! Containment, leftovers and duplicate rows (issue 12, classes 1, 8 and 9): every file named by a
//! CSV is read from inside its folder, every command writes only inside its output folder, partial
//! folders of killed runs are removed, and a file listed twice is an error naming both lines. Each
//! hostile case also checks that a victim file outside is byte-identical afterwards.

mod common;

#[cfg(unix)]
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::*;

fn sample_frames() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/frames")
}

/// Copies the files of `from` (not recursive) into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file under `dir` (recursively) with its bytes, sorted: a snapshot to compare.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            } else {
                out.push((path.clone(), Vec::new()));
            }
        }
    }
    out.sort();
    out
}

/// A victim folder beside the inputs: a real frame (so a hostile path would be readable and
/// writable) and a text file.
struct Victim {
    dir: PathBuf,
    before: Vec<(PathBuf, Vec<u8>)>,
}

impl Victim {
    fn new(root: &Path) -> Victim {
        let dir = root.join("victim");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(sample_frames().join("p01_f0.png"), dir.join("v.png")).unwrap();
        std::fs::write(dir.join("notes.txt"), "patient notes").unwrap();
        let before = snapshot(&dir);
        Victim { dir, before }
    }

    fn png(&self) -> PathBuf {
        self.dir.join("v.png")
    }

    fn assert_untouched(&self) {
        assert!(
            snapshot(&self.dir) == self.before,
            "files outside the output folder changed"
        );
    }
}

/// `text` with the first occurrence of `from` replaced by `to`.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Names of hidden partial folders in `dir`.
fn partials(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    v.sort();
    v
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vqtex"))
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn roi_extract(frames: &Path, coords: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "roi",
        "extract",
        "--frames",
        p(frames),
        "--coords",
        p(coords),
        "--out",
        p(out),
    ];
    args.extend_from_slice(extra);
    vqtex(&args)
}

#[test]
fn roi_extract_reads_only_inside_the_frames_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = Victim::new(tmp.path());
    let abs = victim.png().to_string_lossy().into_owned();
    for (case, name, needles) in [
        ("dotdot", "../victim/v.png", vec!["'..' is not allowed"]),
        ("absolute", abs.as_str(), vec!["absolute path"]),
    ] {
        let frames = tmp.path().join(case);
        copy_dir(&sample_frames(), &frames);
        edit(&frames.join("frames.csv"), "p01_f0.png", name);
        edit(&frames.join("coords.csv"), "p01_f0.png", name);
        let out = tmp.path().join(format!("{case}-rois"));
        let o = roi_extract(&frames, &frames.join("coords.csv"), &out, &[]);
        let mut all = vec!["frames.csv, line 2", name];
        all.extend(needles);
        assert_fails_with(&o, &all);
        assert!(!out.exists(), "{case}: output written");
        victim.assert_untouched();
    }

    // A `..` in coords.csv is named by its line too (the frames are fine).
    let frames = tmp.path().join("coords-case");
    copy_dir(&sample_frames(), &frames);
    let coords = tmp.path().join("coords.csv");
    std::fs::copy(frames.join("coords.csv"), &coords).unwrap();
    edit(&coords, "p01_f1.png", "../victim/v.png");
    let o = roi_extract(&frames, &coords, &tmp.path().join("c-rois"), &[]);
    assert_fails_with(&o, &["coords.csv, line 3", "'..' is not allowed"]);
    victim.assert_untouched();
}

#[cfg(unix)]
#[test]
fn roi_extract_refuses_links_out_unless_allowed_and_never_writes_through_them() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = Victim::new(tmp.path());
    let frames = tmp.path().join("frames");
    copy_dir(&sample_frames(), &frames);
    symlink(victim.png(), frames.join("link.png")).unwrap();
    edit(&frames.join("frames.csv"), "p01_f0.png", "link.png");
    edit(&frames.join("coords.csv"), "p01_f0.png", "link.png");
    let out = tmp.path().join("rois");
    let o = roi_extract(&frames, &frames.join("coords.csv"), &out, &[]);
    assert_fails_with(
        &o,
        &[
            "frames.csv, line 2",
            "'link.png' is a symbolic link leading out",
            "--allow-links",
        ],
    );
    assert!(!out.exists());
    victim.assert_untouched();

    // Allowed for reading: the ROI is written inside OUT, never through the link.
    let o = roi_extract(
        &frames,
        &frames.join("coords.csv"),
        &out,
        &["--allow-links"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("link.png").is_file());
    assert!(!std::fs::symlink_metadata(out.join("link.png"))
        .unwrap()
        .file_type()
        .is_symlink());
    victim.assert_untouched();
}

#[cfg(unix)]
#[test]
fn roi_extract_output_must_be_apart_from_the_frames_and_not_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = Victim::new(tmp.path());
    let frames = tmp.path().join("frames");
    copy_dir(&sample_frames(), &frames);
    let before = snapshot(&frames);
    let coords = frames.join("coords.csv");
    for (out, needle) in [
        (frames.clone(), "is the input folder"),
        (frames.join("rois"), "inside the input folder"),
        (frames.join("sub/../rois"), "inside the input folder"),
        (tmp.path().to_path_buf(), "holds the input folder"),
    ] {
        let o = roi_extract(&frames, &coords, &out, &[]);
        assert_fails_with(&o, &[needle]);
        assert!(snapshot(&frames) == before, "{}", out.display());
    }
    // An output that is a link to an (empty) folder elsewhere is refused.
    let empty = tmp.path().join("elsewhere");
    std::fs::create_dir(&empty).unwrap();
    symlink(&empty, tmp.path().join("link-out")).unwrap();
    let o = roi_extract(&frames, &coords, &tmp.path().join("link-out"), &[]);
    assert_fails_with(&o, &["link-out", "is a symbolic link"]);
    let o = roi_extract(&frames, &coords, &tmp.path().join("link-out/"), &[]);
    assert_fails_with(&o, &["is a symbolic link"]);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // A link to the victim's folder: refused, nothing there changes.
    symlink(&victim.dir, tmp.path().join("to-victim")).unwrap();
    let o = roi_extract(&frames, &coords, &tmp.path().join("to-victim"), &[]);
    assert!(!o.status.success());
    victim.assert_untouched();
    assert!(
        partials(tmp.path()).is_empty(),
        "{:?}",
        partials(tmp.path())
    );
}

/// A folder of 3 PNG frames, a sheet naming them, and the victim.
fn png_import_case(root: &Path) -> (PathBuf, PathBuf) {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for n in ["US_1_a.png", "US_1_b.png", "US_2_a.png"] {
        std::fs::copy(sample_frames().join("p01_f0.png"), src.join(n)).unwrap();
    }
    let sheet = root.join("sheet.csv");
    std::fs::write(
        &sheet,
        "file,patient,label\nUS_1_a.png,1,0\nUS_1_b.png,1,0\nUS_2_a.png,2,1\n",
    )
    .unwrap();
    (src, sheet)
}

fn import(
    kind: &str,
    src: &Path,
    sheet: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "import",
        kind,
        p(src),
        "--labels",
        p(sheet),
        "--out",
        p(out),
    ];
    args.extend_from_slice(extra);
    vqtex(&args)
}

#[cfg(unix)]
#[test]
fn import_frames_reads_only_inside_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = Victim::new(tmp.path());
    let (src, sheet) = png_import_case(tmp.path());
    let abs = victim.png().to_string_lossy().into_owned();
    for (i, (name, needle)) in [
        ("../victim/v.png", "'..' is not allowed"),
        (abs.as_str(), "absolute path"),
    ]
    .into_iter()
    .enumerate()
    {
        let s = tmp.path().join(format!("sheet{i}.csv"));
        std::fs::copy(&sheet, &s).unwrap();
        edit(&s, "US_1_b.png", name);
        let out = tmp.path().join(format!("out{i}"));
        let o = import("frames", &src, &s, &out, &[]);
        assert_fails_with(&o, &[&format!("sheet{i}.csv, line 3"), name, needle]);
        assert!(!out.exists());
        victim.assert_untouched();
    }
    // A link in the folder leading out.
    symlink(victim.png(), src.join("US_3_a.png")).unwrap();
    let text = std::fs::read_to_string(&sheet).unwrap() + "US_3_a.png,3,1\n";
    std::fs::write(&sheet, text).unwrap();
    let out = tmp.path().join("out");
    let o = import("frames", &src, &sheet, &out, &[]);
    assert_fails_with(
        &o,
        &[
            "sheet.csv, line 5",
            "symbolic link leading out",
            "--allow-links",
        ],
    );
    assert!(!out.exists());
    let o = import("frames", &src, &sheet, &out, &["--allow-links"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("p3_f0.png").is_file());
    victim.assert_untouched();
    // The output may not be the input folder or inside it.
    let o = import("frames", &src, &sheet, &src.join("frames"), &[]);
    assert_fails_with(&o, &["inside the input folder"]);
    assert!(!src.join("frames").exists());
}

#[cfg(unix)]
#[test]
fn import_dicom_reads_only_inside_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // The victim holds a DICOM file outside: a link to it must not be read.
    let outside = tmp.path().join("victim/x.dcm");
    std::fs::create_dir_all(tmp.path().join("victim")).unwrap();
    vqtex::data::dicom::write_test_dicom(&outside, "P9", 20, 30, 1, false, vec![7; 600]).unwrap();
    let victim = Victim::new(tmp.path());
    let src = tmp.path().join("dcm");
    std::fs::create_dir(&src).unwrap();
    for (n, id) in [("a.dcm", "P1"), ("b.dcm", "P2")] {
        vqtex::data::dicom::write_test_dicom(&src.join(n), id, 20, 30, 1, false, vec![90; 600])
            .unwrap();
    }
    let sheet = tmp.path().join("sheet.csv");
    std::fs::write(&sheet, "file,label\na.dcm,0\n../victim/x.dcm,1\n").unwrap();
    let o = import("dicom", &src, &sheet, &tmp.path().join("o1"), &[]);
    assert_fails_with(&o, &["sheet.csv, line 3", "'..' is not allowed"]);
    std::fs::write(
        &sheet,
        format!("file,label\na.dcm,0\n{},1\n", outside.display()),
    )
    .unwrap();
    let o = import("dicom", &src, &sheet, &tmp.path().join("o2"), &[]);
    assert_fails_with(&o, &["sheet.csv, line 3", "absolute path"]);
    symlink(&outside, src.join("c.dcm")).unwrap();
    std::fs::write(&sheet, "file,label\na.dcm,0\nb.dcm,1\nc.dcm,1\n").unwrap();
    let o = import("dicom", &src, &sheet, &tmp.path().join("o3"), &[]);
    assert_fails_with(&o, &["sheet.csv, line 4", "symbolic link leading out"]);
    for o in ["o1", "o2", "o3"] {
        assert!(!tmp.path().join(o).exists());
    }
    victim.assert_untouched();
    let o = import(
        "dicom",
        &src,
        &sheet,
        &tmp.path().join("o4"),
        &["--allow-links"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    victim.assert_untouched();
}

#[cfg(unix)]
#[test]
fn import_mat_and_synth_write_only_inside_their_output() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = Victim::new(tmp.path());
    let mat = tmp.path().join("d.mat");
    let o = vqtex(&[
        "synth",
        "--mat",
        "--out",
        p(&mat),
        "--healthy",
        "1",
        "--steatotic",
        "1",
        "--per-patient",
        "1",
        "--size",
        "150x100",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    symlink(&victim.dir, tmp.path().join("to-victim")).unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    symlink(&empty, tmp.path().join("to-empty")).unwrap();
    let link = |n: &str| tmp.path().join(n);
    let runs: Vec<Vec<String>> = vec![
        vec!["import".into(), "mat".into(), p(&mat).into()],
        vec!["synth".into()],
        vec!["synth".into(), "--frames".into()],
    ];
    for args in runs {
        for target in ["to-victim", "to-empty"] {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = link(target);
            a.extend(["--out", p(&out)]);
            let o = vqtex(&a);
            assert_fails_with(&o, &["is a symbolic link"]);
            victim.assert_untouched();
            assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "{a:?}");
        }
        // A folder that is not empty is refused, byte for byte unchanged.
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend(["--out", p(&victim.dir)]);
        let o = vqtex(&a);
        assert_fails_with(&o, &["is not empty"]);
        victim.assert_untouched();
    }
    // A .mat written over a link replaces the link, not what it points at.
    symlink(victim.png(), tmp.path().join("x.mat")).unwrap();
    let o = vqtex(&["synth", "--mat", "--out", p(&tmp.path().join("x.mat"))]);
    assert!(!o.status.success());
    victim.assert_untouched();
    assert!(
        partials(tmp.path()).is_empty(),
        "{:?}",
        partials(tmp.path())
    );
}

#[test]
fn partial_folders_of_dead_processes_are_removed_and_live_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dead = tmp.path().join(format!(".rois.partial-{}", dead_pid()));
    // This test's own process is alive.
    let live = tmp
        .path()
        .join(format!(".rois.partial-{}", std::process::id()));
    let other = tmp.path().join(format!(".other.partial-{}", dead_pid()));
    for d in [&dead, &live, &other] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("p01_f0.png"), vec![0u8; 1000]).unwrap();
    }
    let frames = sample_frames();
    let o = roi_extract(
        &frames,
        &frames.join("coords.csv"),
        &tmp.path().join("rois"),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    if cfg!(target_os = "linux") {
        assert!(!dead.exists(), "partial folder of a dead process kept");
    }
    assert!(live.exists(), "partial folder of a live process removed");
    assert!(other.exists(), "partial folder of another output removed");

    // A failed import removes its own partial folder, and cleans up dead ones on the way.
    let dead = tmp.path().join(format!(".frames.partial-{}", dead_pid()));
    std::fs::create_dir(&dead).unwrap();
    let (src, sheet) = png_import_case(tmp.path());
    std::fs::write(src.join("US_2_a.png"), b"not a png").unwrap();
    let o = import("frames", &src, &sheet, &tmp.path().join("frames"), &[]);
    assert_fails_with(&o, &["US_2_a.png"]);
    if cfg!(target_os = "linux") {
        assert!(!dead.exists());
    }
    let left: Vec<String> = partials(tmp.path())
        .into_iter()
        .filter(|n| n.starts_with(".frames."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_file_listed_twice_is_an_error_naming_both_lines() {
    let tmp = tempfile::tempdir().unwrap();
    // labels.csv of a ROI folder: also the same file under another spelling.
    let data = small_dataset(&tmp.path().join("data"), 2, 2, 2);
    let labels = data.join("labels.csv");
    let text = std::fs::read_to_string(&labels).unwrap();
    let first = text.lines().nth(1).unwrap().to_string();
    let mut dup = text.clone();
    for _ in 0..1000 {
        dup.push_str(&first);
        dup.push('\n');
    }
    std::fs::write(&labels, &dup).unwrap();
    let e = vqtex::data::load_folder(&data, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 10") && e.contains("first on line 2"),
        "{e}"
    );
    let o = vqtex(&[
        "train",
        "--data",
        p(&data),
        "--run",
        p(&tmp.path().join("run")),
        "--epochs",
        "1",
    ]);
    assert_fails_with(&o, &["labels.csv, line 10", "listed twice", "line 2"]);
    let file = first.split(',').next().unwrap();
    std::fs::write(
        &labels,
        format!("{text}{}\n", first.replacen(file, &format!("./{file}"), 1)),
    )
    .unwrap();
    let e = vqtex::data::load_folder(&data, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is the same file as") && e.contains("line 2"),
        "{e}"
    );

    // frames.csv and coords.csv.
    let frames = tmp.path().join("frames");
    copy_dir(&sample_frames(), &frames);
    let coords = frames.join("coords.csv");
    std::fs::write(
        tmp.path().join("coords.csv"),
        std::fs::read_to_string(&coords).unwrap() + "p01_f0.png,100,34,40,60\n",
    )
    .unwrap();
    let o = roi_extract(
        &frames,
        &tmp.path().join("coords.csv"),
        &tmp.path().join("r1"),
        &[],
    );
    assert_fails_with(
        &o,
        &[
            "coords.csv, line 14",
            "'p01_f0.png' already has boxes on line 2",
        ],
    );
    std::fs::write(
        frames.join("frames.csv"),
        std::fs::read_to_string(frames.join("frames.csv")).unwrap() + "p01_f0.png,01,3,healthy,\n",
    )
    .unwrap();
    let o = roi_extract(&frames, &coords, &tmp.path().join("r2"), &[]);
    assert_fails_with(
        &o,
        &["frames.csv, line 14", "listed twice: first on line 2"],
    );

    // The label sheet of an import.
    let (src, sheet) = png_import_case(&tmp.path().join("imp"));
    std::fs::write(
        &sheet,
        std::fs::read_to_string(&sheet).unwrap() + "US_1_a.png,1,0\n",
    )
    .unwrap();
    let o = import("frames", &src, &sheet, &tmp.path().join("o"), &[]);
    assert_fails_with(
        &o,
        &[
            "sheet.csv, line 5",
            "'US_1_a.png' is listed twice: first on line 2",
        ],
    );
    assert!(!tmp.path().join("o").exists());
}

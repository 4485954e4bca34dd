//! Mutational fuzzing of the parsers that read user files, on stable Rust (no cargo-fuzz).
//!
//! Each target turns one input (bytes) into a call of vqtex's own reader: the MAT reader, the ROI
//! folder loader, DICOM import, coords parsing with ROI extraction, and checkpoint loading. Seeds are files vqtex's own
//! writers produce; a small seeded mutator (bit flips, interesting values, inserted, deleted and
//! duplicated ranges, truncation, splices, dictionary tokens) derives inputs from them, and inputs
//! that give a new kind of outcome join the corpus. An input fails when it
//!
//! - panics (caught with `catch_unwind`, reported, and the test fails),
//! - makes the thread running it allocate more than [`PEAK_BUDGET`] bytes at its peak (counted by
//!   the global allocator below, per thread, so other tests do not disturb the measure), or
//! - gives an error message longer than [`MAX_MESSAGE`] characters.
//!
//! Every failing input is saved under `tests/fuzz-regressions/<target>/` and replayed by
//! `fuzz_regressions_replay`. An allocation over [`HARD_CAP`] cannot be survived (the allocator
//! returns null and the process aborts), so the input running at that moment is written to
//! `target/tmp/fuzz-abort-<target>.bin` first and moved into the regressions on the next run.
//!
//! CI runs `fuzz_<target>_ci` (a fixed number of deterministic executions, a few seconds); a long
//! run is `FUZZ_SECS=600 cargo test --test fuzz -- --ignored --nocapture fuzz_<target>_long`.
//! To add a target: write a `fn <name>_target() -> Target` like the ones below, list it in
//! [`targets`], and add its two tests with [`ci_run`] and [`long_run`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io::{Cursor, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use vqtex::data::dicom::{is_dicom, read_dicom, write_test_dicom};
use vqtex::data::extract::{extract_frame, extract_rois, read_coords};
use vqtex::data::folder::read_gray_png;
use vqtex::data::frames::{save_gray, write_frames_csv, FrameRecord};
use vqtex::data::mat::writer::{write_byra, HeaderStyle, PatientMeta, WriteOptions};
use vqtex::data::mat::ByraReader;
use vqtex::data::{load_folder, Label, LoadOptions, PatientId};

/// Most bytes one input (of a few KB) may have allocated at once.
const PEAK_BUDGET: usize = 64 << 20;
/// One allocation this large is refused outright (the process aborts, after saving the input).
const HARD_CAP: usize = 1 << 30;
/// Longest error message an input may produce.
const MAX_MESSAGE: usize = 4096;
/// Largest input the mutator makes.
const MAX_INPUT: usize = 1 << 16;

// ---------------------------------------------------------------------------------------------
// Counting allocator: current and peak bytes per thread.

struct CountingAlloc;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static WATCHED: Cell<bool> = const { Cell::new(false) };
    static REFUSED: Cell<bool> = const { Cell::new(false) };
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    static PANIC_MSG: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Where to write the running input if it makes an allocation over [`HARD_CAP`]: the file and the
/// input's address and length.
static ABORT_DUMP: Mutex<Option<(std::fs::File, usize, usize)>> = Mutex::new(None);

fn grew(by: usize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get().saturating_add(by);
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn shrank(by: usize) {
    let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(by)));
}

/// A request no input may make: save the input, say why, and refuse (the process then aborts).
fn refuse(size: usize) -> bool {
    if size <= HARD_CAP || !WATCHED.try_with(|w| w.get()).unwrap_or(false) {
        return false;
    }
    if let Ok(guard) = ABORT_DUMP.try_lock() {
        if let Some((file, ptr, len)) = guard.as_ref() {
            // SAFETY: the input outlives its execution, during which this pointer is set.
            let input = unsafe { std::slice::from_raw_parts(*ptr as *const u8, *len) };
            let mut f: &std::fs::File = file;
            let _ = f.write_all(input);
        }
    }
    let _ = REFUSED.try_with(|r| r.set(true));
    let _ = std::io::stderr().write_all(
        b"\nfuzz: an input asked for one allocation over 1 GiB: refused (if that aborts, the \
          input is saved for the next run)\n",
    );
    true
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refuse(new_size) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Peak bytes allocated by this thread while `f` ran, above what it held before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.with(|c| c.get());
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(|p| p.get()).saturating_sub(base))
}

/// Tests of this binary run one at a time: the fuzz targets share the panic hook and the CPU.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Panics while fuzzing are recorded, not printed; other panics print as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if FUZZING.with(|f| f.get()) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                PANIC_MSG.with(|m| *m.borrow_mut() = Some(format!("{at}: {msg}")));
            } else {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------------------------
// Targets.

/// One fuzz target: seeds, a dictionary of tokens the mutator inserts, and the code under test.
/// `run` pushes one message per outcome ("ok" or the error's text) into its second argument.
pub struct Target {
    pub name: &'static str,
    pub seeds: Vec<Vec<u8>>,
    pub dict: Vec<Vec<u8>>,
    #[allow(clippy::type_complexity)]
    pub run: Box<dyn FnMut(&[u8], &mut Vec<String>)>,
}

/// Every target, by name (the regressions replay goes through them all).
fn targets() -> Vec<fn() -> Target> {
    vec![
        mat_target,
        roi_folder_target,
        dicom_target,
        coords_target,
        checkpoint_target,
    ]
}

fn outcome<E: std::fmt::Display>(r: Result<(), E>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

fn le32(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn mat_bytes(opts: &WriteOptions, n: usize, dims: [usize; 3]) -> Vec<u8> {
    let metas: Vec<PatientMeta> = (0..n)
        .map(|i| PatientMeta {
            id: (i + 1) as f64,
            class: (i % 2) as f64,
            fat: 3.0 * i as f64,
            dims,
        })
        .collect();
    let mut c = Cursor::new(Vec::new());
    write_byra(&mut c, opts, &metas, |i| {
        (0..dims.iter().product::<usize>())
            .map(|k| ((k * 7 + i) % 256) as u8)
            .collect()
    })
    .expect("write a MAT seed");
    c.into_inner()
}

/// A MAT file's elements after the header, recompressed as one miCOMPRESSED element: mutations
/// of uncompressed seeds then reach the compressed path with a valid zlib stream.
fn recompressed(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() <= 128 {
        return None;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&input[128..]).ok()?;
    let body = z.finish().ok()?;
    let big = &input[126..128] == b"MI";
    let word = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = input[..128].to_vec();
    out.extend_from_slice(&word(15));
    out.extend_from_slice(&word(body.len() as u32));
    out.extend_from_slice(&body);
    Some(out)
}

fn read_mat(bytes: Vec<u8>) -> String {
    let reader = match ByraReader::new(Cursor::new(bytes)) {
        Ok(r) => r,
        Err(e) => return e.to_string(),
    };
    for p in reader {
        match p {
            Ok(p) => {
                // What import does with each patient.
                for f in 0..p.frames.min(64) {
                    std::hint::black_box(p.frame(f));
                }
            }
            Err(e) => return e.to_string(),
        }
    }
    "ok".into()
}

fn mat_target() -> Target {
    let mut seeds = Vec::new();
    for (k, header) in [HeaderStyle::Matlab, HeaderStyle::Scipy]
        .into_iter()
        .enumerate()
    {
        for compressed in [false, true] {
            for big_endian in [false, true] {
                let opts = WriteOptions {
                    header,
                    compressed,
                    big_endian,
                    extra_variable: k == 1,
                    ..WriteOptions::default()
                };
                seeds.push(mat_bytes(&opts, 2, [2, 3, 4]));
            }
        }
    }
    let opts = WriteOptions {
        compressed: false,
        fields: ["images", "note", "class"].map(String::from).to_vec(),
        ..WriteOptions::default()
    };
    seeds.push(mat_bytes(&opts, 3, [1, 5, 3]));
    let mut dict: Vec<Vec<u8>> = [1u32, 2, 5, 6, 9, 12, 14, 15, 16, 17]
        .iter()
        .map(|&t| le32(t))
        .collect();
    dict.extend([
        le32((4 << 16) | 5),
        le32((1 << 16) | 5),
        le32(0x7fff_ffff),
        le32(0xffff_ffff),
        b"data".to_vec(),
        b"images".to_vec(),
        b"class".to_vec(),
        b"MATLAB 5.0 MAT-file".to_vec(),
    ]);
    Target {
        name: "mat",
        seeds,
        dict,
        run: Box::new(|input, out| {
            out.push(read_mat(input.to_vec()));
            if let Some(z) = recompressed(input) {
                out.push(read_mat(z));
            }
        }),
    }
}

/// A PNG of `w x h` gray pixels (`rgb`: as RGB), as vqtex's writer makes them.
fn png_bytes(w: u32, h: u32, rgb: bool) -> Vec<u8> {
    let px: Vec<u8> = (0..w * h).map(|i| (40 + i * 3 % 150) as u8).collect();
    let mut out = Cursor::new(Vec::new());
    if rgb {
        let rgb: Vec<u8> = px.iter().flat_map(|&v| [v, v / 2, 255 - v]).collect();
        image::RgbImage::from_raw(w, h, rgb)
            .expect("rgb buffer")
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode png");
    } else {
        image::GrayImage::from_raw(w, h, px)
            .expect("gray buffer")
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode png");
    }
    out.into_inner()
}

const PNG_SEP: &[u8] = b"\n--PNG--\n";

fn roi_folder_target() -> Target {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("rois");
    std::fs::create_dir_all(&dir).expect("rois dir");
    std::fs::write(dir.join("b.png"), png_bytes(28, 28, false)).expect("b.png");
    let csv = b"file,patient,label,hi\na.png,1,healthy,1.2\nb.png,2,steatosis,\n".to_vec();
    let with = |png: Vec<u8>| [csv.clone(), PNG_SEP.to_vec(), png].concat();
    let seeds = vec![
        with(png_bytes(28, 28, false)),
        with(png_bytes(28, 28, true)),
        with(png_bytes(30, 26, false)),
        b"nome_arquivo,classe,paciente\nb.png,0,07\n".to_vec(),
    ];
    let dict = [
        "4294967295",
        "-1",
        "NaN",
        "1e308",
        ",",
        "\n",
        "\"",
        "a.png",
        "b.png",
        "../",
        "labels.csv",
        "healthy",
        "steatosis",
        "split",
        "train",
        "IHDR",
        "IDAT",
        "IEND",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([le32(0xffff_ffff), vec![0x7f, 0xff, 0xff, 0xff]])
    .collect();
    Target {
        name: "roi_folder",
        seeds,
        dict,
        run: Box::new(move |input, out| {
            let _keep = &tmp;
            let (csv, png) = match input.windows(PNG_SEP.len()).position(|w| w == PNG_SEP) {
                Some(i) => (&input[..i], Some(&input[i + PNG_SEP.len()..])),
                None => (input, None),
            };
            let a = dir.join("a.png");
            let written = std::fs::write(dir.join("labels.csv"), csv).and_then(|_| match png {
                Some(p) => std::fs::write(&a, p),
                None => match std::fs::remove_file(&a) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                },
            });
            if let Err(e) = written {
                out.push(format!("harness: {e}"));
                return;
            }
            for resize in [false, true] {
                let opts = LoadOptions {
                    resize,
                    ..LoadOptions::default()
                };
                out.push(outcome(load_folder(&dir, &opts).map(|_| ())));
            }
            if png.is_some() {
                out.push(outcome(read_gray_png(&a).map(|_| ())));
            }
        }),
    }
}

fn dicom_target() -> Target {
    let tmp = tempfile::tempdir().expect("temp dir");
    let seed = |name: &str, rows: u16, cols: u16, frames: usize, rgb: bool| {
        let path = tmp.path().join(name);
        let n = rows as usize * cols as usize * frames * if rgb { 3 } else { 1 };
        let px = (0..n).map(|i| (i * 5 % 256) as u8).collect();
        write_test_dicom(&path, "P1", rows, cols, frames, rgb, px).expect("write dicom seed");
        std::fs::read(&path).expect("read dicom seed")
    };
    let seeds = vec![
        seed("gray.dcm", 4, 6, 1, false),
        seed("multi.dcm", 3, 5, 3, false),
        seed("rgb.dcm", 2, 2, 1, true),
    ];
    let dict = vec![
        vec![0xe0, 0x7f, 0x10, 0x00],
        vec![0x28, 0x00, 0x10, 0x00],
        vec![0x28, 0x00, 0x11, 0x00],
        vec![0x28, 0x00, 0x08, 0x00],
        vec![0xfe, 0xff, 0x00, 0xe0],
        vec![0xfe, 0xff, 0xdd, 0xe0],
        le32(0xffff_ffff),
        b"OB".to_vec(),
        b"OW".to_vec(),
        b"SQ".to_vec(),
        b"UN".to_vec(),
        b"IS".to_vec(),
        b"1.2.840.10008.1.2\0".to_vec(),
        b"1.2.840.10008.1.2.1.99".to_vec(),
        b"1.2.840.10008.1.2.4.50".to_vec(),
        b"DICM".to_vec(),
    ];
    let path = tmp.path().join("input.dcm");
    Target {
        name: "dicom",
        seeds,
        dict,
        run: Box::new(move |input, out| {
            let _keep = &tmp;
            if let Err(e) = std::fs::write(&path, input) {
                out.push(format!("harness: {e}"));
                return;
            }
            std::hint::black_box(is_dicom(&path));
            out.push(match read_dicom(&path) {
                Ok(d) => {
                    let ok = d.frames.len() as u64 * d.width as u64 * d.height as u64
                        == d.frames.iter().map(|f| f.len() as u64).sum::<u64>();
                    if ok { "ok" } else { "frames of the wrong size" }.to_string()
                }
                Err(e) => e.to_string(),
            });
        }),
    }
}

/// A frames folder of two 60x40 frames (liver left, kidney right) and its pixels.
fn frames_folder(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::create_dir_all(dir).expect("frames dir");
    let mut recs = Vec::new();
    let mut frames = Vec::new();
    for (i, p) in ["01", "02"].iter().enumerate() {
        let file = format!("p{p}_f0.png");
        let px: Vec<u8> = (0..40 * 60)
            .map(|k| if k % 60 < 30 { 120 } else { 80 })
            .collect();
        save_gray(&dir.join(&file), 60, 40, px.clone()).expect("frame");
        recs.push(FrameRecord {
            file: file.clone(),
            patient: PatientId(p.to_string()),
            frame: 0,
            label: if i == 0 {
                Label::Healthy
            } else {
                Label::Steatosis
            },
            fat: None,
        });
        frames.push((file, px));
    }
    write_frames_csv(dir, &recs).expect("frames.csv");
    frames
}

fn coords_target() -> Target {
    let tmp = tempfile::tempdir().expect("temp dir");
    let frames_dir = tmp.path().join("frames");
    let frames = frames_folder(&frames_dir);
    let seeds = vec![
        b"file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,0,0,32,12\np02_f0.png,2,5,31,0\n"
            .to_vec(),
        b"file,patient,label,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,01,healthy,1,1,30,3\np02_f0.png,02,steatosis,0,12,32,12\n"
            .to_vec(),
    ];
    let dict = [
        "4294967295",
        "4294967268",
        "4294967269",
        "18446744073709551615",
        "-1",
        "0",
        "28",
        "32",
        "1e9",
        "NaN",
        ",",
        "\n",
        "\"",
        "p01_f0.png",
        "p02_f0.png",
        "../",
        "liver_x",
        "kidney_y",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let coords = tmp.path().join("coords.csv");
    let out_dir = tmp.path().join("out");
    Target {
        name: "coords",
        seeds,
        dict,
        run: Box::new(move |input, out| {
            let _keep = &tmp;
            if let Err(e) = std::fs::write(&coords, input) {
                out.push(format!("harness: {e}"));
                return;
            }
            let mut problems = Vec::new();
            match read_coords(&coords, &mut problems) {
                Ok(boxes) => {
                    for (file, (b, _)) in boxes.iter().take(64) {
                        if let Some((_, px)) = frames.iter().find(|(f, _)| f == file) {
                            out.push(outcome(extract_frame(px, 60, 40, *b).map(|_| ())));
                        }
                    }
                    out.extend(problems.into_iter().take(8));
                }
                Err(e) => out.push(e.to_string()),
            }
            let _ = std::fs::remove_dir_all(&out_dir);
            out.push(outcome(
                extract_rois(&frames_dir, &coords, &out_dir).map(|_| ()),
            ));
            let _ = std::fs::remove_dir_all(&out_dir);
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// The mutator.

/// splitmix64: small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING_8: [u8; 6] = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_32: [u32; 12] = [
    0,
    1,
    4,
    8,
    28,
    0xff,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// One to four random edits of `input`; `others` are the corpus to splice from.
fn mutate(input: &[u8], others: &[Vec<u8>], dict: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(12) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING_8[rng.below(INTERESTING_8.len())];
            }
            2 if len >= 4 => {
                let i = rng.below(len - 3);
                let x = INTERESTING_32[rng.below(INTERESTING_32.len())];
                let b = if rng.below(2) == 0 {
                    x.to_le_bytes()
                } else {
                    x.to_be_bytes()
                };
                v[i..i + 4].copy_from_slice(&b);
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            4 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            5 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let copy = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, copy);
            }
            6 if len > 1 => v.truncate(rng.below(len)),
            7 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(o.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&o[from..]);
            }
            8 if !dict.is_empty() => {
                let t = &dict[rng.below(dict.len())];
                let i = rng.below(len + 1);
                v.splice(i..i, t.iter().copied());
            }
            9 if !dict.is_empty() && len > 0 => {
                let t = &dict[rng.below(dict.len())];
                let i = rng.below(len);
                let end = (i + t.len()).min(len);
                v[i..end].copy_from_slice(&t[..end - i]);
            }
            10 if len >= 4 => {
                // Small arithmetic on a 32-bit word: sizes one off, counts a bit larger.
                let i = rng.below(len - 3);
                let w = u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
                let d = rng.below(33) as u32;
                let w = if rng.below(2) == 0 {
                    w.wrapping_add(d)
                } else {
                    w.wrapping_sub(d)
                };
                v[i..i + 4].copy_from_slice(&w.to_le_bytes());
            }
            _ if len > 0 => {
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(1 + rng.below(8) as u8);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v.truncate(MAX_INPUT);
    v
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// What went wrong with one input.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    detail: String,
}

/// The messages of one execution, or how it failed.
fn execute(target: &mut Target, input: &[u8]) -> Result<Vec<String>, Failure> {
    install_panic_hook();
    let mut msgs = Vec::new();
    FUZZING.with(|f| f.set(true));
    REFUSED.with(|r| r.set(false));
    WATCHED.with(|w| w.set(true));
    if let Ok(mut g) = ABORT_DUMP.lock() {
        if let Some(d) = g.as_mut() {
            d.1 = input.as_ptr() as usize;
            d.2 = input.len();
        }
    }
    let (result, peak) =
        peak_of(|| catch_unwind(AssertUnwindSafe(|| (target.run)(input, &mut msgs))));
    WATCHED.with(|w| w.set(false));
    FUZZING.with(|f| f.set(false));
    if let Ok(mut g) = ABORT_DUMP.lock() {
        if let Some(d) = g.as_mut() {
            d.2 = 0;
        }
    }
    if result.is_err() {
        let msg = PANIC_MSG
            .with(|m| m.borrow_mut().take())
            .unwrap_or_default();
        return Err(Failure {
            kind: "panic",
            detail: msg,
        });
    }
    if REFUSED.with(|r| r.replace(false)) {
        return Err(Failure {
            kind: "memory",
            detail: format!(
                "asked for one allocation over {HARD_CAP} bytes for a {}-byte input",
                input.len()
            ),
        });
    }
    if peak > PEAK_BUDGET {
        return Err(Failure {
            kind: "memory",
            detail: format!(
                "{peak} bytes at the peak for a {}-byte input (budget {PEAK_BUDGET})",
                input.len()
            ),
        });
    }
    if let Some(m) = msgs.iter().find(|m| m.chars().count() > MAX_MESSAGE) {
        return Err(Failure {
            kind: "long-message",
            detail: format!(
                "a {}-character message: {}...",
                m.chars().count(),
                m.chars().take(200).collect::<String>()
            ),
        });
    }
    Ok(msgs)
}

fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Saves a failing input as a regression file; returns its path.
fn save_regression(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = regressions_dir(target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{:016x}.bin", fnv(input)));
    let _ = std::fs::write(&path, input);
    path
}

/// The outcome with numbers blanked: inputs that give a new one join the corpus.
fn shape(msgs: &[String]) -> u64 {
    let mut s = String::new();
    for m in msgs {
        s.extend(m.chars().filter(|c| !c.is_ascii_digit()).take(160));
        s.push('|');
    }
    fnv(s.as_bytes())
}

struct Stats {
    execs: u64,
    failures: Vec<(String, PathBuf)>,
    corpus: usize,
    slowest: Duration,
}

/// Where an aborting input of `target` is written, to be picked up by the next run.
fn abort_file(target: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-abort-{target}.bin"))
}

/// Runs `target` from `seed` until `stop` says so (given executions and elapsed time).
fn fuzz(target: &mut Target, seed: u64, stop: impl Fn(u64, Duration) -> bool) -> Stats {
    let name = target.name;
    let mut failures = Vec::new();
    // An input that aborted the last run on an allocation over the hard cap.
    let dump = abort_file(name);
    if let Ok(bytes) = std::fs::read(&dump) {
        if !bytes.is_empty() {
            let path = save_regression(name, "abort", &bytes);
            failures.push(("abort: over 1 GiB in one allocation".to_string(), path));
        }
    }
    if let Ok(f) = std::fs::File::create(&dump) {
        *ABORT_DUMP.lock().unwrap_or_else(|e| e.into_inner()) = Some((f, 0, 0));
    }
    let mut rng = Rng(seed);
    let mut corpus: Vec<Vec<u8>> = target.seeds.clone();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut failed_kinds: HashSet<String> = HashSet::new();
    let mut execs = 0u64;
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    let seeds = target.seeds.clone();
    let mut queue: Vec<Vec<u8>> = seeds.clone();
    let dict = target.dict.clone();
    while !stop(execs, start.elapsed()) {
        let input = match queue.pop() {
            Some(s) => s,
            None => {
                let base = &corpus[rng.below(corpus.len())];
                mutate(base, &corpus, &dict, &mut rng)
            }
        };
        let t0 = Instant::now();
        let r = execute(target, &input);
        slowest = slowest.max(t0.elapsed());
        execs += 1;
        match r {
            Ok(msgs) => {
                if seen.insert(shape(&msgs)) && corpus.len() < 2000 {
                    corpus.push(input);
                }
            }
            Err(f) => {
                // One file per kind of failure (numbers aside), not one per input.
                let key: String = format!("{}:{}", f.kind, f.detail)
                    .chars()
                    .filter(|c| !c.is_ascii_digit())
                    .take(200)
                    .collect();
                if failed_kinds.insert(key) {
                    let path = save_regression(name, f.kind, &input);
                    eprintln!(
                        "fuzz {name}: {} ({}) -> {}",
                        f.kind,
                        f.detail,
                        path.display()
                    );
                    failures.push((format!("{}: {}", f.kind, f.detail), path));
                }
            }
        }
    }
    *ABORT_DUMP.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let _ = std::fs::remove_file(&dump);
    Stats {
        execs,
        failures,
        corpus: corpus.len(),
        slowest,
    }
}

fn report(name: &str, stats: &Stats, elapsed: Duration) {
    println!(
        "fuzz {name}: {} executions in {:.1} s, {} failures, corpus {}, slowest input {:.1} ms",
        stats.execs,
        elapsed.as_secs_f64(),
        stats.failures.len(),
        stats.corpus,
        stats.slowest.as_secs_f64() * 1e3
    );
    for (what, path) in &stats.failures {
        println!("  {what}\n    saved as {}", path.display());
    }
}

/// CI: `execs` deterministic executions; fails on any failure.
fn ci_run(make: fn() -> Target, execs: u64) {
    let _g = serial();
    let mut target = make();
    let t0 = Instant::now();
    let seed = 0x5eed_0000 ^ fnv(target.name.as_bytes());
    let stats = fuzz(&mut target, seed, |n, _| n >= execs);
    report(target.name, &stats, t0.elapsed());
    assert!(
        stats.failures.is_empty(),
        "fuzz {}: {} failing inputs, saved under {}: {:?}",
        target.name,
        stats.failures.len(),
        regressions_dir(target.name).display(),
        stats.failures
    );
}

/// A long run: `FUZZ_SECS` seconds (default 600), seeded from the clock; fails on any failure.
fn long_run(make: fn() -> Target) {
    let _g = serial();
    let secs: u64 = std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let mut target = make();
    println!(
        "fuzz {}: {secs} s from seed {seed} (FUZZ_SEED={seed} repeats it)",
        target.name
    );
    let t0 = Instant::now();
    let limit = Duration::from_secs(secs);
    let stats = fuzz(&mut target, seed, |_, t| t >= limit);
    report(target.name, &stats, t0.elapsed());
    assert!(
        stats.failures.is_empty(),
        "fuzz {}: {} failing inputs",
        target.name,
        stats.failures.len()
    );
}

const CKPT_SEP: &[u8] = b"\n--TENSORS--\n";

/// A checkpoint of a tiny VQ-VAE (so its file fits the mutator's input size), as vqtex writes
/// it: the sidecar JSON, [`CKPT_SEP`], the safetensors bytes.
fn checkpoint_seed(model: &dyn vqtex::model::Autoencoder, crc: bool) -> Vec<u8> {
    use vqtex::train::checkpoint::{expected_tensors, save, Sidecar};
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut tensors = model.params().tensors();
    for (name, shape) in expected_tensors(model) {
        tensors.entry(name).or_insert_with(|| {
            candle_core::Tensor::zeros(shape, candle_core::DType::F32, &candle_core::Device::Cpu)
                .expect("zeros")
        });
    }
    let sidecar = Sidecar {
        epoch: 1,
        step: 3,
        model: "vqvae".into(),
        bytes: 0,
        train_loss: Some(0.1),
        test_loss: None,
        lr: 2e-4,
        crc32: None,
        is_final: false,
    };
    save(tmp.path(), &tensors, sidecar, 2).expect("save");
    let mut json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("epoch-0001.json")).expect("sidecar"),
    )
    .expect("json");
    if !crc {
        if let Some(o) = json.as_object_mut() {
            o.remove("crc32");
        }
    }
    let tensors = std::fs::read(tmp.path().join("epoch-0001.safetensors")).expect("tensors");
    [
        serde_json::to_vec(&json).expect("json"),
        CKPT_SEP.to_vec(),
        tensors,
    ]
    .concat()
}

/// Checkpoint loading: the sidecar and the tensors file of `checkpoints/epoch-0001`, loaded and
/// checked against the model (names, shapes, dtypes, finite values). When the sidecar parses and
/// names no CRC, the harness sets its `bytes` to the file's length, so that mutations of the
/// tensors reach the safetensors parser and the checks behind it instead of the size check.
fn checkpoint_target() -> Target {
    use vqtex::model::{ModelConfig, VqVaeConfig};
    let model = ModelConfig::Vqvae(VqVaeConfig {
        hidden: 2,
        latent_dim: 2,
        codebook_size: 3,
        ..VqVaeConfig::default()
    })
    .build(1, &candle_core::Device::Cpu)
    .expect("tiny model");
    let seeds = vec![
        checkpoint_seed(model.as_ref(), true),
        checkpoint_seed(model.as_ref(), false),
    ];
    let dict = [
        "\"F32\"",
        "\"I32\"",
        "\"F64\"",
        "\"shape\"",
        "\"data_offsets\"",
        "\"lr\"",
        "\"epoch\"",
        "\"bytes\"",
        "\"model\"",
        "\"cae\"",
        "NaN",
        "1e999",
        "-1",
        "18446744073709551615",
        "adam.m.",
        "codebook",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([
        vec![0, 0, 0xc0, 0x7f],
        vec![0, 0, 0x80, 0x7f],
        vec![0xff; 8],
        le32(0xffff_ffff),
    ])
    .collect();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("checkpoints");
    std::fs::create_dir_all(&dir).expect("checkpoints dir");
    Target {
        name: "checkpoint",
        seeds,
        dict,
        run: Box::new(move |input, out| {
            let _keep = &tmp;
            let (json, tensors) = match input.windows(CKPT_SEP.len()).position(|w| w == CKPT_SEP) {
                Some(i) => (&input[..i], &input[i + CKPT_SEP.len()..]),
                None => (input, &[][..]),
            };
            let mut json = json.to_vec();
            if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_slice(&json) {
                if !o.contains_key("crc32") {
                    o.insert("bytes".into(), serde_json::json!(tensors.len()));
                    json = serde_json::to_vec(&o).unwrap_or(json);
                }
            }
            let written = std::fs::write(dir.join("epoch-0001.json"), &json)
                .and_then(|_| std::fs::write(dir.join("epoch-0001.safetensors"), tensors));
            if let Err(e) = written {
                out.push(format!("harness: {e}"));
                return;
            }
            let loaded = vqtex::train::checkpoint::load_latest_for(
                &dir,
                model.as_ref(),
                &candle_core::Device::Cpu,
            );
            out.push(outcome(loaded.map(|l| {
                // What resume does next: the weights go into the model.
                let _ = model.params().load(&l.tensors);
            })));
        }),
    }
}

#[test]
fn fuzz_checkpoint_ci() {
    ci_run(checkpoint_target, 1500);
}

#[test]
#[ignore = "long fuzzing run: FUZZ_SECS=600 cargo test --test fuzz -- --ignored --nocapture fuzz_checkpoint_long"]
fn fuzz_checkpoint_long() {
    long_run(checkpoint_target);
}

#[test]
fn fuzz_mat_ci() {
    ci_run(mat_target, 8000);
}

#[test]
fn fuzz_roi_folder_ci() {
    ci_run(roi_folder_target, 400);
}

#[test]
fn fuzz_dicom_ci() {
    ci_run(dicom_target, 800);
}

#[test]
fn fuzz_coords_ci() {
    ci_run(coords_target, 300);
}

#[test]
#[ignore = "long fuzzing run: FUZZ_SECS=600 cargo test --test fuzz -- --ignored --nocapture fuzz_mat_long"]
fn fuzz_mat_long() {
    long_run(mat_target);
}

#[test]
#[ignore = "long fuzzing run: FUZZ_SECS=600 cargo test --test fuzz -- --ignored --nocapture fuzz_roi_folder_long"]
fn fuzz_roi_folder_long() {
    long_run(roi_folder_target);
}

#[test]
#[ignore = "long fuzzing run: FUZZ_SECS=600 cargo test --test fuzz -- --ignored --nocapture fuzz_dicom_long"]
fn fuzz_dicom_long() {
    long_run(dicom_target);
}

#[test]
#[ignore = "long fuzzing run: FUZZ_SECS=600 cargo test --test fuzz -- --ignored --nocapture fuzz_coords_long"]
fn fuzz_coords_long() {
    long_run(coords_target);
}

/// Every saved failing input of every target now runs cleanly.
#[test]
fn fuzz_regressions_replay() {
    let _g = serial();
    let mut bad = Vec::new();
    let mut replayed = 0;
    for make in targets() {
        let mut target = make();
        let Ok(entries) = std::fs::read_dir(regressions_dir(target.name)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let Ok(input) = std::fs::read(&path) else {
                continue;
            };
            replayed += 1;
            if let Err(f) = execute(&mut target, &input) {
                bad.push(format!("{}: {} ({})", path.display(), f.kind, f.detail));
            }
        }
    }
    println!("replayed {replayed} regression inputs");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The known failures of issue 12, each as its own test.

/// Replaces the first occurrence of `from` in `bytes` with `to` (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let i = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern to patch");
    bytes[i..i + to.len()].copy_from_slice(to);
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn uncompressed_mat() -> Vec<u8> {
    let opts = WriteOptions {
        compressed: false,
        ..WriteOptions::default()
    };
    mat_bytes(&opts, 2, [1, 2, 3])
}

#[test]
fn mat_with_dimensions_that_overflow_is_an_error_without_allocating() {
    let _g = serial();
    // The images' dims element [1, 2, 3] becomes three huge dimensions: their product overflows
    // 64 bits (a 534-byte file like this aborted on a 180 GB allocation), or is merely huge.
    for dims in [
        [0x7fff_ffff, 0x7fff_ffff, 0x7fff_ffff],
        [65_536, 65_536, 65_537],
        [1, 1, 0x7fff_ffff],
    ] {
        let mut bytes = uncompressed_mat();
        patch(
            &mut bytes,
            &words(&[5, 12, 1, 2, 3]),
            &words(&[5, 12, dims[0], dims[1], dims[2]]),
        );
        for input in [bytes.clone(), recompressed(&bytes).unwrap()] {
            let (msg, peak) = peak_of(|| read_mat(input));
            assert!(msg.contains("dimensions") || msg.contains("bytes"), "{msg}");
            assert!(msg.len() < 400, "{msg}");
            assert!(peak < 2 << 20, "{peak} bytes for dims {dims:?}: {msg}");
        }
    }
}

#[test]
fn mat_short_field_name_length_is_an_error_not_a_panic() {
    let _g = serial();
    let mut bytes = uncompressed_mat();
    // The field-name length is a small element of 4 bytes (32); claim 1 byte, then 0.
    for small in [(1 << 16) | 5, 5] {
        let mut b = bytes.clone();
        patch(&mut b, &words(&[(4 << 16) | 5, 32]), &words(&[small]));
        let msg = catch_unwind(|| read_mat(b)).expect("no panic");
        assert!(msg.contains("field name length"), "{msg}");
    }
    // A field-name length of 0 and one larger than any name.
    for len in [0, 0x7fff_ffff] {
        let mut b = bytes.clone();
        patch(
            &mut b,
            &words(&[(4 << 16) | 5, 32]),
            &words(&[(4 << 16) | 5, len]),
        );
        let msg = read_mat(b);
        assert!(msg.contains("field name length"), "{msg}");
    }
    // A field-names element claiming 2 GB in a 1 KB file.
    let i = bytes
        .windows(4)
        .position(|w| w == b"id\0\0")
        .expect("field names");
    bytes[i - 4..i].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let (msg, peak) = peak_of(|| read_mat(bytes));
    assert!(msg.contains("field names"), "{msg}");
    assert!(peak < 1 << 20, "{peak}");
}

#[test]
fn mat_error_messages_stay_short_whatever_the_names() {
    let _g = serial();
    // 2000 fields of 64-character names, none of them `class` or `images`.
    let fields: Vec<String> = (0..2000).map(|i| format!("{i:0>31}")).collect();
    let opts = WriteOptions {
        compressed: true,
        fields,
        ..WriteOptions::default()
    };
    let msg = read_mat(mat_bytes(&opts, 1, [1, 1, 1]));
    assert!(msg.contains("expected a struct array"), "{msg}");
    assert!(msg.len() < 600, "{} characters: {msg}", msg.len());
}

#[test]
fn dicom_claiming_4_gb_of_pixels_is_refused_before_allocating() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.dcm");
    write_test_dicom(&path, "P1", 4, 6, 1, false, vec![7; 24]).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // PixelData (7FE0,0010) OB: its 4-byte length after 2 reserved bytes.
    patch(
        &mut bytes,
        &[0xe0, 0x7f, 0x10, 0x00, b'O', b'B', 0, 0, 24, 0, 0, 0],
        &[
            0xe0, 0x7f, 0x10, 0x00, b'O', b'B', 0, 0, 0xf0, 0xff, 0xff, 0xff,
        ],
    );
    std::fs::write(&path, &bytes).unwrap();
    assert!(bytes.len() < 1024);
    let (r, peak) = peak_of(|| read_dicom(&path));
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("claims 4294967280 bytes"), "{msg}");
    assert!(peak < 4 << 20, "{peak} bytes");
    // Rows x columns far beyond the pixels present.
    write_test_dicom(&path, "P1", 4, 6, 1, false, vec![7; 24]).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    patch(
        &mut bytes,
        &[0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 4, 0],
        &[0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 0xff, 0xff],
    );
    std::fs::write(&path, &bytes).unwrap();
    let (r, peak) = peak_of(|| read_dicom(&path));
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("PixelData holds 24 bytes"), "{msg}");
    assert!(peak < 4 << 20, "{peak} bytes");
}

/// CRC-32 of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn png_followed_by_64_mb_of_zeros_is_not_read_whole() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.png");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&png_bytes(28, 28, false)).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        f.write_all(&zeros).unwrap();
    }
    drop(f);
    drop(zeros);
    let (r, peak) = peak_of(|| read_gray_png(&path));
    // Whatever the verdict on the trailing bytes, they are not read into memory.
    if let Ok(img) = r {
        assert_eq!(img.dimensions(), (28, 28));
    }
    assert!(peak < 4 << 20, "{peak} bytes");
}

#[test]
fn png_header_claiming_huge_dimensions_is_refused_before_decoding() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.png");
    for (w, h) in [(8192u32, 8192u32), (100_000, 3), (0x7fff_ffff, 0x7fff_ffff)] {
        let mut bytes = png_bytes(28, 28, true);
        // IHDR: length (8..12), "IHDR" (12..16), width, height, ..., CRC over type and data.
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let (r, peak) = peak_of(|| read_gray_png(&path));
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("a.png"), "{msg}");
        assert!(peak < 4 << 20, "{w}x{h}: {peak} bytes: {msg}");
    }
}

#[test]
fn coords_near_u32_max_are_errors_naming_line_and_box() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let frames_dir = tmp.path().join("frames");
    let frames = frames_folder(&frames_dir);
    let px = &frames[0].1;
    use vqtex::data::extract::Boxes;
    for x in [u32::MAX, u32::MAX - 27, u32::MAX - 30, u32::MAX / 60] {
        let b = Boxes {
            liver: (x, 0),
            kidney: (32, 12),
        };
        let e = catch_unwind(|| extract_frame(px, 60, 40, b)).expect("no panic");
        let msg = e.unwrap_err();
        assert!(msg.contains(&format!("liver box at x={x}")), "{msg}");
        let b = Boxes {
            liver: (0, 0),
            kidney: (32, x),
        };
        let msg = extract_frame(px, 60, 40, b).unwrap_err();
        assert!(msg.contains(&format!("kidney box at x=32, y={x}")), "{msg}");
    }
    let coords = tmp.path().join("coords.csv");
    std::fs::write(
        &coords,
        "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,4294967295,0,32,12\np02_f0.png,0,4294967290,32,12\n",
    )
    .unwrap();
    let out = tmp.path().join("rois");
    let msg = extract_rois(&frames_dir, &coords, &out)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("line 2 (p01_f0.png): liver box at x=4294967295"),
        "{msg}"
    );
    assert!(
        msg.contains("line 3 (p02_f0.png): liver box at x=0, y=4294967290"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn liver_box_on_black_pixels_is_an_error_naming_the_frame() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let frames_dir = tmp.path().join("frames");
    frames_folder(&frames_dir);
    // p01's left 30 columns turn black.
    let px: Vec<u8> = (0..40 * 60)
        .map(|k| if k % 60 < 30 { 0 } else { 80 })
        .collect();
    save_gray(&frames_dir.join("p01_f0.png"), 60, 40, px).unwrap();
    let coords = tmp.path().join("coords.csv");
    std::fs::write(
        &coords,
        "file,liver_x,liver_y,kidney_x,kidney_y\np01_f0.png,0,0,32,12\np02_f0.png,2,5,31,0\n",
    )
    .unwrap();
    let out = tmp.path().join("rois");
    let msg = extract_rois(&frames_dir, &coords, &out)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("line 2 (p01_f0.png): the liver ROI at x=0, y=0 has mean 0"),
        "{msg}"
    );
    assert!(!msg.contains("p02_f0.png"), "{msg}");
    assert!(!out.exists());
}

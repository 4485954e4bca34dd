//! Jobs that only read or write files, so the UI thread never waits on a disk: the ROI picker's
//! frames folder, frames and `coords.csv`, the ROI extraction, deleting a run, and following a
//! watched run.

use std::path::{Path, PathBuf};

use crate::data::extract::{extract_rois, read_coords, write_coords, Boxes};
use crate::data::folder::read_gray_png;
use crate::data::frames::{read_frames_csv, FrameRecord};
use crate::train::{checkpoint, EpochRecord, RunDir};

/// A frame of the ROI picker, as read from its PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// A frames folder as the picker opens it: its frames, their saved boxes, the first frame without
/// boxes, and that frame's image.
#[derive(Debug, Clone, PartialEq)]
pub struct FramesOpened {
    pub dir: PathBuf,
    pub frames: Vec<FrameRecord>,
    pub saved: Vec<Option<Boxes>>,
    pub current: usize,
    pub image: Result<Frame, String>,
}

/// Reads a frames folder (with `frames.csv`) and its `coords.csv` when there is one.
pub fn open_frames(dir: &Path) -> Result<FramesOpened, String> {
    let frames = read_frames_csv(dir).map_err(|e| e.to_string())?;
    let coords = dir.join("coords.csv");
    let mut saved = vec![None; frames.len()];
    if coords.is_file() {
        let mut problems = Vec::new();
        let rows = read_coords(&coords, &mut problems).map_err(|e| e.to_string())?;
        if let Some(p) = problems.first() {
            return Err(p.clone());
        }
        for (i, f) in frames.iter().enumerate() {
            saved[i] = rows.get(&f.file).map(|(b, _)| *b);
        }
    }
    let current = saved.iter().position(Option::is_none).unwrap_or(0);
    let image = match frames.get(current) {
        Some(f) => read_frame(&dir.join(&f.file)),
        None => Err("the frames folder lists no frame".into()),
    };
    Ok(FramesOpened {
        dir: dir.to_path_buf(),
        frames,
        saved,
        current,
        image,
    })
}

/// Reads one frame.
pub fn read_frame(path: &Path) -> Result<Frame, String> {
    let img = read_gray_png(path).map_err(|e| e.to_string())?;
    let (width, height) = img.dimensions();
    Ok(Frame {
        width,
        height,
        pixels: img.into_raw(),
    })
}

/// Writes every saved frame's boxes into `coords.csv`.
pub fn save_coords(path: &Path, rows: &[(String, Boxes)]) -> Result<(), String> {
    write_coords(path, rows).map_err(|e| e.to_string())
}

/// Writes `rows` into the frames folder's `coords.csv`, then extracts the ROIs into `out`: one
/// job, so the extraction reads the boxes just saved.
pub fn extract(dir: &Path, rows: &[(String, Boxes)], out: &Path) -> Result<(), String> {
    let coords = dir.join("coords.csv");
    save_coords(&coords, rows)?;
    extract_rois(dir, &coords, out)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Deletes a run folder, unless it is not a run or a live process holds its lock (a training in
/// another terminal): never from under a writer.
pub fn delete_run(path: &Path) -> Result<(), String> {
    if !RunDir::new(path).is_run() {
        return Err(format!("{} is not a run; nothing deleted", path.display()));
    }
    let lock = crate::train::RunLock::acquire(path).map_err(|e| format!("{e}; nothing deleted"))?;
    let removed = std::fs::remove_dir_all(path);
    drop(lock);
    removed.map_err(|e| format!("cannot delete {}: {e}", path.display()))
}

/// What the panes show of a run as it is opened: its planned epochs, newest checkpoint, records.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLook {
    pub epochs: usize,
    pub checkpoint: Option<usize>,
    pub records: Vec<EpochRecord>,
    /// The results of the cross-validation the run is a fold of (`cv.json` beside it), if any.
    pub cv: Option<Box<crate::cv::results::CvReport>>,
}

/// The cross-validation a run folder belongs to: a fold run is named `r{repeat}-f{fold}-{model}`
/// inside the `cv` output folder, which holds `cv.json` once the cross-validation has finished.
pub fn cv_of(run: &Path) -> Option<crate::cv::results::CvReport> {
    let name = run.file_name()?.to_str()?;
    let fold_run = regex::Regex::new(r"^r[0-9]+-f[0-9]+-[a-z]+$").ok()?;
    if !fold_run.is_match(name) {
        return None;
    }
    let bytes = crate::fs::read_capped(&run.parent()?.join("cv.json"), 64 << 20).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads a run's config.json, lists its checkpoints and reads its metrics.jsonl (and the
/// cross-validation's results when the run is one of its folds).
pub fn look_at_run(run: &Path) -> Result<RunLook, String> {
    let dir = RunDir::new(run);
    let config = dir.read_config().map_err(|e| e.to_string())?;
    Ok(RunLook {
        epochs: config.train.epochs,
        checkpoint: checkpoint::list(&dir.checkpoints()).last().copied(),
        records: dir.records(),
        cv: cv_of(run).map(Box::new),
    })
}

/// What the app knew of a watched run at its last look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSeen {
    pub metrics_len: Option<u64>,
    pub checkpoint: Option<usize>,
}

/// A look at a watched run.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchPoll {
    pub run: PathBuf,
    /// Whether a live process holds the run's lock.
    pub live: bool,
    pub metrics_len: Option<u64>,
    pub checkpoint: Option<usize>,
    /// The epoch records and planned epochs, read again only when metrics.jsonl changed size.
    pub records: Option<(Vec<EpochRecord>, Option<usize>)>,
    /// When no process holds it: how and when it ended (see [`crate::tui::app::ended_words`]).
    pub ended: Option<String>,
}

/// Looks at a watched run: its lock, the size of metrics.jsonl (read again only when it changed),
/// its newest checkpoint.
pub fn poll_watch(run: &Path, seen: WatchSeen) -> WatchPoll {
    let dir = RunDir::new(run);
    let live = crate::train::lock::holder(run).is_some();
    let metrics_len = std::fs::metadata(dir.metrics()).ok().map(|m| m.len());
    let records = (metrics_len != seen.metrics_len).then(|| {
        let epochs = dir.read_config().ok().map(|c| c.train.epochs);
        (dir.records(), epochs)
    });
    let ended = (!live).then(|| {
        let status = dir
            .read_config()
            .map(|c| dir.status(&c).as_str())
            .unwrap_or("stopped");
        let last_write = std::fs::metadata(dir.metrics())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        let epoch = dir.records().last().map(|r| r.epoch).unwrap_or(0);
        crate::tui::app::ended_words(status, epoch, last_write)
    });
    WatchPoll {
        run: run.to_path_buf(),
        live,
        ended,
        metrics_len,
        checkpoint: checkpoint::list(&dir.checkpoints()).last().copied(),
        records,
    }
}

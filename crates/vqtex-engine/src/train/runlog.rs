//! `metrics.jsonl`: one [`EpochRecord`] per line, appended and flushed per epoch, readable while
//! another process is still writing it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::event::EpochRecord;

/// Appends one record and flushes it to disk.
pub fn append(path: &Path, record: &EpochRecord) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    line.push('\n');
    f.write_all(line.as_bytes())?;
    f.flush()?;
    f.sync_data()
}

/// Reads every complete line; a half-written last line (another process mid-write) is ignored.
pub fn read(path: &Path) -> std::io::Result<Vec<EpochRecord>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<EpochRecord>(l).ok())
        .collect())
}

/// Keeps only records up to `epoch` (used on resume, so the log matches the checkpoint).
pub fn truncate_after(path: &Path, epoch: usize) -> std::io::Result<()> {
    let kept: Vec<EpochRecord> = read(path)?
        .into_iter()
        .filter(|r| r.epoch <= epoch)
        .collect();
    let mut text = String::new();
    for r in &kept {
        text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    super::checkpoint::write_atomic(path, text.as_bytes()).map_err(std::io::Error::other)
}

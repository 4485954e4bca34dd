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

/// The most of a log read: its last 256 MiB (about 600,000 epochs), so a log grown huge, or a
/// tampered one, cannot take all memory.
pub const MAX_READ_BYTES: u64 = 256 << 20;

/// Reads every complete line; a half-written last line (another process mid-write) is ignored.
/// A log longer than [`MAX_READ_BYTES`] is read from that far before its end.
pub fn read(path: &Path) -> std::io::Result<Vec<EpochRecord>> {
    read_capped(path, MAX_READ_BYTES)
}

fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<EpochRecord>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let skip = len.saturating_sub(cap);
    f.seek(SeekFrom::Start(skip))?;
    let mut bytes = Vec::new();
    f.take(cap).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // Started inside a line: drop what precedes the first full one.
    let text = if skip > 0 {
        text.split_once('\n').map(|(_, rest)| rest).unwrap_or("")
    } else {
        &text
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize) -> EpochRecord {
        serde_json::from_value(serde_json::json!({
            "epoch": epoch, "epochs": 100, "train": {"total": 0.5}, "test": {},
            "lr": 1e-4, "seconds": 1.0, "rois_per_sec": 10.0
        }))
        .unwrap()
    }

    #[test]
    fn a_log_past_the_cap_is_read_from_its_tail_and_half_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        for e in 1..=50 {
            append(&path, &record(e)).unwrap();
        }
        // Another process mid-write: half a line at the end.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"epoch\": 51, \"epo").unwrap();
        assert_eq!(read(&path).unwrap().len(), 50);
        let line = fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .len() as u64
            + 1;
        let tail = read_capped(&path, line * 10 + line / 2).unwrap();
        let epochs: Vec<usize> = tail.iter().map(|r| r.epoch).collect();
        assert_eq!(
            epochs,
            (41..=50).collect::<Vec<_>>(),
            "the last whole lines"
        );
    }
}

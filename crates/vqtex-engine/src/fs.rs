//! Files written so that a kill at any instant leaves either the old content or the new, never a
//! half: used for checkpoints, configs, logs rewritten on resume, coords and evaluation outputs.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename, fsync folder.
/// On any failure the temp file is removed (a full disk must not keep it around to fill it again).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// As [`write_atomic`], with the content written by `write` (buffered) instead of held in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, fs::File::create(&tmp)?);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a regular file of at most `cap` bytes. Anything else (a folder, a device, a FIFO, a
/// longer file, or one that grows past the cap while being read) is an `InvalidInput` error that
/// says why, before or instead of reading it all.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    // Checked before opening too: opening a FIFO would block.
    if !fs::metadata(path)?.is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    let f = fs::File::open(path)?;
    // The file opened is the one checked, not something swapped in since.
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    if meta.len() > cap {
        return Err(refuse(format!(
            "it is {} bytes long, more than the {cap} allowed",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(refuse(format!(
            "it grew past the {cap} bytes allowed while being read"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("a");
        write_atomic(&small, b"hello").unwrap();
        assert_eq!(read_capped(&small, 5).unwrap(), b"hello");
        let err = read_capped(&small, 4).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("more than the 4"), "{err}");
        let err = read_capped(dir.path(), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(
            read_capped(&dir.path().join("none"), 9).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }
}

//! One writer per run: a training holds an exclusive advisory lock (`flock` on Unix, `LockFileEx`
//! on Windows, through std's `File::try_lock`) on `RUN/run.lock` for as long as it may write the
//! run. The file names the holder (pid, host, start time), so a refused second writer can say who
//! has the run. The operating system drops the lock when its process dies, however it dies, so a
//! lock left by a killed training never blocks the next one: that one takes it over with a notice.
//! "Running" everywhere (the runs list, `vqtex runs`, `watch`) means "a live process holds this
//! lock", never "the metrics log changed recently".

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = "run.lock";

/// Who holds (or last held) a run's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub started: String,
}

impl Holder {
    fn me() -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} since {}",
            self.pid, self.host, self.started
        )
    }
}

/// This machine's name (for the lock file; "unknown" when it cannot be read).
pub fn host_name() -> String {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    from_file
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{path} is being written by another process ({holder}); only one training may write a \
         run at a time: wait for it to end, or follow it with `vqtex watch {path}`"
    )]
    Held { path: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An exclusive lock on a run directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
    /// The previous holder, when the lock file named a process that no longer holds it (a killed
    /// or crashed training): the caller tells the user it took the run over.
    pub took_over: Option<Holder>,
}

impl RunLock {
    /// Takes the lock of the run in `run` (the folder must exist). Never blocks: a run held by a
    /// live process is refused with [`LockError::Held`] naming it.
    pub fn acquire(run: &Path) -> Result<RunLock, LockError> {
        let path = run.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "a process that has not written its name yet".into());
                return Err(LockError::Held {
                    path: run.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = Holder::me();
        let took_over = read_holder(&mut file).filter(|h| *h != me);
        let text = serde_json::to_string(&me).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(RunLock {
            _file: file,
            path,
            took_over,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A holder named in an open lock file (at most 4 KB are read: the file is ours, but a run folder
/// may have been tampered with).
fn read_holder(file: &mut File) -> Option<Holder> {
    file.seek(SeekFrom::Start(0)).ok()?;
    let mut text = String::new();
    file.take(4096).read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// The live process holding the run's lock, if any. A run without a lock file, or whose lock is
/// free, is not being written.
pub fn holder(run: &Path) -> Option<Holder> {
    let path = run.join(LOCK_FILE);
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(TryLockError::WouldBlock) => Some(read_holder(&mut file).unwrap_or(Holder {
            pid: 0,
            host: "?".into(),
            started: "?".into(),
        })),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        assert!(first.took_over.is_none());
        let err = RunLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        let h = holder(dir.path()).expect("held");
        assert_eq!(h.pid, std::process::id());
        drop(first);
        assert!(holder(dir.path()).is_none(), "released on drop");
        RunLock::acquire(dir.path()).expect("free again");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        // A lock file written by a process that died (the OS released its lock).
        let dead = Holder {
            pid: 999_999_999,
            host: host_name(),
            started: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        assert!(holder(dir.path()).is_none(), "nobody holds it");
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert_eq!(lock.took_over.as_ref(), Some(&dead));
        let text = std::fs::read_to_string(lock.path()).unwrap();
        let now: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(now.pid, std::process::id());
    }

    #[test]
    fn a_folder_without_a_lock_file_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        assert!(holder(dir.path()).is_none());
    }
}

//! Logging, set up once per process by `main`: a file in vqtex's data dir (never the terminal,
//! which the workbench owns). Level from `VQTEX_LOG` (default info).

use std::path::PathBuf;

/// The log file: `<data dir>/vqtex.log` (e.g. `~/.local/share/vqtex/vqtex.log`).
pub fn path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "vqtex").map(|d| d.data_dir().join("vqtex.log"))
}

/// Sends `tracing` to the log file. Returns the file, or `None` when it cannot be opened (the
/// program runs on without a log).
pub fn init() -> Option<PathBuf> {
    let path = path()?;
    std::fs::create_dir_all(path.parent()?).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("VQTEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .ok()?;
    Some(path)
}

/// Writes `text` and a newline to stderr, ignoring errors: after a hang-up (a lost SSH link) the
/// terminal is gone and writing to it fails with EIO, where `eprintln!` would panic.
pub fn stderr_line(text: &str) {
    let _ = write_line(&mut std::io::stderr().lock(), text);
}

/// Writes `text` and a newline to stdout, ignoring errors (see [`stderr_line`]).
pub fn stdout_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = write_line(&mut out, text).and_then(|()| out.flush());
}

/// Writes `text` to stdout as it is, ignoring errors (see [`stderr_line`]).
pub fn stdout_text(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `text` and a newline into `w`, flushed.
fn write_line(w: &mut impl std::io::Write, text: &str) -> std::io::Result<()> {
    w.write_all(text.as_bytes())?;
    w.write_all(b"\n")?;
    w.flush()
}

/// `println!` that never panics: a closed stdout (`vqtex runs | head -1`, a reader gone with an
/// SSH connection) drops the line, and the command goes on (a training keeps training).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::logging::stdout_line(&format!($($arg)*))
    };
}

/// `print!` that never panics (see [`outln!`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::logging::stdout_text(&format!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`outln!`]).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::logging::stderr_line(&format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    /// A writer that fails like a terminal after a hang-up.
    struct HungUp;

    impl std::io::Write for HungUp {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(5)) // EIO
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::from_raw_os_error(5))
        }
    }

    #[test]
    fn a_line_to_a_hung_up_terminal_is_an_error_not_a_panic() {
        let r = std::panic::catch_unwind(|| super::write_line(&mut HungUp, "bye"));
        let err = r.expect("no panic").expect_err("the failure is returned");
        assert_eq!(err.raw_os_error(), Some(5));
        let mut ok = Vec::new();
        super::write_line(&mut ok, "bye").unwrap();
        assert_eq!(ok, b"bye\n");
    }
}

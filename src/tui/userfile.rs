//! The user's own files (config and themes): small regular files, read with a cap.

use std::io::Read;
use std::path::Path;

/// The most a config or theme file may hold (a real one is a few hundred bytes).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a config or theme file: a regular file (after following links) of at most
/// [`MAX_FILE_BYTES`], as UTF-8. FIFOs, devices such as `/dev/zero`, directories and larger files
/// are refused before a byte is read (opening a FIFO would block), and the read stops at the cap
/// whatever size the file claims.
pub fn read_small_file(path: &Path) -> std::io::Result<String> {
    check_small_file(&std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    // The file opened is the one checked (not something swapped in since).
    check_small_file(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(format!("over {MAX_FILE_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn too_large(size: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "it is too large ({size}; the limit is {} KiB)",
            MAX_FILE_BYTES / 1024
        ),
    )
}

fn check_small_file(meta: &std::fs::Metadata) -> std::io::Result<()> {
    let ft = meta.file_type();
    if ft.is_file() {
        return if meta.len() > MAX_FILE_BYTES {
            Err(too_large(format!("{} bytes", meta.len())))
        } else {
            Ok(())
        };
    }
    let kind = if ft.is_dir() {
        "a directory"
    } else {
        special_kind(&ft)
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("it is {kind}, not a regular file"),
    ))
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "something else"
}

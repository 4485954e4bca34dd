//! Checkpoints: `checkpoints/epoch-NNNN.safetensors` (model and optimizer tensors) with a JSON sidecar.
//! Each file is written to a temporary name, synced, then renamed, and the sidecar only after its
//! tensors: a kill at any instant leaves the last good checkpoint intact.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The JSON sidecar of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: u64,
    pub model: String,
    /// Size of the tensors file in bytes (a truncated file is detected).
    pub bytes: u64,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    pub lr: f64,
    /// CRC-32 of the tensors file (absent in checkpoints written before it was recorded): a
    /// flipped bit is caught on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
    /// The last checkpoint of a finished run (its configured epochs reached): never pruned, so a
    /// finished run extended with `--resume --epochs M` keeps its final weights.
    #[serde(default, rename = "final")]
    pub is_final: bool,
}

/// Largest checkpoint file read (the MAE's, with Adam's moments, is about 63 MB).
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;
/// Largest sidecar read.
const MAX_SIDECAR_BYTES: u64 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} holds no checkpoint")]
    None(PathBuf),
    #[error("checkpoint {path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
    #[error("checkpoint {path} does not fit this run's model: {message}")]
    Mismatch { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically ([`crate::fs::write_atomic`]), naming the path on error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    crate::fs::write_atomic(path, bytes).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn stem(epoch: usize) -> String {
    format!("epoch-{epoch:04}")
}

/// A writer that counts and checksums what goes through it.
struct Summing<'a> {
    inner: &'a mut dyn std::io::Write,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl std::io::Write for Summing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `tensors` to `path` atomically in the safetensors format, one tensor at a time: never
/// the whole file in memory (the MAE's, with Adam's moments, is 62 MB). Returns the file's length
/// and CRC-32. Tensors are laid out by name, as `safetensors::serialize` does for one dtype.
fn write_tensors(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
) -> Result<(u64, u32), CheckpointError> {
    use safetensors::View;
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let mut header = serde_json::Map::new();
    let mut at = 0usize;
    for name in &names {
        let t = &tensors[*name];
        let end = at + t.data_len();
        header.insert(
            (*name).clone(),
            serde_json::json!({"dtype": View::dtype(t), "shape": t.dims(), "data_offsets": [at, end]}),
        );
        at = end;
    }
    let mut json = serde_json::to_vec(&header).map_err(|e| CheckpointError::Damaged {
        path: path.to_path_buf(),
        message: format!("cannot serialise the header: {e}"),
    })?;
    // The data starts 8-aligned, as safetensors writes it.
    while (8 + json.len()) % 8 != 0 {
        json.push(b' ');
    }
    let mut sums = (0u64, 0u32);
    crate::fs::write_atomic_with(path, |w| {
        let mut out = Summing {
            inner: w,
            crc: crc32fast::Hasher::new(),
            bytes: 0,
        };
        use std::io::Write;
        out.write_all(&(json.len() as u64).to_le_bytes())?;
        out.write_all(&json)?;
        for name in &names {
            // One tensor's bytes at a time (moved to the CPU first when on a GPU).
            out.write_all(&tensors[*name].data())?;
        }
        sums = (out.bytes, out.crc.finalize());
        Ok(())
    })
    .map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(sums)
}

/// Writes a checkpoint and removes all but the newest `keep`. Returns the tensors file's path.
pub fn save(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    mut sidecar: Sidecar,
    keep: usize,
) -> Result<PathBuf, CheckpointError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(format!("{}.safetensors", stem(sidecar.epoch)));
    let (bytes, crc) = write_tensors(&path, tensors)?;
    sidecar.bytes = bytes;
    sidecar.crc32 = Some(crc);
    let json = serde_json::to_vec_pretty(&sidecar).map_err(|e| CheckpointError::Damaged {
        path: path.clone(),
        message: format!("cannot serialise the sidecar: {e}"),
    })?;
    if let Err(e) = write_atomic(&dir.join(format!("{}.json", stem(sidecar.epoch))), &json) {
        // Without its sidecar the tensors file is an orphan: remove it rather than leave it.
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    prune(dir, keep.max(1))?;
    Ok(path)
}

/// As [`list`], but a checkpoints folder that exists and cannot be read (not a folder, no
/// permission) is an error rather than "no checkpoint": resuming or restarting a run must never
/// take an unreadable folder for an empty one and start it over.
pub fn list_checked(dir: &Path) -> Result<Vec<usize>, CheckpointError> {
    match fs::read_dir(dir) {
        Ok(_) => Ok(list(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(CheckpointError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Epochs of the complete checkpoints in `dir` (those whose sidecar exists), oldest first.
pub fn list(dir: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("epoch-")?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .collect();
    epochs.sort_unstable();
    epochs
}

fn prune(dir: &Path, keep: usize) -> Result<(), CheckpointError> {
    // The final checkpoint of a finished run is kept whatever `keep` says.
    let epochs: Vec<usize> = list(dir)
        .into_iter()
        .filter(|&e| !read_sidecar(dir, e).is_ok_and(|s| s.is_final))
        .collect();
    if epochs.len() > keep {
        for &e in &epochs[..epochs.len() - keep] {
            // The sidecar first, so a half-pruned checkpoint is never taken for a complete one.
            let _ = fs::remove_file(dir.join(format!("{}.json", stem(e))));
            let _ = fs::remove_file(dir.join(format!("{}.safetensors", stem(e))));
        }
    }
    Ok(())
}

/// A checkpoint read back from disk.
pub struct Loaded {
    pub sidecar: Sidecar,
    pub tensors: HashMap<String, Tensor>,
    pub path: PathBuf,
}

/// Loads the newest complete checkpoint, checking its size and format.
pub fn load_latest(dir: &Path, device: &Device) -> Result<Loaded, CheckpointError> {
    let epoch = *list(dir)
        .last()
        .ok_or_else(|| CheckpointError::None(dir.to_path_buf()))?;
    load_epoch(dir, epoch, device)
}

/// Reads at most `cap` bytes of a regular file ([`crate::fs::read_capped`]): a file that is not
/// one, or is longer, is a damaged checkpoint.
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, CheckpointError> {
    crate::fs::read_capped(path, cap).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => CheckpointError::Damaged {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
        _ => CheckpointError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// The sidecar of checkpoint `epoch`, checked for values no training writes.
pub fn read_sidecar(dir: &Path, epoch: usize) -> Result<Sidecar, CheckpointError> {
    let json = dir.join(format!("{}.json", stem(epoch)));
    let damaged = |message: String| CheckpointError::Damaged {
        path: json.clone(),
        message,
    };
    let text = read_capped(&json, MAX_SIDECAR_BYTES)?;
    let sidecar: Sidecar = serde_json::from_slice(&text)
        .map_err(|e| damaged(format!("its sidecar is unreadable: {e}")))?;
    if sidecar.epoch != epoch {
        return Err(damaged(format!(
            "its sidecar says epoch {}, its name epoch {epoch}",
            sidecar.epoch
        )));
    }
    if !(sidecar.lr.is_finite() && sidecar.lr > 0.0) {
        return Err(damaged(format!(
            "its learning rate is {}, not a positive finite number",
            sidecar.lr
        )));
    }
    for (what, v) in [("train", sidecar.train_loss), ("test", sidecar.test_loss)] {
        if v.is_some_and(|v| !v.is_finite()) {
            return Err(damaged(format!("its {what} loss is not finite")));
        }
    }
    Ok(sidecar)
}

pub fn load_epoch(dir: &Path, epoch: usize, device: &Device) -> Result<Loaded, CheckpointError> {
    let path = dir.join(format!("{}.safetensors", stem(epoch)));
    let damaged = |message: String| CheckpointError::Damaged {
        path: path.clone(),
        message,
    };
    let sidecar = read_sidecar(dir, epoch)?;
    let bytes = read_capped(&path, MAX_CHECKPOINT_BYTES)?;
    if bytes.len() as u64 != sidecar.bytes {
        return Err(damaged(format!(
            "it is {} bytes long, its sidecar says {} (truncated?)",
            bytes.len(),
            sidecar.bytes
        )));
    }
    if let Some(crc) = sidecar.crc32 {
        let actual = crc32fast::hash(&bytes);
        if actual != crc {
            return Err(damaged(format!(
                "its CRC-32 is {actual:08x}, its sidecar says {crc:08x} (the file was altered)"
            )));
        }
    }
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| damaged(format!("not a valid safetensors file: {e}")))?;
    Ok(Loaded {
        sidecar,
        tensors,
        path,
    })
}

impl Loaded {
    /// Checks the checkpoint against the model it is to be loaded into: every expected tensor
    /// present with its shape and dtype (f32), no unexpected tensor, every value finite, and the
    /// sidecar naming the same model. `expected` maps each name (parameters and the optimizer's
    /// `adam.m.*`/`adam.v.*`) to its shape.
    pub fn validate(
        &self,
        model: &str,
        expected: &[(String, Vec<usize>)],
    ) -> Result<(), CheckpointError> {
        let mismatch = |message: String| CheckpointError::Mismatch {
            path: self.path.clone(),
            message,
        };
        if self.sidecar.model != model {
            return Err(mismatch(format!(
                "it holds a {} model, the run is a {model}",
                self.sidecar.model
            )));
        }
        for (name, shape) in expected {
            let t = self
                .tensors
                .get(name)
                .ok_or_else(|| mismatch(format!("tensor '{name}' is missing")))?;
            if t.dims() != shape.as_slice() {
                return Err(mismatch(format!(
                    "tensor '{name}' has shape {:?}, the model expects {shape:?}",
                    t.dims()
                )));
            }
            if t.dtype() != candle_core::DType::F32 {
                return Err(mismatch(format!(
                    "tensor '{name}' is {:?}, the model expects f32",
                    t.dtype()
                )));
            }
            let finite = t
                .flatten_all()
                .and_then(|f| f.to_vec1::<f32>())
                .map(|v| v.iter().all(|x| x.is_finite()))
                .map_err(|e| mismatch(format!("tensor '{name}' cannot be read: {e}")))?;
            if !finite {
                return Err(CheckpointError::Damaged {
                    path: self.path.clone(),
                    message: format!("tensor '{name}' holds NaN or infinite values"),
                });
            }
        }
        if self.tensors.len() != expected.len() {
            let known: std::collections::HashSet<&str> =
                expected.iter().map(|(n, _)| n.as_str()).collect();
            let mut extra: Vec<&str> = self
                .tensors
                .keys()
                .map(String::as_str)
                .filter(|k| !known.contains(k))
                .collect();
            extra.sort_unstable();
            return Err(mismatch(format!(
                "it holds tensors the model does not have: {}",
                extra.join(", ")
            )));
        }
        Ok(())
    }
}

/// Removes what a dead writer may have left in `dir`: temp files (`.*.tmp`) and tensors files
/// without a sidecar. Only the holder of the run's lock may call this (a live writer's temp file
/// would otherwise go). Returns the names removed.
pub fn remove_leftovers(dir: &Path) -> Vec<String> {
    let complete: std::collections::HashSet<usize> = list(dir).into_iter().collect();
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let orphan = name
            .strip_prefix("epoch-")
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|e| !complete.contains(&e));
        let temp = name.starts_with('.') && name.ends_with(".tmp");
        if (orphan || temp)
            && entry.file_type().is_ok_and(|t| t.is_file())
            && fs::remove_file(entry.path()).is_ok()
        {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

/// The tensors a checkpoint of `model` holds: its parameters and Adam's two moments of each.
pub fn expected_tensors(model: &dyn crate::model::Autoencoder) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    for (name, var) in model.params().iter() {
        out.push((name.clone(), var.dims().to_vec()));
        for key in ["m", "v"] {
            out.push((format!("adam.{key}.{name}"), var.dims().to_vec()));
        }
    }
    out
}

/// Loads the newest complete checkpoint and checks it against `model` (see [`Loaded::validate`]).
pub fn load_latest_for(
    dir: &Path,
    model: &dyn crate::model::Autoencoder,
    device: &Device,
) -> Result<Loaded, CheckpointError> {
    let loaded = load_latest(dir, device)?;
    loaded.validate(model.name(), &expected_tensors(model))?;
    Ok(loaded)
}

/// Marks checkpoint `epoch` as the final one of a finished run, so pruning keeps it.
pub fn mark_final(dir: &Path, epoch: usize) -> Result<(), CheckpointError> {
    let mut sidecar = read_sidecar(dir, epoch)?;
    if sidecar.is_final {
        return Ok(());
    }
    sidecar.is_final = true;
    let json = serde_json::to_vec_pretty(&sidecar).map_err(|e| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        message: format!("cannot serialise the sidecar: {e}"),
    })?;
    write_atomic(&dir.join(format!("{}.json", stem(epoch))), &json)
}

#[cfg(test)]
mod tests;

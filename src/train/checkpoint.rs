//! Checkpoints: `checkpoints/epoch-NNNN.safetensors` (model and optimizer tensors) with a JSON sidecar.
//! Each file is written to a temporary name, synced, then renamed, and the sidecar only after its
//! tensors: a kill at any instant leaves the last good checkpoint intact.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
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
}

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
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename, fsync folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn stem(epoch: usize) -> String {
    format!("epoch-{epoch:04}")
}

/// Writes a checkpoint and removes all but the newest `keep`. Returns the tensors file's path.
pub fn save(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    mut sidecar: Sidecar,
    keep: usize,
) -> Result<PathBuf, CheckpointError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let cpu: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.to_device(&Device::Cpu).unwrap_or_else(|_| v.clone()),
            )
        })
        .collect();
    let bytes = safetensors::serialize(
        cpu.iter().map(|(k, v)| (k.clone(), v)).collect::<Vec<_>>(),
        None,
    )
    .map_err(|e| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        message: format!("cannot serialise tensors: {e}"),
    })?;
    let path = dir.join(format!("{}.safetensors", stem(sidecar.epoch)));
    write_atomic(&path, &bytes)?;
    sidecar.bytes = bytes.len() as u64;
    let json = serde_json::to_vec_pretty(&sidecar).expect("sidecar serialises");
    write_atomic(&dir.join(format!("{}.json", stem(sidecar.epoch))), &json)?;
    prune(dir, keep.max(1))?;
    Ok(path)
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
    let epochs = list(dir);
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

pub fn load_epoch(dir: &Path, epoch: usize, device: &Device) -> Result<Loaded, CheckpointError> {
    let json = dir.join(format!("{}.json", stem(epoch)));
    let path = dir.join(format!("{}.safetensors", stem(epoch)));
    let damaged = |message: String| CheckpointError::Damaged {
        path: path.clone(),
        message,
    };
    let text = fs::read(&json).map_err(io(&json))?;
    let sidecar: Sidecar = serde_json::from_slice(&text)
        .map_err(|e| damaged(format!("its sidecar {} is unreadable: {e}", json.display())))?;
    let bytes = fs::read(&path).map_err(io(&path))?;
    if bytes.len() as u64 != sidecar.bytes {
        return Err(damaged(format!(
            "it is {} bytes long, its sidecar says {} (truncated?)",
            bytes.len(),
            sidecar.bytes
        )));
    }
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| damaged(format!("not a valid safetensors file: {e}")))?;
    Ok(Loaded {
        sidecar,
        tensors,
        path,
    })
}

//! Checkpoints refused when damaged or foreign, kept when final, and no leftovers.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use super::*;
use crate::model::{Autoencoder, ModelConfig};

fn model() -> Box<dyn Autoencoder> {
    ModelConfig::default().build(3, &Device::Cpu).unwrap()
}

/// A complete set of tensors for `m`: its weights and zero moments.
fn tensors(m: &dyn Autoencoder) -> HashMap<String, Tensor> {
    let mut t = m.params().tensors();
    for (name, shape) in expected_tensors(m) {
        t.entry(name)
            .or_insert_with(|| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap());
    }
    t
}

fn sidecar(epoch: usize) -> Sidecar {
    Sidecar {
        epoch,
        step: 7,
        model: "vqvae".into(),
        bytes: 0,
        train_loss: Some(0.1),
        test_loss: Some(0.2),
        lr: 2e-4,
        crc32: None,
        is_final: false,
    }
}

fn load_err(dir: &Path, m: &dyn Autoencoder) -> String {
    match load_latest_for(dir, m, &Device::Cpu) {
        Ok(_) => panic!("a bad checkpoint was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_sound_checkpoint_loads_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    save(dir.path(), &tensors(m.as_ref()), sidecar(1), 2).unwrap();
    let loaded = load_latest_for(dir.path(), m.as_ref(), &Device::Cpu).unwrap();
    assert_eq!(loaded.sidecar.epoch, 1);
    assert!(loaded.sidecar.crc32.is_some(), "the checksum is recorded");
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let mut t = tensors(m.as_ref());
    let (name, shape) = expected_tensors(m.as_ref())[0].clone();
    let n: usize = shape.iter().product();
    let mut v = vec![0.5f32; n];
    v[n / 2] = f32::NAN;
    t.insert(
        name.clone(),
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap(),
    );
    save(dir.path(), &t, sidecar(1), 2).unwrap();
    let err = load_err(dir.path(), m.as_ref());
    assert!(err.contains(&name) && err.contains("NaN"), "{err}");
}

#[test]
fn a_wrong_dtype_shape_or_name_is_refused() {
    let m = model();
    let (name, shape) = expected_tensors(m.as_ref())[0].clone();
    type Tamper<'a> = Box<dyn Fn(&mut HashMap<String, Tensor>) + 'a>;
    let cases: Vec<(Tamper, &str)> = vec![
        (
            Box::new(|t| {
                let i32s = Tensor::zeros(shape.clone(), DType::I64, &Device::Cpu).unwrap();
                t.insert(name.clone(), i32s);
            }),
            "f32",
        ),
        (
            Box::new(|t| {
                t.insert(
                    name.clone(),
                    Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
                );
            }),
            "shape",
        ),
        (
            Box::new(|t| {
                t.remove(&name);
            }),
            "missing",
        ),
        (
            Box::new(|t| {
                t.insert(
                    "stowaway".into(),
                    Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap(),
                );
            }),
            "stowaway",
        ),
    ];
    for (tamper, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut t = tensors(m.as_ref());
        tamper(&mut t);
        save(dir.path(), &t, sidecar(1), 2).unwrap();
        let err = load_err(dir.path(), m.as_ref());
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn a_flipped_bit_a_bad_sidecar_or_another_model_is_refused() {
    let m = model();
    let write = || {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &tensors(m.as_ref()), sidecar(1), 2).unwrap();
        dir
    };
    // One bit flipped deep inside the tensor data: same size, same format, wrong weights.
    let dir = write();
    let path = dir.path().join("epoch-0001.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();
    assert!(load_err(dir.path(), m.as_ref()).contains("CRC-32"));

    for (field, value, needle) in [
        ("lr", "-1.0", "learning rate"),
        ("lr", "1e999", "sidecar"),
        ("epoch", "5", "epoch"),
        ("model", "\"cae\"", "cae"),
    ] {
        let dir = write();
        let json = dir.path().join("epoch-0001.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        v[field] = serde_json::from_str(value).unwrap_or(serde_json::Value::Null);
        let text = serde_json::to_string(&v).unwrap();
        // serde_json cannot write 1e999: put it in by hand.
        let text = if value == "1e999" {
            text.replace("null", "1e999")
        } else {
            text
        };
        std::fs::write(&json, text).unwrap();
        let err = load_err(dir.path(), m.as_ref());
        assert!(err.contains(needle), "{field}={value}: {err}");
    }
}

#[test]
fn the_final_checkpoint_of_a_finished_run_survives_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let t = tensors(m.as_ref());
    save(dir.path(), &t, sidecar(1), 1).unwrap();
    let mut fin = sidecar(2);
    fin.is_final = true;
    save(dir.path(), &t, fin, 1).unwrap();
    for epoch in 3..=5 {
        save(dir.path(), &t, sidecar(epoch), 1).unwrap();
    }
    assert_eq!(list(dir.path()), vec![2, 5], "keep 1 plus the final one");
    // An old finished run's last checkpoint can be marked final afterwards.
    mark_final(dir.path(), 5).unwrap();
    save(dir.path(), &t, sidecar(6), 1).unwrap();
    assert_eq!(list(dir.path()), vec![2, 5, 6]);
}

#[test]
fn leftovers_of_a_dead_writer_are_removed_and_complete_checkpoints_kept() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    save(dir.path(), &tensors(m.as_ref()), sidecar(1), 2).unwrap();
    std::fs::write(dir.path().join(".epoch-0002.safetensors.tmp"), b"half").unwrap();
    std::fs::write(dir.path().join("epoch-0002.safetensors"), b"orphan").unwrap();
    let removed = remove_leftovers(dir.path());
    assert_eq!(
        removed,
        vec![".epoch-0002.safetensors.tmp", "epoch-0002.safetensors"]
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["epoch-0001.json", "epoch-0001.safetensors"]);
}

#[test]
fn a_failed_atomic_write_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    // The rename cannot replace a folder that holds a file: the write fails at its last step.
    let target = dir.path().join("config.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("x"), b"x").unwrap();
    assert!(write_atomic(&target, b"{}").is_err());
    assert!(!dir.path().join(".config.json.tmp").exists());
}

#[test]
fn a_checkpoint_is_written_a_tensor_at_a_time_as_safetensors_would_write_it() {
    let tmp = tempfile::tempdir().unwrap();
    let m = model();
    let mut t = tensors(m.as_ref());
    t.insert(
        "a.scalar".into(),
        Tensor::new(2.5f32, &Device::Cpu).unwrap(),
    );
    let path = save(tmp.path(), &t, sidecar(1), 2).unwrap();
    let bytes = fs::read(&path).unwrap();
    let side = read_sidecar(tmp.path(), 1).unwrap();
    assert_eq!(side.bytes, bytes.len() as u64);
    assert_eq!(side.crc32, Some(crc32fast::hash(&bytes)));
    // The safetensors crate reads it, each tensor in its place.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), t.len());
    assert_eq!(st.tensor("a.scalar").unwrap().data(), 2.5f32.to_le_bytes());
    // And every tensor reads back equal.
    let back = load_epoch(tmp.path(), 1, &Device::Cpu).unwrap().tensors;
    assert_eq!(back.len(), t.len());
    for (name, v) in &t {
        let a = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = back[name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b, "{name}");
        assert_eq!(v.dims(), back[name].dims(), "{name}");
    }
    // No temporary file is left beside it.
    let names: Vec<String> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

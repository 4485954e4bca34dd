//! `vqtex import`, `vqtex roi extract` and `vqtex synth --frames|--mat`: from raw B-mode frames to
//! the paper's HI-normalised 28x28 ROIs.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cli::{ImportCommand, ImportFilesArgs, RoiCommand, SynthArgs};
use crate::data::extract::{extract_rois_with, write_coords};
use crate::data::frames::{
    frame_file, import_files, import_mat, save_gray, write_frames_csv, FrameKind, FrameRecord,
    ImportSummary, LabelSheet, StagedDir,
};
use crate::data::mat::writer::{write_byra, PatientMeta, WriteOptions};
use crate::data::synth_frames::{generate_frames, patient_frames, FrameSynthConfig};
use crate::data::{Label, LoadOptions};

fn say_summary(s: &ImportSummary, out: &Path) {
    crate::outln!(
        "wrote {} frames of {} patients ({} healthy, {} steatotic) and frames.csv to {}",
        s.frames,
        s.patients,
        s.healthy,
        s.steatotic,
        out.display()
    );
}

fn sheet(a: &ImportFilesArgs) -> Result<LabelSheet> {
    Ok(LabelSheet {
        csv: a.labels.clone(),
        file_col: a.file_col.clone(),
        label_col: a.label_col.clone(),
        patient_col: a.patient_col.clone(),
        patient_from: match &a.patient_from {
            Some(p) => Some(LoadOptions::pattern(p)?),
            None => None,
        },
        allow_links: a.allow_links,
    })
}

pub fn import(c: &ImportCommand) -> Result<()> {
    match c {
        ImportCommand::Mat(a) => {
            let live = std::io::stderr().is_terminal();
            let s = import_mat(&a.file, &a.out, |p| {
                if live {
                    use std::io::Write;
                    // Ignored when stderr is gone (a hang-up): the import goes on.
                    let _ = write!(
                        std::io::stderr(),
                        "\rpatient {} ({}): {} frames of {}x{}   ",
                        p.id,
                        p.label,
                        p.frames,
                        p.width,
                        p.height
                    );
                }
            });
            if live {
                crate::errln!("");
            }
            say_summary(&s?, &a.out);
        }
        ImportCommand::Frames(a) => {
            let s = import_files(&a.dir, FrameKind::Png, &sheet(a)?, &a.out)?;
            say_summary(&s, &a.out);
        }
        ImportCommand::Dicom(a) => {
            let s = import_files(&a.dir, FrameKind::Dicom, &sheet(a)?, &a.out)?;
            say_summary(&s, &a.out);
        }
    }
    Ok(())
}

pub fn roi(c: &RoiCommand) -> Result<()> {
    match c {
        RoiCommand::Extract(a) => {
            let s = extract_rois_with(&a.frames, &a.coords, &a.out, a.allow_links)?;
            crate::outln!(
                "wrote {} HI-normalised liver ROIs of {} patients and labels.csv to {} (train with \
                 `vqtex train --data {}`)",
                s.rois,
                s.patients,
                a.out.display(),
                a.out.display()
            );
        }
    }
    Ok(())
}

fn frame_config(args: &SynthArgs) -> FrameSynthConfig {
    let d = FrameSynthConfig::default();
    let (width, height) = args.size.unwrap_or((d.width, d.height));
    FrameSynthConfig {
        seed: args.seed,
        healthy: args.healthy.unwrap_or(d.healthy),
        steatotic: args.steatotic.unwrap_or(d.steatotic),
        frames: args.per_patient.unwrap_or(d.frames),
        width,
        height,
    }
}

/// `vqtex synth --frames` (a frames folder with coords.csv) and `vqtex synth --mat` (a Byra-layout
/// .mat file, written one patient at a time).
pub fn synth_frames(args: &SynthArgs) -> Result<()> {
    let cfg = frame_config(args);
    if cfg.healthy + cfg.steatotic == 0 || cfg.frames == 0 {
        bail!("nothing to generate: give at least one patient and one frame");
    }
    if args.mat {
        return synth_mat(&cfg, &args.out);
    }
    let staged = StagedDir::new(&args.out)?;
    let frames = generate_frames(&cfg);
    let mut records = Vec::new();
    let mut coords = Vec::new();
    for f in frames {
        let file = frame_file(&f.patient.0, f.frame);
        save_gray(
            &staged.path().join(&file),
            f.width as u32,
            f.height as u32,
            f.pixels,
        )?;
        coords.push((file.clone(), f.boxes));
        records.push(FrameRecord {
            file,
            patient: f.patient,
            frame: f.frame,
            label: f.label,
            fat: None,
        });
    }
    write_frames_csv(staged.path(), &records)?;
    write_coords(&staged.path().join("coords.csv"), &coords)?;
    staged.commit()?;
    crate::outln!(
        "wrote {} frames of {} patients with frames.csv and coords.csv to {} (try `vqtex roi \
         extract --frames {} --coords {}/coords.csv --out ROIS`)",
        records.len(),
        cfg.healthy + cfg.steatotic,
        args.out.display(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

fn synth_mat(cfg: &FrameSynthConfig, out: &Path) -> Result<()> {
    if out.exists() {
        bail!(
            "{} exists: choose a new file (nothing was written)",
            out.display()
        );
    }
    let labels = cfg.labels();
    let metas: Vec<PatientMeta> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| PatientMeta {
            id: (i + 1) as f64,
            class: l.index() as f64,
            fat: match l {
                Label::Healthy => (i % 5) as f64,
                Label::Steatosis => (6 + (i * 7) % 80) as f64,
            },
            dims: [cfg.frames, cfg.height, cfg.width],
        })
        .collect();
    // A new file of our own next to OUT (never opened through an existing link), renamed at the end.
    let tmp = out.with_extension(format!("mat.partial-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let result = write_byra(&mut w, &WriteOptions::default(), &metas, |i| {
        let frames = patient_frames(cfg, i, labels[i]);
        let (nf, h, wd) = (cfg.frames, cfg.height, cfg.width);
        let mut v = vec![0u8; nf * h * wd];
        for (f, fr) in frames.iter().enumerate() {
            for r in 0..h {
                for c in 0..wd {
                    v[f + nf * (r + h * c)] = fr.pixels[r * wd + c];
                }
            }
        }
        v
    })
    .and_then(|_| w.into_inner().map_err(|e| e.into_error()))
    .and_then(|f| f.sync_all());
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", out.display()));
    }
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    crate::outln!(
        "wrote {} patients x {} frames of {}x{} to {}",
        metas.len(),
        cfg.frames,
        cfg.width,
        cfg.height,
        out.display()
    );
    Ok(())
}

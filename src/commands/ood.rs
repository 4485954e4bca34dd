//! `vqtex ood`: how unlike the run's training ROIs each ROI of a folder is (see `eval::ood`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::open_run;
use crate::cli::OodArgs;
use crate::data::folder::read_gray_png;
use crate::data::{load_folder, Label, LoadOptions, PatientId, Roi, ROI_SIZE};
use crate::eval::ood::{auroc, Ood, OodRoi};

/// The ROIs of a folder: as the labels CSV lists them when there is one, else every `.png`
/// (sorted by name), which must be 28x28.
pub fn load_rois(dir: &Path) -> Result<Vec<Roi>> {
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    if dir.join("labels.csv").is_file() {
        return Ok(load_folder(dir, &LoadOptions::default())?.rois);
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .png ROI", dir.display());
    }
    files
        .iter()
        .map(|p| {
            let img = read_gray_png(p)?;
            if img.width() as usize != ROI_SIZE || img.height() as usize != ROI_SIZE {
                bail!(
                    "{} is {}x{}, not a 28x28 ROI",
                    p.display(),
                    img.width(),
                    img.height()
                );
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Roi {
                file: name.clone(),
                patient: PatientId(name),
                label: Label::Healthy,
                pixels: img.into_raw(),
                hi: None,
                split: None,
                fat: None,
            })
        })
        .collect()
}

fn print_table(scored: &[OodRoi]) {
    let mut order: Vec<&OodRoi> = scored.iter().collect();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    crate::outln!(
        "{:<28} {:>8} {:>10} {:>8} {:>11} {:>8} {:>8}",
        "file",
        "score",
        "recon MSE",
        "density",
        "vq distance",
        "texture",
        ""
    );
    for r in order {
        crate::outln!(
            "{:<28} {:>8.1} {:>10.5} {:>8.3} {:>11} {:>8.3} {:>8}",
            r.file.chars().take(28).collect::<String>(),
            r.score,
            r.recon_error,
            r.density,
            r.vq_distance
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "–".into()),
            r.texture,
            if r.score >= 95.0 { "unusual" } else { "" }
        );
    }
}

pub fn ood(args: &OodArgs) -> Result<()> {
    let run = open_run(&args.run, args.device)?;
    let ood = Ood::fit(&run)?;
    let rois = load_rois(&args.data)?;
    let refs: Vec<&Roi> = rois.iter().collect();
    let scored = ood.score(&run, &refs)?;
    let against = match &args.against {
        Some(dir) => {
            let other = load_rois(dir)?;
            let refs: Vec<&Roi> = other.iter().collect();
            Some(ood.score(&run, &refs)?)
        }
        None => None,
    };
    let a = against.as_ref().and_then(|o| auroc(&scored, o));
    if args.json {
        let mut v = json!({ "n": scored.len(), "rois": scored });
        if let Some(o) = &against {
            v["against"] = json!({ "n": o.len(), "rois": o });
            v["auroc"] = json!(a);
        }
        crate::outln!("{v}");
        return Ok(());
    }
    print_table(&scored);
    let unusual = scored.iter().filter(|r| r.score >= 95.0).count();
    crate::outln!(
        "{} ROIs scored against {} ({}'s training ROIs); {unusual} score 95 or more (fewer than 5% \
         of the training ROIs look as unusual)",
        scored.len(),
        args.data.display(),
        args.run.display()
    );
    if let (Some(o), Some(a)) = (&against, a) {
        crate::outln!(
            "AUROC of telling {} ({} ROIs) from {} by score: {a:.3}",
            args.against.as_deref().unwrap_or(Path::new("")).display(),
            o.len(),
            args.data.display()
        );
    }
    Ok(())
}

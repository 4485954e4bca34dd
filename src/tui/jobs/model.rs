//! Jobs on one run's model: the Reconstructions pane, the Train pane's thumbnails, the latent
//! traversal and codebook, the classifier. Each takes the run from the [`RunCache`] and checks its
//! cancel flag between stages.

use std::path::Path;

use candle_core::{Device, Tensor};

use super::{
    AnchorRoi, ClassifiedRoi, ClassifyData, CodebookData, OodRow, OodView, ReconData, ReconRoi,
    Thumbs, TraversalData,
};
use crate::data::{Label, PatientId, Roi};
use crate::eval::{self, svm, Classification, Protocol, RoiMetrics};
use crate::model::{roi_tensor, ModelConfig, VqVae};
use crate::runs::RunCache;
use crate::train::{checkpoint, LoadedRun};
pub use crate::tui::rois::{pick_rois, test_rois};
use crate::tui::scheduler::Cancel;

/// The run's model as a VQ-VAE, for what only VQ models have (codes, prototypes).
fn open_vqvae(run: &LoadedRun) -> anyhow::Result<Option<VqVae>> {
    match &run.config.model {
        ModelConfig::Vqvae(c) => {
            let model = VqVae::new(c.clone(), run.config.train.seed, &run.device)?;
            let ckpt = checkpoint::load_latest_for(&run.dir.checkpoints(), &model, &run.device)?;
            crate::model::Autoencoder::params(&model).load(&ckpt.tensors)?;
            Ok(Some(model))
        }
        #[allow(unreachable_patterns)]
        _ => Ok(None),
    }
}

pub fn thumbs(cache: &RunCache, run: &Path, cancel: &Cancel) -> anyhow::Result<Thumbs> {
    let open = cache.open(run)?;
    cancel.check()?;
    let run = open.lock();
    let test = test_rois(&run);
    let rois = pick_rois(&test, 0);
    let recons = eval::reconstruct(run.model.as_ref(), &rois)?;
    Ok(Thumbs {
        run: run.dir.path.clone(),
        epoch: run.epoch,
        labels: rois.iter().map(|r| r.label).collect(),
        originals: rois.iter().map(|r| r.pixels.clone()).collect(),
        recons,
    })
}

fn codes_of(model: &VqVae, rois: &[&Roi], device: &Device) -> anyhow::Result<Vec<u32>> {
    let x = roi_tensor(rois, device)?;
    let mut codes = Vec::new();
    for start in (0..rois.len()).step_by(256) {
        let len = 256.min(rois.len() - start);
        let z = model.encode_continuous(&x.narrow(0, start, len)?)?;
        codes.extend(model.quantize(&z)?.codes.to_vec1::<u32>()?);
    }
    Ok(codes)
}

/// The pane's ROIs for `pick`, their reconstructions and codes, and the test means (evaluated
/// once per opening of the run, not once per pick).
pub fn recon(
    cache: &RunCache,
    run: &Path,
    pick: usize,
    cancel: &Cancel,
) -> anyhow::Result<ReconData> {
    let open = cache.open(run)?;
    cancel.check()?;
    let run = open.lock();
    let test = test_rois(&run);
    let rois = pick_rois(&test, pick);
    let recons = eval::reconstruct(run.model.as_ref(), &rois)?;
    cancel.check()?;
    let codes = match open_vqvae(&run)? {
        Some(m) => Some(codes_of(&m, &rois, &run.device)?),
        None => None,
    };
    cancel.check()?;
    let summary = open.summary(&run)?;
    let rois = rois
        .iter()
        .zip(recons)
        .enumerate()
        .map(|(i, (r, y))| ReconRoi {
            file: r.file.clone(),
            label: r.label,
            pixels: r.pixels.clone(),
            metrics: RoiMetrics::of(&r.to_unit(), &y),
            recon: y,
            codes: codes.as_ref().map(|c| c[i * 49..(i + 1) * 49].to_vec()),
        })
        .collect();
    Ok(ReconData {
        run: run.dir.path.clone(),
        model: run.config.model.kind(),
        epoch: run.epoch,
        pick,
        rois,
        summary,
    })
}

/// Variable `dim`'s traversal from the anchor ROI (the default one when `anchor` is `None`): one
/// row, or for a VQ model the z_e row and the re-quantised row.
pub fn traverse(
    cache: &RunCache,
    run: &Path,
    (dim, steps, range): (usize, usize, f64),
    anchor: Option<usize>,
    cancel: &Cancel,
) -> anyhow::Result<TraversalData> {
    use crate::eval::traversal::{anchor_default, anchor_latent};
    let open = cache.open(run)?;
    cancel.check()?;
    let run = open.lock();
    let index = match anchor {
        Some(i) if i < run.dataset.rois.len() => i,
        _ => anchor_default(&run)?,
    };
    let latent = anchor_latent(&run, index)?;
    let dims = latent.dims();
    cancel.check()?;
    let t = latent.traverse(dim.min(dims.saturating_sub(1)), steps, range)?;
    let roi = &run.dataset.rois[index];
    let codes = match run.model.codes(&roi_tensor(&[roi], &run.device)?)? {
        Some((c, _)) => Some(c.to_vec1::<u32>()?),
        None => None,
    };
    let choices = run.dataset.indices(&run.split, crate::data::Side::Test);
    let mut rows = t.rows.into_iter();
    let images = rows.next().map(|r| r.1).unwrap_or_default();
    Ok(TraversalData {
        run: run.dir.path.clone(),
        dim: t.dim,
        dims,
        offsets: t.offsets,
        images,
        more: rows.map(|(k, v)| (k.label().to_string(), v)).collect(),
        anchor: Some(AnchorRoi {
            index,
            file: roi.file.clone(),
            label: roi.label,
            pixels: roi.pixels.clone(),
            codes,
            codebook: run.model.codebook_size(),
            choices,
        }),
    })
}

/// Scores `rois` against the run's training ROIs, most unusual first, with the run's
/// reconstruction of each.
pub fn ood(cache: &RunCache, run: &Path, rois: &[Roi], cancel: &Cancel) -> anyhow::Result<OodView> {
    let open = cache.open(run)?;
    cancel.check()?;
    let run = open.lock();
    let scorer = crate::eval::ood::Ood::fit(&run)?;
    cancel.check()?;
    let refs: Vec<&Roi> = rois.iter().collect();
    let scores = scorer.score(&run, &refs)?;
    cancel.check()?;
    let recons = eval::reconstruct(run.model.as_ref(), &refs)?;
    let mut rows: Vec<OodRow> = scores
        .into_iter()
        .zip(recons)
        .enumerate()
        .map(|(roi, (score, recon))| OodRow { roi, score, recon })
        .collect();
    rows.sort_by(|a, b| b.score.score.total_cmp(&a.score.score));
    Ok(OodView {
        run: run.dir.path.clone(),
        rows,
    })
}

/// Decodes a 7x7 code map of a VQ run: each code's codebook vector at its position.
pub fn decode_codes(
    cache: &RunCache,
    run: &Path,
    codes: &[u32],
    cancel: &Cancel,
) -> anyhow::Result<Vec<f32>> {
    let open = cache.open(run)?;
    cancel.check()?;
    let run = open.lock();
    // The engine's code editor (as `vqtex swap` uses): one 1x1 decode of the map.
    let editor = crate::eval::swap::CodeEditor::new(run.model.as_ref(), &run.device)?;
    Ok(editor.decode(codes)?)
}

pub fn codebook(cache: &RunCache, run: &Path, cancel: &Cancel) -> anyhow::Result<CodebookData> {
    let open = cache.open(run)?;
    cancel.check()?;
    let run = open.lock();
    let model =
        open_vqvae(&run)?.ok_or_else(|| anyhow::anyhow!("{} has no codebook", run.model.name()))?;
    let k = model.config().codebook_size;
    let codes: Vec<u32> = (0..k as u32).flat_map(|c| [c; 49]).collect();
    let codes = Tensor::from_vec(codes, k * 49, &run.device)?;
    let prototypes = model
        .decode_codes(&codes, k)?
        .flatten_from(1)?
        .to_vec2::<f32>()?;
    cancel.check()?;
    let test = test_rois(&run);
    let used = codes_of(&model, &test, &run.device)?;
    let mut usage = vec![[0u64; 2]; k];
    for (i, c) in used.iter().enumerate() {
        usage[*c as usize][test[i / 49].label.index()] += 1;
    }
    cancel.check()?;
    let stats = crate::eval::codes::code_stats(&run)?;
    cancel.check()?;
    let patches = crate::eval::codes::code_patches(&run, 8)?;
    Ok(CodebookData {
        run: run.dir.path.clone(),
        prototypes,
        usage,
        stats,
        patches,
    })
}

/// Both SVMs, with every classified ROI's decisions; the run is held only while the latent
/// vectors are computed.
pub fn classify(
    cache: &RunCache,
    run: &Path,
    protocol: Protocol,
    cancel: &Cancel,
    progress: impl Fn(&str),
) -> anyhow::Result<ClassifyData> {
    progress("opening the run");
    let open = cache.open(run)?;
    cancel.check()?;
    let (pixels, z, labels, patients, seed, rois) = {
        let run = open.lock();
        let test = test_rois(&run);
        let labels: Vec<Label> = test.iter().map(|r| r.label).collect();
        let patients: Vec<PatientId> = test.iter().map(|r| r.patient.clone()).collect();
        let z = eval::latents(run.model.as_ref(), &test)?;
        let rois: Vec<(String, Vec<u8>)> = test
            .iter()
            .map(|r| (r.file.clone(), r.pixels.clone()))
            .collect();
        (
            eval::pixels(&test),
            z,
            labels,
            patients,
            run.config.train.seed,
            rois,
        )
    };
    cancel.check()?;
    progress("SVM on pixels (1/2)");
    let px = svm::predict(&pixels, &labels, &patients, protocol, seed)?;
    cancel.check()?;
    progress("SVM on latent vectors (2/2)");
    let lat = svm::predict(&z, &labels, &patients, protocol, seed)?;
    anyhow::ensure!(
        px.rows == lat.rows,
        "the two SVMs classified different ROIs"
    );
    let scores = |p: &svm::Predictions| eval::Scores::from_predictions(&p.truth, &p.predicted);
    let (pixels, latents) = (scores(&px), scores(&lat));
    let n = pixels.confusion.iter().flatten().sum();
    let classified = px
        .rows
        .iter()
        .enumerate()
        .map(|(k, &i)| ClassifiedRoi {
            file: rois[i].0.clone(),
            patient: patients[i].clone(),
            truth: labels[i],
            pixels: rois[i].1.clone(),
            decision: [px.decision[k], lat.decision[k]],
        })
        .collect();
    Ok(ClassifyData {
        result: Classification {
            protocol,
            n,
            pixels,
            latents,
        },
        rois: classified,
    })
}

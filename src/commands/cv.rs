//! `vqtex cv`: cross-validation by patient over all patients (the engine's `cv` module does the
//! science; this runs the folds' trainings with progress and ETA, and writes the outputs).
//!
//! The output folder holds `cv-config.json` (what was asked), `folds.csv`, one run folder per
//! fold and model (`r1-f2-vqvae`, a normal run: watch it, open it in the workbench), and at the
//! end `predictions.csv`, `cv.json`, `report.md` and `roc.png` (and `fat-predictions.csv` when
//! every ROI has a fat: the degrees of steatosis). Run again with the same folder and
//! settings and finished fold runs are kept, stopped ones resumed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::{load_data, open_run, run_job, train_config, Progress};
use crate::cli::CvArgs;
use crate::cv::{self, results, FatPrediction, FeatureSet, FoldPlan, Prediction};
use crate::data::Roi;
use crate::model::{ModelConfig, ModelKind};
use crate::train::{self, fresh_dir, RunDir, RunStatus};

/// The feature sets asked for, checked against the models trained.
fn feature_sets(args: &CvArgs, models: &[ModelKind]) -> Result<Vec<FeatureSet>> {
    let Some(list) = &args.features else {
        return Ok(FeatureSet::defaults(models));
    };
    let mut sets = Vec::new();
    for name in list.split(',').filter(|n| !n.trim().is_empty()) {
        let s = FeatureSet::parse(name).map_err(anyhow::Error::msg)?;
        if let Some(m) = s.model() {
            if !models.contains(&m) {
                bail!(
                    "feature set '{s}' needs the {m} model: add it to --models (now {})",
                    models
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
        }
        if sets.contains(&s) {
            bail!("feature set '{s}' is listed twice");
        }
        sets.push(s);
    }
    if sets.is_empty() {
        bail!("--features names no feature set");
    }
    Ok(sets)
}

/// Trains (or resumes, or keeps) a model's run for a fold, and returns its path.
fn fold_run(
    args: &CvArgs,
    model: &ModelConfig,
    fold: &FoldPlan,
    out: &Path,
    progress: &mut Progress,
) -> Result<PathBuf> {
    let path = out.join(cv::run_name(fold.repeat, fold.fold, model.kind()));
    let dir = RunDir::new(&path);
    if let Ok(config) = dir.read_config() {
        match dir.status(&config) {
            RunStatus::Finished => return Ok(path),
            RunStatus::Running(h) => bail!(
                "{} is being trained by another process ({h}); wait for it or stop it",
                path.display()
            ),
            RunStatus::Stopped | RunStatus::Empty => {
                match train::resume_job(&path, None, &args.hyper.device)? {
                    train::Resume::Job(job) => run_job(*job, progress)?,
                    train::Resume::Finished { .. } => {}
                }
                return Ok(path);
            }
        }
    }
    let (data_dir, opts, dataset) = load_data(&args.data)?;
    let mut hyper_train = train_config(&args.hyper)?;
    if args.hyper.lr.is_none() {
        hyper_train.lr = model.paper_lr();
    }
    let job = train::new_job(train::NewRun {
        dir: path.clone(),
        model: model.clone(),
        train: hyper_train,
        device: args.hyper.device,
        data_dir,
        load: &opts,
        dataset,
        split_file: None,
        split: Some(fold.split.clone()),
    })?;
    run_job(job, progress)?;
    Ok(path)
}

/// What was asked, kept in the output folder so that a second `cv` there continues the same one.
fn config_json(
    args: &CvArgs,
    data: &Path,
    models: &[ModelConfig],
    sets: &[FeatureSet],
) -> serde_json::Value {
    json!({
        "data": data,
        "folds": args.folds,
        "repeats": args.repeats,
        "seed": args.hyper.seed,
        "epochs": args.hyper.epochs(),
        "models": models.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "features": sets.iter().map(|s| s.name()).collect::<Vec<_>>(),
    })
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::fs::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn cv(args: &CvArgs) -> Result<()> {
    let started = Instant::now();
    let say = |text: &str| {
        if args.json {
            crate::errln!("{text}");
        } else {
            crate::outln!("{text}");
        }
    };
    let models: Vec<ModelConfig> = match &args.models {
        Some(list) => list.0.clone(),
        None => vec![args.hyper.model.clone()],
    };
    let kinds: Vec<ModelKind> = models.iter().map(|m| m.kind()).collect();
    let sets = feature_sets(args, &kinds)?;
    // Models no feature set needs are not trained.
    let models: Vec<ModelConfig> = models
        .into_iter()
        .filter(|m| sets.iter().any(|s| s.model() == Some(m.kind())))
        .collect();
    let (data_dir, _, data) = load_data(&args.data)?;
    let plan = cv::plan(
        &data,
        args.folds as usize,
        args.repeats as usize,
        args.hyper.seed,
    )
    .map_err(anyhow::Error::msg)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| fresh_dir(&super::default_runs_dir(), "cv"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let asked = config_json(args, &data_dir, &models, &sets);
    let config_path = out.join("cv-config.json");
    match crate::fs::read_capped(&config_path, 1 << 20) {
        Ok(bytes) => {
            let before: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not JSON", config_path.display()))?;
            if before != asked {
                bail!(
                    "{} holds another cross-validation ({before}); this one asks for {asked}. \
                     Use another --out, or the same settings to continue it",
                    out.display()
                );
            }
            say(&format!(
                "continuing the cross-validation in {}",
                out.display()
            ));
        }
        Err(_) if std::fs::read_dir(&out)?.next().is_some() => bail!(
            "{} is not empty and holds no cross-validation: use an empty or new --out",
            out.display()
        ),
        Err(_) => write_text(&config_path, &serde_json::to_string_pretty(&asked)?)?,
    }
    write_text(&out.join("folds.csv"), &results::folds_csv(&data, &plan))?;
    say(&format!(
        "cross-validation: {} ROIs of {} patients, {} folds x {} repeat(s), models {}, feature \
         sets {}; output in {}",
        data.len(),
        data.patients().len(),
        args.folds,
        args.repeats,
        if models.is_empty() {
            "none".into()
        } else {
            models
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(",")
        },
        sets.iter().map(|s| s.name()).collect::<Vec<_>>().join(","),
        out.display()
    ));

    let rois: Vec<&Roi> = data.rois.iter().collect();
    let mut predictions: Vec<Prediction> = Vec::new();
    // Degrees of steatosis: fat is regressed too when every ROI has one.
    let fat = cv::fat_targets(&data);
    let mut fat_predictions: Vec<FatPrediction> = Vec::new();
    // The hand-made sets do not depend on the fold: computed once.
    for &set in sets.iter().filter(|s| s.model().is_none()) {
        let x = cv::features(set, &rois, None)?;
        for fold in &plan {
            predictions.extend(cv::fold_predictions(set, &x, &data, fold)?);
            if let Some(fat) = &fat {
                fat_predictions.extend(cv::fold_fat_predictions(set, &x, &data, fold, fat)?);
            }
        }
    }
    let trainings = plan.len() * models.len();
    let mut done = 0usize;
    let train_started = Instant::now();
    let mut progress = Progress::new(args.json, false);
    for fold in &plan {
        for model in &models {
            let eta = if done == 0 {
                String::new()
            } else {
                let per = train_started.elapsed().as_secs_f64() / done as f64;
                format!(", about {:.0} s left", per * (trainings - done) as f64)
            };
            say(&format!(
                "repeat {}/{} fold {}/{}: {} ({}/{} trainings{eta})",
                fold.repeat,
                args.repeats,
                fold.fold,
                args.folds,
                model.name(),
                done + 1,
                trainings
            ));
            let path = fold_run(args, model, fold, &out, &mut progress)?;
            let run = open_run(&path, args.hyper.device)?;
            if run.split != fold.split {
                bail!(
                    "{} was trained on another split than fold {} of repeat {}: remove it to \
                     train it again",
                    path.display(),
                    fold.fold,
                    fold.repeat
                );
            }
            for &set in sets.iter().filter(|s| s.model() == Some(model.kind())) {
                let x = cv::features(set, &rois, Some(run.model.as_ref()))?;
                predictions.extend(cv::fold_predictions(set, &x, &data, fold)?);
                if let Some(fat) = &fat {
                    fat_predictions.extend(cv::fold_fat_predictions(set, &x, &data, fold, fat)?);
                }
            }
            done += 1;
        }
    }
    let mut report = results::aggregate(
        &data,
        &sets,
        &predictions,
        args.folds as usize,
        args.repeats as usize,
        args.hyper.seed,
        models.iter().map(|m| m.name().to_string()).collect(),
        args.hyper.epochs(),
    );
    results::attach_fat(&mut report, &fat_predictions, args.hyper.seed);
    report.seconds = started.elapsed().as_secs_f64();
    write_text(
        &out.join("predictions.csv"),
        &results::predictions_csv(&predictions),
    )?;
    if fat.is_some() {
        write_text(
            &out.join("fat-predictions.csv"),
            &results::fat_predictions_csv(&fat_predictions),
        )?;
    }
    let cv_json = serde_json::to_value(&report)?;
    write_text(
        &out.join("cv.json"),
        &serde_json::to_string_pretty(&cv_json)?,
    )?;
    let md = results::report_md(&report);
    write_text(&out.join("report.md"), &md)?;
    results::roc_png(&report, &out.join("roc.png"))?;
    if args.json {
        crate::outln!("{cv_json}");
    } else {
        crate::outln!("");
        crate::out!("{md}");
        crate::outln!(
            "\nfolds, predictions, cv.json, report.md and roc.png in {}",
            out.display()
        );
    }
    Ok(())
}

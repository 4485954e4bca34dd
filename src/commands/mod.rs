//! The headless jobs behind each command. Errors carry context for the user (anyhow).

pub mod codes;
pub mod cv;
pub mod export;
pub mod import;
pub mod ood;
mod progress;
mod reproduce;
mod screenshot;
pub mod sensitivity;
pub mod swap;

pub use crate::bench::bench;
pub use progress::Progress;
pub use reproduce::reproduce;
pub use screenshot::screenshot;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::cli::{
    ClassifyArgs, DataArgs, EvalArgs, HyperArgs, SynthArgs, TrainArgs, TraverseArgs, TraverseFrom,
    TuiArgs, WatchArgs,
};
use crate::data::frames::StagedDir;
use crate::data::synth::{generate, SynthConfig};
use crate::data::{folder::write_folder, load_folder, Dataset, LoadOptions};
use crate::eval::table::Tone;
use crate::eval::{self, figures, report, traversal};
use crate::train::{self, fresh_dir, Job, LoadedRun, RunDir, TrainConfig};

pub use crate::paths::{default_runs_dir, sample_data_dir};

/// The loader options a user gave on the command line.
pub fn load_options(args: &DataArgs) -> Result<LoadOptions> {
    Ok(LoadOptions {
        labels: args.labels.clone(),
        file_col: args.file_col.clone(),
        label_col: args.label_col.clone(),
        patient_col: args.patient_col.clone(),
        patient_from: match &args.patient_from {
            Some(p) => Some(LoadOptions::pattern(p)?),
            None => None,
        },
        resize: args.resize,
    })
}

pub(crate) fn load_data(args: &DataArgs) -> Result<(PathBuf, LoadOptions, Dataset)> {
    let dir = match &args.data {
        Some(d) => d.clone(),
        None => {
            let Some(sample) = crate::paths::find_sample_data() else {
                bail!("{}", crate::paths::NO_SAMPLE_DATA);
            };
            if let Some(note) = sample.note() {
                tracing::warn!("{note}");
                crate::logging::stderr_line(&format!("vqtex: {note}"));
            }
            sample.dir
        }
    };
    let opts = load_options(args)?;
    let data = load_folder(&dir, &opts)?;
    let dir = dir.canonicalize().unwrap_or(dir);
    Ok((dir, opts, data))
}

pub fn synth(args: &SynthArgs) -> Result<()> {
    if args.frames || args.mat {
        let d = crate::data::synth_frames::FrameSynthConfig::default();
        args.check_total((d.healthy, d.steatotic, d.frames, d.width, d.height))
            .map_err(anyhow::Error::msg)?;
        return import::synth_frames(args);
    }
    // Filled in a hidden sibling and renamed into place: a folder that is not empty, or a link, is
    // refused before anything is written.
    let staged = StagedDir::new(&args.out)?;
    let cfg = SynthConfig {
        seed: args.seed,
        ..SynthConfig::default()
    };
    let rois = generate(&cfg);
    write_folder(staged.path(), &rois)?;
    staged.commit()?;
    crate::outln!(
        "wrote {} ROIs of {} patients ({} healthy, {} steatotic) to {}",
        rois.len(),
        cfg.healthy + cfg.steatotic,
        cfg.healthy,
        cfg.steatotic,
        args.out.display()
    );
    Ok(())
}

/// Runs a training job to its end, showing progress. Succeeds only when the job said it
/// finished (or stopped) and its thread ended cleanly: any failure, panic included, is an error.
pub(crate) fn run_job(job: Job, progress: &mut Progress) -> Result<()> {
    if let Some(old) = &job.lock.took_over {
        crate::errln!(
            "note: {} was left locked by {old}, which is no longer running; taken over",
            job.dir.path.display()
        );
    }
    let handle = train::spawn(job);
    let mut failure = None;
    let mut finished = false;
    for event in handle.events.iter() {
        if matches!(event, train::Event::Finished { .. }) {
            finished = true;
        }
        if let Some(msg) = progress.show(&event) {
            failure = Some(msg);
        }
    }
    let joined = handle.thread.join();
    match (failure, joined, finished) {
        (Some(msg), _, _) => bail!("training failed: {msg}"),
        (None, Err(_), _) => bail!("training failed: the training thread panicked"),
        (None, Ok(()), false) => bail!("training failed: the training thread ended without a word"),
        (None, Ok(()), true) => Ok(()),
    }
}

pub(crate) fn train_config(h: &HyperArgs) -> Result<TrainConfig> {
    let cfg = TrainConfig {
        epochs: h.epochs(),
        batch: h.batch,
        lr: h.lr.unwrap_or_else(|| h.model.paper_lr()),
        seed: h.seed,
        checkpoint_every: h.checkpoint_every,
        ..TrainConfig::default()
    };
    cfg.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

/// Creates a new run directory and returns its training job.
fn new_job(run: PathBuf, data: &DataArgs, split: Option<&Path>, hyper: &HyperArgs) -> Result<Job> {
    let train = train_config(hyper)?;
    let (dir, opts, dataset) = load_data(data)?;
    Ok(train::new_job(train::NewRun {
        dir: run,
        model: hyper.model.clone(),
        train,
        device: hyper.device,
        data_dir: dir,
        load: &opts,
        dataset,
        split_file: split,
        split: None,
    })?)
}

pub fn train(args: &TrainArgs) -> Result<()> {
    let job = if let Some(run) = &args.resume {
        match train::resume_job(run, args.hyper.epochs, &args.hyper.device)? {
            train::Resume::Job(job) => *job,
            train::Resume::Finished { epochs } => {
                crate::outln!(
                    "{} is finished: it has trained all its {epochs} epochs; nothing was \
                     changed. To train it further: vqtex train --resume {} --epochs M (M > {epochs})",
                    run.display(),
                    run.display()
                );
                return Ok(());
            }
        }
    } else {
        let run = match (&args.run, &args.runs_dir) {
            (Some(r), _) => r.clone(),
            (None, Some(base)) => fresh_dir(base, args.hyper.model.name()),
            (None, None) => fresh_dir(&default_runs_dir(), args.hyper.model.name()),
        };
        new_job(run, &args.data, args.split.as_deref(), &args.hyper)?
    };
    let path = job.dir.path.clone();
    let mut progress = Progress::new(false, args.quiet);
    run_job(job, &mut progress)?;
    if !args.quiet {
        crate::outln!("run saved in {}", path.display());
    }
    Ok(())
}

pub(crate) fn open_run(path: &Path, device: crate::device::DeviceSpec) -> Result<LoadedRun> {
    let device = device.open().map_err(anyhow::Error::msg)?;
    Ok(LoadedRun::open(path, &device)?)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    crate::train::checkpoint::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// `{"n", "mse", "mae", "ssim", "psnr"}`, and `no_copy` (the same) for models whose reconstruction
/// copies input pixels.
fn eval_json(e: &eval::Evaluation, no_copy: Option<&eval::Evaluation>) -> serde_json::Value {
    let mut v = serde_json::to_value(&e.summary).expect("summary serialises");
    if let (Some(nc), Some(obj)) = (no_copy, v.as_object_mut()) {
        let nc = serde_json::to_value(&nc.summary).expect("summary serialises");
        obj.insert("no_copy".into(), nc);
    }
    v
}

fn save_eval(
    run: &LoadedRun,
    e: &eval::Evaluation,
    no_copy: Option<&eval::Evaluation>,
) -> Result<()> {
    let dir = run.dir.eval();
    write_json(&dir.join("summary.json"), &eval_json(e, no_copy))?;
    let mut csv = String::from("file,mse,mae,ssim,psnr\n");
    for (file, m) in &e.per_roi {
        csv.push_str(&format!(
            "{file},{:.6},{:.6},{:.6},{:.4}\n",
            m.mse, m.mae, m.ssim, m.psnr
        ));
    }
    crate::train::checkpoint::write_atomic(&dir.join("per_roi.csv"), csv.as_bytes())?;
    Ok(())
}

pub fn eval(args: &EvalArgs) -> Result<()> {
    let run = open_run(&args.run, args.device)?;
    let e = eval::evaluate(&run)?;
    let nc = eval::evaluate_no_copy(&run)?;
    for summary in std::iter::once(&e.summary).chain(nc.as_ref().map(|n| &n.summary)) {
        summary
            .check_finite()
            .map_err(|m| anyhow::anyhow!("{}: {m}; nothing was written", args.run.display()))?;
    }
    save_eval(&run, &e, nc.as_ref())?;
    if args.json {
        crate::outln!("{}", eval_json(&e, nc.as_ref()));
    } else {
        let entry = report::Table1Entry {
            name: run.model.name(),
            model: run.config.model.kind(),
            summary: &e.summary,
            no_copy: nc.as_ref().map(|n| &n.summary),
            reference: true,
        };
        crate::out!("{}", report::table1(&[entry]).text());
    }
    Ok(())
}

fn classify_json(c: &eval::Classification) -> serde_json::Value {
    json!({
        "protocol": c.protocol.as_str(),
        "n": c.n,
        "pixels": c.pixels,
        "latents": c.latents,
    })
}

pub fn classify(args: &ClassifyArgs) -> Result<()> {
    let run = open_run(&args.run, args.device)?;
    let c = eval::classify(&run, args.protocol)?;
    write_json(
        &run.dir
            .eval()
            .join(format!("classify-{}.json", args.protocol.as_str())),
        &classify_json(&c),
    )?;
    if args.json {
        crate::outln!("{}", classify_json(&c));
    } else {
        let rows = [
            ("pixels".to_string(), Tone::Ours, &c.pixels),
            (
                format!("{} latents", run.model.name()),
                Tone::Ours,
                &c.latents,
            ),
        ];
        crate::out!("{}", report::table2_rows(c.protocol, c.n, &rows).text());
    }
    Ok(())
}

/// A traversal's column labels: its offsets in sd.
fn sd_labels(offsets: &[f64]) -> impl Iterator<Item = String> + '_ {
    offsets.iter().map(|o| format!("{o:+.1} sd"))
}

pub fn traverse(args: &TraverseArgs) -> Result<()> {
    if args.from == TraverseFrom::Mean && args.roi.is_some() {
        bail!("--roi picks the anchor of --from roi; --from mean starts from no ROI");
    }
    let run = open_run(&args.run, args.device)?;
    let model = run.model.name();
    let range = format!(
        "latent variable {} of the {model} from {:+.1} to {:+.1} sd in {} steps",
        args.dim, -args.range, args.range, args.steps
    );
    if args.from == TraverseFrom::Mean {
        let t = traversal::traverse(&run, args.dim, args.steps, args.range)?;
        let grid = figures::LabelledGrid {
            title: format!(
                "{model}, latent variable {}, from the mean latent map",
                args.dim
            ),
            columns: sd_labels(&t.offsets).collect(),
            rows: vec![(format!("var {} mean map", args.dim), t.images.clone())],
            lead: 0,
        };
        figures::labelled_grid(&grid, 4, &args.out)?;
        crate::outln!(
            "{range}, from the mean latent map of the training ROIs (4x4-block sd {:.3}): {}",
            traversal::mean_block_sd(&t.images),
            args.out.display()
        );
        return Ok(());
    }
    let (anchor, why) = match &args.roi {
        Some(file) => (traversal::anchor_by_file(&run, file)?, "chosen"),
        None => (
            traversal::anchor_default(&run)?,
            "the medoid of its class's test ROIs in latent space",
        ),
    };
    let roi = &run.dataset.rois[anchor];
    let side = run.split.side(&roi.patient).as_str();
    let t = traversal::anchor_latent(&run, anchor)?.traverse(args.dim, args.steps, args.range)?;
    let original = roi.to_unit();
    let mut columns = vec!["anchor".to_string()];
    columns.extend(sd_labels(&t.offsets));
    let grid = figures::LabelledGrid {
        title: format!(
            "{model}, latent variable {}, anchored on {} ({}, {side})",
            args.dim,
            roi.file,
            roi.label.as_str()
        ),
        columns,
        rows: t
            .rows
            .iter()
            .map(|(kind, images)| {
                let mut cells = vec![original.clone()];
                cells.extend(images.iter().cloned());
                (kind.row_label(args.dim), cells)
            })
            .collect(),
        lead: 1,
    };
    figures::labelled_grid(&grid, 4, &args.out)?;
    let texture: Vec<String> = t
        .rows
        .iter()
        .map(|(kind, images)| {
            let name = match kind {
                traversal::RowKind::Latent => "traversal",
                k => k.label(),
            };
            format!("{name} {:.3}", traversal::mean_block_sd(images))
        })
        .collect();
    crate::outln!(
        "{range}, anchored on {} ({}, {side}; {why}); 4x4-block sd: anchor {:.3}, {}: {}",
        roi.file,
        roi.label.as_str(),
        traversal::block_sd(&original, 28, 4),
        texture.join(", "),
        args.out.display()
    );
    Ok(())
}

/// The workbench checks the config, the options and then that it has a terminal, in that order.
pub fn tui(args: &TuiArgs) -> Result<()> {
    crate::tui::run(crate::tui::TuiOptions {
        data: args.data.data.clone(),
        load: load_options(&args.data)?,
        runs_dir: args.runs_dir.clone().unwrap_or_else(default_runs_dir),
        watch: None,
        theme: args.theme.clone(),
        images: args.images,
    })
}

/// `vqtex runs`: the runs folder as a table (or JSON), newest first.
pub fn runs(args: &crate::cli::RunsArgs) -> Result<()> {
    let dir = args.runs_dir.clone().unwrap_or_else(default_runs_dir);
    if args.runs_dir.is_some() && !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let runs = crate::runs::list(&dir);
    if args.json {
        let all: Vec<serde_json::Value> = runs.iter().map(|r| r.to_json()).collect();
        crate::outln!("{}", serde_json::Value::Array(all));
        return Ok(());
    }
    if runs.is_empty() {
        crate::outln!("no runs in {}", dir.display());
        return Ok(());
    }
    let f = |v: Option<f64>| v.map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 6]> = runs
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.model.name().to_string(),
                r.status.as_str().to_string(),
                format!("{}/{}", r.epoch, r.epochs),
                f(r.test_mse),
                r.created_short(),
            ]
        })
        .collect();
    let head = [
        "run",
        "model",
        "status",
        "epochs",
        "test MSE",
        "created (UTC)",
    ];
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    crate::outln!("{}", line(&head.map(String::from)));
    for r in &rows {
        crate::outln!("{}", line(r));
    }
    for r in &runs {
        if let crate::train::RunStatus::Running(h) = &r.status {
            crate::outln!("{} is being trained by {h}", r.name);
        }
    }
    Ok(())
}

pub fn watch(args: &WatchArgs) -> Result<()> {
    let runs_dir = args.runs_dir.clone().unwrap_or_else(default_runs_dir);
    let run = find_run(&args.run, &runs_dir)?;
    // Refuse a folder that is not a run before touching the terminal.
    RunDir::new(&run).read_config()?;
    crate::tui::run(crate::tui::TuiOptions {
        data: None,
        load: LoadOptions::default(),
        runs_dir: run
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or(runs_dir),
        watch: Some(run.clone()),
        theme: args.theme.clone(),
        images: args.images,
    })
}

/// The run `given` names: a run folder as given, else the run of that name in `runs_dir`. When
/// neither exists, the error lists the runs whose names are near it (or the newest ones).
pub fn find_run(given: &Path, runs_dir: &Path) -> Result<PathBuf> {
    if RunDir::new(given).is_run() {
        return Ok(given.to_path_buf());
    }
    let by_name = given
        .to_str()
        .filter(|n| !n.is_empty() && !n.contains(std::path::MAIN_SEPARATOR) && *n != "..")
        .map(|n| runs_dir.join(n));
    if let Some(p) = by_name.filter(|p| RunDir::new(p).is_run()) {
        return Ok(p);
    }
    if given.is_dir() {
        bail!(
            "{} is not a vqtex run: it has no config.json",
            given.display()
        );
    }
    let want = given.to_string_lossy().to_lowercase();
    let names: Vec<String> = crate::runs::list(runs_dir)
        .into_iter()
        .map(|r| r.name)
        .collect();
    let near: Vec<&String> = names
        .iter()
        .filter(|n| {
            let n = n.to_lowercase();
            n.contains(&want) || want.contains(&n) || common_prefix(&n, &want) >= 4
        })
        .collect();
    let close = !near.is_empty();
    let shown = if close {
        near
    } else {
        names.iter().take(5).collect()
    };
    let listed = shown
        .iter()
        .take(8)
        .map(|n| format!("  {n}"))
        .collect::<Vec<_>>()
        .join("\n");
    if names.is_empty() {
        bail!(
            "no run {} here or in {} (it holds no runs; --runs-dir DIR names another folder)",
            given.display(),
            runs_dir.display()
        );
    }
    bail!(
        "no run {} here or in {}; runs there{}:\n{listed}",
        given.display(),
        runs_dir.display(),
        if close {
            " with a near name"
        } else {
            ", newest first"
        }
    )
}

/// How many leading characters `a` and `b` share.
fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

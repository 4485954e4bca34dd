//! `vqtex reproduce`: trains the chosen models on one split and writes the paper's Table 1 (with
//! paired tests), Table 2 (with patient-bootstrap intervals) and figures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use super::{
    classify_json, eval_json, new_job, open_run, run_job, save_eval, write_json, Progress,
};
use crate::cli::ReproduceArgs;
use crate::data::{Label, Side};
use crate::eval::compare::Comparison;
use crate::eval::figures::{self, Confusion, Curve};
use crate::eval::report;
use crate::eval::table::{Row, Table, Tone};
use crate::eval::{self, traversal, Classification, Evaluation, Protocol};
use crate::model::ModelKind;
use crate::runs::CompareRun;
use crate::train::{fresh_dir, LoadedRun};

/// ROIs shown in Fig. 3.
const FIG3_ROIS: usize = 8;

/// What one model's training and evaluation produced.
struct ModelResult {
    name: &'static str,
    kind: ModelKind,
    epochs: usize,
    seconds: f64,
    seconds_per_epoch: f64,
    eval: Evaluation,
    no_copy: Option<Evaluation>,
    paper: Classification,
    lopo: Classification,
    /// Mean training reconstruction loss per epoch.
    curve: Vec<(f64, f64)>,
    /// Reconstructions of the Fig. 3 ROIs (and, where the model has them, with nothing copied).
    fig3: Vec<Vec<f32>>,
    fig3_no_copy: Option<Vec<Vec<f32>>>,
}

/// Fig. 4: every latent variable moved from -2 to +2 sd at every position of one real ROI's own
/// latent map (the default anchor: the medoid of the steatotic test ROIs), decoded; the VQ-VAE
/// as z_e and re-quantised (two rows per variable). The anchor ROI leads every row; rows and
/// columns are labelled.
fn fig4(run: &LoadedRun, path: &Path) -> Result<()> {
    let anchor = traversal::anchor_default(run)?;
    let roi = &run.dataset.rois[anchor];
    let latent = traversal::anchor_latent(run, anchor)?;
    let original = roi.to_unit();
    let mut rows = Vec::new();
    let mut columns = vec!["anchor".to_string()];
    for dim in 0..latent.dims() {
        let t = latent.traverse(dim, 5, 2.0)?;
        if dim == 0 {
            columns.extend(t.offsets.iter().map(|o| format!("{o:+.1} sd")));
        }
        for (kind, images) in t.rows {
            let mut cells = vec![original.clone()];
            cells.extend(images);
            rows.push((kind.row_label(dim), cells));
        }
    }
    let grid = figures::LabelledGrid {
        title: format!(
            "{}: latent traversals anchored on {} ({} test ROI)",
            run.model.name(),
            roi.file,
            roi.label.as_str()
        ),
        columns,
        rows,
        lead: 1,
    };
    figures::labelled_grid(&grid, 3, path)?;
    Ok(())
}

/// Test ROIs for Fig. 3: the first ROI of each test patient, healthy patients first, at most
/// [`FIG3_ROIS`].
fn fig3_rois(run: &LoadedRun) -> Vec<usize> {
    let test = run.dataset.indices(&run.split, Side::Test);
    let mut firsts: Vec<usize> = Vec::new();
    for &i in &test {
        let p = &run.dataset.rois[i].patient;
        if !firsts.iter().any(|&j| &run.dataset.rois[j].patient == p) {
            firsts.push(i);
        }
    }
    firsts.sort_by_key(|&i| (run.dataset.rois[i].label != Label::Healthy, i));
    // Keep both classes when there are more patients than slots.
    let healthy: Vec<usize> = firsts
        .iter()
        .copied()
        .filter(|&i| run.dataset.rois[i].label == Label::Healthy)
        .collect();
    let steatotic: Vec<usize> = firsts
        .iter()
        .copied()
        .filter(|&i| run.dataset.rois[i].label != Label::Healthy)
        .collect();
    let h = healthy
        .len()
        .min(FIG3_ROIS / 2)
        .max(FIG3_ROIS.saturating_sub(steatotic.len()));
    healthy
        .into_iter()
        .take(h)
        .chain(steatotic)
        .take(FIG3_ROIS)
        .collect()
}

fn train_and_evaluate(
    args: &ReproduceArgs,
    model: &crate::model::ModelConfig,
    out: &Path,
    fig3: &mut Option<(Vec<usize>, Vec<Vec<f32>>)>,
) -> Result<ModelResult> {
    let mut hyper = args.hyper.clone();
    hyper.model = model.clone();
    let run_path = out.join(model.name());
    let job = new_job(run_path.clone(), &args.data, None, &hyper)?;
    // Progress on stderr, the tables (or the JSON) on stdout.
    let mut progress = Progress::new(true, false);
    let started = Instant::now();
    run_job(job, &mut progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let run = open_run(&run_path, hyper.device)?;
    let say = |what: &str| -> Result<()> {
        progress.stage(&format!("{}: {what}", model.name()));
        Ok(())
    };
    let crate::runs::Assessment {
        evaluation: e,
        no_copy,
        paper,
        lopo,
    } = crate::runs::assess(&run, say)?;
    save_eval(&run, &e, no_copy.as_ref())?;
    let records = run.dir.records();
    let curve = records
        .iter()
        .filter_map(|r| r.train.get("recon").map(|&v| (r.epoch as f64, v)))
        .collect();
    let seconds_per_epoch = if records.is_empty() {
        f64::NAN
    } else {
        records.iter().map(|r| r.seconds).sum::<f64>() / records.len() as f64
    };
    let (idx, _) = fig3.get_or_insert_with(|| {
        let idx = fig3_rois(&run);
        let originals = idx.iter().map(|&i| run.dataset.rois[i].to_unit()).collect();
        (idx, originals)
    });
    let rois: Vec<&crate::data::Roi> = idx.iter().map(|&i| &run.dataset.rois[i]).collect();
    say("reconstructing the Fig. 3 ROIs")?;
    let fig3_recon = eval::reconstruct(run.model.as_ref(), &rois)?;
    let fig3_no_copy = eval::reconstruct_no_copy(run.model.as_ref(), &rois)?;
    // Every model decodes a latent of its own (a map, or the VAEs' vector): each gets a Fig. 4.
    say("Fig. 4, latent traversals")?;
    fig4(
        &run,
        &out.join(format!("fig4-traversals-{}.png", model.name())),
    )?;
    Ok(ModelResult {
        name: model.name(),
        kind: model.kind(),
        epochs: records.len(),
        seconds,
        seconds_per_epoch,
        eval: e,
        no_copy,
        paper,
        lopo,
        curve,
        fig3: fig3_recon,
        fig3_no_copy,
    })
}

/// Adds `value`'s fields to `target[key]`, creating it if absent. The headless pipeline's names
/// put the VQ-VAE's metrics at the top of `eval` (`eval.mae` is its mean absolute error); the MAE
/// model's entry shares that key, so its fields are merged in beside `mean` and `std`.
fn merge_under(target: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    let slot = &mut target[key];
    match (slot.as_object_mut(), value) {
        (Some(obj), serde_json::Value::Object(add)) => obj.extend(add),
        (_, v) => *slot = v,
    }
}

fn classify_both(paper: &Classification, lopo: &Classification) -> serde_json::Value {
    let mut c = classify_json(paper);
    c["lopo"] = classify_json(lopo);
    c
}

fn table1_csv(results: &[ModelResult]) -> String {
    let mut csv = String::from(
        "model,variant,source,n,mse_mean,mse_sd,mae_mean,mae_sd,ssim_mean,ssim_sd,psnr_mean,psnr_sd\n",
    );
    let mut line = |model: &str, variant: &str, source: &str, n: usize, v: [(f64, f64); 4]| {
        csv.push_str(&format!("{model},{variant},{source},{n}"));
        for (m, s) in v {
            csv.push_str(&format!(",{m:.6},{s:.6}"));
        }
        csv.push('\n');
    };
    for r in results {
        let mut rows = vec![("", &r.eval)];
        if let Some(nc) = &r.no_copy {
            rows.push(("no copy", nc));
        }
        for (variant, e) in rows {
            let s = &e.summary;
            let v = [s.mse, s.mae, s.ssim, s.psnr].map(|m| (m.mean, m.std));
            line(r.name, variant, "vqtex", s.n, v);
        }
        if let Some(p) = report::paper_table1(r.kind) {
            line(r.name, "", "paper", 0, p);
        }
    }
    csv
}

fn tests_csv(comparisons: &[Comparison]) -> String {
    let mut csv = String::from("reference,model,metric,level,test,n,statistic,p\n");
    for c in comparisons {
        for t in &c.tests {
            for (level, test, r) in [
                ("roi", "wilcoxon", &t.roi_wilcoxon),
                ("roi", "paired_t", &t.roi_t),
                ("patient", "wilcoxon", &t.patient_wilcoxon),
                ("patient", "paired_t", &t.patient_t),
            ] {
                let (n, stat, p) = match r {
                    Some(r) => (
                        r.n.to_string(),
                        format!("{}", r.statistic),
                        format!("{:e}", r.p),
                    ),
                    None => (String::new(), String::new(), String::new()),
                };
                csv.push_str(&format!(
                    "{},{},{},{level},{test},{n},{stat},{p}\n",
                    c.reference, c.other, t.metric
                ));
            }
        }
    }
    csv
}

fn table2_csv(results: &[ModelResult]) -> String {
    let mut csv = String::from(
        "protocol,features,tn,fp,fn,tp,accuracy,accuracy_ci_low,accuracy_ci_high,sensitivity,specificity,f1\n",
    );
    for (i, r) in results.iter().enumerate() {
        for c in [&r.paper, &r.lopo] {
            let mut sets = vec![(format!("{} latents", r.name), &c.latents)];
            if i == 0 {
                sets.insert(0, ("pixels".to_string(), &c.pixels));
            }
            for (features, s) in sets {
                let [[tn, fp], [fneg, tp]] = s.confusion;
                let (lo, hi) = match s.accuracy_ci95 {
                    Some([lo, hi]) => (format!("{lo:.4}"), format!("{hi:.4}")),
                    None => (String::new(), String::new()),
                };
                csv.push_str(&format!(
                    "{},{features},{tn},{fp},{fneg},{tp},{:.4},{lo},{hi},{:.4},{:.4},{:.4}\n",
                    c.protocol.as_str(),
                    s.accuracy,
                    s.sensitivity,
                    s.specificity,
                    s.f1
                ));
            }
        }
    }
    csv
}

/// How long each model trained, on this machine.
fn training_time(results: &[ModelResult]) -> Table {
    Table {
        title: "Training time (this machine)".into(),
        header: ["model", "epochs", "seconds", "seconds per epoch"]
            .map(String::from)
            .to_vec(),
        rows: results
            .iter()
            .map(|r| {
                Row::new(
                    Tone::Ours,
                    [
                        r.name.to_string(),
                        r.epochs.to_string(),
                        format!("{:.1}", r.seconds),
                        format!("{:.3}", r.seconds_per_epoch),
                    ],
                )
            })
            .collect(),
        notes: Vec::new(),
    }
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::train::checkpoint::write_atomic(path, text.as_bytes())?;
    Ok(())
}

pub fn reproduce(args: &ReproduceArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| fresh_dir(&super::default_runs_dir(), "reproduce"));
    let models = match &args.models {
        Some(list) => list.0.clone(),
        None => vec![args.hyper.model.clone()],
    };
    let progress = Progress::new(true, false);
    let say = |text: &str| progress.stage(text);
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    say(&format!(
        "reproducing {} on {}, output in {}",
        names.join(", "),
        args.data
            .data
            .clone()
            .unwrap_or_else(super::sample_data_dir)
            .display(),
        out.display()
    ));
    let started = Instant::now();
    let mut fig3 = None;
    let mut results = Vec::new();
    for m in &models {
        // What the last model freed goes back to the system: each model peaks at its own memory.
        crate::bench::models::trim_heap();
        say(&format!("— {} —", m.name()));
        results.push(train_and_evaluate(args, m, &out, &mut fig3)?);
    }
    let total = started.elapsed().as_secs_f64();

    // The VQ-VAE is the reference of the paired tests and of the pipeline's top-level JSON names.
    // The tables come from the same compared set as the workbench's Compare pane.
    let rows: Vec<CompareRun> = results
        .iter()
        .map(|r| CompareRun {
            path: out.join(r.name),
            name: r.name.to_string(),
            model: r.kind,
            epoch: r.epochs,
            summary: r.eval.summary.clone(),
            no_copy: r.no_copy.as_ref().map(|e| e.summary.clone()),
            paper: r.paper.clone(),
            lopo: r.lopo.clone(),
        })
        .collect();
    let evals: Vec<&Evaluation> = results.iter().map(|r| &r.eval).collect();
    if results.len() > 1 {
        say("paired tests (Wilcoxon and t, per ROI and per patient)");
    }
    let set = crate::runs::compare_set(rows, &evals);
    let reference = &results[set.reference];
    let comparisons: Vec<Comparison> = set
        .pairings
        .iter()
        .map(|p| p.result.clone().map_err(anyhow::Error::msg))
        .collect::<Result<_>>()?;
    let mut tables = report::tables(&set);
    tables.push(training_time(&results));
    let whole = format!("Whole reproduction: {total:.1} s.");
    // The report file in Markdown; the terminal gets the aligned text `eval` prints.
    let render = |f: fn(&Table) -> String| {
        let body = tables.iter().map(f).collect::<Vec<_>>().join("\n");
        format!("{body}\n{whole}\n")
    };
    let md = render(Table::markdown);
    say("writing the tables and figures");

    write_text(&out.join("report.md"), &md)?;
    write_text(&out.join("table1.csv"), &table1_csv(&results))?;
    write_text(&out.join("table1-tests.csv"), &tests_csv(&comparisons))?;
    write_text(&out.join("table2.csv"), &table2_csv(&results))?;
    write_figures(&out, &results, fig3.map(|f| f.1))?;

    let mut eval_v = eval_json(&reference.eval, reference.no_copy.as_ref());
    let mut classify_v = classify_both(&reference.paper, &reference.lopo);
    let mut models_v = serde_json::Map::new();
    for r in &results {
        let e = eval_json(&r.eval, r.no_copy.as_ref());
        merge_under(&mut eval_v, r.name, e);
        classify_v[r.name] = classify_both(&r.paper, &r.lopo);
        models_v.insert(
            r.name.to_string(),
            json!({
                "epochs": r.epochs,
                "seconds": r.seconds,
                "seconds_per_epoch": r.seconds_per_epoch,
            }),
        );
    }
    let result = json!({
        "eval": eval_v,
        "classify": classify_v,
        "tests": comparisons,
        "models": models_v,
        "seconds": total,
    });
    write_json(&out.join("reproduce.json"), &result)?;
    if args.json {
        crate::outln!("{result}");
    } else {
        crate::outln!("");
        crate::out!("{}", render(Table::text));
        crate::outln!("\nfigures and tables in {}", out.display());
    }
    Ok(())
}

fn write_figures(
    out: &Path,
    results: &[ModelResult],
    originals: Option<Vec<Vec<f32>>>,
) -> Result<()> {
    let mut rows = vec![("original".to_string(), originals.unwrap_or_default())];
    for r in results {
        rows.push((r.name.to_string(), r.fig3.clone()));
        if let Some(nc) = &r.fig3_no_copy {
            rows.push((format!("{} (no copy)", r.name), nc.clone()));
        }
    }
    figures::reconstruction_grid(&rows, 3, &out.join("fig3-reconstructions.png"))?;
    let curves: Vec<Curve> = results
        .iter()
        .map(|r| Curve {
            name: r.name.to_string(),
            points: r.curve.clone(),
        })
        .collect();
    if curves.iter().any(|c| !c.points.is_empty()) {
        figures::loss_curves(
            &curves,
            "Training reconstruction loss (MSE) per epoch",
            "MSE",
            &out.join("loss-curves.png"),
        )?;
    }
    for protocol in [Protocol::Paper, Protocol::Lopo] {
        let mut panels = Vec::new();
        for (i, r) in results.iter().enumerate() {
            let c = match protocol {
                Protocol::Paper => &r.paper,
                Protocol::Lopo => &r.lopo,
            };
            if i == 0 {
                panels.push(Confusion {
                    title: "pixels".into(),
                    matrix: c.pixels.confusion,
                });
            }
            panels.push(Confusion {
                title: format!("{} latents", r.name),
                matrix: c.latents.confusion,
            });
        }
        let path: PathBuf = out.join(format!("confusion-{}.png", protocol.as_str()));
        figures::confusion_grid(&panels, 3, &path)?;
    }
    Ok(())
}

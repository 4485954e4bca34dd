//! The training job: runs on its own thread (candle is blocking), owns its model, takes commands and
//! sends events through channels. The CLI prints the events; the workbench folds them into its panes.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;

use super::checkpoint::{self, Sidecar};
use super::config::RunConfig;
use super::event::{Command, EpochRecord, Event, Terms};
use super::optim::Adam;
use super::run::RunDir;
use super::runlog;
use crate::data::{Dataset, Side, Split};
use crate::model::{roi_tensor, Autoencoder};
use crate::rng::seeded;

/// Everything a training job needs.
pub struct Job {
    pub dir: RunDir,
    pub config: RunConfig,
    pub dataset: Dataset,
    pub split: Split,
    pub device: Device,
    /// Continue from the run's newest checkpoint.
    pub resume: bool,
    /// The run's lock, held until the job's thread ends: one writer per run.
    pub lock: super::RunLock,
}

/// The caller's end of a running job.
pub struct Handle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    pub thread: JoinHandle<()>,
}

/// Starts a training job on its own thread.
pub fn spawn(job: Job) -> Handle {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::channel();
    let ev_tx2 = ev_tx.clone();
    let thread = std::thread::Builder::new()
        .name("vqtex-train".into())
        .spawn(move || {
            let started = Instant::now();
            let mut pending = None;
            let mut writing = Writing::default();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                train(&job, &cmd_rx, &ev_tx, &mut pending, &mut writing)
            }))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                Err(format!("internal error in the training thread: {what}"))
            });
            // Whatever ended the job, the checkpoint being written is finished, then the last
            // completed epoch reaches the disk.
            let result = match (result, writing.finish()) {
                (Ok(_), Err(e)) => Err(format!("cannot write a checkpoint: {e}")),
                (Err(m), Err(e)) => Err(format!("{m}; a checkpoint failed too: {e}")),
                (r, Ok(())) => r,
            };
            let saved = pending.take().map(|p: Pending| p.save());
            let result = match (result, saved) {
                (Ok(_), Some(Err(e))) => Err(format!("cannot write the last checkpoint: {e}")),
                (Err(m), Some(Err(e))) => Err(format!("{m}; the last checkpoint failed too: {e}")),
                (r, Some(Ok((epoch, path)))) => {
                    let _ = ev_tx.send(Event::Checkpoint { epoch, path });
                    r
                }
                (r, None) => r,
            };
            // The lock goes only now, after the last write.
            drop(job);
            match result {
                Ok((epochs, stopped)) => {
                    let _ = ev_tx.send(Event::Finished {
                        epochs,
                        stopped,
                        seconds: started.elapsed().as_secs_f64(),
                    });
                }
                Err(message) => {
                    let _ = ev_tx.send(Event::Failed { message });
                }
            }
        });
    let thread = match thread {
        Ok(t) => t,
        Err(e) => {
            // No thread: report it through the channel the caller reads, from a thread that
            // does nothing else (spawning cannot fail twice in a row for lack of resources in
            // any way we could handle better).
            let _ = ev_tx2.send(Event::Failed {
                message: format!("cannot start the training thread: {e}"),
            });
            std::thread::spawn(|| {})
        }
    };
    Handle {
        commands: cmd_tx,
        events: ev_rx,
        thread,
    }
}

/// Loss terms of one forward pass, as numbers.
fn read_terms(out: &crate::model::Output) -> candle_core::Result<Terms> {
    let mut terms = BTreeMap::new();
    terms.insert("total".to_string(), out.loss.to_scalar::<f32>()? as f64);
    for (name, t) in &out.terms {
        terms.insert(name.to_string(), t.to_scalar::<f32>()? as f64);
    }
    Ok(terms)
}

fn add_weighted(acc: &mut Terms, terms: &Terms, w: f64) {
    for (k, v) in terms {
        *acc.entry(k.clone()).or_insert(0.0) += v * w;
    }
}

/// Losses over a set of ROIs (no training), averaged per ROI.
pub fn evaluate_losses(
    model: &dyn Autoencoder,
    x: &Tensor,
    batch: usize,
) -> candle_core::Result<Terms> {
    let n = x.dim(0)?;
    let mut acc = Terms::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let out = model.forward(&x.narrow(0, start, len)?, false)?;
        add_weighted(&mut acc, &read_terms(&out)?, len as f64);
        start += len;
    }
    for v in acc.values_mut() {
        *v /= n.max(1) as f64;
    }
    Ok(acc)
}

/// Scales all gradients down together when their global L2 norm exceeds `max_norm` (PyTorch's
/// clip_grad_norm_). Returns the norm before clipping.
pub fn clip_grad_norm(
    model: &dyn Autoencoder,
    grads: &mut candle_core::backprop::GradStore,
    max_norm: f64,
) -> candle_core::Result<f64> {
    let mut sq = 0.0f64;
    for (_, var) in model.params().iter() {
        if let Some(g) = grads.get(var.as_tensor()) {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = sq.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for (_, var) in model.params().iter() {
            if let Some(g) = grads.get(var.as_tensor()) {
                let clipped = (g * scale)?;
                grads.insert(var.as_tensor(), clipped);
            }
        }
    }
    Ok(norm)
}

/// Codes in use and perplexity of a code histogram.
pub fn code_stats(hist: &[u64]) -> (usize, f64) {
    let total: u64 = hist.iter().sum();
    let used = hist.iter().filter(|&&c| c > 0).count();
    if total == 0 {
        return (0, 0.0);
    }
    let entropy: f64 = hist
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.ln()
        })
        .sum();
    (used, entropy.exp())
}

/// The last completed epoch, held in memory when it was not checkpointed (`checkpoint_every` > 1),
/// so that a stop, an error or a panic later in the run still writes it before the job ends.
struct Pending {
    dir: std::path::PathBuf,
    tensors: std::collections::HashMap<String, Tensor>,
    sidecar: Sidecar,
    keep: usize,
}

impl Pending {
    fn save(self) -> Result<(usize, std::path::PathBuf), String> {
        let epoch = self.sidecar.epoch;
        checkpoint::save(&self.dir, &self.tensors, self.sidecar, self.keep)
            .map(|p| (epoch, p))
            .map_err(|e| e.to_string())
    }
}

/// The checkpoint being written on a thread of its own while training goes on (CPU runs: a
/// MAE's is 62 MB, about 0.05 s an epoch written in line). At most one is in flight: the next
/// one waits for it, so they reach the disk (and pruning runs) in order.
#[derive(Default)]
struct Writing(Option<JoinHandle<Result<(), String>>>);

impl Writing {
    /// Waits for the checkpoint in flight, if any; its error, if it failed.
    fn finish(&mut self) -> Result<(), String> {
        match self.0.take() {
            None => Ok(()),
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err("the checkpoint writer panicked".into())),
        }
    }

    /// Writes `p` on a new thread (after the one in flight is done); `Event::Checkpoint` is sent
    /// when it is on disk.
    fn start(&mut self, p: Pending, tx: &Sender<Event>) -> Result<(), String> {
        self.finish()?;
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("vqtex-checkpoint".into())
            .spawn(move || {
                let (epoch, path) = p.save()?;
                let _ = tx.send(Event::Checkpoint { epoch, path });
                Ok(())
            });
        match spawned {
            Ok(h) => {
                self.0 = Some(h);
                Ok(())
            }
            Err(e) => Err(format!("cannot start the checkpoint writer: {e}")),
        }
    }
}

enum Control {
    Continue,
    Stop,
}

/// Applies pending commands; blocks while paused.
fn poll(rx: &Receiver<Command>, tx: &Sender<Event>, opt: &mut Adam, save: &mut bool) -> Control {
    let mut paused = false;
    loop {
        let cmd = if paused {
            match rx.recv() {
                Ok(c) => c,
                Err(_) => return Control::Continue,
            }
        } else {
            match rx.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {
                    return Control::Continue
                }
            }
        };
        match cmd {
            Command::Pause => {
                if !paused {
                    paused = true;
                    let _ = tx.send(Event::Paused);
                }
            }
            Command::Resume => {
                if paused {
                    paused = false;
                    let _ = tx.send(Event::Resumed);
                }
            }
            Command::Stop => return Control::Stop,
            Command::Save => *save = true,
            Command::SetLr(lr) if lr.is_finite() && lr > 0.0 => opt.lr = lr,
            Command::SetLr(_) => {}
        }
    }
}

fn train(
    job: &Job,
    rx: &Receiver<Command>,
    tx: &Sender<Event>,
    pending: &mut Option<Pending>,
    writing: &mut Writing,
) -> Result<(usize, bool), String> {
    let cfg = &job.config.train;
    let e = |what: &str| {
        let what = what.to_string();
        move |err: candle_core::Error| format!("{what}: {err}")
    };
    let model = job
        .config
        .model
        .build(cfg.seed, &job.device)
        .map_err(e("building the model"))?;
    let mut opt = Adam::new(model.params().iter().cloned().collect(), cfg.lr)
        .map_err(e("creating the optimizer"))?;
    let mut start_epoch = 0;
    if job.resume {
        let ckpt = checkpoint::load_latest_for(&job.dir.checkpoints(), model.as_ref(), &job.device)
            .map_err(|err| err.to_string())?;
        model
            .params()
            .load(&ckpt.tensors)
            .map_err(|err| format!("{}: {err}", ckpt.path.display()))?;
        opt.load_state(&ckpt.tensors, ckpt.sidecar.step)
            .map_err(|err| format!("{}: {err}", ckpt.path.display()))?;
        opt.lr = ckpt.sidecar.lr;
        start_epoch = ckpt.sidecar.epoch;
    }
    // The log matches the checkpoint the run starts from (none: epoch 0).
    runlog::truncate_after(&job.dir.metrics(), start_epoch)
        .map_err(|err| format!("{}: {err}", job.dir.metrics().display()))?;
    let train_idx = job.dataset.indices(&job.split, Side::Train);
    let test_idx = job.dataset.indices(&job.split, Side::Test);
    let pick = |idx: &[usize]| {
        idx.iter()
            .map(|&i| &job.dataset.rois[i])
            .collect::<Vec<_>>()
    };
    let x_train = roi_tensor(&pick(&train_idx), &job.device).map_err(e("loading ROIs"))?;
    let x_test = roi_tensor(&pick(&test_idx), &job.device).map_err(e("loading ROIs"))?;
    let test_rois = pick(&test_idx);
    let fixed = super::steps::fixed_rois(&test_rois);
    // The fixed ROIs' reconstructions at every epoch: kept for scrubbing, never worth a failed run.
    let mut step_images = if fixed.is_empty() {
        None
    } else {
        super::steps::StepWriter::start(&job.dir.steps(), &fixed, start_epoch)
            .map_err(|err| tracing::warn!("{}: {err}", job.dir.steps().display()))
            .ok()
    };
    let n = train_idx.len();
    let steps = n.div_ceil(cfg.batch);
    let _ = tx.send(Event::Started {
        run: job.dir.path.clone(),
        start_epoch,
        epochs: cfg.epochs,
        steps_per_epoch: steps,
        device: crate::device::describe(&job.device),
        params: model.params().count(),
    });
    if start_epoch == 0 {
        model
            .begin_training(&x_train, cfg.seed)
            .map_err(e("initialising the model"))?;
    }
    let mut save_requested = false;
    for epoch in start_epoch + 1..=cfg.epochs {
        let t0 = Instant::now();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(&mut seeded(cfg.seed, &format!("epoch-{epoch}")));
        let mut acc = Terms::new();
        let mut train_seconds = 0.0;
        let mut hist = vec![0u64; model.codebook_size().unwrap_or(0)];
        for (step, chunk) in order.chunks(cfg.batch).enumerate() {
            if let Control::Stop = poll(rx, tx, &mut opt, &mut save_requested) {
                return Ok((epoch - 1, true));
            }
            let t_step = Instant::now();
            let idx = Tensor::from_slice(chunk, chunk.len(), &job.device).map_err(e("batch"))?;
            let xb = x_train.index_select(&idx, 0).map_err(e("batch"))?;
            let (out, mut grads) = model.forward_backward(&xb).map_err(e("training step"))?;
            let terms = read_terms(&out).map_err(e("reading losses"))?;
            if !terms["total"].is_finite() {
                // (The checkpoint in flight is a good one: it is waited for, and counted.)
                writing.finish()?;
                let last = checkpoint::list(&job.dir.checkpoints()).last().copied();
                return Err(format!(
                    "the loss became {} at epoch {epoch}, step {}; training stopped. {}",
                    terms["total"],
                    step + 1,
                    match last {
                        Some(l) => format!("The last good checkpoint (epoch {l}) is kept."),
                        None => "No checkpoint had been written yet.".into(),
                    }
                ));
            }
            if let Some(max_norm) = model.grad_clip() {
                clip_grad_norm(model.as_ref(), &mut grads, max_norm).map_err(e("clipping"))?;
            }
            opt.step(&grads).map_err(e("optimizer step"))?;
            train_seconds += t_step.elapsed().as_secs_f64();
            add_weighted(&mut acc, &terms, chunk.len() as f64);
            if let Some(codes) = &out.codes {
                for c in codes.to_vec1::<u32>().map_err(e("codes"))? {
                    hist[c as usize] += 1;
                }
            }
            let _ = tx.send(Event::Step {
                epoch,
                step: step + 1,
                steps,
                terms,
            });
        }
        for v in acc.values_mut() {
            *v /= n as f64;
        }
        let restarted = model
            .end_epoch(&hist, &x_train, cfg.seed, epoch)
            .map_err(e("restarting unused codes"))?;
        let test = evaluate_losses(model.as_ref(), &x_test, 256).map_err(e("test losses"))?;
        let (codes_used, perplexity) = if hist.is_empty() {
            (None, None)
        } else {
            let (u, p) = code_stats(&hist);
            (Some(u), Some(p))
        };
        if let Some(w) = &mut step_images {
            // Before the metrics line: a reader that sees the epoch logged finds its images.
            let written = crate::eval::reconstruct(model.as_ref(), &fixed)
                .map_err(|err| err.to_string())
                .and_then(|r| w.append(epoch, &r).map_err(|err| err.to_string()));
            if let Err(err) = written {
                tracing::warn!("{}: {err}; no more step images", job.dir.steps().display());
                step_images = None;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch,
            epochs: cfg.epochs,
            train: acc,
            test,
            codes_used,
            perplexity,
            codes_restarted: (restarted > 0).then_some(restarted),
            lr: opt.lr,
            seconds,
            train_seconds: Some(train_seconds),
            rois_per_sec: n as f64 / seconds.max(1e-9),
        };
        runlog::append(&job.dir.metrics(), &record)
            .map_err(|err| format!("{}: {err}", job.dir.metrics().display()))?;
        let (train_loss, test_loss) = (record.train["total"], record.test.get("total").copied());
        let _ = tx.send(Event::Epoch(record));
        let sidecar = Sidecar {
            epoch,
            step: opt.step,
            model: model.name().to_string(),
            bytes: 0,
            train_loss: Some(train_loss),
            test_loss,
            lr: opt.lr,
            crc32: None,
            is_final: epoch == cfg.epochs,
        };
        // The epoch's weights and moments, copied (the moments are copies already): what a
        // checkpoint not written in line holds.
        let snapshot = |sidecar: Sidecar| -> Result<Pending, String> {
            let mut tensors = HashMap::new();
            for (name, t) in model.params().tensors() {
                tensors.insert(name, t.copy().map_err(e("copying weights"))?);
            }
            tensors.extend(opt.state());
            Ok(Pending {
                dir: job.dir.checkpoints(),
                tensors,
                sidecar,
                keep: cfg.keep_checkpoints,
            })
        };
        let due = epoch % cfg.checkpoint_every == 0 || epoch == cfg.epochs || save_requested;
        // The last epoch's copy goes first, so that two (the MAE's are 63 MB) are never held.
        *pending = None;
        if !due {
            // Kept in memory, written if the job ends before the next checkpoint.
            *pending = Some(snapshot(sidecar)?);
        } else if job.device.is_cpu() {
            // Written on a thread of its own while the next epoch trains.
            save_requested = false;
            writing.start(snapshot(sidecar)?, tx)?;
        } else {
            save_requested = false;
            let mut tensors = model.params().tensors();
            tensors.extend(opt.state());
            let path = checkpoint::save(
                &job.dir.checkpoints(),
                &tensors,
                sidecar,
                cfg.keep_checkpoints,
            )
            .map_err(|err| err.to_string())?;
            let _ = tx.send(Event::Checkpoint { epoch, path });
        }
    }
    Ok((cfg.epochs, false))
}

#[cfg(test)]
mod tests;

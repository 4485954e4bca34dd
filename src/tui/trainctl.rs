//! Starting a training from the Train pane: the same run directory and config the CLI's
//! `vqtex train` writes, and a thread that forwards the job's events into the app's channel.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use tokio::sync::mpsc::UnboundedSender;

use super::panes::train::Form;
use super::Msg;
use crate::data::{Dataset, LoadOptions};
use crate::train::{self, Command, Job};

/// A training job running in this process.
pub struct Training {
    pub run: PathBuf,
    pub commands: Sender<Command>,
    pub thread: Option<JoinHandle<()>>,
}

impl Training {
    pub fn send(&self, c: Command) {
        if self.commands.send(c).is_err() {
            tracing::warn!("the training job has already ended");
        }
    }

    /// Waits up to `secs` for the job's thread to end (it stops between steps).
    pub fn wait(&mut self, secs: f64) {
        let t0 = std::time::Instant::now();
        while let Some(t) = &self.thread {
            if t.is_finished() {
                let _ = self.thread.take().map(|t| t.join());
                return;
            }
            if t0.elapsed().as_secs_f64() > secs {
                tracing::warn!("the training thread did not stop within {secs} s");
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Creates a new run directory under `runs_dir` for the form's settings and returns its job.
pub fn new_job(
    form: &Form,
    data_dir: &Path,
    opts: &LoadOptions,
    dataset: &Dataset,
    runs_dir: &Path,
) -> Result<Job> {
    let (model, train_cfg, device) = form.configs().map_err(anyhow::Error::msg)?;
    let dir = train::fresh_dir(runs_dir, model.name());
    train::new_job(train::NewRun {
        dir,
        model,
        train: train_cfg,
        device,
        data_dir: data_dir.to_path_buf(),
        load: opts,
        dataset: dataset.clone(),
        split_file: None,
        split: None,
    })
    .with_context(|| format!("cannot create the run in {}", runs_dir.display()))
}

/// Starts the job and forwards its events to `tx` until it ends.
pub fn start(job: Job, tx: UnboundedSender<Msg>) -> Training {
    let run = job.dir.path.clone();
    let handle = train::spawn(job);
    let events = handle.events;
    let forward = std::thread::Builder::new()
        .name("vqtex-train-events".into())
        .spawn(move || {
            for ev in events.iter() {
                if tx.send(Msg::Train(ev)).is_err() {
                    break;
                }
            }
            let _ = tx.send(Msg::TrainEnded);
        });
    if let Err(e) = forward {
        tracing::error!("cannot forward training events: {e}");
    }
    Training {
        run,
        commands: handle.commands,
        thread: Some(handle.thread),
    }
}

/// The form filled with a run's own settings (model and its fields, epochs, batch, lr, seed,
/// device), as `watch` shows a run another process trains.
pub fn form_of_run(config: &crate::train::RunConfig) -> Form {
    let mut form = Form::for_model(config.model.name(), None);
    let t = &config.train;
    let mut values = vec![
        ("epochs".to_string(), t.epochs.to_string()),
        ("batch".to_string(), t.batch.to_string()),
        ("lr".to_string(), format!("{:e}", t.lr)),
        ("seed".to_string(), t.seed.to_string()),
        ("device".to_string(), config.device.clone()),
    ];
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&config.model) {
        for (k, v) in map {
            match v {
                serde_json::Value::Bool(b) => values.push((k, b.to_string())),
                serde_json::Value::Number(n) => values.push((k, n.to_string())),
                _ => {}
            }
        }
    }
    for f in form.fields.iter_mut() {
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == f.key) {
            f.value = v.clone();
        }
    }
    form
}

/// The file in a run folder where a training handed to a background process writes its output.
pub const DETACHED_LOG: &str = "train-detached.log";

/// Hands a run nobody is training any more to a background `exe train --resume RUN` that goes on
/// from its last checkpoint: its own process group (a hang-up or ctrl-c of this terminal does not
/// reach it), no terminal (stdin from /dev/null, output appended to [`DETACHED_LOG`] in the run).
/// Returns its process id once it holds the run's lock, or `None` when the run had nothing left
/// to train.
pub fn resume_detached(run: &Path, exe: &Path, device: &str) -> Result<Option<u32>> {
    let dir = crate::train::RunDir::new(run);
    let config = dir.read_config()?;
    if dir.status(&config) == crate::train::RunStatus::Finished {
        return Ok(None);
    }
    let log_path = run.join(DETACHED_LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("train")
        .arg("--resume")
        .arg(run)
        .arg("--quiet")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if device.parse::<crate::device::DeviceSpec>().is_ok() {
        cmd.args(["--device", device]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let pid = child.id();
    let t0 = std::time::Instant::now();
    loop {
        if crate::train::lock::holder(run).is_some_and(|h| h.pid == pid) {
            tracing::info!(pid, run = %run.display(), "training handed to a background process");
            return Ok(Some(pid));
        }
        if let Some(status) = child.try_wait()? {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = tail.lines().last().unwrap_or_default().to_string();
            if status.success() {
                // It ran to the end already (a few epochs left).
                return Ok(Some(pid));
            }
            anyhow::bail!("the background training ended at once ({status}): {last}");
        }
        if t0.elapsed() > std::time::Duration::from_secs(60) {
            anyhow::bail!(
                "the background training (process {pid}) has not taken the run within 60 s; \
                 see {}",
                log_path.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

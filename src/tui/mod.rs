//! The terminal workbench (ratatui): browse data, train, watch, inspect and classify, from the
//! keyboard, over SSH. It calls only the engine's public API; heavy work and file access run as
//! jobs on a small pool of threads (see `jobs` and `scheduler`) and come back as messages.

pub(crate) mod app;
mod config;
pub(crate) mod fixture;
pub(crate) mod help;
pub(crate) mod input;
mod jobs;
mod keymap;
mod multirun;
mod panes;
mod redraw;
mod rois;
pub(crate) mod runtime;
mod scheduler;
mod series;
pub mod shot;
mod steps;
mod theme;
mod trainctl;
pub(crate) mod ui;
mod userfile;
mod widgets;

#[cfg(test)]
mod tests;

pub use runtime::RestoringAlloc;
pub use trainctl::{resume_detached, DETACHED_LOG};
pub use widgets::graphics::Images;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::data::LoadOptions;
use crate::train::{Event, RunDir};

/// How the workbench starts.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// The ROI folder to open; the bundled sample data when `None` (or the watched run's data).
    pub data: Option<PathBuf>,
    /// How to read it (the same options as the CLI's).
    pub load: LoadOptions,
    /// Where runs are listed and new ones are created.
    pub runs_dir: PathBuf,
    /// Follow a run another process is writing (`vqtex watch RUN`).
    pub watch: Option<PathBuf>,
    /// Theme name (a preset, a user theme) or a path to a theme file.
    pub theme: Option<String>,
    /// `--images`: wins over the config's `images`.
    pub images: Option<Images>,
}

/// What reaches the event loop from other threads.
#[derive(Debug)]
pub enum Msg {
    /// An event of the training job started from the Train pane.
    Train(Event),
    /// The training job's event channel closed.
    TrainEnded,
    /// A background job's result or progress, with its kind and id.
    Job(jobs::Done),
}

/// Refuses to start without a terminal (tests, pipes, cron). Checked after everything else that
/// can be wrong, so a bad config is reported the same way with or without one.
fn need_terminal() -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "the workbench needs a terminal; for headless work use `vqtex reproduce`, `vqtex train` \
             and the other commands (`vqtex --help`)"
        );
    }
    Ok(())
}

/// A folder option that, when it exists, must be a folder.
fn check_folder(what: &str, path: &std::path::Path, must_exist: bool) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("{what} {} is not a folder", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(()),
        Err(e) => bail!("{what} {}: {e}", path.display()),
    }
}

/// Opens the workbench and runs it until the user quits. Everything that can be wrong before it
/// starts (the user's config, theme and keys, `--data`, `--runs-dir`, a `watch` target that is not
/// a run, the lack of a terminal) is reported before the screen changes; the terminal is restored
/// on every way out (see `runtime`).
pub fn run(opts: TuiOptions) -> Result<()> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let config_dir = config::config_dir();
    let settings = config::load(config_dir.as_deref(), opts.theme.as_deref(), no_color)
        .map_err(anyhow::Error::msg)?;
    let mut load = opts.load.clone();
    let mut data_dir = opts.data.clone();
    let mut watched = None;
    if let Some(run) = &opts.watch {
        let dir = RunDir::new(run);
        if !dir.is_run() {
            bail!(
                "{} is not a vqtex run: it has no config.json",
                run.display()
            );
        }
        let cfg = dir.read_config()?;
        watched = Some(cfg.clone());
        if data_dir.is_none() {
            data_dir = Some(cfg.data.dir.clone());
            load = cfg.data.options()?;
        }
    }
    if let Some(dir) = &opts.data {
        check_folder("--data", dir, true)?;
    }
    check_folder("--runs-dir", &opts.runs_dir, false)?;
    // No --data: the sample data, said so when it is the build folder's; none: how to get data.
    let sample = data_dir
        .is_none()
        .then(crate::paths::find_sample_data)
        .flatten();
    let note = sample.as_ref().and_then(|s| s.note());
    let data_dir = data_dir.or(sample.map(|s| s.dir));
    need_terminal()?;
    // Logging was set up once by main (crate::logging); the workbench only names the file.
    let log = crate::logging::path();
    tracing::info!(?log, data = ?data_dir, runs = %opts.runs_dir.display(), "workbench starts");
    if let Some(n) = &note {
        tracing::warn!("{n}");
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the event loop")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let images = opts.images.unwrap_or(settings.images);
    let (graphics, why) = widgets::graphics::choose(images, &widgets::graphics::TermEnv::current());
    tracing::info!("{why}");
    let ctx = panes::Ctx {
        theme: settings.theme,
        mode: widgets::image::GrayMode::detect(),
        graphics,
    };
    let mut app = app::App::new(ctx, settings.keymap, load, opts.runs_dir.clone(), tx);
    app.say(why, false);
    match data_dir {
        Some(dir) => {
            app.data.loading = true;
            app.data_note = note;
            app.request(jobs::Request::LoadData(dir));
        }
        None => {
            app.data.error = Some(crate::paths::NO_SAMPLE_DATA.to_string());
            app.say(crate::paths::NO_SAMPLE_DATA, true);
        }
    }
    if let (Some(run), Some(cfg)) = (&opts.watch, &watched) {
        app.start_watch(run.clone(), cfg);
    } else {
        app.open_newest = true;
        app.request(jobs::Request::ListRuns(opts.runs_dir.clone()));
    }

    let ended = {
        let mut tui = runtime::Tui::enter().context("cannot set up the terminal")?;
        // The guard restores the terminal on every exit from this block.
        rt.block_on(runtime::event_loop(&mut tui.terminal, &mut app, &mut rx))
    };
    tracing::info!(?ended, exit = ?app.exit, "workbench ends");
    // Jobs still running stop at their next stage; their results are not wanted.
    app.cancel_jobs();
    let keep =
        app.exit == Some(app::Exit::KeepTraining) && matches!(ended, Ok(runtime::Ended::Quit));
    if let Some(t) = app.training.as_mut() {
        if keep {
            drop(rx);
            keep_training(t);
        } else {
            t.send(crate::train::Command::Stop);
            t.wait(30.0);
        }
    }
    if let Some(what) = runtime::background_panic() {
        bail!(
            "internal error in a background thread ({what}); please report it{}",
            log.as_ref()
                .map(|p| format!(" (details in {})", p.display()))
                .unwrap_or_default()
        );
    }
    match ended? {
        runtime::Ended::Signal(name) => bail!(
            "stopped by {name}{}",
            if app.training.is_some() {
                "; the training stopped at its last checkpoint"
            } else {
                ""
            }
        ),
        _ => Ok(()),
    }
}

/// "Keep training" on quit: the training stops after its current step and a background `vqtex
/// train --resume` goes on from the last checkpoint, so this process (and the shell's prompt)
/// returns at once. If the training does not stop in time, this process waits for it instead.
fn keep_training(t: &mut trainctl::Training) {
    t.send(crate::train::Command::Stop);
    t.wait(120.0);
    let (run, name) = (
        t.run.display().to_string(),
        t.run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    if t.thread.is_some() {
        crate::logging::stderr_line(&format!(
            "vqtex: the training in {run} did not stop to be handed over; this process trains \
             on and exits when it ends (follow it with `vqtex watch {name}`)"
        ));
        t.wait(f64::INFINITY);
        return;
    }
    let device = RunDir::new(&t.run)
        .read_config()
        .map(|c| c.device)
        .unwrap_or_else(|_| "cpu".into());
    let handed = std::env::current_exe()
        .context("cannot find the vqtex executable")
        .and_then(|exe| trainctl::resume_detached(&t.run, &exe, &device));
    let text = match handed {
        Ok(Some(pid)) => format!(
            "vqtex: training goes on in the background (process {pid}) from the last checkpoint \
             of {run}; its output is in {}; follow it with `vqtex watch {name}`",
            t.run.join(trainctl::DETACHED_LOG).display()
        ),
        Ok(None) => format!("vqtex: the training in {run} has finished"),
        Err(e) => format!(
            "vqtex: the training stopped at its last checkpoint and could not go on in the \
             background ({e:#}); continue it with `vqtex train --resume {run}`"
        ),
    };
    tracing::info!("{text}");
    crate::logging::stderr_line(&text);
}

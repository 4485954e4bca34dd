//! The terminal workbench (ratatui): browse data, train, watch, inspect and classify, from the
//! keyboard, over SSH. It calls only the engine's public API; heavy work and file access run as
//! jobs on a small pool of threads (see `jobs` and `scheduler`) and come back as messages.

pub(crate) mod app;
mod config;
pub(crate) mod fixture;
pub(crate) mod help;
mod input;
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

use std::io::Write;
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
    let data_dir = data_dir.unwrap_or_else(crate::paths::sample_data_dir);
    need_terminal()?;
    // Logging was set up once by main (crate::logging); the workbench only names the file.
    let log = crate::logging::path();
    tracing::info!(?log, data = %data_dir.display(), runs = %opts.runs_dir.display(), "workbench starts");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the event loop")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = panes::Ctx {
        theme: settings.theme,
        mode: widgets::image::GrayMode::detect(),
    };
    let mut app = app::App::new(ctx, settings.keymap, load, opts.runs_dir.clone(), tx);
    app.data.loading = true;
    app.request(jobs::Request::LoadData(data_dir));
    if let (Some(run), Some(cfg)) = (&opts.watch, &watched) {
        app.start_watch(run.clone(), cfg);
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
            let _ = writeln!(
                std::io::stderr(),
                "vqtex: training continues in {} (follow it with `vqtex watch {}` from another \
                 terminal); this process exits when it ends",
                t.run.display(),
                t.run.display()
            );
            // Keep forwarding nothing: just wait for the job.
            drop(rx);
            t.wait(f64::INFINITY);
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

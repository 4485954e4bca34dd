//! The terminal and the event loop. The terminal is restored on every way out: a normal return, an
//! error, a panic (hook), SIGTERM and SIGHUP (handled in the loop, which then returns normally).

use std::io::{self, Stdout};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::EventStream;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::UnboundedReceiver;

use super::app::App;
use super::Msg;

/// Redraws at most this often (about 15 fps); nothing is drawn while nothing changes.
pub const FRAME: Duration = Duration::from_millis(66);

type PanicHook = Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Owns the terminal in raw mode on the alternate screen; restores it when dropped.
pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    previous_hook: PanicHook,
}

/// Puts the terminal back: raw mode off, main screen, cursor shown. Safe to call twice.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

impl Tui {
    pub fn enter() -> io::Result<Tui> {
        let previous: PanicHook = Arc::from(std::panic::take_hook());
        let chained = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            chained(info);
        }));
        enable_raw_mode()?;
        if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(Tui {
            terminal,
            previous_hook: previous,
        })
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
        let prev = self.previous_hook.clone();
        std::panic::set_hook(Box::new(move |info| prev(info)));
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The user quit (see `App::exit`).
    Quit,
    /// SIGTERM or SIGHUP.
    Signal(&'static str),
    /// The terminal's input closed.
    InputClosed,
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> io::Result<Signals> {
        Ok(Signals)
    }
    async fn recv(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

/// Runs until the user quits, a signal arrives or the input closes.
pub async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    rx: &mut UnboundedReceiver<Msg>,
) -> anyhow::Result<Ended> {
    let mut events = EventStream::new();
    let mut signals = Signals::new()?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = true;
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| f.render_widget(&*app, f.area()))?;
            last_draw = tokio::time::Instant::now();
            dirty = false;
        }
        let next_frame = last_draw + FRAME;
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => dirty |= app.on_terminal(ev),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(Ended::InputClosed),
            },
            Some(msg) = rx.recv() => {
                dirty |= app.on_msg(msg);
                // Drain what else is queued, then draw once.
                while let Ok(msg) = rx.try_recv() {
                    dirty |= app.on_msg(msg);
                }
            }
            _ = tick.tick() => dirty |= app.on_tick(),
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
            name = signals.recv() => return Ok(Ended::Signal(name)),
        }
        if app.exit.is_some() {
            return Ok(Ended::Quit);
        }
    }
}

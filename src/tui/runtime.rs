//! The terminal and the event loop. The terminal is restored on every way out: a normal return, an
//! error (the [`Tui`] guard is dropped), a panic of the UI thread (hook), SIGTERM and SIGHUP
//! (handled in the loop, which then returns normally). A panic of a background thread leaves the
//! screen alone (the workbench keeps running): it is logged, shown in the status bar and turns the
//! exit status into a failure.

use std::io::{self, Stdout, Write};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::UnboundedReceiver;

use super::app::App;
use super::widgets::graphics::{self, Graphics};
use super::Msg;

/// Redraws at most this often (about 15 fps); nothing is drawn while nothing changes.
pub const FRAME: Duration = Duration::from_millis(66);

/// Changes driven by training steps (several a second) reach the screen at most once a second,
/// which keeps a 200x60 Train pane under 20 KB/s over SSH; they ride along with any sooner redraw.
pub const STEP_FRAME: Duration = Duration::from_millis(1000);

/// The period of `App::on_tick`.
pub const TICK: Duration = Duration::from_secs(1);

pub use super::redraw::Redraw;

/// The redraw policy, shared by the event loop and `vqtex bench --tui`: what is pending and when
/// the last frame was drawn, on a clock given as the time since some fixed start.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    pending: Redraw,
    last: Option<Duration>,
}

impl Pacer {
    /// Notes a change (or none).
    pub fn mark(&mut self, r: Redraw) {
        self.pending = self.pending.max(r);
    }

    /// When the pending change is to be drawn; `None` when nothing is pending.
    pub fn due(&self) -> Option<Duration> {
        let gap = match self.pending {
            Redraw::None => return None,
            Redraw::Coalesce => STEP_FRAME,
            Redraw::Now => FRAME,
        };
        Some(self.last.map_or(Duration::ZERO, |l| l + gap))
    }

    /// Whether to draw at `now`.
    pub fn should_draw(&self, now: Duration) -> bool {
        self.due().is_some_and(|t| now >= t)
    }

    /// A frame was drawn at `now`: everything pending is on screen.
    pub fn drawn(&mut self, now: Duration) {
        self.pending = Redraw::None;
        self.last = Some(now);
    }
}

/// crossterm writes no colour at all when NO_COLOR is set, which would erase every image (their
/// greys are colours). The workbench honours NO_COLOR itself: the theme's chrome colours are
/// dropped (`Theme::without_color`) and the data (images, heatmaps) keeps its colours.
pub fn keep_image_colours() {
    crossterm::style::force_color_output(true);
}

type PanicHook = Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The first panic of a background thread while the workbench ran: thread and location.
static BACKGROUND_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
/// Whether the status bar has said so yet.
static BACKGROUND_PANIC_SHOWN: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The first panic of a background thread since the workbench started, if any.
pub fn background_panic() -> Option<String> {
    BACKGROUND_PANIC
        .lock()
        .map(|g| g.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

fn note_background_panic(info: &std::panic::PanicHookInfo<'_>) {
    let thread = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    tracing::error!("panic in thread {thread}{location}: {info}");
    let mut slot = BACKGROUND_PANIC.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(format!("thread {thread}{location}"));
}

/// Owns the terminal in raw mode on the alternate screen; restores it when dropped.
pub struct Tui {
    /// Never dropped: ratatui's `Terminal` shows the cursor again on drop and, when that fails
    /// (EIO after a hang-up), prints with `eprintln!`, which panics on a closed stderr. `restore`
    /// gives the terminal back instead, ignoring such errors.
    pub terminal: std::mem::ManuallyDrop<Terminal<CrosstermBackend<Stdout>>>,
    previous_hook: PanicHook,
}

/// Whether the terminal is in raw mode on the alternate screen (between `Tui::enter` and its drop).
static TERMINAL_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The allocator of the `vqtex` binary: the system's, which also gives the terminal back when an
/// allocation fails. Such a failure aborts the process (no panic, no unwinding, no guard dropped),
/// which used to leave the terminal in raw mode (a config asking for a 64 GB model did).
pub struct RestoringAlloc;

/// Called when an allocation fails: restores the terminal once, if the workbench holds it.
fn on_alloc_failure() {
    ALLOC_FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if TERMINAL_TAKEN.swap(false, std::sync::atomic::Ordering::SeqCst) {
        restore();
    }
}

/// Failed allocations seen by [`RestoringAlloc`] (for its test).
static ALLOC_FAILURES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call goes to `System` unchanged; only a null result is noticed.
unsafe impl std::alloc::GlobalAlloc for RestoringAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if p.is_null() {
            on_alloc_failure();
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if p.is_null() {
            on_alloc_failure();
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            on_alloc_failure();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as `alloc`.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

/// Puts the terminal back: raw mode off, main screen, cursor shown. Safe to call twice.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

impl Tui {
    pub fn enter() -> io::Result<Tui> {
        let previous: PanicHook = Arc::from(std::panic::take_hook());
        let chained = previous.clone();
        let ui = std::thread::current().id();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == ui {
                restore();
                chained(info);
            } else {
                // Not over the screen, which stays in use.
                note_background_panic(info);
            }
        }));
        TERMINAL_TAKEN.store(true, std::sync::atomic::Ordering::SeqCst);
        keep_image_colours();
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
            terminal: std::mem::ManuallyDrop::new(terminal),
            previous_hook: previous,
        })
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        TERMINAL_TAKEN.store(false, std::sync::atomic::Ordering::SeqCst);
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
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = tokio::time::Instant::now();
    let mut pacer = Pacer::default();
    pacer.mark(Redraw::Now);
    // Mouse capture is on only while the ROI picker asks for it (it takes the terminal's own
    // selection away).
    let mut mouse = false;
    let mut kitty_shown: Vec<u32> = Vec::new();
    loop {
        if app.wants_mouse() != mouse {
            mouse = !mouse;
            if mouse {
                execute!(io::stdout(), EnableMouseCapture)?;
            } else {
                execute!(io::stdout(), DisableMouseCapture)?;
            }
        }
        if pacer.should_draw(start.elapsed()) {
            let done = terminal.draw(|f| f.render_widget(&*app, f.area()))?;
            if let Graphics::Kitty { tmux } = app.ctx.graphics {
                // Kitty images stay until deleted: drop those the new frame no longer shows.
                let now = graphics::kitty_ids(done.buffer);
                let gone = graphics::kitty_deletes(&kitty_shown, &now, tmux);
                if !gone.is_empty() {
                    let mut out = io::stdout();
                    out.write_all(gone.as_bytes())?;
                    out.flush()?;
                }
                kitty_shown = now;
            }
            pacer.drawn(start.elapsed());
        }
        let due = pacer.due();
        let next_frame = start + due.unwrap_or_default();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => pacer.mark(Redraw::now_if(app.on_terminal(ev))),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(Ended::InputClosed),
            },
            Some(msg) = rx.recv() => {
                pacer.mark(app.on_msg(msg));
                // Drain what else is queued, then draw once.
                while let Ok(msg) = rx.try_recv() {
                    pacer.mark(app.on_msg(msg));
                }
            }
            _ = tick.tick() => {
                pacer.mark(app.on_tick());
                if let Some(what) = background_panic() {
                    if !BACKGROUND_PANIC_SHOWN.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        app.say(
                            format!("internal error in {what}; please report it (see the log)"),
                            true,
                        );
                        pacer.mark(Redraw::Now);
                    }
                }
            }
            _ = tokio::time::sleep_until(next_frame), if due.is_some() => {}
            name = signals.recv() => return Ok(Ended::Signal(name)),
        }
        if app.exit.is_some() {
            return Ok(Ended::Quit);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::*;

    #[test]
    fn a_failed_allocation_is_noticed() {
        let before = ALLOC_FAILURES.load(std::sync::atomic::Ordering::Relaxed);
        // More than any machine has: the system refuses it and returns null.
        // (black_box: the optimizer may drop an unused allocation and call it a success.)
        let huge =
            Layout::from_size_align(std::hint::black_box(isize::MAX as usize / 2), 8).unwrap();
        // SAFETY: a non-zero size; a null result is not used.
        let p = std::hint::black_box(unsafe { RestoringAlloc.alloc(huge) });
        assert!(p.is_null());
        assert!(ALLOC_FAILURES.load(std::sync::atomic::Ordering::Relaxed) > before);
        // Ordinary allocations pass through.
        let small = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: freed with the same layout.
        unsafe {
            let p = RestoringAlloc.alloc_zeroed(small);
            assert!(!p.is_null() && *p == 0);
            let p = RestoringAlloc.realloc(p, small, 128);
            assert!(!p.is_null());
            RestoringAlloc.dealloc(p, Layout::from_size_align(128, 8).unwrap());
        }
    }
}

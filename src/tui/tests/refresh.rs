//! Refreshes on the real pool: a look at a watched run asked for once a tick waits while one is in
//! flight instead of replacing it (which would drop its result), and is made when that one's
//! result arrives.

use std::time::{Duration, Instant};

use super::app::{app, rec, write_run};
use crate::train::runlog;
use crate::tui::app::{App, Watch};
use crate::tui::jobs::{Jobs, Request};
use crate::tui::scheduler::Scheduler;
use crate::tui::Msg;

/// The next message from the pool (at most 20 s).
fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>) -> Msg {
    let t0 = Instant::now();
    loop {
        if let Ok(m) = rx.try_recv() {
            return m;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no result");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn looks(app: &App) -> usize {
    app.requested
        .iter()
        .filter(|r| matches!(r, Request::Watch { .. }))
        .count()
}

#[test]
fn a_watch_look_in_flight_is_not_replaced_and_the_next_follows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let run = write_run(tmp.path());
    runlog::append(&run.metrics(), &rec(1)).unwrap();
    let (mut app, mut rx) = app();
    // One worker, held by another job: the first look waits in the queue.
    app.jobs = Jobs {
        scheduler: Scheduler::new(1),
        ..Jobs::default()
    };
    app.spawn_jobs = true;
    let (release, gate) = std::sync::mpsc::channel::<()>();
    app.jobs
        .scheduler
        .submit(crate::tui::jobs::JobKey::Compare, move |_, _| {
            let _ = gate.recv();
        });
    app.watch = Some(Watch::new(run.path.clone(), false));
    for _ in 0..3 {
        app.on_tick();
    }
    assert_eq!(looks(&app), 1, "later ticks wait for the look in flight");
    drop(release);
    let first = next(&mut rx);
    app.on_msg(first);
    assert_eq!(app.train.records.len(), 1, "its result was not dropped");
    assert_eq!(looks(&app), 2, "the waiting look is made now");
    let second = next(&mut rx);
    app.on_msg(second);
    assert_eq!(looks(&app), 2, "nothing else was waiting");
}

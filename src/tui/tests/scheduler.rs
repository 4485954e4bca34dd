//! The job pool: coalescing, generation ids, cancelling, the bound on threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tui::scheduler::{Cancel, Scheduler};

const WAIT: Duration = Duration::from_secs(20);

/// Occupies the pool's only worker until the returned sender sends (or is dropped).
fn block(s: &Scheduler<&'static str>) -> (Sender<()>, Receiver<()>) {
    let (release, gate) = channel::<()>();
    let (started_tx, started) = channel();
    s.submit("block", move |_, _| {
        let _ = started_tx.send(());
        let _ = gate.recv();
    });
    (release, started)
}

#[test]
fn a_newer_request_replaces_a_queued_one_and_only_its_id_is_current() {
    let s = Scheduler::new(1);
    let (release, started) = block(&s);
    started.recv_timeout(WAIT).unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done) = channel();
    let mut ids = Vec::new();
    for pick in 1..=3 {
        let (ran, done_tx) = (ran.clone(), done_tx.clone());
        ids.push(s.submit("recon", move |id, _| {
            ran.lock().unwrap().push((pick, id));
            let _ = done_tx.send(());
        }));
    }
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(s.queued(), 1, "one job of a kind waits: the newest");
    assert!(s.is_current(&"recon", 3) && !s.is_current(&"recon", 1) && !s.is_current(&"recon", 2));
    drop(release);
    done.recv_timeout(WAIT).unwrap();
    assert!(done.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(*ran.lock().unwrap(), [(3, 3)]);
    // Ids are per kind.
    assert_eq!(s.issue("peers"), 1);
    assert_eq!(s.current(&"recon"), 3);
}

#[test]
fn cancelling_stops_a_running_job_and_makes_its_result_stale() {
    let s: Scheduler<&'static str> = Scheduler::new(2);
    let (started_tx, started) = channel();
    let (ended_tx, ended) = channel();
    let id = s.submit("compare", move |id, cancel: &Cancel| {
        let _ = started_tx.send(());
        let t0 = Instant::now();
        // Stages of 1 ms, the flag checked between them, for at most 20 s.
        while t0.elapsed() < WAIT {
            if cancel.check().is_err() {
                let _ = ended_tx.send((id, true, t0.elapsed()));
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = ended_tx.send((id, false, t0.elapsed()));
    });
    started.recv_timeout(WAIT).unwrap();
    assert_eq!(s.running(), 1);
    s.cancel(&"compare");
    let (ended_id, cancelled, took) = ended.recv_timeout(WAIT).unwrap();
    assert!(cancelled && took < Duration::from_secs(10), "{took:?}");
    assert_eq!(ended_id, id);
    assert!(
        !s.is_current(&"compare", id),
        "a result on its way is dropped"
    );

    // A newer request of the kind cancels the running one too, and runs after it.
    let (started_tx, started) = channel();
    let (ended_tx, ended) = channel();
    let ended_new = ended_tx.clone();
    s.submit("recon", move |_, cancel| {
        let _ = started_tx.send(());
        while !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = ended_tx.send("old");
    });
    started.recv_timeout(WAIT).unwrap();
    s.submit("recon", move |_, _| {
        let _ = ended_new.send("new");
    });
    assert_eq!(ended.recv_timeout(WAIT).unwrap(), "old");
    assert_eq!(ended.recv_timeout(WAIT).unwrap(), "new");
}

#[test]
fn the_pool_never_runs_more_jobs_than_workers() {
    let s = Scheduler::new(2);
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (done_tx, done) = channel();
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for k in keys {
        let (now, most, done_tx) = (now.clone(), most.clone(), done_tx.clone());
        s.submit(k, move |_, _| {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            now.fetch_sub(1, Ordering::SeqCst);
            let _ = done_tx.send(k);
        });
    }
    let mut finished: Vec<&str> = (0..keys.len())
        .map(|_| done.recv_timeout(WAIT).unwrap())
        .collect();
    finished.sort();
    assert_eq!(finished, keys, "every job of a distinct kind ran");
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "{}",
        most.load(Ordering::SeqCst)
    );
    assert!((1..=2).contains(&s.threads()), "{} threads", s.threads());
    assert!(s.peak() <= 2);
}

#[test]
fn a_panicking_job_leaves_the_worker_and_its_kind_usable() {
    let s = Scheduler::new(1);
    s.submit("frames", |_, _| panic!("a job's bug"));
    let (tx, rx) = channel();
    s.submit("frames", move |id, _| {
        let _ = tx.send(id);
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 2);
    assert_eq!(s.threads(), 1);
}

#[test]
fn dropping_the_scheduler_cancels_what_runs() {
    let s = Scheduler::new(1);
    let (started_tx, started) = channel();
    let (ended_tx, ended) = channel();
    s.submit("classify", move |_, cancel| {
        let _ = started_tx.send(());
        while !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = ended_tx.send(());
    });
    started.recv_timeout(WAIT).unwrap();
    drop(s);
    ended.recv_timeout(WAIT).unwrap();
}

#[test]
fn in_flight_covers_queued_and_running_jobs() {
    let s = Scheduler::new(1);
    let (release, started) = block(&s);
    started.recv_timeout(WAIT).unwrap();
    assert!(s.in_flight(&"block") && !s.in_flight(&"watch"));
    let (tx, rx) = channel();
    s.submit("watch", move |_, _| {
        let _ = tx.send(());
    });
    assert!(s.in_flight(&"watch"), "queued");
    drop(release);
    rx.recv_timeout(WAIT).unwrap();
    let t0 = Instant::now();
    while s.in_flight(&"watch") {
        assert!(t0.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(1));
    }
}

//! A small, bounded pool of worker threads for the workbench's background jobs (the ideas of gitui's
//! `AsyncSingleJob` and yazi's scheduler, written for this program):
//!
//! - every job has a *key* (its kind, e.g. "the Reconstructions pane's job") and a *generation id*:
//!   each request of a key gets the next id, and only the newest id of a key is *current*; the app
//!   drops a result whose id is no longer current ([`Scheduler::is_current`]);
//! - at most one job of a key runs at a time, and at most one waits: a newer request replaces a
//!   queued one (coalescing) and raises the cancel flag of the running one;
//! - a job is cancelled through a [`Cancel`] flag it checks between its stages; cancelling a key
//!   ([`Scheduler::cancel`]) also makes its ids stale, so a result already on its way is dropped;
//! - the pool has `workers` threads at most (2 by default), started when first needed; dropping the
//!   scheduler cancels everything and lets the threads end after their current job.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Worker threads of the workbench's pool: two, so a long job (a comparison) leaves room for a
/// quick one (a frame of the ROI picker) without taking every core from the UI and a training.
pub const DEFAULT_WORKERS: usize = 2;

/// A job's cancel flag: raised by the scheduler, checked by the job between stages.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

/// What a job returns when it saw its cancel flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Cancelled)` once the flag is raised: `cancel.check()?` between stages.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

type Body = Box<dyn FnOnce(&Cancel) + Send + 'static>;

struct Queued<K> {
    key: K,
    cancel: Cancel,
    body: Body,
}

struct State<K> {
    /// The current generation of each key (0: never requested).
    gens: HashMap<K, u64>,
    /// Jobs waiting for a worker, oldest first; at most one per key.
    queue: VecDeque<Queued<K>>,
    /// Keys with a job on a worker, and that job's cancel flag.
    running: HashMap<K, Cancel>,
    /// Worker threads started and not ended.
    threads: usize,
    /// Workers waiting for a job.
    idle: usize,
    /// The most jobs that ever ran at once.
    peak: usize,
    closed: bool,
}

impl<K: Clone + Eq + Hash> State<K> {
    /// A new generation of `key`: its queued job is dropped and its running one cancelled.
    fn bump(&mut self, key: &K) -> u64 {
        let g = self.gens.entry(key.clone()).or_insert(0);
        *g += 1;
        let id = *g;
        self.queue.retain(|q| q.key != *key);
        if let Some(c) = self.running.get(key) {
            c.cancel();
        }
        id
    }
}

struct Shared<K> {
    state: Mutex<State<K>>,
    wake: Condvar,
}

impl<K> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A job runs outside the lock, so a poisoned lock only means a panic in this file's few
        // lines of bookkeeping: the state is still consistent enough to go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The pool. `K` names a kind of job (see the module's documentation).
pub struct Scheduler<K> {
    shared: Arc<Shared<K>>,
    workers: usize,
}

impl<K: Clone + Eq + Hash + Send + std::fmt::Debug + 'static> Scheduler<K> {
    /// A pool of at most `workers` threads (at least one).
    pub fn new(workers: usize) -> Scheduler<K> {
        Scheduler {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    gens: HashMap::new(),
                    queue: VecDeque::new(),
                    running: HashMap::new(),
                    threads: 0,
                    idle: 0,
                    peak: 0,
                    closed: false,
                }),
                wake: Condvar::new(),
            }),
            workers: workers.max(1),
        }
    }

    /// A new generation of `key` without a job: what [`Self::submit`] does first. The app uses it
    /// alone when it runs no jobs (tests, the bench), so ids stay the same either way.
    pub fn issue(&self, key: K) -> u64 {
        self.shared.lock().bump(&key)
    }

    /// Queues `body` as the newest job of `key` and returns its id (also passed to `body`). A job
    /// of `key` still queued is dropped; one running is cancelled.
    pub fn submit(&self, key: K, body: impl FnOnce(u64, &Cancel) + Send + 'static) -> u64 {
        let mut st = self.shared.lock();
        let id = st.bump(&key);
        st.queue.push_back(Queued {
            key,
            cancel: Cancel::new(),
            body: Box::new(move |c| body(id, c)),
        });
        let want_thread = st.idle == 0 && st.threads < self.workers && !st.closed;
        if want_thread {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("vqtex-job-{}", st.threads + 1))
                .spawn(move || work(shared));
            match spawned {
                Ok(_) => st.threads += 1,
                // The job waits for a worker already there (or for one a later request starts).
                Err(e) => tracing::error!("cannot start a worker thread: {e}"),
            }
        }
        drop(st);
        self.shared.wake.notify_all();
        id
    }

    /// Whether `id` is the newest generation of `key`.
    pub fn is_current(&self, key: &K, id: u64) -> bool {
        self.current(key) == id
    }

    /// The newest generation of `key` (0 if it was never requested).
    pub fn current(&self, key: &K) -> u64 {
        self.shared.lock().gens.get(key).copied().unwrap_or(0)
    }

    /// Drops the queued job of `key`, cancels the running one, and makes every id issued so far
    /// for `key` stale.
    pub fn cancel(&self, key: &K) {
        let mut st = self.shared.lock();
        if st.gens.contains_key(key) {
            st.bump(key);
        }
    }

    /// [`Self::cancel`] for every key.
    pub fn cancel_all(&self) {
        let mut st = self.shared.lock();
        let keys: Vec<K> = st.gens.keys().cloned().collect();
        for k in keys {
            st.bump(&k);
        }
    }

    /// Whether a job of `key` waits or runs.
    pub fn in_flight(&self, key: &K) -> bool {
        let st = self.shared.lock();
        st.running.contains_key(key) || st.queue.iter().any(|q| q.key == *key)
    }

    /// Worker threads started (never more than `workers`).
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// The most jobs that ran at the same time so far.
    pub fn peak(&self) -> usize {
        self.shared.lock().peak
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Jobs on a worker now.
    pub fn running(&self) -> usize {
        self.shared.lock().running.len()
    }
}

impl<K> Drop for Scheduler<K> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.closed = true;
        st.queue.clear();
        for c in st.running.values() {
            c.cancel();
        }
        drop(st);
        self.shared.wake.notify_all();
    }
}

/// A worker: takes the oldest queued job whose key has none running, runs it outside the lock.
fn work<K: Clone + Eq + Hash + std::fmt::Debug>(shared: Arc<Shared<K>>) {
    let mut st = shared.lock();
    loop {
        if st.closed {
            st.threads -= 1;
            return;
        }
        let next = st
            .queue
            .iter()
            .position(|q| !st.running.contains_key(&q.key))
            .and_then(|i| st.queue.remove(i));
        let Some(job) = next else {
            st.idle += 1;
            st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            st.idle -= 1;
            continue;
        };
        st.running.insert(job.key.clone(), job.cancel.clone());
        st.peak = st.peak.max(st.running.len());
        drop(st);
        if !job.cancel.is_cancelled() {
            let key = job.key.clone();
            let cancel = job.cancel.clone();
            let body = job.body;
            // A panicking job is reported by the workbench's panic hook; the worker lives on.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || body(&cancel)))
                .is_err()
            {
                tracing::error!(?key, "a background job panicked");
            }
        }
        st = shared.lock();
        st.running.remove(&job.key);
        shared.wake.notify_all();
    }
}

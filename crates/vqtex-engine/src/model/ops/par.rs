//! Threading and scratch memory for the kernels.
//!
//! Work runs on candle's own CPU thread pool (`candle_core::utils::barrier_pool`, the one its
//! element-wise ops use), so the ops spawn no threads and do not compete with a second pool.

use std::cell::Cell;
use std::ops::{Deref, DerefMut, Range};
use std::sync::{Mutex, MutexGuard};

/// Below this many flops in all, waking the thread pool costs more than it saves.
const MIN_FLOPS_PARALLEL: usize = 1 << 21;

/// Threads available: candle's CPU pool workers plus the calling thread.
pub(super) fn threads() -> usize {
    candle_core::utils::barrier_pool().n_workers() + 1
}

/// Runs `f(unit, first, count)` for the work units (groups of at most `gsz` consecutive images
/// covering `0..batch`), on candle's CPU thread pool when the work (`flops`) is worth it.
pub(super) fn for_units<F>(batch: usize, gsz: usize, flops: usize, f: F)
where
    F: Fn(usize, usize, usize) + Sync,
{
    let units = batch.div_ceil(gsz);
    let run = |r: Range<usize>| {
        for u in r {
            f(u, u * gsz, gsz.min(batch - u * gsz));
        }
    };
    if units > 1 && flops >= MIN_FLOPS_PARALLEL && threads() > 1 && !INSIDE.with(Cell::get) {
        // Runs inline when called from inside the pool, so nesting cannot deadlock.
        candle_core::utils::barrier_pool().execute_chunked(units, run);
    } else {
        run(0..units);
    }
}

thread_local! {
    /// Set while a thread runs a task of [`for_parts`]: the kernels it calls then run inline.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f(0) .. f(n - 1)` as tasks on candle's CPU thread pool (a thread that is free takes the
/// next one, so a thread that is slow to wake costs little). Kernels called from a task run
/// inline: the threads synchronise once for all of them.
pub(crate) fn for_parts<F>(n: usize, f: F)
where
    F: Fn(usize) + Sync,
{
    let run = |r: Range<usize>| {
        let was = INSIDE.with(|c| c.replace(true));
        for i in r {
            f(i);
        }
        INSIDE.with(|c| c.set(was));
    };
    if n > 1 && threads() > 1 && !INSIDE.with(Cell::get) {
        candle_core::utils::barrier_pool().execute_chunked(n, run);
    } else {
        run(0..n);
    }
}

/// `[f(0), .., f(n - 1)]`, computed as tasks of [`for_parts`].
pub(crate) fn map_parts<T, F>(n: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    for_parts(n, |i| {
        let v = f(i);
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("for_parts runs every task before it returns")
        })
        .collect()
}

/// Runs `f` compiled for AVX-512 (else AVX2 and FMA) where the CPU has it, else as it is. What is
/// inlined into `f` (a kernel's element-wise loops: layer norm, GELU, softmax, residuals; mark
/// closures `#[inline(always)]`) then works on 16 or 8 floats at a time instead of SSE2's 4. No
/// `mul_add` is written in the kernels and Rust never fuses a multiply and an add by itself, so
/// the operations and their order, and the results, are the same bit for bit on every path.
#[inline(always)]
pub(crate) fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx2") && has!("fma") {
            // SAFETY: the CPU has every feature `avx512` is compiled for (just detected).
            return unsafe { avx512(f) };
        }
        if has!("avx2") && has!("fma") {
            // SAFETY: as above, for `avx2_fma`.
            return unsafe { avx2_fma(f) };
        }
    }
    f()
}

/// `f()`, compiled (with what is inlined into it) for AVX-512F, AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `f()`, compiled (with what is inlined into it) for AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `out` (`per_item` floats per item) cut into one chunk per work unit, each behind a lock so
/// that the pool's threads can take them (every lock is taken once, uncontended).
pub(super) fn unit_chunks(out: &mut [f32], gsz: usize, per_item: usize) -> Vec<Mutex<&mut [f32]>> {
    out.chunks_mut((gsz * per_item).max(1))
        .map(Mutex::new)
        .collect()
}

/// Locks one unit's chunk (see [`unit_chunks`]); a poisoned lock means a panic elsewhere.
pub(super) fn lock<'a, 'b>(
    chunks: &'a [Mutex<&'b mut [f32]>],
    u: usize,
) -> MutexGuard<'a, &'b mut [f32]> {
    chunks[u].lock().unwrap_or_else(|e| e.into_inner())
}

/// Scratch buffers kept between calls: a fresh large allocation costs a page fault per 4 KiB.
static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
/// At most this many buffers are kept (a few per thread and op, and the activations and gradients
/// of one hand-written training step: see [`output`] and [`recycle`]).
const POOL_MAX: usize = 32;

/// A buffer of `len` floats for a kernel's output, which the kernel overwrites entirely: a kept
/// buffer of about that size when there is one (no allocation, no zeroing, no page faults), else
/// a new one. Its content is unspecified.
pub(crate) fn output(len: usize) -> Vec<f32> {
    let reused = POOL.lock().ok().and_then(|mut pool| {
        // Only a close fit: the buffer may end up inside a tensor that lives long.
        let i = (0..pool.len())
            .filter(|&i| (len..=2 * len).contains(&pool[i].capacity()))
            .min_by_key(|&i| pool[i].capacity())?;
        Some(pool.swap_remove(i))
    });
    let mut v = reused.unwrap_or_default();
    v.resize(len, 0.0); // shortens without writing, or fills what was never written
    v
}

/// Keeps `v` for a later [`output`] or [`Scratch`]. A full pool drops its smallest buffer for a
/// larger one.
pub(crate) fn recycle(v: Vec<f32>) {
    if v.capacity() == 0 {
        return;
    }
    if let Ok(mut pool) = POOL.lock() {
        if pool.len() < POOL_MAX {
            pool.push(v);
        } else if let Some(i) = (0..pool.len()).min_by_key(|&i| pool[i].capacity()) {
            if pool[i].capacity() < v.capacity() {
                pool[i] = v;
            }
        }
    }
}

/// A scratch buffer from [`POOL`], given back when dropped. Its content is unspecified.
pub(super) struct Scratch(Vec<f32>, usize);

impl Scratch {
    pub(super) fn new(len: usize) -> Scratch {
        let reused = POOL.lock().ok().and_then(|mut pool| {
            // The smallest buffer that is large enough (growing a smaller one would copy it).
            let i = (0..pool.len())
                .filter(|&i| pool[i].capacity() >= len)
                .min_by_key(|&i| pool[i].capacity())?;
            Some(pool.swap_remove(i))
        });
        let mut v = reused.unwrap_or_default();
        // Never shortened: a later, longer use of this buffer need not fill it again.
        if v.len() < len {
            v.resize(len, 0.0);
        }
        Scratch(v, len)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.0));
    }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0[..self.1]
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0[..self.1]
    }
}

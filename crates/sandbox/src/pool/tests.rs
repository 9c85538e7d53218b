//! The pool's contract, checked with test kernels written in Rust: chunks,
//! nesting, concurrent callers, real parallelism and FP control changes on
//! pool threads.

use super::*;
use std::collections::HashSet;
use std::sync::atomic::AtomicU32;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// What a test kernel's chunks record.
struct Coverage {
    hits: Vec<AtomicU32>,
    grain: u64,
    /// Chunks shorter than `grain` that do not end the range.
    short_chunks: AtomicU32,
    /// Set for nested calls: each outer index runs an inner call over this many.
    inner: Option<(&'static Pool, u64)>,
}

impl Coverage {
    fn new(cells: u64, grain: u64, inner: Option<(&'static Pool, u64)>) -> Self {
        Coverage {
            hits: (0..cells).map(|_| AtomicU32::new(0)).collect(),
            grain,
            short_chunks: AtomicU32::new(0),
            inner,
        }
    }

    fn each_hit_once(&self) -> bool {
        self.hits.iter().all(|hit| hit.load(Ordering::Relaxed) == 1)
    }
}

unsafe extern "C" fn cover(ctx: *mut c_void, begin: u64, end: u64) {
    let coverage = &*(ctx as *const Coverage);
    let count = match coverage.inner {
        Some((_, inner)) => coverage.hits.len() as u64 / inner,
        None => coverage.hits.len() as u64,
    };
    if end - begin < coverage.grain && end != count {
        coverage.short_chunks.fetch_add(1, Ordering::Relaxed);
    }
    for index in begin..end {
        match coverage.inner {
            Some((pool, inner)) => {
                let row = InnerRow {
                    coverage,
                    offset: index * inner,
                };
                pool.parallel_for(inner, 1, cover_row, &row as *const InnerRow as *mut c_void);
            }
            None => {
                coverage.hits[index as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct InnerRow<'a> {
    coverage: &'a Coverage,
    offset: u64,
}

unsafe extern "C" fn cover_row(ctx: *mut c_void, begin: u64, end: u64) {
    let row = &*(ctx as *const InnerRow);
    for index in begin..end {
        row.coverage.hits[(row.offset + index) as usize].fetch_add(1, Ordering::Relaxed);
    }
}

fn leaked_pool(threads: u32) -> &'static Pool {
    Box::leak(Box::new(Pool::start(threads).unwrap()))
}

#[test]
fn every_index_is_covered_exactly_once_in_chunks_of_at_least_grain() {
    for threads in [1, 2, 3, 8] {
        let pool = Pool::start(threads).unwrap();
        for count in [0, 1, 2, 3, 7, 64, 1000, 4099] {
            for grain in [0, 1, 5, 64, 5000] {
                let coverage = Coverage::new(count, grain, None);
                let ctx = &coverage as *const Coverage as *mut c_void;
                // SAFETY: `cover` only touches atomics.
                unsafe { pool.parallel_for(count, grain, cover, ctx) };
                let case = format!("threads {threads}, count {count}, grain {grain}");
                assert!(coverage.each_hit_once(), "{case}: not covered exactly once");
                assert_eq!(coverage.short_chunks.load(Ordering::Relaxed), 0, "{case}");
            }
        }
    }
}

#[test]
fn a_nested_call_runs_inline_and_still_covers_everything() {
    for threads in [1, 2, 4] {
        let pool = leaked_pool(threads);
        for (outer, inner) in [(1, 1), (3, 7), (16, 64), (100, 3)] {
            let coverage = Coverage::new(outer * inner, 1, Some((pool, inner)));
            let ctx = &coverage as *const Coverage as *mut c_void;
            // SAFETY: `cover` only touches atomics and calls the live pool.
            unsafe { pool.parallel_for(outer, 1, cover, ctx) };
            assert!(
                coverage.each_hit_once(),
                "threads {threads}, {outer} x {inner}: not covered exactly once"
            );
        }
    }
}

#[test]
fn concurrent_calls_from_two_threads_both_complete() {
    let pool = Pool::start(3).unwrap();
    let coverages = [
        Coverage::new(10_000, 1, None),
        Coverage::new(10_000, 1, None),
    ];
    std::thread::scope(|scope| {
        for coverage in &coverages {
            let pool = &pool;
            scope.spawn(move || {
                for _ in 0..50 {
                    coverage
                        .hits
                        .iter()
                        .for_each(|h| h.store(0, Ordering::Relaxed));
                    let ctx = coverage as *const Coverage as *mut c_void;
                    // SAFETY: `cover` only touches atomics.
                    unsafe { pool.parallel_for(10_000, 1, cover, ctx) };
                    assert!(coverage.each_hit_once());
                }
            });
        }
    });
}

/// Chunks that wait, up to a deadline, until `threads` of them run at
/// once: only a pool whose every thread works can get them all there.
struct Rendezvous {
    threads: u32,
    arrived: AtomicU32,
    seen: Mutex<HashSet<ThreadId>>,
    deadline: Instant,
}

unsafe extern "C" fn meet(ctx: *mut c_void, _begin: u64, _end: u64) {
    let rendezvous = &*(ctx as *const Rendezvous);
    rendezvous
        .seen
        .lock()
        .unwrap()
        .insert(std::thread::current().id());
    rendezvous.arrived.fetch_add(1, Ordering::AcqRel);
    while rendezvous.arrived.load(Ordering::Acquire) < rendezvous.threads
        && Instant::now() < rendezvous.deadline
    {
        std::hint::spin_loop();
    }
}

#[test]
fn every_thread_of_the_pool_runs_chunks_at_the_same_time() {
    for threads in [2, 4] {
        let pool = Pool::start(threads).unwrap();
        let rendezvous = Rendezvous {
            threads,
            arrived: AtomicU32::new(0),
            seen: Mutex::new(HashSet::new()),
            deadline: Instant::now() + Duration::from_secs(10),
        };
        let ctx = &rendezvous as *const Rendezvous as *mut c_void;
        // SAFETY: `meet` only touches atomics and a mutex.
        unsafe { pool.parallel_for(u64::from(threads), 1, meet, ctx) };
        assert_eq!(rendezvous.seen.lock().unwrap().len(), threads as usize);
        assert_eq!(rendezvous.arrived.load(Ordering::Relaxed), threads);
    }
}

#[test]
fn the_host_reports_the_thread_count_and_reaches_the_pool() {
    let pool = Pool::start(3).unwrap();
    let host = pool.host();
    assert_eq!(host.threads, 3);
    let coverage = Coverage::new(500, 2, None);
    let ctx = &coverage as *const Coverage as *mut c_void;
    // SAFETY: `host.pool` is the live pool; `cover` only touches atomics.
    unsafe { (host.parallel_for)(host.pool, 500, 2, cover, ctx) };
    assert!(coverage.each_hit_once());
}

/// Meets every thread of the pool (as `meet` does), then sets FTZ and
/// DAZ on its own thread and records the MXCSR it found there.
struct Flush {
    rendezvous: Rendezvous,
    found: Mutex<Vec<u32>>,
    set: bool,
}

unsafe extern "C" fn meet_and_flush(ctx: *mut c_void, begin: u64, end: u64) {
    let flush = &*(ctx as *const Flush);
    meet(
        &flush.rendezvous as *const Rendezvous as *mut c_void,
        begin,
        end,
    );
    let now = FpControl::read();
    flush.found.lock().unwrap().push(now.mxcsr);
    if flush.set {
        FpControl {
            mxcsr: now.mxcsr | 0x8040,
            x87: now.x87,
        }
        .restore();
    }
}

fn flush(pool: &Pool, set: bool) -> Vec<u32> {
    let threads = pool.threads();
    let flush = Flush {
        rendezvous: Rendezvous {
            threads,
            arrived: AtomicU32::new(0),
            seen: Mutex::new(HashSet::new()),
            deadline: Instant::now() + Duration::from_secs(10),
        },
        found: Mutex::new(Vec::new()),
        set,
    };
    let ctx = &flush as *const Flush as *mut c_void;
    // SAFETY: `meet_and_flush` only touches atomics, mutexes and this thread's FP state.
    unsafe { pool.parallel_for(u64::from(threads), 1, meet_and_flush, ctx) };
    flush.found.into_inner().unwrap()
}

#[test]
fn an_fp_change_on_a_pool_thread_is_reported_and_undone() {
    let pool = Pool::start(3).unwrap();
    let caller = FpControl::read();
    assert_eq!(pool.take_fp_change(), None);
    flush(&pool, true);
    caller.restore();
    let change = pool
        .take_fp_change()
        .expect("a pool thread's change is seen");
    assert_eq!(change.after.mxcsr & 0x8040, 0x8040);
    assert_eq!(change.before, caller);
    assert_eq!(pool.take_fp_change(), None);
    // Every thread, the pool's included, starts the next call as it began.
    assert!(flush(&pool, false)
        .iter()
        .all(|&mxcsr| mxcsr == caller.mxcsr));
}

#[test]
fn no_threads_is_refused() {
    assert!(Pool::start(0).is_err());
}

//! The thread pool the runner lends candidates through `ouro_host`, with the
//! contract of the live core's pool (cpp/core/thread_pool.cpp): split
//! [0, count) into chunks of at least `grain` indices, about four per
//! thread, and run them on `threads` workers, the calling thread included.
//! A kernel that splits its work therefore runs here as it runs live, races
//! included, so the benchmark ranks it and the differential checks catch it.
//!
//! The workers are started while the runner confines itself, before the
//! process limit and the seccomp filters (see `main.rs`); between calls all
//! they do is wait in `futex`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::abi::{Host, RangeFn};
use crate::fpenv::FpControl;

/// More chunks than threads, so that a slow thread does not hold the rest up.
const CHUNKS_PER_THREAD: u64 = 4;
/// Every stack counts against the address-space limit, so workers get the
/// Rust default rather than glibc's (RLIMIT_STACK, usually 8 MiB): 256
/// workers then reserve 512 MiB.
const WORKER_STACK_BYTES: usize = 2 << 20;

/// One `parallel_for` call: it lives on the caller's stack, and the caller
/// returns only once no worker is inside it.
struct Job {
    function: RangeFn,
    ctx: *mut c_void,
    count: u64,
    chunk: u64,
    next_begin: AtomicU64,
}

impl Job {
    /// Claims chunks until none is left.
    ///
    /// # Safety
    /// `function` must be sound to call with `ctx` on this thread.
    unsafe fn run_chunks(&self) {
        loop {
            let begin = self.next_begin.fetch_add(self.chunk, Ordering::Relaxed);
            if begin >= self.count {
                return;
            }
            (self.function)(self.ctx, begin, (begin + self.chunk).min(self.count));
        }
    }
}

struct Control {
    /// Set while a call is spread over the workers. A worker joins it only
    /// under the lock, and the caller clears it only when `busy` is 0, so a
    /// job is never touched after its call returns.
    job: *const Job,
    generation: u64,
    busy: u32,
    started: u32,
    stopping: bool,
}

// SAFETY: `job` is only dereferenced under the protocol documented on it.
unsafe impl Send for Control {}

struct Shared {
    control: Mutex<Control>,
    wake: Condvar,
    idle: Condvar,
    /// The first FP control state a chunk left changed on a pool thread:
    /// MXCSR and the x87 control word are per thread, so the caller's own
    /// check cannot see it.
    fp_change: Mutex<Option<FpChange>>,
}

/// A pool thread's FP control state before and after a chunk that changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FpChange {
    pub before: FpControl,
    pub after: FpControl,
}

impl Shared {
    /// Nothing panics while holding the lock, and the counters stay
    /// consistent if something did, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn work(&self) {
        // A thread's first allocation makes glibc attach a malloc arena, with
        // calls (a 64 MiB mmap, sched_getaffinity) the run filter refuses:
        // make it now, before `started` lets the filters go on.
        drop(std::hint::black_box(Box::new(0u64)));
        let baseline = FpControl::read();
        let mut seen_generation = 0;
        let mut control = self.lock();
        control.started += 1;
        self.idle.notify_all();
        loop {
            control = self
                .wake
                .wait_while(control, |c| {
                    !c.stopping && (c.job.is_null() || c.generation == seen_generation)
                })
                .unwrap_or_else(PoisonError::into_inner);
            if control.stopping {
                return;
            }
            seen_generation = control.generation;
            let job = control.job;
            control.busy += 1;
            drop(control);
            // SAFETY: the caller keeps the job alive until `busy` is back to 0.
            unsafe { (*job).run_chunks() };
            self.keep_fp_control(&baseline);
            control = self.lock();
            control.busy -= 1;
            if control.busy == 0 {
                self.idle.notify_all();
            }
        }
    }
}

impl Shared {
    /// Puts this thread's FP control state back to `baseline` after a job,
    /// recording the first change a chunk made.
    fn keep_fp_control(&self, baseline: &FpControl) {
        let now = FpControl::read();
        if now == *baseline {
            return;
        }
        baseline.restore();
        if now.changes_from(baseline).is_some() {
            let mut first = self
                .fp_change
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            first.get_or_insert(FpChange {
                before: *baseline,
                after: now,
            });
        }
    }
}

/// `threads` workers: the thread that calls `parallel_for` and
/// `threads - 1` pool threads.
pub struct Pool {
    threads: u32,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// A call is spread over the workers: another one, nested in a chunk or
    /// from a second thread, runs inline instead of waiting for workers that
    /// are busy with the first.
    in_flight: AtomicBool,
}

impl Pool {
    /// Starts `threads - 1` pool threads and returns once every one of them
    /// has finished starting up, so that their start-up system calls (stack
    /// mappings, rseq, robust futex list) are all made before any seccomp
    /// filter goes on.
    pub fn start(threads: u32) -> Result<Pool, String> {
        if threads == 0 {
            return Err("a pool of 0 threads: it needs at least 1, the caller".to_owned());
        }
        let mut pool = Pool {
            threads,
            shared: Arc::new(Shared {
                control: Mutex::new(Control {
                    job: std::ptr::null(),
                    generation: 0,
                    busy: 0,
                    started: 0,
                    stopping: false,
                }),
                wake: Condvar::new(),
                idle: Condvar::new(),
                fp_change: Mutex::new(None),
            }),
            workers: Vec::new(),
            in_flight: AtomicBool::new(false),
        };
        for worker in 1..threads {
            let shared = Arc::clone(&pool.shared);
            let spawned = std::thread::Builder::new()
                .stack_size(WORKER_STACK_BYTES)
                .spawn(move || shared.work())
                .map_err(|error| {
                    format!(
                        "pool thread {worker} of {threads} did not start ({error}): \
                         each reserves a {} MiB stack within the address-space limit",
                        WORKER_STACK_BYTES >> 20
                    )
                })?;
            pool.workers.push(spawned);
        }
        let pool_threads = threads - 1;
        drop(
            pool.shared
                .idle
                .wait_while(pool.shared.lock(), |c| c.started < pool_threads)
                .unwrap_or_else(PoisonError::into_inner),
        );
        Ok(pool)
    }

    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// The first FP control change a chunk made on a pool thread since the
    /// last call (already undone there), and clears it.
    pub fn take_fp_change(&self) -> Option<FpChange> {
        self.shared
            .fp_change
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The pool as the kernel ABI sees it: valid while the pool is borrowed.
    pub fn host(&self) -> Host {
        Host {
            threads: self.threads,
            pool: self as *const Pool as *mut c_void,
            parallel_for: parallel_for_thunk,
        }
    }

    /// Runs `function` over [0, count) in chunks of at least `grain` indices
    /// (the last may be shorter) and returns when every chunk is done.
    ///
    /// # Safety
    /// `function` must be sound to call with `ctx` on any thread of the pool,
    /// on disjoint ranges at once.
    pub unsafe fn parallel_for(&self, count: u64, grain: u64, function: RangeFn, ctx: *mut c_void) {
        if count == 0 {
            return;
        }
        let spread = count.div_ceil(u64::from(self.threads) * CHUNKS_PER_THREAD);
        let chunk = grain.max(spread).max(1);
        if self.workers.is_empty() || chunk >= count {
            function(ctx, 0, count);
            return;
        }
        let job = Job {
            function,
            ctx,
            count,
            chunk,
            next_begin: AtomicU64::new(0),
        };
        if self
            .in_flight
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            job.run_chunks();
            return;
        }
        self.spread(&job);
        self.in_flight.store(false, Ordering::Release);
    }

    /// Hands `job` to the workers, works on it too, and waits for the rest.
    ///
    /// # Safety
    /// As for `parallel_for`, and `job` must not already be spread.
    unsafe fn spread(&self, job: &Job) {
        {
            let mut control = self.shared.lock();
            control.job = job;
            control.generation += 1;
        }
        self.shared.wake.notify_all();
        job.run_chunks();
        // Every chunk is claimed now; the ones still running belong to busy workers.
        let mut control = self
            .shared
            .idle
            .wait_while(self.shared.lock(), |c| c.busy > 0)
            .unwrap_or_else(PoisonError::into_inner);
        control.job = std::ptr::null();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        for worker in self.workers.drain(..) {
            // A worker cannot panic: kernel code cannot unwind into it.
            let _ = worker.join();
        }
    }
}

/// `ouro_host.parallel_for`.
///
/// # Safety
/// `pool` must come from `Pool::host` of a live pool; `function` and `ctx`
/// come from the kernel, which the ABI makes responsible for them.
unsafe extern "C" fn parallel_for_thunk(
    pool: *mut c_void,
    count: u64,
    grain: u64,
    function: RangeFn,
    ctx: *mut c_void,
) {
    (*(pool as *const Pool)).parallel_for(count, grain, function, ctx);
}

#[cfg(test)]
mod tests {
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
}

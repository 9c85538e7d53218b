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
mod tests;

#ifndef OUROBOROS_CORE_THREAD_POOL_H
#define OUROBOROS_CORE_THREAD_POOL_H

#include <ouroboros/kernel_abi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace ouro {

/**
 * The workers a lattice lends to its kernels through `ouro_host`.
 *
 * `threads` counts the thread that calls parallel_for: the pool starts
 * `threads - 1` workers and the caller works alongside them.
 */
class ThreadPool {
 public:
  /// Throws std::invalid_argument when `threads` is 0.
  explicit ThreadPool(std::uint32_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::uint32_t threads() const { return threads_; }

  /**
   * Runs `fn` over [0, count) in chunks of at least `grain` indices (the last
   * one may be shorter) and returns when every chunk is done. Callers on
   * different threads are served one after another. A call made from inside
   * a chunk (a kernel nesting parallel_for) runs inline on its thread: the
   * workers are busy with the outer call, and waiting for them would hang
   * the runner.
   */
  void parallel_for(std::uint64_t count, std::uint64_t grain, ouro_range_fn fn, void* ctx);

  /// The pool as the kernel ABI sees it; valid while the pool lives.
  ouro_host host();

  /**
   * Whether a worker had to restore its floating-point environment after
   * running chunks of a parallel_for this thread called, since the last
   * call of this function on this thread (which clears it). Each worker
   * restores its own environment after every job, since a kernel's chunk can
   * change it (fp_environment.h); the caller is the core, which restores its
   * own thread and charges both to the slot it called.
   */
  static bool take_worker_fp_restores();
  /// Workers restore their FP environment after each job unless this is off (only for measuring what that costs).
  void set_fp_restore(bool enabled) { restore_fp_.store(enabled, std::memory_order_relaxed); }

 private:
  struct Job {
    ouro_range_fn fn;
    void* ctx;
    std::uint64_t count;
    std::uint64_t chunk;
    std::atomic<std::uint64_t> next_begin{0};
    std::atomic<bool> fp_restored{false};
  };

  static void run_chunks(Job& job);
  static void parallel_for_thunk(void* pool, std::uint64_t count, std::uint64_t grain, ouro_range_fn fn, void* ctx);
  void work();
  void stop_workers();

  std::uint32_t threads_;
  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  // Guarded by mutex_. A worker joins a job only under the lock while job_ is
  // set, and the caller clears job_ only when no worker is inside it, so a job
  // (which lives on the caller's stack) is never touched after it returns.
  Job* job_ = nullptr;
  std::uint64_t generation_ = 0;
  std::uint32_t busy_workers_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::atomic<bool> restore_fp_{true};
};

}  // namespace ouro

#endif

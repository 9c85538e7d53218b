#include "core/thread_pool.h"

#include "core/fp_environment.h"

#include <algorithm>
#include <stdexcept>

namespace ouro {
namespace {

// More chunks than threads, so that a slow thread does not hold the rest up.
constexpr std::uint64_t kChunksPerThread = 4;

// Set while this thread runs chunks of some pool's call, as the caller or a worker.
thread_local bool t_in_chunks = false;

// Set on a caller's thread when a worker restored its FP environment after that caller's job.
thread_local bool t_worker_fp_restored = false;

// Marks the thread as inside a call for its scope.
class InChunks {
 public:
  InChunks() : outer_(t_in_chunks) { t_in_chunks = true; }
  ~InChunks() { t_in_chunks = outer_; }
  InChunks(const InChunks&) = delete;
  InChunks& operator=(const InChunks&) = delete;

 private:
  bool outer_;
};

}  // namespace

ThreadPool::ThreadPool(std::uint32_t threads) : threads_(threads) {
  if (threads == 0) throw std::invalid_argument("ThreadPool needs at least 1 thread");
  workers_.reserve(threads - 1);
  try {
    for (std::uint32_t i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  } catch (...) {
    // No destructor runs for a half-built pool, and a joinable std::thread
    // must not be destroyed: stop the workers that did start.
    stop_workers();
    throw;
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::parallel_for(std::uint64_t count, std::uint64_t grain, ouro_range_fn fn, void* ctx) {
  if (count == 0) return;
  const std::uint64_t spread = (count + threads_ * kChunksPerThread - 1) / (threads_ * kChunksPerThread);
  const std::uint64_t chunk = std::max({grain, spread, std::uint64_t{1}});
  if (workers_.empty() || chunk >= count || t_in_chunks) {
    InChunks inside;
    fn(ctx, 0, count);
    return;
  }

  std::lock_guard<std::mutex> call(call_mutex_);
  Job job{fn, ctx, count, chunk};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    ++generation_;
  }
  wake_.notify_all();
  run_chunks(job);
  // Every chunk is claimed now; the ones still running belong to busy workers.
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [this] { return busy_workers_ == 0; });
  job_ = nullptr;
  if (job.fp_restored.load(std::memory_order_relaxed)) t_worker_fp_restored = true;
}

ouro_host ThreadPool::host() { return ouro_host{threads_, this, &ThreadPool::parallel_for_thunk}; }

bool ThreadPool::take_worker_fp_restores() {
  const bool restored = t_worker_fp_restored;
  t_worker_fp_restored = false;
  return restored;
}

void ThreadPool::run_chunks(Job& job) {
  InChunks inside;
  for (;;) {
    const std::uint64_t begin = job.next_begin.fetch_add(job.chunk);
    if (begin >= job.count) return;
    job.fn(job.ctx, begin, std::min(begin + job.chunk, job.count));
  }
}

void ThreadPool::parallel_for_thunk(void* pool, std::uint64_t count, std::uint64_t grain, ouro_range_fn fn, void* ctx) {
  static_cast<ThreadPool*>(pool)->parallel_for(count, grain, fn, ctx);
}

void ThreadPool::work() {
  std::uint64_t seen_generation = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || (job_ != nullptr && generation_ != seen_generation); });
    if (stopping_) return;
    seen_generation = generation_;
    Job& job = *job_;
    ++busy_workers_;
    lock.unlock();
    const bool restore = restore_fp_.load(std::memory_order_relaxed);
    const FpEnvironment environment = current_fp_environment();
    run_chunks(job);
    // Before busy_workers_ drops: the caller reads the flag only once every worker has left the job.
    if (restore && restore_fp_environment(environment)) job.fp_restored.store(true, std::memory_order_relaxed);
    lock.lock();
    if (--busy_workers_ == 0) idle_.notify_all();
  }
}

}  // namespace ouro

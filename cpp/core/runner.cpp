#include "core/runner.h"

#include <chrono>
#include <exception>
#include <utility>

namespace ouro {

std::uint64_t monotonic_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

Runner::~Runner() { stop(); }

void Runner::join_ended() {
  if (thread_.joinable()) thread_.join();
}

void Runner::start(RunBody body, RunEndCallback on_end) {
  join_ended();
  on_end_ = std::move(on_end);
  steps_run_ = 0;
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    accepting_tasks_ = true;
    pause_requested_ = false;
    stop_requested_ = false;
  }
  active_.store(true, std::memory_order_release);
  try {
    thread_ = std::thread([this, body = std::move(body)] { loop(body); });
  } catch (...) {
    active_.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> lock(control_mutex_);
    accepting_tasks_ = false;
    throw;
  }
}

bool Runner::paused() {
  std::lock_guard<std::mutex> lock(control_mutex_);
  return accepting_tasks_ && pause_requested_;
}

void Runner::pause() {
  std::lock_guard<std::mutex> lock(control_mutex_);
  if (!accepting_tasks_) return;
  pause_requested_ = true;
  control_pending_.store(true, std::memory_order_release);
}

void Runner::resume() {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    pause_requested_ = false;
  }
  control_wake_.notify_all();
}

void Runner::stop() {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    if (accepting_tasks_) {
      stop_requested_ = true;
      control_pending_.store(true, std::memory_order_release);
    }
  }
  control_wake_.notify_all();
  if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
}

bool Runner::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    if (!accepting_tasks_) return false;
    tasks_.push_back(std::move(task));
  }
  // Raised after the lock is released, so that the runner, which checks the
  // flag between steps, never has to sleep on the mutex this thread holds:
  // that wake-up would be part of the swap's pause. A task queued after the
  // runner last drained is always followed by this store, so none is missed.
  control_pending_.store(true, std::memory_order_release);
  control_wake_.notify_all();
  return true;
}

void Runner::loop(const RunBody& body) {
  RunSummary summary;
  summary.start_step = body.step_count();
  const std::uint64_t start_ns = monotonic_ns();
  last_step_end_ns_ = start_ns;
  try {
    body.begin();
    for (;;) {
      if (control_pending_.load(std::memory_order_acquire) && !serve_control()) break;
      if (!body.step()) break;
    }
  } catch (const std::exception& error) {
    summary.error = error.what();
  } catch (...) {
    summary.error = "unknown exception in the runner";
  }
  summary.end_step = body.step_count();
  summary.steps_run = steps_run_;
  summary.run_ns = monotonic_ns() - start_ns;
  finish(body, std::move(summary));
}

bool Runner::serve_control() {
  std::unique_lock<std::mutex> lock(control_mutex_);
  for (;;) {
    while (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
    if (stop_requested_) return false;
    if (!pause_requested_) break;
    control_wake_.wait(lock, [this] { return stop_requested_ || !pause_requested_ || !tasks_.empty(); });
    // A pause is the user's, not part of any swap's pause: measure from here.
    last_step_end_ns_ = monotonic_ns();
  }
  control_pending_.store(false, std::memory_order_release);
  return true;
}

void Runner::record_batch(const StepRecord& record) {
  steps_run_ += record.steps;
  if (trace_.size() < trace_capacity_) trace_.push_back(record);
  for (AwaitingSwap& waiting : awaiting_first_step_) {
    waiting.outcome.first_step_ran = true;
    waiting.outcome.gap_ns = record.start_ns - waiting.boundary_end_ns;
    waiting.done(waiting.outcome);
  }
  awaiting_first_step_.clear();
  last_step_end_ns_ = record.end_ns;
}

void Runner::await_first_step(const SwapOutcome& outcome, SwapCallback done) {
  awaiting_first_step_.push_back(AwaitingSwap{outcome, last_step_end_ns_, std::move(done)});
}

void Runner::trace_steps(std::size_t capacity) {
  at_boundary([&] {
    trace_.clear();
    trace_.reserve(capacity);
    trace_capacity_ = capacity;
  });
}

std::vector<StepRecord> Runner::take_trace() {
  return at_boundary([&] {
    std::vector<StepRecord> records = std::move(trace_);
    trace_.clear();
    trace_.reserve(trace_capacity_);
    return records;
  });
}

void Runner::finish(const RunBody& body, RunSummary summary) {
  {
    // Work queued before this point still runs, on this thread; work queued
    // after it runs on its caller's thread, which may touch the state then.
    std::lock_guard<std::mutex> lock(control_mutex_);
    accepting_tasks_ = false;
    while (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      task();
    }
    control_pending_.store(false, std::memory_order_release);
  }
  std::vector<AwaitingSwap> unreported = std::move(awaiting_first_step_);
  awaiting_first_step_.clear();
  RunEndCallback on_end = std::move(on_end_);
  body.end();
  active_.store(false, std::memory_order_release);
  for (AwaitingSwap& waiting : unreported) waiting.done(waiting.outcome);
  if (on_end) on_end(summary);
}

}  // namespace ouro

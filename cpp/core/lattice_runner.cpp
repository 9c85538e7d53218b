// LatticeCore's runner thread, its step-boundary protocol, swaps and watchdog
// snapshots. The rest of LatticeCore is in lattice_core.cpp.
#include "core/lattice_core.h"
#include "core/remote_kernel.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace ouro {
namespace {

/// Values in the light cone of `steps` steps around one cell: (2 steps + 1)^dims, saturating.
std::uint64_t cone_values(std::uint32_t dims, std::uint64_t steps) {
  const std::uint64_t side = 2 * steps + 1;
  std::uint64_t values = 1;
  for (std::uint32_t axis = 0; axis < dims; ++axis) {
    if (__builtin_mul_overflow(values, side, &values)) return std::numeric_limits<std::uint64_t>::max();
  }
  return values;
}

/// Keeps an evenly spaced subset of `cells` (at least one) whose cones hold at most `max_values` values; 0: all.
void thin_probe_cells(std::vector<std::uint64_t>& cells, std::uint64_t cone, std::uint64_t max_values) {
  if (max_values == 0 || cells.empty()) return;
  const std::uint64_t kept = std::max<std::uint64_t>(1, max_values / cone);
  if (kept >= cells.size()) return;
  std::vector<std::uint64_t> thinned(kept);
  for (std::uint64_t i = 0; i < kept; ++i) thinned[i] = cells[i * cells.size() / kept];
  cells = std::move(thinned);
}

}  // namespace

void LatticeCore::run(const RunOptions& options, RunEndCallback on_end, SnapshotCallback on_snapshot) {
  if (running()) throw std::logic_error("LatticeCore::run called while a run is active");
  // A run that ended by itself has reported its end; its thread may still be returning.
  if (runner_.joinable()) runner_.join();
  run_options_ = options;
  const std::uint64_t now = step_count();
  const std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();
  run_target_step_ =
      options.max_steps == 0 || options.max_steps > unlimited - now ? unlimited : now + options.max_steps;
  on_run_end_ = std::move(on_end);
  on_snapshot_ = std::move(on_snapshot);
  steps_run_ = 0;
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    accepting_tasks_ = true;
    pause_requested_ = false;
    stop_requested_ = false;
  }
  {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    pending_out_ = false;
    probe_under_way_ = false;
    probe_batches_left_ = 0;
  }
  runner_active_.store(true, std::memory_order_release);
  try {
    runner_ = std::thread([this] { runner_loop(); });
  } catch (...) {
    runner_active_.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> lock(control_mutex_);
    accepting_tasks_ = false;
    throw;
  }
}

bool LatticeCore::paused() {
  std::lock_guard<std::mutex> lock(control_mutex_);
  return accepting_tasks_ && pause_requested_;
}

void LatticeCore::pause() {
  std::lock_guard<std::mutex> lock(control_mutex_);
  if (!accepting_tasks_) return;
  pause_requested_ = true;
  control_pending_.store(true, std::memory_order_release);
}

void LatticeCore::resume() {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    pause_requested_ = false;
  }
  control_wake_.notify_all();
}

void LatticeCore::stop() {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    if (accepting_tasks_) {
      stop_requested_ = true;
      control_pending_.store(true, std::memory_order_release);
    }
  }
  control_wake_.notify_all();
  if (runner_.joinable() && std::this_thread::get_id() != runner_.get_id()) runner_.join();
}

bool LatticeCore::post(std::function<void()> task) {
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

void LatticeCore::runner_loop() {
  RunSummary summary;
  summary.start_step = step_count();
  const std::uint64_t start_ns = monotonic_ns();
  last_step_end_ns_ = start_ns;
  try {
    if (run_options_.snapshot_every > 0) capture_snapshot();
    for (;;) {
      if (control_pending_.load(std::memory_order_acquire) && !serve_control()) break;
      if (step_count() >= run_target_step_) break;
      runner_step();
    }
  } catch (const std::exception& error) {
    summary.error = error.what();
  } catch (...) {
    summary.error = "unknown exception in the runner";
  }
  summary.end_step = step_count();
  summary.steps_run = steps_run_;
  summary.run_ns = monotonic_ns() - start_ns;
  finish_run(std::move(summary));
}

bool LatticeCore::serve_control() {
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

std::uint64_t LatticeCore::batch_at(std::uint64_t index) const {
  const std::uint64_t every = run_options_.snapshot_every;
  std::uint64_t steps = batch_sizer_.next();
  if (probe_under_way_ && probe_batches_left_ > 1) {
    // A delayed probe's first batch is one step: it moves the probed batches' parity.
    if (probe_delayed_ && probe_batches_left_ == (probe_remainder_ ? 3u : 2u)) return 1;
    // A remainder probe's next batch has the size of the one that ends an interval (none when k divides it).
    if (probe_remainder_ && steps < every && every % steps != 0) steps = every % steps;
  }
  steps = std::min(steps, run_target_step_ - index);
  if (every > 0) steps = std::min(steps, every - index % every);
  return steps;
}

void LatticeCore::runner_step() {
  const KernelModule& module = slots_.live(Slot::Step);
  if (module.id() != sized_module_id_) {
    sized_module_id_ = module.id();
    batch_sizer_.restart();
  }
  const std::uint64_t index = step_count();
  const std::uint64_t steps = batch_at(index);
  const std::uint64_t start_ns = monotonic_ns();
  try {
    run_kernel(module, *state_, current_, steps, fp_restores_of(Slot::Step));
  } catch (const RemoteKernelFailure& failure) {
    abandon_host(failure.what());
    return;
  }
  const std::uint64_t end_ns = monotonic_ns();
  current_ = static_cast<std::uint32_t>((current_ + steps) % 2);
  step_count_.store(index + steps, std::memory_order_release);
  publish_boundary();
  steps_run_ += steps;
  profiles_[static_cast<std::size_t>(Slot::Step)].record(end_ns - start_ns, steps);
  batch_sizer_.record(end_ns - start_ns, steps);
  batch_steps_.store(batch_sizer_.next(), std::memory_order_relaxed);
  if (trace_.size() < trace_capacity_) trace_.push_back(StepRecord{index, steps, module.id(), start_ns, end_ns});
  if (!awaiting_first_step_.empty()) report_first_step(start_ns);
  last_step_end_ns_ = end_ns;
  if (probe_under_way_ && --probe_batches_left_ == 0) finish_probe();
  const std::uint64_t every = run_options_.snapshot_every;
  if (every > 0 && (index + steps) % every == 0) capture_snapshot();
}

void LatticeCore::report_first_step(std::uint64_t start_ns) {
  for (AwaitingSwap& waiting : awaiting_first_step_) {
    waiting.outcome.first_step_ran = true;
    waiting.outcome.gap_ns = start_ns - waiting.boundary_end_ns;
    waiting.done(waiting.outcome);
  }
  awaiting_first_step_.clear();
}

void LatticeCore::finish_run(RunSummary summary) {
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
  RunEndCallback on_end = std::move(on_run_end_);
  on_snapshot_ = nullptr;
  runner_active_.store(false, std::memory_order_release);
  for (AwaitingSwap& waiting : unreported) waiting.done(waiting.outcome);
  if (on_end) on_end(summary);
}

// ---------------------------------------------------------------- swaps

SwapOutcome LatticeCore::apply_swap(Slot slot, const std::shared_ptr<const KernelModule>& module) {
  SwapOutcome outcome;
  outcome.slot = slot;
  outcome.from_id = slots_.live(slot).id();
  outcome.from_name = slots_.live(slot).name();
  if (module) {
    slots_.swap(slot, module);
  } else {
    slots_.rollback(slot);
  }
  outcome.to_id = slots_.live(slot).id();
  outcome.to_name = slots_.live(slot).name();
  outcome.applied_at_step = step_count();
  return outcome;
}

void LatticeCore::request_swap(Slot slot, std::shared_ptr<const KernelModule> module, SwapCallback done) {
  // `done` must not throw across the runner: callers pass callbacks that only queue a JS call.
  const bool queued = post([this, slot, module, done] {
    awaiting_first_step_.push_back(AwaitingSwap{apply_swap(slot, module), last_step_end_ns_, done});
  });
  if (!queued) done(apply_swap(slot, module));
}

void LatticeCore::swap(Slot slot, std::shared_ptr<const KernelModule> module, SwapCallback done) {
  if (!module) throw std::invalid_argument("LatticeCore::swap needs a module");
  request_swap(slot, std::move(module), std::move(done));
}

void LatticeCore::rollback(Slot slot, SwapCallback done) { request_swap(slot, nullptr, std::move(done)); }

// ---------------------------------------------------------------- trace

void LatticeCore::trace_steps(std::size_t capacity) {
  at_boundary([&] {
    trace_.clear();
    trace_.reserve(capacity);
    trace_capacity_ = capacity;
  });
}

std::vector<StepRecord> LatticeCore::take_trace() {
  return at_boundary([&] {
    std::vector<StepRecord> records = std::move(trace_);
    trace_.clear();
    trace_.reserve(trace_capacity_);
    return records;
  });
}

// ---------------------------------------------------------------- watchdog snapshots

void LatticeCore::capture_snapshot() {
  {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    // The watchdog is still checking the last one: skip this boundary, the next K-th takes it.
    if (pending_out_) return;
    pending_.previous.resize(level_bytes());
    pending_.current.resize(level_bytes());
    std::memcpy(pending_.previous.data(), previous_level(), level_bytes());
    std::memcpy(pending_.current.data(), current_level(), level_bytes());
    pending_.step = step_count();
    pending_out_ = true;
    pending_.probe_cells = next_probe_cells_;
    pending_.probe_values.clear();
    pending_.probe_steps = 0;
    pending_.probe_max_cone_values = next_probe_max_cone_values_;
    probe_under_way_ = !pending_.probe_cells.empty();
    probe_delayed_ = next_probe_delayed_;
    // Only where k is below the interval and does not divide it is there a shorter batch to probe.
    const std::uint64_t k = batch_sizer_.next();
    probe_remainder_ = next_probe_remainder_ && k < run_options_.snapshot_every && run_options_.snapshot_every % k != 0;
    probe_batches_left_ = probe_under_way_ ? 1 + (probe_delayed_ ? 1 : 0) + (probe_remainder_ ? 1 : 0) : 0;
    // A probed snapshot is announced at the next boundary, once its probe is taken.
    if (probe_under_way_) return;
  }
  if (on_snapshot_) on_snapshot_(pending_.step);
}

void LatticeCore::finish_probe() {
  {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    pending_.probe_steps = step_count() - pending_.step;
    thin_probe_cells(pending_.probe_cells, cone_values(geometry_.dims, pending_.probe_steps),
                     pending_.probe_max_cone_values);
    const auto* newest = static_cast<const std::byte*>(current_level());
    const std::size_t value_bytes = level_bytes() / geometry_.cells;
    pending_.probe_values.resize(pending_.probe_cells.size() * value_bytes);
    std::byte* out = pending_.probe_values.data();
    for (const std::uint64_t cell : pending_.probe_cells) {
      std::memcpy(out, newest + cell * value_bytes, value_bytes);
      out += value_bytes;
    }
    probe_under_way_ = false;
  }
  if (on_snapshot_) on_snapshot_(pending_.step);
}

void LatticeCore::abandon_probe() {
  if (!probe_under_way_) return;
  probe_under_way_ = false;
  probe_batches_left_ = 0;
  pending_out_ = false;
}

void LatticeCore::set_probe(std::vector<std::uint64_t> cells, bool delayed, std::uint64_t max_cone_values,
                            bool remainder) {
  for (const std::uint64_t cell : cells) {
    if (cell >= geometry_.cells) {
      throw std::invalid_argument("probe cell " + std::to_string(cell) + " is outside the lattice's " +
                                  std::to_string(geometry_.cells) + " cells");
    }
  }
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  next_probe_cells_ = std::move(cells);
  next_probe_delayed_ = delayed;
  next_probe_remainder_ = remainder;
  next_probe_max_cone_values_ = max_cone_values;
}

std::optional<SnapshotView> LatticeCore::pending_snapshot() {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  // Out but not announced: its probe is still being taken.
  if (!pending_out_ || probe_under_way_) return std::nullopt;
  SnapshotView view{pending_.step, pending_.previous.data(), pending_.current.data()};
  if (!pending_.probe_cells.empty()) {
    view.probe_cells = &pending_.probe_cells;
    view.probe_values = pending_.probe_values.data();
    view.probe_steps = pending_.probe_steps;
  }
  return view;
}

void LatticeCore::settle_snapshot(std::uint64_t step, bool verified) {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  if (!pending_out_ || pending_.step != step) return;
  if (verified) {
    std::swap(pending_, verified_);
    verified_present_ = true;
  }
  pending_out_ = false;
}

std::optional<std::uint64_t> LatticeCore::verified_step() {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  if (!verified_present_) return std::nullopt;
  return verified_.step;
}

RecoveryOutcome LatticeCore::recover(Slot slot) {
  return at_boundary([&] { return recover_now(slot); });
}

RecoveryOutcome LatticeCore::recover_now(Slot slot) {
  RecoveryOutcome outcome;
  outcome.failed_step = step_count();
  outcome.rollback = apply_swap(slot, nullptr);
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  pending_out_ = false;
  probe_under_way_ = false;
  probe_batches_left_ = 0;
  if (verified_present_) {
    std::memcpy(state_->level(0), verified_.current.data(), level_bytes());
    std::memcpy(state_->level(1), verified_.previous.data(), level_bytes());
    current_ = 0;
    step_count_.store(verified_.step, std::memory_order_release);
    publish_boundary();
    outcome.restored_step = verified_.step;
  }
  return outcome;
}

}  // namespace ouro

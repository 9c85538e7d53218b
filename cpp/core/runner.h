#ifndef OUROBOROS_CORE_RUNNER_H
#define OUROBOROS_CORE_RUNNER_H

#include "core/kernel_slots.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ouro {

/// Nanoseconds on the steady clock: the time base of StepRecord and SwapOutcome.
std::uint64_t monotonic_ns();

/// How a background run ended.
struct RunSummary {
  std::uint64_t start_step = 0;
  std::uint64_t end_step = 0;
  /// Steps the runner took, rewound ones included.
  std::uint64_t steps_run = 0;
  /// From the start of the run to its end, in ns.
  std::uint64_t run_ns = 0;
  /// Empty unless a kernel failed and ended the run.
  std::string error;
};

/// What a swap or rollback did, reported once it has taken effect.
struct SwapOutcome {
  Slot slot = Slot::Step;
  std::uint32_t from_id = 0;
  std::uint32_t to_id = 0;
  std::string from_name;
  std::string to_name;
  /// stepCount at the boundary where the slot changed: the first step on the new code has this index.
  std::uint64_t applied_at_step = 0;
  /// Whether a step ran on the new code before this was reported (false when not running).
  bool first_step_ran = false;
  /// End of the last step on the old code to the start of the first on the new one, in ns.
  std::uint64_t gap_ns = 0;
};

/// One step the runner took, for the sequence and pause checks of the swap benchmark.
struct StepRecord {
  /// Index of the batch's first step.
  std::uint64_t step;
  /// Steps in the batch (one kernel call).
  std::uint64_t steps;
  std::uint32_t module_id;
  std::uint64_t start_ns;
  std::uint64_t end_ns;
  /// Cone values the watchdog's cone probes gathered from both levels at the boundary before the batch.
  std::uint64_t cone_values = 0;
  /// Whether the batch was handed to the watchdog as (part of) a cone probe.
  bool cone_probed = false;
};

/**
 * A thread that steps something until told to stop, and the step-boundary
 * protocol around it: work queued from other threads runs between two
 * steps, pause holds at a boundary (still serving queued work), stop ends
 * the run at the next boundary. It also keeps what belongs to the run rather
 * than to the state: the step trace, and the swaps waiting for their first
 * step on the new code. What one step does is the body's (RunBody).
 */
class Runner {
 public:
  using SwapCallback = std::function<void(const SwapOutcome&)>;
  using RunEndCallback = std::function<void(const RunSummary&)>;

  /// What a run does, each called on the runner thread only.
  struct RunBody {
    /// The step count now: the summary's start and end.
    std::function<std::uint64_t()> step_count;
    /// Once, before the first step.
    std::function<void()> begin;
    /// One batch; false when the run has reached its target (nothing stepped).
    std::function<bool()> step;
    /// Once, after the last task is served and before the run is no longer active.
    std::function<void()> end;
  };

  Runner() = default;
  /// Stops a run still active.
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// Whether a run is active (a paused run is active). Any thread.
  bool active() const { return active_.load(std::memory_order_acquire); }
  /**
   * Joins the thread of a run that ended by itself (it has reported its end
   * but may still be returning). Call before setting up the next run's body.
   */
  void join_ended();
  /// Starts `body` on a new thread; the caller has checked that no run is active.
  void start(RunBody body, RunEndCallback on_end);
  bool paused();
  /// The runner holds at the next boundary (still serving boundary work) until resume().
  void pause();
  void resume();
  /// Asks the runner to end at the next boundary and waits for it; a no-op when not running.
  void stop();

  /**
   * Runs `work` between two steps on the runner and returns its result (or
   * rethrows its exception); runs it directly when no run is active. Must not
   * be called from the runner thread.
   */
  template <typename Work>
  auto at_boundary(Work&& work) -> decltype(work());
  /// Queues a task for the runner; false when no runner takes tasks (the caller runs it then).
  bool post(std::function<void()> task);

  // ------------------------------------------------------------ the body's side, on the runner thread

  /// A batch ran: counts it, traces it, reports the swaps waiting for it.
  void record_batch(const StepRecord& record);
  /// The end of the last batch (or of the last pause), where a swap's gap starts.
  std::uint64_t last_step_end_ns() const { return last_step_end_ns_; }
  /// `done` is called with `outcome` after the next batch (its first step on the new code), or when the run ends.
  void await_first_step(const SwapOutcome& outcome, SwapCallback done);
  /// Records up to `capacity` batches from now on (0 stops recording); at a boundary.
  void trace_steps(std::size_t capacity);
  /// The records so far; clears them. At a boundary.
  std::vector<StepRecord> take_trace();

 private:
  struct AwaitingSwap {
    SwapOutcome outcome;
    std::uint64_t boundary_end_ns;
    SwapCallback done;
  };

  void loop(const RunBody& body);
  /// Serves queued tasks and pause; false when the run must stop.
  bool serve_control();
  void finish(const RunBody& body, RunSummary summary);

  // active_ is true from start() until the runner has served its last task;
  // while it is, only the runner thread touches what the body steps.
  std::thread thread_;
  std::atomic<bool> active_{false};
  std::atomic<bool> control_pending_{false};
  std::mutex control_mutex_;
  std::condition_variable control_wake_;
  // Guarded by control_mutex_.
  std::deque<std::function<void()>> tasks_;
  bool accepting_tasks_ = false;
  bool pause_requested_ = false;
  bool stop_requested_ = false;
  // Set by start() before the thread starts, then the runner's own.
  RunEndCallback on_end_;
  std::uint64_t steps_run_ = 0;
  std::uint64_t last_step_end_ns_ = 0;
  std::vector<AwaitingSwap> awaiting_first_step_;
  std::vector<StepRecord> trace_;
  std::size_t trace_capacity_ = 0;
};

template <typename Work>
auto Runner::at_boundary(Work&& work) -> decltype(work()) {
  using Result = decltype(work());
  std::packaged_task<Result()> task(std::forward<Work>(work));
  std::future<Result> result = task.get_future();
  if (!post([&task] { task(); })) task();
  return result.get();
}

}  // namespace ouro

#endif

#ifndef OUROBOROS_CORE_BATCH_SIZER_H
#define OUROBOROS_CORE_BATCH_SIZER_H

#include <algorithm>
#include <cstdint>

namespace ouro {

/// How many steps the runner asks a step kernel for in one call.
struct BatchOptions {
  /**
   * Longest one batch should take, in ns. Every boundary duty (a swap, a
   * pause, a posted task, stop) waits for the batch in flight, so this bounds
   * their latency; 50 ms lets a 5-10 ms step at 4096^2 run in batches of 5-10,
   * where a kernel that fuses steps pays off, and stays below what a user
   * notices when pausing.
   */
  std::uint64_t latency_ns = 50'000'000;
  /// Most steps in one batch, whatever the latency allows.
  std::uint64_t max_steps = 64;
};

/**
 * Sizes the batches of one module from its measured time per step:
 * k = clamp(floor(latency / per-step time), 1, max_steps). A module starts at
 * one step and at most doubles from batch to batch, so a module slower than
 * its first call suggested never holds the runner for more than about twice
 * the latency, and a slow candidate in a trial never for seconds.
 */
class BatchSizer {
 public:
  explicit BatchSizer(BatchOptions options = {}) : options_(options) {}

  const BatchOptions& options() const { return options_; }
  /// Steps of the next batch of the module measured so far.
  std::uint64_t next() const { return next_; }

  /// A batch of `steps` steps took `elapsed_ns`.
  void record(std::uint64_t elapsed_ns, std::uint64_t steps) {
    if (steps == 0) return;
    const std::uint64_t per_step_ns = std::max<std::uint64_t>(1, elapsed_ns / steps);
    const std::uint64_t fitting = options_.latency_ns / per_step_ns;
    const std::uint64_t doubled = next_ > options_.max_steps / 2 ? options_.max_steps : 2 * next_;
    next_ = std::clamp<std::uint64_t>(std::min(fitting, doubled), 1, std::max<std::uint64_t>(1, options_.max_steps));
  }

  /// Another module goes live: back to one step until it has been measured.
  void restart() { next_ = 1; }

  /// The live module was measured before a handoff: go on from the size it had reached.
  void resume(std::uint64_t steps) {
    next_ = std::clamp<std::uint64_t>(steps, 1, std::max<std::uint64_t>(1, options_.max_steps));
  }

 private:
  BatchOptions options_;
  std::uint64_t next_ = 1;
};

}  // namespace ouro

#endif

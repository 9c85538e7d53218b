#ifndef OUROBOROS_CORE_BATCH_SIZER_H
#define OUROBOROS_CORE_BATCH_SIZER_H

#include <algorithm>
#include <cstdint>
#include <limits>

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
 *
 * Beyond the latency, while it pays: on a lattice where one step already
 * takes most of the latency (8192^2 on two cores), the latency alone would
 * keep a kernel that fuses steps (temporal blocking) at one step per call,
 * where it runs no faster than a single sweep. So once the latency is what
 * limits k, the sizer tries 2k, and keeps it only when the time per step,
 * averaged over kSamples batches at each size, falls by at least a tenth;
 * then it tries 4k, and so on, never past max_steps nor a batch longer than
 * kGrowthFactor x the latency. A size that does not pay sends it back to
 * the last size that paid, and it tries again only after kFirstRetry batches
 * there, then after twice as many, up to kLastRetry: a busy machine can make
 * one trial look worse than it is. A kernel that does not fuse steps loses
 * no throughput to a trial (its time per step does not change), only
 * kSamples batches of twice the length now and then.
 *
 * A cap (set_cap: the cone probes' batch cap while they are on) lowers
 * max_steps for as long as it is set, so a trial above it is never begun
 * and every batch the sizer asks for runs whole and is judged.
 */
class BatchSizer {
 public:
  /// Batches measured at one size before the sizer decides on it.
  static constexpr std::uint64_t kSamples = 3;
  /// A longer batch is kept when its time per step is at most this share of the shorter one's.
  static constexpr double kPaysBelow = 0.9;
  /// Growth beyond the latency stops at batches this many times the latency.
  static constexpr std::uint64_t kGrowthFactor = 8;
  /// Batches at a settled size before the next trial: the first wait, and the longest.
  static constexpr std::uint64_t kFirstRetry = 32;
  static constexpr std::uint64_t kLastRetry = 1024;

  explicit BatchSizer(BatchOptions options = {}) : options_(options) {}

  const BatchOptions& options() const { return options_; }
  /// Steps of the next batch of the module measured so far.
  std::uint64_t next() const { return next_; }
  /// Steps of the batches the sizer has kept beyond what the latency allows (0: none).
  std::uint64_t grown() const { return grown_; }

  /**
   * At most `steps` steps a batch from now on, below max_steps too (no cap:
   * the largest value). A size or a trial above a lowered cap ends: the sizer
   * goes on from the cap, or from the size the trial doubled.
   */
  void set_cap(std::uint64_t steps) {
    const std::uint64_t cap = std::max<std::uint64_t>(1, steps);
    if (cap == cap_) return;
    cap_ = cap;
    if (trial_steps_ > max_steps()) {
      trial_steps_ = 0;
      next_ = base_steps_;
      forget_samples();
    }
    if (next_ > max_steps()) {
      next_ = max_steps();
      forget_samples();
    }
    grown_ = std::min(grown_, max_steps());
  }

  /// A batch of `steps` steps took `elapsed_ns`.
  void record(std::uint64_t elapsed_ns, std::uint64_t steps) {
    if (steps == 0) return;
    // A batch cut short (a probe, a snapshot's step, the run's end) is no sample of the size being measured.
    const bool full = steps == next_;
    if (trial_steps_ != 0) {
      if (full) judge_trial(elapsed_ns, steps);
      return;
    }
    const std::uint64_t per_step_ns = std::max<std::uint64_t>(1, elapsed_ns / steps);
    const std::uint64_t fitting = options_.latency_ns / per_step_ns;
    if (grown_ != 0) {
      if (!full) return;
      if (fitting < steps && elapsed_ns <= ceiling_ns()) return grow_from(elapsed_ns, steps);
      // The latency allows this size again, or it overran the ceiling: the plain rule takes over.
      if (fitting < steps) wait_before_retrying();
      grown_ = 0;
      forget_samples();
    }
    const std::uint64_t doubled = next_ > max_steps() / 2 ? max_steps() : 2 * next_;
    const std::uint64_t within = std::clamp<std::uint64_t>(std::min(fitting, doubled), 1, max_steps());
    if (!full || within != steps) {
      next_ = within;
      forget_samples();
      return;
    }
    grow_from(elapsed_ns, steps);
  }

  /// Another module goes live: back to one step until it has been measured.
  void restart() {
    next_ = 1;
    grown_ = 0;
    trial_steps_ = 0;
    retry_in_ = 0;
    retry_gap_ = kFirstRetry;
    forget_samples();
  }

  /// The live module was measured before a handoff: go on from the size it had reached.
  void resume(std::uint64_t steps) {
    restart();
    next_ = std::clamp<std::uint64_t>(steps, 1, max_steps());
  }

 private:
  std::uint64_t max_steps() const { return std::max<std::uint64_t>(1, std::min(options_.max_steps, cap_)); }
  std::uint64_t ceiling_ns() const { return options_.latency_ns * kGrowthFactor; }

  void forget_samples() {
    sample_ns_ = 0;
    sample_steps_ = 0;
    samples_ = 0;
  }

  /// Adds a batch at the current size; true once kSamples are in.
  bool sampled(std::uint64_t elapsed_ns, std::uint64_t steps) {
    sample_ns_ += elapsed_ns;
    sample_steps_ += steps;
    return ++samples_ >= kSamples;
  }

  double mean_per_step_ns() const { return static_cast<double>(sample_ns_) / static_cast<double>(sample_steps_); }

  /// At the size the latency (or a kept growth) settled on: after kSamples, try twice as many steps if allowed.
  void grow_from(std::uint64_t elapsed_ns, std::uint64_t steps) {
    next_ = steps;
    if (retry_in_ > 0) {
      --retry_in_;
      return;
    }
    if (!sampled(elapsed_ns, steps)) return;
    const double per_step = mean_per_step_ns();
    forget_samples();
    try_doubling(steps, per_step);
  }

  void try_doubling(std::uint64_t steps, double per_step_ns) {
    const std::uint64_t trial = 2 * steps;
    if (trial > max_steps() || static_cast<double>(trial) * per_step_ns > static_cast<double>(ceiling_ns())) {
      wait_before_retrying();
      return;
    }
    base_steps_ = steps;
    base_per_step_ns_ = per_step_ns;
    trial_steps_ = trial;
    next_ = trial;
  }

  /// A batch of the size being tried: after kSamples, keep it if it paid and try the next doubling.
  void judge_trial(std::uint64_t elapsed_ns, std::uint64_t steps) {
    const bool overran = elapsed_ns > ceiling_ns();
    if (!overran && !sampled(elapsed_ns, steps)) return;
    const double per_step = overran ? 0 : mean_per_step_ns();
    trial_steps_ = 0;
    forget_samples();
    if (overran || per_step > kPaysBelow * base_per_step_ns_) {
      // Back to the last size that paid (grown_ still names it if it was beyond the latency).
      next_ = base_steps_;
      wait_before_retrying();
      return;
    }
    grown_ = steps;
    next_ = steps;
    try_doubling(steps, per_step);
  }

  void wait_before_retrying() {
    retry_in_ = retry_gap_;
    retry_gap_ = std::min(2 * retry_gap_, kLastRetry);
  }

  BatchOptions options_;
  std::uint64_t cap_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t next_ = 1;
  /// The size kept beyond the latency, and the one being tried with the size it doubles.
  std::uint64_t grown_ = 0;
  std::uint64_t trial_steps_ = 0;
  std::uint64_t base_steps_ = 0;
  double base_per_step_ns_ = 0;
  /// Batches to wait at the settled size before the next trial, and the wait after the next failure.
  std::uint64_t retry_in_ = 0;
  std::uint64_t retry_gap_ = kFirstRetry;
  std::uint64_t sample_ns_ = 0;
  std::uint64_t sample_steps_ = 0;
  std::uint64_t samples_ = 0;
};

}  // namespace ouro

#endif

#ifndef OUROBOROS_CORE_BATCH_SIZER_H
#define OUROBOROS_CORE_BATCH_SIZER_H

#include <algorithm>
#include <array>
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
 * limits k, the sizer tries 2k, and keeps it only when the time per step
 * falls by at least a tenth; then it tries 4k, and so on, never past
 * max_steps nor a batch longer than kGrowthFactor x the latency.
 *
 * A trial compares the two sizes batch by batch, alternately (2k, k, 2k, k,
 * ...), kSamples of each, by their median time per step: on a shared
 * machine the load drifts, and a trial that measured one size after the
 * other judged the drift; the median sets aside a batch that a burst of
 * other work slowed. A size that does not pay sends the sizer back to the
 * smaller one, and it tries again only after kFirstRetry batches there,
 * then after twice as many, up to kLastRetry. A size kept beyond the latency
 * is judged again at each retry, against half its steps, before the sizer
 * tries twice its steps: one trial that a busy machine made look better than
 * it was does not keep a kernel that gains nothing from longer batches in
 * them for good (session 18's watchdog bench ended a run of the rows kernel,
 * which fuses nothing, at 4 steps a batch). A kernel that does not fuse
 * steps loses no throughput to a trial (its time per step does not change),
 * only some batches of twice the length now and then.
 *
 * A cap (set_cap: the cone probes' batch cap while they are on) lowers
 * max_steps for as long as it is set, so a trial above it is never begun
 * and every batch the sizer asks for runs whole and is judged.
 */
class BatchSizer {
 public:
  /// Batches measured at each of a trial's two sizes before the sizer decides.
  static constexpr std::uint64_t kSamples = 3;
  /// A longer batch is kept when its median time per step is at most this share of the shorter one's.
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
   * goes on from the cap, or from the trial's smaller size.
   */
  void set_cap(std::uint64_t steps) {
    const std::uint64_t cap = std::max<std::uint64_t>(1, steps);
    if (cap == cap_) return;
    cap_ = cap;
    if (trial_.longer > max_steps()) end_trial(trial_.shorter);
    next_ = std::min(next_, max_steps());
    keep_grown_within(next_);
  }

  /// A batch of `steps` steps took `elapsed_ns`.
  void record(std::uint64_t elapsed_ns, std::uint64_t steps) {
    if (steps == 0) return;
    // A batch cut short (a probe, a snapshot's step, the run's end) is no sample of the size being measured.
    const bool full = steps == next_;
    if (trial_.longer != 0) {
      if (full) sample_trial(elapsed_ns, steps);
      return;
    }
    const std::uint64_t per_step_ns = std::max<std::uint64_t>(1, elapsed_ns / steps);
    const std::uint64_t fitting = options_.latency_ns / per_step_ns;
    if (grown_ != 0) {
      if (!full) return;
      if (fitting < steps && elapsed_ns <= ceiling_ns()) return settled(per_step_ns, steps);
      // The latency allows this size again, or it overran the ceiling: the plain rule takes over.
      if (fitting < steps) wait_before_retrying();
      grown_ = 0;
    }
    const std::uint64_t doubled = next_ > max_steps() / 2 ? max_steps() : 2 * next_;
    const std::uint64_t within = std::clamp<std::uint64_t>(std::min(fitting, doubled), 1, max_steps());
    if (!full || within != steps) {
      next_ = within;
      return;
    }
    settled(per_step_ns, steps);
  }

  /// Another module goes live: back to one step until it has been measured.
  void restart() {
    next_ = 1;
    grown_ = 0;
    trial_ = {};
    retry_in_ = 0;
    retry_gap_ = kFirstRetry;
  }

  /// The live module was measured before a handoff: go on from the size it had reached.
  void resume(std::uint64_t steps) {
    restart();
    next_ = std::clamp<std::uint64_t>(steps, 1, max_steps());
  }

 private:
  /// Two sizes compared batch by batch: `longer` is twice `shorter`; none under way while longer is 0.
  struct Trial {
    std::uint64_t shorter = 0;
    std::uint64_t longer = 0;
    /// Times per step of each size's batches so far, in ns.
    std::array<double, kSamples> shorter_ns{};
    std::array<double, kSamples> longer_ns{};
    std::uint64_t shorter_samples = 0;
    std::uint64_t longer_samples = 0;
  };

  std::uint64_t max_steps() const { return std::max<std::uint64_t>(1, std::min(options_.max_steps, cap_)); }
  std::uint64_t ceiling_ns() const { return options_.latency_ns * kGrowthFactor; }

  /**
   * A full batch at the size the latency (or a kept growth) settled on: once
   * the wait is over, a kept size is judged again against half its steps,
   * else twice the size is tried.
   */
  void settled(std::uint64_t per_step_ns, std::uint64_t steps) {
    next_ = steps;
    if (retry_in_ > 0) {
      --retry_in_;
      return;
    }
    if (grown_ != 0 && steps >= 2) return begin_trial(steps / 2);
    try_doubling(steps, per_step_ns);
  }

  void try_doubling(std::uint64_t steps, std::uint64_t per_step_ns) {
    const std::uint64_t trial = 2 * steps;
    if (trial > max_steps() || trial * per_step_ns > ceiling_ns()) return wait_before_retrying();
    begin_trial(steps);
  }

  /// Compares `shorter` with twice its steps, the longer first.
  void begin_trial(std::uint64_t shorter) {
    trial_ = {};
    trial_.shorter = shorter;
    trial_.longer = 2 * shorter;
    next_ = trial_.longer;
  }

  /// A full batch of one of the trial's sizes; the other size's turn next, until both have kSamples.
  void sample_trial(std::uint64_t elapsed_ns, std::uint64_t steps) {
    const bool longer = steps == trial_.longer;
    // A longer batch past the ceiling ends the trial at once.
    if (longer && elapsed_ns > ceiling_ns()) return lose_trial();
    const double per_step_ns = static_cast<double>(elapsed_ns) / static_cast<double>(steps);
    std::uint64_t& count = longer ? trial_.longer_samples : trial_.shorter_samples;
    if (count < kSamples) (longer ? trial_.longer_ns : trial_.shorter_ns)[count++] = per_step_ns;
    const bool shorter_due = trial_.shorter_samples < kSamples;
    const bool longer_due = trial_.longer_samples < kSamples;
    if (shorter_due || longer_due) {
      next_ = (longer ? shorter_due : !longer_due) ? trial_.shorter : trial_.longer;
      return;
    }
    const double longer_ns = median(trial_.longer_ns);
    if (longer_ns <= kPaysBelow * median(trial_.shorter_ns)) return win_trial(longer_ns);
    lose_trial();
  }

  /// The longer size paid: kept beyond the latency, and twice it tried next.
  void win_trial(double per_step_ns) {
    const std::uint64_t kept = trial_.longer;
    end_trial(kept);
    grown_ = kept;
    try_doubling(kept, static_cast<std::uint64_t>(per_step_ns));
  }

  /// The longer size did not pay: back to the shorter (kept beyond the latency only if it was grown itself).
  void lose_trial() {
    const std::uint64_t shorter = trial_.shorter;
    end_trial(shorter);
    keep_grown_within(shorter);
    wait_before_retrying();
  }

  /// A kept size above `steps` comes down to it (one step is never a growth).
  void keep_grown_within(std::uint64_t steps) {
    grown_ = std::min(grown_, steps);
    if (grown_ < 2) grown_ = 0;
  }

  void end_trial(std::uint64_t steps) {
    trial_ = {};
    next_ = std::clamp<std::uint64_t>(steps, 1, max_steps());
  }

  static double median(std::array<double, kSamples> values) {
    std::sort(values.begin(), values.end());
    return values[kSamples / 2];
  }

  void wait_before_retrying() {
    retry_in_ = retry_gap_;
    retry_gap_ = std::min(2 * retry_gap_, kLastRetry);
  }

  BatchOptions options_;
  std::uint64_t cap_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t next_ = 1;
  /// The size kept beyond the latency (0: none).
  std::uint64_t grown_ = 0;
  Trial trial_;
  /// Batches to wait at the settled size before the next trial, and the wait after the next failure.
  std::uint64_t retry_in_ = 0;
  std::uint64_t retry_gap_ = kFirstRetry;
};

}  // namespace ouro

#endif

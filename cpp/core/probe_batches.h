#ifndef OUROBOROS_CORE_PROBE_BATCHES_H
#define OUROBOROS_CORE_PROBE_BATCHES_H

#include <cstdint>

namespace ouro {

/**
 * The batches a differential probe spans after the levels are taken at step
 * n, shared by the snapshot's probe (SnapshotStore) and the cone probe
 * (ConeProbe): a one-step batch first when `delayed` (so the watchdog's coin
 * picks the checked batch's start parity, and one-step calls are checked),
 * then, when `remainder` and the live batch size k does not divide the
 * snapshot interval, a batch of interval mod k steps (the size that
 * otherwise runs only where an interval ends), then the live batch. The
 * state owner's alone.
 */
class ProbeBatches {
 public:
  /// A probe begins, the live batch size being `batch_steps` and the snapshot interval `every` (0: none).
  void start(bool delayed, bool remainder, std::uint64_t batch_steps, std::uint64_t every) {
    delayed_ = delayed;
    remainder_ = remainder && has_remainder(batch_steps, every);
    left_ = 1 + (delayed_ ? 1 : 0) + (remainder_ ? 1 : 0);
  }
  void stop() { left_ = 0; }
  bool under_way() const { return left_ > 0; }
  /// Whether the probe spans more than the live batch (a one-step or a remainder batch first).
  bool shaped() const { return left_ > 1; }
  /// Steps the batches span when each is sized from `batch_steps`: the radius a cone probe gathers.
  std::uint64_t planned_steps(std::uint64_t batch_steps, std::uint64_t every) const {
    return (delayed_ ? 1 : 0) + (remainder_ ? every % batch_steps : 0) + batch_steps;
  }
  /// The size of the next batch, given the sizer's `steps` (before clamping to the target and the next snapshot).
  std::uint64_t batch(std::uint64_t steps, std::uint64_t every) const {
    if (left_ <= 1) return steps;
    if (delayed_ && left_ == (remainder_ ? 3u : 2u)) return 1;
    if (remainder_ && has_remainder(steps, every)) return every % steps;
    return steps;
  }
  /// A batch has run; true when it was the probe's last.
  bool batch_done() { return left_ > 0 && --left_ == 0; }

 private:
  static bool has_remainder(std::uint64_t steps, std::uint64_t every) {
    return every > 0 && steps < every && every % steps != 0;
  }

  bool delayed_ = false;
  bool remainder_ = false;
  unsigned left_ = 0;
};

}  // namespace ouro

#endif

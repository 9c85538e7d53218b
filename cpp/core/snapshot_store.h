#ifndef OUROBOROS_CORE_SNAPSHOT_STORE_H
#define OUROBOROS_CORE_SNAPSHOT_STORE_H

#include <ouroboros/kernel_abi.h>

#include "core/probe_batches.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace ouro {

/// Both levels at one step boundary, owned by the store (see SnapshotStore::pending).
struct SnapshotView {
  std::uint64_t step;
  const void* previous;
  const void* current;
  /// A probed snapshot (set_probe): the probed cells, and their values `probe_steps` steps later
  /// (u^{step+probe_steps}, one value of the lattice precision each); null otherwise.
  const std::vector<std::uint64_t>* probe_cells = nullptr;
  const void* probe_values = nullptr;
  std::uint64_t probe_steps = 0;
  /// A whole-level probe (set_probe_whole_level): the newest level after the probed batch(es), shared
  /// so that a check off the JS thread can hold it past settle() without a copy; null otherwise.
  std::shared_ptr<const std::vector<std::byte>> probe_level;
  /// What copying both levels cost the runner, which steps nothing meanwhile: part of the check's price.
  std::uint64_t capture_ns = 0;
};

/**
 * The watchdog's snapshots of one lattice: the pending one (captured by the
 * runner, handed to the watchdog, not yet settled), the last verified one
 * (the restore point), and how the next capture is probed.
 *
 * Threading: the watchdog side (set_probe, pending, settle, verified_step)
 * may be called from any thread. The runner side (capture, probe_batch,
 * batch_done, finish_probe) is called only by the thread that owns the live
 * state: the runner while a run is active, else the lattice's caller. The
 * runner writes the pending snapshot only while it is not out, so a view
 * handed out stays untouched until it is settled.
 */
class SnapshotStore {
 public:
  /// What capture() did.
  enum class Capture {
    /// The watchdog still holds the last one: nothing taken, the next capture boundary tries again.
    Skipped,
    /// Taken and ready: announce it now.
    Announce,
    /// Taken; its probe runs over the next batches and finish_probe() announces it.
    Probing,
  };

  /// What the runner has spent on snapshots since the store was made: part of the watchdog's price.
  struct Counters {
    std::uint64_t captures = 0;
    /// Copying both levels at each capture.
    std::uint64_t capture_ns = 0;
    /// Gathering each probe's cells (or whole level) after its batches.
    std::uint64_t probe_ns = 0;
  };

  /// `geometry` is the lattice's, `level_bytes` the size of one time level.
  SnapshotStore(const ouro_geometry& geometry, std::size_t level_bytes);

  // ------------------------------------------------------------ watchdog side

  /**
   * How the next snapshot is probed (see LatticeCore::set_probe). Throws
   * std::invalid_argument when a cell is outside the lattice.
   */
  void set_probe(std::vector<std::uint64_t> cells, bool delayed, std::uint64_t max_cone_values, bool remainder);
  /// The next snapshot is probed at every cell: the whole newest level is copied, with no index list.
  void set_probe_whole_level(bool delayed, bool remainder);
  /**
   * No snapshot is captured at a step below `first_step` (until reset()):
   * the watchdog spaces its checks so that their cost stays within its share
   * of the run (watchdog-cadence.ts), and the runner neither copies the
   * levels nor cuts a batch at the snapshot steps in between. A swap ends
   * it (LatticeCore::apply_swap): new code is checked at the next one.
   */
  void defer_captures(std::uint64_t first_step) { captures_from_.store(first_step, std::memory_order_relaxed); }
  /// The first step at which a snapshot may be captured.
  std::uint64_t captures_from() const { return captures_from_.load(std::memory_order_relaxed); }
  /// The snapshot handed to the watchdog, once its probe (if any) is taken.
  std::optional<SnapshotView> pending();
  /// The watchdog's verdict on the pending snapshot of `step`: a verified one becomes the restore point.
  void settle(std::uint64_t step, bool verified);
  std::optional<std::uint64_t> verified_step();
  Counters counters() const {
    return {captures_.load(std::memory_order_relaxed), capture_ns_.load(std::memory_order_relaxed),
            probe_ns_.load(std::memory_order_relaxed)};
  }

  // ------------------------------------------------------------ state owner's side

  /// A new run: nothing is out, no probe is under way and no capture is deferred.
  void reset();
  /**
   * Copies both levels at `step`. `batch_steps` is the live batch size k and
   * `snapshot_every` the run's interval: a remainder probe spans a batch of
   * snapshot_every mod k steps only where k is below the interval and does not divide it.
   */
  Capture capture(std::uint64_t step, const void* previous, const void* current, std::uint64_t batch_steps,
                  std::uint64_t snapshot_every);
  /**
   * The size of the next batch while a probe is under way, given the sizer's
   * `steps` (before clamping to the target and the next snapshot step).
   */
  std::uint64_t probe_batch(std::uint64_t steps, std::uint64_t snapshot_every) const {
    return probe_batches_.batch(steps, snapshot_every);
  }
  /// A probe is under way: its batches are being run (state owner's side).
  bool probe_under_way() const { return probe_under_way_; }
  /// A batch has run; true when it was the probe's last, and finish_probe() must follow.
  bool batch_done() { return probe_under_way_ && probe_batches_.batch_done(); }
  /**
   * Copies the probed cells of `newest` (u^{step}) into the pending snapshot,
   * thinned to its cone budget, or the whole level for a whole-level probe;
   * returns the snapshot's step, to announce.
   */
  std::uint64_t finish_probe(std::uint64_t step, const void* newest);
  /// Drops a snapshot whose probe has not finished: the state it was taken from was replaced.
  void abandon_probe();
  /**
   * Nothing is out any more, and the last verified snapshot, if any, is
   * copied into `current_out` and `previous_out`: returns its step.
   */
  std::optional<std::uint64_t> restore(void* current_out, void* previous_out);

 private:
  struct Snapshot {
    std::vector<std::byte> previous;
    std::vector<std::byte> current;
    std::uint64_t step = 0;
    std::vector<std::uint64_t> probe_cells;
    std::vector<std::byte> probe_values;
    std::uint64_t probe_steps = 0;
    std::uint64_t capture_ns = 0;
    std::uint64_t probe_max_cone_values = 0;
    bool probe_whole_level = false;
    /// Reused while no view holds it: a fresh 128 MiB level at 4096^2 costs the runner its page faults.
    std::shared_ptr<std::vector<std::byte>> probe_level;
  };

  /// Under mutex_.
  void drop_pending();

  const ouro_geometry geometry_;
  const std::size_t level_bytes_;

  std::mutex mutex_;
  Snapshot pending_;
  Snapshot verified_;
  bool pending_out_ = false;
  bool verified_present_ = false;
  std::vector<std::uint64_t> next_probe_cells_;
  bool next_probe_delayed_ = false;
  bool next_probe_remainder_ = false;
  bool next_probe_whole_level_ = false;
  std::uint64_t next_probe_max_cone_values_ = 0;
  // Read by the runner's batch sizing without the mutex.
  std::atomic<std::uint64_t> captures_from_{0};
  // The state owner's: a probe is under way, and the batches it still spans.
  bool probe_under_way_ = false;
  ProbeBatches probe_batches_;
  std::atomic<std::uint64_t> captures_{0};
  std::atomic<std::uint64_t> capture_ns_{0};
  std::atomic<std::uint64_t> probe_ns_{0};
};

}  // namespace ouro

#endif

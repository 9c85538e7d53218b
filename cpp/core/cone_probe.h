#ifndef OUROBOROS_CORE_CONE_PROBE_H
#define OUROBOROS_CORE_CONE_PROBE_H

#include <ouroboros/kernel_abi.h>

#include "core/probe_batches.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

namespace ouro {

/// A cone probe taken and ready for the watchdog (ConeProbe::ready); its memory is untouched until settled.
struct ConeProbeView {
  /// n: where both levels' cones were gathered.
  std::uint64_t step = 0;
  /// The probed batches' steps: `values` holds u^{n+steps}.
  std::uint64_t steps = 0;
  /// The cones' radius, never below `steps`: each cone is (2 radius + 1)^dims values.
  std::uint64_t radius = 0;
  const std::vector<std::uint64_t>* cells = nullptr;
  /// u^{n-1} and u^n in each cell's cone, cell after cell (gather_cones' order), of the lattice precision.
  const void* older = nullptr;
  const void* newer = nullptr;
  /// u^{n+steps} at each cell.
  const void* values = nullptr;
  /// What gathering the cones and the values cost the runner.
  std::uint64_t gather_ns = 0;
};

/// The probe that follows a plan's: due `offset_steps` after the plan's probe's batches end, at the same cells.
struct ConeFollow {
  bool delayed = false;
  bool remainder = false;
  std::uint64_t offset_steps = 0;
};

/**
 * The watchdog's differential probe between full snapshots: at a step the
 * watchdog drew, the runner gathers the light cones of a few drawn cells
 * from both levels (gather_cones: no level is copied), runs the next
 * batch(es) as a probe does (ProbeBatches), gathers the cells' newest values
 * and announces the probe; the watchdog steps the cones with the oracle and
 * compares. A cone probe is never a restore point.
 *
 * A plan may carry the probe that follows it (ConeFollow), due a drawn
 * number of steps after the first one's batches end: the watchdog arms the
 * next probe only once it has taken this one, batches later, so without it
 * the batch right after a probe (after the runner's gather pause, which a
 * kernel can time) could hardly ever be probed. Two probes may be out at
 * once (two slots): the follow-on is gathered while the first is being
 * checked.
 *
 * The runner never waits for the watchdog: while both slots are out
 * (gathered and not yet settled) a due probe is skipped, counted, and put
 * off by the plan's interval; a plan being armed at that instant puts it
 * off to the next boundary. Buffers keep their capacity from probe to
 * probe: the steady state allocates nothing.
 *
 * Threading: arm, ready, settle and counters from any thread; the rest only
 * by the thread that owns the live state (the runner while a run is
 * active), which writes a slot's buffers only while that slot is free or
 * its probe under way.
 */
class ConeProbe {
 public:
  struct Counters {
    /// Probes gathered, and due ones skipped because the last was still out.
    std::uint64_t probes = 0;
    std::uint64_t skips = 0;
    std::uint64_t gather_ns = 0;
  };

  explicit ConeProbe(const ouro_geometry& geometry) : geometry_(geometry) {}

  // ------------------------------------------------------------ watchdog side

  /**
   * The next probe: taken at the first boundary at or after `at_step`
   * where no snapshot probe is under way, at `cells` (thinned to an evenly
   * spaced subset when their cones would hold more than `max_cone_values`
   * values, 0: no limit), with the coins of a snapshot probe, and then
   * `follow`'s probe unless the plan is armed again before it begins. While
   * both slots are out, a due probe is skipped and waits `every_steps` more.
   * Throws std::invalid_argument when a cell is outside the lattice.
   */
  void arm(const std::vector<std::uint64_t>& cells, bool delayed, bool remainder, std::uint64_t at_step,
           std::uint64_t every_steps, std::uint64_t max_cone_values, std::optional<ConeFollow> follow = std::nullopt);
  /// No probe until armed again.
  void disarm();
  /// The oldest probe announced and not yet taken, if any: it is taken (the next call gives the other).
  std::optional<ConeProbeView> ready();
  /// The watchdog is done with the probe of `step`: its slot is the runner's again.
  void settle(std::uint64_t step);
  Counters counters() const {
    return {probes_.load(std::memory_order_relaxed), skips_.load(std::memory_order_relaxed),
            gather_ns_.load(std::memory_order_relaxed)};
  }

  // ------------------------------------------------------------ state owner's side

  /// Whether a probe is due at `step` (a relaxed read; begin() decides).
  bool due(std::uint64_t step) const { return step >= at_step_.load(std::memory_order_relaxed); }
  /**
   * Gathers the cones at `step` from (previous, current) = (u^{n-1}, u^n),
   * for batches sized from `batch_steps` with snapshot interval `every`; or
   * skips. True when a probe is under way.
   */
  bool begin(std::uint64_t step, const void* previous, const void* current, std::uint64_t batch_steps,
             std::uint64_t every);
  bool under_way() const { return under_way_ != nullptr; }
  /// The size of the next batch given the sizer's `steps`, as the probe's plan has it.
  std::uint64_t batch(std::uint64_t steps, std::uint64_t every) const {
    return under_way_ ? under_way_->batches.batch(steps, every) : steps;
  }
  /// Most steps a batch starting at `index` may take: none past the cones' radius.
  std::uint64_t steps_left(std::uint64_t index) const {
    return under_way_ ? under_way_->step + under_way_->radius - index : std::numeric_limits<std::uint64_t>::max();
  }
  /// A batch has run and the state is at `step`; true when the probe's batches are done and finish() must follow.
  bool batch_done(std::uint64_t step);
  /// Gathers the cells' values of `newest` (u^{step}): the probe is ready; returns its step, to announce.
  std::uint64_t finish(std::uint64_t step, const void* newest);
  /// Drops a probe whose batches are not done (the state was replaced, or the module swapped).
  void abandon();
  /**
   * Drops the probes announced and not yet taken: the state was rolled back,
   * and a verdict on steps taken before it would roll back again. (The
   * watchdog drops the verdicts of those it took before the rollback.)
   */
  void drop_announced();
  /**
   * A new run: nothing is under way or out. A probe announced in the last run
   * whose check never came (its run ended while checks were held) would
   * otherwise hold its slot and make the runner skip probes after it. The
   * plan armed for the new run stays.
   */
  void reset();

 private:
  /// One probe's buffers: free, under way (the state owner's), ready (announced), or taken by the watchdog.
  struct Gathered {
    enum class Phase { Free, UnderWay, Ready, Taken };
    Phase phase = Phase::Free;
    ProbeBatches batches;
    std::uint64_t step = 0;
    std::uint64_t steps = 0;
    std::uint64_t radius = 0;
    std::uint64_t gather_ns = 0;
    /// The plan's arming it was begun from, and the probe that follows it (armed when it ends, unless armed since).
    std::uint64_t generation = 0;
    std::optional<ConeFollow> follow;
    std::vector<std::uint64_t> cells;
    std::vector<std::byte> older;
    std::vector<std::byte> newer;
    std::vector<std::byte> values;
  };

  const ouro_geometry geometry_;
  static constexpr std::uint64_t kUnarmed = std::numeric_limits<std::uint64_t>::max();

  std::mutex mutex_;
  // The plan, under mutex_; at_step_ is read without it by due().
  std::vector<std::uint64_t> plan_cells_;
  bool plan_delayed_ = false;
  bool plan_remainder_ = false;
  std::uint64_t plan_every_ = 1;
  std::uint64_t plan_max_cone_values_ = 0;
  std::atomic<std::uint64_t> at_step_{kUnarmed};
  // Counts arm(): a follow-on is due only if no plan was armed since its first probe began.
  std::uint64_t generation_ = 0;
  std::optional<ConeFollow> plan_follow_;
  // Phases change under mutex_; the buffers of a slot under way are the state owner's alone.
  std::array<Gathered, 2> slots_;
  Gathered* under_way_ = nullptr;
  std::atomic<std::uint64_t> probes_{0};
  std::atomic<std::uint64_t> skips_{0};
  std::atomic<std::uint64_t> gather_ns_{0};
};

}  // namespace ouro

#endif

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
#include <utility>
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
  /// Handed over at the take rate (set_take_rate), not as the plan's probe: it neither consumed nor re-arms a plan.
  bool extra = false;
};

/// The probe that follows a plan's: due `offset_steps` after the plan's probe's batches end, at cells drawn afresh.
struct ConeFollow {
  bool delayed = false;
  bool remainder = false;
  std::uint64_t offset_steps = 0;
};

/**
 * The watchdog's differential probe between full snapshots, made so that a
 * kernel which times its calls and sees their lengths cannot tell a probed
 * batch from another.
 *
 * While cone probes are on, the runner does the same gather before every
 * batch (gather_boundary): the light cones, at the batch's own length, of a
 * few cells drawn afresh from a seeded generator (boundary_cells: a fixed
 * share of the batch's work, at least one cell), from both levels, into a
 * free slot of a small ring; after the batch it gathers the cells' newest
 * values, and only then (finish) is the probe handed to the watchdog, when
 * the plan the watchdog armed, drawn from its own seeded generator, was due
 * at that boundary: nothing the runner does before or during the batch
 * depends on the plan. An unchosen gather is dropped;
 * its slot keeps its buffers' capacity, so the steady state allocates
 * nothing. The gap before a probed call and before an unprobed one are thus
 * drawn from one distribution.
 *
 * A plan may take another shape (`delayed`: a one-step batch first;
 * `remainder`: a batch of the snapshot interval's remainder first): then
 * begin() gathers its cones, at the radius of all its batches, before the
 * first and shapes them (ProbeBatches); such a probe is visible to the
 * kernel by its batch lengths, and the plain shape stays as common as any
 * (the watchdog's two fair coins). Its later batches are preceded by a
 * gather all the same (gather_decoy), so no boundary goes without one.
 *
 * While cone probes are on every batch is capped (batch_cap) at the longest
 * whose one cone fits the oracle's budget, so that a probed batch is never
 * shorter than an unprobed one.
 *
 * A plan may carry the probe that follows it (ConeFollow), due a drawn
 * number of steps after the first one's batches end: the watchdog arms the
 * next probe only once it has taken this one, batches later, so without it
 * the batch right after a probe could hardly ever be probed. Two probes may
 * be out at once (two of the ring's three slots): the follow-on is gathered
 * while the first is being checked, and a gather always finds a free slot.
 *
 * Every other boundary's gather may be handed over too (an extra probe):
 * after its batch has returned, with the probability the watchdog's take
 * rate gives it (set_take_rate, in cells per step), drawn from a generator
 * seeded by the plan. The watchdog sets the rate to the cells its cost share
 * affords beyond the plan; once every gather is handed over, a higher rate
 * gathers more cells at every boundary alike. So it checks as many of the
 * gathers the runner makes anyway as it can pay for, and the runner's work
 * at a boundary is the same whatever is chosen.
 *
 * The runner never waits for the watchdog: while two plan probes are out
 * (announced and not yet settled) a due probe is skipped, counted, and put
 * off by the plan's interval; while kMaxExtraOut extra probes are out a
 * chosen extra is dropped and counted. One slot is always free to gather.
 *
 * Threading: arm, ready, settle, counters and batch_cap from any thread; the
 * rest only by the thread that owns the live state (the runner while a run
 * is active), which writes a slot's buffers only while that slot is free or
 * its probe under way.
 */
class ConeProbe {
 public:
  struct Counters {
    /// Probes announced, and due ones skipped because two were still out.
    std::uint64_t probes = 0;
    std::uint64_t skips = 0;
    /// Every gather's cost, chosen or not, and how many boundaries gathered and how many values from both levels.
    std::uint64_t gather_ns = 0;
    std::uint64_t boundaries = 0;
    std::uint64_t gathered_values = 0;
    /// Extra probes handed over at the take rate, chosen ones dropped for want of a slot, and every probe's cells.
    std::uint64_t extras = 0;
    std::uint64_t extra_drops = 0;
    std::uint64_t cells_handed = 0;
    /// What the dropped extras' gathers cost: spent on cells nobody checks, so the take rate's budget counts it.
    std::uint64_t extra_drop_ns = 0;
  };

  /// Live steps stepped per cone value a boundary gathers (boundary_cells): ~0.5% of a batch's time at 4096^2 f64.
  static constexpr std::uint64_t kSteppedCellsPerGatheredValue = 32768;
  /// Plan probes and extra probes out with the watchdog at most, and the ring's slots: those and one being gathered.
  static constexpr std::size_t kMaxOut = 2;
  static constexpr std::size_t kMaxExtraOut = 4;
  static constexpr std::size_t kSlots = kMaxOut + kMaxExtraOut + 1;

  explicit ConeProbe(const ouro_geometry& geometry) : geometry_(geometry) {}

  // ------------------------------------------------------------ watchdog side

  /**
   * The next probe: taken at the first boundary at or after `at_step`, at
   * most `cells` cells (>= 1) drawn afresh for it from a generator seeded
   * with `seed`, their cones within `max_cone_values` values (0: no limit;
   * it also sets batch_cap), with the coins of a snapshot probe, and then
   * `follow`'s probe unless the plan is armed again before it begins. While
   * two probes are out, a due probe is skipped and waits `every_steps` more.
   * Throws std::invalid_argument when cells or every_steps is 0.
   */
  void arm(std::uint64_t cells, std::uint64_t seed, bool delayed, bool remainder, std::uint64_t at_step,
           std::uint64_t every_steps, std::uint64_t max_cone_values, std::optional<ConeFollow> follow = std::nullopt);
  /// No probe until armed again.
  void disarm();
  /**
   * Cells per step the watchdog can check beyond its plans' probes: every
   * boundary gathers at least floor(rate x its batch's steps) cells (within
   * `cells` and the cone budget), and a gather no plan took is handed over,
   * drawn after its batch, with probability min(1, rate x steps / cells
   * gathered). 0 (the default): only the plan's, at the fixed share. Throws
   * std::invalid_argument when negative or not finite.
   */
  void set_take_rate(double cells_per_step);
  /// The oldest probe announced and not yet taken, if any: it is taken (the next call gives the other).
  std::optional<ConeProbeView> ready();
  /// The watchdog is done with the probe of `step`: its slot is the runner's again.
  void settle(std::uint64_t step);
  Counters counters() const {
    return {probes_.load(std::memory_order_relaxed),          skips_.load(std::memory_order_relaxed),
            gather_ns_.load(std::memory_order_relaxed),       boundaries_.load(std::memory_order_relaxed),
            gathered_values_.load(std::memory_order_relaxed), extras_.load(std::memory_order_relaxed),
            extra_drops_.load(std::memory_order_relaxed),     cells_handed_.load(std::memory_order_relaxed),
            extra_drop_ns_.load(std::memory_order_relaxed)};
  }
  /// Most steps in one batch while cone probes are on: the largest radius whose one cone fits the budget (no cap: max).
  std::uint64_t batch_cap() const { return batch_cap_.load(std::memory_order_relaxed); }

  // ------------------------------------------------------------ state owner's side

  /// Whether a plan has been armed: the runner gathers at every boundary then.
  bool armed() const { return armed_.load(std::memory_order_relaxed); }
  /// Whether a probe is due at `step` (a relaxed read; begin() and finish() decide).
  bool due(std::uint64_t step) const { return step >= at_step_.load(std::memory_order_relaxed); }
  /**
   * Begins a probe of another shape than the plain one, due at `step`, from
   * (previous, current) = (u^{n-1}, u^n), for batches sized from
   * `batch_steps` with snapshot interval `every`: gathers its cones at the
   * radius of all its batches. False, with nothing done, when no such probe
   * is due (a plain one is left to gather_boundary) or two are out.
   */
  bool begin(std::uint64_t step, const void* previous, const void* current, std::uint64_t batch_steps,
             std::uint64_t every);
  /**
   * Before a batch of `steps` steps from `step`, when no probe is under way:
   * gathers the cones at radius `steps` of boundary_cells(steps) cells drawn
   * afresh, from both levels. Returns the values gathered.
   */
  std::uint64_t gather_boundary(std::uint64_t step, std::uint64_t steps, const void* previous, const void* current);
  /**
   * Before a batch after the first of a shaped probe under way, which its
   * own gather does not precede: the work every other boundary does (the
   * values of boundary_cells(steps, steps) cells drawn afresh, as finish()
   * gathers after a batch, and their cones at radius `steps` from both
   * levels), into buffers kept for it, and thrown away. Returns the values
   * gathered from both levels.
   */
  std::uint64_t gather_decoy(std::uint64_t steps, const void* previous, const void* current);
  /// Whether a batch from `step` is one after the first of a shaped probe under way.
  bool within_shaped(std::uint64_t step) const {
    return under_way_ != nullptr && under_way_->shaped && step > under_way_->step;
  }
  /// Cells a boundary gathers before a batch of `steps` steps, at radius `radius`.
  std::uint64_t boundary_cells(std::uint64_t radius, std::uint64_t steps) const;
  bool under_way() const { return under_way_ != nullptr; }
  /// Whether the probe under way is of another shape than the plain one (begun by begin()).
  bool shaped_under_way() const { return under_way_ != nullptr && under_way_->shaped; }
  /// Values gathered from both levels since the last call (the state owner's trace of each boundary).
  std::uint64_t take_boundary_values() { return std::exchange(boundary_values_, 0); }
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
  /**
   * Gathers the cells' values of `newest` (u^{step}) and decides: the step
   * the probe was taken at, to announce, when it is handed to the watchdog;
   * nothing when its gather is dropped (no plan was due at its boundary) or
   * skipped (two probes out).
   */
  std::optional<std::uint64_t> finish(std::uint64_t step, const void* newest);
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
    /// Handed over at the take rate (finish), not as the plan's probe.
    bool extra = false;
    /// Begun by begin() (another shape), or a boundary's gather.
    bool shaped = false;
    /// The plan was due where it began: handed over when its batches end, unless two are out then.
    bool due = false;
    ProbeBatches batches;
    std::uint64_t step = 0;
    std::uint64_t steps = 0;
    std::uint64_t radius = 0;
    std::uint64_t gather_ns = 0;
    /// A shaped probe's plan's arming, and the probe that follows it (armed when it ends, unless armed since).
    std::uint64_t generation = 0;
    std::optional<ConeFollow> follow;
    std::vector<std::uint64_t> cells;
    std::vector<std::byte> older;
    std::vector<std::byte> newer;
    std::vector<std::byte> values;
  };

  /// A free slot (there is always one when none is under way: at most kMaxOut are out); under mutex_.
  Gathered& free_slot();
  /// Draws `count` cells afresh from the cells' generator into `cells`, unsorted; under mutex_ (sort_cells outside it).
  void draw_cells(std::vector<std::uint64_t>& cells, std::uint64_t count);
  /// Gathers the cones of the slot's cells at its radius from both levels (`count` cells).
  void gather(Gathered& slot, std::uint64_t count, const void* previous, const void* current);
  /// Plan probes (extra: extra probes) announced or taken; under mutex_.
  std::size_t out(bool extra = false) const;
  /// Whether the gather in `slot`, which no plan took, is handed over at the take rate; under mutex_.
  bool take_extra(const Gathered& slot);
  /// The plan is taken by `slot`: nothing is due until its follow-on or the next arm(); under mutex_.
  void consume_plan(Gathered& slot);
  /// The plan's follow-on becomes the plan, due `offset` after `step`; under mutex_.
  void arm_follow(const ConeFollow& follow, std::uint64_t step);

  const ouro_geometry geometry_;
  static constexpr std::uint64_t kUnarmed = std::numeric_limits<std::uint64_t>::max();

  mutable std::mutex mutex_;
  // The plan, under mutex_; at_step_ is read without it by due().
  std::uint64_t plan_cells_ = 0;
  bool plan_delayed_ = false;
  bool plan_remainder_ = false;
  std::uint64_t plan_every_ = 1;
  std::uint64_t plan_max_cone_values_ = 0;
  std::atomic<std::uint64_t> at_step_{kUnarmed};
  std::atomic<bool> armed_{false};
  std::atomic<std::uint64_t> batch_cap_{std::numeric_limits<std::uint64_t>::max()};
  // Counts arm(): a follow-on is due only if no plan was armed since its first probe began.
  std::uint64_t generation_ = 0;
  std::optional<ConeFollow> plan_follow_;
  // The cells' generator (splitmix64), reseeded by each arm(); under mutex_.
  std::uint64_t cell_random_ = 0;
  // The take rate's draws (splitmix64), reseeded by each arm(); under mutex_.
  double take_cells_per_step_ = 0.0;
  std::uint64_t take_random_ = 0;
  // Phases change under mutex_; the buffers of a slot under way are the state owner's alone.
  std::array<Gathered, kSlots> slots_;
  Gathered* under_way_ = nullptr;
  // gather_decoy's buffers, the state owner's.
  Gathered decoy_;
  // The state owner's.
  std::uint64_t boundary_values_ = 0;
  std::atomic<std::uint64_t> probes_{0};
  std::atomic<std::uint64_t> skips_{0};
  std::atomic<std::uint64_t> gather_ns_{0};
  std::atomic<std::uint64_t> boundaries_{0};
  std::atomic<std::uint64_t> gathered_values_{0};
  std::atomic<std::uint64_t> extras_{0};
  std::atomic<std::uint64_t> extra_drops_{0};
  std::atomic<std::uint64_t> cells_handed_{0};
  std::atomic<std::uint64_t> extra_drop_ns_{0};
};

}  // namespace ouro

#endif

// What LatticeCore does on its Runner (runner.h): one batch of a run, the
// swaps that take effect between two batches, and the watchdog snapshots it
// hands to its SnapshotStore (snapshot_store.h). The rest of LatticeCore is
// in lattice_core.cpp.
#include "core/lattice_core.h"
#include "core/remote_kernel.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ouro {
namespace {

/**
 * The first snapshot step after `index`: a multiple of `every` and not below
 * `captures_from` (a deferred capture), so that a batch is cut only where a
 * snapshot will be taken, never at the multiples a deferral skips.
 */
std::uint64_t next_snapshot_step(std::uint64_t index, std::uint64_t every, std::uint64_t captures_from) {
  const std::uint64_t next = index - index % every + every;
  if (captures_from <= next) return next;
  const std::uint64_t past = captures_from % every;
  const std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();
  if (past != 0 && captures_from > unlimited - (every - past)) return unlimited;
  return past == 0 ? captures_from : captures_from + (every - past);
}

}  // namespace

void LatticeCore::run(const RunOptions& options, RunEndCallback on_end, SnapshotCallback on_snapshot,
                      SnapshotCallback on_cone_probe) {
  if (running()) throw std::logic_error("LatticeCore::run called while a run is active");
  // A run that ended by itself has reported its end; its thread may still be returning.
  runner_.join_ended();
  run_options_ = options;
  const std::uint64_t now = step_count();
  const std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();
  run_target_step_ =
      options.max_steps == 0 || options.max_steps > unlimited - now ? unlimited : now + options.max_steps;
  on_snapshot_ = std::move(on_snapshot);
  on_cone_probe_ = std::move(on_cone_probe);
  // No runner yet: the sizer is this thread's until start().
  cap_batches_for_cone_probes();
  snapshots_.reset();
  cone_probe_.reset();
  cone_announce_.reset();
  Runner::RunBody body{
      [this] { return step_count(); },
      [this] {
        if (run_options_.snapshot_every > 0) capture_snapshot();
      },
      [this] { return runner_step(); },
      [this] {
        if (cone_announce_ && on_cone_probe_) on_cone_probe_(*cone_announce_);
        cone_announce_.reset();
        on_snapshot_ = nullptr;
        on_cone_probe_ = nullptr;
        // Its batches will not run: nobody will be told of it.
        cone_probe_.abandon();
      },
  };
  runner_.start(std::move(body), std::move(on_end));
}

void LatticeCore::cap_batches_for_cone_probes() {
  // While cone probes are on, every batch is capped where one cone of a whole batch still fits the oracle's budget, so
  // that a probed batch is as long as any other; the sizer grows and judges its trials within the cap.
  batch_sizer_.set_cap(on_cone_probe_ ? cone_probe_.batch_cap() : std::numeric_limits<std::uint64_t>::max());
}

void LatticeCore::arm_cone_probe(std::uint64_t cells, std::uint64_t seed, bool delayed, bool remainder,
                                 std::uint64_t at_step, std::uint64_t every_steps, std::uint64_t max_cone_values,
                                 std::optional<ConeFollow> follow) {
  const std::uint64_t cap = cone_probe_.batch_cap();
  cone_probe_.arm(cells, seed, delayed, remainder, at_step, every_steps, max_cone_values, follow);
  // The cap moves only with the budget (or the first plan of a run): the runner takes it at its next boundary. With no
  // run active, the next run() takes it.
  if (cone_probe_.batch_cap() != cap) runner_.post([this] { cap_batches_for_cone_probes(); });
}

std::uint64_t LatticeCore::live_batch() const { return batch_sizer_.next(); }

std::uint64_t LatticeCore::batch_at(std::uint64_t index) const {
  const std::uint64_t every = run_options_.snapshot_every;
  const std::uint64_t sized = live_batch();
  // A snapshot's probe sizes the batches while it is under way; a cone probe under way still bounds them by its radius.
  std::uint64_t steps =
      snapshots_.probe_under_way() ? snapshots_.probe_batch(sized, every) : cone_probe_.batch(sized, every);
  steps = std::min({steps, cone_probe_.steps_left(index), run_target_step_ - index});
  if (every > 0) steps = std::min(steps, next_snapshot_step(index, every, snapshots_.captures_from()) - index);
  return steps;
}

bool LatticeCore::runner_step() {
  if (step_count() >= run_target_step_) return false;
  const KernelModule& module = slots_.live(Slot::Step);
  if (module.id() != sized_module_id_) {
    sized_module_id_ = module.id();
    batch_sizer_.restart();
  }
  const std::uint64_t index = step_count();
  const std::uint64_t steps = batch_at(index);
  // The same gather before every batch, probed or not (ConeProbe): the kernel sees no pause that marks a probe.
  if (on_cone_probe_ && cone_probe_.armed() && !cone_probe_.under_way()) {
    cone_probe_.gather_boundary(index, steps, previous_level(), current_level());
  } else if (on_cone_probe_ && cone_probe_.within_shaped(index)) {
    // A shaped probe's later batch: its cones were gathered before its first, but this boundary must not stand out.
    cone_probe_.gather_decoy(steps, previous_level(), current_level());
  }
  // The last batch's probe is announced only now: the watchdog, told of it, takes it and arms its next plan at once,
  // and a follow-on due at this boundary has been taken by this gather (or begun after the last batch) by then, or
  // that plan would drop it.
  if (const std::optional<std::uint64_t> announce = std::exchange(cone_announce_, std::nullopt);
      announce && on_cone_probe_) {
    on_cone_probe_(*announce);
  }
  const bool shaped_probe = cone_probe_.shaped_under_way();
  const std::uint64_t start_ns = monotonic_ns();
  try {
    run_kernel(module, *state_, current_, steps, fp_restores_of(Slot::Step));
  } catch (const RemoteKernelFailure& failure) {
    cone_probe_.abandon();
    abandon_host(failure.what());
    return true;
  }
  const std::uint64_t end_ns = monotonic_ns();
  current_ = static_cast<std::uint32_t>((current_ + steps) % 2);
  step_count_.store(index + steps, std::memory_order_release);
  publish_boundary();
  profiles_[static_cast<std::size_t>(Slot::Step)].record(end_ns - start_ns, steps);
  batch_sizer_.record(end_ns - start_ns, steps);
  batch_steps_.store(live_batch(), std::memory_order_relaxed);
  const bool cone_done = cone_probe_.batch_done(step_count());
  const std::optional<std::uint64_t> cone_step =
      cone_done ? cone_probe_.finish(step_count(), current_level()) : std::nullopt;
  runner_.record_batch(StepRecord{index, steps, module.id(), start_ns, end_ns, cone_probe_.take_boundary_values(),
                                  shaped_probe || cone_step.has_value()});
  if (snapshots_.batch_done()) {
    const std::uint64_t announced = snapshots_.finish_probe(step_count(), current_level());
    if (on_snapshot_) on_snapshot_(announced);
  }
  const std::uint64_t every = run_options_.snapshot_every;
  if (every > 0 && (index + steps) % every == 0) capture_snapshot();
  advance_cone_probe();
  cone_announce_ = cone_step;
  return true;
}

void LatticeCore::advance_cone_probe() {
  if (!on_cone_probe_ || snapshots_.probe_under_way() || cone_probe_.under_way() || !cone_probe_.due(step_count())) {
    return;
  }
  cone_probe_.begin(step_count(), previous_level(), current_level(), live_batch(), run_options_.snapshot_every);
}

void LatticeCore::capture_snapshot() {
  const std::uint64_t step = step_count();
  const SnapshotStore::Capture captured =
      snapshots_.capture(step, previous_level(), current_level(), live_batch(), run_options_.snapshot_every);
  if (captured == SnapshotStore::Capture::Announce && on_snapshot_) on_snapshot_(step);
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
  // A cone probe's batches must not span two modules.
  cone_probe_.abandon();
  // Code that has just gone live is checked at the next snapshot step, whatever the watchdog's cadence had deferred.
  snapshots_.defer_captures(0);
  return outcome;
}

void LatticeCore::request_swap(Slot slot, std::shared_ptr<const KernelModule> module, SwapCallback done) {
  // `done` must not throw across the runner: callers pass callbacks that only queue a JS call.
  const bool queued =
      runner_.post([this, slot, module, done] { runner_.await_first_step(apply_swap(slot, module), done); });
  if (!queued) done(apply_swap(slot, module));
}

void LatticeCore::swap(Slot slot, std::shared_ptr<const KernelModule> module, SwapCallback done) {
  if (!module) throw std::invalid_argument("LatticeCore::swap needs a module");
  request_swap(slot, std::move(module), std::move(done));
}

void LatticeCore::rollback(Slot slot, SwapCallback done) { request_swap(slot, nullptr, std::move(done)); }

// ---------------------------------------------------------------- recovery

RecoveryOutcome LatticeCore::recover(Slot slot) {
  return at_boundary([&] { return recover_now(slot); });
}

RecoveryOutcome LatticeCore::recover_now(Slot slot) {
  RecoveryOutcome outcome;
  outcome.failed_step = step_count();
  outcome.rollback = apply_swap(slot, nullptr);
  cone_probe_.drop_announced();
  outcome.restored_step = snapshots_.restore(state_->level(0), state_->level(1));
  if (outcome.restored_step) {
    current_ = 0;
    step_count_.store(*outcome.restored_step, std::memory_order_release);
    publish_boundary();
  }
  return outcome;
}

}  // namespace ouro

#ifndef OUROBOROS_CORE_LATTICE_CORE_H
#define OUROBOROS_CORE_LATTICE_CORE_H

#include <ouroboros/kernel_abi.h>

#include "core/batch_sizer.h"
#include "core/cone_probe.h"
#include "core/kernel_module.h"
#include "core/kernel_slots.h"
#include "core/remote_kernel.h"
#include "core/runner.h"
#include "core/slot_profile.h"
#include "core/snapshot_store.h"
#include "core/state_buffer.h"
#include "core/stream_triad.h"
#include "core/thread_pool.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ouro {

/// What a lattice is made of; the caller has validated it.
struct LatticeConfig {
  std::vector<std::uint64_t> extents;
  double courant2 = 0.0;
  ouro_precision precision = OURO_PRECISION_F64;
  std::uint32_t threads = 1;
  /// How many steps the runner and step() ask the step kernel for per call.
  BatchOptions batch;
};

/// A kernel's readout: digits when every cell is finite, else the lowest bad cell.
struct Readout {
  std::vector<std::int8_t> digits;
  std::optional<std::uint64_t> bad_index;
};

/// Two time levels stepped in a private buffer by LatticeCore::step_copy.
struct LevelPair {
  std::unique_ptr<StateBuffer> buffer;
  std::uint32_t current;

  const void* current_level() const { return buffer->level(current); }
  const void* previous_level() const { return buffer->level(1 - current); }
};

/// How a background run goes.
struct RunOptions {
  /// Steps to take before the run ends by itself; 0 runs until stopped.
  std::uint64_t max_steps = 0;
  /// Capture a watchdog snapshot every this many steps (and at the start); 0 never.
  std::uint64_t snapshot_every = 0;
};

/// What the runner has spent on the watchdog since the lattice was made, by its own monotonic clock.
struct WatchdogCounters {
  SnapshotStore::Counters snapshots;
  ConeProbe::Counters cones;
};

/// What recover() did.
struct RecoveryOutcome {
  std::optional<std::uint64_t> restored_step;
  std::uint64_t failed_step = 0;
  SwapOutcome rollback;
};

/// A kernel host that failed while the runner stepped with it, and the recovery the runner made at once.
struct HostFailure {
  std::string reason;
  /// failed_step: stepCount when the host failed (the step it was asked for was not counted).
  RecoveryOutcome recovery;
  /// monotonic_ns() once recovered: the runner's next step, on last-known-good, starts right after.
  std::uint64_t recovered_ns = 0;
};

/**
 * Shared by a canary and whoever may end it: a set `cancelled` ends the canary
 * before its next kernel call (a call under way runs to its end: a kernel
 * cannot be interrupted). At 4096^2 on a loaded machine a canary's calls add
 * up to tens of seconds, which a stopping engine must not wait for.
 */
struct CanaryControl {
  std::atomic<bool> cancelled{false};
  /// Steps both copies have taken so far.
  std::atomic<std::uint64_t> steps_done{0};
};

/// A canary's starting point: copies of the live levels and the two modules to compare.
struct CanaryInput {
  Slot slot = Slot::Step;
  std::uint64_t start_step = 0;
  std::shared_ptr<LevelPair> start;
  std::shared_ptr<const KernelModule> incumbent;
  std::shared_ptr<const KernelModule> candidate;
  /// The live step module, which steps both copies when the readout slot is compared.
  std::shared_ptr<const KernelModule> stepper;
  /// The runner's batch size for the live module when the canary was prepared: the canary calls kernels so.
  std::uint64_t batch_steps = 1;
  std::shared_ptr<CanaryControl> control = std::make_shared<CanaryControl>();
};

struct CanaryOutcome {
  LevelPair incumbent;
  LevelPair candidate;
  /// Largest |incumbent - candidate| over both levels (step), or over the digits (readout).
  double max_abs_difference = 0.0;
  /// Calls after which the candidate had left the FP environment changed (restored each time).
  std::uint64_t candidate_fp_restores = 0;
  /// Ended by cancel_canaries() after steps_done steps: nothing was compared (max_abs_difference 0).
  bool cancelled = false;
  std::uint64_t steps_done = 0;
};

/**
 * A periodic N-D lattice: its geometry, its two live time levels, the kernel
 * slots and thread pool that advance them. A Runner (runner.h) steps it on a
 * thread of its own, and a SnapshotStore (snapshot_store.h) keeps the
 * watchdog's snapshots; this class is the state and what one step does.
 *
 * Fields passed in or out are `cells` values of the lattice precision,
 * row-major, last axis fastest.
 *
 * Threading: while a run is active (run() until the run ends), only the
 * runner thread touches the live state and the slots. Every other access goes
 * through at_boundary(), which hands the work to the runner between two steps
 * and waits for it; when no run is active it runs the work directly. So a step
 * always runs wholly on one module, and nothing reads a level mid-step.
 */
class LatticeCore {
 public:
  using SwapCallback = Runner::SwapCallback;
  using RunEndCallback = Runner::RunEndCallback;
  using SnapshotCallback = std::function<void(std::uint64_t step)>;
  using HostFailureCallback = std::function<void(const HostFailure&)>;

  /// Throws std::invalid_argument on a malformed config.
  LatticeCore(const LatticeConfig& config, std::shared_ptr<const KernelModule> kernel);
  /**
   * Steps the state in place inside the state segment `segment` (its
   * owner's mapping, held until the state is freed), resuming at the step count and current level its
   * header holds. Both are stored back into the header at every step
   * boundary; the commit checksum is the segment owner's (a freeze point).
   * Throws std::invalid_argument when the segment's levels do not fit the config.
   */
  LatticeCore(const LatticeConfig& config, std::shared_ptr<const KernelModule> kernel, const SegmentRegion& segment);
  ~LatticeCore();
  LatticeCore(const LatticeCore&) = delete;
  LatticeCore& operator=(const LatticeCore&) = delete;

  const ouro_geometry& geometry() const { return geometry_; }
  std::size_t level_bytes() const { return state_->level_bytes(); }
  /// Exact at any moment, also while running.
  std::uint64_t step_count() const { return step_count_.load(std::memory_order_acquire); }
  /// The live module of a slot as of its last swap or rollback: from any thread, without waiting for a step boundary.
  std::shared_ptr<const KernelModule> live_module(Slot slot) const;
  std::shared_ptr<const KernelModule> last_known_good(Slot slot) const;
  /// Returns once no step is in flight: at once when no run is active, else when the runner next reaches a step
  /// boundary (where a paused runner stays). A barrier for work that must see the state between two steps.
  void wait_for_boundary() {
    at_boundary([] {});
  }
  /// The live step module; only while no run is active.
  const KernelModule& kernel() const { return slots_.live(Slot::Step); }

  /// Copies both levels in (level_bytes() each) and resets the step counter, at a boundary.
  void set_state(const void* previous, const void* current);

  /**
   * Advances n steps in kernel calls of at most the batch's max_steps each
   * (so a confined host's per-call deadline stays bounded); returns their
   * wall time in ns. Not while running.
   */
  std::uint64_t step(std::uint64_t steps);

  /**
   * Steps per kernel call the runner uses next for the live step module:
   * 1 for a module not yet measured, then as BatchSizer sizes it. Any thread.
   */
  std::uint64_t batch_steps() const { return batch_steps_.load(std::memory_order_relaxed); }
  /**
   * A restored lattice's live step module goes on in batches of `steps`
   * (clamped to the options), as its predecessor had sized them, instead of
   * ramping up from one step again. At a boundary.
   */
  void resume_batch_steps(std::uint64_t steps);
  const BatchOptions& batch_options() const { return batch_sizer_.options(); }

  /**
   * Calls the live step module's wave_step n times, one step each, with no
   * slot lookup, profiling, trace or boundary check: the "direct call" the
   * runner's overhead is measured against. Not while running.
   */
  std::uint64_t direct_steps(std::uint64_t steps);

  /// The readout slot's readout of the current level, at a boundary.
  Readout readout();

  /// Steps a private copy of the given levels with the live step module; the live state is untouched.
  LevelPair step_copy(const void* previous, const void* current, std::uint64_t steps);

  /**
   * A self-test's calls of one module, not through a slot: `module` steps a
   * private copy of the given levels, or reads `field` out. A kernel host
   * runs them in its workspace; the live state is untouched.
   */
  LevelPair step_copy_with(const KernelModule& module, const void* previous, const void* current, std::uint64_t steps);
  Readout readout_with(const KernelModule& module, const void* field);

  /// Copies of both live levels taken at one boundary: (previous, current).
  std::pair<std::vector<std::byte>, std::vector<std::byte>> copy_levels();

  /**
   * The STREAM triad over this lattice's own memory, at a boundary: the
   * scratch level written from the two time levels, which are only read
   * (scratch is undefined between steps). The roofline of the very pages
   * the kernels stream: on this project's VM, fresh arrays in different
   * processes measured anywhere from 31 to 66 GB/s.
   */
  StreamTriadResult memory_triad(std::uint32_t repetitions);
  /// memory_triad()'s outcome for memory_triad_async(): the result, or null and why it failed.
  using TriadCallback = std::function<void(const StreamTriadResult* triad, const std::string& error)>;
  /**
   * memory_triad() without the caller waiting: on the runner thread, with the
   * core's own pool, and `done` is called there. While a run is active the
   * runner measures at its next boundary (the run waits, as for
   * memory_triad()); with none it starts a run of no steps that measures and
   * ends. So the triad owns the state while it works: every at_boundary()
   * call waits for it, and run(), step() and direct_steps() refuse (a run is
   * active), as they do during a run.
   */
  void memory_triad_async(std::uint32_t repetitions, TriadCallback done);

  /// Which level of the state buffer holds u^n; the other holds u^{n-1}. Only while no run is active.
  std::uint32_t current_index() const { return current_; }
  const void* current_level() const { return state_->level(current_); }
  const void* previous_level() const { return state_->level(1 - current_); }

  /// The live state, for views that must be able to outlive the lattice. Only while no run is active.
  std::shared_ptr<StateBuffer> shared_state() const { return state_; }

  // ------------------------------------------------------------ the runner

  /**
   * Starts stepping on a runner thread; throws std::logic_error if a run is
   * active. `on_snapshot` is called with each snapshot's step once it is
   * ready, `on_cone_probe` with each cone probe's (none taken without it).
   */
  void run(const RunOptions& options, RunEndCallback on_end, SnapshotCallback on_snapshot,
           SnapshotCallback on_cone_probe = nullptr);
  /// Whether a run is active (a paused run is active).
  bool running() const { return runner_.active(); }
  bool paused() { return runner_.paused(); }
  /// The runner holds at the next boundary (still serving boundary work) until resume().
  void pause() { runner_.pause(); }
  void resume() { runner_.resume(); }
  /// Asks the runner to end at the next boundary and waits for it; a no-op when not running.
  void stop() { runner_.stop(); }

  /**
   * Runs `work` between two steps on the runner and returns its result (or
   * rethrows its exception); runs it directly when no run is active. Must not
   * be called from the runner thread.
   */
  template <typename Work>
  auto at_boundary(Work&& work) -> decltype(work()) {
    return runner_.at_boundary(std::forward<Work>(work));
  }
  /**
   * Queues `work` for the runner's next boundary and returns at once; false
   * when no run is active, and the caller, which then owns the state, does
   * the work itself. Work queued during a run always runs, before the run ends.
   */
  bool post_at_boundary(std::function<void()> work) { return runner_.post(std::move(work)); }

  // ------------------------------------------------------------ slots

  /**
   * Makes `module` live in `slot` at the next boundary (now when not
   * running); `done` is called, on the runner thread or this one, after the
   * first step on the new code, or when the run ends first.
   */
  void swap(Slot slot, std::shared_ptr<const KernelModule> module, SwapCallback done);
  /// Same as swap, back to the slot's last-known-good module.
  void rollback(Slot slot, SwapCallback done);

  SlotProfile::Summary profile(Slot slot) const { return profiles_[static_cast<std::size_t>(slot)].summary(); }
  SlotProfile::Counters profile_counters(Slot slot) const {
    return profiles_[static_cast<std::size_t>(slot)].counters();
  }
  /// Goes on from a predecessor's counters (a restart): they are added to this slot's.
  void add_profile_counters(Slot slot, const SlotProfile::Counters& carried) {
    profiles_[static_cast<std::size_t>(slot)].add(carried);
  }
  void reset_profile();

  /**
   * Kernel calls through `slot` (runner steps, step(), step_copy(),
   * readout()) after which the FP environment had to be restored
   * (kernel_call_guard.h). Never reset: the watchdog rolls back on any rise.
   */
  std::uint64_t fp_restores(Slot slot) const {
    return fp_restores_[static_cast<std::size_t>(slot)].load(std::memory_order_relaxed);
  }
  /// Whether kernel calls restore the FP environment (default on); off only to measure what that costs.
  void set_fp_restore(bool enabled);

  // ------------------------------------------------------------ trace

  /// Records up to `capacity` runner steps from now on (0 stops recording), at a boundary.
  void trace_steps(std::size_t capacity) { runner_.trace_steps(capacity); }
  /// The records so far; clears them.
  std::vector<StepRecord> take_trace() { return runner_.take_trace(); }

  // ------------------------------------------------------------ watchdog

  /**
   * The snapshot the runner captured and handed to the watchdog, or nothing.
   * Its memory stays untouched until settle_snapshot() is called.
   */
  std::optional<SnapshotView> pending_snapshot() { return snapshots_.pending(); }
  /// The watchdog's verdict on the pending snapshot of `step`: a verified one becomes the restore point.
  void settle_snapshot(std::uint64_t step, bool verified) { snapshots_.settle(step, verified); }
  /**
   * How the next snapshot is probed for the differential check: after
   * copying both levels at step n the runner runs the next batch as it would
   * anyway (k steps, the live batch size), copies `cells` (flat indices
   * below cells()) of the newest level, u^{n+k}, and only then announces the
   * snapshot. `delayed`: the probe spans two batches, a one-step call and
   * then a live batch, so that the checked batch's start parity (of
   * `current`, and of any call counter) is the watchdog's choice, and
   * one-step calls are checked too. A k-step check costs the oracle a
   * (2k+1)^dims light cone per cell: when `max_cone_values` (0: no limit) is
   * smaller than cells x cone, an evenly spaced subset of the cells is
   * probed. `remainder`: before the live batch the probe also spans a batch
   * of snapshot_every mod k steps (when not 0), the size of the shorter
   * batch that ends every interval at a snapshot step, which otherwise runs
   * only there, never probed. Empty cells (the default): snapshots are not
   * probed.
   */
  void set_probe(std::vector<std::uint64_t> cells, bool delayed, std::uint64_t max_cone_values = 0,
                 bool remainder = false) {
    snapshots_.set_probe(std::move(cells), delayed, max_cone_values, remainder);
  }
  /**
   * The next snapshot is probed at every cell, as set_probe with every index
   * and no cone budget would, but the runner copies the whole newest level
   * after the probed batch(es) (SnapshotView::probe_level) and nobody builds
   * or converts an index list: the watchdog's full check.
   */
  void set_probe_whole_level(bool delayed, bool remainder) { snapshots_.set_probe_whole_level(delayed, remainder); }
  /**
   * No snapshot before `first_step` in the active run (the run's start
   * clears it): the runner skips the snapshot steps below it, copying
   * nothing and cutting no batch there.
   */
  void defer_snapshots(std::uint64_t first_step) { snapshots_.defer_captures(first_step); }
  /**
   * The next cone probe (ConeProbe::arm): while cone probes are on, the
   * runner gathers the light cones of a few cells drawn afresh before every
   * batch, probed or not, and hands the gather to the run's on_cone_probe
   * only when this plan was due at its boundary (the first at or after
   * `at_step`), decided after the batch; a plan `delayed` or `remainder`
   * shapes its batches as a snapshot's probe would. Then `follow`'s probe,
   * if no plan is armed before it begins. At most `cells` cells (seeded by
   * `seed`), their cones within `max_cone_values` values, which also caps
   * every batch (ConeProbe::batch_cap).
   */
  void arm_cone_probe(std::uint64_t cells, std::uint64_t seed, bool delayed, bool remainder, std::uint64_t at_step,
                      std::uint64_t every_steps, std::uint64_t max_cone_values,
                      std::optional<ConeFollow> follow = std::nullopt);
  /// Extra cone probes per step beyond the plan's (ConeProbe::set_take_rate); any thread.
  void set_cone_take_rate(double per_step) { cone_probe_.set_take_rate(per_step); }
  /// The oldest cone probe announced and not yet taken, if any, now taken; its memory stays untouched until settled.
  std::optional<ConeProbeView> ready_cone_probe() { return cone_probe_.ready(); }
  void settle_cone_probe(std::uint64_t step) { cone_probe_.settle(step); }
  WatchdogCounters watchdog_counters() const { return {snapshots_.counters(), cone_probe_.counters()}; }
  /// Most steps in one batch while cone probes are on (ConeProbe::batch_cap; no cap: max).
  std::uint64_t cone_batch_cap() const { return cone_probe_.batch_cap(); }
  /// Step of the last verified snapshot, if any.
  std::optional<std::uint64_t> verified_step() { return snapshots_.verified_step(); }
  /**
   * At a boundary: rolls `slot` back to last-known-good and restores the live
   * state (and step counter) from the last verified snapshot, if there is one.
   */
  RecoveryOutcome recover(Slot slot);

  // ------------------------------------------------------------ kernel hosts (lattice_remote.cpp)

  /// A new workspace memfd sized for this lattice (remote_kernel.h), for one kernel host to map as its fd 5.
  int open_host_workspace() const;
  /**
   * A module whose calls run in the kernel host at the other end of
   * `channel_fd` (its pid `pid`), which has mapped this lattice's state
   * segment and the workspace `workspace_fd` (mapped here too, and closed
   * whatever the outcome); registered process-wide like a loaded module.
   * Needs a segment-backed lattice. A refusal is data, as for KernelModule::load.
   */
  KernelModule::LoadResult connect_remote(int channel_fd, int workspace_fd, pid_t pid, const std::string& path,
                                          std::uint64_t ready_timeout_ms, std::uint64_t step_timeout_ms);
  /**
   * Called on the runner thread when the live step module's kernel host
   * fails, after the runner has recovered as recover() does: the host is
   * dead, the slot back on last-known-good and the state restored from the
   * last verified snapshot (a host may have written a level it never
   * reported). Set only while no run is active.
   */
  void set_host_failure_callback(HostFailureCallback on_failure) { on_host_failure_ = std::move(on_failure); }

  // ------------------------------------------------------------ canary

  /// At a boundary: copies the live levels and names the modules a canary compares.
  CanaryInput prepare_canary(Slot slot, std::shared_ptr<const KernelModule> candidate);
  /**
   * Runs a canary on its copies, on any thread; never touches the live state.
   * Kernels are called as the runner calls them: one step first (so the
   * batches that follow start at the other parity, and one-step calls are
   * compared too), then batches of input.batch_steps, the rest last.
   */
  CanaryOutcome run_canary(const CanaryInput& input, std::uint64_t steps);
  /// Ends every canary prepared on this lattice and not yet finished, before its next kernel call; any thread.
  void cancel_canaries();

 private:
  void copy_in(const void* previous, const void* current);
  /// The triad itself, on the thread that owns the state.
  StreamTriadResult measure_triad(std::uint32_t repetitions);
  /// Stores the step count and current level into the segment header, if there is one; at a boundary.
  void publish_boundary();
  /// One kernel call, its FP environment restored afterwards and counted in `fp_restores`.
  void run_kernel(const KernelModule& module, StateBuffer& buffer, std::uint32_t current, std::uint64_t steps,
                  std::atomic<std::uint64_t>& fp_restores);
  Readout run_readout(const KernelModule& module, const void* field, std::atomic<std::uint64_t>& fp_restores);
  /// A readout in a kernel host: a live level read in place, any other field through the host's workspace.
  RemoteKernel::ReadoutReply remote_readout(RemoteKernel& remote, const void* field, std::int8_t* digits);
  /// The live readout module's host failed (it is dead): the slot goes back to last-known-good, or the first kernel.
  void abandon_readout_host();
  std::atomic<std::uint64_t>& fp_restores_of(Slot slot) { return fp_restores_[static_cast<std::size_t>(slot)]; }
  SwapOutcome apply_swap(Slot slot, const std::shared_ptr<const KernelModule>& module);
  void request_swap(Slot slot, std::shared_ptr<const KernelModule> module, SwapCallback done);

  /// One batch of a run, on the runner; false when the run has reached its target.
  bool runner_step();
  /// The sizer's k (its cap is ConeProbe::batch_cap while cone probes are on): the live batch's length.
  std::uint64_t live_batch() const;
  /// Steps of the batch starting at `index`: the sizer's k, ending no later than the target or next snapshot step.
  std::uint64_t batch_at(std::uint64_t index) const;
  /**
   * Caps the sizer at ConeProbe::batch_cap while the run takes cone probes, lifts the cap otherwise: when a run
   * starts and when a plan moves the cap (arm_cone_probe), on the thread that owns the sizer.
   */
  void cap_batches_for_cone_probes();
  /// A watchdog snapshot of this boundary, announced now or once its probe is taken.
  void capture_snapshot();
  /// After a batch: begins a cone probe of another shape than the plain one when one is due.
  void advance_cone_probe();
  /// The runner's answer to a failed kernel host: recover_now(Step) before any other step, then the callback.
  void abandon_host(const std::string& reason);
  /// recover()'s work, on the thread that owns the state (at a boundary).
  RecoveryOutcome recover_now(Slot slot);

  ouro_geometry geometry_;
  KernelSlots slots_;
  /** The step module the lattice was made with (in-process): where a failed host goes when last-known-good is a failed
   * host too. */
  std::shared_ptr<const KernelModule> base_step_module_;
  std::array<SlotProfile, kSlotCount> profiles_;
  std::array<std::atomic<std::uint64_t>, kSlotCount> fp_restores_{};
  std::atomic<bool> fp_restore_enabled_{true};
  ThreadPool pool_;
  std::shared_ptr<StateBuffer> state_;
  std::uint32_t current_ = 0;
  std::atomic<std::uint64_t> step_count_{0};

  // Set by run() before the runner starts, then the runner's own.
  RunOptions run_options_;
  std::uint64_t run_target_step_ = 0;
  SnapshotCallback on_snapshot_;
  SnapshotCallback on_cone_probe_;
  /// The step of the cone probe the last batch ended, announced at the next boundary once its gather is under way.
  std::optional<std::uint64_t> cone_announce_;
  HostFailureCallback on_host_failure_;
  // Sizes the live step module's batches; the runner's (or step()'s when no run is active).
  BatchSizer batch_sizer_;
  std::uint32_t sized_module_id_ = 0;
  std::atomic<std::uint64_t> batch_steps_{1};

  SnapshotStore snapshots_;
  ConeProbe cone_probe_;
  // The canaries prepared and not yet destroyed, for cancel_canaries(); expired ones are dropped as new ones come.
  std::mutex canaries_mutex_;
  std::vector<std::weak_ptr<CanaryControl>> canaries_;
  // Last, so that it is destroyed first: its thread steps the members above.
  Runner runner_;
};

}  // namespace ouro

#endif

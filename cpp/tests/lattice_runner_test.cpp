// LatticeCore's runner thread: step-boundary work, swaps, rollback, watchdog
// snapshots and canaries.
#include <gtest/gtest.h>

#include "lattice_fixtures.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace ouro {
namespace {

using test::copy_level;
using test::load_kernel;
using test::make_lattice;
using test::random_field;
using test::same_bits;

constexpr std::uint64_t kCells = 12 * 10;
// A latency no batch comes near, so that batch sizes follow from the doubling
// and the caps alone, never from how long a call took on a busy machine.
constexpr BatchOptions kUnboundedLatency{std::uint64_t{1} << 60, 8};

std::unique_ptr<LatticeCore> seeded(std::uint32_t threads = 2) {
  auto lattice = make_lattice<double>({12, 10}, 0.2, threads, kUnboundedLatency);
  lattice->set_state(random_field<double>(kCells, 11).data(), random_field<double>(kCells, 12).data());
  return lattice;
}

std::vector<double> current_of(LatticeCore& lattice) {
  const auto levels = lattice.copy_levels();
  return copy_level<double>(levels.second.data(), kCells);
}

// Starts a run and returns a future of how it ended.
std::future<RunSummary> start(LatticeCore& lattice, RunOptions options = {},
                              LatticeCore::SnapshotCallback on_snapshot = nullptr) {
  auto ended = std::make_shared<std::promise<RunSummary>>();
  lattice.run(
      options, [ended](const RunSummary& summary) { ended->set_value(summary); }, std::move(on_snapshot));
  return ended->get_future();
}

// Swaps and waits until the swap has been reported.
SwapOutcome swap_and_wait(LatticeCore& lattice, Slot slot, std::shared_ptr<const KernelModule> module) {
  std::promise<SwapOutcome> done;
  lattice.swap(slot, std::move(module), [&done](const SwapOutcome& outcome) { done.set_value(outcome); });
  return done.get_future().get();
}

TEST(LatticeRunner, ARunOfNStepsEqualsNDirectSteps) {
  auto running = seeded();
  auto direct = seeded();
  const RunSummary summary = start(*running, {37, 0}).get();
  running->stop();
  direct->step(37);
  EXPECT_EQ(summary.steps_run, 37u);
  EXPECT_EQ(summary.start_step, 0u);
  EXPECT_EQ(summary.end_step, 37u);
  EXPECT_TRUE(summary.error.empty());
  EXPECT_EQ(running->step_count(), 37u);
  EXPECT_TRUE(same_bits(current_of(*running), current_of(*direct)));
}

TEST(LatticeRunner, StepRefusesWhileRunningAndBoundaryWorkIsServed) {
  auto lattice = seeded();
  auto ended = start(*lattice);
  EXPECT_TRUE(lattice->running());
  EXPECT_THROW(lattice->step(1), std::logic_error);
  const std::uint64_t before = lattice->step_count();
  const Readout readout = lattice->readout();
  EXPECT_EQ(readout.digits.size(), kCells);
  const std::uint64_t seen = lattice->at_boundary([&] { return lattice->step_count(); });
  EXPECT_GE(seen, before);
  lattice->stop();
  EXPECT_FALSE(lattice->running());
  EXPECT_EQ(ended.get().end_step, lattice->step_count());
  lattice->step(1);  // works again once stopped
}

TEST(LatticeRunner, PauseHoldsTheCounterAndResumeContinues) {
  auto lattice = seeded();
  auto ended = start(*lattice);
  lattice->pause();
  // The pause takes effect at the next boundary; boundary work still runs while paused.
  const std::uint64_t held = lattice->at_boundary([&] { return lattice->step_count(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(lattice->paused());
  EXPECT_EQ(lattice->step_count(), held);
  lattice->resume();
  while (lattice->step_count() < held + 5) std::this_thread::yield();
  lattice->stop();
  ended.get();
}

TEST(LatticeRunner, SwapsBetweenTwinsAtEveryFewStepsChangeNoBit) {
  auto swapped = seeded();
  auto plain = seeded();
  const auto reference = swapped->live_module(Slot::Step);
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  // Runs until stopped: with a step budget, a preempted test thread could find the run already over.
  auto ended = start(*swapped);
  std::uint64_t last_applied = 0;
  for (std::uint64_t swaps = 0; swaps < 100; ++swaps) {
    const SwapOutcome outcome = swap_and_wait(*swapped, Slot::Step, swaps % 2 == 0 ? twin : reference);
    ASSERT_TRUE(outcome.first_step_ran) << swaps;
    EXPECT_EQ(outcome.to_id, (swaps % 2 == 0 ? twin : reference)->id());
    EXPECT_GE(outcome.applied_at_step, last_applied);
    last_applied = outcome.applied_at_step;
  }
  swapped->stop();
  ended.get();
  plain->step(swapped->step_count());
  EXPECT_GT(swapped->step_count(), last_applied);
  EXPECT_TRUE(same_bits(current_of(*swapped), current_of(*plain)));
}

// The runner is held inside its snapshot callback, between two steps, for as
// long as the test likes: a read of the slots must answer all the same (a
// display asks every second, and a reference step at 4096^2 on a loaded
// machine takes seconds). Before, each read waited for the next boundary, and
// this test hung until ctest's timeout.
TEST(LatticeRunner, SlotsAreReadWithoutWaitingForAStepBoundary) {
  auto lattice = seeded();
  const auto reference = lattice->live_module(Slot::Step);
  std::promise<void> held;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  auto ended = start(*lattice, {0, 4}, [&](std::uint64_t) {
    if (!first.exchange(false)) return;
    held.set_value();
    released.wait();
  });
  held.get_future().wait();
  // Read while the runner is held: a read that waited for the next boundary would never return.
  const auto live = lattice->live_module(Slot::Step);
  const auto last_known_good = lattice->last_known_good(Slot::Readout);
  release.set_value();
  EXPECT_EQ(live, reference);
  EXPECT_EQ(last_known_good, reference);
  lattice->stop();
  ended.get();
}

TEST(LatticeRunner, SwapWhenNotRunningAppliesAtOnceAndRollbackReturnsToLastKnownGood) {
  auto lattice = seeded();
  const auto reference = lattice->live_module(Slot::Step);
  const auto rows = load_kernel(test::rows_kernel_path());
  const SwapOutcome swapped = swap_and_wait(*lattice, Slot::Step, rows);
  EXPECT_FALSE(swapped.first_step_ran);
  EXPECT_EQ(swapped.from_name, "reference");
  EXPECT_EQ(swapped.to_name, "rows");
  EXPECT_EQ(lattice->live_module(Slot::Step), rows);
  EXPECT_EQ(lattice->live_module(Slot::Readout), reference);
  std::promise<SwapOutcome> rolled;
  lattice->rollback(Slot::Step, [&rolled](const SwapOutcome& outcome) { rolled.set_value(outcome); });
  EXPECT_EQ(rolled.get_future().get().to_name, "reference");
  EXPECT_EQ(lattice->live_module(Slot::Step), reference);
}

TEST(LatticeRunner, TraceRecordsEveryBatchOnceInOrder) {
  auto lattice = seeded();
  lattice->trace_steps(1000);
  start(*lattice, {50, 0}).get();
  lattice->stop();
  const std::vector<StepRecord> trace = lattice->take_trace();
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < trace.size(); ++i) {
    EXPECT_EQ(trace[i].step, next);
    EXPECT_GE(trace[i].steps, 1u);
    next += trace[i].steps;
    EXPECT_LE(trace[i].start_ns, trace[i].end_ns);
    if (i > 0) {
      EXPECT_LE(trace[i - 1].end_ns, trace[i].start_ns);
    }
  }
  EXPECT_EQ(next, 50u);
}

// (first step, steps) of each batch in a trace.
std::vector<std::pair<std::uint64_t, std::uint64_t>> batches_of(const std::vector<StepRecord>& trace) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> batches;
  for (const StepRecord& record : trace) batches.emplace_back(record.step, record.steps);
  return batches;
}

TEST(LatticeRunner, BatchesGrowFromOneStepAndEndExactlyAtSnapshotAndTargetSteps) {
  auto batched = seeded();
  auto plain = seeded();
  batched->trace_steps(1000);
  const RunSummary summary = start(*batched, {37, 10}).get();
  batched->stop();
  // 1, 2, 4, then 8 (the maximum), each cut to end at a multiple of 10 or at 37.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected{{0, 1},  {1, 2},  {3, 4},  {7, 3}, {10, 8},
                                                                      {18, 2}, {20, 8}, {28, 2}, {30, 7}};
  EXPECT_EQ(batches_of(batched->take_trace()), expected);
  EXPECT_EQ(summary.steps_run, 37u);
  EXPECT_EQ(batched->step_count(), 37u);
  EXPECT_EQ(batched->current_index(), 37u % 2);
  for (std::uint64_t s = 0; s < 37; ++s) plain->step(1);
  EXPECT_TRUE(same_bits(current_of(*batched), current_of(*plain)));
  const SlotProfile::Summary profile = batched->profile(Slot::Step);
  EXPECT_EQ(profile.steps, 37u);
  EXPECT_EQ(profile.calls, expected.size());
}

TEST(LatticeRunner, ADeferredSnapshotIsNeitherTakenNorCutForBeforeItsStep) {
  auto lattice = seeded();
  lattice->trace_steps(1000);
  std::vector<std::uint64_t> announced;
  // The callback runs on the runner: the deferral holds from the first batch on.
  const RunSummary summary = start(*lattice, {57, 10}, [&](std::uint64_t step) {
                               announced.push_back(step);
                               if (step == 0) lattice->defer_snapshots(31);
                               lattice->settle_snapshot(step, true);
                             }).get();
  lattice->stop();
  EXPECT_EQ(announced, (std::vector<std::uint64_t>{0, 40, 50}));
  // No batch ends at 10, 20 or 30; the one before 40 is cut to end there.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected{
      {0, 1}, {1, 2}, {3, 4}, {7, 8}, {15, 8}, {23, 8}, {31, 8}, {39, 1}, {40, 8}, {48, 2}, {50, 7}};
  EXPECT_EQ(batches_of(lattice->take_trace()), expected);
  EXPECT_EQ(summary.steps_run, 57u);
}

TEST(LatticeRunner, ASwapEndsADeferralSoTheNewCodeIsCheckedAtTheNextSnapshotStep) {
  auto lattice = seeded();
  std::promise<std::uint64_t> second;
  std::atomic<int> announced{0};
  auto ended = start(*lattice, {0, 10}, [&](std::uint64_t step) {
    if (announced++ == 0) lattice->defer_snapshots(std::uint64_t{1} << 60);
    if (announced == 2) second.set_value(step);
    lattice->settle_snapshot(step, true);
  });
  const SwapOutcome swapped = swap_and_wait(*lattice, Slot::Step, load_kernel(test::reference_twin_kernel_path()));
  auto next = second.get_future();
  // Only the swap can end a deferral of 2^60 steps; the guard against a hang is far beyond any machine's pace.
  ASSERT_EQ(next.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  lattice->stop();
  ended.get();
  const std::uint64_t step = next.get();
  EXPECT_EQ(step % 10, 0u);
  EXPECT_GT(step, swapped.applied_at_step);
  EXPECT_LE(step, swapped.applied_at_step + 10);
}

TEST(LatticeRunner, ANewModuleStartsAgainAtOneStep) {
  auto lattice = seeded();
  lattice->step(20);  // calls of 8, 8 and 4: the sizer is at 8 now
  EXPECT_EQ(lattice->batch_steps(), 8u);
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  swap_and_wait(*lattice, Slot::Step, twin);
  lattice->trace_steps(100);
  start(*lattice, {7, 0}).get();
  lattice->stop();
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected{{20, 1}, {21, 2}, {23, 4}};
  EXPECT_EQ(batches_of(lattice->take_trace()), expected);
}

TEST(LatticeRunner, StepSplitsALongAdvanceIntoCallsOfAtMostTheMaximumBatch) {
  auto lattice = seeded();
  auto plain = seeded();
  lattice->reset_profile();
  lattice->step(21);
  EXPECT_EQ(lattice->profile(Slot::Step).calls, 3u);
  EXPECT_EQ(lattice->profile(Slot::Step).steps, 21u);
  EXPECT_EQ(lattice->step_count(), 21u);
  for (std::uint64_t s = 0; s < 21; ++s) plain->step(1);
  EXPECT_TRUE(same_bits(current_of(*lattice), current_of(*plain)));
}

TEST(BatchSizer, TakesTheStepsThatFitTheLatencyGrowingAtMostTwofold) {
  BatchSizer sizer({100'000, 64});
  EXPECT_EQ(sizer.next(), 1u);
  sizer.record(1'000, 1);  // 1 us per step: 100 would fit, but it doubles first
  EXPECT_EQ(sizer.next(), 2u);
  sizer.record(2'000, 2);
  EXPECT_EQ(sizer.next(), 4u);
  sizer.record(4'000, 4);
  sizer.record(8'000, 8);
  sizer.record(16'000, 16);
  sizer.record(32'000, 32);
  EXPECT_EQ(sizer.next(), 64u);  // the maximum
  sizer.record(64'000, 64);
  EXPECT_EQ(sizer.next(), 64u);
  sizer.record(64 * 30'000, 64);  // 30 us per step now: 3 fit
  EXPECT_EQ(sizer.next(), 3u);
  sizer.record(3 * 200'000, 3);  // slower than the latency: never below one
  EXPECT_EQ(sizer.next(), 1u);
  sizer.record(10'000, 1);
  sizer.restart();
  EXPECT_EQ(sizer.next(), 1u);
}

TEST(LatticeRunner, RecoverRestoresTheVerifiedSnapshotAndRollsBack) {
  auto lattice = seeded();
  auto oracle_run = seeded();
  const auto reference = lattice->live_module(Slot::Step);
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  swap_and_wait(*lattice, Slot::Step, twin);
  // Verify every snapshot the runner hands out, from this test's thread.
  std::vector<std::uint64_t> offered;
  std::mutex offered_mutex;
  auto ended = start(*lattice, {60, 10}, [&](std::uint64_t step) {
    std::lock_guard<std::mutex> lock(offered_mutex);
    offered.push_back(step);
  });
  ended.get();
  lattice->stop();
  {
    std::lock_guard<std::mutex> lock(offered_mutex);
    ASSERT_FALSE(offered.empty());
    EXPECT_EQ(offered.front(), 0u);
  }
  const std::optional<SnapshotView> pending = lattice->pending_snapshot();
  ASSERT_TRUE(pending.has_value());
  const std::uint64_t verified_at = pending->step;
  lattice->settle_snapshot(verified_at, true);
  EXPECT_EQ(lattice->verified_step(), verified_at);
  lattice->step(7);

  const RecoveryOutcome recovered = lattice->recover(Slot::Step);
  EXPECT_EQ(recovered.restored_step, verified_at);
  EXPECT_EQ(recovered.rollback.to_id, reference->id());
  EXPECT_EQ(lattice->step_count(), verified_at);
  oracle_run->step(verified_at);
  EXPECT_TRUE(same_bits(current_of(*lattice), current_of(*oracle_run)));
}

TEST(LatticeRunner, AProbedSnapshotHoldsTheProbedCellsAfterTheLiveBatch) {
  for (const bool delayed : {false, true}) {
    auto lattice = seeded();
    auto stepped = seeded();
    lattice->step(20);  // the sizer is at 8 steps per batch now
    const std::vector<std::uint64_t> cells{0, 7, 42, kCells - 1};
    lattice->set_probe(cells, delayed);
    lattice->trace_steps(100);
    std::vector<std::uint64_t> offered;
    std::mutex offered_mutex;
    // Announced only once the probe is taken, after the live batch of 8 (after one step and then 8 when delayed).
    auto ended = start(*lattice, {12, 100}, [&](std::uint64_t step) {
      std::lock_guard<std::mutex> lock(offered_mutex);
      offered.push_back(step);
    });
    ended.get();
    lattice->stop();
    const auto expected = delayed ? std::vector<std::pair<std::uint64_t, std::uint64_t>>{{20, 1}, {21, 8}, {29, 3}}
                                  : std::vector<std::pair<std::uint64_t, std::uint64_t>>{{20, 8}, {28, 4}};
    EXPECT_EQ(batches_of(lattice->take_trace()), expected);
    EXPECT_EQ(offered, std::vector<std::uint64_t>{20});
    const std::optional<SnapshotView> pending = lattice->pending_snapshot();
    ASSERT_TRUE(pending.has_value());
    ASSERT_EQ(*pending->probe_cells, cells);
    const std::uint64_t probe_steps = delayed ? 9 : 8;
    EXPECT_EQ(pending->probe_steps, probe_steps);
    stepped->step(20);
    EXPECT_TRUE(same_bits(copy_level<double>(pending->current, kCells), current_of(*stepped)));
    stepped->step(probe_steps);
    const std::vector<double> after = current_of(*stepped);
    const std::vector<double> probed = copy_level<double>(pending->probe_values, cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) EXPECT_EQ(probed[i], after[cells[i]]) << "cell " << cells[i];
  }
}

TEST(LatticeRunner, ARemainderProbeChecksABatchOfTheSizeThatEndsEachInterval) {
  for (const bool delayed : {false, true}) {
    auto lattice = seeded();
    auto stepped = seeded();
    lattice->step(20);  // the sizer is at 8 steps per batch now
    const std::vector<std::uint64_t> cells{0, 7, 42, kCells - 1};
    lattice->set_probe(cells, delayed, 0, true);
    lattice->trace_steps(100);
    // Snapshots every 20 steps: 20 mod 8 = 4, the batch that ends an interval. The probe runs one like it
    // (after the one-step batch when delayed), then the live batch of 8; the snapshot at 40 is skipped
    // while the one at 20 is out.
    auto ended = start(*lattice, {30, 20}, [](std::uint64_t) {});
    ended.get();
    lattice->stop();
    using Batches = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
    const Batches expected = delayed ? Batches{{20, 1}, {21, 4}, {25, 8}, {33, 7}, {40, 8}, {48, 2}}
                                     : Batches{{20, 4}, {24, 8}, {32, 8}, {40, 8}, {48, 2}};
    EXPECT_EQ(batches_of(lattice->take_trace()), expected);
    const std::optional<SnapshotView> pending = lattice->pending_snapshot();
    ASSERT_TRUE(pending.has_value());
    EXPECT_EQ(pending->step, 20u);
    const std::uint64_t probe_steps = delayed ? 13 : 12;
    EXPECT_EQ(pending->probe_steps, probe_steps);
    stepped->step(20 + probe_steps);
    const std::vector<double> after = current_of(*stepped);
    const std::vector<double> probed = copy_level<double>(pending->probe_values, cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) EXPECT_EQ(probed[i], after[cells[i]]) << "cell " << cells[i];
  }
}

TEST(LatticeRunner, ARemainderProbeIsAnOrdinaryOneWhereTheBatchSizeDividesTheInterval) {
  auto lattice = seeded();
  lattice->step(20);  // 8 steps per batch, which divides the interval of 16 below
  lattice->set_probe({3}, false, 0, true);
  lattice->trace_steps(100);
  auto ended = start(*lattice, {12, 16}, [](std::uint64_t) {});
  ended.get();
  lattice->stop();
  EXPECT_EQ(batches_of(lattice->take_trace()),
            (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{20, 8}, {28, 4}}));
  ASSERT_TRUE(lattice->pending_snapshot().has_value());
  EXPECT_EQ(lattice->pending_snapshot()->probe_steps, 8u);
}

TEST(LatticeRunner, AProbeOfALongBatchKeepsAnEvenlySpacedShareOfItsCells) {
  auto lattice = seeded();
  lattice->step(20);
  // A batch of 8 steps on a 2-D lattice: a cone of 17^2 values per cell, room for two.
  lattice->set_probe({1, 5, 9, 13}, false, 2 * 17 * 17);
  auto ended = start(*lattice, {8, 100}, [](std::uint64_t) {});
  ended.get();
  lattice->stop();
  const std::optional<SnapshotView> pending = lattice->pending_snapshot();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->probe_steps, 8u);
  EXPECT_EQ(*pending->probe_cells, (std::vector<std::uint64_t>{1, 9}));
}

TEST(LatticeRunner, ConeProbesGatherTheSameBeforeEveryBatchAndCapEveryBatch) {
  auto lattice = seeded();
  // A budget of 50 values: one cone of 7^2 fits, 9^2 does not, so every batch is capped at 3 steps, not the sizer's 8.
  lattice->arm_cone_probe(4, 1, false, false, 30, 10, 50);
  lattice->trace_steps(100);
  std::vector<std::uint64_t> announced;
  auto ended = std::make_shared<std::promise<RunSummary>>();
  lattice->run(
      {60, 0}, [ended](const RunSummary& summary) { ended->set_value(summary); }, nullptr,
      [&announced](std::uint64_t step) { announced.push_back(step); });
  ended->get_future().get();
  lattice->stop();
  EXPECT_EQ(announced, std::vector<std::uint64_t>{30});
  const std::vector<StepRecord> trace = lattice->take_trace();
  ASSERT_FALSE(trace.empty());
  // Once the sizer has ramped up (1, 2, then the cap), every batch has 3 steps and the same gather before it.
  std::uint64_t probed = 0;
  for (const StepRecord& record : trace) {
    EXPECT_LE(record.steps, 3u);
    EXPECT_GT(record.cone_values, 0u);
    if (record.step < 3) continue;
    EXPECT_EQ(record.steps, 3u);
    EXPECT_EQ(record.cone_values, trace.back().cone_values);
    EXPECT_EQ(record.cone_probed, record.step == 30);
    probed += record.cone_probed ? 1 : 0;
  }
  EXPECT_EQ(probed, 1u);
  EXPECT_EQ(lattice->cone_batch_cap(), 3u);
  EXPECT_EQ(lattice->watchdog_counters().cones.boundaries, trace.size());
}

TEST(LatticeRunner, ASnapshotWhoseProbeIsCutShortIsNeverAnnounced) {
  auto lattice = seeded();
  // Delayed: a one-step batch and then another, but the one-step run ends before the second.
  lattice->set_probe({3}, true);
  std::atomic<int> offered{0};
  auto ended = start(*lattice, {1, 100}, [&](std::uint64_t) { offered.fetch_add(1); });
  ended.get();
  lattice->stop();
  EXPECT_EQ(offered.load(), 0);
  EXPECT_FALSE(lattice->pending_snapshot().has_value());
  EXPECT_THROW(lattice->set_probe({kCells}, false), std::invalid_argument);
}

TEST(LatticeRunner, CanaryCallsKernelsAsTheRunnerDoes) {
  // Large enough for the misbehaving kernels to misbehave (256 cells).
  auto lattice = make_lattice<double>({20, 20}, 0.2, 2, kUnboundedLatency);
  lattice->set_state(random_field<double>(400, 3).data(), random_field<double>(400, 4).data());
  lattice->step(20);
  ASSERT_EQ(lattice->batch_steps(), 8u);
  // 20 steps in calls of 1, 8, 8 and 3: a one-step call, live batches, and an odd batch.
  for (const char* name : {"WrongWhenBatched", "WrongWhenSingle", "WrongOnOddBatches"}) {
    const auto wrong = load_kernel(test::test_kernel_path(std::string("misbehaving_") + name));
    const CanaryOutcome outcome = lattice->run_canary(lattice->prepare_canary(Slot::Step, wrong), 20);
    EXPECT_GT(outcome.max_abs_difference, 1e-6) << name;
  }
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  EXPECT_EQ(lattice->run_canary(lattice->prepare_canary(Slot::Step, twin), 20).max_abs_difference, 0.0);
}

TEST(LatticeRunner, CanaryComparesOnCopiesAndLeavesTheLiveStateAlone) {
  auto lattice = seeded();
  lattice->step(3);
  const std::vector<double> before = current_of(*lattice);
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  const auto rows = load_kernel(test::rows_kernel_path());
  const CanaryOutcome same = lattice->run_canary(lattice->prepare_canary(Slot::Step, twin), 20);
  EXPECT_EQ(same.max_abs_difference, 0.0);
  const CanaryOutcome close = lattice->run_canary(lattice->prepare_canary(Slot::Step, rows), 20);
  EXPECT_GT(close.max_abs_difference, 0.0);
  EXPECT_LT(close.max_abs_difference, 1e-12);
  EXPECT_TRUE(same_bits(current_of(*lattice), before));
  EXPECT_EQ(lattice->step_count(), 3u);
}

TEST(LatticeRunner, CancelledCanaryEndsBetweenKernelCallsAndSaysSo) {
  auto lattice = seeded();
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  const CanaryInput input = lattice->prepare_canary(Slot::Step, twin);
  // More steps than any test would wait for: only the cancel can end it.
  constexpr std::uint64_t kEndlessSteps = std::uint64_t{1} << 50;
  auto canary = std::async(std::launch::async, [&] { return lattice->run_canary(input, kEndlessSteps); });
  while (input.control->steps_done.load() == 0) std::this_thread::yield();
  lattice->cancel_canaries();
  const CanaryOutcome outcome = canary.get();
  EXPECT_TRUE(outcome.cancelled);
  EXPECT_GT(outcome.steps_done, 0u);
  EXPECT_LT(outcome.steps_done, kEndlessSteps);
  EXPECT_EQ(outcome.steps_done, input.control->steps_done.load());
  // A cancel ends the canaries prepared before it, not those prepared after.
  const CanaryOutcome next = lattice->run_canary(lattice->prepare_canary(Slot::Step, twin), 20);
  EXPECT_FALSE(next.cancelled);
  EXPECT_EQ(next.steps_done, 20u);
  EXPECT_EQ(next.max_abs_difference, 0.0);
}

TEST(LatticeRunner, ProfilesEveryStepAndReadout) {
  auto lattice = seeded();
  lattice->reset_profile();
  lattice->step(5);
  start(*lattice, {10, 0}).get();
  lattice->stop();
  lattice->readout();
  const SlotProfile::Summary step = lattice->profile(Slot::Step);
  // step(5) in one call; after it the sizer is at 2 steps: the run takes 2, 4 and 4.
  EXPECT_EQ(step.calls, 4u);
  EXPECT_EQ(step.steps, 15u);
  EXPECT_GT(step.total_ns, 0u);
  EXPECT_EQ(lattice->profile(Slot::Readout).calls, 1u);
}

}  // namespace
}  // namespace ouro

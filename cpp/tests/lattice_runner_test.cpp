// LatticeCore's runner thread: runs, step-boundary work, pause, swaps and
// rollback, the step trace, batch sizes and the profile. Its watchdog
// snapshots are in lattice_snapshot_test.cpp, its canaries in
// lattice_canary_test.cpp.
#include <gtest/gtest.h>

#include "lattice_runner_fixtures.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace ouro::test {
namespace {

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
}  // namespace ouro::test

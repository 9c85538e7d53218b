#include "core/batch_sizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ouro {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

/// Feeds the sizer full batches of its settled size, each taking `per_step_ns` per step; it must not move.
void settle(BatchSizer& sizer, std::uint64_t batches, std::uint64_t per_step_ns) {
  const std::uint64_t steps = sizer.next();
  for (std::uint64_t i = 0; i < batches; ++i) {
    ASSERT_EQ(sizer.next(), steps) << "moved after " << i << " batches at its settled size";
    sizer.record(per_step_ns * steps, steps);
  }
}

/**
 * Runs the trial under way to its verdict: the longer size first, then the
 * two alternately, kSamples of each, the shorter taking `shorter_ns` per
 * step and the longer `longer_ns`.
 */
void run_trial(BatchSizer& sizer, std::uint64_t shorter_ns, std::uint64_t longer_ns) {
  const std::uint64_t longer = sizer.next();
  ASSERT_GE(longer, 2u);
  const std::uint64_t shorter = longer / 2;
  for (std::uint64_t i = 0; i < 2 * BatchSizer::kSamples; ++i) {
    const std::uint64_t steps = sizer.next();
    ASSERT_EQ(steps, i % 2 == 0 ? longer : shorter)
        << "batch " << i << " of the trial of " << shorter << " against " << longer;
    sizer.record((steps == longer ? longer_ns : shorter_ns) * steps, steps);
  }
}

TEST(BatchSizer, GrowsBeyondTheLatencyWhileLongerBatchesAreFasterPerStep) {
  // 8192^2 on two cores: 84 ms a step alone, a fusing kernel faster per step in longer batches.
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);  // the latency allows 1 step: try 2
  EXPECT_EQ(sizer.next(), 2u);
  run_trial(sizer, 84 * kMs, 50 * kMs);  // paid: keep 2, try 4
  EXPECT_EQ(sizer.next(), 4u);
  run_trial(sizer, 50 * kMs, 33 * kMs);
  EXPECT_EQ(sizer.next(), 8u);
  run_trial(sizer, 33 * kMs, 22 * kMs);  // 8 x 22 ms = 176 ms; 16 x 22 = 352 ms is within 8 x 50 ms: try it
  EXPECT_EQ(sizer.next(), 16u);
  run_trial(sizer, 22 * kMs, 21 * kMs);  // less than a tenth faster: back to 8
  EXPECT_EQ(sizer.next(), 8u);
  EXPECT_EQ(sizer.grown(), 8u);
  settle(sizer, BatchSizer::kFirstRetry, 22 * kMs);
  // Then 8 is judged again against 4, and, still paying, 16 is tried once more.
  settle(sizer, 1, 22 * kMs);
  EXPECT_EQ(sizer.next(), 8u);
  run_trial(sizer, 33 * kMs, 22 * kMs);
  EXPECT_EQ(sizer.next(), 16u);
}

TEST(BatchSizer, ATrialComparesTheTwoSizesInTurnSoADriftInLoadIsNoGain) {
  // The machine grows less busy through the trial, 6% a batch, and longer batches gain nothing: measured one size
  // after the other, the longer would have looked 17% faster.
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  double per_step_ns = 84.0 * kMs;
  for (std::uint64_t i = 0; i < 2 * BatchSizer::kSamples; ++i) {
    const std::uint64_t steps = sizer.next();
    sizer.record(static_cast<std::uint64_t>(per_step_ns) * steps, steps);
    per_step_ns *= 0.94;
  }
  EXPECT_EQ(sizer.next(), 1u);
  EXPECT_EQ(sizer.grown(), 0u);
}

TEST(BatchSizer, OneBatchSlowedByABurstDoesNotDecideATrial) {
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  // The longer size: 80 ms a step each time; the shorter 84, 84 and one batch of 300 (a compile next door).
  const std::uint64_t shorter_ns[] = {84 * kMs, 300 * kMs, 84 * kMs};
  for (std::uint64_t i = 0; i < BatchSizer::kSamples; ++i) {
    sizer.record(2 * 80 * kMs, 2);
    ASSERT_EQ(sizer.next(), 1u);
    sizer.record(shorter_ns[i], 1);
  }
  EXPECT_EQ(sizer.next(), 1u) << "80 ms is not a tenth below the shorter size's median of 84";
}

TEST(BatchSizer, AKeptSizeThatNoLongerPaysIsGivenUp) {
  // A kernel that fuses nothing: one trial that a busy machine made look better keeps 2 steps, but only until the
  // retry, when 2 is judged again against 1 and loses.
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  run_trial(sizer, 84 * kMs, 70 * kMs);
  ASSERT_EQ(sizer.grown(), 2u);
  ASSERT_EQ(sizer.next(), 4u);
  run_trial(sizer, 84 * kMs, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  ASSERT_EQ(sizer.grown(), 2u);
  settle(sizer, BatchSizer::kFirstRetry + 1, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);  // the trial of 1 against 2, the longer first
  run_trial(sizer, 84 * kMs, 84 * kMs);
  EXPECT_EQ(sizer.next(), 1u);
  EXPECT_EQ(sizer.grown(), 0u);
  // And it waits twice as long before trying 2 again.
  settle(sizer, 2 * BatchSizer::kFirstRetry, 84 * kMs);
  settle(sizer, 1, 84 * kMs);
  EXPECT_EQ(sizer.next(), 2u);
}

TEST(BatchSizer, AKernelThatDoesNotFuseStepsIsTriedLessAndLessOften) {
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  std::uint64_t wait = BatchSizer::kFirstRetry;
  for (int trial = 0; trial < 8; ++trial) {
    run_trial(sizer, 84 * kMs, 84 * kMs);  // no faster per step: back to 1
    ASSERT_EQ(sizer.next(), 1u);
    EXPECT_EQ(sizer.grown(), 0u);
    for (std::uint64_t i = 0; i < wait; ++i) {
      sizer.record(84 * kMs, 1);
      ASSERT_EQ(sizer.next(), 1u) << "tried again after " << i + 1 << " batches, not " << wait;
    }
    settle(sizer, 1, 84 * kMs);
    ASSERT_EQ(sizer.next(), 2u);
    wait = std::min(2 * wait, BatchSizer::kLastRetry);
  }
}

TEST(BatchSizer, NeverTriesABatchLongerThanTheGrowthCeiling) {
  BatchSizer sizer({50 * kMs, 64});
  // 250 ms a step: two would take 500 ms, past 8 x 50 ms = 400 ms.
  settle(sizer, 1, 250 * kMs);
  EXPECT_EQ(sizer.next(), 1u);
  // A tried size that overruns the ceiling in one batch ends the trial at once.
  BatchSizer overrun({50 * kMs, 64});
  settle(overrun, 1, 150 * kMs);
  ASSERT_EQ(overrun.next(), 2u);
  overrun.record(2 * 250 * kMs, 2);
  EXPECT_EQ(overrun.next(), 1u);
}

TEST(BatchSizer, BatchesCutShortAreNoSampleOfTheSizeTried) {
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  sizer.record(2 * 300 * kMs, 3);  // a batch cut to another length, slow: says nothing about 2
  EXPECT_EQ(sizer.next(), 2u);
  run_trial(sizer, 84 * kMs, 50 * kMs);
  EXPECT_EQ(sizer.next(), 4u);
}

TEST(BatchSizer, AKeptSizeThatOverrunsTheCeilingFallsBackToTheLatency) {
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  run_trial(sizer, 84 * kMs, 50 * kMs);
  ASSERT_EQ(sizer.next(), 4u);
  run_trial(sizer, 50 * kMs, 48 * kMs);  // not a tenth faster: 2 is kept beyond the latency
  ASSERT_EQ(sizer.next(), 2u);
  ASSERT_EQ(sizer.grown(), 2u);
  sizer.record(2 * 300 * kMs, 2);  // the machine got busy: 600 ms, past the ceiling
  EXPECT_EQ(sizer.next(), 1u);
  EXPECT_EQ(sizer.grown(), 0u);
  for (int i = 0; i < 10; ++i) sizer.record(84 * kMs, 1);
  EXPECT_EQ(sizer.next(), 1u);  // waits before trying again
  sizer.restart();
  settle(sizer, 1, 84 * kMs);
  EXPECT_EQ(sizer.next(), 2u);  // a new module is measured afresh
}

TEST(BatchSizer, ACapIsTheLargestSizeItTriesAndJudges) {
  // The cone probes' cap of 3-D at the default budget: 31 steps. A fusing kernel grows to the cap and stops there.
  BatchSizer sizer({50 * kMs, 64});
  sizer.set_cap(31);
  settle(sizer, 1, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  run_trial(sizer, 84 * kMs, 50 * kMs);
  ASSERT_EQ(sizer.next(), 4u);
  run_trial(sizer, 50 * kMs, 30 * kMs);
  ASSERT_EQ(sizer.next(), 8u);
  run_trial(sizer, 30 * kMs, 18 * kMs);
  ASSERT_EQ(sizer.next(), 16u);
  // 32 would be over the cap: no trial is begun, and every batch of 16 is a whole one the sizer measures.
  run_trial(sizer, 18 * kMs, 11 * kMs);
  EXPECT_EQ(sizer.next(), 16u);
  EXPECT_EQ(sizer.grown(), 16u);
  for (std::uint64_t i = 0; i < 4 * BatchSizer::kLastRetry; ++i) {
    const std::uint64_t steps = sizer.next();
    sizer.record(steps * (steps == 16 ? 11 : 18) * kMs, steps);
    ASSERT_LE(sizer.next(), 31u) << "after " << i + 1 << " batches";
  }
  EXPECT_EQ(sizer.grown(), 16u) << "16 still pays against 8 at every retry";
}

TEST(BatchSizer, ALoweredCapEndsATrialAboveItAndTheSizeGoesOnFromBelow) {
  BatchSizer sizer({50 * kMs, 64});
  settle(sizer, 1, 84 * kMs);
  run_trial(sizer, 84 * kMs, 50 * kMs);
  run_trial(sizer, 50 * kMs, 33 * kMs);
  ASSERT_EQ(sizer.next(), 8u);  // trying 8 against 4
  sizer.set_cap(6);
  EXPECT_EQ(sizer.next(), 4u);  // the trial is over: back to its shorter size
  sizer.set_cap(3);
  EXPECT_EQ(sizer.next(), 3u);
  // The plain rule stays within the cap: a step of 1 ms would allow 50.
  for (int i = 0; i < 10; ++i) sizer.record(3 * kMs, sizer.next());
  EXPECT_EQ(sizer.next(), 3u);
  // Lifted: the sizer grows again from there.
  sizer.set_cap(std::numeric_limits<std::uint64_t>::max());
  sizer.record(3 * kMs, 3);
  EXPECT_EQ(sizer.next(), 6u);
}

TEST(BatchSizer, WithinTheLatencyNothingChanges) {
  // Small lattices reach max_steps within the latency: no trial beyond it.
  BatchSizer sizer({50 * kMs, 64});
  for (std::uint64_t steps = 1; steps < 64; steps *= 2) sizer.record(steps * 1000, steps);
  EXPECT_EQ(sizer.next(), 64u);
  for (int i = 0; i < 10; ++i) sizer.record(64 * 1000, 64);
  EXPECT_EQ(sizer.next(), 64u);
  EXPECT_EQ(sizer.grown(), 0u);
}

}  // namespace
}  // namespace ouro

#include "core/batch_sizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ouro {
namespace {

constexpr std::uint64_t kMs = 1'000'000;

/// Feeds the sizer kSamples full batches of its own size, each taking `per_step_ns` per step.
void sample_size(BatchSizer& sizer, std::uint64_t per_step_ns) {
  const std::uint64_t steps = sizer.next();
  for (std::uint64_t i = 0; i < BatchSizer::kSamples; ++i) {
    ASSERT_EQ(sizer.next(), steps) << "the size changed while it was being sampled";
    sizer.record(per_step_ns * steps, steps);
  }
}

TEST(BatchSizer, GrowsBeyondTheLatencyWhileLongerBatchesAreFasterPerStep) {
  // 8192^2 on two cores: 84 ms a step alone, a fusing kernel faster per step in longer batches.
  BatchSizer sizer({50 * kMs, 64});
  sample_size(sizer, 84 * kMs);  // the latency allows 1 step: try 2
  EXPECT_EQ(sizer.next(), 2u);
  sample_size(sizer, 50 * kMs);  // paid: keep 2, try 4
  EXPECT_EQ(sizer.next(), 4u);
  sample_size(sizer, 33 * kMs);
  EXPECT_EQ(sizer.next(), 8u);
  sample_size(sizer, 22 * kMs);  // 8 x 22 ms = 176 ms; 16 x 22 = 352 ms is within 8 x 50 ms: try it
  EXPECT_EQ(sizer.next(), 16u);
  sample_size(sizer, 21 * kMs);  // less than a tenth faster: back to 8
  EXPECT_EQ(sizer.next(), 8u);
  EXPECT_EQ(sizer.grown(), 8u);
  for (std::uint64_t i = 0; i < BatchSizer::kFirstRetry; ++i) sizer.record(8 * 22 * kMs, 8);
  EXPECT_EQ(sizer.next(), 8u);
  sample_size(sizer, 22 * kMs);  // then it tries 16 once more
  EXPECT_EQ(sizer.next(), 16u);
}

TEST(BatchSizer, AKernelThatDoesNotFuseStepsIsTriedLessAndLessOften) {
  BatchSizer sizer({50 * kMs, 64});
  sample_size(sizer, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  std::uint64_t wait = BatchSizer::kFirstRetry;
  for (int trial = 0; trial < 8; ++trial) {
    sample_size(sizer, 84 * kMs);  // no faster per step: back to 1
    ASSERT_EQ(sizer.next(), 1u);
    EXPECT_EQ(sizer.grown(), 0u);
    for (std::uint64_t i = 0; i < wait; ++i) {
      sizer.record(84 * kMs, 1);
      ASSERT_EQ(sizer.next(), 1u) << "tried again after " << i + 1 << " batches, not " << wait;
    }
    sample_size(sizer, 84 * kMs);
    ASSERT_EQ(sizer.next(), 2u);
    wait = std::min(2 * wait, BatchSizer::kLastRetry);
  }
}

TEST(BatchSizer, NeverTriesABatchLongerThanTheGrowthCeiling) {
  BatchSizer sizer({50 * kMs, 64});
  // 250 ms a step: two would take 500 ms, past 8 x 50 ms = 400 ms.
  sample_size(sizer, 250 * kMs);
  EXPECT_EQ(sizer.next(), 1u);
  // A tried size that overruns the ceiling in one batch ends the trial at once.
  BatchSizer overrun({50 * kMs, 64});
  sample_size(overrun, 150 * kMs);
  ASSERT_EQ(overrun.next(), 2u);
  overrun.record(2 * 250 * kMs, 2);
  EXPECT_EQ(overrun.next(), 1u);
}

TEST(BatchSizer, BatchesCutShortAreNoSampleOfTheSizeTried) {
  BatchSizer sizer({50 * kMs, 64});
  sample_size(sizer, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  sizer.record(300 * kMs, 1);  // a probe's one-step batch, slow: says nothing about 2
  EXPECT_EQ(sizer.next(), 2u);
  sample_size(sizer, 50 * kMs);
  EXPECT_EQ(sizer.next(), 4u);
}

TEST(BatchSizer, AKeptSizeThatOverrunsTheCeilingFallsBackToTheLatency) {
  BatchSizer sizer({50 * kMs, 64});
  sample_size(sizer, 84 * kMs);
  sample_size(sizer, 50 * kMs);
  ASSERT_EQ(sizer.next(), 4u);
  sample_size(sizer, 48 * kMs);  // not a tenth faster: 2 is kept beyond the latency
  ASSERT_EQ(sizer.next(), 2u);
  ASSERT_EQ(sizer.grown(), 2u);
  sizer.record(2 * 300 * kMs, 2);  // the machine got busy: 600 ms, past the ceiling
  EXPECT_EQ(sizer.next(), 1u);
  EXPECT_EQ(sizer.grown(), 0u);
  for (int i = 0; i < 10; ++i) sizer.record(84 * kMs, 1);
  EXPECT_EQ(sizer.next(), 1u);  // waits before trying again
  sizer.restart();
  sample_size(sizer, 84 * kMs);
  EXPECT_EQ(sizer.next(), 2u);  // a new module is measured afresh
}

TEST(BatchSizer, ACapIsTheLargestSizeItTriesAndJudges) {
  // The cone probes' cap of 3-D at the default budget: 31 steps. A fusing kernel grows to the cap and stops there.
  BatchSizer sizer({50 * kMs, 64});
  sizer.set_cap(31);
  sample_size(sizer, 84 * kMs);
  ASSERT_EQ(sizer.next(), 2u);
  sample_size(sizer, 50 * kMs);
  ASSERT_EQ(sizer.next(), 4u);
  sample_size(sizer, 30 * kMs);
  ASSERT_EQ(sizer.next(), 8u);
  sample_size(sizer, 18 * kMs);
  ASSERT_EQ(sizer.next(), 16u);
  // 32 would be over the cap: no trial is begun, and every batch of 16 is a whole one the sizer measures.
  sample_size(sizer, 11 * kMs);
  EXPECT_EQ(sizer.next(), 16u);
  EXPECT_EQ(sizer.grown(), 16u);
  for (std::uint64_t i = 0; i < 4 * BatchSizer::kLastRetry; ++i) {
    sizer.record(16 * 11 * kMs, 16);
    ASSERT_LE(sizer.next(), 31u) << "after " << i + 1 << " batches";
  }
}

TEST(BatchSizer, ALoweredCapEndsATrialAboveItAndTheSizeGoesOnFromBelow) {
  BatchSizer sizer({50 * kMs, 64});
  sample_size(sizer, 84 * kMs);
  sample_size(sizer, 50 * kMs);
  sample_size(sizer, 33 * kMs);
  ASSERT_EQ(sizer.next(), 8u);  // trying 8, doubled from 4
  sizer.set_cap(6);
  EXPECT_EQ(sizer.next(), 4u);  // the trial is over: back to the size it doubled
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

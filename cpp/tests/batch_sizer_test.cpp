#include "core/batch_sizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

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

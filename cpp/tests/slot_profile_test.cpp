#include <gtest/gtest.h>

#include "core/slot_profile.h"

namespace ouro {
namespace {

TEST(SlotProfile, BucketsAreContiguousAndContainTheirValues) {
  for (unsigned bucket = 0; bucket + 1 < SlotProfile::kBuckets; ++bucket) {
    EXPECT_EQ(SlotProfile::bucket_high(bucket), SlotProfile::bucket_low(bucket + 1)) << bucket;
  }
  for (std::uint64_t ns : {0ull, 1ull, 3ull, 4ull, 7ull, 8ull, 1000ull, 123456789ull, ~0ull}) {
    const unsigned bucket = SlotProfile::bucket_of(ns);
    ASSERT_LT(bucket, SlotProfile::kBuckets);
    EXPECT_LE(SlotProfile::bucket_low(bucket), ns) << ns;
    if (bucket + 1 < SlotProfile::kBuckets) {
      EXPECT_LT(ns, SlotProfile::bucket_high(bucket)) << ns;
    }
  }
}

TEST(SlotProfile, SumsCallsStepsAndTimeAndFindsPercentilesToAQuarterOctave) {
  SlotProfile profile;
  for (int i = 0; i < 98; ++i) profile.record(1000, 1);
  profile.record(1'000'000, 5);
  profile.record(2'000'000, 5);
  const SlotProfile::Summary summary = profile.summary();
  EXPECT_EQ(summary.calls, 100u);
  EXPECT_EQ(summary.steps, 108u);
  EXPECT_EQ(summary.total_ns, 98'000u + 3'000'000u);
  EXPECT_EQ(summary.max_ns, 2'000'000u);
  EXPECT_NEAR(static_cast<double>(summary.p50_ns), 1000.0, 1000.0 * 0.125);
  EXPECT_NEAR(static_cast<double>(summary.p99_ns), 1e6, 1e6 * 0.125);
  profile.reset();
  EXPECT_EQ(profile.summary().calls, 0u);
  EXPECT_EQ(profile.summary().p99_ns, 0u);
}

TEST(SlotProfile, GoesOnFromCarriedCountersAsIfItHadRecordedThem) {
  SlotProfile whole;
  SlotProfile before;
  SlotProfile after;
  const std::uint64_t times[] = {3, 900, 1100, 40'000, 7'000'000, 1200};
  for (std::size_t i = 0; i < std::size(times); ++i) {
    whole.record(times[i], 2);
    (i < 4 ? before : after).record(times[i], 2);
  }
  after.add(before.counters());
  const SlotProfile::Summary expected = whole.summary();
  const SlotProfile::Summary continued = after.summary();
  EXPECT_EQ(continued.calls, expected.calls);
  EXPECT_EQ(continued.steps, expected.steps);
  EXPECT_EQ(continued.total_ns, expected.total_ns);
  EXPECT_EQ(continued.max_ns, expected.max_ns);
  EXPECT_EQ(continued.p50_ns, expected.p50_ns);
  EXPECT_EQ(continued.p99_ns, expected.p99_ns);
  EXPECT_EQ(after.counters().histogram, whole.counters().histogram);
}

}  // namespace
}  // namespace ouro

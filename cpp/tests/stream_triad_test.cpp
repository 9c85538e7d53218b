#include <gtest/gtest.h>

#include "core/stream_triad.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace ouro {
namespace {

TEST(StreamTriad, ReportsAPositiveFiniteBandwidth) {
  for (std::uint32_t threads : {1u, 2u, 3u}) {
    const StreamTriadResult result = stream_triad(1 << 20, 3, threads);
    EXPECT_TRUE(std::isfinite(result.gb_per_second)) << threads;
    EXPECT_GT(result.gb_per_second, 0.0) << threads;
    EXPECT_EQ(result.bytes_per_array, 1u << 20);
    EXPECT_EQ(result.threads, threads);
  }
}

TEST(StreamTriad, MeasuresWholeDoubles) { EXPECT_EQ(stream_triad(100, 1, 1).bytes_per_array, 96u); }

TEST(StreamTriad, RefusesEmptyWork) {
  EXPECT_THROW(stream_triad(1024, 0, 1), std::invalid_argument);
  EXPECT_THROW(stream_triad(1024, 1, 0), std::invalid_argument);
  EXPECT_THROW(stream_triad(8, 1, 2), std::invalid_argument);
}

TEST(StreamTriad, OverCallerMemoryWritesOnlyTheFirstArray) {
  for (std::uint32_t threads : {1u, 2u, 3u}) {
    ThreadPool pool(threads);
    const std::uint64_t elements = 100003;
    std::vector<std::uint64_t> a(elements, 0), b(elements), c(elements);
    for (std::uint64_t i = 0; i < elements; ++i) {
      // Any bit pattern, NaN and subnormal doubles included; integer sums wrap.
      b[i] = i * 0x9E3779B97F4A7C15ull;
      c[i] = std::numeric_limits<std::uint64_t>::max() - i;
    }
    const std::vector<std::uint64_t> b0 = b, c0 = c;
    const StreamTriadResult result = stream_triad_over(a.data(), b.data(), c.data(), elements, 2, pool);
    EXPECT_GT(result.gb_per_second, 0.0) << threads;
    EXPECT_EQ(result.bytes_per_array, elements * 8) << threads;
    EXPECT_EQ(result.threads, threads);
    EXPECT_EQ(b, b0);
    EXPECT_EQ(c, c0);
    for (std::uint64_t i = 0; i < elements; ++i) ASSERT_EQ(a[i], b[i] + 3 * c[i]) << "element " << i << ", " << threads;
  }
}

TEST(StreamTriad, OverCallerMemoryRefusesEmptyWork) {
  ThreadPool pool(1);
  std::uint64_t cell = 0;
  EXPECT_THROW(stream_triad_over(&cell, &cell, &cell, 0, 1, pool), std::invalid_argument);
  EXPECT_THROW(stream_triad_over(&cell, &cell, &cell, 1, 0, pool), std::invalid_argument);
}

}  // namespace
}  // namespace ouro

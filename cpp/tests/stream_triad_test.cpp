#include <gtest/gtest.h>

#include "core/stream_triad.h"

#include <cmath>
#include <stdexcept>

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

TEST(StreamTriad, MeasuresWholeDoubles) {
  EXPECT_EQ(stream_triad(100, 1, 1).bytes_per_array, 96u);
}

TEST(StreamTriad, RefusesEmptyWork) {
  EXPECT_THROW(stream_triad(1024, 0, 1), std::invalid_argument);
  EXPECT_THROW(stream_triad(1024, 1, 0), std::invalid_argument);
  EXPECT_THROW(stream_triad(8, 1, 2), std::invalid_argument);
}

}  // namespace
}  // namespace ouro

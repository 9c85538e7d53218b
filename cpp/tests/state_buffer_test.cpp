#include <gtest/gtest.h>

#include "core/state_buffer.h"

#include <cstdint>
#include <cstring>

namespace ouro {
namespace {

bool page_aligned(const void* address) {
  return reinterpret_cast<std::uintptr_t>(address) % StateBuffer::kAlignmentBytes == 0;
}

TEST(StateBuffer, EveryRegionStartsOnAPageBoundary) {
  for (std::size_t level_bytes : {std::size_t{8}, std::size_t{4096}, std::size_t{4097}, std::size_t{123456}}) {
    StateBuffer buffer(level_bytes);
    EXPECT_TRUE(page_aligned(buffer.level(0))) << level_bytes;
    EXPECT_TRUE(page_aligned(buffer.level(1))) << level_bytes;
    EXPECT_TRUE(page_aligned(buffer.scratch())) << level_bytes;
    EXPECT_EQ(buffer.level_offset(0) % StateBuffer::kAlignmentBytes, 0u);
    EXPECT_EQ(buffer.level_offset(1) % StateBuffer::kAlignmentBytes, 0u);
    EXPECT_EQ(buffer.scratch_offset() % StateBuffer::kAlignmentBytes, 0u);
  }
}

TEST(StateBuffer, RegionsFollowEachOtherInOneBlock) {
  StateBuffer buffer(4097);
  EXPECT_EQ(buffer.level_bytes(), 4097u);
  EXPECT_EQ(buffer.level_offset(0), 0u);
  EXPECT_EQ(buffer.level_offset(1), 8192u);
  EXPECT_EQ(buffer.scratch_offset(), 16384u);
  EXPECT_EQ(buffer.size_bytes(), 3u * 8192u);
  EXPECT_EQ(static_cast<std::byte*>(buffer.level(1)) - static_cast<std::byte*>(buffer.level(0)), 8192);
  EXPECT_EQ(static_cast<std::byte*>(buffer.scratch()) - static_cast<std::byte*>(buffer.level(0)), 16384);
}

TEST(StateBuffer, ExactPagesNeedNoPadding) {
  StateBuffer buffer(3 * 4096);
  EXPECT_EQ(buffer.size_bytes(), 9u * 4096u);
}

TEST(StateBuffer, StartsZeroed) {
  StateBuffer buffer(10000);
  const auto* bytes = static_cast<const unsigned char*>(buffer.level(0));
  for (std::size_t i = 0; i < buffer.size_bytes(); ++i) ASSERT_EQ(bytes[i], 0) << i;
}

TEST(StateBuffer, OverlapsOnlyItsOwnBytes) {
  StateBuffer buffer(4096);
  const auto* begin = static_cast<const std::byte*>(buffer.level(0));
  EXPECT_TRUE(buffer.overlaps(begin, 1));
  EXPECT_TRUE(buffer.overlaps(begin + buffer.size_bytes() - 1, 8));
  EXPECT_TRUE(buffer.overlaps(begin - 4, 8));
  EXPECT_FALSE(buffer.overlaps(begin - 8, 8));
  EXPECT_FALSE(buffer.overlaps(begin + buffer.size_bytes(), 8));
  EXPECT_FALSE(buffer.overlaps(begin, 0));
}

TEST(StateBuffer, LevelZeroLiesOnAHugePageBoundaryAsInEveryLivePathAndTheSandbox) {
  for (std::size_t level_bytes : {std::size_t{8}, std::size_t{4097}, std::size_t{3} << 20}) {
    StateBuffer buffer(level_bytes);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer.level(0)) % (std::size_t{2} << 20), 0u) << level_bytes;
    EXPECT_EQ(buffer.level_stride(), StateBuffer::round_up_to_page(level_bytes));
  }
}

TEST(StateBuffer, EveryCallFindsTheScratchAndThePaddingZeroWhateverTheLastCallLeft) {
  StateBuffer buffer(4097);
  auto* level0 = static_cast<unsigned char*>(buffer.level(0));
  std::memset(level0, 7, 3 * buffer.level_stride());
  buffer.prepare_call();
  const auto* scratch = static_cast<const unsigned char*>(buffer.scratch());
  for (std::size_t i = 0; i < buffer.level_stride(); ++i) ASSERT_EQ(scratch[i], 0u) << "scratch byte " << i;
  for (unsigned level = 0; level < 2; ++level) {
    const auto* bytes = static_cast<const unsigned char*>(buffer.level(level));
    EXPECT_EQ(bytes[4096], 7u) << "level " << level << " keeps its last byte";
    for (std::size_t i = 4097; i < buffer.level_stride(); ++i) ASSERT_EQ(bytes[i], 0u) << "padding byte " << i;
  }
}

TEST(StateBuffer, AWritePastTheScratchFaultsOnTheGuard) {
  StateBuffer buffer(4096);
  auto* past = static_cast<volatile unsigned char*>(buffer.scratch()) + 4096;
  EXPECT_DEATH(*past = 1, "");
}

TEST(StateBuffer, ImpossibleSizeThrowsBadAlloc) { EXPECT_THROW(StateBuffer(SIZE_MAX / 2), std::bad_alloc); }

}  // namespace
}  // namespace ouro

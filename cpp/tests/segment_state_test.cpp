// A lattice stepped in place inside a state segment: no copy, header published at every boundary.
#include <gtest/gtest.h>

#include <ouroboros/segment_layout.h>

#include "lattice_fixtures.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace ouro {
namespace {

using test::copy_level;
using test::random_field;
using test::reference_kernel;
using test::same_bits;

constexpr std::size_t kPage = 4096;

/// A memfd laid out as segment_layout.h has it (header page, one metadata page, three levels), mapped once.
struct Segment {
  int fd = -1;
  SegmentRegion region;

  explicit Segment(std::size_t level_bytes) {
    fd = ::memfd_create("segment-state-test", MFD_CLOEXEC);
    const std::size_t stride = (level_bytes + kPage - 1) / kPage * kPage;
    const std::size_t bytes = 2 * kPage + 3 * stride;
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) throw std::runtime_error("memfd");
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap");
    region.base = static_cast<std::byte*>(base);
    region.owner = std::shared_ptr<void>(base, [bytes](void* mapped) { ::munmap(mapped, bytes); });
    region.segment_bytes = bytes;
    region.level_bytes = level_bytes;
    region.level0_offset = 2 * kPage;
    region.level1_offset = 2 * kPage + stride;
    region.scratch_offset = 2 * kPage + 2 * stride;
  }
  ~Segment() { ::close(fd); }

  template <typename Field>
  Field read(std::size_t offset) const {
    Field value{};
    if (::pread(fd, &value, sizeof value, static_cast<off_t>(offset)) != sizeof value)
      throw std::runtime_error("pread");
    return value;
  }
  std::vector<double> level(std::size_t offset, std::size_t cells) const {
    std::vector<double> values(cells);
    if (::pread(fd, values.data(), cells * sizeof(double), static_cast<off_t>(offset)) < 0)
      throw std::runtime_error("pread");
    return values;
  }
};

LatticeConfig config() { return LatticeConfig{{6, 5, 4}, 0.2, OURO_PRECISION_F64, 2, {}}; }

TEST(SegmentState, StepsTheSegmentsBytesAndPublishesTheHeader) {
  const std::uint64_t cells = 120;
  Segment segment(cells * sizeof(double));
  LatticeCore shared(config(), reference_kernel(), segment.region);
  LatticeCore private_state(config(), reference_kernel());
  const auto previous = random_field<double>(cells, 3);
  const auto current = random_field<double>(cells, 4);
  shared.set_state(previous.data(), current.data());
  private_state.set_state(previous.data(), current.data());
  shared.step(7);
  private_state.step(7);
  EXPECT_EQ(segment.read<std::uint64_t>(OURO_SEGMENT_OFFSET_STEP_COUNT), 7u);
  EXPECT_EQ(segment.read<std::uint32_t>(OURO_SEGMENT_OFFSET_CURRENT_LEVEL), shared.current_index());
  const std::size_t current_offset =
      shared.current_index() == 0 ? segment.region.level0_offset : segment.region.level1_offset;
  EXPECT_TRUE(
      same_bits(segment.level(current_offset, cells), copy_level<double>(private_state.current_level(), cells)));
}

TEST(SegmentState, ResumesAtTheHeadersStepAndLevel) {
  const std::uint64_t cells = 120;
  Segment segment(cells * sizeof(double));
  std::vector<double> expected;
  {
    LatticeCore first(config(), reference_kernel(), segment.region);
    first.set_state(random_field<double>(cells, 5).data(), random_field<double>(cells, 6).data());
    first.step(5);
    first.step(4);
    expected = copy_level<double>(first.current_level(), cells);
  }
  LatticeCore successor(config(), reference_kernel(), segment.region);
  EXPECT_EQ(successor.step_count(), 9u);
  EXPECT_EQ(successor.current_index(), 1u);
  EXPECT_TRUE(same_bits(copy_level<double>(successor.current_level(), cells), expected));
}

TEST(SegmentState, RefusesASegmentThatDoesNotFitTheLattice) {
  Segment segment(100 * sizeof(double));
  EXPECT_THROW(LatticeCore(config(), reference_kernel(), segment.region), std::invalid_argument);
  SegmentRegion misaligned = Segment(120 * sizeof(double)).region;
  misaligned.level1_offset += 8;
  EXPECT_THROW(LatticeCore(config(), reference_kernel(), misaligned), std::invalid_argument);
  SegmentRegion unowned = Segment(120 * sizeof(double)).region;
  unowned.owner.reset();
  EXPECT_THROW(LatticeCore(config(), reference_kernel(), unowned), std::invalid_argument);
}

TEST(SegmentState, HoldsTheMappingItSteps) {
  const std::uint64_t cells = 120;
  Segment segment(cells * sizeof(double));
  const std::weak_ptr<void> owner = segment.region.owner;
  {
    LatticeCore core(config(), reference_kernel(), segment.region);
    segment.region.owner.reset();
    EXPECT_FALSE(owner.expired());
    core.step(3);
  }
  EXPECT_TRUE(owner.expired());
}

}  // namespace
}  // namespace ouro

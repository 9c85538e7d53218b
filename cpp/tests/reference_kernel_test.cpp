// The reference kernel's arithmetic, wrap and readout, through the host that runs it.
#include <gtest/gtest.h>

#include "lattice_fixtures.h"

#include <cmath>
#include <limits>

namespace ouro {
namespace {

using test::copy_level;
using test::make_lattice;
using test::random_field;
using test::same_bits;

template <typename Real>
class ReferenceKernel : public testing::Test {};

using Precisions = testing::Types<double, float>;
TYPED_TEST_SUITE(ReferenceKernel, Precisions);

// Extents 3, 4, 3, 4, ...: every axis wraps, and odd and even extents both occur.
std::vector<std::uint64_t> mixed_extents(std::uint32_t dims) {
  std::vector<std::uint64_t> extents;
  for (std::uint32_t axis = 0; axis < dims; ++axis) extents.push_back(axis % 2 == 0 ? 3 : 4);
  return extents;
}

// The field moved by +1 cell along `axis`, periodically: out[x + e_axis] = in[x].
template <typename Real>
std::vector<Real> shifted(const std::vector<Real>& field, const ouro_geometry& geometry, std::uint32_t axis) {
  std::vector<Real> out(field.size());
  const std::uint64_t stride = geometry.strides[axis];
  const std::uint64_t extent = geometry.extents[axis];
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) {
    const std::uint64_t coord = cell / stride % extent;
    out[cell - coord * stride + (coord + 1) % extent * stride] = field[cell];
  }
  return out;
}

TYPED_TEST(ReferenceKernel, OneStepIn1DMatchesTheHandComputedValues) {
  using Real = TypeParam;
  auto lattice = make_lattice<Real>({5}, 0.25);
  const std::vector<Real> previous = {0.5, 0, 0, 0, 1};
  const std::vector<Real> current = {0, 1, 0, 0, 2};
  lattice->set_state(previous.data(), current.data());
  lattice->step(1);
  // next = 2 u - prev + r2 (u[x+1] + u[x-1] - 2 u), every term exact in binary.
  const std::vector<Real> expected = {0.25, 1.5, 0.25, 0.5, 2};
  EXPECT_EQ(copy_level<Real>(lattice->current_level(), 5), expected);
  EXPECT_EQ(copy_level<Real>(lattice->previous_level(), 5), current);
}

TYPED_TEST(ReferenceKernel, OneStepIn2DAddsBothAxes) {
  using Real = TypeParam;
  auto lattice = make_lattice<Real>({3, 4}, 0.125);
  std::vector<Real> current(12, 0);
  current[1 * 4 + 2] = 8;  // (1, 2)
  const std::vector<Real> previous(12, 0);
  lattice->set_state(previous.data(), current.data());
  lattice->step(1);
  std::vector<Real> expected(12, 0);
  expected[1 * 4 + 2] = 2 * 8 + Real(0.125) * (-2 * 8 + -2 * 8);
  for (std::uint64_t neighbour : {0 * 4 + 2, 2 * 4 + 2, 1 * 4 + 1, 1 * 4 + 3}) expected[neighbour] = 1;
  EXPECT_EQ(copy_level<Real>(lattice->current_level(), 12), expected);
}

TYPED_TEST(ReferenceKernel, AnImpulseAtTheOriginWrapsToTheFarSideOfEveryAxis) {
  using Real = TypeParam;
  for (std::uint32_t dims = 1; dims <= OURO_MAX_DIMS; ++dims) {
    auto lattice = make_lattice<Real>(mixed_extents(dims), 0.0625);
    const ouro_geometry& geometry = lattice->geometry();
    std::vector<Real> current(geometry.cells, 0);
    current[0] = 1;
    const std::vector<Real> previous(geometry.cells, 0);
    const LevelPair stepped = lattice->step_copy(previous.data(), current.data(), 1);
    const std::vector<Real> next = copy_level<Real>(stepped.current_level(), geometry.cells);
    for (std::uint32_t axis = 0; axis < dims; ++axis) {
      const std::uint64_t far_side = (geometry.extents[axis] - 1) * geometry.strides[axis];
      EXPECT_EQ(next[far_side], Real(0.0625)) << "dims " << dims << ", axis " << axis;
      EXPECT_EQ(next[geometry.strides[axis]], Real(0.0625)) << "dims " << dims << ", axis " << axis;
    }
  }
}

TYPED_TEST(ReferenceKernel, SteppingCommutesBitwiseWithAShiftAlongEveryAxis) {
  using Real = TypeParam;
  for (std::uint32_t dims = 1; dims <= OURO_MAX_DIMS; ++dims) {
    auto lattice = make_lattice<Real>(mixed_extents(dims), 0.9 / dims);
    const ouro_geometry& geometry = lattice->geometry();
    const std::vector<Real> previous = random_field<Real>(geometry.cells, dims);
    const std::vector<Real> current = random_field<Real>(geometry.cells, 100 + dims);
    const LevelPair stepped = lattice->step_copy(previous.data(), current.data(), 3);
    const std::vector<Real> stepped_current = copy_level<Real>(stepped.current_level(), geometry.cells);
    for (std::uint32_t axis = 0; axis < dims; ++axis) {
      const std::vector<Real> shifted_previous = shifted(previous, geometry, axis);
      const std::vector<Real> shifted_current = shifted(current, geometry, axis);
      const LevelPair shifted_stepped = lattice->step_copy(shifted_previous.data(), shifted_current.data(), 3);
      EXPECT_TRUE(same_bits(copy_level<Real>(shifted_stepped.current_level(), geometry.cells),
                            shifted(stepped_current, geometry, axis)))
          << "dims " << dims << ", axis " << axis;
    }
  }
}

TYPED_TEST(ReferenceKernel, ReadoutRoundsTiesAwayFromZeroAndClamps) {
  using Real = TypeParam;
  const std::vector<Real> current = {0.5, -0.5, 1.5, 2.5, -2.5, Real(0.49), -0.3,   Real(-0.0),
                                     3.5, 4.4,  4.5, 100, -3.5, -4.5,       -1e30f, 0};
  const std::vector<std::int8_t> expected = {1, -1, 2, 3, -3, 0, 0, 0, 4, 4, 4, 4, -4, -4, -4, 0};
  auto lattice = make_lattice<Real>({current.size()}, 0.25);
  const std::vector<Real> previous(current.size(), 0);
  lattice->set_state(previous.data(), current.data());
  const Readout readout = lattice->readout();
  EXPECT_FALSE(readout.bad_index.has_value());
  EXPECT_EQ(readout.digits, expected);
}

TYPED_TEST(ReferenceKernel, ReadoutNamesTheLowestNonFiniteCell) {
  using Real = TypeParam;
  std::vector<Real> current(16, 1);
  current[12] = -std::numeric_limits<Real>::infinity();
  current[9] = std::numeric_limits<Real>::quiet_NaN();
  current[5] = std::numeric_limits<Real>::infinity();
  auto lattice = make_lattice<Real>({16}, 0.25);
  const std::vector<Real> previous(16, 0);
  lattice->set_state(previous.data(), current.data());
  EXPECT_EQ(lattice->readout().bad_index, std::optional<std::uint64_t>(5));

  current[0] = std::numeric_limits<Real>::quiet_NaN();
  lattice->set_state(previous.data(), current.data());
  EXPECT_EQ(lattice->readout().bad_index, std::optional<std::uint64_t>(0));
}

TYPED_TEST(ReferenceKernel, ReadsTheCurrentLevelNotThePreviousOne) {
  using Real = TypeParam;
  auto lattice = make_lattice<Real>({3}, 0.25);
  const std::vector<Real> previous = {std::numeric_limits<Real>::quiet_NaN(), 0, 0};
  const std::vector<Real> current = {1, 2, 3};
  lattice->set_state(previous.data(), current.data());
  const Readout readout = lattice->readout();
  EXPECT_EQ(readout.digits, (std::vector<std::int8_t>{1, 2, 3}));
}

TYPED_TEST(ReferenceKernel, NonFiniteValuesPropagateThroughSteps) {
  using Real = TypeParam;
  auto lattice = make_lattice<Real>({5}, 0.25);
  std::vector<Real> current(5, 0);
  current[2] = std::numeric_limits<Real>::quiet_NaN();
  const std::vector<Real> previous(5, 0);
  lattice->set_state(previous.data(), current.data());
  lattice->step(1);
  const std::vector<Real> next = copy_level<Real>(lattice->current_level(), 5);
  EXPECT_FALSE(std::isnan(next[0]));
  EXPECT_TRUE(std::isnan(next[1]) && std::isnan(next[2]) && std::isnan(next[3]));
  EXPECT_EQ(lattice->readout().bad_index, std::optional<std::uint64_t>(1));
}

}  // namespace
}  // namespace ouro

// The cone probe's gather on its own, without a runner: the values it
// copies are the levels' values at the cone cells (wrapped around the torus,
// in the oracle's order), its cones stay within the budget, a follow-on
// probe may take the batch right after another's, and a probe due while two
// are still out is skipped and counted, never waited for.
#include "core/cone_probe.h"
#include "core/cone_gather.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ouro {
namespace {

ouro_geometry geometry_of(const std::vector<std::uint64_t>& extents, ouro_precision precision) {
  ouro_geometry geometry{};
  geometry.dims = static_cast<std::uint32_t>(extents.size());
  geometry.precision = precision;
  std::uint64_t cells = 1;
  for (std::size_t axis = extents.size(); axis-- > 0;) {
    geometry.extents[axis] = extents[axis];
    geometry.strides[axis] = cells;
    cells *= extents[axis];
  }
  geometry.cells = cells;
  return geometry;
}

/// Each cell's value is its own index: a gathered value names the cell it came from.
template <typename Real>
std::vector<Real> indexed_level(std::uint64_t cells) {
  std::vector<Real> level(cells);
  for (std::uint64_t cell = 0; cell < cells; ++cell) level[cell] = static_cast<Real>(cell);
  return level;
}

/// The cell at box index `p` of the cone of `radius` around `cell`, by coordinates, independently of the gather.
std::uint64_t cone_cell(const ouro_geometry& geometry, std::uint64_t cell, std::uint64_t radius, std::uint64_t p) {
  const std::uint64_t side = 2 * radius + 1;
  std::uint64_t flat = 0;
  std::uint64_t place = 1;
  for (std::uint32_t axis = geometry.dims; axis-- > 0;) {
    const auto extent = static_cast<std::int64_t>(geometry.extents[axis]);
    const auto centre = static_cast<std::int64_t>(cell / geometry.strides[axis] % geometry.extents[axis]);
    const auto local = static_cast<std::int64_t>(p / place % side);
    const std::int64_t wrapped = ((centre + local - static_cast<std::int64_t>(radius)) % extent + extent) % extent;
    flat += static_cast<std::uint64_t>(wrapped) * geometry.strides[axis];
    place *= side;
  }
  return flat;
}

template <typename Real>
void expect_gathered(const std::vector<std::uint64_t>& extents, std::uint64_t radius,
                     const std::vector<std::uint64_t>& cells) {
  const ouro_geometry geometry = geometry_of(extents, sizeof(Real) == 8 ? OURO_PRECISION_F64 : OURO_PRECISION_F32);
  const std::vector<Real> level = indexed_level<Real>(geometry.cells);
  const std::uint64_t cone = cone_values(geometry.dims, radius);
  std::vector<Real> out(cells.size() * cone, Real(-1));
  gather_cones(geometry, level.data(), cells, radius, reinterpret_cast<std::byte*>(out.data()));
  for (std::size_t i = 0; i < cells.size(); ++i) {
    for (std::uint64_t p = 0; p < cone; ++p) {
      ASSERT_EQ(out[i * cone + p], static_cast<Real>(cone_cell(geometry, cells[i], radius, p)))
          << "cell " << cells[i] << " box index " << p << " radius " << radius;
    }
  }
}

TEST(ConeGather, CopiesTheLevelsValuesAtEveryConeCellWrappedAroundTheTorus) {
  // Cells at the corners and faces, whose cones wrap on every axis, and one inside.
  expect_gathered<double>({40}, 3, {0, 1, 20, 39});
  expect_gathered<double>({9, 11}, 2, {0, 10, 50, 98});
  expect_gathered<float>({5, 6, 7}, 1, {0, 104, 209});
  // Boxes longer than an extent: a row wraps more than once (a cone holds a torus cell twice).
  expect_gathered<double>({3, 4}, 3, {0, 5, 11});
  expect_gathered<float>({3, 3, 3, 3}, 2, {0, 40, 80});
}

TEST(ConeGather, RadiusZeroGathersTheCellsOwnValues) { expect_gathered<double>({8, 8}, 0, {3, 17, 63}); }

TEST(ConeProbe, GathersBothLevelsConesAndThenTheNewestValuesWithinTheBudget) {
  const ouro_geometry geometry = geometry_of({64, 64}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  std::vector<std::uint64_t> cells;
  for (std::uint64_t cell = 0; cell < 4096; cell += 16) cells.push_back(cell);
  // 256 cells of a (2*4+1)^2 = 81-value cone is 20,736 values: a budget of 2,000 keeps 24 of them.
  probe.arm(cells, false, false, 10, 5, 2000);
  const std::vector<double> previous = indexed_level<double>(geometry.cells);
  std::vector<double> current(geometry.cells);
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) current[cell] = -static_cast<double>(cell);
  EXPECT_FALSE(probe.due(9));
  EXPECT_FALSE(probe.begin(9, previous.data(), current.data(), 4, 0));
  ASSERT_TRUE(probe.begin(10, previous.data(), current.data(), 4, 0));
  EXPECT_EQ(probe.batch(4, 0), 4u);
  EXPECT_EQ(probe.steps_left(10), 4u);
  EXPECT_FALSE(probe.ready().has_value());
  ASSERT_TRUE(probe.batch_done(14));
  const std::vector<double> newest = indexed_level<double>(geometry.cells);
  EXPECT_EQ(probe.finish(14, newest.data()), 10u);

  const std::optional<ConeProbeView> view = probe.ready();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->step, 10u);
  EXPECT_EQ(view->steps, 4u);
  EXPECT_EQ(view->radius, 4u);
  const std::size_t kept = view->cells->size();
  EXPECT_EQ(kept, 2000u / 81u);
  EXPECT_LE(kept * cone_values(2, view->radius), 2000u);
  const auto* older = static_cast<const double*>(view->older);
  const auto* newer = static_cast<const double*>(view->newer);
  const auto* values = static_cast<const double*>(view->values);
  for (std::size_t i = 0; i < kept; ++i) {
    const std::uint64_t cell = (*view->cells)[i];
    EXPECT_EQ(cell, cells[i * cells.size() / kept]);
    EXPECT_EQ(values[i], static_cast<double>(cell));
    for (std::uint64_t p = 0; p < 81; ++p) {
      EXPECT_EQ(older[i * 81 + p], static_cast<double>(cone_cell(geometry, cell, 4, p)));
      EXPECT_EQ(newer[i * 81 + p], -static_cast<double>(cone_cell(geometry, cell, 4, p)));
    }
  }
  EXPECT_EQ(probe.counters().probes, 1u);
}

TEST(ConeProbe, ShrinksTheRadiusSoThatOneConeFitsTheBudgetAndBoundsTheBatches) {
  const ouro_geometry geometry = geometry_of({32, 32, 32}, OURO_PRECISION_F32);
  ConeProbe probe(geometry);
  const std::vector<float> level(geometry.cells, 1.0f);
  // A delayed probe of 20-step batches would span 21 steps, a 43^3 cone: a budget of 1,000 allows radius 4 (9^3 = 729).
  probe.arm({5, 700}, true, false, 0, 8, 1000);
  ASSERT_TRUE(probe.begin(0, level.data(), level.data(), 20, 0));
  EXPECT_EQ(probe.steps_left(0), 4u);
  EXPECT_EQ(probe.batch(20, 0), 1u);
  EXPECT_FALSE(probe.batch_done(1));
  EXPECT_EQ(probe.steps_left(1), 3u);
  // The live batch is cut at the radius: the probe ends there.
  EXPECT_TRUE(probe.batch_done(4));
  probe.finish(4, level.data());
  EXPECT_EQ(probe.ready()->cells->size(), 1u);
}

TEST(ConeProbe, SkipsAndCountsADueProbeWhileTwoAreOutAndPutsItOffByItsInterval) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  probe.arm({1, 2, 3}, false, false, 4, 10, 0);
  ASSERT_TRUE(probe.begin(4, level.data(), level.data(), 2, 0));
  ASSERT_TRUE(probe.batch_done(6));
  probe.finish(6, level.data());
  // The watchdog takes it and arms the next before its verdict: the second slot takes it while the first is out.
  probe.arm({9}, false, false, 7, 10, 0);
  ASSERT_TRUE(probe.begin(8, level.data(), level.data(), 2, 0));
  ASSERT_TRUE(probe.batch_done(10));
  probe.finish(10, level.data());
  // A third, due while both are out, is skipped and put off by the interval.
  probe.arm({9}, false, false, 11, 10, 0);
  EXPECT_FALSE(probe.begin(12, level.data(), level.data(), 2, 0));
  EXPECT_EQ(probe.counters().skips, 1u);
  EXPECT_FALSE(probe.due(21));
  EXPECT_TRUE(probe.due(22));
  // The oldest is taken first, then the other; none is left to take.
  EXPECT_EQ(probe.ready()->step, 4u);
  EXPECT_EQ(probe.ready()->step, 8u);
  EXPECT_FALSE(probe.ready().has_value());
  probe.settle(4);
  ASSERT_TRUE(probe.begin(22, level.data(), level.data(), 2, 0));
  EXPECT_EQ(probe.counters().skips, 1u);
  // A probe whose batches will not run (the state replaced) is dropped, and its plan is due again at once.
  probe.abandon();
  EXPECT_TRUE(probe.due(22));
  EXPECT_TRUE(probe.begin(23, level.data(), level.data(), 2, 0));
  probe.abandon();
  probe.arm({9}, false, false, 30, 10, 0);
  EXPECT_FALSE(probe.due(29));
  EXPECT_TRUE(probe.begin(30, level.data(), level.data(), 2, 0));
}

TEST(ConeProbe, AFollowOnProbeIsDueItsOffsetAfterTheFirstEndsAndMayTakeTheVeryNextBatch) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  // Offset 0: the batch right after the first probe's, while the first is still out (not yet taken).
  probe.arm({1, 2}, false, false, 4, 10, 0, ConeFollow{true, false, 0});
  ASSERT_TRUE(probe.begin(4, level.data(), level.data(), 3, 0));
  EXPECT_FALSE(probe.due(7));
  ASSERT_TRUE(probe.batch_done(7));
  EXPECT_EQ(probe.finish(7, level.data()), 4u);
  EXPECT_TRUE(probe.due(7));
  ASSERT_TRUE(probe.begin(7, level.data(), level.data(), 3, 0));
  // The follow-on's own coin: a one-step call first.
  EXPECT_EQ(probe.batch(3, 0), 1u);
  EXPECT_FALSE(probe.batch_done(8));
  ASSERT_TRUE(probe.batch_done(11));
  EXPECT_EQ(probe.finish(11, level.data()), 7u);
  // A follow-on has none of its own: nothing is due until the watchdog arms again.
  EXPECT_FALSE(probe.due(1000));
  EXPECT_EQ(probe.ready()->cells->size(), 2u);
  EXPECT_EQ(probe.ready()->step, 7u);

  // Offset 5: due 5 steps after the first ends; a plan armed before it begins replaces it.
  ConeProbe later(geometry);
  later.arm({1}, false, false, 0, 10, 0, ConeFollow{false, false, 5});
  ASSERT_TRUE(later.begin(0, level.data(), level.data(), 1, 0));
  ASSERT_TRUE(later.batch_done(1));
  later.finish(1, level.data());
  EXPECT_FALSE(later.due(5));
  EXPECT_TRUE(later.due(6));
  later.arm({1}, false, false, 9, 10, 0);
  EXPECT_FALSE(later.due(8));
  // A plan armed while its first probe is under way drops the follow-on: the watchdog's newer plan stands.
  ConeProbe rearmed(geometry);
  rearmed.arm({1}, false, false, 0, 10, 0, ConeFollow{false, false, 0});
  ASSERT_TRUE(rearmed.begin(0, level.data(), level.data(), 1, 0));
  rearmed.arm({1}, false, false, 50, 10, 0);
  ASSERT_TRUE(rearmed.batch_done(1));
  rearmed.finish(1, level.data());
  EXPECT_FALSE(rearmed.due(49));
  EXPECT_TRUE(rearmed.due(50));
}

TEST(ConeProbe, ANewRunReleasesAProbeWhoseCheckNeverCameAndKeepsThePlan) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  probe.arm({1}, false, false, 0, 10, 0);
  ASSERT_TRUE(probe.begin(0, level.data(), level.data(), 1, 0));
  ASSERT_TRUE(probe.batch_done(1));
  probe.finish(1, level.data());
  probe.arm({2}, false, false, 5, 10, 0);
  probe.reset();
  EXPECT_FALSE(probe.ready().has_value());
  EXPECT_FALSE(probe.due(4));
  EXPECT_TRUE(probe.begin(5, level.data(), level.data(), 1, 0));
  EXPECT_EQ(probe.counters().skips, 0u);
}

TEST(ConeProbe, ARollbackDropsTheProbesAnnouncedAndNotYetTaken) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  probe.arm({1}, false, false, 0, 10, 0, ConeFollow{false, false, 0});
  ASSERT_TRUE(probe.begin(0, level.data(), level.data(), 1, 0));
  ASSERT_TRUE(probe.batch_done(1));
  probe.finish(1, level.data());
  ASSERT_TRUE(probe.begin(1, level.data(), level.data(), 1, 0));
  ASSERT_TRUE(probe.batch_done(2));
  probe.finish(2, level.data());
  // The watchdog has taken the first (its verdict is its own to drop); the second is dropped with the rollback.
  EXPECT_EQ(probe.ready()->step, 0u);
  probe.drop_announced();
  EXPECT_FALSE(probe.ready().has_value());
  // The taken one still holds its slot until settled: one slot is free.
  probe.arm({1}, false, false, 3, 10, 0);
  ASSERT_TRUE(probe.begin(3, level.data(), level.data(), 1, 0));
  ASSERT_TRUE(probe.batch_done(4));
  probe.finish(4, level.data());
  probe.arm({1}, false, false, 5, 10, 0);
  EXPECT_FALSE(probe.begin(5, level.data(), level.data(), 1, 0));
  EXPECT_EQ(probe.counters().skips, 1u);
}

TEST(ConeProbe, RefusesACellOutsideTheLattice) {
  ConeProbe probe(geometry_of({4, 4}, OURO_PRECISION_F64));
  EXPECT_THROW(probe.arm({16}, false, false, 0, 1, 0), std::invalid_argument);
}

}  // namespace
}  // namespace ouro

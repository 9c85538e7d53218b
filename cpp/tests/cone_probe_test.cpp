// The cone probe's gather on its own, without a runner: the values it
// copies are the levels' values at the cone cells (wrapped around the torus,
// in the oracle's order); every boundary gathers the same number of values,
// probed or not, at cells drawn afresh, and only the due one is handed over;
// its cones stay within the budget, which caps every batch; a follow-on
// probe may take the batch right after another's, and a probe due while two
// are still out is skipped and counted, never waited for.
#include "core/cone_probe.h"
#include "core/cone_gather.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
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

/// Runs a plain boundary's gather, batch and finish as the runner does: the values gathered, and the step announced.
struct Boundary {
  std::uint64_t values;
  std::optional<std::uint64_t> announced;
};

template <typename Real>
Boundary boundary(ConeProbe& probe, std::uint64_t step, std::uint64_t steps, const std::vector<Real>& level) {
  const std::uint64_t values = probe.gather_boundary(step, steps, level.data(), level.data());
  EXPECT_TRUE(probe.batch_done(step + steps));
  return {values, probe.finish(step + steps, level.data())};
}

TEST(ConeProbe, EveryBoundaryGathersTheSameAndOnlyTheDueOneIsHandedOver) {
  const ouro_geometry geometry = geometry_of({64, 64}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  probe.arm(256, 7, false, false, 10, 5, 2000);
  const std::vector<double> previous = indexed_level<double>(geometry.cells);
  std::vector<double> current(geometry.cells);
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) current[cell] = -static_cast<double>(cell);
  const std::vector<double> newest = indexed_level<double>(geometry.cells);
  // Batches of 4 from step 0: the boundaries at 0, 4 and 8 come before the plan's step 10, the one at 12 after it.
  std::vector<std::uint64_t> gathered;
  for (std::uint64_t step = 0; step < 24; step += 4) {
    gathered.push_back(probe.gather_boundary(step, 4, previous.data(), current.data()));
    EXPECT_EQ(probe.steps_left(step), 4u);
    EXPECT_EQ(probe.batch(4, 0), 4u);
    ASSERT_TRUE(probe.batch_done(step + 4));
    const std::optional<std::uint64_t> announced = probe.finish(step + 4, newest.data());
    EXPECT_EQ(announced.has_value(), step == 12) << "boundary " << step;
    if (step != 12) continue;
    const std::optional<ConeProbeView> view = probe.ready();
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->step, 12u);
    EXPECT_EQ(view->steps, 4u);
    EXPECT_EQ(view->radius, 4u);
    const std::size_t kept = view->cells->size();
    ASSERT_GE(kept, 1u);
    EXPECT_EQ(kept, probe.boundary_cells(4, 4));
    const auto* older = static_cast<const double*>(view->older);
    const auto* newer = static_cast<const double*>(view->newer);
    const auto* values = static_cast<const double*>(view->values);
    for (std::size_t i = 0; i < kept; ++i) {
      const std::uint64_t cell = (*view->cells)[i];
      ASSERT_LT(cell, geometry.cells);
      EXPECT_EQ(values[i], static_cast<double>(cell));
      for (std::uint64_t p = 0; p < 81; ++p) {
        EXPECT_EQ(older[i * 81 + p], static_cast<double>(cone_cell(geometry, cell, 4, p)));
        EXPECT_EQ(newer[i * 81 + p], -static_cast<double>(cone_cell(geometry, cell, 4, p)));
      }
    }
    probe.settle(12);
  }
  // The same work at every boundary, probed or not: both levels' cones of as many cells.
  for (const std::uint64_t values : gathered) EXPECT_EQ(values, gathered.front());
  EXPECT_EQ(gathered.front(), 2 * probe.boundary_cells(4, 4) * 81);
  const ConeProbe::Counters counters = probe.counters();
  EXPECT_EQ(counters.probes, 1u);
  EXPECT_EQ(counters.boundaries, 6u);
  EXPECT_EQ(counters.gathered_values, 6 * gathered.front());
}

TEST(ConeProbe, ABoundaryGathersAFixedShareOfTheBatchAtLeastOneCellWithinTheBudget) {
  // Only the counts: a 4096^2 geometry with no level behind it.
  ConeProbe probe(geometry_of({4096, 4096}, OURO_PRECISION_F64));
  probe.arm(4096, 1, false, false, 0, 10, 1u << 18);
  // 8 steps of 2^24 cells, one gathered value per 2^15 stepped: 4096 values, 14 cones of 17^2.
  EXPECT_EQ(probe.boundary_cells(8, 8), 4096u / 289u);
  EXPECT_EQ(probe.boundary_cells(1, 1), 512u / 9u);
  // A cone larger than the share: still one cell.
  EXPECT_EQ(probe.boundary_cells(200, 200), 1u);
  // The plan's cells bound it, and so does the budget.
  probe.arm(3, 1, false, false, 0, 10, 1u << 18);
  EXPECT_EQ(probe.boundary_cells(1, 1), 3u);
  probe.arm(4096, 1, false, false, 0, 10, 90);
  EXPECT_EQ(probe.boundary_cells(1, 1), 10u);
}

TEST(ConeProbe, DrawsFreshCellsForEveryProbe) {
  // 2^20 cells in 1-D: one-step batches gather 10 cones of 3 cells each.
  const ouro_geometry geometry = geometry_of({1u << 20}, OURO_PRECISION_F32);
  const std::vector<float> level(geometry.cells, 1.0f);
  ConeProbe probe(geometry);
  // A plan due at once whose follow-on takes the very next batch: two probes back to back.
  probe.arm(64, 3, false, false, 0, 10, 0, ConeFollow{false, false, 0});
  ASSERT_EQ(boundary(probe, 0, 1, level).announced, std::optional<std::uint64_t>(0));
  ASSERT_EQ(boundary(probe, 1, 1, level).announced, std::optional<std::uint64_t>(1));
  const std::vector<std::uint64_t> first = *probe.ready()->cells;
  const std::vector<std::uint64_t> second = *probe.ready()->cells;
  ASSERT_EQ(first.size(), 10u);
  ASSERT_EQ(second.size(), 10u);
  // Sorted (outside the probe's lock), so that a gather walks each level once.
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
  EXPECT_TRUE(std::is_sorted(second.begin(), second.end()));
  std::vector<std::uint64_t> shared;
  std::set_intersection(first.begin(), first.end(), second.begin(), second.end(), std::back_inserter(shared));
  EXPECT_TRUE(shared.empty());
  // The same seed draws the same cells: the draws are reproducible.
  ConeProbe again(geometry);
  again.arm(64, 3, false, false, 0, 10, 0);
  ASSERT_TRUE(boundary(again, 0, 1, level).announced.has_value());
  EXPECT_EQ(*again.ready()->cells, first);
}

TEST(ConeProbe, CapsEveryBatchWhereOneConeOfItsLengthStillFitsTheBudget) {
  const auto cap = [](std::vector<std::uint64_t> extents, std::uint64_t budget) {
    ConeProbe probe(geometry_of(extents, OURO_PRECISION_F64));
    probe.arm(1, 0, false, false, 0, 1, budget);
    return probe.batch_cap();
  };
  // The default budget of 2^18 values: 63^3 and 21^4 fit, 65^3 and 23^4 do not; 2-D caps only beyond 64 steps.
  EXPECT_EQ(cap({32, 32, 32}, 1u << 18), 31u);
  EXPECT_EQ(cap({8, 8, 8, 8}, 1u << 18), 10u);
  EXPECT_EQ(cap({64, 64}, 1u << 18), 255u);
  // A budget below one radius-1 cone still allows one-step batches; no budget, no cap.
  EXPECT_EQ(cap({64, 64}, 5), 1u);
  EXPECT_EQ(cap({64, 64}, 0), std::numeric_limits<std::uint64_t>::max());
  ConeProbe unarmed(geometry_of({64, 64}, OURO_PRECISION_F64));
  EXPECT_EQ(unarmed.batch_cap(), std::numeric_limits<std::uint64_t>::max());
}

TEST(ConeProbe, AShapedProbeGathersItsConesBeforeItsFirstBatchWithinTheBudget) {
  const ouro_geometry geometry = geometry_of({32, 32, 32}, OURO_PRECISION_F32);
  ConeProbe probe(geometry);
  const std::vector<float> level(geometry.cells, 1.0f);
  // A plain plan is left to the boundaries' gather.
  probe.arm(2, 5, false, false, 0, 8, 1000);
  EXPECT_FALSE(probe.begin(0, level.data(), level.data(), 4, 0));
  EXPECT_FALSE(probe.under_way());
  // A delayed probe of 4-step batches spans 5 steps, an 11^3 cone: a budget of 1,000 allows radius 4 (9^3 = 729).
  probe.arm(2, 5, true, false, 0, 8, 1000);
  EXPECT_EQ(probe.batch_cap(), 4u);
  ASSERT_TRUE(probe.begin(0, level.data(), level.data(), 4, 0));
  EXPECT_TRUE(probe.shaped_under_way());
  EXPECT_EQ(probe.take_boundary_values(), 2u * 729u);
  EXPECT_EQ(probe.steps_left(0), 4u);
  EXPECT_EQ(probe.batch(4, 0), 1u);
  EXPECT_FALSE(probe.batch_done(1));
  EXPECT_EQ(probe.steps_left(1), 3u);
  // The live batch is cut at the radius: the probe ends there.
  EXPECT_TRUE(probe.batch_done(4));
  EXPECT_EQ(probe.finish(4, level.data()), std::optional<std::uint64_t>(0));
  EXPECT_EQ(probe.ready()->cells->size(), 1u);
}

TEST(ConeProbe, SkipsAndCountsADueProbeWhileTwoAreOutAndPutsItOffByItsInterval) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  probe.arm(3, 1, false, false, 4, 10, 0);
  EXPECT_FALSE(boundary(probe, 2, 2, level).announced.has_value());
  ASSERT_EQ(boundary(probe, 4, 2, level).announced, std::optional<std::uint64_t>(4));
  // The watchdog takes it and arms the next before its verdict: another slot takes it while the first is out.
  probe.arm(1, 2, false, false, 7, 10, 0);
  ASSERT_EQ(boundary(probe, 8, 2, level).announced, std::optional<std::uint64_t>(8));
  // A third, due while both are out, is gathered as every boundary is, skipped and put off by the interval.
  probe.arm(1, 3, false, false, 11, 10, 0);
  const Boundary skipped = boundary(probe, 12, 2, level);
  EXPECT_FALSE(skipped.announced.has_value());
  EXPECT_GT(skipped.values, 0u);
  EXPECT_EQ(probe.counters().skips, 1u);
  EXPECT_FALSE(probe.due(21));
  EXPECT_TRUE(probe.due(22));
  // The oldest is taken first, then the other; none is left to take.
  EXPECT_EQ(probe.ready()->step, 4u);
  EXPECT_EQ(probe.ready()->step, 8u);
  EXPECT_FALSE(probe.ready().has_value());
  probe.settle(4);
  // A gather whose batch will not run (the state replaced) is dropped, and the plan it took is due again at once.
  probe.gather_boundary(22, 2, level.data(), level.data());
  probe.abandon();
  EXPECT_TRUE(probe.due(22));
  EXPECT_EQ(boundary(probe, 23, 2, level).announced, std::optional<std::uint64_t>(23));
  EXPECT_EQ(probe.counters().skips, 1u);
}

TEST(ConeProbe, AFollowOnProbeIsDueItsOffsetAfterTheFirstEndsAndMayTakeTheVeryNextBatch) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  // Offset 0: the batch right after the first probe's, while the first is still out (not yet taken).
  probe.arm(2, 1, false, false, 4, 10, 0, ConeFollow{true, false, 0});
  ASSERT_EQ(boundary(probe, 4, 3, level).announced, std::optional<std::uint64_t>(4));
  EXPECT_TRUE(probe.due(7));
  // The follow-on's own coin: a one-step call first.
  ASSERT_TRUE(probe.begin(7, level.data(), level.data(), 3, 0));
  EXPECT_EQ(probe.batch(3, 0), 1u);
  EXPECT_FALSE(probe.batch_done(8));
  ASSERT_TRUE(probe.batch_done(11));
  EXPECT_EQ(probe.finish(11, level.data()), std::optional<std::uint64_t>(7));
  // A follow-on has none of its own: nothing is due until the watchdog arms again.
  EXPECT_FALSE(probe.due(1000));
  EXPECT_EQ(probe.ready()->step, 4u);
  EXPECT_EQ(probe.ready()->step, 7u);

  // Offset 5: due 5 steps after the first ends; a plan armed before it begins replaces it.
  ConeProbe later(geometry);
  later.arm(1, 1, false, false, 0, 10, 0, ConeFollow{false, false, 5});
  ASSERT_TRUE(boundary(later, 0, 1, level).announced.has_value());
  EXPECT_FALSE(later.due(5));
  EXPECT_TRUE(later.due(6));
  later.arm(1, 1, false, false, 9, 10, 0);
  EXPECT_FALSE(later.due(8));
  // A plan armed while its first probe is under way drops the follow-on: the watchdog's newer plan stands.
  ConeProbe rearmed(geometry);
  rearmed.arm(1, 1, false, false, 0, 10, 0, ConeFollow{false, false, 0});
  rearmed.gather_boundary(0, 1, level.data(), level.data());
  rearmed.arm(1, 1, false, false, 50, 10, 0);
  ASSERT_TRUE(rearmed.batch_done(1));
  EXPECT_TRUE(rearmed.finish(1, level.data()).has_value());
  EXPECT_FALSE(rearmed.due(49));
  EXPECT_TRUE(rearmed.due(50));
}

TEST(ConeProbe, ANewRunReleasesAProbeWhoseCheckNeverCameAndKeepsThePlan) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  probe.arm(1, 1, false, false, 0, 10, 0);
  ASSERT_TRUE(boundary(probe, 0, 1, level).announced.has_value());
  probe.arm(1, 1, false, false, 5, 10, 0);
  probe.reset();
  EXPECT_FALSE(probe.ready().has_value());
  EXPECT_FALSE(probe.due(4));
  EXPECT_EQ(boundary(probe, 5, 1, level).announced, std::optional<std::uint64_t>(5));
  EXPECT_EQ(probe.counters().skips, 0u);
}

TEST(ConeProbe, ARollbackDropsTheProbesAnnouncedAndNotYetTaken) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  probe.arm(1, 1, false, false, 0, 10, 0, ConeFollow{false, false, 0});
  ASSERT_TRUE(boundary(probe, 0, 1, level).announced.has_value());
  ASSERT_TRUE(boundary(probe, 1, 1, level).announced.has_value());
  // The watchdog has taken the first (its verdict is its own to drop); the second is dropped with the rollback.
  EXPECT_EQ(probe.ready()->step, 0u);
  probe.drop_announced();
  EXPECT_FALSE(probe.ready().has_value());
  // The taken one still holds its slot until settled: one more may be out.
  probe.arm(1, 1, false, false, 3, 10, 0);
  ASSERT_TRUE(boundary(probe, 3, 1, level).announced.has_value());
  probe.arm(1, 1, false, false, 5, 10, 0);
  EXPECT_FALSE(boundary(probe, 5, 1, level).announced.has_value());
  EXPECT_EQ(probe.counters().skips, 1u);
}

TEST(ConeProbe, AtAGenerousTakeRateEveryGatherIsHandedOverAndTheRunnerNeverWaits) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level(geometry.cells, 0.0);
  // The plan is due far off: every probe here is an extra.
  probe.arm(1, 5, false, false, 1000, 10, 0);
  probe.set_take_rate(1.0);
  std::uint64_t step = 0;
  for (std::size_t i = 0; i < ConeProbe::kMaxExtraOut; ++i, step += 2) {
    ASSERT_EQ(boundary(probe, step, 2, level).announced, std::optional<std::uint64_t>(step));
  }
  // All extra slots are out: the next chosen gather is made as every one is, then dropped and counted.
  const Boundary dropped = boundary(probe, step, 2, level);
  EXPECT_FALSE(dropped.announced.has_value());
  EXPECT_GT(dropped.values, 0u);
  EXPECT_EQ(probe.counters().extra_drops, 1u);
  // Its gather is counted apart, for the take rate's budget: part of every gather's cost.
  EXPECT_LE(probe.counters().extra_drop_ns, probe.counters().gather_ns);
  // The watchdog takes them oldest first, marked extra; settling one frees a slot for the next boundary's.
  const std::optional<ConeProbeView> first = probe.ready();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->step, 0u);
  EXPECT_TRUE(first->extra);
  probe.settle(0);
  step += 2;
  EXPECT_EQ(boundary(probe, step, 2, level).announced, std::optional<std::uint64_t>(step));
  // A due plan still has its own slots while the extras fill theirs.
  probe.arm(1, 6, false, false, step + 2, 10, 0);
  step += 2;
  EXPECT_EQ(boundary(probe, step, 2, level).announced, std::optional<std::uint64_t>(step));
  const ConeProbe::Counters counters = probe.counters();
  EXPECT_EQ(counters.extras, ConeProbe::kMaxExtraOut + 1);
  EXPECT_EQ(counters.probes, 1u);
  EXPECT_EQ(counters.skips, 0u);
  EXPECT_EQ(counters.cells_handed, counters.extras + counters.probes);
}

TEST(ConeProbe, AtATightTakeRateTheShareHandedOverFollowsTheRate) {
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  const std::vector<double> level(geometry.cells, 0.0);
  // Batches of 4 steps at 0.05 cells a step, one cell gathered: each gather is handed over with probability 0.2.
  ConeProbe probe(geometry);
  probe.arm(1, 11, false, false, std::numeric_limits<std::uint64_t>::max(), 10, 0);
  probe.set_take_rate(0.05);
  constexpr std::uint64_t kBoundaries = 4000;
  std::uint64_t handed = 0;
  for (std::uint64_t i = 0; i < kBoundaries; ++i) {
    const std::optional<std::uint64_t> announced = boundary(probe, 4 * i, 4, level).announced;
    if (!announced) continue;
    ++handed;
    ASSERT_TRUE(probe.ready().has_value());
    probe.settle(*announced);
  }
  // Seeded: the count is fixed; 800 expected, binomial sd ~25.
  EXPECT_GT(handed, 700u);
  EXPECT_LT(handed, 900u);
  EXPECT_EQ(probe.counters().extra_drops, 0u);
  EXPECT_EQ(probe.counters().extra_drop_ns, 0u);
  // A rate beyond one gather a batch gathers more cells at every boundary alike, every gather handed over.
  ConeProbe generous(geometry);
  generous.arm(64, 11, false, false, std::numeric_limits<std::uint64_t>::max(), 10, 0);
  generous.set_take_rate(2.5);
  const Boundary wide = boundary(generous, 0, 4, level);
  ASSERT_TRUE(wide.announced.has_value());
  EXPECT_EQ(generous.ready()->cells->size(), 10u);
  EXPECT_EQ(wide.values, 2 * 10 * cone_values(2, 4));
  // Rate 0: only the plan's.
  ConeProbe plain(geometry);
  plain.arm(1, 11, false, false, std::numeric_limits<std::uint64_t>::max(), 10, 0);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_FALSE(boundary(plain, 4 * i, 4, level).announced.has_value());
  EXPECT_THROW(plain.set_take_rate(-1.0), std::invalid_argument);
  EXPECT_THROW(plain.set_take_rate(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
}

TEST(ConeProbe, AtAGenerousRateACellIsCheckedAtTheFirstBoundaryThatDrawsIt) {
  // Every gather handed over: a cell wrong in the kernel's output is in the first probe whose cells include it, so
  // the watchdog sees it within as many boundaries as it takes to draw it (for 1 cell of 256 drawn per boundary, a
  // few hundred), not within that many plans.
  const ouro_geometry geometry = geometry_of({16, 16}, OURO_PRECISION_F64);
  const std::vector<double> level(geometry.cells, 0.0);
  ConeProbe probe(geometry);
  probe.arm(1, 3, false, false, std::numeric_limits<std::uint64_t>::max(), 10, 0);
  probe.set_take_rate(1.0);
  constexpr std::uint64_t kWrongCell = 77;
  std::optional<std::uint64_t> found;
  for (std::uint64_t i = 0; i < 4096 && !found; ++i) {
    const std::optional<std::uint64_t> announced = boundary(probe, i, 1, level).announced;
    ASSERT_TRUE(announced.has_value());
    const std::optional<ConeProbeView> view = probe.ready();
    ASSERT_TRUE(view.has_value());
    for (const std::uint64_t cell : *view->cells) {
      if (cell == kWrongCell) found = i;
    }
    probe.settle(*announced);
  }
  ASSERT_TRUE(found.has_value());
  EXPECT_LT(*found, 4096u);
  EXPECT_EQ(probe.counters().extras, *found + 1);
}

TEST(ConeProbe, AShapedProbesLaterBatchIsPrecededByTheGatherOfAnyBoundaryAndTheProbeIsUntouched) {
  const ouro_geometry geometry = geometry_of({64, 64}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level = indexed_level<double>(geometry.cells);
  probe.arm(256, 7, true, false, 0, 5, 2000);
  // A plain boundary's gather before a batch of 4, for the count to match.
  const std::uint64_t plain = probe.gather_boundary(100, 4, level.data(), level.data());
  probe.abandon();
  probe.arm(256, 7, true, false, 0, 5, 2000);
  ASSERT_TRUE(probe.begin(0, level.data(), level.data(), 4, 0));
  EXPECT_FALSE(probe.within_shaped(0));
  EXPECT_FALSE(probe.batch_done(1));
  ASSERT_TRUE(probe.within_shaped(1));
  EXPECT_EQ(probe.gather_decoy(4, level.data(), level.data()), plain);
  ASSERT_TRUE(probe.batch_done(5));
  EXPECT_EQ(probe.finish(5, level.data()), std::optional<std::uint64_t>(0));
  const std::optional<ConeProbeView> view = probe.ready();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->steps, 5u);
  EXPECT_EQ(view->radius, 5u);
  EXPECT_FALSE(probe.within_shaped(5));
}

TEST(ConeProbe, AShapedProbesCellsAreSortedToo) {
  const ouro_geometry geometry = geometry_of({64, 64}, OURO_PRECISION_F64);
  ConeProbe probe(geometry);
  const std::vector<double> level = indexed_level<double>(geometry.cells);
  // A take rate that gathers more than one cell: 2000 values hold 16 cones of 11^2 for the 5 steps it spans.
  probe.arm(256, 7, true, false, 0, 5, 2000);
  probe.set_take_rate(4.0);
  ASSERT_TRUE(probe.begin(0, level.data(), level.data(), 4, 0));
  ASSERT_TRUE(probe.batch_done(5));
  ASSERT_TRUE(probe.finish(5, level.data()).has_value());
  const std::optional<ConeProbeView> view = probe.ready();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->cells->size(), 16u);
  EXPECT_TRUE(std::is_sorted(view->cells->begin(), view->cells->end()));
}

TEST(ConeProbe, RefusesAPlanOfNoCells) {
  ConeProbe probe(geometry_of({4, 4}, OURO_PRECISION_F64));
  EXPECT_THROW(probe.arm(0, 0, false, false, 0, 1, 0), std::invalid_argument);
  EXPECT_THROW(probe.arm(1, 0, false, false, 0, 0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace ouro

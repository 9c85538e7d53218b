// The watchdog's snapshot store on its own, without a lattice: what is handed
// out, when a capture is skipped, how a probe sizes its batches and what a
// restore copies back.
#include "core/snapshot_store.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace ouro {
namespace {

constexpr std::uint64_t kCells = 4;
constexpr std::size_t kLevelBytes = kCells * sizeof(double);

struct Levels {
  std::array<double, kCells> previous;
  std::array<double, kCells> current;
};

/// A lattice of kCells f64 cells: a line, or a 2 x 2 square (only the cone budget sees the dimensions).
ouro_geometry line(std::uint32_t dims = 1) {
  ouro_geometry geometry{};
  geometry.dims = dims;
  geometry.precision = OURO_PRECISION_F64;
  geometry.cells = kCells;
  geometry.extents[0] = dims == 1 ? kCells : 2;
  geometry.strides[0] = dims == 1 ? 1 : 2;
  geometry.extents[1] = dims == 1 ? 0 : 2;
  geometry.strides[1] = dims == 1 ? 0 : 1;
  return geometry;
}

Levels levels(double base) {
  return {{base, base + 1, base + 2, base + 3}, {base + 10, base + 11, base + 12, base + 13}};
}

TEST(SnapshotStore, HandsOutACaptureUntilItIsSettledAndSkipsCapturesMeanwhile) {
  SnapshotStore store(line(), kLevelBytes);
  EXPECT_FALSE(store.pending().has_value());
  const Levels first = levels(0);
  EXPECT_EQ(store.capture(8, first.previous.data(), first.current.data(), 4, 8), SnapshotStore::Capture::Announce);
  const Levels second = levels(100);
  EXPECT_EQ(store.capture(16, second.previous.data(), second.current.data(), 4, 8), SnapshotStore::Capture::Skipped);

  const std::optional<SnapshotView> pending = store.pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->step, 8u);
  EXPECT_EQ(std::memcmp(pending->previous, first.previous.data(), kLevelBytes), 0);
  EXPECT_EQ(std::memcmp(pending->current, first.current.data(), kLevelBytes), 0);
  EXPECT_EQ(pending->probe_cells, nullptr);

  store.settle(7, true);
  EXPECT_FALSE(store.verified_step().has_value()) << "a verdict on another step settles nothing";
  store.settle(8, true);
  EXPECT_EQ(store.verified_step(), 8u);
  EXPECT_FALSE(store.pending().has_value());
  EXPECT_EQ(store.capture(16, second.previous.data(), second.current.data(), 4, 8), SnapshotStore::Capture::Announce);
}

TEST(SnapshotStore, SkipsCapturesBelowADeferredStepUntilReset) {
  SnapshotStore store(line(), kLevelBytes);
  const Levels state = levels(0);
  store.defer_captures(24);
  EXPECT_EQ(store.captures_from(), 24u);
  EXPECT_EQ(store.capture(16, state.previous.data(), state.current.data(), 4, 8), SnapshotStore::Capture::Skipped);
  EXPECT_FALSE(store.pending().has_value());
  EXPECT_EQ(store.capture(24, state.previous.data(), state.current.data(), 4, 8), SnapshotStore::Capture::Announce);
  store.settle(24, true);
  store.defer_captures(1000);
  store.reset();
  EXPECT_EQ(store.captures_from(), 0u) << "a new run starts with no deferral";
  EXPECT_EQ(store.capture(32, state.previous.data(), state.current.data(), 4, 8), SnapshotStore::Capture::Announce);
}

TEST(SnapshotStore, RestoreCopiesTheVerifiedSnapshotBackAndDropsThePendingOne) {
  SnapshotStore store(line(), kLevelBytes);
  std::array<double, kCells> current_out{};
  std::array<double, kCells> previous_out{};
  EXPECT_FALSE(store.restore(current_out.data(), previous_out.data()).has_value());

  const Levels verified = levels(0);
  store.capture(8, verified.previous.data(), verified.current.data(), 1, 8);
  store.settle(8, true);
  const Levels unverified = levels(100);
  store.capture(16, unverified.previous.data(), unverified.current.data(), 1, 8);

  EXPECT_EQ(store.restore(current_out.data(), previous_out.data()), 8u);
  EXPECT_EQ(current_out, verified.current);
  EXPECT_EQ(previous_out, verified.previous);
  EXPECT_FALSE(store.pending().has_value());
}

TEST(SnapshotStore, ADelayedRemainderProbeRunsOneStepThenTheRemainderThenTheLiveBatch) {
  SnapshotStore store(line(), kLevelBytes);
  store.set_probe({1, 3}, true, 0, true);
  const Levels at_capture = levels(0);
  // k = 3 does not divide the interval 8: the batch ending an interval has 8 mod 3 = 2 steps.
  EXPECT_EQ(store.capture(8, at_capture.previous.data(), at_capture.current.data(), 3, 8),
            SnapshotStore::Capture::Probing);
  EXPECT_FALSE(store.pending().has_value()) << "not announced before its probe is taken";
  EXPECT_EQ(store.probe_batch(3, 8), 1u);
  EXPECT_FALSE(store.batch_done());
  EXPECT_EQ(store.probe_batch(3, 8), 2u);
  EXPECT_FALSE(store.batch_done());
  EXPECT_EQ(store.probe_batch(3, 8), 3u);
  EXPECT_TRUE(store.batch_done());

  const Levels newest = levels(50);
  EXPECT_EQ(store.finish_probe(14, newest.current.data()), 8u);
  const std::optional<SnapshotView> pending = store.pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->probe_steps, 6u);
  ASSERT_NE(pending->probe_cells, nullptr);
  EXPECT_EQ(*pending->probe_cells, (std::vector<std::uint64_t>{1, 3}));
  const auto* values = static_cast<const double*>(pending->probe_values);
  EXPECT_EQ(values[0], newest.current[1]);
  EXPECT_EQ(values[1], newest.current[3]);
}

TEST(SnapshotStore, AnAbandonedProbeFreesTheSlotForTheNextCapture) {
  SnapshotStore store(line(), kLevelBytes);
  store.set_probe({0}, false, 0, false);
  const Levels state = levels(0);
  EXPECT_EQ(store.capture(8, state.previous.data(), state.current.data(), 4, 8), SnapshotStore::Capture::Probing);
  store.abandon_probe();
  EXPECT_FALSE(store.pending().has_value());
  EXPECT_EQ(store.probe_batch(4, 8), 4u);
  EXPECT_EQ(store.capture(16, state.previous.data(), state.current.data(), 4, 8), SnapshotStore::Capture::Probing);
}

TEST(SnapshotStore, ThinsProbedCellsToTheConeBudget) {
  SnapshotStore store(line(2), kLevelBytes);
  // A 1-step cone in 2-D holds 3^2 = 9 values: a budget of 20 keeps 2 of the 4 cells, evenly spaced.
  store.set_probe({0, 1, 2, 3}, false, 20, false);
  const Levels state = levels(0);
  store.capture(0, state.previous.data(), state.current.data(), 1, 8);
  EXPECT_TRUE(store.batch_done());
  store.finish_probe(1, state.current.data());
  const std::optional<SnapshotView> pending = store.pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(*pending->probe_cells, (std::vector<std::uint64_t>{0, 2}));
}

TEST(SnapshotStore, AWholeLevelProbeHandsOutTheNewestLevelSharedAndNeverRewritesAShareStillHeld) {
  SnapshotStore store(line(), kLevelBytes);
  store.set_probe_whole_level(false, false);
  const Levels state = levels(0);
  EXPECT_EQ(store.capture(8, state.previous.data(), state.current.data(), 4, 8), SnapshotStore::Capture::Probing);
  EXPECT_EQ(store.probe_batch(4, 8), 4u);
  EXPECT_TRUE(store.batch_done());
  const Levels first = levels(50);
  store.finish_probe(12, first.current.data());
  std::optional<SnapshotView> pending = store.pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->probe_cells, nullptr) << "no index list";
  EXPECT_EQ(pending->probe_steps, 4u);
  ASSERT_NE(pending->probe_level, nullptr);
  const std::shared_ptr<const std::vector<std::byte>> held = pending->probe_level;
  pending.reset();
  ASSERT_EQ(held->size(), kLevelBytes);
  EXPECT_EQ(std::memcmp(held->data(), first.current.data(), kLevelBytes), 0);

  // Dropped by a recovery while a check still holds the level: the next whole-level probe writes another.
  store.restore(nullptr, nullptr);
  store.capture(16, state.previous.data(), state.current.data(), 4, 8);
  EXPECT_TRUE(store.batch_done());
  const Levels second = levels(90);
  store.finish_probe(20, second.current.data());
  EXPECT_EQ(std::memcmp(held->data(), first.current.data(), kLevelBytes), 0);
  pending = store.pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(std::memcmp(pending->probe_level->data(), second.current.data(), kLevelBytes), 0);

  // A probe of cells after it takes no whole level.
  store.settle(16, false);
  store.set_probe({2}, false, 0, false);
  store.capture(24, state.previous.data(), state.current.data(), 4, 8);
  EXPECT_TRUE(store.batch_done());
  store.finish_probe(28, second.current.data());
  pending = store.pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->probe_level, nullptr);
  ASSERT_NE(pending->probe_cells, nullptr);
}

TEST(SnapshotStore, RefusesAProbeCellOutsideTheLattice) {
  SnapshotStore store(line(), kLevelBytes);
  EXPECT_THROW(store.set_probe({kCells}, false, 0, false), std::invalid_argument);
}

}  // namespace
}  // namespace ouro

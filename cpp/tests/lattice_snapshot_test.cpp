// LatticeCore's runner and the watchdog's snapshots: deferrals, recovery to
// the verified snapshot, and the probes a snapshot carries.
#include <gtest/gtest.h>

#include "lattice_runner_fixtures.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace ouro::test {
namespace {

TEST(LatticeRunner, ADeferredSnapshotIsNeitherTakenNorCutForBeforeItsStep) {
  auto lattice = seeded();
  lattice->trace_steps(1000);
  std::vector<std::uint64_t> announced;
  // The callback runs on the runner: the deferral holds from the first batch on.
  const RunSummary summary = start(*lattice, {57, 10}, [&](std::uint64_t step) {
                               announced.push_back(step);
                               if (step == 0) lattice->defer_snapshots(31);
                               lattice->settle_snapshot(step, true);
                             }).get();
  lattice->stop();
  EXPECT_EQ(announced, (std::vector<std::uint64_t>{0, 40, 50}));
  // No batch ends at 10, 20 or 30; the one before 40 is cut to end there.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> expected{
      {0, 1}, {1, 2}, {3, 4}, {7, 8}, {15, 8}, {23, 8}, {31, 8}, {39, 1}, {40, 8}, {48, 2}, {50, 7}};
  EXPECT_EQ(batches_of(lattice->take_trace()), expected);
  EXPECT_EQ(summary.steps_run, 57u);
}

TEST(LatticeRunner, ASwapEndsADeferralSoTheNewCodeIsCheckedAtTheNextSnapshotStep) {
  auto lattice = seeded();
  std::promise<std::uint64_t> second;
  std::atomic<int> announced{0};
  auto ended = start(*lattice, {0, 10}, [&](std::uint64_t step) {
    if (announced++ == 0) lattice->defer_snapshots(std::uint64_t{1} << 60);
    if (announced == 2) second.set_value(step);
    lattice->settle_snapshot(step, true);
  });
  const SwapOutcome swapped = swap_and_wait(*lattice, Slot::Step, load_kernel(test::reference_twin_kernel_path()));
  auto next = second.get_future();
  // Only the swap can end a deferral of 2^60 steps; the guard against a hang is far beyond any machine's pace.
  ASSERT_EQ(next.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  lattice->stop();
  ended.get();
  const std::uint64_t step = next.get();
  EXPECT_EQ(step % 10, 0u);
  EXPECT_GT(step, swapped.applied_at_step);
  EXPECT_LE(step, swapped.applied_at_step + 10);
}

TEST(LatticeRunner, RecoverRestoresTheVerifiedSnapshotAndRollsBack) {
  auto lattice = seeded();
  auto oracle_run = seeded();
  const auto reference = lattice->live_module(Slot::Step);
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  swap_and_wait(*lattice, Slot::Step, twin);
  // Verify every snapshot the runner hands out, from this test's thread.
  std::vector<std::uint64_t> offered;
  std::mutex offered_mutex;
  auto ended = start(*lattice, {60, 10}, [&](std::uint64_t step) {
    std::lock_guard<std::mutex> lock(offered_mutex);
    offered.push_back(step);
  });
  ended.get();
  lattice->stop();
  {
    std::lock_guard<std::mutex> lock(offered_mutex);
    ASSERT_FALSE(offered.empty());
    EXPECT_EQ(offered.front(), 0u);
  }
  const std::optional<SnapshotView> pending = lattice->pending_snapshot();
  ASSERT_TRUE(pending.has_value());
  const std::uint64_t verified_at = pending->step;
  lattice->settle_snapshot(verified_at, true);
  EXPECT_EQ(lattice->verified_step(), verified_at);
  lattice->step(7);

  const RecoveryOutcome recovered = lattice->recover(Slot::Step);
  EXPECT_EQ(recovered.restored_step, verified_at);
  EXPECT_EQ(recovered.rollback.to_id, reference->id());
  EXPECT_EQ(lattice->step_count(), verified_at);
  oracle_run->step(verified_at);
  EXPECT_TRUE(same_bits(current_of(*lattice), current_of(*oracle_run)));
}

TEST(LatticeRunner, AProbedSnapshotHoldsTheProbedCellsAfterTheLiveBatch) {
  for (const bool delayed : {false, true}) {
    auto lattice = seeded();
    auto stepped = seeded();
    lattice->step(20);  // the sizer is at 8 steps per batch now
    const std::vector<std::uint64_t> cells{0, 7, 42, kCells - 1};
    lattice->set_probe(cells, delayed);
    lattice->trace_steps(100);
    std::vector<std::uint64_t> offered;
    std::mutex offered_mutex;
    // Announced only once the probe is taken, after the live batch of 8 (after one step and then 8 when delayed).
    auto ended = start(*lattice, {12, 100}, [&](std::uint64_t step) {
      std::lock_guard<std::mutex> lock(offered_mutex);
      offered.push_back(step);
    });
    ended.get();
    lattice->stop();
    const auto expected = delayed ? std::vector<std::pair<std::uint64_t, std::uint64_t>>{{20, 1}, {21, 8}, {29, 3}}
                                  : std::vector<std::pair<std::uint64_t, std::uint64_t>>{{20, 8}, {28, 4}};
    EXPECT_EQ(batches_of(lattice->take_trace()), expected);
    EXPECT_EQ(offered, std::vector<std::uint64_t>{20});
    const std::optional<SnapshotView> pending = lattice->pending_snapshot();
    ASSERT_TRUE(pending.has_value());
    ASSERT_EQ(*pending->probe_cells, cells);
    const std::uint64_t probe_steps = delayed ? 9 : 8;
    EXPECT_EQ(pending->probe_steps, probe_steps);
    stepped->step(20);
    EXPECT_TRUE(same_bits(copy_level<double>(pending->current, kCells), current_of(*stepped)));
    stepped->step(probe_steps);
    const std::vector<double> after = current_of(*stepped);
    const std::vector<double> probed = copy_level<double>(pending->probe_values, cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) EXPECT_EQ(probed[i], after[cells[i]]) << "cell " << cells[i];
  }
}

TEST(LatticeRunner, ARemainderProbeChecksABatchOfTheSizeThatEndsEachInterval) {
  for (const bool delayed : {false, true}) {
    auto lattice = seeded();
    auto stepped = seeded();
    lattice->step(20);  // the sizer is at 8 steps per batch now
    const std::vector<std::uint64_t> cells{0, 7, 42, kCells - 1};
    lattice->set_probe(cells, delayed, 0, true);
    lattice->trace_steps(100);
    // Snapshots every 20 steps: 20 mod 8 = 4, the batch that ends an interval. The probe runs one like it
    // (after the one-step batch when delayed), then the live batch of 8; the snapshot at 40 is skipped
    // while the one at 20 is out.
    auto ended = start(*lattice, {30, 20}, [](std::uint64_t) {});
    ended.get();
    lattice->stop();
    using Batches = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
    const Batches expected = delayed ? Batches{{20, 1}, {21, 4}, {25, 8}, {33, 7}, {40, 8}, {48, 2}}
                                     : Batches{{20, 4}, {24, 8}, {32, 8}, {40, 8}, {48, 2}};
    EXPECT_EQ(batches_of(lattice->take_trace()), expected);
    const std::optional<SnapshotView> pending = lattice->pending_snapshot();
    ASSERT_TRUE(pending.has_value());
    EXPECT_EQ(pending->step, 20u);
    const std::uint64_t probe_steps = delayed ? 13 : 12;
    EXPECT_EQ(pending->probe_steps, probe_steps);
    stepped->step(20 + probe_steps);
    const std::vector<double> after = current_of(*stepped);
    const std::vector<double> probed = copy_level<double>(pending->probe_values, cells.size());
    for (std::size_t i = 0; i < cells.size(); ++i) EXPECT_EQ(probed[i], after[cells[i]]) << "cell " << cells[i];
  }
}

TEST(LatticeRunner, ARemainderProbeIsAnOrdinaryOneWhereTheBatchSizeDividesTheInterval) {
  auto lattice = seeded();
  lattice->step(20);  // 8 steps per batch, which divides the interval of 16 below
  lattice->set_probe({3}, false, 0, true);
  lattice->trace_steps(100);
  auto ended = start(*lattice, {12, 16}, [](std::uint64_t) {});
  ended.get();
  lattice->stop();
  EXPECT_EQ(batches_of(lattice->take_trace()),
            (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{20, 8}, {28, 4}}));
  ASSERT_TRUE(lattice->pending_snapshot().has_value());
  EXPECT_EQ(lattice->pending_snapshot()->probe_steps, 8u);
}

TEST(LatticeRunner, AProbeOfALongBatchKeepsAnEvenlySpacedShareOfItsCells) {
  auto lattice = seeded();
  lattice->step(20);
  // A batch of 8 steps on a 2-D lattice: a cone of 17^2 values per cell, room for two.
  lattice->set_probe({1, 5, 9, 13}, false, 2 * 17 * 17);
  auto ended = start(*lattice, {8, 100}, [](std::uint64_t) {});
  ended.get();
  lattice->stop();
  const std::optional<SnapshotView> pending = lattice->pending_snapshot();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->probe_steps, 8u);
  EXPECT_EQ(*pending->probe_cells, (std::vector<std::uint64_t>{1, 9}));
}

TEST(LatticeRunner, ConeProbesGatherTheSameBeforeEveryBatchAndCapEveryBatch) {
  auto lattice = seeded();
  // A budget of 50 values: one cone of 7^2 fits, 9^2 does not, so every batch is capped at 3 steps, not the sizer's 8.
  lattice->arm_cone_probe(4, 1, false, false, 30, 10, 50);
  lattice->trace_steps(100);
  std::vector<std::uint64_t> announced;
  auto ended = std::make_shared<std::promise<RunSummary>>();
  lattice->run(
      {60, 0}, [ended](const RunSummary& summary) { ended->set_value(summary); }, nullptr,
      [&announced](std::uint64_t step) { announced.push_back(step); });
  ended->get_future().get();
  lattice->stop();
  EXPECT_EQ(announced, std::vector<std::uint64_t>{30});
  const std::vector<StepRecord> trace = lattice->take_trace();
  ASSERT_FALSE(trace.empty());
  // Once the sizer has ramped up (1, 2, then the cap), every batch has 3 steps and the same gather before it.
  std::uint64_t probed = 0;
  for (const StepRecord& record : trace) {
    EXPECT_LE(record.steps, 3u);
    EXPECT_GT(record.cone_values, 0u);
    if (record.step < 3) continue;
    EXPECT_EQ(record.steps, 3u);
    EXPECT_EQ(record.cone_values, trace.back().cone_values);
    EXPECT_EQ(record.cone_probed, record.step == 30);
    probed += record.cone_probed ? 1 : 0;
  }
  EXPECT_EQ(probed, 1u);
  EXPECT_EQ(lattice->cone_batch_cap(), 3u);
  EXPECT_EQ(lattice->watchdog_counters().cones.boundaries, trace.size());
}

// The longest batch of a trace.
std::uint64_t longest_batch(const std::vector<StepRecord>& trace) {
  std::uint64_t longest = 0;
  for (const StepRecord& record : trace) longest = std::max(longest, record.steps);
  return longest;
}

TEST(LatticeRunner, TheConeBatchCapIsSetWhereConeProbesAreSwitchedOnOrTheirBudgetMoves) {
  auto lattice = seeded();
  // A budget of 50 values caps batches at 3 steps while a run takes cone probes (its plan far off: none is handed
  // over).
  const std::uint64_t never = std::uint64_t{1} << 60;
  lattice->arm_cone_probe(4, 1, false, false, never, 10, 50);
  lattice->trace_steps(100);
  const auto run_with_cones = [&](RunOptions options) {
    auto ended = std::make_shared<std::promise<RunSummary>>();
    lattice->run(
        options, [ended](const RunSummary& summary) { ended->set_value(summary); }, nullptr, [](std::uint64_t) {});
    return ended->get_future();
  };
  run_with_cones({30, 0}).get();
  lattice->stop();
  EXPECT_EQ(longest_batch(lattice->take_trace()), 3u);
  // A run without cone probes is not capped: the sizer goes on from 3 to its own limit of 8.
  lattice->trace_steps(100);
  start(*lattice, {40, 0}).get();
  lattice->stop();
  EXPECT_EQ(batches_of(lattice->take_trace()), (std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                                                   {30, 3}, {33, 6}, {39, 8}, {47, 8}, {55, 8}, {63, 7}}));
  // Capped again by the next run with cone probes; a plan of another budget (none) lifts the cap mid-run, from the
  // boundary the runner takes it at (trace_steps is served at a later one).
  auto ended = run_with_cones({0, 0});
  lattice->trace_steps(100);
  const std::uint64_t from = lattice->step_count();
  while (lattice->step_count() < from + 30) std::this_thread::yield();
  EXPECT_EQ(longest_batch(lattice->take_trace()), 3u);
  lattice->arm_cone_probe(4, 1, false, false, never, 10, 0);
  lattice->trace_steps(100);
  const std::uint64_t lifted = lattice->step_count();
  while (lattice->step_count() < lifted + 60) std::this_thread::yield();
  lattice->stop();
  ended.get();
  EXPECT_EQ(longest_batch(lattice->take_trace()), 8u);
  EXPECT_EQ(lattice->cone_batch_cap(), std::numeric_limits<std::uint64_t>::max());
}

TEST(LatticeRunner, ASnapshotWhoseProbeIsCutShortIsNeverAnnounced) {
  auto lattice = seeded();
  // Delayed: a one-step batch and then another, but the one-step run ends before the second.
  lattice->set_probe({3}, true);
  std::atomic<int> offered{0};
  auto ended = start(*lattice, {1, 100}, [&](std::uint64_t) { offered.fetch_add(1); });
  ended.get();
  lattice->stop();
  EXPECT_EQ(offered.load(), 0);
  EXPECT_FALSE(lattice->pending_snapshot().has_value());
  EXPECT_THROW(lattice->set_probe({kCells}, false), std::invalid_argument);
}

}  // namespace
}  // namespace ouro::test

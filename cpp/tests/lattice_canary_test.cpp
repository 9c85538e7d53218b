// LatticeCore's canaries: a candidate against the live module on copies of
// the live state, called as the runner calls kernels, and cancelled between
// two kernel calls.
#include <gtest/gtest.h>

#include "lattice_runner_fixtures.h"

#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace ouro::test {
namespace {

TEST(LatticeRunner, CanaryCallsKernelsAsTheRunnerDoes) {
  // Large enough for the misbehaving kernels to misbehave (256 cells).
  auto lattice = make_lattice<double>({20, 20}, 0.2, 2, kUnboundedLatency);
  lattice->set_state(random_field<double>(400, 3).data(), random_field<double>(400, 4).data());
  lattice->step(20);
  ASSERT_EQ(lattice->batch_steps(), 8u);
  // 20 steps in calls of 1, 8, 8 and 3: a one-step call, live batches, and an odd batch.
  for (const char* name : {"WrongWhenBatched", "WrongWhenSingle", "WrongOnOddBatches"}) {
    const auto wrong = load_kernel(test::test_kernel_path(std::string("misbehaving_") + name));
    const CanaryOutcome outcome = lattice->run_canary(lattice->prepare_canary(Slot::Step, wrong), 20);
    EXPECT_GT(outcome.max_abs_difference, 1e-6) << name;
  }
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  EXPECT_EQ(lattice->run_canary(lattice->prepare_canary(Slot::Step, twin), 20).max_abs_difference, 0.0);
}

TEST(LatticeRunner, CanaryComparesOnCopiesAndLeavesTheLiveStateAlone) {
  auto lattice = seeded();
  lattice->step(3);
  const std::vector<double> before = current_of(*lattice);
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  const auto rows = load_kernel(test::rows_kernel_path());
  const CanaryOutcome same = lattice->run_canary(lattice->prepare_canary(Slot::Step, twin), 20);
  EXPECT_EQ(same.max_abs_difference, 0.0);
  const CanaryOutcome close = lattice->run_canary(lattice->prepare_canary(Slot::Step, rows), 20);
  EXPECT_GT(close.max_abs_difference, 0.0);
  EXPECT_LT(close.max_abs_difference, 1e-12);
  EXPECT_TRUE(same_bits(current_of(*lattice), before));
  EXPECT_EQ(lattice->step_count(), 3u);
}

TEST(LatticeRunner, CancelledCanaryEndsBetweenKernelCallsAndSaysSo) {
  auto lattice = seeded();
  const auto twin = load_kernel(test::reference_twin_kernel_path());
  const CanaryInput input = lattice->prepare_canary(Slot::Step, twin);
  // More steps than any test would wait for: only the cancel can end it.
  constexpr std::uint64_t kEndlessSteps = std::uint64_t{1} << 50;
  auto canary = std::async(std::launch::async, [&] { return lattice->run_canary(input, kEndlessSteps); });
  while (input.control->steps_done.load() == 0) std::this_thread::yield();
  lattice->cancel_canaries();
  const CanaryOutcome outcome = canary.get();
  EXPECT_TRUE(outcome.cancelled);
  EXPECT_GT(outcome.steps_done, 0u);
  EXPECT_LT(outcome.steps_done, kEndlessSteps);
  EXPECT_EQ(outcome.steps_done, input.control->steps_done.load());
  // A cancel ends the canaries prepared before it, not those prepared after.
  const CanaryOutcome next = lattice->run_canary(lattice->prepare_canary(Slot::Step, twin), 20);
  EXPECT_FALSE(next.cancelled);
  EXPECT_EQ(next.steps_done, 20u);
  EXPECT_EQ(next.max_abs_difference, 0.0);
}

}  // namespace
}  // namespace ouro::test

// The host side of a lattice: geometry, the step parity contract, copies and state lifetime.
#include <gtest/gtest.h>

#include "lattice_fixtures.h"

#include <cmath>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

namespace ouro {
namespace {

using test::copy_level;
using test::make_lattice;
using test::random_field;
using test::reference_kernel;
using test::same_bits;

struct Levels {
  std::vector<double> previous, current;
};

Levels live_levels(const LatticeCore& lattice) {
  const std::uint64_t cells = lattice.geometry().cells;
  return {copy_level<double>(lattice.previous_level(), cells), copy_level<double>(lattice.current_level(), cells)};
}

Levels pair_levels(const LevelPair& pair, std::uint64_t cells) {
  return {copy_level<double>(pair.previous_level(), cells), copy_level<double>(pair.current_level(), cells)};
}

bool same_levels(const Levels& a, const Levels& b) {
  return same_bits(a.previous, b.previous) && same_bits(a.current, b.current);
}

std::unique_ptr<LatticeCore> seeded_lattice() {
  auto lattice = make_lattice<double>({5, 4, 3}, 0.2);
  const std::uint64_t cells = lattice->geometry().cells;
  lattice->set_state(random_field<double>(cells, 1).data(), random_field<double>(cells, 2).data());
  return lattice;
}

// tests/fixtures/hostile/counts-calls-in-scratch.cpp stops stepping after its 100000th call, counted in the scratch:
// the core discards the scratch before every call, so past that many calls it is still the reference, bit for bit.
TEST(LatticeCore, AKernelCannotCountItsCallsInTheScratch) {
  constexpr std::uint64_t kCalls = 100'050;
  auto counter =
      std::make_unique<LatticeCore>(LatticeConfig{{5, 4, 3}, 0.2, OURO_PRECISION_F64, 1, {}},
                                    test::load_kernel(test::test_kernel_path("hostile_counts_calls_in_scratch")));
  auto reference = seeded_lattice();
  const std::uint64_t cells = counter->geometry().cells;
  counter->set_state(random_field<double>(cells, 1).data(), random_field<double>(cells, 2).data());
  counter->direct_steps(kCalls);
  reference->direct_steps(kCalls);
  EXPECT_TRUE(same_levels(live_levels(*counter), live_levels(*reference)));
}

TEST(LatticeCore, DerivesRowMajorGeometry) {
  auto lattice = make_lattice<double>({3, 4, 5}, 0.25);
  const ouro_geometry& geometry = lattice->geometry();
  EXPECT_EQ(geometry.dims, 3u);
  EXPECT_EQ(geometry.cells, 60u);
  EXPECT_EQ(geometry.precision, OURO_PRECISION_F64);
  EXPECT_EQ(geometry.courant2, 0.25);
  EXPECT_EQ(geometry.strides[0], 20u);
  EXPECT_EQ(geometry.strides[1], 5u);
  EXPECT_EQ(geometry.strides[2], 1u);
  for (std::uint32_t axis = 3; axis < OURO_MAX_DIMS; ++axis) {
    EXPECT_EQ(geometry.extents[axis], 0u);
    EXPECT_EQ(geometry.strides[axis], 0u);
  }
  EXPECT_EQ(lattice->level_bytes(), 60u * sizeof(double));
  EXPECT_EQ(make_lattice<float>({3, 4, 5}, 0.25)->level_bytes(), 60u * sizeof(float));
}

TEST(LatticeCore, RefusesMalformedGeometry) {
  EXPECT_THROW(make_lattice<double>({}, 0.25), std::invalid_argument);
  EXPECT_THROW(make_lattice<double>(std::vector<std::uint64_t>(OURO_MAX_DIMS + 1, 3), 0.25), std::invalid_argument);
  EXPECT_THROW(make_lattice<double>({3, 2}, 0.25), std::invalid_argument);
  EXPECT_THROW(make_lattice<double>({1ull << 40, 1ull << 40}, 0.25), std::invalid_argument);
}

TEST(LatticeCore, StartsAtRestWithLevelZeroCurrent) {
  auto lattice = make_lattice<double>({3, 3}, 0.25);
  EXPECT_EQ(lattice->step_count(), 0u);
  EXPECT_EQ(lattice->current_index(), 0u);
  EXPECT_EQ(live_levels(*lattice).current, std::vector<double>(9, 0.0));
}

TEST(LatticeCore, ZeroStepsChangeNothing) {
  auto lattice = seeded_lattice();
  const Levels before = live_levels(*lattice);
  lattice->step(0);
  EXPECT_TRUE(same_levels(live_levels(*lattice), before));
  EXPECT_EQ(lattice->current_index(), 0u);
  EXPECT_EQ(lattice->step_count(), 0u);
}

TEST(LatticeCore, OddStepsFlipTheCurrentLevelAndEvenStepsKeepIt) {
  auto lattice = seeded_lattice();
  lattice->step(3);
  EXPECT_EQ(lattice->current_index(), 1u);
  lattice->step(2);
  EXPECT_EQ(lattice->current_index(), 1u);
  lattice->step(1);
  EXPECT_EQ(lattice->current_index(), 0u);
  EXPECT_EQ(lattice->step_count(), 6u);
}

TEST(LatticeCore, OneCallOfNStepsEqualsNCallsOfOneStep) {
  for (std::uint64_t steps : {1u, 2u, 3u, 4u, 7u}) {
    auto batched = seeded_lattice();
    auto single = seeded_lattice();
    batched->step(steps);
    for (std::uint64_t i = 0; i < steps; ++i) single->step(1);
    EXPECT_TRUE(same_levels(live_levels(*batched), live_levels(*single))) << steps << " steps";
    EXPECT_EQ(batched->step_count(), steps);
  }
}

TEST(LatticeCore, SetStateResetsTheCounterAndTheCurrentLevel) {
  auto lattice = seeded_lattice();
  lattice->step(3);
  const std::vector<double> previous(60, 1.0), current(60, 2.0);
  lattice->set_state(previous.data(), current.data());
  EXPECT_EQ(lattice->step_count(), 0u);
  EXPECT_EQ(lattice->current_index(), 0u);
  EXPECT_TRUE(same_levels(live_levels(*lattice), Levels{previous, current}));
}

TEST(LatticeCore, SetStateAcceptsItsOwnLevelsEvenSwapped) {
  auto lattice = seeded_lattice();
  lattice->step(1);  // level 1 is current now, so a naive copy would clobber it
  const Levels before = live_levels(*lattice);
  lattice->set_state(lattice->previous_level(), lattice->current_level());
  EXPECT_TRUE(same_levels(live_levels(*lattice), before));
  lattice->step(1);
  const Levels stepped = live_levels(*lattice);
  lattice->set_state(lattice->current_level(), lattice->previous_level());
  EXPECT_TRUE(same_levels(live_levels(*lattice), Levels{stepped.current, stepped.previous}));
}

TEST(LatticeCore, StepCopyLeavesTheLiveStateUntouched) {
  auto lattice = seeded_lattice();
  lattice->step(1);
  const Levels before = live_levels(*lattice);
  const std::uint32_t current_index = lattice->current_index();
  const Levels input{random_field<double>(60, 7), random_field<double>(60, 8)};
  const LevelPair copy = lattice->step_copy(input.previous.data(), input.current.data(), 5);
  EXPECT_TRUE(same_levels(live_levels(*lattice), before));
  EXPECT_EQ(lattice->current_index(), current_index);
  EXPECT_EQ(lattice->step_count(), 1u);

  lattice->set_state(input.previous.data(), input.current.data());
  lattice->step(5);
  EXPECT_TRUE(same_levels(pair_levels(copy, 60), live_levels(*lattice)));
}

TEST(LatticeCore, StepCopyOfZeroStepsReturnsItsInput) {
  auto lattice = seeded_lattice();
  const Levels input{random_field<double>(60, 3), random_field<double>(60, 4)};
  const LevelPair copy = lattice->step_copy(input.previous.data(), input.current.data(), 0);
  EXPECT_TRUE(same_levels(pair_levels(copy, 60), input));
}

TEST(LatticeCore, SharedStateOutlivesTheLattice) {
  auto lattice = seeded_lattice();
  lattice->step(1);
  const Levels before = live_levels(*lattice);
  const std::shared_ptr<StateBuffer> state = lattice->shared_state();
  const std::uint32_t current_index = lattice->current_index();
  lattice.reset();
  EXPECT_EQ(copy_level<double>(state->level(current_index), 60), before.current);
}

// What memory_triad_async reported, and on which thread.
struct AsyncTriad {
  std::optional<StreamTriadResult> triad;
  std::string error;
  std::thread::id thread;
};

TEST(LatticeCore, MemoryTriadAsyncWithNoRunMeasuresOnTheRunnerAndReportsOnceItsRunHasEnded) {
  auto lattice = seeded_lattice();
  const Levels before = live_levels(*lattice);
  const StreamTriadResult sync = lattice->memory_triad(2);
  std::promise<AsyncTriad> reported;
  std::promise<bool> running_when_reported;
  lattice->memory_triad_async(2, [&](const StreamTriadResult* triad, const std::string& error) {
    // A caller that starts its run on hearing must find none active (the run of no steps has ended).
    running_when_reported.set_value(lattice->running());
    reported.set_value({triad ? std::optional(*triad) : std::nullopt, error, std::this_thread::get_id()});
  });
  const AsyncTriad outcome = reported.get_future().get();
  EXPECT_FALSE(running_when_reported.get_future().get());
  ASSERT_TRUE(outcome.triad.has_value()) << outcome.error;
  EXPECT_NE(outcome.thread, std::this_thread::get_id());
  EXPECT_EQ(outcome.triad->bytes_per_array, sync.bytes_per_array);
  EXPECT_EQ(outcome.triad->threads, sync.threads);
  EXPECT_TRUE(std::isfinite(outcome.triad->gb_per_second) && outcome.triad->gb_per_second > 0);
  // Only the scratch level was written; the lattice steps on as before, and a run starts at once.
  EXPECT_TRUE(same_levels(live_levels(*lattice), before));
  lattice->step(1);
  EXPECT_EQ(lattice->step_count(), 1u);
  std::promise<RunSummary> ended;
  lattice->run(
      {}, [&](const RunSummary& summary) { ended.set_value(summary); }, nullptr);
  lattice->stop();
  EXPECT_TRUE(ended.get_future().get().error.empty());
}

TEST(LatticeCore, MemoryTriadAsyncDuringARunMeasuresAtABoundaryAndTheRunGoesOn) {
  auto lattice = seeded_lattice();
  std::promise<RunSummary> ended;
  lattice->run(
      {}, [&](const RunSummary& summary) { ended.set_value(summary); }, nullptr);
  std::promise<AsyncTriad> reported;
  lattice->memory_triad_async(2, [&](const StreamTriadResult* triad, const std::string& error) {
    reported.set_value({triad ? std::optional(*triad) : std::nullopt, error, std::this_thread::get_id()});
  });
  const AsyncTriad outcome = reported.get_future().get();
  ASSERT_TRUE(outcome.triad.has_value()) << outcome.error;
  EXPECT_EQ(outcome.triad->bytes_per_array, lattice->level_bytes());
  const std::uint64_t measured_at = lattice->step_count();
  while (lattice->step_count() == measured_at) std::this_thread::yield();
  lattice->stop();
  EXPECT_TRUE(ended.get_future().get().error.empty());
}

TEST(LatticeCore, NamesItsKernel) {
  auto lattice = make_lattice<double>({3}, 0.25);
  EXPECT_STREQ(lattice->kernel().name(), "reference");
}

}  // namespace
}  // namespace ouro

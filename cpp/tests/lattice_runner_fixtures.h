#ifndef OUROBOROS_TESTS_LATTICE_RUNNER_FIXTURES_H
#define OUROBOROS_TESTS_LATTICE_RUNNER_FIXTURES_H

// The small seeded lattice the runner's suites share (lattice_runner_test,
// lattice_snapshot_test, lattice_canary_test), and the helpers that run it.
#include "lattice_fixtures.h"

#include <cstdint>
#include <future>
#include <memory>
#include <utility>
#include <vector>

namespace ouro::test {

constexpr std::uint64_t kCells = 12 * 10;
// A latency no batch comes near, so that batch sizes follow from the doubling
// and the caps alone, never from how long a call took on a busy machine.
constexpr BatchOptions kUnboundedLatency{std::uint64_t{1} << 60, 8};

inline std::unique_ptr<LatticeCore> seeded(std::uint32_t threads = 2) {
  auto lattice = make_lattice<double>({12, 10}, 0.2, threads, kUnboundedLatency);
  lattice->set_state(random_field<double>(kCells, 11).data(), random_field<double>(kCells, 12).data());
  return lattice;
}

inline std::vector<double> current_of(LatticeCore& lattice) {
  const auto levels = lattice.copy_levels();
  return copy_level<double>(levels.second.data(), kCells);
}

// Starts a run and returns a future of how it ended.
inline std::future<RunSummary> start(LatticeCore& lattice, RunOptions options = {},
                                     LatticeCore::SnapshotCallback on_snapshot = nullptr) {
  auto ended = std::make_shared<std::promise<RunSummary>>();
  lattice.run(
      options, [ended](const RunSummary& summary) { ended->set_value(summary); }, std::move(on_snapshot));
  return ended->get_future();
}

// Swaps and waits until the swap has been reported.
inline SwapOutcome swap_and_wait(LatticeCore& lattice, Slot slot, std::shared_ptr<const KernelModule> module) {
  std::promise<SwapOutcome> done;
  lattice.swap(slot, std::move(module), [&done](const SwapOutcome& outcome) { done.set_value(outcome); });
  return done.get_future().get();
}

// (first step, steps) of each batch in a trace.
inline std::vector<std::pair<std::uint64_t, std::uint64_t>> batches_of(const std::vector<StepRecord>& trace) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> batches;
  for (const StepRecord& record : trace) batches.emplace_back(record.step, record.steps);
  return batches;
}

}  // namespace ouro::test

#endif

// The runner on its own, stepping a counter instead of a lattice: work
// handed over at a boundary, pause, stop, the trace and the swaps waiting
// for their first step.
#include "core/runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

namespace ouro {
namespace {

/// A body that takes one step per batch until `target`, recording each as a batch of one.
struct Counter {
  Runner* runner;
  std::uint64_t target;
  std::atomic<std::uint64_t> steps{0};
  bool ended = false;

  Runner::RunBody body() {
    return {[this] { return steps.load(); }, [] {},
            [this] {
              if (steps.load() >= target) return false;
              const std::uint64_t index = steps.load();
              const std::uint64_t start_ns = monotonic_ns();
              steps.store(index + 1);
              runner->record_batch(StepRecord{index, 1, 7, start_ns, monotonic_ns(), 0, false});
              return true;
            },
            [this] { ended = true; }};
  }
};

RunSummary run_to_end(Runner& runner, Counter& counter) {
  std::promise<RunSummary> ended;
  runner.start(counter.body(), [&](const RunSummary& summary) { ended.set_value(summary); });
  RunSummary summary = ended.get_future().get();
  runner.join_ended();
  return summary;
}

TEST(Runner, RunsTheBodyToItsTargetAndSummarisesTheRun) {
  Runner runner;
  Counter counter{&runner, 50};
  const RunSummary summary = run_to_end(runner, counter);
  EXPECT_EQ(summary.start_step, 0u);
  EXPECT_EQ(summary.end_step, 50u);
  EXPECT_EQ(summary.steps_run, 50u);
  EXPECT_TRUE(summary.error.empty());
  EXPECT_TRUE(counter.ended);
  EXPECT_FALSE(runner.active());
}

TEST(Runner, AnExceptionFromTheBodyEndsTheRunWithItsMessage) {
  Runner runner;
  std::promise<RunSummary> ended;
  runner.start(
      {[] { return std::uint64_t{0}; }, [] {}, []() -> bool { throw std::runtime_error("kernel failed"); }, [] {}},
      [&](const RunSummary& summary) { ended.set_value(summary); });
  EXPECT_EQ(ended.get_future().get().error, "kernel failed");
}

TEST(Runner, AtBoundaryRunsOnTheRunnerBetweenTwoStepsOrDirectlyWhenIdle) {
  Runner runner;
  EXPECT_EQ(runner.at_boundary([] { return std::this_thread::get_id(); }), std::this_thread::get_id());
  Counter counter{&runner, UINT64_MAX};
  runner.start(counter.body(), nullptr);
  const std::thread::id worker = runner.at_boundary([] { return std::this_thread::get_id(); });
  EXPECT_NE(worker, std::this_thread::get_id());
  runner.stop();
  EXPECT_FALSE(runner.active());
}

TEST(Runner, APausedRunTakesNoStepButStillServesBoundaryWork) {
  Runner runner;
  Counter counter{&runner, UINT64_MAX};
  runner.start(counter.body(), nullptr);
  runner.pause();
  // The pause has taken hold once a task queued after it has run.
  const std::uint64_t held_at = runner.at_boundary([&] { return counter.steps.load(); });
  EXPECT_TRUE(runner.paused());
  EXPECT_EQ(runner.at_boundary([&] { return counter.steps.load(); }), held_at);
  runner.resume();
  runner.stop();
  EXPECT_FALSE(runner.paused());
}

TEST(Runner, ASwapAwaitingItsFirstStepIsReportedAfterTheNextBatchAndTraced) {
  Runner runner;
  Counter counter{&runner, UINT64_MAX};
  runner.start(counter.body(), nullptr);
  runner.trace_steps(1000);
  std::promise<SwapOutcome> reported;
  const std::uint64_t swapped_at = runner.at_boundary([&] {
    SwapOutcome outcome;
    outcome.applied_at_step = counter.steps.load();
    runner.await_first_step(outcome, [&](const SwapOutcome& done) { reported.set_value(done); });
    return outcome.applied_at_step;
  });
  const SwapOutcome outcome = reported.get_future().get();
  runner.stop();
  EXPECT_TRUE(outcome.first_step_ran);
  EXPECT_EQ(outcome.applied_at_step, swapped_at);
  const std::vector<StepRecord> trace = runner.take_trace();
  ASSERT_FALSE(trace.empty());
  for (std::size_t i = 1; i < trace.size(); ++i) EXPECT_EQ(trace[i].step, trace[i - 1].step + 1);
}

TEST(Runner, ASwapStillAwaitingWhenTheRunEndsIsReportedWithoutAFirstStep) {
  Runner runner;
  std::promise<SwapOutcome> reported;
  std::promise<RunSummary> ended;
  runner.start(
      {[] { return std::uint64_t{0}; },
       [&] { runner.await_first_step(SwapOutcome{}, [&](const SwapOutcome& done) { reported.set_value(done); }); },
       [] { return false; }, [] {}},
      [&](const RunSummary& summary) { ended.set_value(summary); });
  EXPECT_FALSE(reported.get_future().get().first_step_ran);
  ended.get_future().get();
}

}  // namespace
}  // namespace ouro

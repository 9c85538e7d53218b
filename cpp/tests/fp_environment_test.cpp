// The FP environment a kernel leaves behind is put back after every call:
// on the calling thread and on each pool worker, and counted per slot.
#include "core/fp_environment.h"
#include "core/thread_pool.h"
#include "lattice_fixtures.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace ouro::test {
namespace {

constexpr double kCourant2 = 0.2;

std::unique_ptr<LatticeCore> spoiling_lattice(std::uint32_t threads) {
  return std::make_unique<LatticeCore>(LatticeConfig{{32, 30}, kCourant2, OURO_PRECISION_F64, threads, {}},
                                       load_kernel(test_kernel_path("misbehaving_SpoilFpEnvironment")));
}

void expect_same_control(const FpEnvironment& before, const FpEnvironment& after) {
  EXPECT_EQ(before.mxcsr & kMxcsrControlMask, after.mxcsr & kMxcsrControlMask);
  EXPECT_EQ(before.x87_control, after.x87_control);
}

// Every chunk first waits until both threads of a 2-thread pool have entered
// one, so the worker surely takes part (no timing involved), then acts.
struct Rendezvous {
  std::mutex mutex;
  std::condition_variable arrived;
  std::set<std::thread::id> threads;
  std::vector<FpEnvironment> seen;
  bool spoil = false;

  static void chunk(void* self, std::uint64_t, std::uint64_t) {
    auto* rendezvous = static_cast<Rendezvous*>(self);
    std::unique_lock<std::mutex> lock(rendezvous->mutex);
    rendezvous->threads.insert(std::this_thread::get_id());
    rendezvous->arrived.notify_all();
    rendezvous->arrived.wait(lock, [&] { return rendezvous->threads.size() >= 2; });
    rendezvous->seen.push_back(current_fp_environment());
    if (rendezvous->spoil) {
      std::uint32_t mxcsr = current_fp_environment().mxcsr | (1u << 15);
      __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    }
  }
};

TEST(FpEnvironment, AStepThatSpoilsItLeavesTheHostThreadUnchangedAndIsCounted) {
  auto lattice = spoiling_lattice(2);
  const FpEnvironment before = current_fp_environment();
  lattice->step(1);
  expect_same_control(before, current_fp_environment());
  EXPECT_EQ(lattice->fp_restores(Slot::Step), 1u);
  EXPECT_EQ(lattice->fp_restores(Slot::Readout), 0u);
  // Arithmetic after the call: a subnormal survives, 1/0 is infinity (no SIGFPE), rounding is to nearest.
  volatile double tiny = 1e-310;
  volatile double zero = 0.0;
  EXPECT_GT(tiny * 0.5, 0.0);
  EXPECT_TRUE(std::isinf(1.0 / zero));
  volatile double third = 1.0;
  EXPECT_EQ(third / 3.0, 0.3333333333333333148296);
}

TEST(FpEnvironment, AReadoutThatSpoilsItIsCountedInTheReadoutSlot) {
  auto lattice = spoiling_lattice(2);
  const FpEnvironment before = current_fp_environment();
  lattice->readout();
  expect_same_control(before, current_fp_environment());
  EXPECT_EQ(lattice->fp_restores(Slot::Readout), 1u);
}

TEST(FpEnvironment, TheRunnerRestoresItAfterEveryBatch) {
  auto lattice = spoiling_lattice(2);
  RunOptions options;
  options.max_steps = 5;
  std::promise<void> ended;
  lattice->run(
      options, [&](const RunSummary&) { ended.set_value(); }, nullptr);
  ended.get_future().wait();
  lattice->stop();
  // One restore per kernel call: the runner asks for batches of steps.
  EXPECT_EQ(lattice->profile(Slot::Step).steps, 5u);
  EXPECT_EQ(lattice->fp_restores(Slot::Step), lattice->profile(Slot::Step).calls);
}

TEST(FpEnvironment, TheReferenceKernelNeverNeedsARestore) {
  auto lattice = make_lattice<double>({32, 30}, kCourant2);
  lattice->step(3);
  lattice->readout();
  EXPECT_EQ(lattice->fp_restores(Slot::Step), 0u);
  EXPECT_EQ(lattice->fp_restores(Slot::Readout), 0u);
}

TEST(FpEnvironment, PoolWorkersPutTheirsBackAfterEachJobAndTellTheCaller) {
  ThreadPool pool(2);
  const FpEnvironment before = current_fp_environment();
  ThreadPool::take_worker_fp_restores();
  ouro_host host = pool.host();
  Rendezvous spoiling;
  spoiling.spoil = true;
  host.parallel_for(host.pool, 64, 1, Rendezvous::chunk, &spoiling);
  // The caller ran chunks too: its own thread is the core's to restore.
  restore_fp_environment(before);
  EXPECT_TRUE(ThreadPool::take_worker_fp_restores());
  EXPECT_FALSE(ThreadPool::take_worker_fp_restores());
  Rendezvous checking;
  host.parallel_for(host.pool, 64, 1, Rendezvous::chunk, &checking);
  ASSERT_EQ(checking.threads.size(), 2u);
  for (const FpEnvironment& environment : checking.seen) expect_same_control(before, environment);
  EXPECT_FALSE(ThreadPool::take_worker_fp_restores());
}

TEST(FpEnvironment, TheSpoilingKernelReallyChangesItWhenNothingRestores) {
  // The control case: without the restore the same call leaves FTZ, DAZ, round-toward-zero and the unmasked exception.
  auto lattice = spoiling_lattice(1);
  lattice->set_fp_restore(false);
  const FpEnvironment before = current_fp_environment();
  lattice->step(1);
  const FpEnvironment after = current_fp_environment();
  restore_fp_environment(before);
  EXPECT_EQ(after.mxcsr & ((1u << 15) | (1u << 6) | (3u << 13)), (1u << 15) | (1u << 6) | (3u << 13));
  EXPECT_EQ(after.mxcsr & (1u << 9), 0u);
  EXPECT_NE(after.x87_control, before.x87_control);
  EXPECT_EQ(lattice->fp_restores(Slot::Step), 0u);
}

}  // namespace
}  // namespace ouro::test

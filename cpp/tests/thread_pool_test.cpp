#include <gtest/gtest.h>

#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace ouro {
namespace {

struct Coverage {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> chunks;

  explicit Coverage(std::uint64_t count) : hits(count) {}

  static void record(void* ctx, std::uint64_t begin, std::uint64_t end) {
    auto& coverage = *static_cast<Coverage*>(ctx);
    for (std::uint64_t i = begin; i < end; ++i) coverage.hits[i].fetch_add(1);
    std::lock_guard<std::mutex> lock(coverage.mutex);
    coverage.chunks.emplace_back(begin, end);
  }
};

void expect_each_index_once(ThreadPool& pool, std::uint64_t count, std::uint64_t grain) {
  Coverage coverage(count);
  pool.parallel_for(count, grain, &Coverage::record, &coverage);
  for (std::uint64_t i = 0; i < count; ++i) {
    ASSERT_EQ(coverage.hits[i].load(), 1) << "index " << i << " of " << count << ", grain " << grain;
  }
  for (const auto& [begin, end] : coverage.chunks) {
    EXPECT_LT(begin, end);
    if (end != count) {
      EXPECT_GE(end - begin, grain) << "chunk [" << begin << ", " << end << ")";
    }
  }
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (std::uint32_t threads : {1u, 2u, 3u, 8u}) {
    ThreadPool pool(threads);
    for (std::uint64_t count : {0u, 1u, 2u, 3u, 7u, 64u, 100u, 1000u, 4097u, 100000u}) {
      for (std::uint64_t grain : {0u, 1u, 3u, 64u, 5000u}) {
        expect_each_index_once(pool, count, grain);
      }
    }
  }
}

TEST(ThreadPool, StaysCorrectOverManyCalls) {
  ThreadPool pool(4);
  for (int call = 0; call < 2000; ++call) expect_each_index_once(pool, 1 + call % 97, call % 5);
}

TEST(ThreadPool, CountBelowGrainRunsAsOneChunk) {
  ThreadPool pool(4);
  Coverage coverage(10);
  pool.parallel_for(10, 100, &Coverage::record, &coverage);
  ASSERT_EQ(coverage.chunks.size(), 1u);
  EXPECT_EQ(coverage.chunks[0], std::make_pair(std::uint64_t{0}, std::uint64_t{10}));
}

TEST(ThreadPool, ZeroCountNeverCallsTheFunction) {
  ThreadPool pool(3);
  Coverage coverage(0);
  pool.parallel_for(0, 1, &Coverage::record, &coverage);
  EXPECT_TRUE(coverage.chunks.empty());
}

TEST(ThreadPool, ServesKernelsThroughTheHostTable) {
  ThreadPool pool(3);
  const ouro_host host = pool.host();
  EXPECT_EQ(host.threads, 3u);
  Coverage coverage(5000);
  host.parallel_for(host.pool, 5000, 16, &Coverage::record, &coverage);
  for (std::uint64_t i = 0; i < 5000; ++i) ASSERT_EQ(coverage.hits[i].load(), 1) << i;
}

TEST(ThreadPool, UsesMoreThanOneThreadWhenThereIsWork) {
  ThreadPool pool(4);
  struct Seen {
    std::mutex mutex;
    std::vector<std::thread::id> ids;
  } seen;
  // Enough slow chunks that idle workers must pick some up.
  pool.parallel_for(
      64, 1,
      [](void* ctx, std::uint64_t, std::uint64_t) {
        auto& s = *static_cast<Seen*>(ctx);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::lock_guard<std::mutex> lock(s.mutex);
        s.ids.push_back(std::this_thread::get_id());
      },
      &seen);
  std::sort(seen.ids.begin(), seen.ids.end());
  EXPECT_GT(std::unique(seen.ids.begin(), seen.ids.end()) - seen.ids.begin(), 1);
}

struct Nested {
  ThreadPool* pool;
  Coverage* inner;
  std::uint64_t inner_count;

  // Each outer index runs a whole inner call of inner_count indices, offset into inner->hits.
  static void outer(void* ctx, std::uint64_t begin, std::uint64_t end) {
    auto& nested = *static_cast<Nested*>(ctx);
    for (std::uint64_t i = begin; i < end; ++i) {
      Offset offset{nested.inner, i * nested.inner_count};
      nested.pool->parallel_for(nested.inner_count, 1, &Offset::record, &offset);
    }
  }

  struct Offset {
    Coverage* coverage;
    std::uint64_t base;
    static void record(void* ctx, std::uint64_t begin, std::uint64_t end) {
      auto& offset = *static_cast<Offset*>(ctx);
      for (std::uint64_t i = begin; i < end; ++i) offset.coverage->hits[offset.base + i].fetch_add(1);
    }
  };
};

TEST(ThreadPool, RunsANestedCallInlineInsteadOfWaitingForBusyWorkers) {
  ThreadPool pool(3);
  constexpr std::uint64_t kOuter = 64;
  constexpr std::uint64_t kInner = 50;
  Coverage inner(kOuter * kInner);
  Nested nested{&pool, &inner, kInner};
  pool.parallel_for(kOuter, 1, &Nested::outer, &nested);
  for (std::uint64_t i = 0; i < kOuter * kInner; ++i) ASSERT_EQ(inner.hits[i].load(), 1) << "index " << i;
  // The pool is whole afterwards: a plain call still spreads and covers everything.
  expect_each_index_once(pool, 10000, 1);
}

TEST(ThreadPool, RefusesZeroThreads) { EXPECT_THROW(ThreadPool(0), std::invalid_argument); }

}  // namespace
}  // namespace ouro

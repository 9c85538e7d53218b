#include "core/stream_triad.h"

#include "core/huge_pages.h"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ouro {
namespace {

constexpr double kScalar = 3.0;
constexpr double kB = 1.0;
constexpr double kC = 2.0;
constexpr double kBytesPerElement = 3 * sizeof(double);

struct Arrays {
  // Mapped like the lattice's levels (huge-page advised), so the roofline is
  // measured on the same kind of memory the kernels stream; untouched until
  // each thread's first touch.
  explicit Arrays(std::uint64_t bytes) : a(bytes), b(bytes), c(bytes) {}
  HugePageBlock a, b, c;
};

// The in-place triad's 64-bit integers are counted like the doubles.
static_assert(sizeof(std::uint64_t) == sizeof(double));

// The bandwidth of the best pass over `elements`, counting kBytesPerElement each.
StreamTriadResult result_of(std::uint64_t elements, std::chrono::nanoseconds best, std::uint32_t threads) {
  const double seconds = std::max(best.count(), std::chrono::nanoseconds::rep{1}) * 1e-9;
  return {kBytesPerElement * static_cast<double>(elements) / seconds / 1e9, elements * sizeof(double), threads};
}

struct Slice {
  std::uint64_t begin, end;
};

Slice slice_of(std::uint64_t elements, std::uint32_t thread, std::uint32_t threads) {
  return {elements * thread / threads, elements * (thread + 1) / threads};
}

// Each thread runs this on its own slice: first touch (so pages land near the
// thread that streams them), then `repetitions` triads between barriers. The
// thread given `best` keeps the clock: the time from the barrier before a
// triad to the barrier after it covers the slowest thread.
void run_thread(Arrays& arrays, Slice slice, std::uint32_t repetitions, std::barrier<>& sync,
                std::chrono::nanoseconds* best) {
  auto* a = reinterpret_cast<double*>(arrays.a.data());
  auto* b = reinterpret_cast<double*>(arrays.b.data());
  auto* c = reinterpret_cast<double*>(arrays.c.data());
  for (std::uint64_t i = slice.begin; i < slice.end; ++i) {
    a[i] = 0.0;
    b[i] = kB;
    c[i] = kC;
  }
  for (std::uint32_t rep = 0; rep < repetitions; ++rep) {
    sync.arrive_and_wait();
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = slice.begin; i < slice.end; ++i) a[i] = b[i] + kScalar * c[i];
    sync.arrive_and_wait();
    if (best != nullptr) {
      const auto elapsed = std::chrono::steady_clock::now() - start;
      *best = std::min(*best, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed));
    }
  }
}

}  // namespace

StreamTriadResult stream_triad(std::uint64_t bytes_per_array, std::uint32_t repetitions, std::uint32_t threads) {
  const std::uint64_t elements = bytes_per_array / sizeof(double);
  if (threads == 0 || repetitions == 0 || elements < threads) {
    throw std::invalid_argument(
        "stream_triad needs threads >= 1, repetitions >= 1 and at least one double per "
        "thread; got " +
        std::to_string(bytes_per_array) + " bytes, " + std::to_string(repetitions) + " repetitions, " +
        std::to_string(threads) + " threads");
  }
  Arrays arrays(elements * sizeof(double));

  std::barrier<> sync(threads);
  auto best = std::chrono::nanoseconds::max();
  std::vector<std::jthread> helpers;
  helpers.reserve(threads - 1);
  try {
    for (std::uint32_t t = 1; t < threads; ++t) {
      helpers.emplace_back([&, t] { run_thread(arrays, slice_of(elements, t, threads), repetitions, sync, nullptr); });
    }
  } catch (...) {
    // The helpers that did start wait for `threads` arrivals: arrive for the
    // missing ones and for this thread, and drop them all, so that the
    // started helpers can finish and be joined before the error goes up.
    for (std::size_t missing = threads - helpers.size(); missing > 0; --missing) sync.arrive_and_drop();
    throw;
  }
  run_thread(arrays, slice_of(elements, 0, threads), repetitions, sync, &best);
  helpers.clear();

  // Reading the result back keeps the triad observable, so it cannot be optimised away.
  const auto* a = reinterpret_cast<const double*>(arrays.a.data());
  if (a[0] != kB + kScalar * kC || a[elements - 1] != kB + kScalar * kC) {
    throw std::logic_error("stream_triad computed a wrong result");
  }
  return result_of(elements, best, threads);
}

namespace {

struct InPlaceTriad {
  std::uint64_t* a;
  const std::uint64_t* b;
  const std::uint64_t* c;
};

void in_place_range(void* context, std::uint64_t begin, std::uint64_t end) {
  const auto& triad = *static_cast<const InPlaceTriad*>(context);
  for (std::uint64_t i = begin; i < end; ++i) triad.a[i] = triad.b[i] + 3 * triad.c[i];
}

}  // namespace

StreamTriadResult stream_triad_over(std::uint64_t* a, const std::uint64_t* b, const std::uint64_t* c,
                                    std::uint64_t elements, std::uint32_t repetitions, ThreadPool& pool) {
  if (elements == 0 || repetitions == 0) {
    throw std::invalid_argument("stream_triad_over needs elements >= 1 and repetitions >= 1; got " +
                                std::to_string(elements) + " elements, " + std::to_string(repetitions) +
                                " repetitions");
  }
  InPlaceTriad triad{a, b, c};
  // Many chunks, so that a thread woken late does not leave the pass to one core.
  const std::uint64_t grain = std::max<std::uint64_t>(1, elements / (64 * std::uint64_t{pool.threads()}));
  auto best = std::chrono::nanoseconds::max();
  for (std::uint32_t rep = 0; rep < repetitions; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(elements, grain, in_place_range, &triad);
    best =
        std::min(best, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start));
  }
  return result_of(elements, best, pool.threads());
}

}  // namespace ouro

#include "core/slot_profile.h"

#include <cmath>
#include <limits>

namespace ouro {

unsigned SlotProfile::bucket_of(std::uint64_t ns) {
  if (ns < 4) return static_cast<unsigned>(ns);
  const unsigned octave = 63u - static_cast<unsigned>(__builtin_clzll(ns));
  const unsigned quarter = static_cast<unsigned>(ns >> (octave - 2)) & 3u;
  return 4u * (octave - 1u) + quarter;
}

std::uint64_t SlotProfile::bucket_low(unsigned bucket) {
  if (bucket < 4) return bucket;
  const unsigned octave = bucket / 4 + 1;
  return std::uint64_t{4u + bucket % 4} << (octave - 2);
}

std::uint64_t SlotProfile::bucket_high(unsigned bucket) {
  if (bucket + 1 >= kBuckets) return std::numeric_limits<std::uint64_t>::max();
  return bucket_low(bucket + 1);
}

void SlotProfile::record(std::uint64_t elapsed_ns, std::uint64_t steps) {
  calls_.fetch_add(1, std::memory_order_relaxed);
  steps_.fetch_add(steps, std::memory_order_relaxed);
  total_ns_.fetch_add(elapsed_ns, std::memory_order_relaxed);
  buckets_[bucket_of(elapsed_ns)].fetch_add(1, std::memory_order_relaxed);
  std::uint64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (elapsed_ns > seen && !max_ns_.compare_exchange_weak(seen, elapsed_ns, std::memory_order_relaxed)) {
  }
}

std::uint64_t SlotProfile::percentile(std::uint64_t calls, double fraction) const {
  // The smallest bucket below which at least `fraction` of the calls fall.
  const auto rank = static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(calls)));
  std::uint64_t seen = 0;
  for (unsigned bucket = 0; bucket < kBuckets; ++bucket) {
    seen += buckets_[bucket].load(std::memory_order_relaxed);
    if (seen >= rank && seen > 0) {
      if (bucket < 4) return bucket;
      return bucket_low(bucket) + (bucket_high(bucket) - bucket_low(bucket)) / 2;
    }
  }
  return max_ns_.load(std::memory_order_relaxed);
}

SlotProfile::Summary SlotProfile::summary() const {
  Summary result;
  result.calls = calls_.load(std::memory_order_relaxed);
  result.steps = steps_.load(std::memory_order_relaxed);
  result.total_ns = total_ns_.load(std::memory_order_relaxed);
  result.max_ns = max_ns_.load(std::memory_order_relaxed);
  if (result.calls > 0) {
    result.p50_ns = percentile(result.calls, 0.50);
    result.p99_ns = percentile(result.calls, 0.99);
  }
  return result;
}

SlotProfile::Counters SlotProfile::counters() const {
  Counters result;
  result.calls = calls_.load(std::memory_order_relaxed);
  result.steps = steps_.load(std::memory_order_relaxed);
  result.total_ns = total_ns_.load(std::memory_order_relaxed);
  result.max_ns = max_ns_.load(std::memory_order_relaxed);
  for (unsigned bucket = 0; bucket < kBuckets; ++bucket) {
    const std::uint64_t calls = buckets_[bucket].load(std::memory_order_relaxed);
    if (calls > 0) result.histogram.emplace_back(bucket_low(bucket), calls);
  }
  return result;
}

void SlotProfile::add(const Counters& carried) {
  calls_.fetch_add(carried.calls, std::memory_order_relaxed);
  steps_.fetch_add(carried.steps, std::memory_order_relaxed);
  total_ns_.fetch_add(carried.total_ns, std::memory_order_relaxed);
  for (const auto& [low_ns, calls] : carried.histogram) {
    buckets_[bucket_of(low_ns)].fetch_add(calls, std::memory_order_relaxed);
  }
  std::uint64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (carried.max_ns > seen && !max_ns_.compare_exchange_weak(seen, carried.max_ns, std::memory_order_relaxed)) {
  }
}

void SlotProfile::reset() {
  calls_.store(0, std::memory_order_relaxed);
  steps_.store(0, std::memory_order_relaxed);
  total_ns_.store(0, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
  for (auto& bucket : buckets_) bucket.store(0, std::memory_order_relaxed);
}

}  // namespace ouro

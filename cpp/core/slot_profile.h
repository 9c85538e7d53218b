#ifndef OUROBOROS_CORE_SLOT_PROFILE_H
#define OUROBOROS_CORE_SLOT_PROFILE_H

#include <array>
#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace ouro {

/**
 * Time spent in one kernel slot: calls, steps, total and a per-call latency
 * histogram, cheap enough to record on every call (a few relaxed atomic adds).
 *
 * The histogram has four buckets per power of two (values below 4 ns exact),
 * so a percentile is known to within a quarter of its octave; the reported
 * figure is the bucket's midpoint.
 */
class SlotProfile {
 public:
  /// 4 exact buckets below 4 ns, then 4 per octave up to 2^64 ns.
  static constexpr unsigned kBuckets = 4 + 4 * 62;

  struct Summary {
    std::uint64_t calls = 0;
    /// Time steps taken through this slot (a step call may take several); 0 for readout.
    std::uint64_t steps = 0;
    std::uint64_t total_ns = 0;
    std::uint64_t max_ns = 0;
    std::uint64_t p50_ns = 0;
    std::uint64_t p99_ns = 0;
  };

  /// Everything recorded, the histogram included: what a successor process goes on from.
  struct Counters {
    std::uint64_t calls = 0;
    std::uint64_t steps = 0;
    std::uint64_t total_ns = 0;
    std::uint64_t max_ns = 0;
    /// (low edge in ns, calls) of each non-empty bucket; the low edge names the bucket whatever its index.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> histogram;
  };

  void record(std::uint64_t elapsed_ns, std::uint64_t steps);
  Summary summary() const;
  Counters counters() const;
  /// Adds another profile's counters to this one, as if its calls had been recorded here.
  void add(const Counters& carried);
  void reset();

  static unsigned bucket_of(std::uint64_t ns);
  /// [low, high) of a bucket, in ns.
  static std::uint64_t bucket_low(unsigned bucket);
  static std::uint64_t bucket_high(unsigned bucket);

 private:
  std::uint64_t percentile(std::uint64_t calls, double fraction) const;

  std::atomic<std::uint64_t> calls_{0};
  std::atomic<std::uint64_t> steps_{0};
  std::atomic<std::uint64_t> total_ns_{0};
  std::atomic<std::uint64_t> max_ns_{0};
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
};

}  // namespace ouro

#endif

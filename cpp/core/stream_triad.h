#ifndef OUROBOROS_CORE_STREAM_TRIAD_H
#define OUROBOROS_CORE_STREAM_TRIAD_H

#include <cstdint>

#include "core/thread_pool.h"

namespace ouro {

struct StreamTriadResult {
  /// Best sustained bandwidth, counting 24 bytes moved per element.
  double gb_per_second;
  /// The array size actually measured: a whole number of doubles.
  std::uint64_t bytes_per_array;
  std::uint32_t threads;
};

/**
 * STREAM triad a[i] = b[i] + s * c[i] over three f64 arrays of
 * `bytes_per_array` bytes each, split statically over `threads` threads (the
 * caller included); the best of `repetitions` runs. The memory roof that
 * kernel throughput is measured against.
 *
 * Throws std::invalid_argument when an array holds fewer doubles than there
 * are threads, or when repetitions or threads is 0.
 */
StreamTriadResult stream_triad(std::uint64_t bytes_per_array, std::uint32_t repetitions, std::uint32_t threads);

/**
 * The triad over memory the caller owns, a[i] = b[i] + 3 c[i] on 64-bit
 * integers (the same bytes moved; any bit pattern is a valid operand, where
 * doubles could be NaNs or subnormals with slow paths), split over `pool`;
 * the best of `repetitions` passes. `a` is overwritten, `b` and `c` only
 * read: a lattice measures the bandwidth of the very pages its kernels
 * stream, writing its scratch level from its two time levels.
 *
 * Throws std::invalid_argument when `elements` or `repetitions` is 0.
 */
StreamTriadResult stream_triad_over(std::uint64_t* a, const std::uint64_t* b, const std::uint64_t* c,
                                    std::uint64_t elements, std::uint32_t repetitions, ThreadPool& pool);

}  // namespace ouro

#endif

#ifndef OUROBOROS_CORE_STREAM_TRIAD_H
#define OUROBOROS_CORE_STREAM_TRIAD_H

#include <cstdint>

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

}  // namespace ouro

#endif

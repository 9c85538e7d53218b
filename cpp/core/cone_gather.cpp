#include "core/cone_gather.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace ouro {
namespace {

/// The box's next row: counts up the axes before the last, odometer-wise; false after the last row.
bool next_row(std::array<std::uint64_t, OURO_MAX_DIMS>& local, std::uint32_t last, std::uint64_t side) {
  for (std::uint32_t axis = last; axis-- > 0;) {
    if (++local[axis] < side) return true;
    local[axis] = 0;
  }
  return false;
}

}  // namespace

std::uint64_t cone_values(std::uint32_t dims, std::uint64_t radius) {
  const std::uint64_t side = 2 * radius + 1;
  std::uint64_t values = 1;
  for (std::uint32_t axis = 0; axis < dims; ++axis) {
    if (__builtin_mul_overflow(values, side, &values)) return std::numeric_limits<std::uint64_t>::max();
  }
  return values;
}

namespace {

/// Cells ahead whose rows the gather prefetches: a random cell's rows are cache misses, and these overlap them.
constexpr std::size_t kPrefetchCells = 4;

/**
 * Calls `run(first, count)` for each run of the box of side 2 radius + 1
 * around `cell` along the last axis, in the box's row-major order: `count`
 * values from flat index `first` (at most two runs per row where the box
 * fits the extent, more where it wraps a short axis more than once).
 */
template <typename Run>
void for_each_run(const ouro_geometry& geometry, std::uint64_t cell, std::uint64_t radius, Run&& run) {
  const std::uint32_t dims = geometry.dims;
  const std::uint32_t last = dims - 1;
  const std::uint64_t side = 2 * radius + 1;
  const std::uint64_t row_extent = geometry.extents[last];
  std::array<std::uint64_t, OURO_MAX_DIMS> start{};
  std::array<std::uint64_t, OURO_MAX_DIMS> local{};
  // Each axis' first box coordinate, centre - radius wrapped onto [0, extent).
  for (std::uint32_t axis = 0; axis < dims; ++axis) {
    const std::uint64_t extent = geometry.extents[axis];
    const std::uint64_t centre = cell / geometry.strides[axis] % extent;
    start[axis] = (centre + extent - radius % extent) % extent;
  }
  while (true) {
    std::uint64_t row = 0;
    for (std::uint32_t axis = 0; axis < last; ++axis) {
      row += (start[axis] + local[axis]) % geometry.extents[axis] * geometry.strides[axis];
    }
    // The row's run along the last axis, wrapping as often as the box is longer than the extent.
    std::uint64_t position = start[last];
    for (std::uint64_t left = side; left > 0;) {
      const std::uint64_t count = std::min(left, row_extent - position);
      run(row + position, count);
      left -= count;
      position = 0;
    }
    if (!next_row(local, last, side)) break;
  }
}

}  // namespace

void gather_cones(const ouro_geometry& geometry, const void* level, const std::vector<std::uint64_t>& cells,
                  std::uint64_t radius, std::byte* out) {
  const std::size_t value_bytes = geometry.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  const auto* values = static_cast<const std::byte*>(level);
  if (radius == 0) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i + kPrefetchCells < cells.size()) __builtin_prefetch(values + cells[i + kPrefetchCells] * value_bytes);
      std::memcpy(out, values + cells[i] * value_bytes, value_bytes);
      out += value_bytes;
    }
    return;
  }
  const auto prefetch = [&](std::uint64_t first, std::uint64_t count) {
    __builtin_prefetch(values + first * value_bytes);
    __builtin_prefetch(values + (first + count) * value_bytes - 1);
  };
  const auto copy = [&](std::uint64_t first, std::uint64_t count) {
    std::memcpy(out, values + first * value_bytes, count * value_bytes);
    out += count * value_bytes;
  };
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i + kPrefetchCells < cells.size()) for_each_run(geometry, cells[i + kPrefetchCells], radius, prefetch);
    for_each_run(geometry, cells[i], radius, copy);
  }
}

}  // namespace ouro

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

void gather_cones(const ouro_geometry& geometry, const void* level, const std::vector<std::uint64_t>& cells,
                  std::uint64_t radius, std::byte* out) {
  const std::size_t value_bytes = geometry.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  const auto* values = static_cast<const std::byte*>(level);
  if (radius == 0) {
    for (const std::uint64_t cell : cells) {
      std::memcpy(out, values + cell * value_bytes, value_bytes);
      out += value_bytes;
    }
    return;
  }
  const std::uint32_t dims = geometry.dims;
  const std::uint32_t last = dims - 1;
  const std::uint64_t side = 2 * radius + 1;
  const std::uint64_t row_extent = geometry.extents[last];
  std::array<std::uint64_t, OURO_MAX_DIMS> start{};
  std::array<std::uint64_t, OURO_MAX_DIMS> local{};
  for (const std::uint64_t cell : cells) {
    // Each axis' first box coordinate, centre - radius wrapped onto [0, extent).
    for (std::uint32_t axis = 0; axis < dims; ++axis) {
      const std::uint64_t extent = geometry.extents[axis];
      const std::uint64_t centre = cell / geometry.strides[axis] % extent;
      start[axis] = (centre + extent - radius % extent) % extent;
      local[axis] = 0;
    }
    while (true) {
      std::uint64_t row = 0;
      for (std::uint32_t axis = 0; axis < last; ++axis) {
        row += (start[axis] + local[axis]) % geometry.extents[axis] * geometry.strides[axis];
      }
      // The row's run along the last axis, wrapping as often as the box is longer than the extent.
      std::uint64_t position = start[last];
      for (std::uint64_t left = side; left > 0;) {
        const std::uint64_t run = std::min(left, row_extent - position);
        std::memcpy(out, values + (row + position) * value_bytes, run * value_bytes);
        out += run * value_bytes;
        left -= run;
        position = 0;
      }
      if (!next_row(local, last, side)) break;
    }
  }
}

}  // namespace ouro

/*
 * The rows kernel: the same leapfrog update as the reference kernel, computed
 * one last-axis row at a time with neighbour rows found once per row instead
 * of div/mod per cell, and rows spread over the host's thread pool.
 *
 * It sums all 2N neighbours first and subtracts 2N times the centre once,
 * where the reference kernel forms (up + down - 2 centre) per axis, so it
 * differs from the reference kernel in the last ulps: the "different but
 * correct" kernel of the hot-swap tests. Its readout is the reference readout.
 */
#include "reference_math.h"

#include <algorithm>

// CMake builds this source twice: as "rows" and as "rows-twin" (see reference.cpp).
#ifndef OURO_KERNEL_NAME
#define OURO_KERNEL_NAME "rows"
#endif

namespace {

// Rows per parallel_for chunk: enough cells that a chunk outweighs handing it out.
constexpr std::uint64_t kCellsPerChunk = 16384;

template <typename Real>
struct RowJob {
  const ouro_geometry* geometry;
  const Real* newer;
  Real* older;
};

template <typename Real>
void step_rows(void* context, uint64_t begin, uint64_t end) {
  const RowJob<Real>& job = *static_cast<const RowJob<Real>*>(context);
  const ouro_geometry& geometry = *job.geometry;
  const std::uint32_t last = geometry.dims - 1;
  const std::uint64_t length = geometry.extents[last];
  const Real r2 = static_cast<Real>(geometry.courant2);
  const Real centre_weight = static_cast<Real>(2 * geometry.dims);
  const Real* newer = job.newer;
  Real* older = job.older;
  for (std::uint64_t row = begin; row < end; ++row) {
    const std::uint64_t base = row * length;
    // Start of the neighbouring rows along every axis but the last, wrapped.
    std::uint64_t up[OURO_MAX_DIMS];
    std::uint64_t down[OURO_MAX_DIMS];
    std::uint64_t rest = row;
    for (std::uint32_t axis = last; axis-- > 0;) {
      const std::uint64_t extent = geometry.extents[axis];
      const std::uint64_t coord = rest % extent;
      rest /= extent;
      const std::uint64_t origin = base - coord * geometry.strides[axis];
      up[axis] = origin + (coord + 1) % extent * geometry.strides[axis];
      down[axis] = origin + (coord + extent - 1) % extent * geometry.strides[axis];
    }
    for (std::uint64_t i = 0; i < length; ++i) {
      const Real here = newer[base + i];
      const std::uint64_t right = i + 1 == length ? 0 : i + 1;
      const std::uint64_t left = i == 0 ? length - 1 : i - 1;
      Real neighbours = newer[base + right] + newer[base + left];
      for (std::uint32_t axis = last; axis-- > 0;) neighbours += newer[up[axis] + i] + newer[down[axis] + i];
      older[base + i] = Real(2) * here - older[base + i] + r2 * (neighbours - centre_weight * here);
    }
  }
}

template <typename Real>
void step_many(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t length = geometry.extents[geometry.dims - 1];
  const std::uint64_t rows = geometry.cells / length;
  const std::uint64_t grain = std::max<std::uint64_t>(1, kCellsPerChunk / length);
  for (std::uint64_t s = 0; s < steps; ++s) {
    const auto newer = static_cast<std::uint32_t>((state.current + s) % 2);
    RowJob<Real> job{&geometry, static_cast<const Real*>(state.level[newer]),
                     static_cast<Real*>(state.level[1 - newer])};
    host.parallel_for(host.pool, rows, grain, step_rows<Real>, &job);
  }
}

int32_t wave_step(const ouro_host* host, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {
  if (!ouro::reference::supported(*geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry->precision == OURO_PRECISION_F64) {
    step_many<double>(*host, *geometry, *state, steps);
  } else {
    step_many<float>(*host, *geometry, *state, steps);
  }
  return OURO_OK;
}

int32_t readout(const ouro_host*, const ouro_geometry* geometry, const void* field, int8_t* digits,
                uint64_t* bad_index) {
  return ouro::reference::readout(*geometry, field, digits, bad_index);
}

const ouro_kernel_table rows_table = {
    OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), OURO_KERNEL_NAME, wave_step, readout,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) {
  return &rows_table;
}

/**
 * The parts of a rendered kernel that no gene changes: the geometry check,
 * the readout, the generic N-D path for dimension counts the fast path does
 * not cover, and the work-splitting helpers whose policy the genome picks.
 */

export const PREAMBLE = `#include <ouroboros/kernel_abi.h>

#include <cmath>
#include <cstdint>

namespace {

bool supported(const ouro_geometry& geometry) {
  return geometry.dims >= 1 && geometry.dims <= OURO_MAX_DIMS &&
         (geometry.precision == OURO_PRECISION_F64 || geometry.precision == OURO_PRECISION_F32);
}

// The readout is the reference readout: std::round breaks ties away from
// zero, and the int8 conversion turns -0 into 0.
template <typename Real>
int32_t readout_field(const ouro_geometry& geometry, const Real* field, int8_t* digits, uint64_t* bad_index) {
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) {
    if (!std::isfinite(field[cell])) {
      *bad_index = cell;
      return OURO_ERR_NONFINITE;
    }
    const Real nearest = std::round(field[cell]);
    digits[cell] = static_cast<int8_t>(nearest > Real(4) ? Real(4) : nearest < Real(-4) ? Real(-4) : nearest);
  }
  return OURO_OK;
}

int32_t readout(const ouro_host*, const ouro_geometry* geometry, const void* field, int8_t* digits,
                uint64_t* bad_index) {
  if (!supported(*geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry->precision == OURO_PRECISION_F64) {
    return readout_field(*geometry, static_cast<const double*>(field), digits, bad_index);
  }
  return readout_field(*geometry, static_cast<const float*>(field), digits, bad_index);
}

template <typename Job>
void run_range(void* context, uint64_t begin, uint64_t end) {
  static_cast<const Job*>(context)->run(begin, end);
}

// A job cut into one contiguous band of items per pool thread. Bands
// [begin, end) are one contiguous range of items, run in one call (a loop
// of one call per band made the static analyser's work five times longer).
template <typename Job>
struct Bands {
  const Job* job;
  std::uint64_t count;
  std::uint64_t bands;
  void run(std::uint64_t begin, std::uint64_t end) const { job->run(count * begin / bands, count * end / bands); }
};
`;

/** The generic path: any dimension count, rows found by div/mod once per row. */
export const GENERIC_PATH = `
// Rows of the last axis for any dimension count; the Laplacian is the
// reference's, axis by axis in order, so the result is the reference's bit
// for bit.
template <typename Real>
struct GenericSweep {
  const ouro_geometry* geometry;
  const Real* newer;
  Real* older;
  void run(std::uint64_t begin, std::uint64_t end) const {
    const std::uint32_t dims = geometry->dims;
    const std::uint64_t extent = geometry->extents[dims - 1];
    const Real r2 = static_cast<Real>(geometry->courant2);
    std::uint64_t plus[OURO_MAX_DIMS] = {};
    std::uint64_t minus[OURO_MAX_DIMS] = {};
    for (std::uint64_t row = begin; row < end; ++row) {
      const std::uint64_t start = row * extent;
      std::uint64_t rest = row;
      for (std::uint32_t axis = dims - 1; axis-- > 0;) {
        const std::uint64_t size = geometry->extents[axis];
        const std::uint64_t stride = geometry->strides[axis];
        const std::uint64_t coord = rest % size;
        rest /= size;
        plus[axis] = coord + 1 == size ? start - coord * stride : start + stride;
        minus[axis] = coord == 0 ? start + (size - 1) * stride : start - stride;
      }
      for (std::uint64_t i = 0; i < extent; ++i) {
        const Real here = newer[start + i];
        Real lap = 0;
        for (std::uint32_t axis = 0; axis + 1 < dims; ++axis) {
          lap += (newer[plus[axis] + i] + newer[minus[axis] + i]) - Real(2) * here;
        }
        const Real right = newer[start + (i + 1 == extent ? 0 : i + 1)];
        const Real left = newer[start + (i == 0 ? extent - 1 : i - 1)];
        lap += (right + left) - Real(2) * here;
        older[start + i] = Real(2) * here - older[start + i] + r2 * lap;
      }
    }
  }
};

template <typename Real>
void step_generic(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  const std::uint64_t rows = geometry.cells / geometry.extents[geometry.dims - 1];
  for (std::uint64_t s = 0; s < steps; ++s) {
    const auto newer = static_cast<std::uint32_t>((state.current + s) % 2);
    GenericSweep<Real> sweep{&geometry, static_cast<const Real*>(state.level[newer]),
                             static_cast<Real*>(state.level[1 - newer])};
    run_items(host, rows, sweep);
  }
}
`;

/** wave_step's dispatch (1-D lattices too when the fast path has a 1-D form), the kernel table and the entry point. */
export function epilogue(kernelName: string, oneDimensional: boolean): string {
  const line = oneDimensional
    ? `if (geometry.dims == 1) {
    step_fast<Real, 0>(host, geometry, state, steps);
  } else `
    : '';
  return `
template <typename Real>
void step_any(const ouro_host& host, const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  ${line}if (geometry.dims == 2) {
    step_fast<Real, 1>(host, geometry, state, steps);
  } else if (geometry.dims == 3) {
    step_fast<Real, 2>(host, geometry, state, steps);
  } else {
    step_generic<Real>(host, geometry, state, steps);
  }
}

int32_t wave_step(const ouro_host* host, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {
  if (!supported(*geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry->precision == OURO_PRECISION_F64) {
    step_any<double>(*host, *geometry, *state, steps);
  } else {
    step_any<float>(*host, *geometry, *state, steps);
  }
  return OURO_OK;
}

const ouro_kernel_table table = {OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), "${kernelName}", wave_step, readout};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) { return &table; }
`;
}

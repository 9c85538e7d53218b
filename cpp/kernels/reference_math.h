/*
 * The reference kernel's arithmetic, shared by reference.cpp and the test
 * modules that must match it bit for bit until they misbehave on purpose.
 * The order of every floating-point operation is part of the contract; every
 * includer is built with -ffp-contract=off.
 */
#ifndef OUROBOROS_KERNELS_REFERENCE_MATH_H
#define OUROBOROS_KERNELS_REFERENCE_MATH_H

#include <ouroboros/kernel_abi.h>

#include <cmath>
#include <cstdint>

namespace ouro::reference {

inline bool supported(const ouro_geometry& geometry) {
  return geometry.dims >= 1 && geometry.dims <= OURO_MAX_DIMS &&
         (geometry.precision == OURO_PRECISION_F64 || geometry.precision == OURO_PRECISION_F32);
}

// One step: writes u^{n+1} over u^{n-1} in `older`, reading u^n from `newer`.
// Each cell reads only its own u^{n-1}, so writing in place is safe.
template <typename Real>
void step_once(const ouro_geometry& geometry, const Real* newer, Real* older) {
  const Real r2 = static_cast<Real>(geometry.courant2);
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) {
    std::uint64_t coords[OURO_MAX_DIMS];
    std::uint64_t rest = cell;
    for (std::uint32_t axis = geometry.dims; axis-- > 0;) {
      coords[axis] = rest % geometry.extents[axis];
      rest /= geometry.extents[axis];
    }
    const Real here = newer[cell];
    Real lap = 0;
    for (std::uint32_t axis = 0; axis < geometry.dims; ++axis) {
      const std::uint64_t extent = geometry.extents[axis];
      const std::uint64_t base = cell - coords[axis] * geometry.strides[axis];
      const std::uint64_t up = base + (coords[axis] + 1) % extent * geometry.strides[axis];
      const std::uint64_t down = base + (coords[axis] + extent - 1) % extent * geometry.strides[axis];
      lap += (newer[up] + newer[down]) - Real(2) * here;
    }
    older[cell] = Real(2) * here - older[cell] + r2 * lap;
  }
}

template <typename Real>
void step_many(const ouro_geometry& geometry, const ouro_state& state, std::uint64_t steps) {
  for (std::uint64_t s = 0; s < steps; ++s) {
    const std::uint32_t newer = static_cast<std::uint32_t>((state.current + s) % 2);
    step_once(geometry, static_cast<const Real*>(state.level[newer]), static_cast<Real*>(state.level[1 - newer]));
  }
}

template <typename Real>
int32_t readout_field(const ouro_geometry& geometry, const Real* field, int8_t* digits, uint64_t* bad_index) {
  for (std::uint64_t cell = 0; cell < geometry.cells; ++cell) {
    if (!std::isfinite(field[cell])) {
      *bad_index = cell;
      return OURO_ERR_NONFINITE;
    }
    // std::round breaks ties away from zero; the int8 conversion turns -0 into 0.
    const Real nearest = std::round(field[cell]);
    digits[cell] = static_cast<int8_t>(nearest > Real(4) ? Real(4) : nearest < Real(-4) ? Real(-4) : nearest);
  }
  return OURO_OK;
}

/// The whole wave_step, for any supported precision.
inline int32_t wave_step(const ouro_geometry& geometry, const ouro_state& state, uint64_t steps) {
  if (!supported(geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry.precision == OURO_PRECISION_F64) {
    step_many<double>(geometry, state, steps);
  } else {
    step_many<float>(geometry, state, steps);
  }
  return OURO_OK;
}

/// The whole readout, for any supported precision.
inline int32_t readout(const ouro_geometry& geometry, const void* field, int8_t* digits, uint64_t* bad_index) {
  if (!supported(geometry)) return OURO_ERR_UNSUPPORTED;
  if (geometry.precision == OURO_PRECISION_F64) {
    return readout_field(geometry, static_cast<const double*>(field), digits, bad_index);
  }
  return readout_field(geometry, static_cast<const float*>(field), digits, bad_index);
}

}  // namespace ouro::reference

#endif

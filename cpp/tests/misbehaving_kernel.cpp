/*
 * Kernel modules that load cleanly and then misbehave, for the hot-swap,
 * watchdog and profiler tests. CMake builds this source once per behaviour,
 * named in OURO_MISBEHAVIOUR. Each one is the reference kernel (bit for bit)
 * except for its one defect.
 */
#include "kernels/reference_math.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>

namespace {

enum class Misbehaviour {
  // Correct for its first kNanAfterSteps steps after loading, then writes NaN
  // into cell 0 on every step. (It keeps a step counter: hidden state, which
  // the ABI forbids, is exactly the kind of bug the watchdog is for.)
  NanAfter,
  // Multiplies the new level by (1 + 1e-6) every step, so the energy creeps
  // up; only on lattices of kPumpMinCells or more, so it passes the self-test
  // on a tiny lattice, like a bug that shows only at real sizes.
  PumpEnergy,
  // A correct readout that spins for kSlowReadoutUs first.
  SlowReadout,
  // Steps with 1.5 times the Courant number squared: wrong physics, caught by the self-test.
  WrongPhysics,
};

constexpr Misbehaviour misbehaviour = Misbehaviour::OURO_MISBEHAVIOUR;
constexpr std::uint64_t kNanAfterSteps = 40;
constexpr double kPumpFactor = 1.0 + 1e-6;
constexpr std::uint64_t kPumpMinCells = 256;
constexpr auto kSlowReadout = std::chrono::microseconds(5000);

std::atomic<std::uint64_t> steps_taken{0};

template <typename Real>
void scale(void* level, std::uint64_t cells, double factor) {
  Real* values = static_cast<Real*>(level);
  for (std::uint64_t cell = 0; cell < cells; ++cell) values[cell] = static_cast<Real>(values[cell] * factor);
}

template <typename Real>
void poison(void* level) {
  static_cast<Real*>(level)[0] = std::numeric_limits<Real>::quiet_NaN();
}

int32_t wave_step(const ouro_host*, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {
  const bool f64 = geometry->precision == OURO_PRECISION_F64;
  if (misbehaviour == Misbehaviour::WrongPhysics) {
    ouro_geometry wrong = *geometry;
    wrong.courant2 *= 1.5;
    return ouro::reference::wave_step(wrong, *state, steps);
  }
  for (std::uint64_t s = 0; s < steps; ++s) {
    ouro_state one = *state;
    one.current = static_cast<std::uint32_t>((state->current + s) % 2);
    const int32_t status = ouro::reference::wave_step(*geometry, one, 1);
    if (status != OURO_OK) return status;
    void* newest = state->level[1 - one.current];
    if (misbehaviour == Misbehaviour::PumpEnergy && geometry->cells >= kPumpMinCells) {
      f64 ? scale<double>(newest, geometry->cells, kPumpFactor) : scale<float>(newest, geometry->cells, kPumpFactor);
    }
    if (misbehaviour == Misbehaviour::NanAfter && steps_taken++ >= kNanAfterSteps) {
      f64 ? poison<double>(newest) : poison<float>(newest);
    }
  }
  return OURO_OK;
}

int32_t readout(const ouro_host*, const ouro_geometry* geometry, const void* field, int8_t* digits,
                uint64_t* bad_index) {
  if (misbehaviour == Misbehaviour::SlowReadout) {
    const auto until = std::chrono::steady_clock::now() + kSlowReadout;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  return ouro::reference::readout(*geometry, field, digits, bad_index);
}

const ouro_kernel_table table = {
    OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), "misbehaving", wave_step, readout,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) { return &table; }

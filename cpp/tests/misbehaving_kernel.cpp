/*
 * Kernel modules that load cleanly and then misbehave, for the hot-swap,
 * watchdog and profiler tests. CMake builds this source once per behaviour,
 * named in OURO_MISBEHAVIOUR. Each one is the reference kernel (bit for bit)
 * except for its one defect.
 */
#include "kernels/reference_math.h"

#include <algorithm>
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
  // Steps and reads out correctly, then leaves the FP environment changed on
  // the calling thread and on every pool thread it reaches: MXCSR with
  // flush-to-zero, denormals-are-zero, round toward zero and the
  // divide-by-zero exception unmasked; the x87 control word with single
  // precision and round toward zero.
  SpoilFpEnvironment,
  // Three defects the staggered energy cannot see, each only on lattices of
  // kPumpMinCells or more (so they pass the self-test): FreezeField writes
  // u^{n+1} = u^n (from rest the energy stays exact); SwapLevels does no work,
  // so u^{n-1} becomes the newest level (the energy is symmetric in the two
  // levels); WrongAtOneCell steps correctly but adds kOneCellError to one
  // cell, a drift far below the energy tolerance (an f64 defect: in f32 the
  // nudge rounds away on values near 1).
  FreezeField,
  SwapLevels,
  WrongAtOneCell,
  // Correct except for the call patterns named, on lattices of kPumpMinCells
  // or more, where the last step of the call is skipped (no work, so the
  // levels swap and the energy stays exact): WrongWhenBatched in calls of
  // more than one step, WrongWhenSingle in one-step calls, WrongOnOddBatches
  // in calls of an odd number of steps above one.
  WrongWhenBatched,
  WrongWhenSingle,
  WrongOnOddBatches,
  // Correct except in the calls, on lattices of kPumpMinCells or more, that
  // take a step whose count since loading is kWrongBatchStep modulo
  // kWrongBatchPeriod: that call's last step is skipped. A kernel that
  // misbehaves briefly between two watchdog snapshots and then behaves:
  // only a probe of that call sees it.
  WrongInOneBatch,
  // Correct except, on lattices of kPumpMinCells or more, in calls of more
  // than one step as long as the longest it has been given since loading,
  // once it has had more than kSettledCalls of them: the live batch length
  // after the sizer has ramped up (the ramp, each length new, is correct). A
  // kernel that behaves whenever a probe shortens its batch: only probes of
  // the live length see it.
  WrongOnLongestBatches,
};

constexpr Misbehaviour misbehaviour = Misbehaviour::OURO_MISBEHAVIOUR;
constexpr std::uint64_t kNanAfterSteps = 40;
constexpr std::uint64_t kWrongBatchStep = 120;
constexpr std::uint64_t kWrongBatchPeriod = 1000;
constexpr double kPumpFactor = 1.0 + 1e-6;
constexpr std::uint64_t kPumpMinCells = 256;
constexpr double kOneCellError = 1e-9;
constexpr auto kSlowReadout = std::chrono::microseconds(5000);

std::atomic<std::uint64_t> steps_taken{0};
std::atomic<std::uint64_t> large_steps_taken{0};
std::atomic<std::uint64_t> longest_call{0};
std::atomic<std::uint64_t> calls_at_longest{0};
constexpr std::uint64_t kSettledCalls = 3;

constexpr std::uint32_t kMxcsrDaz = 1u << 6;
constexpr std::uint32_t kMxcsrDivideByZeroMask = 1u << 9;
constexpr std::uint32_t kMxcsrRoundTowardZero = 3u << 13;
constexpr std::uint32_t kMxcsrFtz = 1u << 15;
constexpr std::uint16_t kX87PrecisionMask = 3u << 8;
constexpr std::uint16_t kX87RoundTowardZero = 3u << 10;

void spoil_this_thread() {
  std::uint32_t mxcsr = 0;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  mxcsr = (mxcsr | kMxcsrDaz | kMxcsrRoundTowardZero | kMxcsrFtz) & ~kMxcsrDivideByZeroMask;
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
  std::uint16_t control = 0;
  __asm__ volatile("fnstcw %0" : "=m"(control));
  control = static_cast<std::uint16_t>((control & ~kX87PrecisionMask) | kX87RoundTowardZero);
  __asm__ volatile("fldcw %0" : : "m"(control));
}

void spoil_chunk(void*, uint64_t, uint64_t) { spoil_this_thread(); }

// Last thing before returning, so the kernel's own arithmetic is the reference's.
void spoil(const ouro_host* host) {
  if (misbehaviour != Misbehaviour::SpoilFpEnvironment) return;
  // One chunk per index and several per thread, so that every pool thread takes one.
  host->parallel_for(host->pool, 64ull * host->threads, 1, spoil_chunk, nullptr);
  spoil_this_thread();
}

template <typename Real>
void scale(void* level, std::uint64_t cells, double factor) {
  Real* values = static_cast<Real*>(level);
  for (std::uint64_t cell = 0; cell < cells; ++cell) values[cell] = static_cast<Real>(values[cell] * factor);
}

template <typename Real>
void copy_level(const void* from, void* to, std::uint64_t cells) {
  const Real* source = static_cast<const Real*>(from);
  std::copy(source, source + cells, static_cast<Real*>(to));
}

// A cell far from the first ones, away from any axis' start.
std::uint64_t one_wrong_cell(const ouro_geometry& geometry) { return geometry.cells - 1 - geometry.cells / 3; }

template <typename Real>
void nudge(void* level, std::uint64_t cell) {
  Real& value = static_cast<Real*>(level)[cell];
  value = static_cast<Real>(value + kOneCellError);
}

template <typename Real>
void poison(void* level) {
  static_cast<Real*>(level)[0] = std::numeric_limits<Real>::quiet_NaN();
}

// Whether the steps [first, first + steps) of the count since loading hold a wrong one.
bool takes_wrong_step(std::uint64_t first, std::uint64_t steps) {
  const std::uint64_t next_wrong =
      first + (kWrongBatchStep + kWrongBatchPeriod - first % kWrongBatchPeriod) % kWrongBatchPeriod;
  return next_wrong < first + steps;
}

int32_t wave_step(const ouro_host* host, const ouro_geometry* geometry, const ouro_state* state, uint64_t steps) {
  const bool f64 = geometry->precision == OURO_PRECISION_F64;
  if (misbehaviour == Misbehaviour::WrongPhysics) {
    ouro_geometry wrong = *geometry;
    wrong.courant2 *= 1.5;
    return ouro::reference::wave_step(wrong, *state, steps);
  }
  const bool large = geometry->cells >= kPumpMinCells;
  const std::uint64_t large_steps_before = large ? large_steps_taken.fetch_add(steps) : 0;
  if (large && steps > longest_call.load()) {
    longest_call.store(steps);
    calls_at_longest.store(0);
  }
  const bool settled_longest = large && steps == longest_call.load() && calls_at_longest.fetch_add(1) >= kSettledCalls;
  const bool wrong_call =
      large && ((misbehaviour == Misbehaviour::WrongInOneBatch && takes_wrong_step(large_steps_before, steps)) ||
                (misbehaviour == Misbehaviour::WrongOnLongestBatches && steps > 1 && settled_longest) ||
                (misbehaviour == Misbehaviour::WrongWhenBatched && steps > 1) ||
                (misbehaviour == Misbehaviour::WrongWhenSingle && steps == 1) ||
                (misbehaviour == Misbehaviour::WrongOnOddBatches && steps > 1 && steps % 2 == 1));
  for (std::uint64_t s = 0; s < steps; ++s) {
    ouro_state one = *state;
    one.current = static_cast<std::uint32_t>((state->current + s) % 2);
    void* newest = state->level[1 - one.current];
    if (large && misbehaviour == Misbehaviour::SwapLevels) continue;
    if (wrong_call && s + 1 == steps) continue;
    if (large && misbehaviour == Misbehaviour::FreezeField) {
      const void* now = state->level[one.current];
      f64 ? copy_level<double>(now, newest, geometry->cells) : copy_level<float>(now, newest, geometry->cells);
      continue;
    }
    const int32_t status = ouro::reference::wave_step(*geometry, one, 1);
    if (status != OURO_OK) return status;
    if (large && misbehaviour == Misbehaviour::WrongAtOneCell) {
      f64 ? nudge<double>(newest, one_wrong_cell(*geometry)) : nudge<float>(newest, one_wrong_cell(*geometry));
    }
    if (misbehaviour == Misbehaviour::PumpEnergy && large) {
      f64 ? scale<double>(newest, geometry->cells, kPumpFactor) : scale<float>(newest, geometry->cells, kPumpFactor);
    }
    if (misbehaviour == Misbehaviour::NanAfter && steps_taken++ >= kNanAfterSteps) {
      f64 ? poison<double>(newest) : poison<float>(newest);
    }
  }
  spoil(host);
  return OURO_OK;
}

int32_t readout(const ouro_host* host, const ouro_geometry* geometry, const void* field, int8_t* digits,
                uint64_t* bad_index) {
  if (misbehaviour == Misbehaviour::SlowReadout) {
    const auto until = std::chrono::steady_clock::now() + kSlowReadout;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  const int32_t status = ouro::reference::readout(*geometry, field, digits, bad_index);
  spoil(host);
  return status;
}

const ouro_kernel_table table = {
    OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table), "misbehaving", wave_step, readout,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ouro_kernel_table* ouro_kernel_entry(void) { return &table; }

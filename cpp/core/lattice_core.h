#ifndef OUROBOROS_CORE_LATTICE_CORE_H
#define OUROBOROS_CORE_LATTICE_CORE_H

#include <ouroboros/kernel_abi.h>

#include "core/kernel_module.h"
#include "core/state_buffer.h"
#include "core/thread_pool.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace ouro {

/// What a lattice is made of; the caller has validated it.
struct LatticeConfig {
  std::vector<std::uint64_t> extents;
  double courant2 = 0.0;
  ouro_precision precision = OURO_PRECISION_F64;
  std::uint32_t threads = 1;
};

/// A kernel's readout: digits when every cell is finite, else the lowest bad cell.
struct Readout {
  std::vector<std::int8_t> digits;
  std::optional<std::uint64_t> bad_index;
};

/// Two time levels stepped in a private buffer by LatticeCore::step_copy.
struct LevelPair {
  std::unique_ptr<StateBuffer> buffer;
  std::uint32_t current;

  const void* current_level() const { return buffer->level(current); }
  const void* previous_level() const { return buffer->level(1 - current); }
};

/**
 * A periodic N-D lattice: its geometry, its two live time levels, and the
 * kernel module and thread pool that advance them.
 *
 * Fields passed in or out are `cells` values of the lattice precision,
 * row-major, last axis fastest.
 */
class LatticeCore {
 public:
  /// Throws std::invalid_argument on a malformed config.
  LatticeCore(const LatticeConfig& config, std::shared_ptr<const KernelModule> kernel);

  const ouro_geometry& geometry() const { return geometry_; }
  std::size_t level_bytes() const { return state_->level_bytes(); }
  std::uint64_t step_count() const { return step_count_; }
  const KernelModule& kernel() const { return *kernel_; }

  /// Copies both levels in (level_bytes() each) and resets the step counter.
  void set_state(const void* previous, const void* current);

  /// Advances n steps in one kernel call; returns that call's wall time in ns.
  std::uint64_t step(std::uint64_t steps);

  /// The kernel's readout of the current level.
  Readout readout();

  /// Steps a private copy of the given levels; the live state is untouched.
  LevelPair step_copy(const void* previous, const void* current, std::uint64_t steps);

  /// Which level of the state buffer holds u^n; the other holds u^{n-1}.
  std::uint32_t current_index() const { return current_; }
  const void* current_level() const { return state_->level(current_); }
  const void* previous_level() const { return state_->level(1 - current_); }

  /// The live state, for views that must be able to outlive the lattice.
  std::shared_ptr<StateBuffer> shared_state() const { return state_; }

 private:
  void copy_in(const void* previous, const void* current);
  void run_kernel(StateBuffer& buffer, std::uint32_t current, std::uint64_t steps);

  ouro_geometry geometry_;
  std::shared_ptr<const KernelModule> kernel_;
  ThreadPool pool_;
  std::shared_ptr<StateBuffer> state_;
  std::uint32_t current_ = 0;
  std::uint64_t step_count_ = 0;
};

}  // namespace ouro

#endif

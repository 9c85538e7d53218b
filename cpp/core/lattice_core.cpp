#include "core/lattice_core.h"

#include <chrono>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace ouro {
namespace {

ouro_geometry make_geometry(const LatticeConfig& config) {
  const std::size_t dims = config.extents.size();
  if (dims < 1 || dims > OURO_MAX_DIMS) {
    throw std::invalid_argument("lattice needs 1 to " + std::to_string(OURO_MAX_DIMS) + " extents, got " +
                                std::to_string(dims));
  }
  if (config.precision != OURO_PRECISION_F64 && config.precision != OURO_PRECISION_F32) {
    throw std::invalid_argument("unknown precision " + std::to_string(config.precision));
  }
  ouro_geometry geometry{};
  geometry.dims = static_cast<std::uint32_t>(dims);
  geometry.precision = config.precision;
  geometry.courant2 = config.courant2;
  std::uint64_t cells = 1;
  for (std::size_t axis = dims; axis-- > 0;) {
    const std::uint64_t extent = config.extents[axis];
    if (extent < 3) {
      throw std::invalid_argument("extents[" + std::to_string(axis) + "] = " + std::to_string(extent) +
                                  ": each extent must be >= 3");
    }
    geometry.extents[axis] = extent;
    geometry.strides[axis] = cells;
    if (__builtin_mul_overflow(cells, extent, &cells)) {
      throw std::invalid_argument("lattice has more than 2^64 cells");
    }
  }
  geometry.cells = cells;
  return geometry;
}

std::size_t field_bytes(const ouro_geometry& geometry) {
  const std::size_t value_bytes = geometry.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  std::size_t bytes = 0;
  if (geometry.cells > std::numeric_limits<std::size_t>::max() ||
      __builtin_mul_overflow(static_cast<std::size_t>(geometry.cells), value_bytes, &bytes)) {
    throw std::invalid_argument("lattice of " + std::to_string(geometry.cells) + " cells does not fit in memory");
  }
  return bytes;
}

[[noreturn]] void kernel_failed(const KernelModule& kernel, const char* function, std::int32_t status) {
  const char* meaning = status == OURO_ERR_UNSUPPORTED ? "unsupported geometry or precision" : "unexpected status";
  throw std::runtime_error("kernel '" + std::string(kernel.name()) + "' (" + kernel.path() + ") " + function +
                           " returned " + std::to_string(status) + " (" + meaning + ")");
}

}  // namespace

LatticeCore::LatticeCore(const LatticeConfig& config, std::shared_ptr<const KernelModule> kernel)
    : geometry_(make_geometry(config)),
      kernel_(std::move(kernel)),
      pool_(config.threads),
      state_(std::make_shared<StateBuffer>(field_bytes(geometry_))) {}

void LatticeCore::set_state(const void* previous, const void* current) {
  const std::size_t bytes = level_bytes();
  if (!state_->overlaps(previous, bytes) && !state_->overlaps(current, bytes)) {
    copy_in(previous, current);
    return;
  }
  // The caller passed views of this very state back in: stage both levels so
  // that writing one cannot clobber the source of the other.
  std::vector<std::byte> staged(2 * bytes);
  std::memcpy(staged.data(), previous, bytes);
  std::memcpy(staged.data() + bytes, current, bytes);
  copy_in(staged.data(), staged.data() + bytes);
}

std::uint64_t LatticeCore::step(std::uint64_t steps) {
  const auto start = std::chrono::steady_clock::now();
  run_kernel(*state_, current_, steps);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  current_ = static_cast<std::uint32_t>((current_ + steps) % 2);
  step_count_ += steps;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
}

Readout LatticeCore::readout() {
  Readout result;
  result.digits.resize(geometry_.cells);
  std::uint64_t bad_index = 0;
  const ouro_host host = pool_.host();
  const std::int32_t status =
      kernel_->table().readout(&host, &geometry_, current_level(), result.digits.data(), &bad_index);
  if (status == OURO_ERR_NONFINITE) return Readout{{}, bad_index};
  if (status != OURO_OK) kernel_failed(*kernel_, "readout", status);
  return result;
}

LevelPair LatticeCore::step_copy(const void* previous, const void* current, std::uint64_t steps) {
  LevelPair pair{std::make_unique<StateBuffer>(level_bytes()), 0};
  std::memcpy(pair.buffer->level(0), current, level_bytes());
  std::memcpy(pair.buffer->level(1), previous, level_bytes());
  run_kernel(*pair.buffer, 0, steps);
  pair.current = static_cast<std::uint32_t>(steps % 2);
  return pair;
}

void LatticeCore::copy_in(const void* previous, const void* current) {
  std::memcpy(state_->level(0), current, level_bytes());
  std::memcpy(state_->level(1), previous, level_bytes());
  current_ = 0;
  step_count_ = 0;
}

void LatticeCore::run_kernel(StateBuffer& buffer, std::uint32_t current, std::uint64_t steps) {
  const ouro_host host = pool_.host();
  const ouro_state state{{buffer.level(0), buffer.level(1)}, buffer.scratch(), current};
  const std::int32_t status = kernel_->table().wave_step(&host, &geometry_, &state, steps);
  if (status != OURO_OK) kernel_failed(*kernel_, "wave_step", status);
}

}  // namespace ouro

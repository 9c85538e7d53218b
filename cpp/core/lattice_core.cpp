#include "core/lattice_core.h"

#include "core/kernel_call_guard.h"

#include <ouroboros/segment_layout.h>

#include "core/remote_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

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

BatchOptions checked_batch(const BatchOptions& batch) {
  if (batch.latency_ns == 0) throw std::invalid_argument("batch latency_ns = 0: must be >= 1");
  if (batch.max_steps == 0) throw std::invalid_argument("batch max_steps = 0: must be >= 1");
  return batch;
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

template <typename Real>
double max_abs_difference_of(const Real* a, const Real* b, std::uint64_t cells) {
  double largest = 0.0;
  for (std::uint64_t cell = 0; cell < cells; ++cell) {
    const double difference = std::fabs(static_cast<double>(a[cell]) - static_cast<double>(b[cell]));
    // NaN compares false: a NaN on either side counts as an infinite difference.
    largest = difference >= largest ? difference : (difference < largest ? largest : INFINITY);
  }
  return largest;
}

double max_abs_difference(const ouro_geometry& geometry, const LevelPair& a, const LevelPair& b) {
  double largest = 0.0;
  for (const bool current : {false, true}) {
    const void* left = current ? a.current_level() : a.previous_level();
    const void* right = current ? b.current_level() : b.previous_level();
    largest = std::max(
        largest,
        geometry.precision == OURO_PRECISION_F64
            ? max_abs_difference_of(static_cast<const double*>(left), static_cast<const double*>(right), geometry.cells)
            : max_abs_difference_of(static_cast<const float*>(left), static_cast<const float*>(right), geometry.cells));
  }
  return largest;
}

}  // namespace

LatticeCore::LatticeCore(const LatticeConfig& config, std::shared_ptr<const KernelModule> kernel)
    : geometry_(make_geometry(config)),
      slots_(kernel),
      base_step_module_(std::move(kernel)),
      pool_(config.threads),
      state_(std::make_shared<StateBuffer>(field_bytes(geometry_))),
      batch_sizer_(checked_batch(config.batch)),
      snapshots_(geometry_, field_bytes(geometry_)),
      cone_probe_(geometry_) {}

LatticeCore::LatticeCore(const LatticeConfig& config, std::shared_ptr<const KernelModule> kernel,
                         const SegmentRegion& segment)
    : geometry_(make_geometry(config)),
      slots_(kernel),
      base_step_module_(std::move(kernel)),
      pool_(config.threads),
      batch_sizer_(checked_batch(config.batch)),
      snapshots_(geometry_, field_bytes(geometry_)),
      cone_probe_(geometry_) {
  if (segment.level_bytes != field_bytes(geometry_)) {
    throw std::invalid_argument("segment level_bytes = " + std::to_string(segment.level_bytes) +
                                ": the lattice needs " + std::to_string(field_bytes(geometry_)));
  }
  state_ = std::make_shared<StateBuffer>(segment);
  std::byte* header = state_->segment_header();
  const std::uint32_t current =
      std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(header + OURO_SEGMENT_OFFSET_CURRENT_LEVEL))
          .load(std::memory_order_acquire);
  if (current > 1)
    throw std::invalid_argument("segment current_level = " + std::to_string(current) + ": must be 0 or 1");
  current_ = current;
  step_count_.store(
      std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(header + OURO_SEGMENT_OFFSET_STEP_COUNT))
          .load(std::memory_order_acquire),
      std::memory_order_release);
}

LatticeCore::~LatticeCore() { stop(); }

void LatticeCore::publish_boundary() {
  std::byte* header = state_->segment_header();
  if (!header) return;
  // The header is little-endian (segment_layout.h); these stores are its fields only on such a machine.
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the segment header is little-endian");
  // Level first, count last with release: whoever reads the count with acquire sees the level that goes with it.
  std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(header + OURO_SEGMENT_OFFSET_CURRENT_LEVEL))
      .store(current_, std::memory_order_relaxed);
  std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(header + OURO_SEGMENT_OFFSET_STEP_COUNT))
      .store(step_count_.load(std::memory_order_relaxed), std::memory_order_release);
}

std::shared_ptr<const KernelModule> LatticeCore::live_module(Slot slot) const { return slots_.modules(slot).live; }

std::shared_ptr<const KernelModule> LatticeCore::last_known_good(Slot slot) const {
  return slots_.modules(slot).last_known_good;
}

void LatticeCore::set_state(const void* previous, const void* current) {
  at_boundary([&] {
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
  });
}

std::uint64_t LatticeCore::step(std::uint64_t steps) {
  if (running()) throw std::logic_error("LatticeCore::step called while a run is active");
  const KernelModule& module = slots_.live(Slot::Step);
  if (module.id() != sized_module_id_) {
    sized_module_id_ = module.id();
    batch_sizer_.restart();
  }
  std::uint64_t total_ns = 0;
  for (std::uint64_t left = steps; left > 0;) {
    const std::uint64_t batch = std::min(left, batch_sizer_.options().max_steps);
    const std::uint64_t start = monotonic_ns();
    try {
      run_kernel(module, *state_, current_, batch, fp_restores_of(Slot::Step));
    } catch (const RemoteKernelFailure&) {
      // The host is dead: the slot goes back to last-known-good and the caller hears why.
      apply_swap(Slot::Step, nullptr);
      throw;
    }
    const std::uint64_t elapsed = monotonic_ns() - start;
    total_ns += elapsed;
    profiles_[static_cast<std::size_t>(Slot::Step)].record(elapsed, batch);
    batch_sizer_.record(elapsed, batch);
    current_ = static_cast<std::uint32_t>((current_ + batch) % 2);
    step_count_.fetch_add(batch, std::memory_order_acq_rel);
    publish_boundary();
    left -= batch;
  }
  batch_steps_.store(batch_sizer_.next(), std::memory_order_relaxed);
  return total_ns;
}

void LatticeCore::resume_batch_steps(std::uint64_t steps) {
  at_boundary([&] {
    sized_module_id_ = slots_.live(Slot::Step).id();
    batch_sizer_.resume(steps);
    batch_steps_.store(batch_sizer_.next(), std::memory_order_relaxed);
  });
}

std::uint64_t LatticeCore::direct_steps(std::uint64_t steps) {
  if (running()) throw std::logic_error("LatticeCore::direct_steps called while a run is active");
  const KernelModule& module = slots_.live(Slot::Step);
  const ouro_wave_step_fn wave_step = module.table().wave_step;
  const ouro_host host = pool_.host();
  // Restored once around the loop, outside the timing: the peer the runner is measured against makes bare calls.
  KernelCallGuard guard(fp_restore_enabled_.load(std::memory_order_relaxed));
  const std::uint64_t start = monotonic_ns();
  for (std::uint64_t s = 0; s < steps; ++s) {
    const ouro_state state{{state_->level(0), state_->level(1)}, state_->scratch(), current_};
    state_->prepare_call();
    const std::int32_t status = wave_step(&host, &geometry_, &state, 1);
    if (status != OURO_OK) {
      guard.restore();
      kernel_failed(module, "wave_step", status);
    }
    current_ ^= 1u;
  }
  const std::uint64_t elapsed = monotonic_ns() - start;
  if (guard.restore()) fp_restores_of(Slot::Step).fetch_add(1, std::memory_order_relaxed);
  step_count_.fetch_add(steps, std::memory_order_acq_rel);
  publish_boundary();
  return elapsed;
}

Readout LatticeCore::readout() {
  return at_boundary([&] {
    const KernelModule& module = slots_.live(Slot::Readout);
    const std::uint64_t start = monotonic_ns();
    Readout result;
    try {
      result = run_readout(module, current_level(), fp_restores_of(Slot::Readout));
    } catch (const RemoteKernelFailure&) {
      abandon_readout_host();
      throw;
    }
    profiles_[static_cast<std::size_t>(Slot::Readout)].record(monotonic_ns() - start, 0);
    return result;
  });
}

Readout LatticeCore::run_readout(const KernelModule& module, const void* field,
                                 std::atomic<std::uint64_t>& fp_restores) {
  Readout result;
  result.digits.resize(geometry_.cells);
  if (RemoteKernel* remote = module.remote()) {
    const RemoteKernel::ReadoutReply reply = remote_readout(*remote, field, result.digits.data());
    if (reply.status == OURO_ERR_NONFINITE) return Readout{{}, reply.bad_index};
    if (reply.status != OURO_OK) kernel_failed(module, "readout", reply.status);
    return result;
  }
  std::uint64_t bad_index = 0;
  const ouro_host host = pool_.host();
  KernelCallGuard guard(fp_restore_enabled_.load(std::memory_order_relaxed));
  const std::int32_t status = module.table().readout(&host, &geometry_, field, result.digits.data(), &bad_index);
  if (guard.restore()) fp_restores.fetch_add(1, std::memory_order_relaxed);
  if (status == OURO_ERR_NONFINITE) return Readout{{}, bad_index};
  if (status != OURO_OK) kernel_failed(module, "readout", status);
  return result;
}

LevelPair LatticeCore::step_copy(const void* previous, const void* current, std::uint64_t steps) {
  const std::shared_ptr<const KernelModule> module = live_module(Slot::Step);
  LevelPair pair{std::make_unique<StateBuffer>(level_bytes()), 0};
  std::memcpy(pair.buffer->level(0), current, level_bytes());
  std::memcpy(pair.buffer->level(1), previous, level_bytes());
  run_kernel(*module, *pair.buffer, 0, steps, fp_restores_of(Slot::Step));
  pair.current = static_cast<std::uint32_t>(steps % 2);
  return pair;
}

LevelPair LatticeCore::step_copy_with(const KernelModule& module, const void* previous, const void* current,
                                      std::uint64_t steps) {
  LevelPair pair{std::make_unique<StateBuffer>(level_bytes()), 0};
  std::memcpy(pair.buffer->level(0), current, level_bytes());
  std::memcpy(pair.buffer->level(1), previous, level_bytes());
  // Not a slot's call: its FP restores (none for a host, its own process) count nowhere.
  std::atomic<std::uint64_t> fp_restores{0};
  run_kernel(module, *pair.buffer, 0, steps, fp_restores);
  pair.current = static_cast<std::uint32_t>(steps % 2);
  return pair;
}

Readout LatticeCore::readout_with(const KernelModule& module, const void* field) {
  std::atomic<std::uint64_t> fp_restores{0};
  return run_readout(module, field, fp_restores);
}

std::pair<std::vector<std::byte>, std::vector<std::byte>> LatticeCore::copy_levels() {
  return at_boundary([&] {
    const auto* previous = static_cast<const std::byte*>(previous_level());
    const auto* current = static_cast<const std::byte*>(current_level());
    return std::make_pair(std::vector<std::byte>(previous, previous + level_bytes()),
                          std::vector<std::byte>(current, current + level_bytes()));
  });
}

StreamTriadResult LatticeCore::measure_triad(std::uint32_t repetitions) {
  return stream_triad_over(
      static_cast<std::uint64_t*>(state_->scratch()), static_cast<const std::uint64_t*>(state_->level(0)),
      static_cast<const std::uint64_t*>(state_->level(1)), level_bytes() / sizeof(std::uint64_t), repetitions, pool_);
}

StreamTriadResult LatticeCore::memory_triad(std::uint32_t repetitions) {
  return at_boundary([&] { return measure_triad(repetitions); });
}

void LatticeCore::memory_triad_async(std::uint32_t repetitions, TriadCallback done) {
  // Called once: by the measurement, or by the end of a run stopped before it measured.
  auto pending = std::make_shared<TriadCallback>(std::move(done));
  auto measure = [this, repetitions, pending] {
    const TriadCallback report = std::exchange(*pending, nullptr);
    std::optional<StreamTriadResult> triad;
    std::string error;
    try {
      triad = measure_triad(repetitions);
    } catch (const std::exception& failure) {
      error = failure.what();
    }
    report(triad ? &*triad : nullptr, error);
  };
  if (runner_.post(measure)) return;
  // No run takes work (and only the caller's thread starts one): a run of no steps measures on the runner thread, its
  // one "step" the measurement, which ends the run. It reports from the run's end, once the run is no longer active:
  // a caller that starts a run as soon as it hears (ouroboros run measures its roofline, then runs) found this one
  // still active ("the lattice is already running", bench net, session 18). A stop asked before the step ends the run
  // with nothing measured.
  auto measured = std::make_shared<std::optional<StreamTriadResult>>();
  auto failure = std::make_shared<std::string>();
  Runner::RunBody body{
      [this] { return step_count(); },
      [] {},
      [this, repetitions, measured, failure] {
        try {
          *measured = measure_triad(repetitions);
        } catch (const std::exception& error) {
          *failure = error.what();
        }
        return false;
      },
      [] {},
  };
  runner_.start(std::move(body), [pending, measured, failure](const RunSummary&) {
    const TriadCallback report = std::exchange(*pending, nullptr);
    if (*measured) {
      report(&**measured, "");
    } else {
      report(nullptr, failure->empty() ? "the lattice was stopped (stop() or close()) before it measured" : *failure);
    }
  });
}

void LatticeCore::reset_profile() {
  for (SlotProfile& profile : profiles_) profile.reset();
}

void LatticeCore::set_fp_restore(bool enabled) {
  fp_restore_enabled_.store(enabled, std::memory_order_relaxed);
  pool_.set_fp_restore(enabled);
}

void LatticeCore::copy_in(const void* previous, const void* current) {
  snapshots_.abandon_probe();
  cone_probe_.abandon();
  std::memcpy(state_->level(0), current, level_bytes());
  std::memcpy(state_->level(1), previous, level_bytes());
  current_ = 0;
  step_count_.store(0, std::memory_order_release);
  publish_boundary();
}

void LatticeCore::run_kernel(const KernelModule& module, StateBuffer& buffer, std::uint32_t current,
                             std::uint64_t steps, std::atomic<std::uint64_t>& fp_restores) {
  if (RemoteKernel* remote = module.remote()) {
    // The host maps this lattice's live segment and its own workspace: it steps the live state in place, and any
    // other (a canary's copy, step_copy) through the workspace. Its FP environment is its own process's.
    const bool live = &buffer == state_.get();
    if (live && remote->segment() != state_->segment_header()) {
      throw std::runtime_error("kernel '" + std::string(module.name()) + "' (" + module.path() +
                               ") runs confined in the kernel host of another lattice");
    }
    const std::int32_t status =
        live ? remote->step(current, steps) : remote->step_copy(buffer.level(0), buffer.level(1), current, steps);
    if (status != OURO_OK) kernel_failed(module, "wave_step", status);
    return;
  }
  const ouro_host host = pool_.host();
  const ouro_state state{{buffer.level(0), buffer.level(1)}, buffer.scratch(), current};
  buffer.prepare_call();
  KernelCallGuard guard(fp_restore_enabled_.load(std::memory_order_relaxed));
  const std::int32_t status = module.table().wave_step(&host, &geometry_, &state, steps);
  if (guard.restore()) fp_restores.fetch_add(1, std::memory_order_relaxed);
  if (status != OURO_OK) kernel_failed(module, "wave_step", status);
}

// ---------------------------------------------------------------- canary

CanaryInput LatticeCore::prepare_canary(Slot slot, std::shared_ptr<const KernelModule> candidate) {
  return at_boundary([&] {
    CanaryInput input;
    input.slot = slot;
    input.start_step = step_count();
    input.start = std::make_shared<LevelPair>(LevelPair{std::make_unique<StateBuffer>(level_bytes()), 0});
    std::memcpy(input.start->buffer->level(0), current_level(), level_bytes());
    std::memcpy(input.start->buffer->level(1), previous_level(), level_bytes());
    input.incumbent = slots_.live_shared(slot);
    input.candidate = std::move(candidate);
    input.stepper = slots_.live_shared(Slot::Step);
    input.batch_steps = batch_steps();
    const std::lock_guard lock(canaries_mutex_);
    std::erase_if(canaries_, [](const std::weak_ptr<CanaryControl>& control) { return control.expired(); });
    canaries_.push_back(input.control);
    return input;
  });
}

void LatticeCore::cancel_canaries() {
  const std::lock_guard lock(canaries_mutex_);
  for (const std::weak_ptr<CanaryControl>& weak : canaries_) {
    if (const std::shared_ptr<CanaryControl> control = weak.lock()) control->cancelled.store(true);
  }
}

CanaryOutcome LatticeCore::run_canary(const CanaryInput& input, std::uint64_t steps) {
  auto copy_of_start = [&] {
    LevelPair pair{std::make_unique<StateBuffer>(level_bytes()), 0};
    std::memcpy(pair.buffer->level(0), input.start->buffer->level(0), level_bytes());
    std::memcpy(pair.buffer->level(1), input.start->buffer->level(1), level_bytes());
    return pair;
  };
  const bool step_slot = input.slot == Slot::Step;
  CanaryOutcome outcome{copy_of_start(), copy_of_start(), 0.0};
  // The incumbent's and the live stepper's restores count in their live slots; the candidate's are its own.
  std::atomic<std::uint64_t> candidate_fp_restores{0};
  const std::uint64_t batch = std::max<std::uint64_t>(1, input.batch_steps);
  CanaryControl& control = *input.control;
  for (std::uint64_t done = 0; done < steps;) {
    if (control.cancelled.load()) {
      outcome.cancelled = true;
      outcome.steps_done = done;
      return outcome;
    }
    const std::uint64_t call = done == 0 ? 1 : std::min(batch, steps - done);
    const auto parity = static_cast<std::uint32_t>(done % 2);
    run_kernel(step_slot ? *input.incumbent : *input.stepper, *outcome.incumbent.buffer, parity, call,
               fp_restores_of(Slot::Step));
    run_kernel(step_slot ? *input.candidate : *input.stepper, *outcome.candidate.buffer, parity, call,
               step_slot ? candidate_fp_restores : fp_restores_of(Slot::Step));
    done += call;
    control.steps_done.store(done);
  }
  outcome.steps_done = steps;
  outcome.incumbent.current = outcome.candidate.current = static_cast<std::uint32_t>(steps % 2);
  if (step_slot) {
    outcome.max_abs_difference = max_abs_difference(geometry_, outcome.incumbent, outcome.candidate);
    outcome.candidate_fp_restores = candidate_fp_restores.load();
    return outcome;
  }
  const Readout incumbent =
      run_readout(*input.incumbent, outcome.incumbent.current_level(), fp_restores_of(input.slot));
  const Readout candidate = run_readout(*input.candidate, outcome.candidate.current_level(), candidate_fp_restores);
  outcome.candidate_fp_restores = candidate_fp_restores.load();
  if (incumbent.bad_index || candidate.bad_index) {
    outcome.max_abs_difference = incumbent.bad_index == candidate.bad_index ? 0.0 : INFINITY;
    return outcome;
  }
  for (std::uint64_t cell = 0; cell < geometry_.cells; ++cell) {
    outcome.max_abs_difference = std::max(outcome.max_abs_difference,
                                          std::fabs(double(incumbent.digits[cell]) - double(candidate.digits[cell])));
  }
  return outcome;
}

}  // namespace ouro

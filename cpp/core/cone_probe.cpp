#include "core/cone_probe.h"

#include "core/cone_gather.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

namespace ouro {
namespace {

std::uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count());
}

/// The largest radius, at most `radius` and at least 1, whose cone holds at most `max_values` values (0: any).
std::uint64_t fitting_radius(std::uint32_t dims, std::uint64_t radius, std::uint64_t max_values) {
  if (max_values == 0) return radius;
  while (radius > 1 && cone_values(dims, radius) > max_values) --radius;
  return radius;
}

}  // namespace

void ConeProbe::arm(const std::vector<std::uint64_t>& cells, bool delayed, bool remainder, std::uint64_t at_step,
                    std::uint64_t every_steps, std::uint64_t max_cone_values, std::optional<ConeFollow> follow) {
  for (const std::uint64_t cell : cells) {
    if (cell >= geometry_.cells) {
      throw std::invalid_argument("cone probe cell " + std::to_string(cell) + " is outside the lattice's " +
                                  std::to_string(geometry_.cells) + " cells");
    }
  }
  if (every_steps == 0) throw std::invalid_argument("cone probe every_steps = 0: must be >= 1");
  std::lock_guard<std::mutex> lock(mutex_);
  plan_cells_.assign(cells.begin(), cells.end());
  plan_delayed_ = delayed;
  plan_remainder_ = remainder;
  plan_every_ = every_steps;
  plan_max_cone_values_ = max_cone_values;
  plan_follow_ = follow;
  ++generation_;
  at_step_.store(cells.empty() ? kUnarmed : at_step, std::memory_order_relaxed);
}

void ConeProbe::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  plan_follow_.reset();
  ++generation_;
  at_step_.store(kUnarmed, std::memory_order_relaxed);
}

std::optional<ConeProbeView> ConeProbe::ready() {
  std::lock_guard<std::mutex> lock(mutex_);
  Gathered* oldest = nullptr;
  for (Gathered& slot : slots_) {
    if (slot.phase == Gathered::Phase::Ready && (oldest == nullptr || slot.step < oldest->step)) oldest = &slot;
  }
  if (oldest == nullptr) return std::nullopt;
  oldest->phase = Gathered::Phase::Taken;
  ConeProbeView view;
  view.step = oldest->step;
  view.steps = oldest->steps;
  view.radius = oldest->radius;
  view.cells = &oldest->cells;
  view.older = oldest->older.data();
  view.newer = oldest->newer.data();
  view.values = oldest->values.data();
  view.gather_ns = oldest->gather_ns;
  return view;
}

void ConeProbe::settle(std::uint64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Gathered& slot : slots_) {
    const bool out = slot.phase == Gathered::Phase::Ready || slot.phase == Gathered::Phase::Taken;
    if (out && slot.step == step) slot.phase = Gathered::Phase::Free;
  }
}

bool ConeProbe::begin(std::uint64_t step, const void* previous, const void* current, std::uint64_t batch_steps,
                      std::uint64_t every) {
  // The watchdog may be arming the next plan this very instant: then the probe waits for the next boundary.
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || step < at_step_.load(std::memory_order_relaxed)) return false;
  const auto free = std::find_if(slots_.begin(), slots_.end(),
                                 [](const Gathered& slot) { return slot.phase == Gathered::Phase::Free; });
  if (free == slots_.end()) {
    skips_.fetch_add(1, std::memory_order_relaxed);
    at_step_.store(step + plan_every_, std::memory_order_relaxed);
    return false;
  }
  Gathered& slot = *free;
  const auto started = std::chrono::steady_clock::now();
  slot.batches.start(plan_delayed_, plan_remainder_, batch_steps, every);
  slot.radius =
      fitting_radius(geometry_.dims, std::max<std::uint64_t>(1, slot.batches.planned_steps(batch_steps, every)),
                     plan_max_cone_values_);
  const std::uint64_t cone = cone_values(geometry_.dims, slot.radius);
  const std::uint64_t planned = plan_cells_.size();
  const std::uint64_t kept =
      plan_max_cone_values_ == 0 ? planned : std::clamp<std::uint64_t>(plan_max_cone_values_ / cone, 1, planned);
  slot.cells.resize(kept);
  for (std::uint64_t i = 0; i < kept; ++i) slot.cells[i] = plan_cells_[i * planned / kept];
  const std::size_t value_bytes = geometry_.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  slot.older.resize(kept * cone * value_bytes);
  slot.newer.resize(kept * cone * value_bytes);
  gather_cones(geometry_, previous, slot.cells, slot.radius, slot.older.data());
  gather_cones(geometry_, current, slot.cells, slot.radius, slot.newer.data());
  // Consumed: its follow-on, if any, is armed when it ends; otherwise the watchdog arms the next when it takes it.
  at_step_.store(kUnarmed, std::memory_order_relaxed);
  slot.generation = generation_;
  slot.follow = plan_follow_;
  plan_follow_.reset();
  slot.phase = Gathered::Phase::UnderWay;
  slot.step = step;
  under_way_ = &slot;
  slot.gather_ns = elapsed_ns(started);
  gather_ns_.fetch_add(slot.gather_ns, std::memory_order_relaxed);
  return true;
}

bool ConeProbe::batch_done(std::uint64_t step) {
  if (under_way_ == nullptr) return false;
  const bool last = under_way_->batches.batch_done();
  return last || step >= under_way_->step + under_way_->radius;
}

std::uint64_t ConeProbe::finish(std::uint64_t step, const void* newest) {
  Gathered& slot = *under_way_;
  const auto started = std::chrono::steady_clock::now();
  slot.steps = step - slot.step;
  const std::size_t value_bytes = geometry_.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  slot.values.resize(slot.cells.size() * value_bytes);
  gather_cones(geometry_, newest, slot.cells, 0, slot.values.data());
  slot.batches.stop();
  under_way_ = nullptr;
  const std::uint64_t spent = elapsed_ns(started);
  gather_ns_.fetch_add(spent, std::memory_order_relaxed);
  probes_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  slot.gather_ns += spent;
  slot.phase = Gathered::Phase::Ready;
  if (slot.follow && slot.generation == generation_) {
    plan_delayed_ = slot.follow->delayed;
    plan_remainder_ = slot.follow->remainder;
    at_step_.store(step + slot.follow->offset_steps, std::memory_order_relaxed);
  }
  return slot.step;
}

void ConeProbe::abandon() {
  if (under_way_ == nullptr) return;
  Gathered& slot = *under_way_;
  slot.batches.stop();
  under_way_ = nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  slot.phase = Gathered::Phase::Free;
  // Unless the watchdog armed another since, its plan is due again at the next boundary.
  if (slot.generation == generation_) {
    plan_follow_ = slot.follow;
    at_step_.store(slot.step, std::memory_order_relaxed);
  }
}

void ConeProbe::drop_announced() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Gathered& slot : slots_) {
    if (slot.phase == Gathered::Phase::Ready) slot.phase = Gathered::Phase::Free;
  }
}

void ConeProbe::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Gathered& slot : slots_) {
    slot.batches.stop();
    slot.phase = Gathered::Phase::Free;
  }
  under_way_ = nullptr;
}

}  // namespace ouro

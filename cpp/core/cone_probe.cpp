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
                    std::uint64_t every_steps, std::uint64_t max_cone_values) {
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
  at_step_.store(cells.empty() ? kUnarmed : at_step, std::memory_order_relaxed);
}

void ConeProbe::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  at_step_.store(kUnarmed, std::memory_order_relaxed);
}

std::optional<ConeProbeView> ConeProbe::ready() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!ready_) return std::nullopt;
  ConeProbeView view;
  view.step = step_;
  view.steps = steps_;
  view.radius = radius_;
  view.cells = &cells_;
  view.older = older_.data();
  view.newer = newer_.data();
  view.values = values_.data();
  view.gather_ns = gather_ns_this_;
  return view;
}

void ConeProbe::settle(std::uint64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!ready_ || step_ != step) return;
  ready_ = false;
  out_.store(false, std::memory_order_release);
}

bool ConeProbe::begin(std::uint64_t step, const void* previous, const void* current, std::uint64_t batch_steps,
                      std::uint64_t every) {
  // The watchdog may be arming the next plan this very instant: then the probe waits for the next boundary.
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || step < at_step_.load(std::memory_order_relaxed)) return false;
  if (out_.load(std::memory_order_acquire)) {
    skips_.fetch_add(1, std::memory_order_relaxed);
    at_step_.store(step + plan_every_, std::memory_order_relaxed);
    return false;
  }
  const auto started = std::chrono::steady_clock::now();
  batches_.start(plan_delayed_, plan_remainder_, batch_steps, every);
  radius_ = fitting_radius(geometry_.dims, std::max<std::uint64_t>(1, batches_.planned_steps(batch_steps, every)),
                           plan_max_cone_values_);
  const std::uint64_t cone = cone_values(geometry_.dims, radius_);
  const std::uint64_t planned = plan_cells_.size();
  const std::uint64_t kept =
      plan_max_cone_values_ == 0 ? planned : std::clamp<std::uint64_t>(plan_max_cone_values_ / cone, 1, planned);
  cells_.resize(kept);
  for (std::uint64_t i = 0; i < kept; ++i) cells_[i] = plan_cells_[i * planned / kept];
  const std::size_t value_bytes = geometry_.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  older_.resize(kept * cone * value_bytes);
  newer_.resize(kept * cone * value_bytes);
  gather_cones(geometry_, previous, cells_, radius_, older_.data());
  gather_cones(geometry_, current, cells_, radius_, newer_.data());
  // Consumed: the watchdog arms the next when it takes this one.
  at_step_.store(kUnarmed, std::memory_order_relaxed);
  out_.store(true, std::memory_order_relaxed);
  ready_ = false;
  under_way_ = true;
  step_ = step;
  gather_ns_this_ = elapsed_ns(started);
  gather_ns_.fetch_add(gather_ns_this_, std::memory_order_relaxed);
  return true;
}

bool ConeProbe::batch_done(std::uint64_t step) {
  if (!under_way_) return false;
  const bool last = batches_.batch_done();
  return last || step >= step_ + radius_;
}

std::uint64_t ConeProbe::finish(std::uint64_t step, const void* newest) {
  const auto started = std::chrono::steady_clock::now();
  steps_ = step - step_;
  const std::size_t value_bytes = geometry_.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
  values_.resize(cells_.size() * value_bytes);
  gather_cones(geometry_, newest, cells_, 0, values_.data());
  under_way_ = false;
  batches_.stop();
  const std::uint64_t spent = elapsed_ns(started);
  gather_ns_.fetch_add(spent, std::memory_order_relaxed);
  probes_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  gather_ns_this_ += spent;
  ready_ = true;
  return step_;
}

void ConeProbe::abandon() {
  if (!under_way_) return;
  under_way_ = false;
  batches_.stop();
  out_.store(false, std::memory_order_release);
}

void ConeProbe::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  under_way_ = false;
  batches_.stop();
  ready_ = false;
  out_.store(false, std::memory_order_release);
}

}  // namespace ouro

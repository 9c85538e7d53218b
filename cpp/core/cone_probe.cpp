#include "core/cone_probe.h"

#include "core/cone_gather.h"

#include <algorithm>
#include <chrono>
#include <cmath>
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

/// splitmix64: the next value of the cells' generator.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Sorted, so that a gather walks each level once; only the draw needs the probe's lock, not this.
void sort_cells(std::vector<std::uint64_t>& cells) { std::sort(cells.begin(), cells.end()); }

std::size_t value_bytes(const ouro_geometry& geometry) {
  return geometry.precision == OURO_PRECISION_F64 ? sizeof(double) : sizeof(float);
}

}  // namespace

void ConeProbe::arm(std::uint64_t cells, std::uint64_t seed, bool delayed, bool remainder, std::uint64_t at_step,
                    std::uint64_t every_steps, std::uint64_t max_cone_values, std::optional<ConeFollow> follow) {
  if (cells == 0) throw std::invalid_argument("cone probe cells = 0: must be >= 1");
  if (every_steps == 0) throw std::invalid_argument("cone probe every_steps = 0: must be >= 1");
  // The longest batch whose one cone fits the budget: every batch, probed or not, is capped there.
  std::uint64_t cap = std::numeric_limits<std::uint64_t>::max();
  if (max_cone_values > 0) {
    // Bisection on [1, 2^32): cone_values grows with the radius, and one cone of radius 1 is always allowed.
    std::uint64_t fits = 1;
    std::uint64_t too_long = 1ULL << 32;
    while (too_long - fits > 1) {
      const std::uint64_t mid = fits + (too_long - fits) / 2;
      (cone_values(geometry_.dims, mid) <= max_cone_values ? fits : too_long) = mid;
    }
    cap = fits;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  plan_cells_ = cells;
  cell_random_ = seed;
  take_random_ = seed ^ 0x6a09e667f3bcc909ULL;
  plan_delayed_ = delayed;
  plan_remainder_ = remainder;
  plan_every_ = every_steps;
  plan_max_cone_values_ = max_cone_values;
  plan_follow_ = follow;
  ++generation_;
  batch_cap_.store(cap, std::memory_order_relaxed);
  armed_.store(true, std::memory_order_relaxed);
  at_step_.store(at_step, std::memory_order_relaxed);
}

void ConeProbe::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  plan_follow_.reset();
  ++generation_;
  armed_.store(false, std::memory_order_relaxed);
  batch_cap_.store(std::numeric_limits<std::uint64_t>::max(), std::memory_order_relaxed);
  at_step_.store(kUnarmed, std::memory_order_relaxed);
}

void ConeProbe::set_take_rate(double cells_per_step) {
  if (!std::isfinite(cells_per_step) || cells_per_step < 0) {
    throw std::invalid_argument("cone probe take rate = " + std::to_string(cells_per_step) +
                                " cells a step: must be finite and >= 0");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  take_cells_per_step_ = cells_per_step;
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
  view.extra = oldest->extra;
  return view;
}

void ConeProbe::settle(std::uint64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Gathered& slot : slots_) {
    const bool out = slot.phase == Gathered::Phase::Ready || slot.phase == Gathered::Phase::Taken;
    if (out && slot.step == step) slot.phase = Gathered::Phase::Free;
  }
}

std::size_t ConeProbe::out(bool extra) const {
  return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [extra](const Gathered& slot) {
    return slot.extra == extra && (slot.phase == Gathered::Phase::Ready || slot.phase == Gathered::Phase::Taken);
  }));
}

bool ConeProbe::take_extra(const Gathered& slot) {
  if (take_cells_per_step_ <= 0 || slot.cells.empty()) return false;
  // Drawn after the batch has returned: nothing the kernel saw before or during it depended on this draw.
  const double uniform = static_cast<double>(next_random(take_random_) >> 11) * 0x1p-53;
  return uniform * static_cast<double>(slot.cells.size()) < take_cells_per_step_ * static_cast<double>(slot.steps);
}

ConeProbe::Gathered& ConeProbe::free_slot() {
  // At most kMaxOut slots are out and none is under way: one of kSlots is free.
  return *std::find_if(slots_.begin(), slots_.end(),
                       [](const Gathered& slot) { return slot.phase == Gathered::Phase::Free; });
}

std::uint64_t ConeProbe::boundary_cells(std::uint64_t radius, std::uint64_t steps) const {
  const std::uint64_t cone = cone_values(geometry_.dims, radius);
  // The fixed share of the batch's work, or more where the watchdog can check more (set_take_rate).
  const auto affordable = static_cast<std::uint64_t>(take_cells_per_step_ * static_cast<double>(steps));
  const std::uint64_t share = std::max(steps * geometry_.cells / kSteppedCellsPerGatheredValue / cone, affordable);
  const std::uint64_t budget = plan_max_cone_values_ == 0 ? plan_cells_ : plan_max_cone_values_ / cone;
  return std::max<std::uint64_t>(1, std::min({share, budget, plan_cells_}));
}

void ConeProbe::draw_cells(std::vector<std::uint64_t>& cells, std::uint64_t count) {
  // Drawn afresh for every gather: no two share their cells but by chance.
  cells.resize(count);
  for (std::uint64_t& cell : cells) cell = next_random(cell_random_) % geometry_.cells;
}

void ConeProbe::gather(Gathered& slot, std::uint64_t count, const void* previous, const void* current) {
  const std::uint64_t cone = cone_values(geometry_.dims, slot.radius);
  slot.older.resize(count * cone * value_bytes(geometry_));
  slot.newer.resize(count * cone * value_bytes(geometry_));
  gather_cones(geometry_, previous, slot.cells, slot.radius, slot.older.data());
  gather_cones(geometry_, current, slot.cells, slot.radius, slot.newer.data());
  boundary_values_ += 2 * count * cone;
  boundaries_.fetch_add(1, std::memory_order_relaxed);
  gathered_values_.fetch_add(2 * count * cone, std::memory_order_relaxed);
}

bool ConeProbe::begin(std::uint64_t step, const void* previous, const void* current, std::uint64_t batch_steps,
                      std::uint64_t every) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  if (step < at_step_.load(std::memory_order_relaxed) || out() >= kMaxOut) return false;
  ProbeBatches batches;
  batches.start(plan_delayed_, plan_remainder_, batch_steps, every);
  // A plain plan is the boundaries' gather's to take.
  if (!batches.shaped()) return false;
  Gathered& slot = free_slot();
  slot.batches = batches;
  slot.shaped = true;
  slot.extra = false;
  slot.radius = fitting_radius(geometry_.dims, batches.planned_steps(batch_steps, every), plan_max_cone_values_);
  const std::uint64_t count = boundary_cells(slot.radius, batches.planned_steps(batch_steps, every));
  draw_cells(slot.cells, count);
  slot.due = true;
  consume_plan(slot);
  slot.phase = Gathered::Phase::UnderWay;
  slot.step = step;
  lock.unlock();
  under_way_ = &slot;
  sort_cells(slot.cells);
  gather(slot, count, previous, current);
  slot.gather_ns = elapsed_ns(started);
  gather_ns_.fetch_add(slot.gather_ns, std::memory_order_relaxed);
  return true;
}

std::uint64_t ConeProbe::gather_boundary(std::uint64_t step, std::uint64_t steps, const void* previous,
                                         const void* current) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  Gathered& slot = free_slot();
  slot.batches.stop();
  slot.shaped = false;
  slot.extra = false;
  slot.radius = steps;
  const std::uint64_t count = boundary_cells(steps, steps);
  draw_cells(slot.cells, count);
  // Whether this gather is handed over is fixed here, where the plan is consumed, but nothing the runner does before
  // or during the batch depends on it: the kernel cannot tell.
  slot.due = step >= at_step_.load(std::memory_order_relaxed);
  if (slot.due) consume_plan(slot);
  slot.phase = Gathered::Phase::UnderWay;
  slot.step = step;
  lock.unlock();
  under_way_ = &slot;
  sort_cells(slot.cells);
  const std::uint64_t before = boundary_values_;
  gather(slot, count, previous, current);
  slot.gather_ns = elapsed_ns(started);
  gather_ns_.fetch_add(slot.gather_ns, std::memory_order_relaxed);
  return boundary_values_ - before;
}

std::uint64_t ConeProbe::gather_decoy(std::uint64_t steps, const void* previous, const void* current) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  const std::uint64_t count = boundary_cells(steps, steps);
  draw_cells(decoy_.cells, count);
  lock.unlock();
  sort_cells(decoy_.cells);
  decoy_.radius = steps;
  decoy_.values.resize(count * value_bytes(geometry_));
  gather_cones(geometry_, current, decoy_.cells, 0, decoy_.values.data());
  const std::uint64_t before = boundary_values_;
  gather(decoy_, count, previous, current);
  gather_ns_.fetch_add(elapsed_ns(started), std::memory_order_relaxed);
  return boundary_values_ - before;
}

bool ConeProbe::batch_done(std::uint64_t step) {
  if (under_way_ == nullptr) return false;
  const bool last = under_way_->batches.batch_done();
  return last || step >= under_way_->step + under_way_->radius;
}

void ConeProbe::consume_plan(Gathered& slot) {
  // Its follow-on, if any, is armed when it ends; otherwise the watchdog arms the next when it takes it.
  at_step_.store(kUnarmed, std::memory_order_relaxed);
  slot.generation = generation_;
  slot.follow = plan_follow_;
  plan_follow_.reset();
}

void ConeProbe::arm_follow(const ConeFollow& follow, std::uint64_t step) {
  plan_delayed_ = follow.delayed;
  plan_remainder_ = follow.remainder;
  at_step_.store(step + follow.offset_steps, std::memory_order_relaxed);
}

std::optional<std::uint64_t> ConeProbe::finish(std::uint64_t step, const void* newest) {
  Gathered& slot = *under_way_;
  const auto started = std::chrono::steady_clock::now();
  slot.steps = step - slot.step;
  slot.values.resize(slot.cells.size() * value_bytes(geometry_));
  gather_cones(geometry_, newest, slot.cells, 0, slot.values.data());
  slot.batches.stop();
  under_way_ = nullptr;
  const std::uint64_t spent = elapsed_ns(started);
  gather_ns_.fetch_add(spent, std::memory_order_relaxed);
  slot.gather_ns += spent;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!slot.due) {
    if (!take_extra(slot)) {
      slot.phase = Gathered::Phase::Free;
      return std::nullopt;
    }
    if (out(true) >= kMaxExtraOut) {
      slot.phase = Gathered::Phase::Free;
      extra_drops_.fetch_add(1, std::memory_order_relaxed);
      extra_drop_ns_.fetch_add(slot.gather_ns, std::memory_order_relaxed);
      return std::nullopt;
    }
    slot.extra = true;
    slot.phase = Gathered::Phase::Ready;
    extras_.fetch_add(1, std::memory_order_relaxed);
    cells_handed_.fetch_add(slot.cells.size(), std::memory_order_relaxed);
    return slot.step;
  }
  const bool current = slot.generation == generation_;
  // A shaped probe was begun only with a slot to spare; a boundary's gather may find two out by now.
  if (!slot.shaped && out() >= kMaxOut) {
    slot.phase = Gathered::Phase::Free;
    skips_.fetch_add(1, std::memory_order_relaxed);
    if (current) {
      plan_follow_ = slot.follow;
      at_step_.store(slot.step + plan_every_, std::memory_order_relaxed);
    }
    return std::nullopt;
  }
  slot.phase = Gathered::Phase::Ready;
  probes_.fetch_add(1, std::memory_order_relaxed);
  cells_handed_.fetch_add(slot.cells.size(), std::memory_order_relaxed);
  if (slot.follow && current) arm_follow(*slot.follow, step);
  return slot.step;
}

void ConeProbe::abandon() {
  if (under_way_ == nullptr) return;
  Gathered& slot = *under_way_;
  slot.batches.stop();
  under_way_ = nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  slot.phase = Gathered::Phase::Free;
  // Unless the watchdog armed another since, the plan it took is due again at the next boundary.
  if (slot.due && slot.generation == generation_) {
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

#include "core/snapshot_store.h"

#include "core/cone_gather.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace ouro {
namespace {

std::uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count());
}

/// Keeps an evenly spaced subset of `cells` (at least one) whose cones hold at most `max_values` values; 0: all.
void thin_probe_cells(std::vector<std::uint64_t>& cells, std::uint64_t cone, std::uint64_t max_values) {
  if (max_values == 0 || cells.empty()) return;
  const std::uint64_t kept = std::max<std::uint64_t>(1, max_values / cone);
  if (kept >= cells.size()) return;
  std::vector<std::uint64_t> thinned(kept);
  for (std::uint64_t i = 0; i < kept; ++i) thinned[i] = cells[i * cells.size() / kept];
  cells = std::move(thinned);
}

}  // namespace

SnapshotStore::SnapshotStore(const ouro_geometry& geometry, std::size_t level_bytes)
    : geometry_(geometry), level_bytes_(level_bytes) {}

void SnapshotStore::set_probe(std::vector<std::uint64_t> cells, bool delayed, std::uint64_t max_cone_values,
                              bool remainder) {
  for (const std::uint64_t cell : cells) {
    if (cell >= geometry_.cells) {
      throw std::invalid_argument("probe cell " + std::to_string(cell) + " is outside the lattice's " +
                                  std::to_string(geometry_.cells) + " cells");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  next_probe_cells_ = std::move(cells);
  next_probe_delayed_ = delayed;
  next_probe_remainder_ = remainder;
  next_probe_whole_level_ = false;
  next_probe_max_cone_values_ = max_cone_values;
}

void SnapshotStore::set_probe_whole_level(bool delayed, bool remainder) {
  std::lock_guard<std::mutex> lock(mutex_);
  next_probe_cells_.clear();
  next_probe_delayed_ = delayed;
  next_probe_remainder_ = remainder;
  next_probe_whole_level_ = true;
  next_probe_max_cone_values_ = 0;
}

std::optional<SnapshotView> SnapshotStore::pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Out but not announced: its probe is still being taken.
  if (!pending_out_ || probe_under_way_) return std::nullopt;
  SnapshotView view{};
  view.step = pending_.step;
  view.previous = pending_.previous.data();
  view.current = pending_.current.data();
  view.capture_ns = pending_.capture_ns;
  if (!pending_.probe_cells.empty()) {
    view.probe_cells = &pending_.probe_cells;
    view.probe_values = pending_.probe_values.data();
    view.probe_steps = pending_.probe_steps;
  }
  if (pending_.probe_whole_level) {
    view.probe_level = pending_.probe_level;
    view.probe_steps = pending_.probe_steps;
  }
  return view;
}

void SnapshotStore::settle(std::uint64_t step, bool verified) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!pending_out_ || pending_.step != step) return;
  if (verified) {
    std::swap(pending_, verified_);
    verified_present_ = true;
  }
  pending_out_ = false;
}

std::optional<std::uint64_t> SnapshotStore::verified_step() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!verified_present_) return std::nullopt;
  return verified_.step;
}

void SnapshotStore::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  drop_pending();
  captures_from_.store(0, std::memory_order_relaxed);
}

SnapshotStore::Capture SnapshotStore::capture(std::uint64_t step, const void* previous, const void* current,
                                              std::uint64_t batch_steps, std::uint64_t snapshot_every) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_out_ || step < captures_from()) return Capture::Skipped;
  const auto started = std::chrono::steady_clock::now();
  pending_.previous.resize(level_bytes_);
  pending_.current.resize(level_bytes_);
  std::memcpy(pending_.previous.data(), previous, level_bytes_);
  std::memcpy(pending_.current.data(), current, level_bytes_);
  pending_.capture_ns = elapsed_ns(started);
  captures_.fetch_add(1, std::memory_order_relaxed);
  capture_ns_.fetch_add(pending_.capture_ns, std::memory_order_relaxed);
  pending_.step = step;
  pending_out_ = true;
  pending_.probe_cells = next_probe_cells_;
  pending_.probe_values.clear();
  pending_.probe_steps = 0;
  pending_.probe_max_cone_values = next_probe_max_cone_values_;
  pending_.probe_whole_level = next_probe_whole_level_;
  probe_under_way_ = pending_.probe_whole_level || !pending_.probe_cells.empty();
  if (probe_under_way_) {
    probe_batches_.start(next_probe_delayed_, next_probe_remainder_, batch_steps, snapshot_every);
  } else {
    probe_batches_.stop();
  }
  return probe_under_way_ ? Capture::Probing : Capture::Announce;
}

std::uint64_t SnapshotStore::finish_probe(std::uint64_t step, const void* newest) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto started = std::chrono::steady_clock::now();
  pending_.probe_steps = step - pending_.step;
  if (pending_.probe_whole_level) {
    // A view handed out earlier may still hold the last one (a full check in flight past a recovery).
    if (!pending_.probe_level || pending_.probe_level.use_count() > 1) {
      pending_.probe_level = std::make_shared<std::vector<std::byte>>(level_bytes_);
    }
    std::memcpy(pending_.probe_level->data(), newest, level_bytes_);
    probe_under_way_ = false;
    probe_ns_.fetch_add(elapsed_ns(started), std::memory_order_relaxed);
    return pending_.step;
  }
  thin_probe_cells(pending_.probe_cells, cone_values(geometry_.dims, pending_.probe_steps),
                   pending_.probe_max_cone_values);
  pending_.probe_values.resize(pending_.probe_cells.size() * (level_bytes_ / geometry_.cells));
  gather_cones(geometry_, newest, pending_.probe_cells, 0, pending_.probe_values.data());
  probe_under_way_ = false;
  probe_ns_.fetch_add(elapsed_ns(started), std::memory_order_relaxed);
  return pending_.step;
}

void SnapshotStore::abandon_probe() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (probe_under_way_) drop_pending();
}

std::optional<std::uint64_t> SnapshotStore::restore(void* current_out, void* previous_out) {
  std::lock_guard<std::mutex> lock(mutex_);
  drop_pending();
  if (!verified_present_) return std::nullopt;
  std::memcpy(current_out, verified_.current.data(), level_bytes_);
  std::memcpy(previous_out, verified_.previous.data(), level_bytes_);
  return verified_.step;
}

void SnapshotStore::drop_pending() {
  pending_out_ = false;
  probe_under_way_ = false;
  probe_batches_.stop();
}

}  // namespace ouro

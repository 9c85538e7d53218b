#ifndef OUROBOROS_CORE_KERNEL_SLOTS_H
#define OUROBOROS_CORE_KERNEL_SLOTS_H

#include "core/kernel_module.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

namespace ouro {

/// Each function of the kernel ABI is a slot that can be swapped on its own.
enum class Slot : std::uint32_t { Step = 0, Readout = 1 };
constexpr std::size_t kSlotCount = 2;

const char* slot_name(Slot slot);
std::optional<Slot> slot_from_name(std::string_view name);

/**
 * Which module serves each slot: the live one and the last-known-good one.
 *
 * A swap makes the new module live and keeps the one it replaces as
 * last-known-good; a rollback makes last-known-good live again. Nothing is
 * ever unloaded (see KernelModule), so a function pointer read from a slot
 * stays callable after the slot changes.
 *
 * Changed only at step boundaries, on the one thread that runs kernels at
 * that moment, which reads them without a lock (it is the only writer).
 * Any other thread reads them through modules(), under the lock every
 * change takes: a display asking which modules are live must not wait for
 * the runner's next step boundary (a reference kernel's step at 4096^2
 * takes a quarter of a second, seconds on a loaded machine).
 */
class KernelSlots {
 public:
  explicit KernelSlots(std::shared_ptr<const KernelModule> initial);

  const KernelModule& live(Slot slot) const { return *entry(slot).live; }
  const KernelModule& last_known_good(Slot slot) const { return *entry(slot).last_known_good; }
  std::shared_ptr<const KernelModule> live_shared(Slot slot) const { return entry(slot).live; }
  std::shared_ptr<const KernelModule> last_known_good_shared(Slot slot) const { return entry(slot).last_known_good; }

  /// Makes `module` live; the module it replaces becomes last-known-good.
  void swap(Slot slot, std::shared_ptr<const KernelModule> module);

  /// Makes last-known-good live again; last-known-good stays what it was.
  void rollback(Slot slot);

  /// The live and last-known-good module of one slot, as one consistent pair.
  struct Modules {
    std::shared_ptr<const KernelModule> live;
    std::shared_ptr<const KernelModule> last_known_good;
  };

  /// Both modules of `slot`, safe to call from any thread while the runner steps.
  Modules modules(Slot slot) const;

  /// Swaps and rollbacks applied to this slot so far.
  std::uint64_t changes(Slot slot) const { return entry(slot).changes; }

 private:
  struct Entry {
    std::shared_ptr<const KernelModule> live;
    std::shared_ptr<const KernelModule> last_known_good;
    std::uint64_t changes = 0;
  };

  const Entry& entry(Slot slot) const { return entries_[static_cast<std::size_t>(slot)]; }
  Entry& entry(Slot slot) { return entries_[static_cast<std::size_t>(slot)]; }

  std::array<Entry, kSlotCount> entries_;
  /// Held by every change and by modules(); the runner's own reads go without it.
  mutable std::mutex changing_;
};

}  // namespace ouro

#endif

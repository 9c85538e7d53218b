#include "core/kernel_slots.h"

#include <stdexcept>
#include <utility>

namespace ouro {

const char* slot_name(Slot slot) { return slot == Slot::Step ? "step" : "readout"; }

std::optional<Slot> slot_from_name(std::string_view name) {
  if (name == "step") return Slot::Step;
  if (name == "readout") return Slot::Readout;
  return std::nullopt;
}

KernelSlots::KernelSlots(std::shared_ptr<const KernelModule> initial) {
  if (!initial) throw std::invalid_argument("KernelSlots needs an initial module");
  for (Entry& slot : entries_) slot = Entry{initial, initial, 0};
}

void KernelSlots::swap(Slot slot, std::shared_ptr<const KernelModule> module) {
  if (!module) throw std::invalid_argument("cannot swap a null module into a slot");
  const std::lock_guard<std::mutex> lock(changing_);
  Entry& target = entry(slot);
  target.last_known_good = std::exchange(target.live, std::move(module));
  ++target.changes;
}

void KernelSlots::rollback(Slot slot) {
  const std::lock_guard<std::mutex> lock(changing_);
  Entry& target = entry(slot);
  target.live = target.last_known_good;
  ++target.changes;
}

KernelSlots::Modules KernelSlots::modules(Slot slot) const {
  const std::lock_guard<std::mutex> lock(changing_);
  return Modules{entry(slot).live, entry(slot).last_known_good};
}

}  // namespace ouro

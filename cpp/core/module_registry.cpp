#include "core/module_registry.h"

namespace ouro {

ModuleRegistry& ModuleRegistry::instance() {
  static ModuleRegistry registry;
  return registry;
}

KernelModule::LoadResult ModuleRegistry::load(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto found = by_path_.find(path); found != by_path_.end()) return {found->second, path, {}};
  KernelModule::LoadResult loaded = KernelModule::load(path);
  if (loaded.module) {
    by_path_.emplace(path, loaded.module);
    by_id_.emplace(loaded.module->id(), loaded.module);
  }
  return loaded;
}

void ModuleRegistry::add(std::shared_ptr<const KernelModule> module) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_id_.emplace(module->id(), std::move(module));
}

std::shared_ptr<const KernelModule> ModuleRegistry::find(std::uint32_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = by_id_.find(id);
  return found == by_id_.end() ? nullptr : found->second;
}

}  // namespace ouro

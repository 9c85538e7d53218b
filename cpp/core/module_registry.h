#ifndef OUROBOROS_CORE_MODULE_REGISTRY_H
#define OUROBOROS_CORE_MODULE_REGISTRY_H

#include "core/kernel_module.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ouro {

/**
 * Every kernel module this process has loaded, by id. Process-wide because
 * dlopen is: a module stays mapped until exit (see KernelModule), so its id
 * stays valid for any lattice. Loading a path a second time returns the first
 * module; callers that want new code load it from a new (content-addressed) path.
 */
class ModuleRegistry {
 public:
  static ModuleRegistry& instance();

  /// Loads (or finds) the module at `path`; a refusal is data, naming the file.
  KernelModule::LoadResult load(const std::string& path);

  /// Registers a remote module (KernelModule::remote) under its id; its path is not looked up again.
  void add(std::shared_ptr<const KernelModule> module);

  /// The module with this id, or null.
  std::shared_ptr<const KernelModule> find(std::uint32_t id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const KernelModule>> by_path_;
  std::map<std::uint32_t, std::shared_ptr<const KernelModule>> by_id_;
};

}  // namespace ouro

#endif

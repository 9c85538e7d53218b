#ifndef OUROBOROS_CORE_KERNEL_MODULE_H
#define OUROBOROS_CORE_KERNEL_MODULE_H

#include <ouroboros/kernel_abi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace ouro {

/**
 * A kernel module loaded with dlopen whose table passed validation.
 *
 * A module is never unloaded, not even a refused one: a kernel function may
 * still be running, or be about to run, on a pool thread when the last owner
 * lets go, and a refused module's code (constructors, entry) has already run.
 * The mapping stays until the process exits.
 */
class KernelModule {
 public:
  struct LoadResult;

  /**
   * Checks the ELF header (a shared object of this architecture), then loads
   * and validates the module at `path`; a refusal is data, not an exception.
   */
  static LoadResult load(const std::string& path);

  /// Unique in this process, in load order, from 1; names the module across the JS boundary.
  std::uint32_t id() const { return id_; }
  const std::string& path() const { return path_; }
  const char* name() const { return table_->name; }
  const ouro_kernel_table& table() const { return *table_; }

 private:
  KernelModule(std::uint32_t id, std::string path, const ouro_kernel_table* table)
      : id_(id), path_(std::move(path)), table_(table) {}

  std::uint32_t id_;
  std::string path_;
  const ouro_kernel_table* table_;
};

/// Either a module or, when `module` is null, why it was refused (naming the file).
struct KernelModule::LoadResult {
  std::shared_ptr<const KernelModule> module;
  std::string error;
};

}  // namespace ouro

#endif

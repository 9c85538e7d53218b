#ifndef OUROBOROS_CORE_KERNEL_MODULE_H
#define OUROBOROS_CORE_KERNEL_MODULE_H

#include <ouroboros/kernel_abi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace ouro {

class RemoteKernel;

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

  /**
   * A module whose steps run in a confined kernel host (remote_kernel.h),
   * not in this process: the core sends the host a step command instead of
   * calling a function pointer. Its table's functions refuse to run here
   * (OURO_ERR_UNSUPPORTED), so nothing can call the host's kernel on
   * memory other than the live segment it maps.
   */
  static std::shared_ptr<const KernelModule> remote(std::string path, std::shared_ptr<RemoteKernel> host);

  /// Unique in this process, in load order, from 1; names the module across the JS boundary.
  std::uint32_t id() const { return id_; }
  const std::string& path() const { return path_; }
  const char* name() const { return table_->name; }
  const ouro_kernel_table& table() const { return *table_; }
  /// The kernel host that steps for this module, or null for a module loaded in this process.
  RemoteKernel* remote() const { return remote_.get(); }

 private:
  KernelModule(std::uint32_t id, std::string path, const ouro_kernel_table* table)
      : id_(id), path_(std::move(path)), table_(table) {}

  std::uint32_t id_;
  std::string path_;
  const ouro_kernel_table* table_;
  std::shared_ptr<RemoteKernel> remote_;
  // A remote module's table: its own name, functions that refuse.
  ouro_kernel_table remote_table_{};
};

/// Either a module or, when `module` is null, why the file at `path` was refused.
struct KernelModule::LoadResult {
  std::shared_ptr<const KernelModule> module;
  std::string path;
  /// Why, without the path: what crosses the boundary, beside the path, as a refusal's data.
  std::string reason;

  /// The refusal as one sentence naming the file; empty for a module.
  std::string error() const { return module ? std::string() : "cannot load kernel module " + path + ": " + reason; }
};

}  // namespace ouro

#endif

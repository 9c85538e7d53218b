#include "core/kernel_module.h"

#include "core/elf_header.h"
#include "core/remote_kernel.h"

#include <dlfcn.h>

#include <atomic>

namespace ouro {
namespace {

KernelModule::LoadResult refuse(const std::string& path, const std::string& reason) { return {nullptr, path, reason}; }

std::string last_dl_error() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown dynamic loader error";
}

// Empty when the table is acceptable, else the reason it is not.
std::string table_defect(const ouro_kernel_table* table) {
  if (table == nullptr) return std::string(OURO_KERNEL_ENTRY_SYMBOL) + " returned a null table";
  if (table->abi_version != OURO_KERNEL_ABI_VERSION) {
    return "kernel ABI version " + std::to_string(table->abi_version) + ", but this core speaks version " +
           std::to_string(OURO_KERNEL_ABI_VERSION);
  }
  if (table->table_bytes < sizeof(ouro_kernel_table)) {
    return "kernel table is " + std::to_string(table->table_bytes) + " bytes, expected at least " +
           std::to_string(sizeof(ouro_kernel_table));
  }
  if (table->name == nullptr) return "kernel table has a null name";
  if (table->wave_step == nullptr) return "kernel table has a null wave_step";
  if (table->readout == nullptr) return "kernel table has a null readout";
  return {};
}

std::uint32_t next_module_id() {
  static std::atomic<std::uint32_t> next_id{1};
  return next_id++;
}

std::int32_t refuse_wave_step(const ouro_host*, const ouro_geometry*, const ouro_state*, std::uint64_t) {
  return OURO_ERR_UNSUPPORTED;
}

std::int32_t refuse_readout(const ouro_host*, const ouro_geometry*, const void*, std::int8_t*, std::uint64_t*) {
  return OURO_ERR_UNSUPPORTED;
}

}  // namespace

KernelModule::LoadResult KernelModule::load(const std::string& path) {
  if (std::string defect = elf_defect(path); !defect.empty()) return refuse(path, defect);
  // Clears any stale error so that the text read below belongs to this load.
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return refuse(path, last_dl_error());

  void* symbol = dlsym(handle, OURO_KERNEL_ENTRY_SYMBOL);
  if (symbol == nullptr) return refuse(path, "no " OURO_KERNEL_ENTRY_SYMBOL " symbol (" + last_dl_error() + ")");

  const auto entry = reinterpret_cast<ouro_kernel_entry_fn>(symbol);
  const ouro_kernel_table* table = entry();
  if (std::string defect = table_defect(table); !defect.empty()) return refuse(path, defect);
  return {std::shared_ptr<const KernelModule>(new KernelModule(next_module_id(), path, table)), path, {}};
}

std::shared_ptr<const KernelModule> KernelModule::remote(std::string path, std::shared_ptr<RemoteKernel> host) {
  auto* module = new KernelModule(next_module_id(), std::move(path), nullptr);
  module->remote_ = std::move(host);
  module->remote_table_ = ouro_kernel_table{OURO_KERNEL_ABI_VERSION, sizeof(ouro_kernel_table),
                                            module->remote_->name().c_str(), refuse_wave_step, refuse_readout};
  module->table_ = &module->remote_table_;
  return std::shared_ptr<const KernelModule>(module);
}

}  // namespace ouro

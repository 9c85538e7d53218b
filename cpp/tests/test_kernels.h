#ifndef OUROBOROS_TESTS_TEST_KERNELS_H
#define OUROBOROS_TESTS_TEST_KERNELS_H

#include "core/kernel_module.h"

#include <memory>
#include <stdexcept>
#include <string>

namespace ouro::test {

// CMake passes where it built the modules (see CMakeLists.txt).
inline std::string reference_kernel_path() { return OURO_REFERENCE_KERNEL_PATH; }

inline std::string reference_twin_kernel_path() { return OURO_REFERENCE_TWIN_KERNEL_PATH; }
inline std::string rows_kernel_path() { return OURO_ROWS_KERNEL_PATH; }

inline std::string test_kernel_path(const std::string& name) {
  return std::string(OURO_TEST_KERNEL_DIR) + "/" + name + ".so";
}

// Throws when the module does not load, so that the test reports why and stops.
inline std::shared_ptr<const KernelModule> load_kernel(const std::string& path) {
  KernelModule::LoadResult loaded = KernelModule::load(path);
  if (!loaded.module) throw std::runtime_error(loaded.error());
  return loaded.module;
}

inline std::shared_ptr<const KernelModule> reference_kernel() { return load_kernel(reference_kernel_path()); }

}  // namespace ouro::test

#endif

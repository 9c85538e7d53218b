#include <gtest/gtest.h>

#include "core/kernel_module.h"
#include "test_kernels.h"

#include <fstream>
#include <string>

namespace ouro {
namespace {

using test::reference_kernel_path;
using test::test_kernel_path;

// Loads `path`, expects a refusal, and expects its message to name the file and `reason`.
void expect_refused(const std::string& path, const std::string& reason) {
  const KernelModule::LoadResult loaded = KernelModule::load(path);
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_NE(loaded.error().find(path), std::string::npos) << loaded.error();
  EXPECT_NE(loaded.error().find(reason), std::string::npos) << loaded.error();
  // What crosses to TypeScript: the path and the reason apart, the reason not repeating the sentence's prefix.
  EXPECT_EQ(loaded.path, path);
  EXPECT_NE(loaded.reason.find(reason), std::string::npos) << loaded.reason;
  EXPECT_EQ(loaded.reason.find("cannot load kernel module"), std::string::npos) << loaded.reason;
}

TEST(KernelModule, LoadsTheReferenceKernel) {
  const KernelModule::LoadResult loaded = KernelModule::load(reference_kernel_path());
  ASSERT_NE(loaded.module, nullptr) << loaded.error();
  EXPECT_TRUE(loaded.error().empty());
  EXPECT_STREQ(loaded.module->name(), "reference");
  EXPECT_EQ(loaded.module->path(), reference_kernel_path());
  EXPECT_EQ(loaded.module->table().abi_version, OURO_KERNEL_ABI_VERSION);
}

TEST(KernelModule, LoadingTwiceGivesTheSameTable) {
  const KernelModule::LoadResult first = KernelModule::load(reference_kernel_path());
  const KernelModule::LoadResult second = KernelModule::load(reference_kernel_path());
  ASSERT_NE(first.module, nullptr);
  ASSERT_NE(second.module, nullptr);
  EXPECT_EQ(&first.module->table(), &second.module->table());
}

TEST(KernelModule, RefusesAMissingFile) { expect_refused(test_kernel_path("no_such_kernel"), "No such file"); }

TEST(KernelModule, RefusesAFileThatIsNotELF) {
  const std::string path = testing::TempDir() + "ouroboros_not_elf.so";
  std::ofstream(path) << std::string(256, '#') << "\nthis is text, not a shared object\n";
  expect_refused(path, "ELF");
}

TEST(KernelModule, RefusesALibraryWithoutTheEntrySymbol) {
  expect_refused(test_kernel_path("not_a_kernel"), "no ouro_kernel_entry symbol");
}

TEST(KernelModule, RefusesANullTable) { expect_refused(test_kernel_path("broken_NullTable"), "returned a null table"); }

TEST(KernelModule, RefusesAnotherAbiVersion) {
  expect_refused(test_kernel_path("broken_WrongAbiVersion"),
                 "kernel ABI version " + std::to_string(OURO_KERNEL_ABI_VERSION + 1) +
                     ", but this core speaks version " + std::to_string(OURO_KERNEL_ABI_VERSION));
}

TEST(KernelModule, RefusesATableShorterThanThisAbi) {
  expect_refused(test_kernel_path("broken_ShortTable"),
                 "expected at least " + std::to_string(sizeof(ouro_kernel_table)));
}

TEST(KernelModule, RefusesANullName) { expect_refused(test_kernel_path("broken_NullName"), "null name"); }

TEST(KernelModule, RefusesANullWaveStep) { expect_refused(test_kernel_path("broken_NullWaveStep"), "null wave_step"); }

TEST(KernelModule, RefusesANullReadout) { expect_refused(test_kernel_path("broken_NullReadout"), "null readout"); }

}  // namespace
}  // namespace ouro

#include <gtest/gtest.h>

#include "core/elf_header.h"
#include "test_kernels.h"

#include <elf.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace ouro {
namespace {

// A copy of the reference kernel with `bytes` written at `offset`.
std::string patched_copy(const std::string& name, std::size_t offset, std::vector<unsigned char> bytes) {
  std::ifstream in(test::reference_kernel_path(), std::ios::binary);
  std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t i = 0; i < bytes.size(); ++i) image[offset + i] = static_cast<char>(bytes[i]);
  const std::string path = testing::TempDir() + name;
  std::ofstream(path, std::ios::binary).write(image.data(), static_cast<std::streamsize>(image.size()));
  return path;
}

TEST(ElfHeader, AcceptsTheReferenceKernel) { EXPECT_EQ(elf_defect(test::reference_kernel_path()), ""); }

TEST(ElfHeader, RefusesAnotherMachine) {
  // e_machine is the 16-bit field right after e_type.
  const std::string path = patched_copy("ouro_aarch64.so", EI_NIDENT + 2, {EM_AARCH64 & 0xff, EM_AARCH64 >> 8});
  EXPECT_NE(elf_defect(path).find("wrong architecture: built for AArch64"), std::string::npos) << elf_defect(path);
}

TEST(ElfHeader, RefusesAnotherClass) {
  const std::string path = patched_copy("ouro_32bit.so", EI_CLASS, {ELFCLASS32});
  EXPECT_NE(elf_defect(path).find("32-bit ELF file in a 64-bit process"), std::string::npos) << elf_defect(path);
}

TEST(ElfHeader, RefusesAnExecutable) {
  const std::string path = patched_copy("ouro_exec.so", EI_NIDENT, {ET_EXEC, 0});
  EXPECT_NE(elf_defect(path).find("not a shared object"), std::string::npos) << elf_defect(path);
}

TEST(ElfHeader, RefusesTextAndShortFiles) {
  const std::string text = testing::TempDir() + "ouro_text.so";
  std::ofstream(text) << "#!/bin/sh\necho not a library\n";
  EXPECT_NE(elf_defect(text).find("not an ELF file"), std::string::npos);
  const std::string empty = testing::TempDir() + "ouro_empty.so";
  std::ofstream{empty};
  EXPECT_NE(elf_defect(empty).find("not an ELF file"), std::string::npos);
  EXPECT_NE(elf_defect(testing::TempDir() + "ouro_missing.so").find("No such file"), std::string::npos);
}

TEST(ElfHeader, KernelModuleRefusesBeforeDlopen) {
  const std::string path = patched_copy("ouro_aarch64_load.so", EI_NIDENT + 2, {EM_AARCH64 & 0xff, EM_AARCH64 >> 8});
  const KernelModule::LoadResult loaded = KernelModule::load(path);
  EXPECT_EQ(loaded.module, nullptr);
  EXPECT_NE(loaded.error().find(path), std::string::npos);
  EXPECT_NE(loaded.error().find("built for AArch64"), std::string::npos) << loaded.error();
}

}  // namespace
}  // namespace ouro

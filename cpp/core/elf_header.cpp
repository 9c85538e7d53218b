#include "core/elf_header.h"

#include <elf.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace ouro {
namespace {

#if defined(__x86_64__)
constexpr unsigned kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kHostMachine = EM_AARCH64;
#elif defined(__i386__)
constexpr unsigned kHostMachine = EM_386;
#elif defined(__arm__)
constexpr unsigned kHostMachine = EM_ARM;
#elif defined(__riscv)
constexpr unsigned kHostMachine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr unsigned kHostMachine = EM_PPC64;
#else
#error "elf_header.cpp: add this architecture's EM_* constant"
#endif

constexpr unsigned char kHostClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char kHostData = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;

std::string machine_name(unsigned machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_AARCH64:
      return "AArch64";
    case EM_386:
      return "i386";
    case EM_ARM:
      return "ARM";
    case EM_RISCV:
      return "RISC-V";
    case EM_PPC64:
      return "PowerPC64";
    case EM_S390:
      return "s390";
    default:
      return "machine " + std::to_string(machine);
  }
}

}  // namespace

std::string elf_defect(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return std::string("cannot open the file: ") + std::strerror(errno);
  // e_type and e_machine sit at the same offsets in the 32- and 64-bit headers.
  unsigned char header[EI_NIDENT + 4] = {};
  const std::size_t read = std::fread(header, 1, sizeof header, file);
  std::fclose(file);
  if (read < sizeof header || std::memcmp(header, ELFMAG, SELFMAG) != 0) {
    return "not an ELF file (no \\x7fELF magic at offset 0), so not a shared object";
  }
  if (header[EI_CLASS] != kHostClass) {
    return std::string("wrong architecture: a ") + (header[EI_CLASS] == ELFCLASS64 ? "64" : "32") +
           "-bit ELF file in a " + (kHostClass == ELFCLASS64 ? "64" : "32") + "-bit process";
  }
  if (header[EI_DATA] != kHostData) return "wrong architecture: the ELF file's byte order is not this machine's";
  std::uint16_t type = 0;
  std::uint16_t machine = 0;
  std::memcpy(&type, header + EI_NIDENT, sizeof type);
  std::memcpy(&machine, header + EI_NIDENT + 2, sizeof machine);
  if (machine != kHostMachine) {
    return "wrong architecture: built for " + machine_name(machine) + ", this process runs on " +
           machine_name(kHostMachine);
  }
  if (type != ET_DYN) return "not a shared object (ELF e_type " + std::to_string(type) + ", expected ET_DYN)";
  return {};
}

}  // namespace ouro

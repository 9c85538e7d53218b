#ifndef OUROBOROS_CORE_ELF_HEADER_H
#define OUROBOROS_CORE_ELF_HEADER_H

#include <string>

namespace ouro {

/**
 * Why the file at `path` cannot be a shared object for this process, read
 * from its ELF header alone (nothing is mapped or run): empty when the header
 * says "a shared object of this machine's class, byte order and architecture".
 *
 * dlopen would refuse most of these too, but only after mapping the file; the
 * header check names the real reason (e.g. "built for AArch64") instead of the
 * loader's generic text, and runs before any of the file's code can.
 */
std::string elf_defect(const std::string& path);

}  // namespace ouro

#endif

#include <gtest/gtest.h>

#include "core/huge_pages.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace ouro {
namespace {

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;

// The VmFlags line of the mapping in /proc/self/smaps that contains `address`.
std::string vm_flags_of(const void* address) {
  const auto target = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= target && target < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool transparent_huge_pages_exist() { return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good(); }

TEST(HugePageBlock, StartsOnAHugePageAndIsZeroed) {
  for (std::size_t bytes : {std::size_t{1}, std::size_t{4096}, kHugePage + 1, 3 * kHugePage}) {
    HugePageBlock block(bytes);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block.data()) % kHugePage, 0u) << bytes;
    EXPECT_EQ(block.size(), bytes);
    EXPECT_EQ(block.data()[0], std::byte{0}) << bytes;
    EXPECT_EQ(block.data()[bytes - 1], std::byte{0}) << bytes;
    block.data()[bytes - 1] = std::byte{7};
    EXPECT_EQ(block.data()[bytes - 1], std::byte{7}) << bytes;
  }
}

TEST(HugePageBlock, IsAdvisedForHugePagesWhereTheKernelHasThem) {
  HugePageBlock block(4 * kHugePage);
  const std::string flags = vm_flags_of(block.data());
  ASSERT_FALSE(flags.empty()) << "no mapping in /proc/self/smaps contains the block";
  // "hg": the mapping carries MADV_HUGEPAGE.
  EXPECT_EQ(flags.find(" hg") != std::string::npos, transparent_huge_pages_exist()) << flags;
}

}  // namespace
}  // namespace ouro

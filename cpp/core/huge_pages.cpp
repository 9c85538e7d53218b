#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <limits>
#include <new>

namespace ouro {
namespace {

constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

}  // namespace

HugePageBlock::HugePageBlock(std::size_t bytes) : bytes_(bytes) {
  if (bytes > std::numeric_limits<std::size_t>::max() - 2 * kHugePageBytes) throw std::bad_alloc();
  // Over-map by one huge page so that the data can start on a 2 MiB boundary
  // and the tail can be rounded up to one: only whole aligned huge pages can
  // be backed by one.
  const std::size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  mapped_bytes_ = rounded + kHugePageBytes;
  void* mapping = ::mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::bad_alloc();
  mapping_ = static_cast<std::byte*>(mapping);
  const auto address = reinterpret_cast<std::uintptr_t>(mapping_);
  const std::uintptr_t aligned = (address + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  data_ = mapping_ + (aligned - address);
  // Advice, not a requirement: EINVAL where THP is compiled out is harmless.
  (void)::madvise(data_, rounded, MADV_HUGEPAGE);
}

void HugePageBlock::guard_after(std::size_t used_bytes) {
  constexpr std::size_t kPageBytes = 4096;
  const std::size_t used = (used_bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  std::byte* const end = mapping_ + mapped_bytes_;
  if (data_ + used < end) (void)::mprotect(data_ + used, static_cast<std::size_t>(end - (data_ + used)), PROT_NONE);
}

HugePageBlock::~HugePageBlock() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapped_bytes_);
}

}  // namespace ouro

#ifndef OUROBOROS_CORE_HUGE_PAGES_H
#define OUROBOROS_CORE_HUGE_PAGES_H

#include <cstddef>

namespace ouro {

/**
 * Zeroed, private, anonymous memory for arrays that are streamed whole (the
 * lattice levels, the STREAM probe's arrays), aligned to 2 MiB and advised
 * MADV_HUGEPAGE, so that where transparent huge pages are in "madvise" mode
 * (the common default) they are backed by 2 MiB pages: one TLB entry and one
 * uninterrupted hardware-prefetch run per 2 MiB instead of per 4 KiB. Where
 * huge pages are off the advice is ignored and the memory is ordinary.
 *
 * Throws std::bad_alloc when the mapping fails.
 */
class HugePageBlock {
 public:
  explicit HugePageBlock(std::size_t bytes);
  ~HugePageBlock();
  HugePageBlock(const HugePageBlock&) = delete;
  HugePageBlock& operator=(const HugePageBlock&) = delete;

  /**
   * Makes the mapping inaccessible from `used_bytes` (rounded up to a page)
   * onwards, so a write past the end faults, as it does past a state
   * segment's levels; there is always at least a page of it.
   */
  void guard_after(std::size_t used_bytes);

  std::byte* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  std::byte* mapping_ = nullptr;
  std::size_t mapped_bytes_ = 0;
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace ouro

#endif  // OUROBOROS_CORE_HUGE_PAGES_H

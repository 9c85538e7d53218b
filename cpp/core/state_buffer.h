#ifndef OUROBOROS_CORE_STATE_BUFFER_H
#define OUROBOROS_CORE_STATE_BUFFER_H

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/huge_pages.h"

namespace ouro {

/**
 * A state segment's memory, mapped by its owner (the segment binding), and
 * where its regions sit (cpp/include/ouroboros/segment_layout.h). The core
 * steps these bytes in place and never maps the segment itself, so each
 * process has one mapping of it: an exec or exit tears down one set of page
 * tables, not two.
 */
struct SegmentRegion {
  std::byte* base = nullptr;
  /// Keeps `base` mapped while the state uses it; released on the thread that drops the last StateBuffer reference.
  std::shared_ptr<void> owner;
  std::size_t segment_bytes = 0;
  std::size_t level_bytes = 0;
  std::size_t level0_offset = 0;
  std::size_t level1_offset = 0;
  std::size_t scratch_offset = 0;
};

/**
 * The lattice state: level 0, level 1 and a level-sized scratch area, each
 * starting on a page boundary, addressed by offsets from one base. A private
 * block lays them out as a segment and a kernel host do (and the sandbox's
 * worker): back to back a level stride apart from a 2 MiB boundary, with an
 * inaccessible guard after the scratch's stride.
 *
 * Either one zero-initialised private block, or a state segment's mapping
 * (a sealed memfd, MAP_SHARED, borrowed from its owner): then the kernels
 * step the segment's own bytes, with no copy, and segment_header() is the
 * header page the step counter and the current level are published to.
 */
class StateBuffer {
 public:
  static constexpr std::size_t kAlignmentBytes = 4096;

  /// Allocates room for two levels and scratch of `level_bytes` each; throws std::bad_alloc.
  explicit StateBuffer(std::size_t level_bytes);
  /**
   * Steps inside `region`'s mapping, holding `region.owner` until destroyed.
   * Throws std::invalid_argument when the base is null or not page-aligned,
   * or the regions do not fit the segment or are not page-aligned.
   */
  explicit StateBuffer(const SegmentRegion& region);
  ~StateBuffer();
  StateBuffer(const StateBuffer&) = delete;
  StateBuffer& operator=(const StateBuffer&) = delete;

  std::size_t level_bytes() const { return level_bytes_; }
  /// From one level's start to the next: level bytes rounded up to a page.
  std::size_t level_stride() const { return round_up_to_page(level_bytes_); }
  static std::size_t round_up_to_page(std::size_t bytes);
  /// Bytes of the whole block (or mapping), padding included.
  std::size_t size_bytes() const { return size_bytes_; }
  std::size_t level_offset(unsigned level) const { return level_offsets_[level]; }
  std::size_t scratch_offset() const { return scratch_offset_; }

  void* level(unsigned level) { return base_ + level_offset(level); }
  const void* level(unsigned level) const { return base_ + level_offset(level); }
  void* scratch() { return base_ + scratch_offset(); }

  /// The segment's header page, or null for private memory.
  std::byte* segment_header() const { return segment_owner_ ? base_ : nullptr; }

  /**
   * Run before every kernel step call, live and in the sandbox's worker alike
   * (crates/sandbox/src/shared.rs): discards the scratch (MADV_DONTNEED on
   * private memory, MADV_REMOVE on a segment's, a memset where the kernel
   * refuses either), so it reads zero, and clears the padding from each
   * level's end to its page's end. The ABI says scratch is undefined at
   * entry; this makes it so, and no kernel can keep a call counter or any
   * other state in memory it is lent. Costs a system call on pages the last
   * call did not touch; a kernel that uses its scratch pays the page faults.
   */
  void prepare_call();

  /// Whether [data, data + bytes) shares any byte with this block.
  bool overlaps(const void* data, std::size_t bytes) const;

 private:
  std::size_t level_bytes_;
  std::size_t level_offsets_[2];
  std::size_t scratch_offset_;
  std::size_t size_bytes_;
  /// Private memory (huge-page advised), or null in a segment's mapping.
  std::unique_ptr<HugePageBlock> private_block_;
  std::byte* base_;
  /// Null for private memory.
  std::shared_ptr<void> segment_owner_;
};

}  // namespace ouro

#endif

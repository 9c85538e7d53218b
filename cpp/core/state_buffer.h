#ifndef OUROBOROS_CORE_STATE_BUFFER_H
#define OUROBOROS_CORE_STATE_BUFFER_H

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ouro {

/**
 * The lattice state in one zero-initialised block: level 0, level 1 and a
 * level-sized scratch area, each starting on a page boundary.
 *
 * It is a single allocation addressed by offsets, not three buffers, so that
 * it can later be placed in shared memory as it is.
 */
class StateBuffer {
 public:
  static constexpr std::size_t kAlignmentBytes = 4096;

  /// Allocates room for two levels and scratch of `level_bytes` each; throws std::bad_alloc.
  explicit StateBuffer(std::size_t level_bytes);
  StateBuffer(const StateBuffer&) = delete;
  StateBuffer& operator=(const StateBuffer&) = delete;

  std::size_t level_bytes() const { return level_bytes_; }
  /// Bytes of the whole block, padding included.
  std::size_t size_bytes() const { return size_bytes_; }
  std::size_t level_offset(unsigned level) const { return level * stride_bytes_; }
  std::size_t scratch_offset() const { return 2 * stride_bytes_; }

  void* level(unsigned level) { return base() + level_offset(level); }
  const void* level(unsigned level) const { return base() + level_offset(level); }
  void* scratch() { return base() + scratch_offset(); }

  /// Whether [data, data + bytes) shares any byte with this block.
  bool overlaps(const void* data, std::size_t bytes) const;

 private:
  struct AlignedDelete {
    void operator()(std::byte* block) const;
  };

  std::byte* base() const { return block_.get(); }

  std::size_t level_bytes_;
  std::size_t stride_bytes_;
  std::size_t size_bytes_;
  std::unique_ptr<std::byte, AlignedDelete> block_;
};

}  // namespace ouro

#endif

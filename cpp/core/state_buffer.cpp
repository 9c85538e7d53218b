#include "core/state_buffer.h"

#include <cstring>
#include <limits>
#include <new>

namespace ouro {
namespace {

std::size_t round_up_to_page(std::size_t bytes) {
  const std::size_t page = StateBuffer::kAlignmentBytes;
  if (bytes > std::numeric_limits<std::size_t>::max() - (page - 1)) throw std::bad_alloc();
  return (bytes + page - 1) / page * page;
}

std::size_t block_bytes(std::size_t stride_bytes) {
  if (stride_bytes > std::numeric_limits<std::size_t>::max() / 3) throw std::bad_alloc();
  return 3 * stride_bytes;
}

}  // namespace

StateBuffer::StateBuffer(std::size_t level_bytes)
    : level_bytes_(level_bytes),
      stride_bytes_(round_up_to_page(level_bytes)),
      size_bytes_(block_bytes(stride_bytes_)),
      block_(static_cast<std::byte*>(
          ::operator new(size_bytes_, std::align_val_t{kAlignmentBytes}))) {
  std::memset(block_.get(), 0, size_bytes_);
}

bool StateBuffer::overlaps(const void* data, std::size_t bytes) const {
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const auto own_begin = reinterpret_cast<std::uintptr_t>(base());
  return bytes > 0 && begin < own_begin + size_bytes_ && own_begin < begin + bytes;
}

void StateBuffer::AlignedDelete::operator()(std::byte* block) const {
  ::operator delete(block, std::align_val_t{kAlignmentBytes});
}

}  // namespace ouro

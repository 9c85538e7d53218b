#include "core/state_buffer.h"

#include <sys/mman.h>

#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

namespace ouro {
namespace {

std::size_t block_bytes(std::size_t stride_bytes) {
  if (stride_bytes > std::numeric_limits<std::size_t>::max() / 3) throw std::bad_alloc();
  return 3 * stride_bytes;
}

void check_region(const char* name, std::size_t offset, const SegmentRegion& region) {
  const bool fits = offset <= region.segment_bytes && region.level_bytes <= region.segment_bytes - offset;
  if (offset % StateBuffer::kAlignmentBytes != 0 || offset == 0 || !fits) {
    throw std::invalid_argument(std::string("segment ") + name + " = " + std::to_string(offset) +
                                ": must be a non-zero multiple of 4096 with " + std::to_string(region.level_bytes) +
                                " level bytes inside the " + std::to_string(region.segment_bytes) + "-byte segment");
  }
}

std::byte* checked_base(const SegmentRegion& region) {
  const auto address = reinterpret_cast<std::uintptr_t>(region.base);
  if (!region.base || !region.owner || address % StateBuffer::kAlignmentBytes != 0) {
    throw std::invalid_argument("segment base = " + std::to_string(address) +
                                ": must be a page-aligned mapping with an owner that keeps it mapped");
  }
  check_region("level0_offset", region.level0_offset, region);
  check_region("level1_offset", region.level1_offset, region);
  check_region("scratch_offset", region.scratch_offset, region);
  return region.base;
}

}  // namespace

std::size_t StateBuffer::round_up_to_page(std::size_t bytes) {
  const std::size_t page = kAlignmentBytes;
  if (bytes > std::numeric_limits<std::size_t>::max() - (page - 1)) throw std::bad_alloc();
  return (bytes + page - 1) / page * page;
}

StateBuffer::StateBuffer(std::size_t level_bytes)
    : level_bytes_(level_bytes),
      level_offsets_{0, StateBuffer::round_up_to_page(level_bytes)},
      scratch_offset_(2 * level_offsets_[1]),
      size_bytes_(block_bytes(level_offsets_[1])),
      private_block_(std::make_unique<HugePageBlock>(size_bytes_)),
      base_(private_block_->data()) {
  private_block_->guard_after(size_bytes_);
}

StateBuffer::StateBuffer(const SegmentRegion& region)
    : level_bytes_(region.level_bytes),
      level_offsets_{region.level0_offset, region.level1_offset},
      scratch_offset_(region.scratch_offset),
      size_bytes_(region.segment_bytes),
      base_(checked_base(region)),
      segment_owner_(region.owner) {}

StateBuffer::~StateBuffer() = default;

void StateBuffer::prepare_call() {
  const std::size_t stride = level_stride();
  for (const std::size_t offset : level_offsets_) std::memset(base_ + offset + level_bytes_, 0, stride - level_bytes_);
  std::byte* scratch_start = base_ + scratch_offset_;
  const int advice = segment_owner_ ? MADV_REMOVE : MADV_DONTNEED;
  if (::madvise(scratch_start, stride, advice) != 0) std::memset(scratch_start, 0, stride);
}

bool StateBuffer::overlaps(const void* data, std::size_t bytes) const {
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const auto own_begin = reinterpret_cast<std::uintptr_t>(base_);
  return bytes > 0 && begin < own_begin + size_bytes_ && own_begin < begin + bytes;
}

}  // namespace ouro

#include "fs/buffer_pool.h"

#include <utility>

namespace spacesfs::fs {
namespace {
constexpr size_t kSmallest = 64 << 10;
}  // namespace

std::string BufferPool::Take(size_t capacity) {
  {
    std::lock_guard lock(mu_);
    // The smallest idle buffer that is large enough, and not more than twice that: the caller
    // leases the bytes it asked for, and a much larger buffer would hold memory nobody counts.
    auto it = idle_.lower_bound(capacity);
    if (it != idle_.end() && it->first / 2 <= capacity) {
      std::string buffer = std::move(it->second);
      idle_bytes_ -= it->first;
      idle_.erase(it);
      reused_++;
      buffer.clear();
      return buffer;
    }
    allocated_++;
  }
  std::string buffer;
  buffer.reserve(capacity);
  return buffer;
}

void BufferPool::Give(std::string buffer) {
  const size_t capacity = buffer.capacity();
  if (capacity < kSmallest) return;  // not worth keeping (an empty string has a few bytes)
  std::lock_guard lock(mu_);
  if (idle_bytes_ + capacity > max_idle_bytes_) return;  // freed when buffer goes out of scope
  idle_bytes_ += capacity;
  idle_.emplace(capacity, std::move(buffer));
}

size_t BufferPool::idle_bytes() const {
  std::lock_guard lock(mu_);
  return idle_bytes_;
}

size_t BufferPool::idle_buffers() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

uint64_t BufferPool::reused() const {
  std::lock_guard lock(mu_);
  return reused_;
}

uint64_t BufferPool::allocated() const {
  std::lock_guard lock(mu_);
  return allocated_;
}

}  // namespace spacesfs::fs

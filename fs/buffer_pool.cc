#include "fs/buffer_pool.h"

#include <utility>

namespace spacesfs::fs {
namespace {
constexpr size_t kSmallest = 64 << 10;  // smaller buffers are not worth keeping
}  // namespace

std::optional<BufferPool::Buffer> BufferPool::TryTake(size_t capacity) {
  MemoryBudget::Lease lease;
  {
    std::lock_guard lock(mu_);
    auto it = idle_.lower_bound(capacity);
    if (it != idle_.end()) {
      Buffer buffer = std::move(it->second);
      idle_bytes_ -= it->first;
      idle_.erase(it);
      reused_++;
      buffer.bytes.clear();
      return buffer;
    }
    // A new one: from the budget, making room by freeing idle buffers if need be.
    lease = budget_.TryAcquire(capacity);
    while (!lease.held() && !idle_.empty()) {
      auto largest = std::prev(idle_.end());
      idle_bytes_ -= largest->first;
      idle_.erase(largest);  // its lease goes back to the budget
      lease = budget_.TryAcquire(capacity);
    }
    if (!lease.held()) return std::nullopt;
    allocated_++;
  }
  Buffer buffer;
  buffer.bytes.reserve(capacity);
  buffer.lease = std::move(lease);
  return buffer;
}

void BufferPool::Give(std::string bytes, MemoryBudget::Lease lease) {
  const size_t capacity = bytes.capacity();
  if (capacity < kSmallest) return;
  if (!lease.held() || lease.bytes() != capacity) {
    // Not paid for exactly (made outside the budget, or its bytes were replaced): keep it only
    // if the budget pays for its capacity now.
    lease.Reset();
    lease = budget_.TryAcquire(capacity);
    if (!lease.held()) return;
  }
  std::lock_guard lock(mu_);
  if (idle_bytes_ + capacity > max_idle_bytes_) return;  // freed, lease and all
  idle_bytes_ += capacity;
  idle_.emplace(capacity, Buffer{std::move(bytes), std::move(lease)});
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

// BufferPool: read-ahead chunk buffers kept for reuse, inside the MemoryBudget, so that a long
// read does not map, fault in and unmap fresh memory for every chunk. (The daemon maps every
// buffer of 256 KiB or more on its own, see cli/main.cc, and on a 1 GiB read the faults cost more
// CPU than the bytes' copies.)
//
// A Buffer is bytes plus the budget lease that pays for their capacity. An idle buffer keeps its
// lease, so the budget bounds in-use and idle buffers together and the daemon's memory stays
// within it. TryTake(n) hands out the smallest idle buffer of at least n bytes; otherwise it takes
// n bytes from the budget for a new one, freeing idle buffers (largest first) when the budget is
// short; it fails only when the budget cannot give n bytes even then. Give keeps a buffer while
// the idle ones stay within max_idle_bytes; a buffer without a lease (one made outside the
// budget) is kept only if the budget can pay for it now. Everything else is freed.
//
// Threading: thread-safe; the budget is used only through its own atomic calls.
// Errors: none (allocation failure throws, as for any string).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "fs/memory_budget.h"

namespace spacesfs::fs {

class BufferPool {
 public:
  struct Buffer {
    std::string bytes;  // empty, with capacity
    MemoryBudget::Lease lease;
  };

  BufferPool(MemoryBudget& budget, size_t max_idle_bytes)
      : budget_(budget), max_idle_bytes_(max_idle_bytes) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  std::optional<Buffer> TryTake(size_t capacity);
  void Give(std::string bytes, MemoryBudget::Lease lease);

  size_t idle_bytes() const;
  size_t idle_buffers() const;
  // How many buffers TryTake served from idle ones, and how many it reserved anew.
  uint64_t reused() const;
  uint64_t allocated() const;

 private:
  MemoryBudget& budget_;
  const size_t max_idle_bytes_;
  mutable std::mutex mu_;
  std::multimap<size_t, Buffer> idle_;  // by capacity; guarded by mu_
  size_t idle_bytes_ = 0;               // guarded by mu_
  uint64_t reused_ = 0;                 // guarded by mu_
  uint64_t allocated_ = 0;              // guarded by mu_
};

}  // namespace spacesfs::fs

// BufferPool: keeps a few large byte buffers (read-ahead chunks) for reuse, so a long sequential
// read does not map, fault in and unmap fresh memory for every chunk. The daemon maps every
// buffer of a megabyte or more on its own (cli/main.cc sets malloc's mmap threshold), and on a
// 1 GiB read that cost more CPU than the bytes' copies themselves.
//
// Take returns an empty string whose capacity is at least the bytes asked for when an idle
// buffer that large (and at most twice that) is kept, the smallest such one, else a new empty
// string with that capacity reserved. Give keeps a buffer of 64 KiB or more while the idle
// buffers stay within max_idle_bytes, else frees it: idle memory is bounded, and buffers in use
// are the MemoryBudget's business, not the pool's.
//
// Threading: thread-safe. Errors: none (allocation failure throws, as for any string).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace spacesfs::fs {

class BufferPool {
 public:
  explicit BufferPool(size_t max_idle_bytes) : max_idle_bytes_(max_idle_bytes) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  std::string Take(size_t capacity);
  void Give(std::string buffer);

  size_t idle_bytes() const;
  size_t idle_buffers() const;
  // How many Takes were served by an idle buffer, and how many reserved a new one.
  uint64_t reused() const;
  uint64_t allocated() const;

 private:
  const size_t max_idle_bytes_;
  mutable std::mutex mu_;
  std::multimap<size_t, std::string> idle_;  // by capacity; guarded by mu_
  size_t idle_bytes_ = 0;                    // guarded by mu_
  uint64_t reused_ = 0;                      // guarded by mu_
  uint64_t allocated_ = 0;                   // guarded by mu_
};

}  // namespace spacesfs::fs

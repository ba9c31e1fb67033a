// MemoryBudget: the bytes the data path may hold in memory at once (prefetched read chunks and
// upload part buffers together), so that the daemon's memory does not grow with file sizes or the
// number of open files.
//
// Nothing blocks on it: TryAcquire either takes bytes or fails, and the caller then degrades (a
// reader fetches only what the kernel asked for; a writer stages on disk or waits for its own
// in-flight parts). That makes it deadlock-free by construction. What a reader must have even
// then is taken with Force, which may go over the limit: until the bytes over it are returned,
// TryAcquire gives nothing, so the overshoot is paid back before anything new is taken.
//
// Threading: thread-safe (atomics). A Lease returns its bytes when destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace spacesfs::fs {

class MemoryBudget {
 public:
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        Reset();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Reset(); }
    bool held() const { return budget_ != nullptr; }
    uint64_t bytes() const { return bytes_; }
    void Reset() {
      if (budget_ != nullptr) budget_->Release(bytes_);
      budget_ = nullptr;
      bytes_ = 0;
    }

   private:
    friend class MemoryBudget;
    Lease(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // A lease of bytes if that many are free, else an empty lease (held() == false).
  Lease TryAcquire(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + bytes > limit_) return Lease();
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    RecordPeak(used + bytes);
    return Lease(this, bytes);
  }

  // A lease of bytes even beyond the limit (what a reader waits for when the budget is spent).
  Lease Force(uint64_t bytes) {
    RecordPeak(used_.fetch_add(bytes, std::memory_order_relaxed) + bytes);
    return Lease(this, bytes);
  }

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  void Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  void RecordPeak(uint64_t now) {
    uint64_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }

  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> peak_{0};
};

}  // namespace spacesfs::fs

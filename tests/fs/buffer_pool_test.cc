// BufferPool: idle buffers are handed out again (same memory, emptied) with the lease that pays
// for them; idle buffers stay within their bound and inside the budget, and are freed when the
// budget needs room for a new one.
#include "fs/buffer_pool.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "fs/memory_budget.h"

namespace spacesfs::fs {
namespace {

constexpr size_t kMiB = 1u << 20;

TEST(BufferPool, AGivenBufferIsTakenAgainEmptyWithItsMemoryAndLease) {
  MemoryBudget budget(64 * kMiB);
  BufferPool pool(budget, 16 * kMiB);
  std::optional<BufferPool::Buffer> b = pool.TryTake(4 * kMiB);
  ASSERT_TRUE(b.has_value());
  EXPECT_GE(b->bytes.capacity(), 4 * kMiB);
  EXPECT_EQ(budget.used(), 4 * kMiB);
  b->bytes.assign(3 * kMiB, 'x');
  const char* memory = b->bytes.data();
  pool.Give(std::move(b->bytes), std::move(b->lease));
  EXPECT_EQ(pool.idle_buffers(), 1u);
  EXPECT_EQ(budget.used(), 4 * kMiB);  // idle, still paid for
  std::optional<BufferPool::Buffer> again = pool.TryTake(2 * kMiB);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->bytes.data(), memory);
  EXPECT_TRUE(again->bytes.empty());
  EXPECT_EQ(again->lease.bytes(), 4 * kMiB);
  EXPECT_EQ(pool.idle_bytes(), 0u);
  EXPECT_EQ(pool.allocated(), 1u);
  EXPECT_EQ(pool.reused(), 1u);
  again.reset();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BufferPool, TheSmallestLargeEnoughIdleBuffer) {
  MemoryBudget budget(64 * kMiB);
  BufferPool pool(budget, 32 * kMiB);
  std::optional<BufferPool::Buffer> big = pool.TryTake(8 * kMiB);
  std::optional<BufferPool::Buffer> small = pool.TryTake(2 * kMiB);
  ASSERT_TRUE(big && small);
  const char* big_memory = big->bytes.data();
  const char* small_memory = small->bytes.data();
  pool.Give(std::move(big->bytes), std::move(big->lease));
  pool.Give(std::move(small->bytes), std::move(small->lease));
  std::optional<BufferPool::Buffer> one = pool.TryTake(1 * kMiB);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->bytes.data(), small_memory);
  std::optional<BufferPool::Buffer> three = pool.TryTake(3 * kMiB);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->bytes.data(), big_memory);
  std::optional<BufferPool::Buffer> huge = pool.TryTake(16 * kMiB);  // nothing idle: new
  ASSERT_TRUE(huge);
  EXPECT_GE(huge->bytes.capacity(), 16 * kMiB);
  EXPECT_EQ(pool.allocated(), 3u);
}

TEST(BufferPool, IdleBuffersMakeRoomWhenTheBudgetIsShort) {
  MemoryBudget budget(10 * kMiB);
  BufferPool pool(budget, 10 * kMiB);
  std::optional<BufferPool::Buffer> a = pool.TryTake(4 * kMiB);
  std::optional<BufferPool::Buffer> b = pool.TryTake(4 * kMiB);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(pool.TryTake(4 * kMiB).has_value());  // 8 of 10 MiB in use, nothing idle
  pool.Give(std::move(a->bytes), std::move(a->lease));
  EXPECT_EQ(budget.used(), 8 * kMiB);
  // 6 MiB does not fit beside 8 MiB: the idle 4 MiB buffer is freed to make room.
  std::optional<BufferPool::Buffer> c = pool.TryTake(6 * kMiB);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(pool.idle_buffers(), 0u);
  EXPECT_EQ(budget.used(), 10 * kMiB);
  EXPECT_LE(budget.peak(), 10 * kMiB);
}

TEST(BufferPool, IdleBytesStayWithinTheBoundAndUnpaidBuffersAreKeptOnlyIfTheBudgetPays) {
  MemoryBudget budget(12 * kMiB);
  BufferPool pool(budget, 8 * kMiB);
  for (int i = 0; i < 3; ++i) {
    std::string bytes;
    bytes.reserve(4 * kMiB);
    pool.Give(std::move(bytes), MemoryBudget::Lease());  // made outside the budget
  }
  EXPECT_EQ(pool.idle_buffers(), 2u);  // the bound: 8 MiB
  EXPECT_EQ(budget.used(), 8 * kMiB);
  MemoryBudget::Lease rest = budget.TryAcquire(4 * kMiB);
  ASSERT_TRUE(rest.held());
  std::optional<BufferPool::Buffer> a = pool.TryTake(4 * kMiB);
  ASSERT_TRUE(a);
  std::string unpaid;
  unpaid.reserve(4 * kMiB);
  pool.Give(std::move(unpaid), MemoryBudget::Lease());  // the budget is full: freed
  EXPECT_EQ(pool.idle_buffers(), 1u);
  pool.Give(std::string(), MemoryBudget::Lease());  // nothing to keep
  EXPECT_EQ(pool.idle_buffers(), 1u);
  EXPECT_LE(budget.peak(), 12 * kMiB);
}

}  // namespace
}  // namespace spacesfs::fs

// BufferPool: idle buffers are handed out again (same memory, emptied), never much larger than
// asked, and the idle bytes stay within the bound.
#include "fs/buffer_pool.h"

#include <gtest/gtest.h>

#include <string>

namespace spacesfs::fs {
namespace {

constexpr size_t kMiB = 1u << 20;

TEST(BufferPool, AGivenBufferIsTakenAgainEmptyWithItsMemory) {
  BufferPool pool(16 * kMiB);
  std::string buffer = pool.Take(4 * kMiB);
  EXPECT_GE(buffer.capacity(), 4 * kMiB);
  buffer.assign(3 * kMiB, 'x');
  const char* memory = buffer.data();
  pool.Give(std::move(buffer));
  EXPECT_EQ(pool.idle_buffers(), 1u);
  std::string again = pool.Take(4 * kMiB);
  EXPECT_EQ(again.data(), memory);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(pool.idle_buffers(), 0u);
  EXPECT_EQ(pool.idle_bytes(), 0u);
  EXPECT_EQ(pool.allocated(), 1u);
  EXPECT_EQ(pool.reused(), 1u);
}

TEST(BufferPool, TheSmallestLargeEnoughBufferAndNeverOneMoreThanTwiceTheSize) {
  BufferPool pool(64 * kMiB);
  std::string big = pool.Take(8 * kMiB);
  std::string small = pool.Take(2 * kMiB);
  const char* big_memory = big.data();
  const char* small_memory = small.data();
  pool.Give(std::move(big));
  pool.Give(std::move(small));
  // 1 MiB: the 2 MiB buffer is at most twice that, the 8 MiB one is not.
  std::string one = pool.Take(1 * kMiB);
  EXPECT_EQ(one.data(), small_memory);
  // 1 MiB again: only the 8 MiB buffer is idle, too large; a new one is reserved.
  std::string other = pool.Take(1 * kMiB);
  EXPECT_NE(other.data(), big_memory);
  EXPECT_GE(other.capacity(), 1 * kMiB);
  EXPECT_EQ(pool.idle_buffers(), 1u);
  // Larger than anything idle: a new one.
  std::string huge = pool.Take(16 * kMiB);
  EXPECT_GE(huge.capacity(), 16 * kMiB);
  EXPECT_EQ(pool.idle_buffers(), 1u);
  EXPECT_EQ(pool.Take(5 * kMiB).data(), big_memory);
}

TEST(BufferPool, IdleBytesStayWithinTheBound) {
  BufferPool pool(10 * kMiB);
  for (int i = 0; i < 5; ++i) {
    std::string b;
    b.reserve(4 * kMiB);
    pool.Give(std::move(b));
  }
  EXPECT_EQ(pool.idle_buffers(), 2u);
  EXPECT_LE(pool.idle_bytes(), 10 * kMiB);
  pool.Give(std::string());  // nothing to keep
  EXPECT_EQ(pool.idle_buffers(), 2u);
}

}  // namespace
}  // namespace spacesfs::fs

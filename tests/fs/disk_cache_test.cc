// The local disk cache of read data: DiskCache alone (bounded with LRU eviction, versions,
// integrity, the lock, I/O failures), ReadAhead reading through it, and the Filesystem serving a
// second read of a file from it without a GET.
#include "fs/disk_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "fs/memory_budget.h"
#include "fs/read_ahead.h"
#include "fs/worker_pool.h"
#include "s3/memory_object_client.h"
#include "support/data_path.h"

namespace spacesfs::fs {
namespace {

namespace stdfs = std::filesystem;
using Op = s3::MemoryObjectClient::Operation;
constexpr uint64_t kMiB = 1ull << 20;

using testing::FlippingClient;
using testing::Pattern;
using testing::PutObject;

std::string Slurp(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/disk_cache_XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = templ;
    dir_ = root_ / "cache";
  }
  void TearDown() override { stdfs::remove_all(root_); }

  std::unique_ptr<DiskCache> OpenCache(uint64_t max_bytes) {
    Result<std::unique_ptr<DiskCache>> c = DiskCache::Open(dir_.string(), max_bytes);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::vector<stdfs::path> Files() const {
    std::vector<stdfs::path> out;
    for (const auto& e : stdfs::directory_iterator(dir_ / "blocks")) out.push_back(e.path());
    return out;
  }
  // The file of the entry whose key is key (the key is stored after the 64-byte header).
  stdfs::path FileOf(const std::string& key) const {
    for (const stdfs::path& p : Files()) {
      if (Slurp(p).substr(64, key.size()) == key) return p;
    }
    return {};
  }
  // The size of an entry's file: header, key, ETag, bytes.
  static uint64_t EntryBytes(const std::string& key, const std::string& etag, size_t n) {
    return 64 + key.size() + etag.size() + n;
  }

  stdfs::path root_;
  stdfs::path dir_;
};

TEST_F(DiskCacheTest, GetReturnsWhatWasPutForExactlyThatEntry) {
  auto cache = OpenCache(16 * kMiB);
  ASSERT_TRUE(cache);
  std::string data = Pattern(5000, 1);
  cache->Put("dir/a.bin", "\"e1\"", 4096, data);
  EXPECT_EQ(cache->Get("dir/a.bin", "\"e1\"", 4096, 5000), data);
  EXPECT_TRUE(cache->Contains("dir/a.bin", "\"e1\"", 4096, 5000));
  EXPECT_FALSE(cache->Contains("dir/a.bin", "\"e1\"", 4096, 4999));
  EXPECT_FALSE(cache->Get("dir/a.bin", "\"e1\"", 4096, 4999));  // another length
  EXPECT_FALSE(cache->Get("dir/a.bin", "\"e1\"", 0, 5000));     // another offset
  EXPECT_FALSE(cache->Get("dir/a.bin", "\"e2\"", 4096, 5000));  // another version
  EXPECT_FALSE(cache->Get("dir/b.bin", "\"e1\"", 4096, 5000));  // another key
  EXPECT_EQ(cache->entries(), 1u);
  EXPECT_EQ(cache->bytes(), EntryBytes("dir/a.bin", "\"e1\"", 5000));
}

TEST_F(DiskCacheTest, FilesArePrivateAndNamedWithoutTheKey) {
  auto cache = OpenCache(16 * kMiB);
  ASSERT_TRUE(cache);
  cache->Put("payroll/secret-plans.txt", "\"e\"", 0, "x");
  EXPECT_EQ(stdfs::status(dir_).permissions(), stdfs::perms::owner_all);
  std::vector<stdfs::path> files = Files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().find("secret"), std::string::npos) << files[0];
  EXPECT_EQ(stdfs::status(files[0]).permissions(),
            stdfs::perms::owner_read | stdfs::perms::owner_write);
}

TEST_F(DiskCacheTest, StaysWithinItsSizeEvictingTheLeastRecentlyUsed) {
  const std::string etag = "\"e\"";
  const uint64_t one = EntryBytes("k1", etag, 1000);
  auto cache = OpenCache(3 * one + 10);
  ASSERT_TRUE(cache);
  for (const char* k : {"k1", "k2", "k3"}) cache->Put(k, etag, 0, Pattern(1000, 2));
  ASSERT_TRUE(cache->Get("k1", etag, 0, 1000));  // k2 is now the least recently used
  cache->Put("k4", etag, 0, Pattern(1000, 2));
  EXPECT_FALSE(cache->Get("k2", etag, 0, 1000));
  EXPECT_TRUE(cache->Get("k1", etag, 0, 1000));
  EXPECT_TRUE(cache->Get("k3", etag, 0, 1000));
  EXPECT_TRUE(cache->Get("k4", etag, 0, 1000));
  EXPECT_EQ(cache->bytes(), 3 * one);
  EXPECT_EQ(Files().size(), 3u);
  // Many more entries: never above the bound, on disk as in the index.
  for (int i = 0; i < 50; ++i) {
    cache->Put("m" + std::to_string(i), etag, 0, Pattern(900 + i, i));
    ASSERT_LE(cache->bytes(), cache->max_bytes());
  }
  uint64_t on_disk = 0;
  for (const stdfs::path& p : Files()) on_disk += stdfs::file_size(p);
  EXPECT_EQ(on_disk, cache->bytes());
  // An entry larger than the whole cache is not stored.
  cache->Put("huge", etag, 0, std::string(4 * one, 'h'));
  EXPECT_FALSE(cache->Get("huge", etag, 0, 4 * one));
}

TEST_F(DiskCacheTest, ANewEtagRemovesTheKeysOtherVersions) {
  auto cache = OpenCache(16 * kMiB);
  ASSERT_TRUE(cache);
  cache->Put("k", "\"old\"", 0, "aaaa");
  cache->Put("k", "\"old\"", 4, "bbbb");
  cache->Put("other", "\"old\"", 0, "cccc");
  EXPECT_EQ(cache->entries(), 3u);
  cache->Put("k", "\"new\"", 0, "AAAA");
  EXPECT_FALSE(cache->Get("k", "\"old\"", 0, 4));
  EXPECT_FALSE(cache->Get("k", "\"old\"", 4, 4));
  EXPECT_EQ(cache->Get("k", "\"new\"", 0, 4), "AAAA");
  EXPECT_EQ(cache->Get("other", "\"old\"", 0, 4), "cccc");
  EXPECT_EQ(cache->entries(), 2u);
  EXPECT_EQ(Files().size(), 2u);
  cache->Invalidate("k");
  EXPECT_FALSE(cache->Get("k", "\"new\"", 0, 4));
  EXPECT_EQ(Files().size(), 1u);
}

TEST_F(DiskCacheTest, ACorruptOrTruncatedEntryIsAMissAndIsRemoved) {
  auto cache = OpenCache(16 * kMiB);
  ASSERT_TRUE(cache);
  std::string data = Pattern(3000, 3);
  cache->Put("flip", "\"e\"", 0, data);
  cache->Put("cut", "\"e\"", 0, data);
  cache->Put("grow", "\"e\"", 0, data);
  {
    std::fstream f(FileOf("flip"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-100, std::ios::end);
    f.put('\x7f' ^ data[2900]);
  }
  stdfs::resize_file(FileOf("cut"), stdfs::file_size(FileOf("cut")) - 1);
  {
    std::ofstream f(FileOf("grow"), std::ios::app | std::ios::binary);
    f << "extra";
  }
  EXPECT_FALSE(cache->Get("flip", "\"e\"", 0, 3000));
  EXPECT_FALSE(cache->Get("cut", "\"e\"", 0, 3000));
  EXPECT_FALSE(cache->Get("grow", "\"e\"", 0, 3000));
  EXPECT_TRUE(cache->enabled());  // damage is not an I/O error
  EXPECT_EQ(cache->entries(), 0u);
  EXPECT_TRUE(Files().empty());
  // A removed file is a miss too, and the entry can be stored again.
  cache->Put("gone", "\"e\"", 0, data);
  stdfs::remove(FileOf("gone"));
  EXPECT_FALSE(cache->Get("gone", "\"e\"", 0, 3000));
  cache->Put("gone", "\"e\"", 0, data);
  EXPECT_EQ(cache->Get("gone", "\"e\"", 0, 3000), data);
}

TEST_F(DiskCacheTest, ASecondOpenerIsRefusedAndEntriesOutliveTheOpener) {
  const std::string etag = "\"e\"";
  const uint64_t one = EntryBytes("k1", etag, 1000);
  auto cache = OpenCache(3 * one);
  ASSERT_TRUE(cache);
  Result<std::unique_ptr<DiskCache>> second = DiskCache::Open(dir_.string(), 3 * one);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kConfig);
  EXPECT_NE(second.status().message().find("in use by another spacesfs mount"), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(dir_.string()), std::string::npos);

  for (const char* k : {"k1", "k2", "k3"}) cache->Put(k, etag, 0, Pattern(1000, 4));
  cache.reset();  // releases the lock; the entries stay
  // The LRU order comes back from the files' mtimes: k2 oldest, then k3, then k1.
  auto set_mtime = [&](const std::string& key, time_t sec) {
    struct timespec times[2] = {{sec, 0}, {sec, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, FileOf(key).c_str(), times, 0), 0);
  };
  set_mtime("k2", 1000000000);
  set_mtime("k3", 1000000100);
  set_mtime("k1", 1000000200);
  std::ofstream(dir_ / "blocks" / "tmp-1-1") << "from a write cut short";

  cache = OpenCache(3 * one);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->entries(), 3u);
  EXPECT_FALSE(stdfs::exists(dir_ / "blocks" / "tmp-1-1"));
  cache->Put("k4", etag, 0, Pattern(1000, 4));
  EXPECT_FALSE(cache->Get("k2", etag, 0, 1000));
  EXPECT_EQ(cache->Get("k1", etag, 0, 1000), Pattern(1000, 4));
  EXPECT_TRUE(cache->Get("k3", etag, 0, 1000));

  // Reopened smaller: evicted down to the new bound at once.
  cache.reset();
  cache = OpenCache(one);
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->entries(), 1u);
  EXPECT_EQ(Files().size(), 1u);
}

TEST_F(DiskCacheTest, ADirectoryOthersCanReadIsRefused) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  Result<std::unique_ptr<DiskCache>> c = DiskCache::Open(dir_.string(), kMiB);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("chmod 700"), std::string::npos) << c.status().message();
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(dir_.c_str(), 12345, 12345), 0);
    c = DiskCache::Open(dir_.string(), kMiB);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.status().message().find("belongs to uid 12345"), std::string::npos)
        << c.status().message();
  }
  c = DiskCache::Open((root_ / "missing" / "cache").string(), kMiB);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cannot create cache directory"), std::string::npos);
}

TEST_F(DiskCacheTest, AnIoErrorTurnsTheCacheOff) {
  auto cache = OpenCache(16 * kMiB);
  ASSERT_TRUE(cache);
  cache->Put("a", "\"e\"", 0, "aaaa");
  ASSERT_TRUE(cache->Get("a", "\"e\"", 0, 4));
  stdfs::remove_all(dir_ / "blocks");  // its files can no longer be created
  cache->Put("b", "\"e\"", 0, "bbbb");
  EXPECT_FALSE(cache->enabled());
  EXPECT_FALSE(cache->Get("a", "\"e\"", 0, 4));
  EXPECT_FALSE(cache->Get("b", "\"e\"", 0, 4));
  cache->Put("c", "\"e\"", 0, "cccc");  // does nothing
  EXPECT_FALSE(stdfs::exists(dir_ / "blocks"));
}

// --- ReadAhead through the cache ---

class CachedReadAheadTest : public DiskCacheTest {
 protected:
  ReadAheadParams Params(DiskCache* cache, uint64_t chunk) {
    ReadAheadParams p;
    p.min_window = 256 << 10;
    p.max_window = 8 * kMiB;
    p.chunk_size = chunk;
    p.cache = cache;
    return p;
  }
  // Reads [from, size) in kernel-sized pieces.
  static Result<std::string> ReadFrom(ReadAhead& reader, uint64_t from) {
    std::string out;
    for (;;) {
      Result<std::string> r = reader.Read(from + out.size(), 128 << 10);
      if (!r.ok()) return r.status();
      if (r->empty()) return out;
      out += *r;
    }
  }
  // Puts n pattern bytes at key; returns them, and the object's ETag in etag_.
  std::string Store(const std::string& key, size_t n, unsigned seed) {
    std::string data = Pattern(n, seed);
    PutObject(memory_, key, data);
    etag_ = memory_.Info(key)->etag;
    return data;
  }
  s3::MemoryObjectClient memory_;
  std::string etag_;
  WorkerPool pool_{4};
  MemoryBudget budget_{32 * kMiB};
};

TEST_F(CachedReadAheadTest, ASecondReaderIsServedFromTheCacheWhateverItsChunks) {
  auto cache = OpenCache(64 * kMiB);
  ASSERT_TRUE(cache);
  std::string data = Store("obj", 13 * kMiB + 77, 5);
  const std::string& etag = etag_;
  {
    ReadAhead first(memory_, pool_, budget_, "obj", etag, data.size(), Params(cache.get(), 2 * kMiB));
    Result<std::string> all = ReadFrom(first, 0);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_TRUE(*all == data);
  }
  EXPECT_GT(memory_.RequestCount(Op::kGetObject), 0u);
  EXPECT_EQ(cache->entries(), 14u);  // 13 blocks of 1 MiB and the tail
  memory_.ResetRequestCounts();

  // Other chunk sizes, a run that starts mid-block, random reads: no GET.
  ReadAhead second(memory_, pool_, budget_, "obj", etag, data.size(), Params(cache.get(), 8 * kMiB));
  Result<std::string> all = ReadFrom(second, 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(*all == data);
  ReadAhead third(memory_, pool_, budget_, "obj", etag, data.size(), Params(cache.get(), 3 * kMiB));
  Result<std::string> tail = ReadFrom(third, 5 * kMiB + 12345);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(*tail == data.substr(5 * kMiB + 12345));
  std::mt19937 rng(3);
  for (int i = 0; i < 20; ++i) {
    uint64_t off = rng() % data.size();
    Result<std::string> r = third.Read(off, 3000 + rng() % 300000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, data.substr(off, r->size()));
  }
  EXPECT_EQ(memory_.RequestCount(Op::kGetObject), 0u);
}

TEST_F(CachedReadAheadTest, OnlyTheBlocksMissingFromTheCacheAreFetched) {
  auto cache = OpenCache(64 * kMiB);
  ASSERT_TRUE(cache);
  std::string data = Store("part", 10 * kMiB, 12);
  const std::string& etag = etag_;
  // Every block but 4, 5 and 7 is cached. The reader's chunks are [0, 1M), [1M, 2M), [2M, 4M),
  // [4M, 8M) and [8M, 10M).
  for (uint64_t block : {0, 1, 2, 3, 6, 8, 9}) {
    cache->Put("part", etag, block * kMiB, std::string_view(data).substr(block * kMiB, kMiB));
  }
  ReadAhead reader(memory_, pool_, budget_, "part", etag, data.size(), Params(cache.get(), 8 * kMiB));
  Result<std::string> all = ReadFrom(reader, 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(*all == data);
  // One GET for blocks 4-5, one for block 7; all of them are cached now.
  EXPECT_EQ(memory_.RequestCount(Op::kGetObject), 2u);
  EXPECT_EQ(cache->entries(), 10u);
}

TEST_F(CachedReadAheadTest, RandomReadsAreCachedAsTheyWereAsked) {
  auto cache = OpenCache(64 * kMiB);
  ASSERT_TRUE(cache);
  std::string data = Store("rnd", 8 * kMiB, 6);
  const std::string& etag = etag_;
  std::vector<uint64_t> offsets = {3 * kMiB + 4096, 7 * 4096, 5 * kMiB + 100};
  for (int round = 0; round < 2; ++round) {
    ReadAhead reader(memory_, pool_, budget_, "rnd", etag, data.size(), Params(cache.get(), kMiB));
    for (uint64_t off : offsets) {
      Result<std::string> r = reader.Read(off, 4096);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(*r, data.substr(off, 4096));
    }
    // The first round fetched exactly what was asked; the second fetched nothing.
    EXPECT_EQ(memory_.RequestCount(Op::kGetObject), offsets.size());
  }
}

TEST_F(CachedReadAheadTest, BytesThatFailTheEtagCheckAreDroppedFromTheCache) {
  auto cache = OpenCache(64 * kMiB);
  ASSERT_TRUE(cache);
  std::string data = Pattern(6 * kMiB + 11, 7);
  FlippingClient flipping(memory_, 3 * kMiB + 5, /*once=*/true);
  PutObject(memory_, "f", data);
  const std::string etag = memory_.Info("f")->etag;
  {
    ReadAhead reader(flipping, pool_, budget_, "f", etag, data.size(), Params(cache.get(), 2 * kMiB));
    Result<std::string> all = ReadFrom(reader, 0);
    ASSERT_FALSE(all.ok());
    EXPECT_EQ(all.status().code(), ErrorCode::kCorrupt) << all.status().ToString();
  }
  EXPECT_EQ(cache->entries(), 0u);
  // Read again: fetched again (no flip now), verified, and then served from the cache.
  for (int round = 0; round < 2; ++round) {
    ReadAhead reader(flipping, pool_, budget_, "f", etag, data.size(), Params(cache.get(), 2 * kMiB));
    Result<std::string> all = ReadFrom(reader, 0);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_TRUE(*all == data);
  }
}

// --- the Filesystem ---

class CachedFilesystemTest : public DiskCacheTest {
 protected:
  void Mount(std::shared_ptr<DiskCache> cache) {
    Options o;
    o.staging_dir = ::testing::TempDir();
    o.attr_ttl = std::chrono::nanoseconds(0);  // every open asks the server for the ETag
    o.entry_ttl = std::chrono::nanoseconds(0);
    o.metadata_flush_delay = std::chrono::seconds(60);
    o.disk_cache = std::move(cache);
    fs_ = std::make_unique<Filesystem>(memory_, o);
  }
  std::string ReadAll(const std::string& name) { return testing::ReadWhole(*fs_, caller_, name); }
  s3::MemoryObjectClient memory_;
  Caller caller_{1000, 1000, 42, {}};
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(CachedFilesystemTest, TheSecondFullReadOfAFileMakesNoGet) {
  std::string data = Pattern(20 * kMiB + 4321, 8);
  PutObject(memory_, "big.bin", data);
  Mount(OpenCache(256 * kMiB));
  EXPECT_TRUE(ReadAll("big.bin") == data);
  EXPECT_GT(memory_.RequestCount(Op::kGetObject), 0u);
  memory_.ResetRequestCounts();
  EXPECT_TRUE(ReadAll("big.bin") == data);
  EXPECT_EQ(memory_.RequestCount(Op::kGetObject), 0u);

  // After a remount with the same directory, still none.
  ASSERT_TRUE(fs_->Destroy().ok());
  fs_.reset();
  Mount(OpenCache(256 * kMiB));
  EXPECT_TRUE(ReadAll("big.bin") == data);
  EXPECT_EQ(memory_.RequestCount(Op::kGetObject), 0u);
}

TEST_F(CachedFilesystemTest, AChangedObjectIsReadAfreshAndItsOldBlocksGo) {
  Mount(OpenCache(256 * kMiB));
  std::string v1 = Pattern(3 * kMiB + 5, 9);
  PutObject(memory_, "doc", v1);
  EXPECT_TRUE(ReadAll("doc") == v1);
  std::string v2 = Pattern(2 * kMiB + 9, 10);
  PutObject(memory_, "doc", v2);  // behind the mount's back
  memory_.ResetRequestCounts();
  EXPECT_TRUE(ReadAll("doc") == v2);
  EXPECT_GT(memory_.RequestCount(Op::kGetObject), 0u);
  // Only the new version's three blocks are left.
  EXPECT_EQ(Files().size(), 3u);
}

TEST_F(CachedFilesystemTest, ReadsSucceedWhenTheCacheFails) {
  std::shared_ptr<DiskCache> cache = OpenCache(256 * kMiB);
  ASSERT_TRUE(cache);
  Mount(cache);
  std::string a = Pattern(4 * kMiB + 1, 11);
  std::string b = Pattern(3 * kMiB, 12);
  PutObject(memory_, "a", a);
  PutObject(memory_, "b", b);
  EXPECT_TRUE(ReadAll("a") == a);
  stdfs::remove_all(dir_ / "blocks");
  EXPECT_TRUE(ReadAll("a") == a);
  EXPECT_TRUE(ReadAll("b") == b);
  EXPECT_FALSE(cache->enabled());
  memory_.ResetRequestCounts();
  EXPECT_TRUE(ReadAll("b") == b);
  EXPECT_GT(memory_.RequestCount(Op::kGetObject), 0u);
}

}  // namespace
}  // namespace spacesfs::fs

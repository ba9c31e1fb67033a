// The data path's parts over MemoryObjectClient: WriteStream (parts uploaded while writing,
// bounded by the memory budget), ReadAhead (parallel prefetch, exact random reads, If-Match,
// verification of sequential reads against the ETag), and the Filesystem streaming through them.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fs/buffer_pool.h"
#include "fs/counting_client.h"
#include "fs/filesystem.h"
#include "fs/memory_budget.h"
#include "fs/read_ahead.h"
#include "fs/worker_pool.h"
#include "fs/write_stream.h"
#include "s3/fault_injecting_client.h"
#include "s3/memory_object_client.h"
#include "support/data_path.h"

namespace spacesfs::fs {
namespace {

using Op = s3::MemoryObjectClient::Operation;
constexpr uint64_t kMiB = 1ull << 20;

using testing::FlippingClient;
using testing::Pattern;
using testing::PutObject;

// An object uploaded in parts cut as layout says, with metadata; returns its ETag.
std::string PutInParts(s3::ObjectClient& client, const std::string& key, std::string_view data,
                       s3::PartLayout layout, const s3::UserMetadata& metadata) {
  Result<std::string> id = client.CreateMultipartUpload(key, metadata, "");
  EXPECT_TRUE(id.ok());
  std::vector<s3::CompletedPart> parts;
  for (uint64_t off = 0; off < data.size();) {
    uint64_t n = std::min<uint64_t>(layout.PartSize(parts.size()), data.size() - off);
    int number = static_cast<int>(parts.size() + 1);
    Result<std::string> etag =
        client.UploadPart(key, *id, number, s3::BodySource::FromView(data.substr(off, n)));
    EXPECT_TRUE(etag.ok());
    parts.push_back({number, etag.ok() ? *etag : ""});
    off += n;
  }
  Result<std::string> etag = client.CompleteMultipartUpload(key, *id, parts);
  EXPECT_TRUE(etag.ok());
  return etag.ok() ? *etag : "";
}

// Counts the body bytes of every GET.
class ByteCountingClient : public CountingClient {
 public:
  explicit ByteCountingClient(s3::ObjectClient& inner) : CountingClient(inner) {}
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    return CountingClient::GetObject(request, [&](std::string_view chunk) {
      bytes_ += chunk.size();
      return sink(chunk);
    });
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::atomic<uint64_t> bytes_{0};
};

// 31 MiB in parts of 5, 5, 10, 10 and 1 MiB: the one uniform part size that fits 5 parts of
// 31 MiB is 7 MiB, which is not how the bytes were cut.
constexpr s3::PartLayout kGrowing{5 * kMiB, 2};
constexpr uint64_t kGrowingSize = 31 * kMiB;

TEST(MemoryBudget, LeasesAreBoundedAndReturned) {
  MemoryBudget budget(10);
  MemoryBudget::Lease a = budget.TryAcquire(6);
  EXPECT_TRUE(a.held());
  EXPECT_FALSE(budget.TryAcquire(5).held());
  MemoryBudget::Lease b = budget.TryAcquire(4);
  EXPECT_TRUE(b.held());
  EXPECT_EQ(budget.used(), 10u);
  a.Reset();
  EXPECT_EQ(budget.used(), 4u);
  { MemoryBudget::Lease c = budget.TryAcquire(6); EXPECT_TRUE(c.held()); }
  EXPECT_EQ(budget.used(), 4u);
  EXPECT_EQ(budget.peak(), 10u);
}

TEST(MemoryBudget, AForcedLeaseGoesOverTheLimitAndIsPaidBackFirst) {
  MemoryBudget budget(10);
  MemoryBudget::Lease a = budget.TryAcquire(8);
  MemoryBudget::Lease forced = budget.Force(5);
  EXPECT_TRUE(forced.held());
  EXPECT_EQ(budget.used(), 13u);
  EXPECT_EQ(budget.peak(), 13u);
  a.Reset();  // 5 used: the overshoot is paid back, 5 free again
  EXPECT_FALSE(budget.TryAcquire(6).held());
  EXPECT_TRUE(budget.TryAcquire(5).held());
  forced.Reset();
  EXPECT_EQ(budget.used(), 0u);
}

class WriteStreamTest : public ::testing::Test {
 protected:
  WriteStreamParams Params(const std::string& key) {
    WriteStreamParams p;
    p.key = key;
    p.part_size = 5 * kMiB;
    p.max_parallel = 3;
    p.metadata = {{"mode", "33188"}};
    return p;
  }
  s3::MemoryObjectClient memory_;
  WorkerPool pool_{4};
  MemoryBudget budget_{64 * kMiB};
};

TEST_F(WriteStreamTest, PartsGoUpWhileWritingAndTheObjectAppearsOnlyWhenFinished) {
  std::string data = Pattern(17 * kMiB + 7, 1);
  auto stream = WriteStream::Start(memory_, pool_, budget_, Params("a/big"));
  ASSERT_NE(stream, nullptr);
  std::mt19937 rng(7);
  for (size_t off = 0; off < data.size();) {
    size_t n = std::min<size_t>(data.size() - off, 1 + rng() % (700 << 10));
    ASSERT_TRUE(stream->Append(std::string_view(data).substr(off, n)).ok());
    off += n;
  }
  EXPECT_TRUE(stream->started());
  // Before Finish, the full parts go up on the pool by themselves (on a loaded host, they may
  // take a moment to start).
  for (int i = 0; i < 1000 && memory_.RequestCount(Op::kUploadPart) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(memory_.RequestCount(Op::kUploadPart), 2u);
  EXPECT_FALSE(memory_.Info("a/big").has_value());
  Result<std::string> etag = stream->Finish({}, "");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_TRUE(etag->ends_with("-4\"")) << *etag;
  EXPECT_TRUE(*memory_.Data("a/big") == data);
  EXPECT_EQ(memory_.Info("a/big")->metadata.at("mode"), "33188");
  // The object declares how it was cut: 5 MiB parts, doubling after every 1,000.
  EXPECT_EQ(memory_.Info("a/big")->metadata.at("spacesfs-part-layout"), "5242880,1000");
  EXPECT_EQ(budget_.used(), 0u);
  EXPECT_LE(budget_.peak(), 4 * 5 * kMiB);  // max_parallel in flight + the one being filled
}

TEST_F(WriteStreamTest, SmallObjectIsOnePutWithTheFinalMetadata) {
  auto stream = WriteStream::Start(memory_, pool_, budget_, Params("small"));
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(stream->Append("hello ").ok());
  ASSERT_TRUE(stream->Append("world").ok());
  std::string out;
  EXPECT_TRUE(stream->ReadBuffered(6, 5, &out));
  EXPECT_EQ(out, "world");
  EXPECT_FALSE(stream->ReadBuffered(6, 6, &out));
  ASSERT_TRUE(stream->Finish({{"mode", "33261"}}, "text/plain").ok());
  EXPECT_EQ(*memory_.Data("small"), "hello world");
  EXPECT_EQ(memory_.Info("small")->metadata.at("mode"), "33261");
  EXPECT_EQ(memory_.Info("small")->metadata.count("spacesfs-part-layout"), 0u);
  EXPECT_EQ(memory_.RequestCount(Op::kPutObject), 1u);
  EXPECT_EQ(memory_.RequestCount(Op::kCreateMultipartUpload), 0u);
}

TEST_F(WriteStreamTest, AFailedPartAbortsTheUploadAndLeavesNothing) {
  s3::FaultInjectingClient faulty(memory_, 1);
  faulty.AddRule(s3::FaultRule::FailNth(s3::Operation::kUploadPart, 2,
                                        Status(ErrorCode::kServerError, "injected")));
  auto stream = WriteStream::Start(faulty, pool_, budget_, Params("broken"));
  ASSERT_NE(stream, nullptr);
  std::string data = Pattern(16 * kMiB, 2);
  Status s;
  for (size_t off = 0; off < data.size() && s.ok(); off += kMiB) {
    s = stream->Append(std::string_view(data).substr(off, kMiB));
  }
  // The second part failed once: it is sent again, so the stream completes.
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(stream->Finish({}, "").ok());
  EXPECT_TRUE(*memory_.Data("broken") == data);
  EXPECT_EQ(budget_.used(), 0u);
}

TEST_F(WriteStreamTest, APartFailingForGoodAbortsTheUploadAndLeavesNothing) {
  s3::FaultInjectingClient faulty(memory_, 1);
  faulty.AddRule(s3::FaultRule::FailFrom(s3::Operation::kUploadPart, 2,
                                         Status(ErrorCode::kServerError, "injected")));
  auto stream = WriteStream::Start(faulty, pool_, budget_, Params("broken"));
  ASSERT_NE(stream, nullptr);
  std::string data = Pattern(40 * kMiB, 2);
  Status s;
  for (size_t off = 0; off < data.size() && s.ok(); off += kMiB) {
    s = stream->Append(std::string_view(data).substr(off, kMiB));
  }
  Result<std::string> etag = s.ok() ? stream->Finish({}, "") : Result<std::string>(s);
  EXPECT_FALSE(etag.ok());
  if (!stream->failed()) stream->Abort();
  EXPECT_FALSE(memory_.Info("broken").has_value());
  EXPECT_EQ(memory_.RequestCount(Op::kAbortMultipartUpload), 1u);
  Result<s3::ListMultipartUploadsPage> uploads = memory_.ListMultipartUploads({});
  ASSERT_TRUE(uploads.ok());
  EXPECT_TRUE(uploads->uploads.empty());
  EXPECT_EQ(budget_.used(), 0u);
}

TEST_F(WriteStreamTest, NoBudgetNoStreamAndATightBudgetStillCompletes) {
  MemoryBudget tight(5 * kMiB);
  auto first = WriteStream::Start(memory_, pool_, tight, Params("one"));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(WriteStream::Start(memory_, pool_, tight, Params("two")), nullptr);
  std::string data = Pattern(23 * kMiB, 3);
  ASSERT_TRUE(first->Append(data).ok());
  ASSERT_TRUE(first->Finish({}, "").ok());
  EXPECT_TRUE(*memory_.Data("one") == data);
  EXPECT_LE(tight.peak(), 5 * kMiB);
}

class ReadAheadTest : public ::testing::Test {
 protected:
  ReadAheadParams Params() {
    ReadAheadParams p;
    p.min_window = 256 << 10;
    p.max_window = 8 * kMiB;
    p.chunk_size = 2 * kMiB;
    return p;
  }
  // Reads key front to back, 256 KiB at a time; where every read succeeds, the bytes must be data.
  Status ReadThrough(s3::ObjectClient& client, const std::string& key, const std::string& etag,
                     const std::string& data, const ReadAheadParams& params) {
    ReadAhead reader(client, pool_, budget_, key, etag, data.size(), params);
    std::string back;
    for (;;) {
      Result<std::string> r = reader.Read(back.size(), 256 << 10);
      if (!r.ok()) return r.status();
      if (r->empty()) break;
      back += *r;
    }
    EXPECT_TRUE(back == data);
    return Status::Ok();
  }
  s3::MemoryObjectClient memory_;
  WorkerPool pool_{4};
  MemoryBudget budget_{32 * kMiB};
};

TEST_F(ReadAheadTest, SequentialReadsArePrefetchedInGrowingChunks) {
  std::string data = Pattern(20 * kMiB + 3, 4);
  PutObject(memory_, "seq", data);
  ReadAhead reader(memory_, pool_, budget_, "seq", memory_.Info("seq")->etag, data.size(), Params());
  std::string back;
  for (;;) {
    Result<std::string> r = reader.Read(back.size(), 128 << 10);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->empty()) break;
    back += *r;
  }
  EXPECT_TRUE(back == data);
  // 160 kernel-sized reads became a dozen or so GETs of up to 2 MiB.
  EXPECT_LE(memory_.RequestCount(Op::kGetObject), 16u);
  EXPECT_LE(budget_.peak(), 32 * kMiB);
}

// ReadViews hands out the chunks themselves (the FUSE reply is written from them): the views
// stay valid while they are kept, even after the reader moved on, was dropped, and its chunks
// would otherwise have gone back to the buffer pool.
TEST_F(ReadAheadTest, ViewsIntoChunksStayValidWhileKept) {
  std::string data = Pattern(6 * kMiB + 7, 12);
  PutObject(memory_, "views", data);
  BufferPool buffers(budget_, 16 * kMiB);
  ReadAheadParams params = Params();
  params.buffers = &buffers;
  std::vector<std::string_view> pieces;
  std::vector<std::shared_ptr<const void>> keep;
  {
    ReadAhead reader(memory_, pool_, budget_, "views", memory_.Info("views")->etag, data.size(),
                     params);
    std::string rest;
    ASSERT_TRUE(reader.Read(0, 200 << 10, &rest).ok());
    // Across a chunk boundary (the first chunk is 256 KiB): two pieces.
    ASSERT_TRUE(reader.ReadViews(200 << 10, 100 << 10, &pieces, &keep).ok());
    for (uint64_t off = 300 << 10; off < data.size(); off += 128 << 10) {
      ASSERT_TRUE(reader.Read(off, 128 << 10, &rest).ok());
    }
  }
  EXPECT_GE(pieces.size(), 2u);
  std::string joined;
  for (std::string_view piece : pieces) joined.append(piece);
  EXPECT_TRUE(joined == data.substr(200 << 10, 100 << 10));
  keep.clear();
  EXPECT_EQ(budget_.used(), buffers.idle_bytes());  // every chunk is back in the pool or freed
}

TEST_F(ReadAheadTest, ChunkBuffersAreReusedAlongASequentialRead) {
  std::string data = Pattern(48 * kMiB + 5, 11);
  PutObject(memory_, "reuse", data);
  BufferPool buffers(budget_, 16 * kMiB);
  ReadAheadParams params = Params();
  params.buffers = &buffers;
  ReadAhead reader(memory_, pool_, budget_, "reuse", memory_.Info("reuse")->etag, data.size(),
                   params);
  std::string back;
  std::string out;
  for (;;) {
    ASSERT_TRUE(reader.Read(back.size(), 1 << 20, &out).ok());
    if (out.empty()) break;
    back += out;
  }
  EXPECT_TRUE(back == data);
  // About 28 chunks: growing ones (256 KiB to 1 MiB), then 2 MiB ones; a window of 8 MiB holds
  // about 4 of those at once. Only the window's worth is new memory (every buffer a whole chunk
  // long): the other chunks reuse the buffers of chunks the reader has passed.
  EXPECT_GE(buffers.reused(), 14u) << buffers.allocated() << " allocated";
  EXPECT_LE(buffers.allocated(), 12u) << buffers.reused() << " reused";
  EXPECT_LE(buffers.idle_bytes(), 16 * kMiB);
  EXPECT_LE(budget_.peak(), 32 * kMiB);  // idle buffers too are inside the budget
}

// Four readers of long objects at once, with room for two idle buffers (as in a mount, where
// idle buffers are at most an eighth of the budget): every chunk buffer of a long object is made
// a whole chunk long, so any idle buffer serves any later chunk of any reader, and most chunks
// reuse one. (Buffers cut to each reader's growing first chunks would fill the idle room, and
// every later chunk would be new memory to fault in.)
TEST_F(ReadAheadTest, ParallelReadersOfLongObjectsReuseChunkBuffers) {
  BufferPool buffers(budget_, 4 * kMiB);
  ReadAheadParams params = Params();
  params.buffers = &buffers;
  std::vector<std::string> data;
  std::vector<std::unique_ptr<ReadAhead>> readers;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "long" + std::to_string(i);
    data.push_back(Pattern(24 * kMiB + 5, 20 + i));
    PutObject(memory_, name, data.back());
    readers.push_back(std::make_unique<ReadAhead>(memory_, pool_, budget_, name,
                                                  memory_.Info(name)->etag, data.back().size(),
                                                  params));
  }
  std::vector<std::string> back(readers.size());
  std::string out;
  for (bool reading = true; reading;) {
    reading = false;
    for (size_t i = 0; i < readers.size(); ++i) {
      if (back[i].size() == data[i].size()) continue;
      ASSERT_TRUE(readers[i]->Read(back[i].size(), 1 << 20, &out).ok());
      back[i] += out;
      reading = true;
    }
  }
  for (size_t i = 0; i < readers.size(); ++i) EXPECT_TRUE(back[i] == data[i]) << i;
  // About 13 chunks per reader; the first windows' worth is new, the rest mostly reused.
  EXPECT_GT(buffers.reused(), buffers.allocated()) << buffers.allocated() << " allocated";
  // Beyond the budget only what a reader waits for once it is spent (Force): a read and the
  // min_window kept behind it, per reader. Chunks kept reorder_window behind would exceed this.
  const uint64_t waited_for = readers.size() * (2 * Params().min_window + (1 << 20));
  EXPECT_LE(budget_.peak(), 32 * kMiB + waited_for);
}

TEST_F(ReadAheadTest, RandomReadsFetchExactlyWhatIsAsked) {
  std::string data = Pattern(16 * kMiB, 5);
  PutObject(memory_, "rnd", data);
  CountingClient counting(memory_);
  ReadAhead reader(counting, pool_, budget_, "rnd", memory_.Info("rnd")->etag, data.size(),
                   Params());
  std::mt19937 rng(9);
  uint64_t bytes = 0;
  for (int i = 0; i < 50; ++i) {
    uint64_t off = (rng() % (data.size() / 4096 - 1) + 1) * 4096;
    Result<std::string> r = reader.Read(off, 4096);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, data.substr(off, 4096));
    bytes += r->size();
  }
  EXPECT_EQ(counting.requests(), 50u);
  EXPECT_EQ(bytes, 50u * 4096);
}

TEST_F(ReadAheadTest, AReplacedObjectIsStaleNeverMixed) {
  PutObject(memory_, "x", Pattern(4 * kMiB, 6));
  ReadAhead reader(memory_, pool_, budget_, "x", memory_.Info("x")->etag, 4 * kMiB, Params());
  ASSERT_TRUE(reader.Read(0, 4096).ok());
  PutObject(memory_, "x", Pattern(4 * kMiB, 7));
  Status s;
  for (uint64_t off = 4096; off < 4 * kMiB && s.ok(); off += 128 << 10) {
    s = reader.Read(off, 128 << 10).status();
  }
  EXPECT_EQ(s.code(), ErrorCode::kStale) << s.ToString();
}

TEST_F(ReadAheadTest, AFlippedByteFailsTheLastReadOfASequentialReader) {
  std::string data = Pattern(6 * kMiB + 11, 8);
  PutObject(memory_, "f", data);
  FlippingClient flipping(memory_, 3 * kMiB + 5);
  ReadAhead reader(flipping, pool_, budget_, "f", memory_.Info("f")->etag, data.size(), Params());
  Status last;
  uint64_t off = 0;
  for (;;) {
    Result<std::string> r = reader.Read(off, 128 << 10);
    if (!r.ok()) {
      last = r.status();
      break;
    }
    if (r->empty()) break;
    off += r->size();
  }
  EXPECT_EQ(last.code(), ErrorCode::kCorrupt) << "read to " << off;
  // The same bytes read without the flip verify.
  ReadAhead clean(memory_, pool_, budget_, "f", memory_.Info("f")->etag, data.size(), Params());
  std::string back;
  for (;;) {
    Result<std::string> r = clean.Read(back.size(), 128 << 10);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->empty()) break;
    back += *r;
  }
  EXPECT_TRUE(back == data);
}

TEST_F(ReadAheadTest, ConcurrentOutOfOrderReadsAreServedAndVerified) {
  std::string data = Pattern(12 * kMiB, 10);
  PutObject(memory_, "c", data);
  ReadAhead reader(memory_, pool_, budget_, "c", memory_.Info("c")->etag, data.size(), Params());
  // As the kernel does: several reads of one handle in flight, answered out of order.
  std::vector<std::thread> threads;
  std::vector<std::string> parts(data.size() / (128 << 10));
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < parts.size(); i = next++) {
        Result<std::string> r = reader.Read(i * (128 << 10), 128 << 10);
        if (!r.ok()) failures++;
        else parts[i] = *r;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::string back;
  for (auto& p : parts) back += p;
  EXPECT_TRUE(back == data);
}
// With the budget spent, nothing is fetched ahead: the kernel's later reads can reach the daemon
// before earlier ones, past what was fetched. The run must go on over that gap (one fetch, each
// byte once, still verified), not restart there and drop what the overtaken reads wait for.
TEST_F(ReadAheadTest, AReadOvertakingItsPredecessorWithTheBudgetSpentKeepsTheRun) {
  const uint64_t kRead = 128 << 10;
  std::string data = Pattern(3 * kMiB, 15);
  PutObject(memory_, "o", data);
  const uint64_t flip_at = 2 * kMiB + 77;
  for (bool flip : {false, true}) {
    MemoryBudget spent(4 * kMiB);
    MemoryBudget::Lease all = spent.TryAcquire(4 * kMiB);
    ASSERT_TRUE(all.held());
    FlippingClient client(memory_, flip ? flip_at : data.size());
    ReadAhead reader(client, pool_, spent, "o", memory_.Info("o")->etag, data.size(), Params());
    std::string back(data.size(), '\0');
    Status last;
    // 0, then groups of five reads with the last first: 640K, 128K, 256K, 384K, 512K, 1280K, ...
    // Each group's first read is 512 KiB past the end of the read before: past what was fetched
    // and past min_window (256 KiB), within reorder_window.
    std::vector<uint64_t> order{0};
    for (uint64_t g = kRead; g < data.size(); g += 5 * kRead) {
      for (uint64_t off : {g + 4 * kRead, g, g + kRead, g + 2 * kRead, g + 3 * kRead}) {
        if (off < data.size()) order.push_back(off);
      }
    }
    ASSERT_EQ(order.size(), data.size() / kRead);
    for (uint64_t off : order) {
      Result<std::string> r = reader.Read(off, kRead);
      if (!r.ok()) {
        last = r.status();
        break;
      }
      back.replace(off, r->size(), *r);
    }
    if (flip) {
      EXPECT_EQ(last.code(), ErrorCode::kCorrupt) << last.ToString();
      continue;
    }
    ASSERT_TRUE(last.ok()) << last.ToString();
    EXPECT_TRUE(back == data);
    EXPECT_EQ(client.bytes_downloaded(), data.size()) << "bytes fetched twice";
    EXPECT_LE(client.requests(), data.size() / Params().min_window + 1);
  }
}

TEST_F(ReadAheadTest, TheDeclaredPartLayoutVerifiesPartsOfGrowingSize) {
  std::string data = Pattern(kGrowingSize, 9);
  std::string etag = PutInParts(memory_, "g", data, kGrowing, {});
  ASSERT_TRUE(etag.ends_with("-5\"")) << etag;
  auto read_all = [&](s3::ObjectClient& client, std::optional<s3::PartLayout> layout) {
    ReadAheadParams params = Params();
    params.layout = layout;
    return ReadThrough(client, "g", etag, data, params);
  };
  EXPECT_TRUE(read_all(memory_, kGrowing).ok());
  FlippingClient flipping(memory_, 12 * kMiB + 3);  // in the third part (10 MiB)
  EXPECT_EQ(read_all(flipping, kGrowing).code(), ErrorCode::kCorrupt);
}

// Another client's object in unequal parts whose size fits one uniform part size (31 MiB in 5
// parts: 7 MiB, which is not how it was cut): the derived size gives a mismatch on correct bytes.
// A second read that gives the same bytes shows the parts are unequal: the read succeeds, and
// what the two made is remembered: the next reader reads once and is checked against it (a
// changed byte still fails it). A byte changed on the first read only is found too: the second
// read then gives other bytes.
TEST_F(ReadAheadTest, UnequalPartsThatFitAUniformSizeAreConfirmedByASecondReadNotCalledCorrupt) {
  std::string data = Pattern(kGrowingSize, 9);
  std::string etag = PutInParts(memory_, "g", data, kGrowing, {});
  UnequalPartObjects unequal;
  auto read_all = [&](s3::ObjectClient& client) {
    ReadAheadParams params = Params();
    params.unequal_parts = &unequal;
    return ReadThrough(client, "g", etag, data, params);
  };
  FlippingClient once(memory_, 12 * kMiB + 3, /*once=*/true);
  EXPECT_EQ(read_all(once).code(), ErrorCode::kCorrupt);
  EXPECT_FALSE(unequal.AgreedEtag("g", etag));

  ByteCountingClient counted(memory_);
  Status first = read_all(counted);
  EXPECT_TRUE(first.ok()) << first.ToString();
  EXPECT_EQ(counted.bytes(), 2 * kGrowingSize);  // read, then read again to confirm
  EXPECT_TRUE(unequal.AgreedEtag("g", etag));
  EXPECT_EQ(budget_.used(), 0u);

  ByteCountingClient counted_again(memory_);
  EXPECT_TRUE(read_all(counted_again).ok());
  EXPECT_EQ(counted_again.bytes(), kGrowingSize);
  FlippingClient flipping(memory_, 20 * kMiB + 1);
  EXPECT_EQ(read_all(flipping).code(), ErrorCode::kCorrupt);
  // Another version of the same key is not known.
  EXPECT_FALSE(unequal.AgreedEtag("g", "\"0123456789abcdef0123456789abcdef-5\""));
}

// With verify_batch the hashing waits until that many bytes are ready and hashes the parts they
// cover side by side: a changed byte in any part is still found at the end, and the chunks kept
// for the hashing stay within the reader's lag (window + verify_batch + a chunk).
TEST_F(ReadAheadTest, BatchedHashingFindsAChangedByteInAnyPartWithinItsMemory) {
  const s3::PartLayout layout{5 * kMiB, 0};
  std::string data = Pattern(41 * kMiB + 3, 14);  // 9 parts
  std::string etag = PutInParts(memory_, "batched", data, layout, {});
  ASSERT_TRUE(etag.ends_with("-9\"")) << etag;
  auto read_all = [&](s3::ObjectClient& client, MemoryBudget& budget) {
    ReadAheadParams params = Params();
    params.layout = layout;
    params.verify_batch = 12 * kMiB;
    ReadAhead reader(client, pool_, budget, "batched", etag, data.size(), params);
    std::string back;
    std::string out;
    for (;;) {
      Status s = reader.Read(back.size(), 512 << 10, &out);
      if (!s.ok()) return s;
      if (out.empty()) break;
      back += out;
    }
    EXPECT_TRUE(back == data);
    return Status::Ok();
  };
  MemoryBudget roomy(256 * kMiB);
  EXPECT_TRUE(read_all(memory_, roomy).ok());
  EXPECT_LE(roomy.peak(), 24 * kMiB);
  for (uint64_t at : {3 * kMiB, 17 * kMiB + 1, 40 * kMiB, data.size() - 1}) {
    FlippingClient flipping(memory_, at);
    MemoryBudget budget(256 * kMiB);
    EXPECT_EQ(read_all(flipping, budget).code(), ErrorCode::kCorrupt) << "byte " << at;
  }
  // A budget too small for a batch: what is ready is hashed at once, and the reader keeps no
  // more than min_window unhashed beyond what the budget pays for.
  MemoryBudget tight(4 * kMiB);
  EXPECT_TRUE(read_all(memory_, tight).ok());
  FlippingClient flipping(memory_, 29 * kMiB);
  MemoryBudget tight_too(4 * kMiB);
  EXPECT_EQ(read_all(flipping, tight_too).code(), ErrorCode::kCorrupt);
}

// --- the Filesystem streaming through them ---

class StreamingFilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.staging_dir = ::testing::TempDir();
    o.part_size = 5 * kMiB;
    o.multipart_threshold = 5 * kMiB;
    o.memory_budget = 64 * kMiB;
    o.metadata_flush_delay = std::chrono::seconds(60);
    fs_ = std::make_unique<Filesystem>(memory_, o);
  }
  FileHandle Create(const std::string& name) {
    Result<CreateReply> c = fs_->Create(caller_, kRootInode, name, 0644, O_CREAT | O_WRONLY);
    EXPECT_TRUE(c.ok());
    return c.ok() ? c->open.fh : 0;
  }
  std::string ReadAll(const std::string& name) { return testing::ReadWhole(*fs_, caller_, name); }
  s3::MemoryObjectClient memory_;
  Caller caller_{1000, 1000, 42, {}};
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(StreamingFilesystemTest, SequentialWriteStreamsWithoutStagingAndIsCompleteOnRelease) {
  std::string data = Pattern(13 * kMiB + 1, 11);
  FileHandle fh = Create("s");
  for (size_t off = 0; off < data.size(); off += 128 << 10) {
    ASSERT_TRUE(fs_->Write(fh, off, std::string_view(data).substr(off, 128 << 10)).ok());
  }
  EXPECT_EQ(memory_.Info("s")->size, 0u);  // the empty object of create; no partial object
  EXPECT_EQ(memory_.RequestCount(Op::kCreateMultipartUpload), 1u);  // parts are on their way
  ASSERT_TRUE(fs_->Release(fh).ok());
  EXPECT_TRUE(*memory_.Data("s") == data);
  EXPECT_EQ(ReadAll("s"), data);
  EXPECT_EQ(fs_->GetCounters().memory_in_use, 0u);
  EXPECT_EQ(memory_.Info("s")->metadata.at("spacesfs-part-layout"), "5242880,1000");
  // The layout is not an attribute change: unmounting writes no metadata copy.
  fs_.reset();
  EXPECT_EQ(memory_.RequestCount(Op::kCopyObject), 0u);
}

TEST_F(StreamingFilesystemTest, ReadsVerifyWithThePartLayoutTheObjectDeclares) {
  std::string data = Pattern(kGrowingSize, 13);
  PutInParts(memory_, "declared", data, kGrowing, {{"spacesfs-part-layout", "5242880,2"}});
  EXPECT_TRUE(ReadAll("declared") == data);
  // A declaration that is not a layout is ignored: equal 5 MiB parts are derived and checked.
  std::string equal = Pattern(26 * kMiB, 14);
  PutInParts(memory_, "junk", equal, s3::PartLayout{5 * kMiB, 0},
             {{"spacesfs-part-layout", "five,never"}});
  EXPECT_TRUE(ReadAll("junk") == equal);
}

// verify_reads decides whether a sequential reader checks the bytes against the ETag: with it (the
// default) a byte changed on the way fails the read at the end; without it the reader gets the
// bytes as they came (and spends no MD5 on them).
TEST(VerifyReadsOptionTest, TheOptionDecidesWhetherAChangedByteFailsTheRead) {
  s3::MemoryObjectClient memory;
  std::string data = Pattern(10 * kMiB + 7, 15);
  PutObject(memory, "v", data);
  FlippingClient flipping(memory, 6 * kMiB + 1);
  Caller caller{1000, 1000, 42, {}};
  auto read_through = [&](bool verify) -> Result<std::string> {
    Options o;
    o.staging_dir = ::testing::TempDir();
    o.verify_reads = verify;
    Filesystem fs(flipping, o);
    Result<Entry> e = fs.Lookup(caller, kRootInode, "v");
    if (!e.ok()) return e.status();
    Result<OpenReply> open = fs.Open(caller, e->ino, O_RDONLY);
    if (!open.ok()) return open.status();
    std::string out;
    Status status;
    for (;;) {
      Result<std::string> r = fs.Read(open->fh, out.size(), 128 << 10);
      if (!r.ok()) {
        status = r.status();
        break;
      }
      if (r->empty()) break;
      out += *r;
    }
    EXPECT_TRUE(fs.Release(open->fh).ok());
    if (!status.ok()) return status;
    return out;
  };
  Result<std::string> checked = read_through(true);
  EXPECT_EQ(checked.status().code(), ErrorCode::kCorrupt) << checked.status().ToString();
  Result<std::string> unchecked = read_through(false);
  ASSERT_TRUE(unchecked.ok()) << unchecked.status().ToString();
  ASSERT_EQ(unchecked->size(), data.size());
  EXPECT_NE((*unchecked)[6 * kMiB + 1], data[6 * kMiB + 1]);
  EXPECT_EQ(unchecked->substr(0, 6 * kMiB), data.substr(0, 6 * kMiB));
}

TEST_F(StreamingFilesystemTest, ASeekBackWhileStreamingFallsBackAndKeepsEveryByte) {
  std::string data = Pattern(11 * kMiB, 12);
  FileHandle fh = Create("seek");
  ASSERT_TRUE(fs_->Write(fh, 0, data).ok());
  // Rewrite a header, as archivers do: the stream is completed and the file staged.
  ASSERT_TRUE(fs_->Write(fh, 10, "HEADER").ok());
  data.replace(10, 6, "HEADER");
  ASSERT_TRUE(fs_->Write(fh, data.size(), "tail").ok());
  data += "tail";
  Result<std::string> mid = fs_->Read(fh, 5 * kMiB, 16);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(*mid, data.substr(5 * kMiB, 16));
  ASSERT_TRUE(fs_->Release(fh).ok());
  EXPECT_TRUE(*memory_.Data("seek") == data);
}

TEST_F(StreamingFilesystemTest, ReadsTruncateAndUnlinkOfAStreamingFile) {
  std::string data = Pattern(7 * kMiB, 13);
  FileHandle fh = Create("t");
  ASSERT_TRUE(fs_->Write(fh, 0, data).ok());
  Result<std::string> buffered = fs_->Read(fh, 6 * kMiB, 100);  // still in the part buffer
  ASSERT_TRUE(buffered.ok());
  EXPECT_EQ(*buffered, data.substr(6 * kMiB, 100));
  Result<std::string> sent = fs_->Read(fh, 100, 100);  // already sent: the object completes
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, data.substr(100, 100));
  SetAttrRequest trunc;
  trunc.size = 3 * kMiB;
  Result<Entry> e = fs_->Lookup(caller_, kRootInode, "t");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(fs_->SetAttr(caller_, e->ino, trunc, fh).ok());
  ASSERT_TRUE(fs_->Release(fh).ok());
  EXPECT_TRUE(*memory_.Data("t") == data.substr(0, 3 * kMiB));

  // Unlinked while streaming: nothing is left on the server, the handle still reads its bytes.
  FileHandle u = Create("u");
  ASSERT_TRUE(fs_->Write(u, 0, data).ok());
  ASSERT_TRUE(fs_->Unlink(caller_, kRootInode, "u").ok());
  Result<std::string> after = fs_->Read(u, 2 * kMiB, 64);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*after, data.substr(2 * kMiB, 64));
  ASSERT_TRUE(fs_->Release(u).ok());
  EXPECT_FALSE(memory_.Info("u").has_value());
  Result<s3::ListMultipartUploadsPage> uploads = memory_.ListMultipartUploads({});
  ASSERT_TRUE(uploads.ok());
  EXPECT_TRUE(uploads->uploads.empty());
}

TEST_F(StreamingFilesystemTest, OTruncRewriteStreamsAndChmodDuringTheStreamIsKept) {
  std::string first = Pattern(6 * kMiB, 14);
  FileHandle fh = Create("r");
  ASSERT_TRUE(fs_->Write(fh, 0, first).ok());
  ASSERT_TRUE(fs_->Release(fh).ok());
  Result<Entry> e = fs_->Lookup(caller_, kRootInode, "r");
  ASSERT_TRUE(e.ok());
  Result<OpenReply> o = fs_->Open(caller_, e->ino, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(o.ok());
  std::string second = Pattern(12 * kMiB, 15);
  memory_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Write(o->fh, 0, second).ok());
  EXPECT_EQ(memory_.RequestCount(Op::kGetObject), 0u);  // nothing downloaded to overwrite it
  SetAttrRequest chmod;
  chmod.mode = 0600;
  ASSERT_TRUE(fs_->SetAttr(caller_, e->ino, chmod, std::nullopt).ok());
  ASSERT_TRUE(fs_->Release(o->fh).ok());
  ASSERT_TRUE(fs_->SyncMetadata().ok());
  EXPECT_TRUE(*memory_.Data("r") == second);
  EXPECT_EQ(memory_.Info("r")->metadata.at("mode"), std::to_string(S_IFREG | 0600));
}

TEST_F(StreamingFilesystemTest, AReaderClosingDoesNotCutTheWritersStreamShort) {
  std::string data = Pattern(12 * kMiB, 16);
  FileHandle fh = Create("w");
  ASSERT_TRUE(fs_->Write(fh, 0, std::string_view(data).substr(0, 6 * kMiB)).ok());
  Result<Entry> e = fs_->Lookup(caller_, kRootInode, "w");
  ASSERT_TRUE(e.ok());
  Result<OpenReply> reader = fs_->Open(caller_, e->ino, O_RDONLY);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(fs_->Flush(reader->fh).ok());
  ASSERT_TRUE(fs_->Release(reader->fh).ok());
  memory_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Write(fh, 6 * kMiB, std::string_view(data).substr(6 * kMiB)).ok());
  ASSERT_TRUE(fs_->Release(fh).ok());
  EXPECT_EQ(memory_.RequestCount(Op::kGetObject), 0u);  // never downloaded to go on
  EXPECT_EQ(memory_.RequestCount(Op::kCompleteMultipartUpload), 1u);
  EXPECT_TRUE(*memory_.Data("w") == data);
}

}  // namespace
}  // namespace spacesfs::fs

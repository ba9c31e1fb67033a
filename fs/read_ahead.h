// ReadAhead: serves the reads of one open handle from one version of an object (its ETag and
// size) with ranged GETs.
//
// - A sequential reader (starting at 0, or reading on from where it was) gets chunks fetched
//   ahead of it, several in parallel on the WorkerPool. The window ahead grows with the length of
//   the sequential run, from min_window up to max_window; chunks grow from min_window up to
//   chunk_size. Chunks already passed are dropped.
// - A random reader gets exactly the bytes the kernel asked for (one GET each), nothing more.
// - Prefetched chunks hold MemoryBudget leases; when the budget is spent, nothing is fetched ahead
//   (the read itself is still served, with a GET of just its range). With a BufferPool, a chunk
//   of an object of at least chunk_size takes a buffer (and lease) of a whole chunk_size, so idle
//   buffers fit every later chunk.
// - With a DiskCache (params.cache), every range is looked up there before a GET and what a GET
//   brought is stored there. Sequential runs then start, and chunks end, on multiples of
//   cache_block, and chunks are cached block by block, so a later reader of the same version asks
//   for the same blocks whatever its chunk sizes (a second `cat` makes no GET). A random read is
//   served from the cache when every block it touches is there, else as an entry of its own
//   (offset, length). Cached bytes are fed to the verifier like fetched ones; a mismatch removes
//   the object's entries from the cache.
// - Every GET carries If-Match: a replaced object gives kStale, never a mix of versions.
// - Integrity: bytes fetched front to back are fed, in order, to an ObjectVerifier; the read that
//   returns the last byte of the object fails with kCorrupt if they do not match the ETag (S3
//   gives no checksum for a range). Readers that skip around are not verified. The hashing runs
//   on the pool thread whose fetch completed, not on the reader's path. On an object of three
//   parts or more it waits until verify_batch bytes are ready, while the budget has room for
//   half of that, and then hashes the parts they cover side by side. A reader waits for the
//   hashing only at the object's last byte and when it is ahead of it by more than a batch (a
//   chunk when not batching, min_window when the budget cannot pay for a chunk): the chunks kept
//   for hashing stay bounded.
//
// Threading: Read is thread-safe (the kernel may send several reads of one handle at once);
// background fetches keep the shared state alive, so a ReadAhead may be destroyed at any time.
// Errors: the client's (kNotFound means the object is gone: reported as kStale), kIoError for a
// short body, kCorrupt as above.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fs/memory_budget.h"
#include "fs/unequal_part_objects.h"
#include "fs/worker_pool.h"
#include "s3/object_client.h"
#include "s3/object_verifier.h"

namespace spacesfs::fs {

class BufferPool;
class DiskCache;

struct ReadAheadParams {
  uint64_t min_window = 1ull << 20;   // first chunk; also the least read ahead of a sequential run
  uint64_t max_window = 64ull << 20;  // most bytes fetched ahead of the reader
  uint64_t chunk_size = 8ull << 20;   // largest single GET
  // How far the kernel's reads of one handle arrive out of order (its read-ahead requests are
  // answered by several threads, and the budget spent makes each wait for its own GET): a read up
  // to this far past the last one goes on with the run, and the chunks this far behind the
  // newest read are kept for the reads it overtook. At least min_window.
  uint64_t reorder_window = 4ull << 20;
  bool verify = true;                 // check sequential reads against the ETag
  std::optional<s3::PartLayout> layout;  // how the uploader cut the object, if it declared it
  // Optional; must outlive the ReadAhead. Versions cut in unequal parts that fit a derived
  // uniform size: checked against what two reads agreed on; a confirmed mismatch adds one.
  UnequalPartObjects* unequal_parts = nullptr;
  DiskCache* cache = nullptr;         // optional; must outlive the ReadAhead's fetches
  uint64_t cache_block = 1ull << 20;  // alignment of cached blocks (with a cache)
  BufferPool* buffers = nullptr;      // optional; chunk buffers come from and go back to it
  // Ready bytes the hashing collects before it hashes them at once, their parts side by side
  // (s3::Md5UpdateMany); 0 hashes every chunk as it arrives. The reader may be this much ahead
  // of the hashing, so the chunks kept for it reach this size.
  uint64_t verify_batch = 0;
};

class ReadAhead {
 public:
  // client, pool and budget must outlive this object and its background fetches.
  ReadAhead(s3::ObjectClient& client, WorkerPool& pool, MemoryBudget& budget, std::string key,
            std::string etag, uint64_t size, ReadAheadParams params);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Up to size bytes at offset (fewer only at the end of the object), into *out (replacing what
  // it held; its capacity is reused, so a caller that keeps one buffer makes no allocation).
  Status Read(uint64_t offset, size_t size, std::string* out);
  Result<std::string> Read(uint64_t offset, size_t size);
  // The same without copying: *pieces are views, in order, into buffers *keep holds alive (the
  // read-ahead chunks themselves); valid until the caller clears keep. Both are appended to.
  Status ReadViews(uint64_t offset, size_t size, std::vector<std::string_view>* pieces,
                   std::vector<std::shared_ptr<const void>>* keep);

  const std::string& etag() const;
  uint64_t size() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace spacesfs::fs

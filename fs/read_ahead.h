// ReadAhead: serves the reads of one open handle from one version of an object (its ETag and
// size) with ranged GETs.
//
// - A sequential reader (starting at 0, or reading on from where it was) gets chunks fetched
//   ahead of it, several in parallel on the WorkerPool. The window ahead grows with the length of
//   the sequential run, from min_window up to max_window; chunks grow from min_window up to
//   chunk_size. Chunks already passed are dropped.
// - A random reader gets exactly the bytes the kernel asked for (one GET each), nothing more.
// - Prefetched chunks hold MemoryBudget leases; when the budget is spent, nothing is fetched ahead
//   (the read itself is still served, with a GET of just its range).
// - Every GET carries If-Match: a replaced object gives kStale, never a mix of versions.
// - Integrity: bytes fetched front to back are fed, in order, to an ObjectVerifier; the read that
//   returns the last byte of the object fails with kCorrupt if they do not match the ETag (S3
//   gives no checksum for a range). Readers that skip around are not verified.
//
// Threading: Read is thread-safe (the kernel may send several reads of one handle at once);
// background fetches keep the shared state alive, so a ReadAhead may be destroyed at any time.
// Errors: the client's (kNotFound means the object is gone: reported as kStale), kIoError for a
// short body, kCorrupt as above.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "fs/memory_budget.h"
#include "fs/worker_pool.h"
#include "s3/object_client.h"

namespace spacesfs::fs {

struct ReadAheadParams {
  uint64_t min_window = 1ull << 20;   // first chunk; also the least read ahead of a sequential run
  uint64_t max_window = 64ull << 20;  // most bytes fetched ahead of the reader
  uint64_t chunk_size = 8ull << 20;   // largest single GET
  bool verify = true;                 // check sequential reads against the ETag
};

class ReadAhead {
 public:
  // client, pool and budget must outlive this object and its background fetches.
  ReadAhead(s3::ObjectClient& client, WorkerPool& pool, MemoryBudget& budget, std::string key,
            std::string etag, uint64_t size, ReadAheadParams params);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Up to size bytes at offset (fewer only at the end of the object).
  Result<std::string> Read(uint64_t offset, size_t size);

  const std::string& etag() const;
  uint64_t size() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace spacesfs::fs

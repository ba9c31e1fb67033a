#include "fs/read_ahead.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/status.h"
#include "fs/buffer_pool.h"
#include "fs/disk_cache.h"
#include "s3/object_verifier.h"

namespace spacesfs::fs {
namespace {

struct Chunk {
  explicit Chunk(BufferPool* pool) : buffers(pool) {}
  ~Chunk() {
    if (buffers != nullptr) buffers->Give(std::move(data), std::move(lease));
  }
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  BufferPool* const buffers;  // where data goes back to, if set
  uint64_t start = 0;
  uint64_t len = 0;
  bool ready = false;  // data (or error) is final
  uint64_t served = 0;  // bytes handed to reads (guarded by the State's mu)
  Status error;
  std::string data;
  MemoryBudget::Lease lease;
};

// One GET of [start, start + len); the whole object without a Range (the client then checks it
// against a plain ETag itself).
Status Fetch(s3::ObjectClient& client, const std::string& key, const std::string& etag,
             uint64_t object_size, uint64_t start, uint64_t len, std::string* out) {
  s3::GetObjectRequest get;
  get.key = key;
  get.if_match = etag;
  if (start != 0 || len != object_size) get.range = s3::ByteRange{start, start + len - 1};
  out->clear();
  out->reserve(len);
  Result<s3::ObjectInfo> info = client.GetObject(get, [&](std::string_view chunk) {
    if (out->size() + chunk.size() > len) return Status(ErrorCode::kCorrupt, key + ": long body");
    out->append(chunk);
    return Status::Ok();
  });
  if (!info.ok()) {
    if (info.status().code() == ErrorCode::kNotFound) {
      return Status(ErrorCode::kStale, key + " was deleted while open");
    }
    if (info.status().code() == ErrorCode::kPreconditionFailed) {
      return Status(ErrorCode::kStale, key + " was replaced while open");
    }
    return info.status();
  }
  if (out->size() != len) return Status(ErrorCode::kIoError, key + ": short read");
  return Status::Ok();
}

}  // namespace

struct ReadAhead::State {
  State(s3::ObjectClient& c, WorkerPool& p, MemoryBudget& b, std::string k, std::string e,
        uint64_t s, ReadAheadParams pa)
      : client(c), pool(p), budget(b), key(std::move(k)), etag(std::move(e)), size(s),
        params(pa) {
    if (params.verify) {
      verifier.emplace(etag, size, params.layout);
      if (!verifier->verifiable()) verifier.reset();
      if (verifier && verifier->layout_derived() && params.unequal_parts != nullptr) {
        // Known to be cut unequally: checked against what two reads agreed on instead.
        if (std::optional<std::string> agreed = params.unequal_parts->AgreedEtag(key, etag)) {
          const s3::PartLayout derived = *verifier->layout();
          verifier.emplace(*agreed, size, derived);
        }
      }
    }
    // Batches only pay where there are parts to hash side by side.
    if (verifier && verifier->layout()->PartCount(size) >= 3) verify_batch = params.verify_batch;
  }

  // Constant after construction.
  s3::ObjectClient& client;
  WorkerPool& pool;
  MemoryBudget& budget;
  const std::string key;
  const std::string etag;
  const uint64_t size;
  const ReadAheadParams params;
  const uint64_t reorder_window = std::max(params.min_window, params.reorder_window);
  uint64_t verify_batch = 0;  // params.verify_batch for an object of three parts or more

  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu.
  std::map<uint64_t, std::shared_ptr<Chunk>> chunks;  // by start; contiguous up to fetched_end
  bool sequential = false;
  uint64_t run_start = 0;    // where the current sequential run began
  uint64_t fetched_end = 0;  // chunks cover [chunks.begin()->start, fetched_end)
  uint64_t next_offset = 0;  // end of the last read
  // The verifier is used by one thread at a time: while `feeding`, by the thread hashing chunks
  // with mu released (FeedVerifier); otherwise by whoever holds mu. fed_to mirrors its fed().
  std::optional<s3::ObjectVerifier> verifier;
  uint64_t fed_to = 0;
  bool feeding = false;
  bool verify_abandoned = false;  // a chunk not fed yet was dropped while feeding: stop verifying
  bool corrupt = false;

  // Without mu: [start, start + len) from the cache where it is there, the rest with GETs (then
  // stored in the cache). Whole blocks are cached one by one, other ranges as themselves.
  Status Load(uint64_t start, uint64_t len, std::string* out) const;
  // Without mu: a random read; from whole cached blocks when all it touches are cached.
  Status LoadRandom(uint64_t offset, uint64_t len, std::string* out) const;
  // The end of a chunk reaching at least end: the next block boundary (or the object's end).
  uint64_t ChunkEnd(uint64_t end) const {
    if (params.cache == nullptr) return end;
    uint64_t block = params.cache_block;
    return std::min(size, (end + block - 1) / block * block);
  }
  // Without mu: reads the whole object again in order (GETs of chunk_size, past the cache, one
  // buffer taken from the budget) and checks it under layout. True when it makes the same ETag
  // first, which is not the object's: two reads gave the same bytes. False when it matches (the
  // first read was changed on the way), differs, or a GET fails.
  bool ReadsTheSameAgain(const std::string& first, s3::PartLayout layout) const {
    s3::ObjectVerifier again(etag, size, layout);
    MemoryBudget::Lease lease = budget.Force(std::min(size, params.chunk_size));
    std::string bytes;
    for (uint64_t at = 0; at < size;) {
      const uint64_t len = std::min(params.chunk_size, size - at);
      if (!Fetch(client, key, etag, size, at, len, &bytes).ok()) return false;
      again.Feed(at, bytes);
      at += len;
    }
    return again.Finish() == s3::ObjectVerifier::Outcome::kMismatch &&
           again.computed_etag() == first;
  }
  // REQUIRES mu. Adds chunks (started on the pool) until they reach target.
  void FetchAhead(uint64_t needed_end, uint64_t target, const std::shared_ptr<State>& self);
  // REQUIRES lock (on mu). Feeds the ready chunks after fed_to to the verifier, in order, hashing
  // with mu released (a ready chunk's data is final, and the chunk is held meanwhile), so reads
  // are answered and fetches complete while it hashes. Waits for verify_batch ready bytes
  // (or the object's end) unless whatever_is_ready. Returns at once if another thread feeds.
  void FeedVerifier(std::unique_lock<std::mutex>& lock, bool whatever_is_ready = false);
  // What the budget can still give (idle pooled buffers count as free: they are handed out
  // before anything new).
  uint64_t FreeBudget() const {
    uint64_t idle = params.buffers != nullptr ? params.buffers->idle_bytes() : 0;
    uint64_t used = budget.used() - std::min(budget.used(), idle);
    return budget.limit() - std::min(budget.limit(), used);
  }
  // Whether chunks are left waiting for a batch: only while the budget can pay for the chunks
  // still to come (many readers sharing a spent budget hash what they have).
  bool Batching() const { return verify_batch > 0 && FreeBudget() >= verify_batch / 2; }
  // How far a reader may be ahead of the hashing before it waits for it: a batch while batching,
  // a chunk while the budget has room for one, else min_window (the chunks kept for hashing
  // are then outside the budget).
  uint64_t HashingLag() const {
    if (Batching()) return std::max(params.chunk_size, verify_batch);
    return FreeBudget() >= params.chunk_size ? params.chunk_size : params.min_window;
  }
  // REQUIRES mu. Drops chunks behind offset: kept are min_window behind it, reorder_window
  // behind it those with bytes no read has taken yet (the reads offset overtook), and any the
  // verifier has yet to hash.
  void Advance(uint64_t offset);
  void DropAll() {
    chunks.clear();
    fetched_end = 0;
  }
  // REQUIRES lock (on mu). kCorrupt once every byte was fed and they do not match the ETag. A
  // mismatch under a derived part size is confirmed first, with mu released (ReadsTheSameAgain):
  // the same bytes twice mean the uploader cut unequal parts; they are taken, and what they make
  // is recorded in params.unequal_parts for later readers to check against.
  Status CheckEnd(std::unique_lock<std::mutex>& lock) {
    if (!verifier || feeding || fed_to != size) return Status::Ok();
    s3::ObjectVerifier::Outcome outcome = verifier->Finish();
    if (outcome == s3::ObjectVerifier::Outcome::kMismatch && verifier->layout_derived()) {
      feeding = true;  // keeps every other thread off the verifier meanwhile
      const std::string first = verifier->computed_etag();
      const s3::PartLayout layout = *verifier->layout();
      lock.unlock();
      bool same = ReadsTheSameAgain(first, layout);
      lock.lock();
      feeding = false;
      cv.notify_all();
      if (same) {
        if (params.unequal_parts != nullptr) params.unequal_parts->Add(key, etag, first);
        spdlog::warn("'{}': its ETag {} names parts of unequal sizes (two reads gave the same "
                     "bytes, which do not fit {}-byte parts); later reads are checked against "
                     "those bytes",
                     EscapeControlCharacters(key), EscapeControlCharacters(etag),
                     layout.part_size);
        outcome = s3::ObjectVerifier::Outcome::kMatch;
      }
    }
    if (outcome != s3::ObjectVerifier::Outcome::kMismatch) {
      verifier.reset();
      return Status::Ok();
    }
    corrupt = true;
    if (params.cache != nullptr) params.cache->Invalidate(key);
    return Status(ErrorCode::kCorrupt,
                  key + ": the bytes read do not match the object's ETag " + etag);
  }
};

void ReadAhead::State::FetchAhead(uint64_t needed_end, uint64_t target,
                                  const std::shared_ptr<State>& self) {
  while (fetched_end < target) {
    uint64_t len = std::min(params.chunk_size,
                            std::max(params.min_window, fetched_end - run_start));
    len = ChunkEnd(std::min(size, fetched_end + len)) - fetched_end;
    // A buffer paid for by the budget: a reused one from the pool, or new bytes.
    std::string bytes;
    MemoryBudget::Lease lease;
    if (params.buffers != nullptr) {
      // On an object of a chunk or more, every buffer is a whole chunk long, so that any idle
      // buffer serves any later chunk of any reader: buffers cut to the growing first chunks
      // and the short last one would fill the pool's idle room with sizes no full chunk fits.
      const uint64_t capacity = size >= params.chunk_size ? std::max(len, params.chunk_size) : len;
      if (std::optional<BufferPool::Buffer> b = params.buffers->TryTake(capacity)) {
        bytes = std::move(b->bytes);
        lease = std::move(b->lease);
      }
    } else {
      lease = budget.TryAcquire(len);
    }
    bool forced = false;
    if (!lease.held()) {
      if (fetched_end >= needed_end) return;  // only fetch ahead within the budget
      // What the reader waits for, taken beyond the budget: at most min_window per read in
      // flight, plus the gap a read that overtook others leaves (at most reorder_window). Its
      // lease keeps others from taking more until the budget is back under its limit, and its
      // buffer is freed after use, not pooled.
      len = ChunkEnd(std::min(std::max(needed_end - fetched_end, params.min_window),
                              size - fetched_end) + fetched_end) - fetched_end;
      lease = budget.Force(len);
      forced = true;
    }
    auto chunk = std::make_shared<Chunk>(forced ? nullptr : params.buffers);
    chunk->start = fetched_end;
    chunk->len = len;
    chunk->lease = std::move(lease);
    chunks[chunk->start] = chunk;
    fetched_end += len;
    pool.Submit([self, chunk, data = std::move(bytes)]() mutable {
      Status s = self->Load(chunk->start, chunk->len, &data);
      std::unique_lock lock(self->mu);
      chunk->data = std::move(data);
      chunk->error = s;
      chunk->ready = true;
      chunk.reset();  // under the lock: a dropped chunk's lease is back once readers wake
      self->cv.notify_all();
      self->FeedVerifier(lock);  // here, not on the reader's path
    });
  }
}

Status ReadAhead::State::Load(uint64_t start, uint64_t len, std::string* out) const {
  DiskCache* cache = params.cache;
  if (cache == nullptr) return Fetch(client, key, etag, size, start, len, out);
  const uint64_t block = params.cache_block;
  const uint64_t end = start + len;
  if (start % block != 0 || ChunkEnd(end) != end) {
    if (std::optional<std::string> hit = cache->Get(key, etag, start, len)) {
      *out = std::move(*hit);
      return Status::Ok();
    }
    SPACESFS_RETURN_IF_ERROR(Fetch(client, key, etag, size, start, len, out));
    cache->Put(key, etag, start, *out);
    return Status::Ok();
  }
  out->clear();
  out->reserve(len);
  uint64_t pos = start;
  while (pos < end) {
    uint64_t n = std::min(block, end - pos);
    if (std::optional<std::string> hit = cache->Get(key, etag, pos, n)) {
      out->append(*hit);
      pos += n;
      continue;
    }
    // This block and those after it up to one the cache holds: one GET.
    uint64_t run_end = pos + n;
    while (run_end < end && !cache->Contains(key, etag, run_end, std::min(block, end - run_end))) {
      run_end += std::min(block, end - run_end);
    }
    std::string run;
    SPACESFS_RETURN_IF_ERROR(Fetch(client, key, etag, size, pos, run_end - pos, &run));
    for (uint64_t at = pos; at < run_end; at += block) {
      cache->Put(key, etag, at, std::string_view(run).substr(at - pos, block));
    }
    if (out->empty()) {
      *out = std::move(run);
    } else {
      out->append(run);
    }
    pos = run_end;
  }
  return Status::Ok();
}

Status ReadAhead::State::LoadRandom(uint64_t offset, uint64_t len, std::string* out) const {
  if (DiskCache* cache = params.cache) {
    const uint64_t block = params.cache_block;
    const uint64_t first = offset - offset % block;
    const uint64_t last_end = ChunkEnd(offset + len);
    std::string whole;
    uint64_t pos = first;
    while (pos < last_end) {
      std::optional<std::string> hit = cache->Get(key, etag, pos, std::min(block, last_end - pos));
      if (!hit) break;
      whole.append(*hit);
      pos += hit->size();
    }
    if (pos == last_end) {
      *out = whole.substr(offset - first, len);
      return Status::Ok();
    }
  }
  return Load(offset, len, out);
}

void ReadAhead::State::FeedVerifier(std::unique_lock<std::mutex>& lock, bool whatever_is_ready) {
  if (feeding) return;
  feeding = true;
  std::vector<std::shared_ptr<Chunk>> batch;
  std::vector<std::string_view> pieces;
  while (verifier && !verify_abandoned) {
    // The ready chunks in a row from the one holding the next byte to check (it may have begun
    // before it).
    batch.clear();
    uint64_t ready_end = fed_to;
    auto it = chunks.upper_bound(fed_to);
    if (it == chunks.begin()) break;
    for (--it; it != chunks.end(); ++it) {
      const Chunk& c = *it->second;
      if (!c.ready || !c.error.ok() || c.start > ready_end || ready_end >= c.start + c.len) break;
      batch.push_back(it->second);
      ready_end = c.start + c.len;
    }
    if (batch.empty()) break;
    if (!whatever_is_ready && Batching() && ready_end - fed_to < verify_batch &&
        ready_end != size) {
      break;  // more chunks are coming: hash them together
    }
    const uint64_t fed = fed_to;
    pieces.clear();
    for (const std::shared_ptr<Chunk>& c : batch) {
      pieces.push_back(std::string_view(c->data).substr(std::max(fed, c->start) - c->start));
    }
    lock.unlock();
    bool accepted = verifier->FeedMany(fed, pieces);
    uint64_t now_fed = verifier->fed();
    lock.lock();
    pieces.clear();
    batch.clear();  // under the lock, as in the fetch that made them
    fed_to = now_fed;
    cv.notify_all();  // a reader may wait for the hashing to catch up
    if (!accepted) {  // bytes out of place for the verifier: stop verifying
      verify_abandoned = true;
      break;
    }
  }
  if (verify_abandoned) verifier.reset();
  verify_abandoned = false;
  feeding = false;
  cv.notify_all();
}

void ReadAhead::State::Advance(uint64_t offset) {
  // Keep min_window behind the reader for reads the kernel sent out of order, and up to
  // reorder_window a chunk such a read has yet to take bytes from.
  while (!chunks.empty()) {
    const Chunk& first = *chunks.begin()->second;
    if (!first.ready) break;
    const uint64_t keep_behind = first.served >= first.len ? params.min_window : reorder_window;
    if (first.start + first.len + keep_behind > offset) break;
    if (verifier && fed_to < first.start + first.len) {
      if (fed_to >= first.start) break;  // kept until the verifier has hashed it
      // Bytes before it were never fetched in this run: the object cannot be checked in order.
      if (feeding) {
        verify_abandoned = true;
      } else {
        verifier.reset();
      }
    }
    chunks.erase(chunks.begin());
  }
}

ReadAhead::ReadAhead(s3::ObjectClient& client, WorkerPool& pool, MemoryBudget& budget,
                     std::string key, std::string etag, uint64_t size, ReadAheadParams params)
    : state_(std::make_shared<State>(client, pool, budget, std::move(key), std::move(etag), size,
                                     params)) {}

ReadAhead::~ReadAhead() {
  std::lock_guard lock(state_->mu);
  state_->DropAll();  // fetches in flight finish into chunks nobody holds
}

const std::string& ReadAhead::etag() const { return state_->etag; }
uint64_t ReadAhead::size() const { return state_->size; }

Result<std::string> ReadAhead::Read(uint64_t offset, size_t n) {
  std::string out;
  SPACESFS_RETURN_IF_ERROR(Read(offset, n, &out));
  return out;
}

Status ReadAhead::Read(uint64_t offset, size_t n, std::string* out) {
  out->clear();
  std::vector<std::string_view> pieces;
  std::vector<std::shared_ptr<const void>> keep;
  SPACESFS_RETURN_IF_ERROR(ReadViews(offset, n, &pieces, &keep));
  size_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  out->reserve(total);
  for (std::string_view piece : pieces) out->append(piece);
  return Status::Ok();
}

Status ReadAhead::ReadViews(uint64_t offset, size_t n, std::vector<std::string_view>* pieces,
                            std::vector<std::shared_ptr<const void>>* keep) {
  State& st = *state_;
  const size_t first_piece = pieces->size();
  const size_t first_keep = keep->size();
  // On failure, nothing of this read is left in the outputs.
  auto fail = [&](Status s) {
    pieces->resize(first_piece);
    keep->resize(first_keep);
    return s;
  };
  if (offset >= st.size || n == 0) return Status::Ok();
  uint64_t end = std::min<uint64_t>(st.size, offset + n);
  std::unique_lock lock(st.mu);
  if (st.corrupt) {
    return Status(ErrorCode::kCorrupt, st.key + ": the bytes read do not match the object's ETag");
  }
  uint64_t first_start = st.chunks.empty() ? st.fetched_end : st.chunks.begin()->first;
  bool in_window = !st.chunks.empty() && offset >= first_start && offset <= st.fetched_end;
  bool near_next = st.sequential && offset >= st.next_offset &&
                   offset <= st.next_offset + st.reorder_window;
  // Past what was fetched, as when the kernel's later reads overtake earlier ones while the
  // budget lets nothing be fetched ahead: the run goes on (its fetch covers the gap), rather than
  // restarting there, which would drop the chunks the overtaken reads wait for and so end the
  // ETag check of a file read front to back.
  bool extends_run = near_next && offset >= first_start;
  bool sequential = offset == 0 || offset == st.next_offset || in_window || near_next;
  if (!sequential) {
    st.sequential = false;
    st.DropAll();
    st.next_offset = end;
    lock.unlock();
    auto bytes = std::make_shared<std::string>();
    Status s = st.LoadRandom(offset, end - offset, bytes.get());
    if (!s.ok()) return fail(s);
    lock.lock();
    if (st.verifier && !st.feeding && st.fed_to == offset) {
      (void)st.verifier->Feed(offset, *bytes);
      st.fed_to = st.verifier->fed();
    }
    if (Status c = st.CheckEnd(lock); !c.ok()) return fail(c);
    pieces->push_back(*bytes);
    keep->push_back(std::move(bytes));
    return Status::Ok();
  }
  if (!st.sequential || !(in_window || extends_run)) {
    // A new sequential run starts here.
    st.DropAll();
    st.sequential = true;
    uint64_t start = st.params.cache == nullptr ? offset
                                                : offset - offset % st.params.cache_block;
    st.run_start = start;
    st.fetched_end = start;
  }
  uint64_t ahead = std::clamp<uint64_t>(2 * (end - st.run_start), st.params.min_window,
                                        st.params.max_window);
  // Share the budget: the less is free, the less each reader fetches ahead.
  ahead = std::min(ahead, std::max(st.params.min_window, st.FreeBudget() / 2));
  st.FetchAhead(end, std::min(st.size, end + ahead), state_);
  // Wait for the chunks covering [offset, end).
  uint64_t pos = offset;
  while (pos < end) {
    auto it = st.chunks.upper_bound(pos);
    if (it == st.chunks.begin()) break;
    std::shared_ptr<Chunk> chunk = std::prev(it)->second;
    if (pos >= chunk->start + chunk->len) break;
    st.cv.wait(lock, [&] { return chunk->ready; });
    if (!chunk->error.ok()) {
      Status error = chunk->error;
      // Forget this chunk and everything after it: the next read fetches them again.
      st.chunks.erase(st.chunks.find(chunk->start), st.chunks.end());
      st.fetched_end = chunk->start;
      if (st.chunks.empty()) st.sequential = false;
      return fail(error);
    }
    uint64_t take = std::min(end, chunk->start + chunk->len) - pos;
    chunk->served += take;
    // A ready chunk's data is final: the view stays valid while keep holds the chunk.
    pieces->push_back(std::string_view(chunk->data).substr(pos - chunk->start, take));
    keep->push_back(std::move(chunk));
    pos += take;
  }
  if (pos != end) return fail(Status(ErrorCode::kInternal, st.key + ": read-ahead lost a chunk"));
  st.next_offset = std::max(st.next_offset, end);
  // A reader more than HashingLag() ahead of the hashing waits for it, or hashes itself when no
  // one does: the chunks kept for hashing stay within that of the reader, as memory must.
  while (st.verifier && !st.verify_abandoned && st.fed_to + st.HashingLag() < offset) {
    if (st.feeding) {
      st.cv.wait(lock);
      continue;
    }
    const uint64_t before = st.fed_to;
    st.FeedVerifier(lock, true);
    if (st.fed_to == before) break;  // nothing ready to hash: go on (the check may still finish)
  }
  st.Advance(offset);
  if (end == st.size && st.verifier) {
    // The last bytes go back only once all earlier ones (maybe still in flight for reads the
    // kernel sent alongside) are checked.
    st.cv.wait(lock, [&] {
      return !st.feeding && std::all_of(st.chunks.begin(), st.chunks.end(),
                                        [](const auto& c) { return c.second->ready; });
    });
    st.FeedVerifier(lock, true);  // what no fetch fed (normally nothing)
  }
  if (Status c = st.CheckEnd(lock); !c.ok()) return fail(c);
  return Status::Ok();
}

}  // namespace spacesfs::fs

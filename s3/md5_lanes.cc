#include "s3/md5_lanes.h"

// The low-level MD5 API (deprecated in OpenSSL 3, still shipped) is the one that exposes the
// chaining state the vector lanes continue from; EVP hides it.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <immintrin.h>
#include <openssl/md5.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace spacesfs::s3 {

struct Md5Lane::Ctx {
  MD5_CTX md5;
};

namespace {

constexpr size_t kBlock = 64;
constexpr int kLanes = 16;
// With fewer streams than this the 16-lane kernel does less per second than OpenSSL's
// one-stream code (measured break-even: between two and three).
constexpr size_t kMinStreams = 3;

constexpr uint32_t kK[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
    0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
    0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
    0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
    0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
    0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
    0xeb86d391};
constexpr int kShift[64] = {7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22,
                            5,  9,  14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 5,  9,  14, 20,
                            4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
                            6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};

// The chaining values of 16 streams, word by word: abcd[0] holds every lane's A, and so on.
struct LaneState {
  alignas(64) uint32_t abcd[4][kLanes];
};

// One MD5 step on every lane: a = b + ((a + f + m + K[s]) <<< shift[s]), then the words rotate.
__attribute__((target("avx512f"), always_inline)) inline void Step(__m512i& a, __m512i& b,
                                                                   __m512i& c, __m512i& d,
                                                                   __m512i f, __m512i m, int s) {
  __m512i t = _mm512_add_epi32(_mm512_add_epi32(a, f), _mm512_add_epi32(m, _mm512_set1_epi32(kK[s])));
  t = _mm512_add_epi32(b, _mm512_rolv_epi32(t, _mm512_set1_epi32(kShift[s])));
  a = d;
  d = c;
  c = b;
  b = t;
}

// Runs the MD5 compression over `blocks` 64-byte blocks of each lane: lane l reads
// data[l] + i * stride[l] for block i (a stride of 0 keeps an idle lane on one block).
// The four rounds are MD5's (RFC 1321); F, G, H and I are each one ternary-logic instruction.
__attribute__((target("avx512f"))) void CompressLanes(LaneState& state,
                                                      const unsigned char* const data[kLanes],
                                                      const size_t stride[kLanes],
                                                      size_t blocks) {
  __m512i a = _mm512_load_si512(state.abcd[0]);
  __m512i b = _mm512_load_si512(state.abcd[1]);
  __m512i c = _mm512_load_si512(state.abcd[2]);
  __m512i d = _mm512_load_si512(state.abcd[3]);
  // Word w of every lane, from a copy of the 16 blocks laid out one lane per row.
  const __m512i rows = _mm512_set_epi32(15 * 16, 14 * 16, 13 * 16, 12 * 16, 11 * 16, 10 * 16,
                                        9 * 16, 8 * 16, 7 * 16, 6 * 16, 5 * 16, 4 * 16, 3 * 16,
                                        2 * 16, 1 * 16, 0);
  alignas(64) uint32_t copy[kLanes][16];
  for (size_t i = 0; i < blocks; ++i) {
    for (int l = 0; l < kLanes; ++l) {
      _mm512_store_si512(copy[l], _mm512_loadu_si512(data[l] + i * stride[l]));
    }
    __m512i m[16];
    for (int w = 0; w < 16; ++w) m[w] = _mm512_i32gather_epi32(rows, &copy[0][w], 4);
    const __m512i a0 = a, b0 = b, c0 = c, d0 = d;
    // 0xCA: (b & c) | (~b & d); 0xE4: (b & d) | (c & ~d); 0x96: b ^ c ^ d; 0x39: c ^ (b | ~d).
    for (int s = 0; s < 16; ++s) {
      Step(a, b, c, d, _mm512_ternarylogic_epi32(b, c, d, 0xCA), m[s], s);
    }
    for (int s = 16; s < 32; ++s) {
      Step(a, b, c, d, _mm512_ternarylogic_epi32(b, c, d, 0xE4), m[(5 * s + 1) % 16], s);
    }
    for (int s = 32; s < 48; ++s) {
      Step(a, b, c, d, _mm512_ternarylogic_epi32(b, c, d, 0x96), m[(3 * s + 5) % 16], s);
    }
    for (int s = 48; s < 64; ++s) {
      Step(a, b, c, d, _mm512_ternarylogic_epi32(b, c, d, 0x39), m[(7 * s) % 16], s);
    }
    a = _mm512_add_epi32(a, a0);
    b = _mm512_add_epi32(b, b0);
    c = _mm512_add_epi32(c, c0);
    d = _mm512_add_epi32(d, d0);
  }
  _mm512_store_si512(state.abcd[0], a);
  _mm512_store_si512(state.abcd[1], b);
  _mm512_store_si512(state.abcd[2], c);
  _mm512_store_si512(state.abcd[3], d);
}

// What an idle lane hashes (its result is thrown away).
alignas(64) const unsigned char kIdleBlock[kBlock] = {};

// Whole blocks of one stream still to hash, after its leading bytes completed a pending block.
struct JoinedRequest;
struct Job {
  MD5_CTX* md5 = nullptr;
  const unsigned char* next = nullptr;
  size_t blocks = 0;
  JoinedRequest* request = nullptr;  // Md5UpdateManyJoined's caller the job is hashed for
};

void LoadLane(LaneState& state, int lane, const MD5_CTX& md5) {
  state.abcd[0][lane] = md5.A;
  state.abcd[1][lane] = md5.B;
  state.abcd[2][lane] = md5.C;
  state.abcd[3][lane] = md5.D;
}

// Writes lane's chaining values back and counts the blocks it hashed into the MD5 length.
void StoreLane(const LaneState& state, int lane, size_t blocks_done, MD5_CTX* md5) {
  md5->A = state.abcd[0][lane];
  md5->B = state.abcd[1][lane];
  md5->C = state.abcd[2][lane];
  md5->D = state.abcd[3][lane];
  uint64_t bits = (static_cast<uint64_t>(md5->Nh) << 32 | md5->Nl) + blocks_done * kBlock * 8;
  md5->Nl = static_cast<MD5_LONG>(bits);
  md5->Nh = static_cast<MD5_LONG>(bits >> 32);
}

// Up to 16 jobs in the vector lanes. Step advances them together while at least kMinStreams are
// busy, else each through OpenSSL; either way by at most max_blocks, so that a caller can give
// lanes that free up to new jobs between steps.
class LaneSet {
 public:
  // Gives free lanes the jobs at the front of queue; returns how many lanes are busy.
  int Fill(std::deque<Job>& queue) {
    int active = 0;
    for (int l = 0; l < kLanes; ++l) {
      if (!busy_[l] && !queue.empty()) {
        lane_[l] = queue.front();
        queue.pop_front();
        busy_[l] = true;
        done_[l] = 0;
        LoadLane(state_, l, *lane_[l].md5);
      }
      active += busy_[l];
    }
    return active;
  }

  // One step of the busy lanes (active of them); jobs hashed to their end (their MD5_CTX
  // written back) go to *finished. Counts the bytes hashed in the lanes and one at a time.
  void Step(int active, size_t max_blocks, std::vector<Job>* finished, uint64_t* in_lanes,
            uint64_t* serial) {
    if (static_cast<size_t>(active) >= kMinStreams) {
      const unsigned char* data[kLanes];
      size_t stride[kLanes];
      size_t run = max_blocks;
      for (int l = 0; l < kLanes; ++l) {
        if (busy_[l]) run = std::min(run, lane_[l].blocks);
        data[l] = busy_[l] ? lane_[l].next : kIdleBlock;
        stride[l] = busy_[l] ? kBlock : 0;
      }
      CompressLanes(state_, data, stride, run);
      *in_lanes += static_cast<uint64_t>(active) * run * kBlock;
      for (int l = 0; l < kLanes; ++l) {
        if (!busy_[l]) continue;
        lane_[l].next += run * kBlock;
        lane_[l].blocks -= run;
        done_[l] += run;
        if (lane_[l].blocks == 0) Finish(l, finished);
      }
      return;
    }
    // Too few for the lanes to pay: through OpenSSL, one stream after the other.
    for (int l = 0; l < kLanes; ++l) {
      if (!busy_[l]) continue;
      Job& job = lane_[l];
      StoreLane(state_, l, done_[l], job.md5);
      done_[l] = 0;
      const size_t n = std::min(job.blocks, max_blocks);
      MD5_Update(job.md5, job.next, n * kBlock);
      *serial += n * kBlock;
      job.next += n * kBlock;
      job.blocks -= n;
      if (job.blocks == 0) {
        busy_[l] = false;
        finished->push_back(job);
      } else {
        LoadLane(state_, l, *job.md5);
      }
    }
  }

  // Writes the busy lanes' states back and appends their jobs (what is left of them) to *out.
  void Unload(std::deque<Job>* out) {
    for (int l = 0; l < kLanes; ++l) {
      if (!busy_[l]) continue;
      StoreLane(state_, l, done_[l], lane_[l].md5);
      busy_[l] = false;
      out->push_back(lane_[l]);
    }
  }

 private:
  void Finish(int l, std::vector<Job>* finished) {
    StoreLane(state_, l, done_[l], lane_[l].md5);
    busy_[l] = false;
    finished->push_back(lane_[l]);
  }

  LaneState state_;
  std::array<Job, kLanes> lane_{};
  std::array<bool, kLanes> busy_{};
  std::array<size_t, kLanes> done_{};  // blocks hashed since the lane took its job
};

// Hashes the jobs' whole blocks, up to 16 side by side; a lane whose job ends takes the next.
// When fewer than kMinStreams jobs are left, the rest go through OpenSSL one by one.
void HashJobsInLanes(const std::vector<Job>& jobs) {
  std::deque<Job> queue(jobs.begin(), jobs.end());
  LaneSet lanes;
  std::vector<Job> finished;
  uint64_t in_lanes = 0;
  uint64_t serial = 0;
  while (int active = lanes.Fill(queue)) {
    lanes.Step(active, SIZE_MAX, &finished, &in_lanes, &serial);
    finished.clear();
  }
}

// Md5UpdateManyJoined's shared pass. Each caller turns its pieces into jobs (Job::request names
// the caller's JoinedRequest) and queues them; whoever finds no pass running runs one. A pass
// keeps the 16 lanes as full as it can: it takes queued jobs whenever lanes are free (not only
// at its start), advances at most kSliceBlocks at a time so that newcomers get in soon, and
// when fewer than kMinStreams jobs are left it hashes them through OpenSSL a slice at a time,
// looking for newcomers between slices, instead of finishing them at once. Once the runner's
// own jobs are done it hands the jobs still under way back to the queue (their MD5 states
// saved) and returns; one of their owners, who wait, runs the next pass.
struct JoinedRequest {
  size_t unfinished = 0;  // jobs not yet hashed to their end (guarded by Joiner::mu)
  bool done = false;      // guarded by Joiner::mu
};

struct Joiner {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queued;                  // guarded by mu
  std::atomic<bool> has_queued{false};     // a hint for the runner, set with mu held
  bool running = false;                    // guarded by mu
  std::atomic<uint64_t> lane_bytes{0};     // hashed in the vector lanes
  std::atomic<uint64_t> serial_bytes{0};   // hashed by OpenSSL, one stream at a time
};

Joiner& TheJoiner() {
  static Joiner* joiner = new Joiner;  // never destroyed: pool threads may hash during exit
  return *joiner;
}

// 256 KiB: the most one lane advances before the pass looks for queued jobs again.
constexpr size_t kSliceBlocks = 4096;

// One pass (see Joiner). noexcept: an allocation failure here ends the daemon rather than leave
// waiting threads with half-hashed lanes.
void RunJoinedPass(Joiner& joiner, const JoinedRequest& mine) noexcept {
  LaneSet lanes;
  std::deque<Job> local;
  std::vector<Job> finished;
  bool mine_done = false;
  uint64_t in_lanes = 0;
  uint64_t serial = 0;
  auto take_queued = [&] {
    std::lock_guard lock(joiner.mu);
    local.insert(local.end(), joiner.queued.begin(), joiner.queued.end());
    joiner.queued.clear();
    joiner.has_queued.store(false, std::memory_order_relaxed);
  };
  take_queued();
  while (true) {
    if (joiner.has_queued.load(std::memory_order_relaxed)) take_queued();
    const int active = lanes.Fill(local);
    if (active == 0) break;
    lanes.Step(active, kSliceBlocks, &finished, &in_lanes, &serial);
    if (!finished.empty()) {
      std::lock_guard lock(joiner.mu);
      for (const Job& job : finished) {
        if (--job.request->unfinished == 0) {
          job.request->done = true;
          mine_done = mine_done || job.request == &mine;
        }
      }
      finished.clear();
      joiner.cv.notify_all();
    }
    if (mine_done) {
      // Hand the jobs under way back, in order, ahead of those queued since.
      std::deque<Job> back;
      lanes.Unload(&back);
      back.insert(back.end(), local.begin(), local.end());
      if (!back.empty()) {
        std::lock_guard lock(joiner.mu);
        joiner.queued.insert(joiner.queued.begin(), back.begin(), back.end());
        joiner.has_queued.store(true, std::memory_order_relaxed);
      }
      break;
    }
  }
  joiner.lane_bytes.fetch_add(in_lanes, std::memory_order_relaxed);
  joiner.serial_bytes.fetch_add(serial, std::memory_order_relaxed);
}

// Cuts pieces into whole-block jobs (after completing any partial block a lane holds) and the
// tails after the last whole block, which wait in the MD5_CTX for more (or for Final).
void SplitIntoJobs(std::span<const Md5Piece> pieces, JoinedRequest* request,
                   std::vector<Job>* jobs,
                   std::vector<std::pair<MD5_CTX*, std::string_view>>* tails) {
  jobs->reserve(pieces.size());
  tails->reserve(pieces.size());
  for (const Md5Piece& piece : pieces) {
    MD5_CTX* md5 = &piece.lane->ctx().md5;
    std::string_view data = piece.data;
    if (md5->num != 0) {  // first complete the partial block OpenSSL holds
      size_t fill = std::min<size_t>(data.size(), kBlock - md5->num);
      MD5_Update(md5, data.data(), fill);
      data.remove_prefix(fill);
    }
    size_t blocks = data.size() / kBlock;
    if (blocks > 0) {
      jobs->push_back(Job{md5, reinterpret_cast<const unsigned char*>(data.data()), blocks, request});
    }
    // The bytes after the last whole block wait in the MD5_CTX for more (or for Final).
    tails->emplace_back(md5, data.substr(blocks * kBlock));
  }
}

void UpdateTails(const std::vector<std::pair<MD5_CTX*, std::string_view>>& tails) {
  for (const auto& [md5, tail] : tails) {
    if (!tail.empty()) MD5_Update(md5, tail.data(), tail.size());
  }
}

}  // namespace

void Md5UpdateManyJoined(std::span<const Md5Piece> pieces) {
  if (!Md5LanesVectorised()) {
    Md5UpdateMany(pieces);
    return;
  }
  Joiner& joiner = TheJoiner();
  JoinedRequest mine;
  std::vector<Job> jobs;
  std::vector<std::pair<MD5_CTX*, std::string_view>> tails;
  SplitIntoJobs(pieces, &mine, &jobs, &tails);
  if (!jobs.empty()) {
    std::unique_lock lock(joiner.mu);
    mine.unfinished = jobs.size();
    joiner.queued.insert(joiner.queued.end(), jobs.begin(), jobs.end());
    joiner.has_queued.store(true, std::memory_order_relaxed);
    while (!mine.done) {
      if (joiner.running) {
        joiner.cv.wait(lock);
        continue;
      }
      joiner.running = true;
      lock.unlock();
      RunJoinedPass(joiner, mine);
      lock.lock();
      joiner.running = false;
      joiner.cv.notify_all();  // jobs handed back wait for one of their owners
    }
  }
  UpdateTails(tails);
}

Md5HashingCounts Md5JoinedCounts() {
  Joiner& joiner = TheJoiner();
  return {joiner.lane_bytes.load(std::memory_order_relaxed),
          joiner.serial_bytes.load(std::memory_order_relaxed)};
}

Md5Lane::Md5Lane() : ctx_(std::make_unique<Ctx>()) { MD5_Init(&ctx_->md5); }
Md5Lane::~Md5Lane() = default;
Md5Lane::Md5Lane(Md5Lane&&) noexcept = default;
Md5Lane& Md5Lane::operator=(Md5Lane&&) noexcept = default;

void Md5Lane::Update(std::string_view data) { MD5_Update(&ctx_->md5, data.data(), data.size()); }

std::string Md5Lane::FinalRaw() {
  unsigned char out[MD5_DIGEST_LENGTH];
  MD5_Final(out, &ctx_->md5);
  MD5_Init(&ctx_->md5);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

bool Md5LanesVectorised() {
  static const bool supported = [] {
    const char* setting = std::getenv("SPACESFS_MD5_LANES");
    if (setting != nullptr && std::string_view(setting) == "0") return false;
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return supported;
}

void Md5UpdateMany(std::span<const Md5Piece> pieces, bool allow_vector) {
  size_t streams_with_blocks = 0;
  for (const Md5Piece& piece : pieces) streams_with_blocks += piece.data.size() >= kBlock;
  if (!allow_vector || !Md5LanesVectorised() || streams_with_blocks < kMinStreams) {
    for (const Md5Piece& piece : pieces) piece.lane->Update(piece.data);
    return;
  }
  std::vector<Job> jobs;
  std::vector<std::pair<MD5_CTX*, std::string_view>> tails;
  SplitIntoJobs(pieces, nullptr, &jobs, &tails);
  HashJobsInLanes(jobs);
  UpdateTails(tails);
}

}  // namespace spacesfs::s3

// Md5Lane and Md5UpdateMany: MD5 of many independent byte streams, advanced side by side.
//
//   Md5Lane part1, part2, part3;
//   Md5UpdateMany({{&part1, bytes1}, {&part2, bytes2}, {&part3, bytes3}});
//   std::string md5 = part1.FinalRaw();
//
// MD5 is serial within one stream: a core hashes one stream at about 0.6 GB/s however wide its
// vectors are. The parts of a multipart object are independent streams, so a reader that has
// several parts in memory can hash them in the lanes of one vector: on a CPU with AVX-512F,
// Md5UpdateMany runs 16 streams per instruction and moves about 5.6 GB/s on the machine that
// measured it, against OpenSSL's 0.6 GB/s for one (see docs/OPERATIONS.md). With fewer than
// three streams holding a whole 64-byte block, or without AVX-512F, every stream goes through
// OpenSSL's own MD5 one after the other, which is then the faster way. The digests are the same
// either way (tests/unit/md5_lanes_test.cc holds both paths against OpenSSL's one-shot MD5).
//
// No Debian library offers multi-buffer MD5 (Intel's isa-l_crypto, which has one, is not
// packaged), hence the vector code here; the single-stream path and the padding are OpenSSL's.
//
// Threading: an Md5Lane is used by one thread at a time; Md5UpdateMany and Md5UpdateManyJoined
// may run on many threads at once over distinct lanes.
// Errors: none.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace spacesfs::s3 {

class Md5Lane;

struct Md5Piece {
  Md5Lane* lane;
  std::string_view data;
};

// As if lane->Update(data) were called for every piece in turn. The lanes must be distinct.
// allow_vector false takes the one-stream path whatever the CPU has (tests, and a way to compare).
void Md5UpdateMany(std::span<const Md5Piece> pieces, bool allow_vector = true);

// As Md5UpdateMany, joined with the pieces other threads pass meanwhile: one caller at a time
// runs a pass that hashes everyone's pieces, so that concurrent readers fill the vector lanes
// together (eight readers of one part each make eight lanes, where each alone would make one).
// A pass takes in pieces queued while it runs, and hashes streams left too few for the lanes a
// slice at a time through OpenSSL, so that a stream still long when others end shares the lanes
// with pieces that come meanwhile rather than finish alone. The runner returns once its own
// pieces are hashed, handing the streams under way to a caller still waiting. Returns when this
// call's pieces are hashed. Without vector lanes every caller hashes its own, as Md5UpdateMany.
void Md5UpdateManyJoined(std::span<const Md5Piece> pieces);

// Bytes Md5UpdateManyJoined has hashed since the process started: in the vector lanes, and
// through OpenSSL one stream at a time (too few streams at that moment to fill three lanes).
struct Md5HashingCounts {
  uint64_t lane_bytes = 0;
  uint64_t serial_bytes = 0;
};
Md5HashingCounts Md5JoinedCounts();

// Whether Md5UpdateMany can hash streams side by side on this CPU (AVX-512F), and the
// environment does not turn it off (SPACESFS_MD5_LANES=0, read once).
bool Md5LanesVectorised();

// One stream's MD5 state.
class Md5Lane {
 public:
  Md5Lane();
  ~Md5Lane();
  Md5Lane(Md5Lane&&) noexcept;
  Md5Lane& operator=(Md5Lane&&) noexcept;

  void Update(std::string_view data);
  // 16 raw bytes. Ends the stream: the lane starts over empty afterwards.
  std::string FinalRaw();

  struct Ctx;  // OpenSSL's MD5_CTX (md5_lanes.cc)
  Ctx& ctx() { return *ctx_; }  // for md5_lanes.cc; opaque elsewhere

 private:
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace spacesfs::s3

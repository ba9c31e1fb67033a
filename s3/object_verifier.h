// ObjectVerifier: checks that the bytes of an object, fed in order from offset 0, are the ones its
// ETag names. S3 gives no checksum for a ranged GET; a reader that goes through a whole object (in
// any number of ranges) feeds each range here, and at the end learns whether a byte was changed on
// the way.
//
// Plain ETags (32 hex digits, quoted or not, any case) are the MD5 of the bytes. Multipart ETags
// ("<32 hex>-N", N in 1..10000) are the MD5 of the N parts' binary MD5s. The part size is not in
// the ETag, so the verifier derives the candidate part sizes: whole MiB multiples P with
// (N-1)*P < size <= N*P, and P >= 5 MiB unless N == 1 (N == 1 is one part: the whole object). It
// checks when exactly one candidate exists, or when a part size hint is given that fits N and size
// by the same inequality (a hint that does not fit is ignored; one that fits but is not the size
// the object was uploaded with gives kMismatch); otherwise it is unverifiable. Few parts often
// leave several candidates (3 parts of 20 MiB + 7 bytes: 7, 8, 9 or 10 MiB); many parts pin one
// (1 GiB in 128 parts: 8 MiB). Every other ETag form is unverifiable. SSE-KMS and SSE-C ETags can
// look like plain ones without being the MD5 of the bytes: a caller that knows an object is
// encrypted that way must not verify it.
//
// Feeding a gap, an overlap, or bytes past size makes the verifier unverifiable (never a mismatch:
// a reader's bookkeeping error must not be reported as corrupt data).
//
// Threading: not thread-safe (one reader stream; a caller with concurrent ranges serialises them
// and feeds them in order). Feed is cheap with small pieces: it allocates only where a part ends.
// Errors: none; the outcome says everything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "s3/body_digest.h"

namespace spacesfs::s3 {

class ObjectVerifier {
 public:
  enum class Outcome { kMatch, kMismatch, kUnverifiable };

  ObjectVerifier(std::string etag, uint64_t size, std::optional<uint64_t> part_size_hint = {});
  ObjectVerifier(const ObjectVerifier&) = delete;
  ObjectVerifier& operator=(const ObjectVerifier&) = delete;

  // false: Feed is a no-op and Finish gives kUnverifiable.
  bool verifiable() const { return verifiable_; }
  // Bytes fed so far: the next expected offset.
  uint64_t fed() const { return fed_; }
  // The part size checked against (the object's size for a plain or single-part ETag); empty when
  // not verifiable from the start.
  std::optional<uint64_t> part_size() const { return part_size_; }

  // Feeds bytes [offset, offset + data.size()). offset must equal fed() and the bytes must end by
  // size; otherwise the verifier becomes unverifiable. Returns verifiable() after the call.
  bool Feed(uint64_t offset, std::string_view data);

  // After all size bytes were fed: kMatch or kMismatch. Before, or when unverifiable:
  // kUnverifiable. May be called again; gives the same outcome once all bytes were fed.
  Outcome Finish();

 private:
  void StartPart();
  void EndPart();

  // Constant after construction.
  const std::string etag_;  // unquoted
  const uint64_t size_;
  std::optional<uint64_t> part_size_;
  bool multipart_ = false;

  bool verifiable_ = false;
  uint64_t fed_ = 0;
  uint64_t in_part_ = 0;               // bytes fed into the current part
  std::optional<Md5Stream> part_md5_;  // the current part (the whole object when plain)
  std::string part_md5s_;              // binary MD5s of the finished parts (multipart)
  std::optional<Outcome> outcome_;     // set by the first Finish after all bytes were fed
};

}  // namespace spacesfs::s3

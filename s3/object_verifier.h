// ObjectVerifier: checks that the bytes of an object, fed in order from offset 0, are the ones its
// ETag names. S3 gives no checksum for a ranged GET; a reader that goes through a whole object (in
// any number of ranges) feeds each range here, and at the end learns whether a byte was changed on
// the way.
//
// Plain ETags (32 hex digits, quoted or not, any case) are the MD5 of the bytes. Multipart ETags
// ("<32 hex>-N", N in 1..10000) are the MD5 of the N parts' binary MD5s. The part sizes are not in
// the ETag:
// - A layout hint (how the uploader cut the object: spacesfs records its own in the object's
//   metadata) is used when it makes exactly N parts of size bytes; one that does not is ignored.
//   A hint that makes N parts but is not how the object was uploaded gives kMismatch, so only a
//   layout the uploader declared may be passed.
// - Otherwise the verifier derives a uniform part size: whole MiB multiples P with
//   (N-1)*P < size <= N*P, P >= 5 MiB, and checks when exactly one exists and N <= 1,000. Every
//   common uploader cuts equal parts, but streaming uploaders (spacesfs, goofys) make later parts
//   larger after 1,000 parts, where a derived uniform size would call correct bytes corrupt. Few
//   parts often leave several candidates (3 parts of 20 MiB + 7 bytes: 7, 8, 9 or 10 MiB); many
//   pin one (1 GiB in 128 parts: 8 MiB). N == 1 is one part: the whole object.
// Every other ETag form is unverifiable. SSE-KMS and SSE-C ETags can look like plain ones without
// being the MD5 of the bytes: a caller that knows an object is encrypted that way must not verify
// it.
//
// Feeding a gap, an overlap, or bytes past size makes the verifier unverifiable (never a mismatch:
// a reader's bookkeeping error must not be reported as corrupt data).
//
// Threading: not thread-safe (one reader stream; a caller with concurrent ranges serialises them
// and feeds them in order). Feed is cheap with small pieces: it allocates only where a part ends.
// FeedMany is for large ones (whole chunks of a read-ahead).
// Errors: none; the outcome says everything.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "s3/body_digest.h"
#include "s3/md5_lanes.h"

namespace spacesfs::s3 {

// How an uploader cut an object into parts: part_size bytes each (the last one shorter), the size
// doubling after every parts_per_doubling parts (0: never).
struct PartLayout {
  uint64_t part_size = 0;
  uint64_t parts_per_doubling = 0;

  // The size of part index (0-based) of a complete part.
  uint64_t PartSize(uint64_t index) const;
  // The number of parts size bytes make (0 for an empty object or a zero part size).
  uint64_t PartCount(uint64_t size) const;
  bool operator==(const PartLayout&) const = default;
};

class ObjectVerifier {
 public:
  enum class Outcome { kMatch, kMismatch, kUnverifiable };

  ObjectVerifier(std::string etag, uint64_t size, std::optional<PartLayout> layout_hint = {});
  ObjectVerifier(const ObjectVerifier&) = delete;
  ObjectVerifier& operator=(const ObjectVerifier&) = delete;

  // false: Feed is a no-op and Finish gives kUnverifiable.
  bool verifiable() const { return verifiable_; }
  // Bytes fed so far: the next expected offset.
  uint64_t fed() const { return fed_; }
  // The layout checked against (one part of the object's size for a plain or single-part ETag);
  // empty when not verifiable from the start.
  std::optional<PartLayout> layout() const { return layout_; }
  // Whether that layout is a derived uniform size (no hint was used): a kMismatch then means
  // either changed bytes or an uploader that cut unequal parts.
  bool layout_derived() const { return layout_derived_; }

  // Feeds bytes [offset, offset + data.size()). offset must equal fed() and the bytes must end by
  // size; otherwise the verifier becomes unverifiable. Returns verifiable() after the call.
  bool Feed(uint64_t offset, std::string_view data);
  // As Feed for each piece in turn, the pieces being consecutive from offset, but the parts they
  // cover are hashed side by side (s3/md5_lanes.h): given several parts' bytes at once, the
  // check costs a fraction of the CPU of feeding them one by one.
  bool FeedMany(uint64_t offset, std::span<const std::string_view> pieces);

  // After all size bytes were fed: kMatch or kMismatch. Before, or when unverifiable:
  // kUnverifiable. May be called again; gives the same outcome once all bytes were fed.
  Outcome Finish();
  // After a kMatch or kMismatch: the ETag the bytes fed make under layout() (unquoted, lower
  // case); two reads with equal bytes give equal ones. "" before.
  const std::string& computed_etag() const { return computed_etag_; }

 private:
  void StartPart();
  void EndPart();
  // Where the part index starting at start ends (the object's end for a plain ETag).
  uint64_t PartEnd(uint64_t start, uint64_t index) const;

  // Constant after construction.
  const std::string etag_;  // unquoted
  const uint64_t size_;
  std::optional<PartLayout> layout_;
  bool multipart_ = false;
  bool layout_derived_ = false;

  bool verifiable_ = false;
  uint64_t fed_ = 0;
  uint64_t part_index_ = 0;            // the current part (0-based)
  uint64_t part_end_ = 0;              // bytes fed when the current part is complete
  std::optional<Md5Lane> part_md5_;     // the current part (the whole object when plain)
  std::string part_md5s_;              // binary MD5s of the finished parts (multipart)
  std::optional<Outcome> outcome_;     // set by the first Finish after all bytes were fed
  std::string computed_etag_;          // set with outcome_
};

}  // namespace spacesfs::s3

// Digests of request bodies: MD5 (Content-MD5, part ETags) and SHA-256 (the SigV4 payload hash),
// computed in one streaming pass over a BodySource, and the S3 multipart ETag.
//
// Pure functions (they only call body.read); thread-safe.
// Errors: whatever body.read returns; kInternal if the source ends before body.size.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "s3/object_client.h"

namespace spacesfs::s3 {

struct BodyDigest {
  std::string md5;         // 16 raw bytes; "" unless asked for
  std::string sha256_hex;  // "" unless asked for
};

Result<BodyDigest> DigestBody(const BodySource& body, bool with_sha256, bool with_md5 = true);

std::string Md5(std::string_view data);  // 16 raw bytes

// MD5 over data that arrives in pieces: s3::Md5Lane (s3/md5_lanes.h).

// Equal ETags, ignoring quotes and the case of hex digits.
bool EtagsEqual(std::string_view a, std::string_view b);

// Whether an ETag is the MD5 of the object's bytes: 32 hex digits, no "-N" multipart suffix.
bool IsPlainMd5Etag(std::string_view etag);

// The ETag S3 gives a plain upload: "\"<hex md5>\"".
std::string QuotedMd5Etag(std::string_view md5_raw);

// Strips surrounding double quotes (and &quot; left by some servers) from an ETag.
std::string_view UnquoteEtag(std::string_view etag);

// The ETag in its usual wire form, with double quotes (XML replies sometimes drop them).
std::string QuotedEtag(std::string_view etag);

// The ETag of a completed multipart upload: "\"hex(md5(md5_1 || ... || md5_n))-n\"", from the
// parts' plain ETags. kInvalidArgument if a part ETag is not a 32-hex-digit MD5.
Result<std::string> MultipartEtag(const std::vector<CompletedPart>& parts);

}  // namespace spacesfs::s3

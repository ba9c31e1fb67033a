// Translation between ObjectInfo/UserMetadata and HTTP headers.
//
// Pure functions; thread-safe.
// Errors: AppendMetadataHeaders returns kInvalidArgument for a name that is not a lower-case HTTP
// token or a value with control characters; ObjectInfoFromHeaders and ParseContentRange return
// kCorrupt for malformed headers.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "s3/object_client.h"
#include "s3/sigv4.h"

namespace spacesfs::s3 {

inline constexpr std::string_view kMetadataPrefix = "x-amz-meta-";

// Adds one "x-amz-meta-NAME: value" header per entry.
Status AppendMetadataHeaders(const UserMetadata& metadata, HeaderList* headers);

// The largest object size accepted from a server: sizes must fit off_t (as in s3/xml_codec.h).
inline constexpr uint64_t kMaxObjectSize = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Reads Content-Length (or the total of Content-Range), ETag, Last-Modified, Content-Type and
// x-amz-meta-* from lower-cased response headers. A missing Content-Length is size 0; a size over
// kMaxObjectSize is kCorrupt.
Result<ObjectInfo> ObjectInfoFromHeaders(std::string_view key, const HeaderList& headers);

// A plain non-negative decimal ("0", "1234"); nullopt for anything else (signs, spaces, overflow).
std::optional<uint64_t> ParseDecimal(std::string_view text);

// "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"; a TOTAL over kMaxObjectSize is kCorrupt).
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> total;
};
Result<ContentRange> ParseContentRange(std::string_view value);

}  // namespace spacesfs::s3

#include "s3/metadata_headers.h"

#include <charconv>

#include "s3/xml_codec.h"

namespace spacesfs::s3 {
namespace {

bool IsTokenChar(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::optional<uint64_t> ParseUint(std::string_view s) { return ParseDecimal(s); }

}  // namespace

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

Status AppendMetadataHeaders(const UserMetadata& metadata, HeaderList* headers) {
  for (const auto& [name, value] : metadata) {
    if (name.empty()) return Status(ErrorCode::kInvalidArgument, "empty metadata name");
    for (char c : name) {
      if (!IsTokenChar(c)) {
        return Status(ErrorCode::kInvalidArgument,
                      "metadata name \"" + name + "\" must be a lower-case HTTP token");
      }
    }
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return Status(ErrorCode::kInvalidArgument,
                      "metadata value of \"" + name + "\" has a control character");
      }
    }
    headers->emplace_back(std::string(kMetadataPrefix) + name, value);
  }
  return Status::Ok();
}

Result<ContentRange> ParseContentRange(std::string_view value) {
  auto bad = [&] {
    return Status(ErrorCode::kCorrupt, "malformed Content-Range \"" + std::string(value) + "\"");
  };
  if (!value.starts_with("bytes ")) return bad();
  std::string_view rest = value.substr(6);
  size_t dash = rest.find('-');
  size_t slash = rest.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return bad();
  }
  auto first = ParseUint(rest.substr(0, dash));
  auto last = ParseUint(rest.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return bad();
  ContentRange range{*first, *last, std::nullopt};
  std::string_view total = rest.substr(slash + 1);
  if (total != "*") {
    range.total = ParseUint(total);
    if (!range.total || *range.total <= *last || *range.total > kMaxObjectSize) return bad();
  }
  return range;
}

Result<ObjectInfo> ObjectInfoFromHeaders(std::string_view key, const HeaderList& headers) {
  ObjectInfo info;
  info.key = std::string(key);
  bool have_range_total = false;
  for (const auto& [name, value] : headers) {
    if (name == "content-range") {
      Result<ContentRange> range = ParseContentRange(value);
      if (!range.ok()) return range.status();
      if (range->total) {
        info.size = *range->total;
        have_range_total = true;
      }
    } else if (name == "content-length" && !have_range_total) {
      auto size = ParseUint(value);
      if (!size) return Status(ErrorCode::kCorrupt, "malformed Content-Length \"" + value + "\"");
      if (*size > kMaxObjectSize) {
        return Status(ErrorCode::kCorrupt, "Content-Length " + value + " is larger than any file can be");
      }
      info.size = *size;
    } else if (name == "etag") {
      info.etag = value;
    } else if (name == "last-modified") {
      Result<int64_t> when = ParseHttpDate(value);
      if (!when.ok()) return when.status();
      info.last_modified_ns = *when;
    } else if (name == "content-type") {
      info.content_type = value;
    } else if (name.starts_with(kMetadataPrefix) && name.size() > kMetadataPrefix.size()) {
      info.metadata[name.substr(kMetadataPrefix.size())] = value;
    }
  }
  return info;
}

}  // namespace spacesfs::s3

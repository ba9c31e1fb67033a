#include "s3/object_client.h"

#include <algorithm>
#include <cstring>

namespace spacesfs::s3 {

BodySource BodySource::FromView(std::string_view bytes) {
  BodySource body;
  body.size = bytes.size();
  body.in_memory = bytes;
  body.read = [bytes](uint64_t offset, std::span<char> out) -> Result<size_t> {
    if (offset >= bytes.size()) return size_t{0};
    size_t n = std::min<uint64_t>(out.size(), bytes.size() - offset);
    std::memcpy(out.data(), bytes.data() + offset, n);
    return n;
  };
  return body;
}

}  // namespace spacesfs::s3

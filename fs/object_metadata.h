// ObjectMetadata: the s3fs-fuse compatible user metadata that carries POSIX attributes.
//
//   x-amz-meta-mode   decimal st_mode, type bits included (S_IFREG|0644 = "33188")
//   x-amz-meta-uid    decimal
//   x-amz-meta-gid    decimal
//   x-amz-meta-mtime  Unix seconds, "<sec>" or "<sec>.<9-digit nanoseconds>" (what s3fs writes
//                     and reads since it keeps nanoseconds)
//   x-amz-meta-ctime  same format
//   x-amz-meta-atime  same format (read only; written equal to mtime)
//
// Objects without them get the defaults from Options and Last-Modified as the times.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fs/filesystem.h"
#include "s3/object_client.h"

namespace spacesfs::fs {

// "<sec>" or "<sec>.<nnnnnnnnn>".
std::string FormatTime(int64_t ns);
std::optional<int64_t> ParseTime(std::string_view text);
std::optional<uint32_t> ParseDecimal32(std::string_view text);

// The type an object's metadata declares (by the S_IFMT bits of mode), if any.
std::optional<FileType> TypeFromMetadata(const s3::UserMetadata& metadata);

// Attributes of an object from HEAD/GET (metadata present) or LIST (metadata empty).
// type is what the path is (the caller decided: directory wins). ino is left 0.
Attributes AttributesFromObject(const s3::ObjectInfo& info, FileType type, const Options& options);
// Attributes of a directory without a marker (or whose marker's metadata is unknown).
Attributes DefaultDirectoryAttributes(int64_t mtime_ns, const Options& options);

// Writes mode/uid/gid/mtime/ctime/atime of attr into metadata (other entries are kept).
void StoreAttributes(const Attributes& attr, s3::UserMetadata* metadata);

uint32_t ModeBitsFor(FileType type);  // S_IFREG / S_IFDIR / S_IFLNK

}  // namespace spacesfs::fs

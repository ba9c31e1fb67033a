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
// and one of spacesfs's own, on the multipart objects it uploads:
//
//   x-amz-meta-spacesfs-part-layout  "<part size>,<parts per doubling>" (0: uniform), how the
//                                    object was cut into parts, so that its multipart ETag can be
//                                    checked by a reader (s3::ObjectVerifier). Removed from the
//                                    metadata of every new upload and set again by a multipart one.
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
#include "s3/object_verifier.h"

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

inline constexpr char kPartLayoutKey[] = "spacesfs-part-layout";
std::string FormatPartLayout(const s3::PartLayout& layout);
// The layout metadata declares, if any and well formed (a part size of at least 1 byte).
std::optional<s3::PartLayout> PartLayoutFromMetadata(const s3::UserMetadata& metadata);

}  // namespace spacesfs::fs

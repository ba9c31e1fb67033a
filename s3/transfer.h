// Whole-object transfers between a local file descriptor and a Space, in parallel parts.
//
// UploadFromFd: a single PutObject when the size fits one part, otherwise a multipart upload whose
// parts are read with pread (never held whole in memory) and sent by `concurrency` threads. On any
// failure the multipart upload is aborted, so no partial object is ever visible.
// DownloadToFd: HEAD, then ranged GETs of `part_size` by `concurrency` threads, each with If-Match on
// the ETag seen first, written with pwrite; an object replaced during the download fails with
// kPreconditionFailed instead of mixing versions.
//
// Threading: each call runs its own worker threads and returns when all are done; the client must
// be thread-safe (every ObjectClient is). Errors: the first failing part's Status, with context.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "s3/object_client.h"

namespace spacesfs::s3 {

struct TransferOptions {
  uint64_t part_size = 8ull << 20;  // multipart part size and GET range size
  int concurrency = 8;
  UserMetadata metadata;            // uploads only
  std::string content_type;         // uploads only
};

// Returns the ETag of the new object.
Result<std::string> UploadFromFd(ObjectClient& client, const std::string& key, int fd,
                                 uint64_t size, const TransferOptions& options);

// Writes the object at offset 0 of fd, which must be open for reading and writing (pwrite, and
// pread to check a single-part object against its ETag's MD5). Returns its info.
Result<ObjectInfo> DownloadToFd(ObjectClient& client, const std::string& key, int fd,
                                const TransferOptions& options);

}  // namespace spacesfs::s3

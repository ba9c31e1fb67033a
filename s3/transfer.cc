#include "s3/transfer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "s3/body_digest.h"
#include "s3/md5_lanes.h"

namespace spacesfs::s3 {
namespace {

BodySource FdRange(int fd, uint64_t start, uint64_t size) {
  BodySource body;
  body.size = size;
  body.read = [fd, start, size](uint64_t offset, std::span<char> out) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    size_t want = std::min<uint64_t>(out.size(), size - offset);
    ssize_t n;
    do {
      n = pread(fd, out.data(), want, static_cast<off_t>(start + offset));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Status(ErrorCode::kIoError, std::string("read: ") + std::strerror(errno));
    if (n == 0) return Status(ErrorCode::kIoError, "file shrank while being uploaded");
    return static_cast<size_t>(n);
  };
  return body;
}

// Runs job(i) for i in [0, count) on up to `concurrency` threads; stops handing out work after the
// first failure and returns it.
Status RunParallel(size_t count, int concurrency, const std::function<Status(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first_error;  // guarded by mu
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (;;) {
      if (failed.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      Status st = job(i);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = st;
        failed = true;
        return;
      }
    }
  };
  size_t threads = std::min<size_t>(count, std::max(1, concurrency));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  return first_error;
}

}  // namespace

Result<std::string> UploadFromFd(ObjectClient& client, const std::string& key, int fd,
                                 uint64_t size, const TransferOptions& options) {
  const uint64_t part_size = std::max<uint64_t>(options.part_size, 5ull << 20);
  if (size <= part_size) {
    PutObjectRequest put;
    put.key = key;
    put.body = FdRange(fd, 0, size);
    put.metadata = options.metadata;
    put.content_type = options.content_type;
    return client.PutObject(put);
  }
  const size_t part_count = (size + part_size - 1) / part_size;
  if (part_count > 10000) {
    return Status(ErrorCode::kInvalidArgument, "object too large for 10,000 parts of this size");
  }
  Result<std::string> upload_id = client.CreateMultipartUpload(key, options.metadata,
                                                               options.content_type);
  if (!upload_id.ok()) return upload_id.status();
  std::vector<CompletedPart> parts(part_count);
  Status st = RunParallel(part_count, options.concurrency, [&](size_t i) -> Status {
    uint64_t start = i * part_size;
    uint64_t len = std::min(part_size, size - start);
    int number = static_cast<int>(i) + 1;
    Result<std::string> etag = client.UploadPart(key, *upload_id, number, FdRange(fd, start, len));
    if (!etag.ok()) return etag.status();
    parts[i] = CompletedPart{number, *etag};
    return Status::Ok();
  });
  Result<std::string> etag = st.ok() ? client.CompleteMultipartUpload(key, *upload_id, parts)
                                     : Result<std::string>(st);
  if (!etag.ok()) {
    (void)client.AbortMultipartUpload(key, *upload_id);  // best effort; the error below matters
    return etag.status();
  }
  return etag;
}

Result<ObjectInfo> DownloadToFd(ObjectClient& client, const std::string& key, int fd,
                                const TransferOptions& options) {
  Result<ObjectInfo> info = client.HeadObject(key);
  if (!info.ok()) return info.status();
  const uint64_t size = info->size;
  const uint64_t part_size = std::max<uint64_t>(options.part_size, 1 << 20);
  const size_t part_count = size == 0 ? 0 : (size + part_size - 1) / part_size;
  Status st = RunParallel(part_count, options.concurrency, [&](size_t i) -> Status {
    GetObjectRequest get;
    get.key = key;
    get.range = ByteRange{i * part_size, std::min(size, (i + 1) * part_size) - 1};
    get.if_match = info->etag;
    uint64_t offset = get.range->first;
    Result<ObjectInfo> r = client.GetObject(get, [&](std::string_view chunk) -> Status {
      size_t done = 0;
      while (done < chunk.size()) {
        ssize_t n = pwrite(fd, chunk.data() + done, chunk.size() - done,
                           static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status(ErrorCode::kIoError, std::string("write: ") + std::strerror(errno));
        done += static_cast<size_t>(n);
      }
      offset += chunk.size();
      return Status::Ok();
    });
    return r.ok() ? Status::Ok() : r.status();
  });
  if (!st.ok()) return st;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return Status(ErrorCode::kIoError, std::string("truncate: ") + std::strerror(errno));
  }
  // Ranged GETs carry no checksum; a single-part object's ETag is the MD5 of all of it.
  if (IsPlainMd5Etag(info->etag)) {
    Md5Lane md5;
    std::string buffer(1 << 20, '\0');
    for (uint64_t offset = 0; offset < size;) {
      ssize_t n = pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status(ErrorCode::kIoError, "cannot read back the downloaded file");
      md5.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
    }
    if (!EtagsEqual(QuotedMd5Etag(md5.FinalRaw()), info->etag)) {
      return Status(ErrorCode::kCorrupt, "download of " + key + " does not match its ETag (MD5)");
    }
  }
  return info;
}

}  // namespace spacesfs::s3

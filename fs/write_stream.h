// WriteStream: a new object written front to back and uploaded while it is being written.
//
// Bytes collect in a part buffer; every full part is handed to the WorkerPool and uploaded while
// the writer goes on (several parts in parallel, as many as the stream holds MemoryBudget leases
// for, at most max_parallel). Finish uploads the last part and completes the multipart upload, or
// PUTs the object whole when it is smaller than one part. Nothing is visible on the server before
// Finish succeeds; a failed stream aborts its multipart upload.
//
// Parts are part_size bytes; after every 1,000 parts the part size doubles, so the 10,000-part
// limit of S3 is not reached before 5 TiB.
//
// Threading: Append/Finish/Abort are called by one thread at a time (the owner holds the file's
// lock); the pool's upload tasks synchronise with it internally. A WriteStream must be finished or
// aborted before it is destroyed (the destructor aborts if not).
// Errors: the client's, unchanged. A part whose upload fails (after the client's own retries) is
// kept, bytes and all, and sent again by the owner: by Append when it needs the buffer, else by
// Finish. When that second try fails in Append, the stream is dead (its upload aborted, failed()
// true) and every later call returns that error. When it fails in Finish, or the single PUT or
// the completion fails, nothing is lost: the stream stays as it was and Finish may be called
// again (or Abort).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "fs/memory_budget.h"
#include "fs/worker_pool.h"
#include "s3/object_client.h"
#include "s3/object_verifier.h"

namespace spacesfs::fs {

struct WriteStreamParams {
  std::string key;
  std::string content_type;
  s3::UserMetadata metadata;  // sent with CreateMultipartUpload (or the single PUT)
  uint64_t part_size = 8ull << 20;  // at least 5 MiB
  size_t max_parallel = 8;          // part uploads in flight at once
  // Called when the multipart upload is created and when it is completed or aborted (the upload
  // journal); may be empty.
  std::function<void(const std::string& key, const std::string& upload_id)> on_upload_started;
  std::function<void(const std::string& upload_id)> on_upload_ended;
};

class WriteStream {
 public:
  // Null when the budget cannot give the first part buffer (the caller stages on disk instead).
  // client, pool and budget must outlive the stream.
  static std::unique_ptr<WriteStream> Start(s3::ObjectClient& client, WorkerPool& pool,
                                            MemoryBudget& budget, WriteStreamParams params);
  ~WriteStream();
  WriteStream(const WriteStream&) = delete;
  WriteStream& operator=(const WriteStream&) = delete;

  // Bytes accepted so far: the next Append writes at this offset.
  uint64_t size() const { return size_; }
  // Whether bytes have been sent to the server (a multipart upload exists).
  bool started() const;
  // What the multipart upload was created with: the params' metadata and the part layout
  // (fs/object_metadata.h). Meaningful once started().
  const s3::UserMetadata& upload_metadata() const { return params_.metadata; }
  // Whether the stream failed for good (its bytes are lost; the upload was aborted).
  bool failed() const { return !failed_.ok(); }

  // Appends at size(). May wait for this stream's own part uploads to free a buffer.
  Status Append(std::string_view data);
  // Copies bytes [offset, offset + n) if they are all still in the part buffer (not sent yet).
  bool ReadBuffered(uint64_t offset, size_t n, std::string* out) const;
  // Uploads what is left and completes; returns the object's ETag. metadata/content_type replace
  // the ones given at Start when the object goes up in one PUT (a multipart upload has its own
  // from creation). if_none_match: that single PUT must not replace an object (If-None-Match: *;
  // kPreconditionFailed when one is there); it has no effect on a multipart upload.
  Result<std::string> Finish(const s3::UserMetadata& metadata, const std::string& content_type,
                             bool if_none_match = false);
  // Stops the stream: waits for part uploads in flight, aborts the multipart upload.
  void Abort();

 private:
  struct Shared;
  WriteStream(s3::ObjectClient& client, WorkerPool& pool, MemoryBudget& budget,
              WriteStreamParams params, MemoryBudget::Lease first);
  uint64_t PartSizeFor(int part_number) const { return layout_.PartSize(part_number - 1); }
  Status SendBuffer();      // hands the full buffer to the pool and gets a buffer for the next part
  void WaitForAll();          // waits for every part in flight
  Status RetryFailedParts();  // sends failed parts again, in this thread; the first failure
  void AbortUpload();

  s3::ObjectClient& client_;
  WorkerPool& pool_;
  MemoryBudget& budget_;
  WriteStreamParams params_;  // metadata gains the part layout when the upload is created
  const s3::PartLayout layout_;
  std::shared_ptr<Shared> shared_;  // with the upload tasks
  std::string upload_id_;
  std::string buffer_;              // bytes of part next_part_
  MemoryBudget::Lease buffer_lease_;
  uint64_t buffer_start_ = 0;       // offset of buffer_[0] in the object
  uint64_t size_ = 0;
  int next_part_ = 1;
  bool done_ = false;
  Status failed_;
};

}  // namespace spacesfs::fs

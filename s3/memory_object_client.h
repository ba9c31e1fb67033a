// MemoryObjectClient: an in-memory bucket implementing every ObjectClient method as S3 does, for
// tests of the layers above s3/.
//
// Faithful where tests depend on it: ETags are the quoted MD5 hex of the body, a completed multipart
// object's ETag is the MD5 of the parts' binary MD5s followed by "-<part count>"; If-Match and
// If-None-Match failures are kPreconditionFailed (HTTP 412); missing keys and uploads are kNotFound
// (404 NoSuchKey / NoSuchUpload); ListObjectsV2 honours prefix, delimiter, start-after,
// continuation tokens and max-keys (clamped to 1..1000) with objects and common prefixes merged in
// key order; CopyObject honours COPY/REPLACE (copying a key onto itself with COPY is refused, as S3
// does) and refuses a source over max_copy_bytes (5 GiB, as S3 does; tests lower it); parts other
// than the last must be at least 5 MiB; Last-Modified has whole seconds.
//
// Every call counts one request for its operation (see RequestCount); the inspection helpers
// (Keys, Data, ...) do not count.
//
// Threading: every method may be called concurrently; request bodies are read and sinks are
// called without the internal lock held.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "s3/object_client.h"

namespace spacesfs::s3 {

class MemoryObjectClient : public ObjectClient {
 public:
  enum class Operation {
    kHeadObject,
    kGetObject,
    kListObjects,
    kPutObject,
    kCreateMultipartUpload,
    kUploadPart,
    kCompleteMultipartUpload,
    kAbortMultipartUpload,
    kListMultipartUploads,
    kCopyObject,
    kUploadPartCopy,
    kDeleteObject,
    kDeleteObjects,
  };
  static constexpr size_t kOperationCount = 13;
  static constexpr uint64_t kMinPartSize = 5ull << 20;

  explicit MemoryObjectClient(std::string bucket = "test-bucket");

  const std::string& bucket() const override { return bucket_; }
  Result<ObjectInfo> HeadObject(const std::string& key) override;
  Result<ObjectInfo> GetObject(const GetObjectRequest& request, const BodySink& sink) override;
  Result<ListObjectsPage> ListObjects(const ListObjectsRequest& request) override;
  Result<std::string> PutObject(const PutObjectRequest& request) override;
  Result<std::string> CreateMultipartUpload(const std::string& key, const UserMetadata& metadata,
                                            const std::string& content_type) override;
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id,
                                 int part_number, const BodySource& body) override;
  Result<std::string> CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                              const std::vector<CompletedPart>& parts) override;
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id) override;
  Result<ListMultipartUploadsPage> ListMultipartUploads(
      const ListMultipartUploadsRequest& request) override;
  Result<std::string> CopyObject(const CopyObjectRequest& request) override;
  Result<std::string> UploadPartCopy(const UploadPartCopyRequest& request) override;
  Status DeleteObject(const std::string& key) override;
  Result<std::vector<DeleteError>> DeleteObjects(const std::vector<std::string>& keys) override;

  // The largest object CopyObject copies (S3's limit is 5 GiB; larger ones go in parts).
  void set_max_copy_bytes(uint64_t bytes) { max_copy_bytes_ = bytes; }

  // Requests made so far, per operation and in total.
  uint64_t RequestCount(Operation op) const;
  uint64_t TotalRequests() const;
  void ResetRequestCounts();

  // Inspection (not counted): all keys in order, and one object's body / info.
  std::vector<std::string> Keys() const;
  std::optional<std::string> Data(const std::string& key) const;
  std::optional<ObjectInfo> Info(const std::string& key) const;

  // The quoted MD5 ETag of a body, as S3 computes it for a single-part upload.
  static std::string EtagOf(std::string_view data);

 private:
  struct Object {
    std::string data;
    std::string etag;
    int64_t last_modified_ns = 0;
    std::string content_type;
    UserMetadata metadata;
  };
  struct Part {
    std::string data;
    std::string etag;
  };
  struct Upload {
    std::string key;
    UserMetadata metadata;
    std::string content_type;
    int64_t initiated_ns = 0;
    std::map<int, Part> parts;
  };

  void Count(Operation op);
  static ObjectInfo InfoOf(const std::string& key, const Object& object, bool with_metadata);
  std::string NextRequestId();

  std::atomic<uint64_t> max_copy_bytes_{5ull << 30};
  // Constant after construction.
  const std::string bucket_;

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::map<std::string, Object> objects_;
  std::map<std::string, Upload> uploads_;  // by upload id
  uint64_t next_upload_id_ = 1;
  uint64_t next_request_id_ = 1;
  std::array<uint64_t, kOperationCount> counts_{};
};

}  // namespace spacesfs::s3

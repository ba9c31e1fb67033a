// CountingClient: an ObjectClient that forwards every call to another client and counts it, so the
// Filesystem can report how many requests it sent (Filesystem::GetCounters).
//
// Threading: as thread-safe as the inner client; the counter is atomic.
// Errors: those of the inner client, unchanged.
#pragma once

#include <atomic>
#include <cstdint>

#include "s3/object_client.h"

namespace spacesfs::fs {

class CountingClient : public s3::ObjectClient {
 public:
  // inner must outlive this object.
  explicit CountingClient(s3::ObjectClient& inner) : inner_(inner) {}

  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

  const std::string& bucket() const override { return inner_.bucket(); }
  Result<s3::ObjectInfo> HeadObject(const std::string& key) override;
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override;
  Result<s3::ListObjectsPage> ListObjects(const s3::ListObjectsRequest& request) override;
  Result<std::string> PutObject(const s3::PutObjectRequest& request) override;
  Result<std::string> CreateMultipartUpload(const std::string& key,
                                            const s3::UserMetadata& metadata,
                                            const std::string& content_type) override;
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id,
                                 int part_number, const s3::BodySource& body) override;
  Result<std::string> CompleteMultipartUpload(
      const std::string& key, const std::string& upload_id,
      const std::vector<s3::CompletedPart>& parts) override;
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id) override;
  Result<s3::ListMultipartUploadsPage> ListMultipartUploads(
      const s3::ListMultipartUploadsRequest& request) override;
  Result<std::string> CopyObject(const s3::CopyObjectRequest& request) override;
  Result<std::string> UploadPartCopy(const s3::UploadPartCopyRequest& request) override;
  Status DeleteObject(const std::string& key) override;
  Result<std::vector<s3::DeleteError>> DeleteObjects(
      const std::vector<std::string>& keys) override;

 private:
  void Count() { requests_.fetch_add(1, std::memory_order_relaxed); }

  s3::ObjectClient& inner_;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace spacesfs::fs

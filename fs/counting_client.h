// CountingClient: an ObjectClient that forwards every call to another client and counts it, so the
// Filesystem can report what it sent (Filesystem::GetCounters): requests, failed requests, and the
// object bytes that went each way.
//
// A request counts as failed (errors()) when it ends in anything but success, a missing object or
// upload (kNotFound: lookups of names that do not exist are normal), a precondition that did not
// hold (kPreconditionFailed: a conditional create or read lost a race), or a refusal (kAccessDenied,
// kAuthFailed: the Filesystem counts those as denials). Bytes are counted as they pass: a GET that
// fails midway counts what arrived, an upload counts its body once it was accepted.
//
// At log level debug every request is logged, one line: the operation, the key (control characters
// escaped) and the outcome.
//
// Threading: as thread-safe as the inner client; the counters are atomic.
// Errors: those of the inner client, unchanged.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "s3/object_client.h"

namespace spacesfs::fs {

class CountingClient : public s3::ObjectClient {
 public:
  // inner must outlive this object.
  explicit CountingClient(s3::ObjectClient& inner) : inner_(inner) {}

  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t bytes_downloaded() const { return bytes_downloaded_.load(std::memory_order_relaxed); }
  uint64_t bytes_uploaded() const { return bytes_uploaded_.load(std::memory_order_relaxed); }

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
  // Counts one request and, when it failed, one error; returns the result unchanged.
  template <typename R>
  R Counted(std::string_view operation, std::string_view key, R result) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    const Status& st = StatusOf(result);
    if (!st.ok() && st.code() != ErrorCode::kNotFound &&
        st.code() != ErrorCode::kPreconditionFailed && st.code() != ErrorCode::kAccessDenied &&
        st.code() != ErrorCode::kAuthFailed) {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
    LogRequest(operation, key, st);
    return result;
  }
  // One debug line per request (log_level=debug): the operation (a GET with its byte range), the
  // key and the outcome.
  void LogRequest(std::string_view operation, std::string_view key, const Status& status) const;
  static const Status& StatusOf(const Status& st) { return st; }
  template <typename T>
  static const Status& StatusOf(const Result<T>& r) { return r.status(); }

  void CountUploaded(bool ok, uint64_t size) {
    if (ok) bytes_uploaded_.fetch_add(size, std::memory_order_relaxed);
  }

  s3::ObjectClient& inner_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> bytes_downloaded_{0};
  std::atomic<uint64_t> bytes_uploaded_{0};
};

}  // namespace spacesfs::fs

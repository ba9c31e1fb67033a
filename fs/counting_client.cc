#include "fs/counting_client.h"

#include <spdlog/spdlog.h>

namespace spacesfs::fs {

void CountingClient::LogRequest(std::string_view operation, std::string_view key,
                                const Status& status) const {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  spdlog::debug("{} '{}' in '{}': {}", operation, EscapeControlCharacters(key), inner_.bucket(),
                EscapeControlCharacters(status.ToString()));
}

Result<s3::ObjectInfo> CountingClient::HeadObject(const std::string& key) {
  return Counted("HEAD", key, inner_.HeadObject(key));
}

Result<s3::ObjectInfo> CountingClient::GetObject(const s3::GetObjectRequest& request,
                                                 const s3::BodySink& sink) {
  Result<s3::ObjectInfo> info = inner_.GetObject(request, [&](std::string_view chunk) {
    bytes_downloaded_.fetch_add(chunk.size(), std::memory_order_relaxed);
    return sink(chunk);
  });
  std::string operation = "GET";
  if (request.range && spdlog::should_log(spdlog::level::debug)) {
    operation += " bytes=" + std::to_string(request.range->first) + "-" +
                 std::to_string(request.range->last);
  }
  return Counted(operation, request.key, std::move(info));
}

Result<s3::ListObjectsPage> CountingClient::ListObjects(const s3::ListObjectsRequest& request) {
  return Counted("LIST", request.prefix, inner_.ListObjects(request));
}

Result<std::string> CountingClient::PutObject(const s3::PutObjectRequest& request) {
  Result<std::string> r = Counted("PUT", request.key, inner_.PutObject(request));
  CountUploaded(r.ok(), request.body.size);
  return r;
}

Result<std::string> CountingClient::CreateMultipartUpload(const std::string& key,
                                                          const s3::UserMetadata& metadata,
                                                          const std::string& content_type) {
  return Counted("CreateMultipartUpload", key,
                 inner_.CreateMultipartUpload(key, metadata, content_type));
}

Result<std::string> CountingClient::UploadPart(const std::string& key,
                                               const std::string& upload_id, int part_number,
                                               const s3::BodySource& body) {
  Result<std::string> r =
      Counted("UploadPart", key, inner_.UploadPart(key, upload_id, part_number, body));
  CountUploaded(r.ok(), body.size);
  return r;
}

Result<std::string> CountingClient::CompleteMultipartUpload(
    const std::string& key, const std::string& upload_id,
    const std::vector<s3::CompletedPart>& parts) {
  return Counted("CompleteMultipartUpload", key,
                 inner_.CompleteMultipartUpload(key, upload_id, parts));
}

Status CountingClient::AbortMultipartUpload(const std::string& key,
                                            const std::string& upload_id) {
  return Counted("AbortMultipartUpload", key, inner_.AbortMultipartUpload(key, upload_id));
}

Result<s3::ListMultipartUploadsPage> CountingClient::ListMultipartUploads(
    const s3::ListMultipartUploadsRequest& request) {
  return Counted("ListMultipartUploads", request.prefix, inner_.ListMultipartUploads(request));
}

Result<std::string> CountingClient::CopyObject(const s3::CopyObjectRequest& request) {
  return Counted("COPY", request.destination_key, inner_.CopyObject(request));
}

Result<std::string> CountingClient::UploadPartCopy(const s3::UploadPartCopyRequest& request) {
  return Counted("UploadPartCopy", request.destination_key, inner_.UploadPartCopy(request));
}

Status CountingClient::DeleteObject(const std::string& key) {
  return Counted("DELETE", key, inner_.DeleteObject(key));
}

Result<std::vector<s3::DeleteError>> CountingClient::DeleteObjects(
    const std::vector<std::string>& keys) {
  return Counted("DeleteObjects", keys.empty() ? std::string() : keys.front(),
                 inner_.DeleteObjects(keys));
}

}  // namespace spacesfs::fs

#include "fs/counting_client.h"

namespace spacesfs::fs {

Result<s3::ObjectInfo> CountingClient::HeadObject(const std::string& key) {
  Count();
  return inner_.HeadObject(key);
}

Result<s3::ObjectInfo> CountingClient::GetObject(const s3::GetObjectRequest& request,
                                                 const s3::BodySink& sink) {
  Count();
  return inner_.GetObject(request, sink);
}

Result<s3::ListObjectsPage> CountingClient::ListObjects(const s3::ListObjectsRequest& request) {
  Count();
  return inner_.ListObjects(request);
}

Result<std::string> CountingClient::PutObject(const s3::PutObjectRequest& request) {
  Count();
  return inner_.PutObject(request);
}

Result<std::string> CountingClient::CreateMultipartUpload(const std::string& key,
                                                          const s3::UserMetadata& metadata,
                                                          const std::string& content_type) {
  Count();
  return inner_.CreateMultipartUpload(key, metadata, content_type);
}

Result<std::string> CountingClient::UploadPart(const std::string& key,
                                               const std::string& upload_id, int part_number,
                                               const s3::BodySource& body) {
  Count();
  return inner_.UploadPart(key, upload_id, part_number, body);
}

Result<std::string> CountingClient::CompleteMultipartUpload(
    const std::string& key, const std::string& upload_id,
    const std::vector<s3::CompletedPart>& parts) {
  Count();
  return inner_.CompleteMultipartUpload(key, upload_id, parts);
}

Status CountingClient::AbortMultipartUpload(const std::string& key,
                                            const std::string& upload_id) {
  Count();
  return inner_.AbortMultipartUpload(key, upload_id);
}

Result<s3::ListMultipartUploadsPage> CountingClient::ListMultipartUploads(
    const s3::ListMultipartUploadsRequest& request) {
  Count();
  return inner_.ListMultipartUploads(request);
}

Result<std::string> CountingClient::CopyObject(const s3::CopyObjectRequest& request) {
  Count();
  return inner_.CopyObject(request);
}

Result<std::string> CountingClient::UploadPartCopy(const s3::UploadPartCopyRequest& request) {
  Count();
  return inner_.UploadPartCopy(request);
}

Status CountingClient::DeleteObject(const std::string& key) {
  Count();
  return inner_.DeleteObject(key);
}

Result<std::vector<s3::DeleteError>> CountingClient::DeleteObjects(
    const std::vector<std::string>& keys) {
  Count();
  return inner_.DeleteObjects(keys);
}

}  // namespace spacesfs::fs

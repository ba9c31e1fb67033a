#include "s3/memory_object_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <tuple>

namespace spacesfs::s3 {
namespace {

std::string Md5Raw(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string Hex(std::string_view raw) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int64_t NowSecondsAsNs() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(now).count() * 1'000'000'000LL;
}

Result<std::string> ReadBody(const BodySource& body) {
  std::string out;
  out.resize(body.size);
  uint64_t offset = 0;
  while (offset < body.size) {
    if (!body.read) return Status(ErrorCode::kInvalidArgument, "body without a reader");
    Result<size_t> n = body.read(offset, std::span<char>(out.data() + offset, body.size - offset));
    if (!n.ok()) return n.status();
    if (*n == 0) return Status(ErrorCode::kCorrupt, "request body shorter than its size");
    offset += *n;
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

MemoryObjectClient::MemoryObjectClient(std::string bucket) : bucket_(std::move(bucket)) {}

std::string MemoryObjectClient::EtagOf(std::string_view data) {
  return "\"" + Hex(Md5Raw(data)) + "\"";
}

void MemoryObjectClient::Count(Operation op) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(op)]++;
}

uint64_t MemoryObjectClient::RequestCount(Operation op) const {
  std::lock_guard lock(mu_);
  return counts_[static_cast<size_t>(op)];
}

uint64_t MemoryObjectClient::TotalRequests() const {
  std::lock_guard lock(mu_);
  uint64_t total = 0;
  for (uint64_t c : counts_) total += c;
  return total;
}

void MemoryObjectClient::ResetRequestCounts() {
  std::lock_guard lock(mu_);
  counts_.fill(0);
}

std::vector<std::string> MemoryObjectClient::Keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [key, object] : objects_) keys.push_back(key);
  return keys;
}

std::optional<std::string> MemoryObjectClient::Data(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.data;
}

std::optional<ObjectInfo> MemoryObjectClient::Info(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return InfoOf(key, it->second, true);
}

ObjectInfo MemoryObjectClient::InfoOf(const std::string& key, const Object& object,
                                      bool with_metadata) {
  ObjectInfo info;
  info.key = key;
  info.size = object.data.size();
  info.etag = object.etag;
  info.last_modified_ns = object.last_modified_ns;
  if (with_metadata) {
    info.content_type = object.content_type;
    info.metadata = object.metadata;
  }
  return info;
}

std::string MemoryObjectClient::NextRequestId() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "mem-%08llu", static_cast<unsigned long long>(next_request_id_++));
  return buf;
}

namespace {
Status NoSuchKey(const std::string& key, std::string request_id) {
  return Status::FromServer(ErrorCode::kNotFound, 404, "NoSuchKey",
                            "The specified key does not exist: " + key, std::move(request_id));
}
Status NoSuchUpload(std::string request_id) {
  return Status::FromServer(ErrorCode::kNotFound, 404, "NoSuchUpload",
                            "The specified upload does not exist", std::move(request_id));
}
Status PreconditionFailed(std::string request_id) {
  return Status::FromServer(ErrorCode::kPreconditionFailed, 412, "PreconditionFailed",
                            "At least one of the pre-conditions you specified did not hold",
                            std::move(request_id));
}
Status InvalidRange(std::string request_id) {
  return Status::FromServer(ErrorCode::kBadRequest, 416, "InvalidRange",
                            "The requested range is not satisfiable", std::move(request_id));
}
Status BadRequest(std::string s3_code, std::string message, std::string request_id) {
  return Status::FromServer(ErrorCode::kBadRequest, 400, std::move(s3_code), std::move(message),
                            std::move(request_id));
}
}  // namespace

Result<ObjectInfo> MemoryObjectClient::HeadObject(const std::string& key) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kHeadObject)]++;
  auto it = objects_.find(key);
  if (it == objects_.end()) return NoSuchKey(key, NextRequestId());
  return InfoOf(key, it->second, true);
}

Result<ObjectInfo> MemoryObjectClient::GetObject(const GetObjectRequest& request,
                                                 const BodySink& sink) {
  std::string body;
  ObjectInfo info;
  {
    std::lock_guard lock(mu_);
    counts_[static_cast<size_t>(Operation::kGetObject)]++;
    auto it = objects_.find(request.key);
    if (it == objects_.end()) return NoSuchKey(request.key, NextRequestId());
    const Object& object = it->second;
    if (!request.if_match.empty() && request.if_match != object.etag) {
      return PreconditionFailed(NextRequestId());
    }
    if (request.range) {
      if (request.range->first > request.range->last ||
          request.range->first >= object.data.size()) {
        return InvalidRange(NextRequestId());
      }
      uint64_t last = std::min<uint64_t>(request.range->last, object.data.size() - 1);
      body = object.data.substr(request.range->first, last - request.range->first + 1);
    } else {
      body = object.data;
    }
    info = InfoOf(request.key, object, true);
  }
  if (sink && !body.empty()) SPACESFS_RETURN_IF_ERROR(sink(body));
  return info;
}

Result<ListObjectsPage> MemoryObjectClient::ListObjects(const ListObjectsRequest& request) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kListObjects)]++;
  ListObjectsPage page;
  int max_keys = std::clamp(request.max_keys, 0, 1000);
  if (max_keys == 0) return page;

  // Continuation tokens are "K<key>" (resume after that key) or "P<prefix>" (resume after every
  // key under that common prefix).
  std::string after = request.start_after;
  std::string skip_prefix;
  if (!request.continuation_token.empty()) {
    const std::string& token = request.continuation_token;
    if (token.size() < 1 || (token[0] != 'K' && token[0] != 'P')) {
      return BadRequest("InvalidArgument", "The continuation token provided is incorrect",
                        NextRequestId());
    }
    after = token.substr(1);
    if (token[0] == 'P') skip_prefix = after;
  }
  auto it = after.empty() ? objects_.lower_bound(request.prefix) : objects_.upper_bound(after);
  if (it != objects_.end() && it->first < request.prefix) it = objects_.lower_bound(request.prefix);

  int emitted = 0;
  std::string last_token;
  for (; it != objects_.end(); ++it) {
    const std::string& key = it->first;
    if (!StartsWith(key, request.prefix)) {
      if (key > request.prefix) break;
      continue;
    }
    if (!skip_prefix.empty() && StartsWith(key, skip_prefix)) continue;
    std::string common;
    if (!request.delimiter.empty()) {
      size_t pos = key.find(request.delimiter, request.prefix.size());
      if (pos != std::string::npos) common = key.substr(0, pos + request.delimiter.size());
    }
    if (emitted == max_keys) {
      page.is_truncated = true;
      page.next_continuation_token = last_token;
      break;
    }
    if (!common.empty()) {
      page.common_prefixes.push_back(common);
      last_token = "P" + common;
      skip_prefix = common;
    } else {
      page.objects.push_back(InfoOf(key, it->second, false));
      last_token = "K" + key;
    }
    ++emitted;
  }
  return page;
}

Result<std::string> MemoryObjectClient::PutObject(const PutObjectRequest& request) {
  Count(Operation::kPutObject);
  Result<std::string> body = ReadBody(request.body);
  if (!body.ok()) return body.status();
  std::lock_guard lock(mu_);
  if (request.key.empty()) return BadRequest("InvalidArgument", "empty key", NextRequestId());
  if (request.if_none_match && objects_.count(request.key)) return PreconditionFailed(NextRequestId());
  Object object;
  object.etag = EtagOf(*body);
  object.data = std::move(*body);
  object.last_modified_ns = NowSecondsAsNs();
  object.content_type = request.content_type.empty() ? "binary/octet-stream" : request.content_type;
  object.metadata = request.metadata;
  std::string etag = object.etag;
  objects_[request.key] = std::move(object);
  return etag;
}

Result<std::string> MemoryObjectClient::CreateMultipartUpload(const std::string& key,
                                                              const UserMetadata& metadata,
                                                              const std::string& content_type) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kCreateMultipartUpload)]++;
  if (key.empty()) return BadRequest("InvalidArgument", "empty key", NextRequestId());
  std::string id = "upload-" + std::to_string(next_upload_id_++);
  Upload upload;
  upload.key = key;
  upload.metadata = metadata;
  upload.content_type = content_type.empty() ? "binary/octet-stream" : content_type;
  upload.initiated_ns = NowSecondsAsNs();
  uploads_[id] = std::move(upload);
  return id;
}

Result<std::string> MemoryObjectClient::UploadPart(const std::string& key,
                                                   const std::string& upload_id, int part_number,
                                                   const BodySource& body) {
  Count(Operation::kUploadPart);
  Result<std::string> data = ReadBody(body);
  if (!data.ok()) return data.status();
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return NoSuchUpload(NextRequestId());
  if (part_number < 1 || part_number > 10000) {
    return BadRequest("InvalidArgument", "Part number must be between 1 and 10000",
                      NextRequestId());
  }
  Part part;
  part.etag = EtagOf(*data);
  part.data = std::move(*data);
  std::string etag = part.etag;
  it->second.parts[part_number] = std::move(part);
  return etag;
}

Result<std::string> MemoryObjectClient::CompleteMultipartUpload(
    const std::string& key, const std::string& upload_id, const std::vector<CompletedPart>& parts) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kCompleteMultipartUpload)]++;
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return NoSuchUpload(NextRequestId());
  if (parts.empty()) {
    return BadRequest("MalformedXML", "You must specify at least one part", NextRequestId());
  }
  Upload& upload = it->second;
  std::string data;
  std::string md5s;
  int previous = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const CompletedPart& p = parts[i];
    if (p.part_number <= previous) {
      return BadRequest("InvalidPartOrder", "The list of parts was not in ascending order",
                        NextRequestId());
    }
    previous = p.part_number;
    auto part = upload.parts.find(p.part_number);
    if (part == upload.parts.end() || part->second.etag != p.etag) {
      return BadRequest("InvalidPart", "One or more of the specified parts could not be found",
                        NextRequestId());
    }
    if (i + 1 < parts.size() && part->second.data.size() < kMinPartSize) {
      return BadRequest("EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed object size",
                        NextRequestId());
    }
    data += part->second.data;
    md5s += Md5Raw(part->second.data);
  }
  Object object;
  object.data = std::move(data);
  object.etag = "\"" + Hex(Md5Raw(md5s)) + "-" + std::to_string(parts.size()) + "\"";
  object.last_modified_ns = NowSecondsAsNs();
  object.content_type = upload.content_type;
  object.metadata = upload.metadata;
  std::string etag = object.etag;
  objects_[key] = std::move(object);
  uploads_.erase(it);
  return etag;
}

Status MemoryObjectClient::AbortMultipartUpload(const std::string& key,
                                                const std::string& upload_id) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kAbortMultipartUpload)]++;
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return NoSuchUpload(NextRequestId());
  uploads_.erase(it);
  return Status::Ok();
}

Result<ListMultipartUploadsPage> MemoryObjectClient::ListMultipartUploads(
    const ListMultipartUploadsRequest& request) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kListMultipartUploads)]++;
  std::vector<MultipartUpload> all;
  for (const auto& [id, upload] : uploads_) {
    if (!StartsWith(upload.key, request.prefix)) continue;
    all.push_back(MultipartUpload{upload.key, id, upload.initiated_ns});
  }
  std::sort(all.begin(), all.end(), [](const MultipartUpload& a, const MultipartUpload& b) {
    return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
  });
  ListMultipartUploadsPage page;
  int max_uploads = std::clamp(request.max_uploads, 1, 1000);
  for (const MultipartUpload& u : all) {
    if (!request.key_marker.empty()) {
      if (u.key < request.key_marker) continue;
      if (u.key == request.key_marker &&
          (request.upload_id_marker.empty() || u.upload_id <= request.upload_id_marker)) {
        continue;
      }
    }
    if (static_cast<int>(page.uploads.size()) == max_uploads) {
      page.is_truncated = true;
      page.next_key_marker = page.uploads.back().key;
      page.next_upload_id_marker = page.uploads.back().upload_id;
      break;
    }
    page.uploads.push_back(u);
  }
  return page;
}

Result<std::string> MemoryObjectClient::CopyObject(const CopyObjectRequest& request) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kCopyObject)]++;
  auto it = objects_.find(request.source_key);
  if (it == objects_.end()) return NoSuchKey(request.source_key, NextRequestId());
  if (!request.if_match.empty() && request.if_match != it->second.etag) {
    return PreconditionFailed(NextRequestId());
  }
  if (request.source_key == request.destination_key &&
      request.directive == MetadataDirective::kCopy) {
    return BadRequest("InvalidRequest",
                      "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata",
                      NextRequestId());
  }
  if (it->second.data.size() > max_copy_bytes_) {
    return BadRequest("InvalidRequest",
                      "The specified copy source is larger than the maximum allowable size for a "
                      "copy source: " + std::to_string(max_copy_bytes_.load()),
                      NextRequestId());
  }
  Object copy = it->second;
  copy.etag = EtagOf(copy.data);
  copy.last_modified_ns = NowSecondsAsNs();
  if (request.directive == MetadataDirective::kReplace) {
    copy.metadata = request.metadata;
    copy.content_type =
        request.content_type.empty() ? "binary/octet-stream" : request.content_type;
  }
  std::string etag = copy.etag;
  objects_[request.destination_key] = std::move(copy);
  return etag;
}

Result<std::string> MemoryObjectClient::UploadPartCopy(const UploadPartCopyRequest& request) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kUploadPartCopy)]++;
  auto src = objects_.find(request.source_key);
  if (src == objects_.end()) return NoSuchKey(request.source_key, NextRequestId());
  if (!request.if_match.empty() && request.if_match != src->second.etag) {
    return PreconditionFailed(NextRequestId());
  }
  auto up = uploads_.find(request.upload_id);
  if (up == uploads_.end() || up->second.key != request.destination_key) {
    return NoSuchUpload(NextRequestId());
  }
  if (request.part_number < 1 || request.part_number > 10000) {
    return BadRequest("InvalidArgument", "Part number must be between 1 and 10000",
                      NextRequestId());
  }
  const std::string& data = src->second.data;
  Part part;
  if (request.source_range) {
    const ByteRange& r = *request.source_range;
    if (r.first > r.last || r.last >= data.size()) return InvalidRange(NextRequestId());
    part.data = data.substr(r.first, r.length());
  } else {
    part.data = data;
  }
  part.etag = EtagOf(part.data);
  std::string etag = part.etag;
  up->second.parts[request.part_number] = std::move(part);
  return etag;
}

Status MemoryObjectClient::DeleteObject(const std::string& key) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kDeleteObject)]++;
  objects_.erase(key);
  return Status::Ok();
}

Result<std::vector<DeleteError>> MemoryObjectClient::DeleteObjects(
    const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  counts_[static_cast<size_t>(Operation::kDeleteObjects)]++;
  if (keys.empty() || keys.size() > 1000) {
    return BadRequest("MalformedXML", "DeleteObjects takes 1 to 1000 keys", NextRequestId());
  }
  for (const std::string& key : keys) objects_.erase(key);
  return std::vector<DeleteError>{};
}

}  // namespace spacesfs::s3

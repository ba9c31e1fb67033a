#include "s3/curl_object_client.h"

#include <ctime>
#include <random>
#include <thread>

#include "s3/body_digest.h"
#include "s3/md5_lanes.h"
#include "s3/metadata_headers.h"
#include "s3/sigv4.h"
#include "s3/xml_codec.h"

namespace spacesfs::s3 {

struct CurlObjectClient::Call {
  std::string method;
  std::string key;  // "" addresses the bucket
  HeaderList query;
  HeaderList headers;  // signed and sent
  const BodySource* body = nullptr;
  std::string payload_hash = std::string(kEmptyPayloadSha256);
  std::function<Status(const HttpResponse&)> on_headers;
  const BodySink* sink = nullptr;
  // Runs on a 2xx response with its collected body; a failure counts as the attempt's failure
  // (and is retried if retryable), for S3's 200-with-<Error> answers.
  std::function<Status(const HttpResponse&)> check_body;
};

namespace {

const BodySource& EmptyBody() {
  static const BodySource empty = BodySource::FromView(std::string_view());
  return empty;
}

std::string ReasonWithoutErrorBody(int http_status) {
  switch (http_status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "no error details";
  }
}

Status ServerError(const HttpResponse& response) {
  std::string code;
  std::string message;
  std::string request_id;
  if (std::optional<S3ErrorBody> error = ParseErrorBody(response.body)) {
    code = error->code;
    message = error->message;
    request_id = error->request_id;
  }
  if (request_id.empty()) {
    if (const std::string* id = response.Header("x-amz-request-id")) request_id = *id;
  }
  // An answer without an S3 error body (always so for HEAD): the status line's reason says it, as
  // the HTTP status itself is already part of the Status.
  if (message.empty()) message = ReasonWithoutErrorBody(response.status);
  return Status::FromServer(ClassifyServerError(response.status, code), response.status, code,
                            message, request_id);
}

// S3 may answer Complete and Copy with 200 and an <Error> document.
Status ErrorInOkBody(const HttpResponse& response) {
  std::optional<S3ErrorBody> error = ParseErrorBody(response.body);
  if (!error) return Status::Ok();
  bool transient = error->code == "InternalError" || error->code == "SlowDown" ||
                   error->code == "ServiceUnavailable" || error->code == "RequestTimeout";
  std::string request_id = error->request_id;
  if (request_id.empty()) {
    if (const std::string* id = response.Header("x-amz-request-id")) request_id = *id;
  }
  return Status::FromServer(ClassifyServerError(transient ? 500 : 400, error->code),
                            response.status, error->code,
                            error->message.empty() ? "error document in a 200 answer"
                                                   : error->message,
                            request_id);
}

Status InvalidKey(const std::string& key) {
  if (key.empty()) return Status(ErrorCode::kInvalidArgument, "empty object key");
  if (key.size() > 1024) return Status(ErrorCode::kInvalidArgument, "object key over 1024 bytes");
  return Status::Ok();
}

std::string RangeHeader(uint64_t first, std::optional<uint64_t> last) {
  std::string value = "bytes=" + std::to_string(first) + "-";
  if (last) value += std::to_string(*last);
  return value;
}

std::string CopySource(const std::string& bucket, const std::string& key) {
  return UriEncode("/" + bucket + "/" + key, /*keep_slash=*/true);
}

}  // namespace

Result<std::unique_ptr<CurlObjectClient>> CurlObjectClient::Create(ClientConfig config) {
  Result<Endpoint> endpoint = ParseEndpoint(config.endpoint, config.region);
  if (!endpoint.ok()) return endpoint.status();
  if (config.bucket.empty()) return Status(ErrorCode::kConfig, "no bucket configured");
  if (config.region.empty()) return Status(ErrorCode::kConfig, "no region configured");
  if (config.key.access_key_id.empty()) {
    return Status(ErrorCode::kConfig, "no access key id configured");
  }
  if (config.max_attempts < 1) config.max_attempts = 1;
  return std::unique_ptr<CurlObjectClient>(
      new CurlObjectClient(std::move(config), std::move(*endpoint)));
}

CurlObjectClient::CurlObjectClient(ClientConfig config, Endpoint endpoint)
    : config_(std::move(config)),
      endpoint_(std::move(endpoint)),
      path_style_(UsePathStyle(endpoint_, config_.bucket, config_.addressing)),
      retry_(RetryOptions{config_.max_attempts, config_.retry_base_delay,
                          config_.retry_max_delay}),
      transport_(TransportOptions{config_.ca_bundle_path, config_.verify_tls,
                                  config_.connect_timeout, config_.low_speed_bytes_per_second,
                                  config_.low_speed_time, config_.max_idle_handles}),
      key_(config_.key) {}

void CurlObjectClient::SetSigningKey(SigningKey key) {
  std::lock_guard<std::mutex> lock(key_mu_);
  key_ = std::move(key);
}

SigningKey CurlObjectClient::CurrentKey() const {
  std::lock_guard<std::mutex> lock(key_mu_);
  return key_;
}

CurlObjectClient::~CurlObjectClient() = default;

std::string CurlObjectClient::Context(std::string_view operation, std::string_view key) const {
  std::string out(operation);
  out += " ";
  out += config_.bucket;
  if (!key.empty()) {
    out += "/";
    out += key;
  }
  out += " (key " + CurrentKey().access_key_id.substr(0, 4) + "...)";
  return out;
}

Status CurlObjectClient::WithContext(const Status& status, std::string_view operation,
                                     std::string_view key) const {
  if (status.ok()) return status;
  return status.WithContext(Context(operation, key));
}

Status CurlObjectClient::Attempt(const Call& call, HttpResponse* response) {
  RequestTarget target = MakeTarget(endpoint_, path_style_, config_.bucket, call.key, call.query);
  RequestToSign to_sign;
  to_sign.method = call.method;
  to_sign.host = target.host;
  to_sign.raw_path = target.raw_path;
  to_sign.query = call.query;
  to_sign.headers = call.headers;
  to_sign.payload_hash = call.payload_hash;

  HttpRequest request;
  request.method = call.method;
  request.url = std::move(target.url);
  request.headers = call.headers;
  for (auto& header : SignRequest(to_sign, CurrentKey(), config_.region, std::time(nullptr))) {
    request.headers.push_back(std::move(header));
  }
  request.body = call.body;
  request.on_headers = call.on_headers;
  request.sink = call.sink;

  Status status = transport_.Perform(request, response);
  if (!status.ok()) return status;
  if (!response->success()) return ServerError(*response);
  if (call.check_body) return call.check_body(*response);
  return Status::Ok();
}

void CurlObjectClient::SleepBeforeRetry(int attempts_made) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::this_thread::sleep_for(retry_.Backoff(attempts_made, uniform(rng)));
}

Status CurlObjectClient::Run(const Call& call, HttpResponse* response, int* attempts) {
  for (int attempt = 1;; ++attempt) {
    Status status = Attempt(call, response);
    if (attempts != nullptr) *attempts = attempt;
    if (status.ok() || !retry_.ShouldRetry(status, attempt)) return status;
    SleepBeforeRetry(attempt);
  }
}

Result<std::string> CurlObjectClient::PrepareBody(const BodySource& body, bool need_md5,
                                                  HeaderList* headers,
                                                  std::string* payload_hash) const {
  // Over https (unless asked to sign there too) TLS protects the body on the way: no SHA-256, and
  // an MD5 only when the caller needs it.
  const bool tls_protects = endpoint_.scheme == "https" && !config_.sign_payload_over_tls;
  if (tls_protects && !need_md5) {
    *payload_hash = kUnsignedPayload;
    return std::string();
  }
  bool sign_payload = !tls_protects && body.size <= config_.signed_payload_max_bytes;
  Result<BodyDigest> digest =
      DigestBody(body, sign_payload, need_md5 || (!sign_payload && !tls_protects));
  if (!digest.ok()) return digest.status();
  if (!digest->md5.empty()) headers->emplace_back("content-md5", Base64Encode(digest->md5));
  *payload_hash = sign_payload ? digest->sha256_hex : std::string(kUnsignedPayload);
  return digest->md5;
}

Result<ObjectInfo> CurlObjectClient::HeadObject(const std::string& key) {
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "HeadObject", key));
  Call call;
  call.method = "HEAD";
  call.key = key;
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, "HeadObject", key);
  Result<ObjectInfo> info = ObjectInfoFromHeaders(key, response.headers);
  if (!info.ok()) return WithContext(info.status(), "HeadObject", key);
  return info;
}

// Whole-object GETs up to this size are held in memory until their MD5 is checked.
constexpr uint64_t kVerifiedGetHoldBackBytes = 8ull << 20;

Result<ObjectInfo> CurlObjectClient::GetObject(const GetObjectRequest& request,
                                               const BodySink& sink) {
  const std::string& key = request.key;
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "GetObject", key));
  if (request.range && request.range->last < request.range->first) {
    return WithContext(Status(ErrorCode::kInvalidArgument, "empty byte range"), "GetObject", key);
  }
  const uint64_t start = request.range ? request.range->first : 0;
  uint64_t delivered = 0;             // bytes handed to the caller's sink over all attempts
  std::optional<uint64_t> expected;   // bytes the whole answer must have, once known
  std::optional<ObjectInfo> info;     // from the first response
  Status sink_status;
  // A whole-object GET of a single-part object is checked against its ETag (the body's MD5), so a
  // byte changed in transit is an error, never data.
  // Small ones are held back until the MD5 matches, so a damaged answer can be retried.
  std::optional<Md5Lane> body_md5;
  bool hold_back = false;
  std::string held;

  BodySink counting_sink = [&](std::string_view chunk) -> Status {
    if (expected && delivered + chunk.size() > *expected) {
      return Status(ErrorCode::kCorrupt, "body longer than the " + std::to_string(*expected) +
                                             " bytes announced");
    }
    if (body_md5) body_md5->Update(chunk);
    if (hold_back) {
      held.append(chunk);
    } else {
      Status status = sink(chunk);
      if (!status.ok()) {
        sink_status = status;
        return status;
      }
    }
    delivered += chunk.size();
    return Status::Ok();
  };

  auto on_headers = [&](const HttpResponse& response) -> Status {
    Result<ObjectInfo> got = ObjectInfoFromHeaders(key, response.headers);
    if (!got.ok()) return got.status();
    uint64_t offset = start + delivered;  // the first byte this response must carry
    std::optional<uint64_t> length;
    if (const std::string* length_header = response.Header("content-length")) {
      length = ParseDecimal(*length_header);
      if (!length) return Status(ErrorCode::kCorrupt, "malformed Content-Length");
    }
    uint64_t end;  // one past the last byte the whole answer must end at
    if (response.status == 206) {
      const std::string* range_header = response.Header("content-range");
      if (range_header == nullptr) return Status(ErrorCode::kCorrupt, "206 without Content-Range");
      Result<ContentRange> range = ParseContentRange(*range_header);
      if (!range.ok()) return range.status();
      if (!range->total) return Status(ErrorCode::kCorrupt, "Content-Range without a total size");
      uint64_t want_end = *range->total;
      if (request.range) want_end = std::min(want_end, request.range->last + 1);
      if (range->first != offset || range->last + 1 != want_end) {
        return Status(ErrorCode::kCorrupt, "asked for bytes from " + std::to_string(offset) +
                                               ", got Content-Range " + *range_header);
      }
      if (length && *length != range->last - range->first + 1) {
        return Status(ErrorCode::kCorrupt, "Content-Length disagrees with Content-Range");
      }
      end = want_end;
    } else if (response.status == 200) {
      if (offset != 0) {
        return Status(ErrorCode::kCorrupt,
                      "server ignored the Range from byte " + std::to_string(offset));
      }
      if (!length) return Status(ErrorCode::kCorrupt, "response without Content-Length");
      if (request.range && *length > request.range->length()) {
        return Status(ErrorCode::kCorrupt, "server ignored the Range and sent the whole object");
      }
      end = *length;
    } else {
      return Status(ErrorCode::kCorrupt, "unexpected HTTP " + std::to_string(response.status));
    }
    if (!info) {
      info = std::move(*got);
      expected = end - start;
      if (!request.range && IsPlainMd5Etag(info->etag)) {
        body_md5.emplace();
        hold_back = *expected <= kVerifiedGetHoldBackBytes;
      }
    } else if (got->etag != info->etag || start + *expected != end) {
      return Status(ErrorCode::kCorrupt, "object changed while resuming the GET");
    }
    return Status::Ok();
  };

  for (int attempt = 1;; ++attempt) {
    Call call;
    call.method = "GET";
    call.key = key;
    if (delivered == 0) {
      if (request.range) {
        call.headers.emplace_back("range", RangeHeader(request.range->first, request.range->last));
      }
      if (!request.if_match.empty()) call.headers.emplace_back("if-match", request.if_match);
    } else {
      std::optional<uint64_t> last;
      if (request.range) last = request.range->last;
      call.headers.emplace_back("range", RangeHeader(start + delivered, last));
      call.headers.emplace_back("if-match", info->etag);
    }
    call.on_headers = on_headers;
    call.sink = &counting_sink;
    HttpResponse response;
    Status status = Attempt(call, &response);
    if (status.ok()) {
      if (!info || delivered != *expected) {
        return WithContext(Status(ErrorCode::kCorrupt,
                                  "body has " + std::to_string(delivered) + " bytes, expected " +
                                      std::to_string(expected.value_or(0))),
                           "GetObject", key);
      }
      if (body_md5 && !EtagsEqual(QuotedMd5Etag(body_md5->FinalRaw()), info->etag)) {
        Status mismatch(ErrorCode::kCorrupt, "body does not match its ETag (MD5)");
        if (hold_back && attempt < config_.max_attempts) {
          // Nothing reached the caller: start over.
          info.reset();
          expected.reset();
          body_md5.reset();
          held.clear();
          delivered = 0;
          SleepBeforeRetry(attempt);
          continue;
        }
        return WithContext(mismatch, "GetObject", key);
      }
      if (hold_back && !held.empty()) {
        if (Status st = sink(held); !st.ok()) return st;
      }
      return *info;
    }
    if (!sink_status.ok()) return sink_status;  // the caller's own refusal, unchanged
    if (delivered > 0 && status.code() == ErrorCode::kPreconditionFailed) {
      return WithContext(Status(ErrorCode::kPreconditionFailed,
                                "object changed after " + std::to_string(delivered) +
                                    " bytes were read: " + status.message()),
                         "GetObject", key);
    }
    if (retry_.ShouldRetry(status, attempt)) {
      SleepBeforeRetry(attempt);
      continue;
    }
    if (delivered > 0 && RetryPolicy::IsRetryable(status)) {
      status = Status(ErrorCode::kCorrupt, "body cut short after " + std::to_string(delivered) +
                                               " of " + std::to_string(expected.value_or(0)) +
                                               " bytes: " + status.message());
    }
    return WithContext(status, "GetObject", key);
  }
}

Result<ListObjectsPage> CurlObjectClient::ListObjects(const ListObjectsRequest& request) {
  Call call;
  call.method = "GET";
  call.query.emplace_back("list-type", "2");
  call.query.emplace_back("encoding-type", "url");
  if (!request.prefix.empty()) call.query.emplace_back("prefix", request.prefix);
  if (!request.delimiter.empty()) call.query.emplace_back("delimiter", request.delimiter);
  if (!request.continuation_token.empty()) {
    call.query.emplace_back("continuation-token", request.continuation_token);
  }
  if (!request.start_after.empty()) call.query.emplace_back("start-after", request.start_after);
  if (request.max_keys > 0) call.query.emplace_back("max-keys", std::to_string(request.max_keys));
  std::optional<ListObjectsPage> page;
  call.check_body = [&](const HttpResponse& response) -> Status {
    Result<ListObjectsPage> parsed = ParseListObjectsV2(response.body);
    if (!parsed.ok()) return parsed.status();
    page = std::move(*parsed);
    return Status::Ok();
  };
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, "ListObjectsV2 prefix=" + request.prefix, "");
  return std::move(*page);
}

Result<std::string> CurlObjectClient::PutObject(const PutObjectRequest& request) {
  const std::string& key = request.key;
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "PutObject", key));
  Call call;
  call.method = "PUT";
  call.key = key;
  call.body = &request.body;
  if (!request.content_type.empty()) call.headers.emplace_back("content-type", request.content_type);
  SPACESFS_RETURN_IF_ERROR(
      WithContext(AppendMetadataHeaders(request.metadata, &call.headers), "PutObject", key));
  if (request.if_none_match) call.headers.emplace_back("if-none-match", "*");
  // The MD5 is wanted here: the answer's ETag is checked against it, and a retried
  // If-None-Match PUT is told from a foreign object by it.
  Result<std::string> md5 = PrepareBody(request.body, true, &call.headers, &call.payload_hash);
  if (!md5.ok()) return WithContext(md5.status(), "PutObject", key);
  const std::string want_etag = QuotedMd5Etag(*md5);

  HttpResponse response;
  int attempts = 0;
  Status status = Run(call, &response, &attempts);
  if (!status.ok() && attempts > 1 && request.if_none_match &&
      status.code() == ErrorCode::kPreconditionFailed) {
    // An earlier attempt may have created the object before its answer was lost.
    Result<ObjectInfo> head = HeadObject(key);
    if (head.ok() && UnquoteEtag(head->etag) == UnquoteEtag(want_etag)) return want_etag;
  }
  if (!status.ok()) return WithContext(status, "PutObject", key);
  const std::string* etag = response.Header("etag");
  if (etag == nullptr || UnquoteEtag(*etag) != UnquoteEtag(want_etag)) {
    return WithContext(Status(ErrorCode::kCorrupt, "ETag " + (etag ? *etag : std::string("(none)")) +
                                                       " is not the MD5 sent, " + want_etag),
                       "PutObject", key);
  }
  return *etag;
}

Result<std::string> CurlObjectClient::CreateMultipartUpload(const std::string& key,
                                                            const UserMetadata& metadata,
                                                            const std::string& content_type) {
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "CreateMultipartUpload", key));
  Call call;
  call.method = "POST";
  call.key = key;
  call.query.emplace_back("uploads", "");
  call.body = &EmptyBody();
  if (!content_type.empty()) call.headers.emplace_back("content-type", content_type);
  SPACESFS_RETURN_IF_ERROR(WithContext(AppendMetadataHeaders(metadata, &call.headers),
                                       "CreateMultipartUpload", key));
  std::string upload_id;
  call.check_body = [&](const HttpResponse& response) -> Status {
    Result<std::string> parsed = ParseInitiateMultipartUpload(response.body);
    if (!parsed.ok()) return parsed.status();
    upload_id = std::move(*parsed);
    return Status::Ok();
  };
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, "CreateMultipartUpload", key);
  return upload_id;
}

Result<std::string> CurlObjectClient::UploadPart(const std::string& key,
                                                 const std::string& upload_id, int part_number,
                                                 const BodySource& body) {
  std::string op = "UploadPart #" + std::to_string(part_number);
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), op, key));
  if (part_number < 1 || part_number > 10000) {
    return WithContext(Status(ErrorCode::kInvalidArgument, "part number outside 1..10000"), op,
                       key);
  }
  Call call;
  call.method = "PUT";
  call.key = key;
  call.query.emplace_back("partNumber", std::to_string(part_number));
  call.query.emplace_back("uploadId", upload_id);
  call.body = &body;
  // A signed part is checked by the server against its SHA-256, so no MD5 is spent on it (the
  // costliest digest here); its ETag is the server's. Unsigned (large) parts carry Content-MD5,
  // and their ETag must be that MD5. Over https a part carries neither (TLS protects it) and its
  // ETag is the server's.
  Result<std::string> md5 = PrepareBody(body, false, &call.headers, &call.payload_hash);
  if (!md5.ok()) return WithContext(md5.status(), op, key);
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, op, key);
  const std::string* etag = response.Header("etag");
  if (md5->empty()) {
    if (etag == nullptr || UnquoteEtag(*etag).empty()) {
      return WithContext(Status(ErrorCode::kCorrupt, "the answer has no part ETag"), op, key);
    }
    return QuotedEtag(*etag);
  }
  const std::string want_etag = QuotedMd5Etag(*md5);
  if (etag == nullptr || UnquoteEtag(*etag) != UnquoteEtag(want_etag)) {
    return WithContext(Status(ErrorCode::kCorrupt, "part ETag " +
                                                       (etag ? *etag : std::string("(none)")) +
                                                       " is not the MD5 sent, " + want_etag),
                       op, key);
  }
  return want_etag;
}

Result<std::string> CurlObjectClient::CompleteMultipartUpload(
    const std::string& key, const std::string& upload_id, const std::vector<CompletedPart>& parts) {
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "CompleteMultipartUpload", key));
  if (parts.empty()) {
    return WithContext(Status(ErrorCode::kInvalidArgument, "no parts"), "CompleteMultipartUpload",
                       key);
  }
  // Part ETags that are not plain MD5s (none expected from spacesfs) leave nothing to verify.
  Result<std::string> want_etag = MultipartEtag(parts);
  const std::string xml = BuildCompleteMultipartXml(parts);
  const BodySource body = BodySource::FromView(xml);
  Call call;
  call.method = "POST";
  call.key = key;
  call.query.emplace_back("uploadId", upload_id);
  call.body = &body;
  call.headers.emplace_back("content-type", "application/xml");
  Result<std::string> md5 = PrepareBody(body, true, &call.headers, &call.payload_hash);
  if (!md5.ok()) return WithContext(md5.status(), "CompleteMultipartUpload", key);
  std::string etag;  // "" when the answer carried none
  call.check_body = [&](const HttpResponse& response) -> Status {
    SPACESFS_RETURN_IF_ERROR(ErrorInOkBody(response));
    // radosgw (Pacific) answers with an empty <ETag></ETag>; the object's HEAD tells it then.
    Result<std::string> parsed = ParseCompleteMultipartUpload(response.body);
    etag = parsed.ok() ? *parsed : "";
    if (!UnquoteEtag(etag).empty()) etag = QuotedEtag(etag);
    return Status::Ok();
  };
  HttpResponse response;
  int attempts = 0;
  Status status = Run(call, &response, &attempts);
  if (!status.ok() && attempts > 1 && status.code() == ErrorCode::kNotFound && want_etag.ok()) {
    // An earlier attempt may have completed the upload before its answer was lost.
    Result<ObjectInfo> head = HeadObject(key);
    if (head.ok() && UnquoteEtag(head->etag) == UnquoteEtag(*want_etag)) return head->etag;
  }
  if (!status.ok()) return WithContext(status, "CompleteMultipartUpload", key);
  if (UnquoteEtag(etag).empty()) {
    Result<ObjectInfo> head = HeadObject(key);
    if (!head.ok()) return WithContext(head.status(), "CompleteMultipartUpload (HEAD)", key);
    etag = head->etag;
  }
  if (want_etag.ok() && UnquoteEtag(etag) != UnquoteEtag(*want_etag)) {
    return WithContext(Status(ErrorCode::kCorrupt, "completed ETag " + etag +
                                                       " is not the multipart ETag of the parts, " +
                                                       *want_etag),
                       "CompleteMultipartUpload", key);
  }
  return etag;
}

Status CurlObjectClient::AbortMultipartUpload(const std::string& key,
                                              const std::string& upload_id) {
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "AbortMultipartUpload", key));
  Call call;
  call.method = "DELETE";
  call.key = key;
  call.query.emplace_back("uploadId", upload_id);
  HttpResponse response;
  return WithContext(Run(call, &response), "AbortMultipartUpload", key);
}

Result<ListMultipartUploadsPage> CurlObjectClient::ListMultipartUploads(
    const ListMultipartUploadsRequest& request) {
  Call call;
  call.method = "GET";
  call.query.emplace_back("uploads", "");
  call.query.emplace_back("encoding-type", "url");
  if (!request.prefix.empty()) call.query.emplace_back("prefix", request.prefix);
  if (!request.key_marker.empty()) call.query.emplace_back("key-marker", request.key_marker);
  if (!request.upload_id_marker.empty()) {
    call.query.emplace_back("upload-id-marker", request.upload_id_marker);
  }
  if (request.max_uploads > 0) {
    call.query.emplace_back("max-uploads", std::to_string(request.max_uploads));
  }
  std::optional<ListMultipartUploadsPage> page;
  call.check_body = [&](const HttpResponse& response) -> Status {
    // radosgw (16.2) URL-encodes the keys as asked without saying <EncodingType>url</...>.
    Result<ListMultipartUploadsPage> parsed =
        ParseListMultipartUploads(response.body, /*requested_url_encoding=*/true);
    if (!parsed.ok()) return parsed.status();
    page = std::move(*parsed);
    return Status::Ok();
  };
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, "ListMultipartUploads prefix=" + request.prefix, "");
  return std::move(*page);
}

Result<std::string> CurlObjectClient::CopyObject(const CopyObjectRequest& request) {
  const std::string& key = request.destination_key;
  std::string op = "CopyObject from " + request.source_key + " to";
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(request.source_key), op, key));
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), op, key));
  Call call;
  call.method = "PUT";
  call.key = key;
  call.body = &EmptyBody();
  call.headers.emplace_back("x-amz-copy-source", CopySource(config_.bucket, request.source_key));
  if (!request.if_match.empty()) {
    // AWS names it x-amz-copy-source-if-match; radosgw (Pacific) reads x-amz-copy-if-match.
    call.headers.emplace_back("x-amz-copy-source-if-match", request.if_match);
    call.headers.emplace_back("x-amz-copy-if-match", request.if_match);
  }
  if (request.directive == MetadataDirective::kReplace) {
    call.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
    if (!request.content_type.empty()) {
      call.headers.emplace_back("content-type", request.content_type);
    }
    SPACESFS_RETURN_IF_ERROR(WithContext(AppendMetadataHeaders(request.metadata, &call.headers),
                                         op, key));
  } else {
    call.headers.emplace_back("x-amz-metadata-directive", "COPY");
  }
  std::string etag;
  call.check_body = [&](const HttpResponse& response) -> Status {
    SPACESFS_RETURN_IF_ERROR(ErrorInOkBody(response));
    Result<std::string> parsed = ParseCopyResult(response.body);
    if (!parsed.ok()) return parsed.status();
    etag = QuotedEtag(*parsed);
    return Status::Ok();
  };
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, op, key);
  return etag;
}

Result<std::string> CurlObjectClient::UploadPartCopy(const UploadPartCopyRequest& request) {
  const std::string& key = request.destination_key;
  std::string op = "UploadPartCopy #" + std::to_string(request.part_number) + " from " +
                   request.source_key + " to";
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(request.source_key), op, key));
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), op, key));
  if (request.part_number < 1 || request.part_number > 10000) {
    return WithContext(Status(ErrorCode::kInvalidArgument, "part number outside 1..10000"), op,
                       key);
  }
  if (request.source_range && request.source_range->last < request.source_range->first) {
    return WithContext(Status(ErrorCode::kInvalidArgument, "empty byte range"), op, key);
  }
  Call call;
  call.method = "PUT";
  call.key = key;
  call.body = &EmptyBody();
  call.query.emplace_back("partNumber", std::to_string(request.part_number));
  call.query.emplace_back("uploadId", request.upload_id);
  call.headers.emplace_back("x-amz-copy-source", CopySource(config_.bucket, request.source_key));
  if (request.source_range) {
    call.headers.emplace_back("x-amz-copy-source-range",
                              RangeHeader(request.source_range->first, request.source_range->last));
  }
  if (!request.if_match.empty()) {
    // AWS names it x-amz-copy-source-if-match; radosgw (Pacific) reads x-amz-copy-if-match.
    call.headers.emplace_back("x-amz-copy-source-if-match", request.if_match);
    call.headers.emplace_back("x-amz-copy-if-match", request.if_match);
  }
  std::string etag;
  call.check_body = [&](const HttpResponse& response) -> Status {
    SPACESFS_RETURN_IF_ERROR(ErrorInOkBody(response));
    Result<std::string> parsed = ParseCopyResult(response.body);
    if (!parsed.ok()) return parsed.status();
    etag = QuotedEtag(*parsed);
    return Status::Ok();
  };
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, op, key);
  return etag;
}

Status CurlObjectClient::DeleteObject(const std::string& key) {
  SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), "DeleteObject", key));
  Call call;
  call.method = "DELETE";
  call.key = key;
  HttpResponse response;
  Status status = Run(call, &response);
  if (status.code() == ErrorCode::kNotFound && status.s3_code() == "NoSuchKey") return Status::Ok();
  return WithContext(status, "DeleteObject", key);
}

Result<std::vector<DeleteError>> CurlObjectClient::DeleteObjects(
    const std::vector<std::string>& keys) {
  if (keys.empty()) return std::vector<DeleteError>();
  std::string op = "DeleteObjects (" + std::to_string(keys.size()) + " keys from " + keys.front() +
                   ")";
  if (keys.size() > 1000) {
    return WithContext(Status(ErrorCode::kInvalidArgument, "more than 1000 keys"), op, "");
  }
  for (const std::string& key : keys) {
    SPACESFS_RETURN_IF_ERROR(WithContext(InvalidKey(key), op, ""));
  }
  // Keys XML 1.0 cannot carry go one by one, percent-encoded in the URL.
  std::vector<DeleteError> errors;
  std::vector<std::string> batch;
  for (const std::string& key : keys) {
    if (FitsXmlRequest(key)) {
      batch.push_back(key);
    } else if (Status status = DeleteObject(key); !status.ok()) {
      errors.push_back(DeleteError{key, status});
    }
  }
  if (batch.empty()) return errors;
  const std::string xml = BuildDeleteObjectsXml(batch);
  const BodySource body = BodySource::FromView(xml);
  Call call;
  call.method = "POST";
  call.query.emplace_back("delete", "");
  call.body = &body;
  call.headers.emplace_back("content-type", "application/xml");
  Result<std::string> md5 = PrepareBody(body, true, &call.headers, &call.payload_hash);
  if (!md5.ok()) return WithContext(md5.status(), op, "");
  call.check_body = [&](const HttpResponse& response) -> Status {
    Result<std::vector<DeleteError>> parsed = ParseDeleteResult(response.body);
    if (!parsed.ok()) return parsed.status();
    for (DeleteError& error : *parsed) errors.push_back(std::move(error));
    return Status::Ok();
  };
  HttpResponse response;
  Status status = Run(call, &response);
  if (!status.ok()) return WithContext(status, op, "");
  return errors;
}

}  // namespace spacesfs::s3

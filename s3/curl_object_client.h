// CurlObjectClient: the ObjectClient over HTTP(S), libcurl and SigV4, for one bucket.
//
//   ClientConfig config;
//   config.endpoint = "https://nyc3.digitaloceanspaces.com";  // or "" with region = "nyc3"
//   config.region = "nyc3";
//   config.bucket = "photos";
//   config.key = SigningKey{"DO00...", Secret("..."), ""};
//   Result<std::unique_ptr<CurlObjectClient>> client = CurlObjectClient::Create(std::move(config));
//
// Every request is signed with SigV4. Bodies up to config.signed_payload_max_bytes carry their real
// SHA-256 (the server refuses a body that does not match it); larger ones are sent as
// UNSIGNED-PAYLOAD with Content-MD5. Single PUTs, Complete and DeleteObjects always carry
// Content-MD5, and a single PUT's returned ETag is checked against the MD5 sent (kCorrupt on a
// mismatch); a signed part carries only its SHA-256 and its ETag is the server's (an unsigned one
// carries Content-MD5 and its ETag is checked). Over https, unless config.sign_payload_over_tls,
// nothing is signed by content: parts go as UNSIGNED-PAYLOAD with no digest, and the requests
// above that need Content-MD5 carry only that. A body refused as changed on the way (BadDigest,
// XAmzContentSHA256Mismatch) is sent again. Request bodies are read from the BodySource twice
// (digest pass, then send) and never held whole in memory; response bodies of GET stream into
// the sink.
//
// Retries: failures RetryPolicy::IsRetryable accepts are retried up to config.max_attempts with
// full-jitter backoff. A GET cut short after some bytes reached the sink resumes from the next byte
// with If-Match on the ETag of the first response, so the sink never sees a byte twice; if the object
// changed meanwhile the call fails with kPreconditionFailed, and if every attempt fails it is kCorrupt
// (the sink holds a prefix to discard). A retried PutObject with if_none_match that meets 412, and a
// retried CompleteMultipartUpload that meets NoSuchUpload, check with HEAD whether their own earlier
// attempt succeeded.
//
// Errors: as documented in s3/object_client.h; messages name the operation, bucket and key and at
// most the first 4 characters of the access key id, never the secret.
//
// Threading: all methods may be called concurrently; connections are pooled and reused.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "s3/client_config.h"
#include "s3/endpoint.h"
#include "s3/http_transport.h"
#include "s3/object_client.h"
#include "s3/retry_policy.h"

namespace spacesfs::s3 {

class CurlObjectClient : public ObjectClient {
 public:
  // kConfig if the endpoint does not parse, or the bucket or access key id is empty.
  static Result<std::unique_ptr<CurlObjectClient>> Create(ClientConfig config);

  ~CurlObjectClient() override;

  const std::string& bucket() const override { return config_.bucket; }
  // Whether requests use path-style addressing (resolved from config.addressing).
  bool path_style() const { return path_style_; }
  // TCP/TLS connections opened so far; stays low while kept-alive connections are reused.
  uint64_t connections_opened() const { return transport_.connections_opened(); }
  // Signs every later request with `key` (a rotated credential, reloaded on SIGHUP). Requests in
  // flight finish with the key they were signed with.
  void SetSigningKey(SigningKey key);

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

 private:
  struct Call;

  CurlObjectClient(ClientConfig config, Endpoint endpoint);

  // One signed exchange; a non-2xx answer becomes a server Status.
  Status Attempt(const Call& call, HttpResponse* response);
  // Attempt with retries. *attempts (if not null) receives the number of attempts made.
  Status Run(const Call& call, HttpResponse* response, int* attempts = nullptr);
  void SleepBeforeRetry(int attempts_made);
  // "GetObject photos/a.jpg (key DO00...)".
  std::string Context(std::string_view operation, std::string_view key) const;
  Status WithContext(const Status& status, std::string_view operation, std::string_view key) const;
  SigningKey CurrentKey() const;
  // How the server can tell a body changed on the way: one up to signed_payload_max_bytes is
  // signed with its SHA-256 (a mismatch is refused: XAmzContentSHA256Mismatch); a larger one goes
  // as UNSIGNED-PAYLOAD with Content-MD5 (BadDigest). With need_md5 (the caller compares the
  // answer's ETag, or S3 demands Content-MD5) the MD5 is computed and sent in any case. Returns
  // the raw MD5, or "" when it was not computed; sets the payload hash and adds Content-MD5.
  // Over https (unless config_.sign_payload_over_tls) no SHA-256 is computed, and without
  // need_md5 the body is not read at all.
  Result<std::string> PrepareBody(const BodySource& body, bool need_md5, HeaderList* headers,
                                  std::string* payload_hash) const;

  // Constant after construction.
  const ClientConfig config_;
  const Endpoint endpoint_;
  const bool path_style_;
  const RetryPolicy retry_;
  HttpTransport transport_;  // thread-safe

  mutable std::mutex key_mu_;
  SigningKey key_;  // guarded by key_mu_; starts as config_.key
};

}  // namespace spacesfs::s3

// ObjectClient: the S3 operations spacesfs needs on one bucket (a "Space"), and nothing else.
//
// It never calls ListBuckets or any ?acl API: a bucket-limited key is refused those.
//
// Implementations: CurlObjectClient (s3/curl_object_client.h, the real one), MemoryObjectClient
// (an in-memory bucket for fs tests) and FaultInjectingClient (wraps any client, fails chosen calls).
//
// Errors: every method returns a Status/Result. Codes split into what any S3 server may answer
// (kNotFound, kAccessDenied, kAuthFailed, kPreconditionFailed, kThrottled, kServerError, kBadRequest;
// with http_status, s3_code and request_id set) and what went wrong in the client (kNetwork,
// kTimeout, kCorrupt, kInvalidArgument). Retries, where an implementation does them, have already
// happened when a method returns.
//
// Threading: every method may be called concurrently from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace spacesfs::s3 {

// User metadata: names without the "x-amz-meta-" prefix, lower case; values as sent.
using UserMetadata = std::map<std::string, std::string>;

// What HEAD, GET and LIST report about one object.
struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;                // as the server sends it, with its double quotes
  int64_t last_modified_ns = 0;    // Unix time in nanoseconds (Last-Modified has seconds)
  std::string content_type;        // HEAD/GET only
  UserMetadata metadata;           // HEAD/GET only (LIST does not return it)
};

// Inclusive byte range [first, last], as in "Range: bytes=first-last".
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
};

// A request body that can be read at any offset, so a failed attempt can be retried from the start
// and large bodies are streamed, not held in memory.
struct BodySource {
  uint64_t size = 0;
  // Fills out with bytes starting at offset; returns how many were written (0 only at the end).
  std::function<Result<size_t>(uint64_t offset, std::span<char> out)> read;
  // The same bytes when they are in memory already (FromView), so digests need no copy; empty
  // data() otherwise.
  std::string_view in_memory;

  // A body over memory the caller keeps alive until the call returns.
  static BodySource FromView(std::string_view bytes);
};

// Receives a response body in order, chunk by chunk. A non-OK Status aborts the transfer and is
// returned by the call.
using BodySink = std::function<Status(std::string_view chunk)>;

struct GetObjectRequest {
  std::string key;
  std::optional<ByteRange> range;  // whole object when empty
  std::string if_match;            // ETag the object must still have ("" = no condition)
};

struct PutObjectRequest {
  std::string key;
  BodySource body;
  UserMetadata metadata;
  std::string content_type;
  bool if_none_match = false;      // create only: fail with kPreconditionFailed if the key exists
};

struct ListObjectsRequest {
  std::string prefix;
  std::string delimiter;            // usually "/" or ""
  std::string continuation_token;
  std::string start_after;
  int max_keys = 1000;
};

// One ListObjectsV2 page. Keys and prefixes are already URL-decoded (encoding-type=url is always
// requested so keys with control characters survive the XML).
struct ListObjectsPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_continuation_token;
};

struct CompletedPart {
  int part_number = 0;
  std::string etag;
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  int64_t initiated_ns = 0;
};

struct ListMultipartUploadsRequest {
  std::string prefix;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = 1000;
};

struct ListMultipartUploadsPage {
  std::vector<MultipartUpload> uploads;
  bool is_truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

enum class MetadataDirective { kCopy, kReplace };

struct CopyObjectRequest {
  std::string source_key;
  std::string destination_key;
  MetadataDirective directive = MetadataDirective::kCopy;
  UserMetadata metadata;            // used with kReplace
  std::string content_type;         // used with kReplace
  std::string if_match;             // source ETag must still be this ("" = no condition)
};

struct UploadPartCopyRequest {
  std::string source_key;
  std::string destination_key;
  std::string upload_id;
  int part_number = 0;
  std::optional<ByteRange> source_range;
  std::string if_match;
};

// One key DeleteObjects could not delete.
struct DeleteError {
  std::string key;
  Status status;
};

class ObjectClient {
 public:
  virtual ~ObjectClient() = default;

  // The bucket this client works on.
  virtual const std::string& bucket() const = 0;

  virtual Result<ObjectInfo> HeadObject(const std::string& key) = 0;
  // Streams the body (or the range) into sink. A body shorter or longer than announced is kCorrupt,
  // and sink has then received bytes that must be discarded. An If-Match mismatch is
  // kPreconditionFailed. Returns the object's info (size is the whole object's size).
  virtual Result<ObjectInfo> GetObject(const GetObjectRequest& request, const BodySink& sink) = 0;
  virtual Result<ListObjectsPage> ListObjects(const ListObjectsRequest& request) = 0;
  // Returns the new ETag.
  virtual Result<std::string> PutObject(const PutObjectRequest& request) = 0;

  // Multipart. Part numbers are 1..10000; every part but the last is at least 5 MiB.
  virtual Result<std::string> CreateMultipartUpload(const std::string& key,
                                                    const UserMetadata& metadata,
                                                    const std::string& content_type) = 0;
  virtual Result<std::string> UploadPart(const std::string& key, const std::string& upload_id,
                                         int part_number, const BodySource& body) = 0;
  // Returns the ETag of the completed object.
  virtual Result<std::string> CompleteMultipartUpload(const std::string& key,
                                                      const std::string& upload_id,
                                                      const std::vector<CompletedPart>& parts) = 0;
  virtual Status AbortMultipartUpload(const std::string& key, const std::string& upload_id) = 0;
  virtual Result<ListMultipartUploadsPage> ListMultipartUploads(
      const ListMultipartUploadsRequest& request) = 0;

  // Returns the ETag of the copy. Sources over 5 GiB need UploadPartCopy.
  virtual Result<std::string> CopyObject(const CopyObjectRequest& request) = 0;
  virtual Result<std::string> UploadPartCopy(const UploadPartCopyRequest& request) = 0;

  // Deleting a key that does not exist succeeds (S3 semantics).
  virtual Status DeleteObject(const std::string& key) = 0;
  // Up to 1,000 keys. Returns the keys that could not be deleted.
  virtual Result<std::vector<DeleteError>> DeleteObjects(const std::vector<std::string>& keys) = 0;
};

}  // namespace spacesfs::s3

// Status: the outcome of an operation that can fail, in the shape of LevelDB's Status.
//
// A Status carries an ErrorCode and, for failures that came from an S3 server, the HTTP status,
// the S3 error code (e.g. "NoSuchKey"), the server's message and its request id. The message never
// contains a secret: code that builds a Status from a request must not put credentials into it.
//
// ErrorCode is shared by every layer; the FUSE adapter maps it to an errno in one exhaustive switch.
//
// Thread safety: a Status is a value; distinct objects may be used from distinct threads.
#pragma once

#include <string>
#include <string_view>

namespace spacesfs {

enum class ErrorCode {
  kOk = 0,
  // --- what an S3 server may answer ---
  kNotFound,            // 404 NoSuchKey / NoSuchBucket / NoSuchUpload
  kAccessDenied,        // 403 AccessDenied and other authorisation refusals
  kAuthFailed,          // 403 SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed...
  kPreconditionFailed,  // 412: If-Match / If-None-Match did not hold
  kThrottled,           // 503 SlowDown, 429
  kServerError,         // 5xx other than throttling
  kBadRequest,          // other 4xx the server refused (InvalidArgument, EntityTooLarge, ...)
  // --- what went wrong on the client side ---
  kNetwork,             // connection refused/reset, DNS, TLS
  kTimeout,             // connect or low-speed timeout
  kCorrupt,             // integrity: short/long body, checksum mismatch, malformed XML
  kInvalidArgument,     // a caller passed something that cannot be sent (bad key, bad range)
  kConfig,              // configuration / credential file problems
  kCancelled,
  kInternal,
  // --- filesystem-level outcomes (fs/) ---
  kExists,
  kNotEmpty,
  kNotDirectory,
  kIsDirectory,
  kNameTooLong,
  kReadOnly,            // the mount (or scope) is read-only
  kPermissionDenied,    // a local scope check refused the operation
  kNotPermitted,        // the operation is not supported by design (e.g. hard links): EPERM
  kNotSupported,
  kStale,               // the object changed under an open handle
  kNoSpace,
  kIoError,
};

// text with every control character (below 0x20, and 0x7f) written as \xNN: safe for one log line.
std::string EscapeControlCharacters(std::string_view text);

// Stable lower-case name of a code, for logs and tests ("not_found", "access_denied", ...).
std::string_view ErrorCodeName(ErrorCode code);

class Status {
 public:
  Status() = default;  // OK
  // Control characters in message (a newline from a hostile server, a CR from a file) are escaped
  // as \xNN, so a Status is always one line.
  Status(ErrorCode code, std::string message);

  static Status Ok() { return Status(); }
  // A failure reported by an S3 server.
  static Status FromServer(ErrorCode code, int http_status, std::string s3_code, std::string message,
                           std::string request_id);

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int http_status() const { return http_status_; }          // 0 when not from a server
  const std::string& s3_code() const { return s3_code_; }   // "" when not from a server
  const std::string& request_id() const { return request_id_; }

  // Adds context in front of the message: "GET photos/a.jpg: " + message.
  Status WithContext(std::string_view context) const;

  // One line: "access_denied: GET photos/a.jpg: HTTP 403 AccessDenied: Access Denied (request id ...)".
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  int http_status_ = 0;
  std::string message_;
  std::string s3_code_;
  std::string request_id_;
};

}  // namespace spacesfs

#include "common/status.h"

namespace spacesfs {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAccessDenied: return "access_denied";
    case ErrorCode::kAuthFailed: return "auth_failed";
    case ErrorCode::kPreconditionFailed: return "precondition_failed";
    case ErrorCode::kThrottled: return "throttled";
    case ErrorCode::kServerError: return "server_error";
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kConfig: return "config";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kExists: return "exists";
    case ErrorCode::kNotEmpty: return "not_empty";
    case ErrorCode::kNotDirectory: return "not_directory";
    case ErrorCode::kIsDirectory: return "is_directory";
    case ErrorCode::kNameTooLong: return "name_too_long";
    case ErrorCode::kReadOnly: return "read_only";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kNotPermitted: return "not_permitted";
    case ErrorCode::kNotSupported: return "not_supported";
    case ErrorCode::kStale: return "stale";
    case ErrorCode::kNoSpace: return "no_space";
    case ErrorCode::kIoError: return "io_error";
  }
  return "unknown";
}

std::string EscapeControlCharacters(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

Status::Status(ErrorCode code, std::string message) : code_(code) {
  bool clean = true;
  for (char c : message) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) clean = false;
  }
  message_ = clean ? std::move(message) : EscapeControlCharacters(message);
}

Status Status::FromServer(ErrorCode code, int http_status, std::string s3_code, std::string message,
                          std::string request_id) {
  Status s(code, std::move(message));
  s.http_status_ = http_status;
  s.s3_code_ = EscapeControlCharacters(s3_code);
  s.request_id_ = EscapeControlCharacters(request_id);
  return s;
}

Status Status::WithContext(std::string_view context) const {
  Status s = *this;
  s.message_ = EscapeControlCharacters(context) + (message_.empty() ? "" : ": " + message_);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(ErrorCodeName(code_));
  if (!message_.empty()) out += ": " + message_;
  if (http_status_ != 0) {
    out += " (HTTP " + std::to_string(http_status_);
    if (!s3_code_.empty()) out += " " + s3_code_;
    if (!request_id_.empty()) out += ", request id " + request_id_;
    out += ")";
  }
  return out;
}

}  // namespace spacesfs

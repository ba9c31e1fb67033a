#include "keys/api_error.h"

#include <string>

namespace spacesfs::keys {

Status ApiError(std::string_view api, std::string_view what, const s3::HttpResponse& response,
                std::string_view detail) {
  const int code = response.status;
  ErrorCode error = ErrorCode::kBadRequest;
  std::string hint;
  if (code == 401) {
    error = ErrorCode::kAuthFailed;
    hint = " (the credential was refused; check the token or admin key)";
  } else if (code == 403) {
    error = ErrorCode::kAccessDenied;
    hint = " (the credential is valid but may not do this)";
  } else if (code == 404) {
    error = ErrorCode::kNotFound;
  } else if (code == 409) {
    error = ErrorCode::kExists;
  } else if (code == 429) {
    error = ErrorCode::kThrottled;
    const std::string* after = response.Header("retry-after");
    hint = after != nullptr && !after->empty() ? " (rate limited; retry after " + *after + " s)"
                                               : " (rate limited; retry later)";
  } else if (code >= 500) {
    error = ErrorCode::kServerError;
    hint = " (server error; retry later)";
  }
  std::string message = std::string(api) + ": " + std::string(what) + ": HTTP " +
                        std::to_string(code);
  std::string clean;
  for (char c : detail.substr(0, 300)) clean += (c == '\n' || c == '\r') ? ' ' : c;
  if (!clean.empty()) message += ": " + clean;
  message += hint;
  return Status(error, std::move(message));
}

Status TransportError(std::string_view api, std::string_view what, const Status& status) {
  return Status(status.code(), std::string(api) + ": " + std::string(what) + ": " +
                                   status.message());
}

}  // namespace spacesfs::keys

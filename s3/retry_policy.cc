#include "s3/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace spacesfs::s3 {

bool RetryPolicy::IsRetryable(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
    case ErrorCode::kThrottled:
      return true;
    case ErrorCode::kNotFound:
    case ErrorCode::kAccessDenied:
    case ErrorCode::kAuthFailed:
    case ErrorCode::kPreconditionFailed:
      return false;
    default:
      break;
  }
  if (status.http_status() == 403 || status.http_status() == 404 || status.http_status() == 412) {
    return false;
  }
  const std::string& code = status.s3_code();
  if (code == "SlowDown" || code == "RequestTimeout" || code == "InternalError") return true;
  // The body the server got is not the one sent (changed on the way): sent again from its source.
  if (code == "BadDigest" || code == "XAmzContentSHA256Mismatch") return true;
  switch (status.http_status()) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

bool RetryPolicy::ShouldRetry(const Status& status, int attempts_made) const {
  if (status.ok()) return false;
  if (attempts_made >= options_.max_attempts) return false;
  return IsRetryable(status);
}

std::chrono::milliseconds RetryPolicy::Backoff(int attempts_made, double uniform01) const {
  double base = static_cast<double>(options_.base_delay.count());
  double cap = static_cast<double>(options_.max_delay.count());
  int exponent = std::clamp(attempts_made - 1, 0, 30);
  double ceiling = std::min(cap, base * std::ldexp(1.0, exponent));
  double u = std::clamp(uniform01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(ceiling * u));
}

}  // namespace spacesfs::s3

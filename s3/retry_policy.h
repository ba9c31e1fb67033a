// RetryPolicy: which failures are worth another attempt, and how long to wait before it.
//
// Retried: 500/502/503/504 and 429, the S3 codes SlowDown, RequestTimeout, InternalError (whatever
// HTTP status carries them), and the client-side kNetwork (connection refused/reset, DNS, a body cut
// short) and kTimeout. Never retried: 403 (kAccessDenied, kAuthFailed), 404, 412, other 4xx,
// kCorrupt, kInvalidArgument, and anything else.
//
// Backoff is exponential with full jitter: attempt n (1-based, the attempt that just failed) waits a
// uniformly random time in [0, min(max_delay, base_delay * 2^(n-1))].
//
// Pure; thread-safe (the random draw is passed in).
#pragma once

#include <chrono>

#include "common/status.h"

namespace spacesfs::s3 {

struct RetryOptions {
  int max_attempts = 5;  // total attempts including the first; 1 = no retries
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{10'000};
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = {}) : options_(options) {}

  // Whether a failure of this kind may succeed if tried again.
  static bool IsRetryable(const Status& status);

  // Whether to make another attempt after `attempts_made` attempts, the last failing with `status`.
  bool ShouldRetry(const Status& status, int attempts_made) const;

  // The wait before the next attempt. `uniform01` is a random draw in [0, 1).
  std::chrono::milliseconds Backoff(int attempts_made, double uniform01) const;

  const RetryOptions& options() const { return options_; }

 private:
  RetryOptions options_;
};

}  // namespace spacesfs::s3

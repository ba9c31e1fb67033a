#include "s3/retry_policy.h"

#include <gtest/gtest.h>

namespace spacesfs::s3 {
namespace {

Status Server(ErrorCode code, int http, const std::string& s3_code) {
  return Status::FromServer(code, http, s3_code, "message", "request-id");
}

TEST(RetryPolicyTest, RetriesTransientServerAnswers) {
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 500, "InternalError")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 502, "")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kThrottled, 503, "SlowDown")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 503, "ServiceUnavailable")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 504, "")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kThrottled, 429, "")));
  // S3 sends RequestTimeout with 400, and InternalError inside a 200 answer.
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kBadRequest, 400, "RequestTimeout")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 200, "InternalError")));
  // A body that reached the server changed (its SHA-256 or Content-MD5 does not match).
  EXPECT_TRUE(
      RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 400, "XAmzContentSHA256Mismatch")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Server(ErrorCode::kBadRequest, 400, "BadDigest")));
}

TEST(RetryPolicyTest, RetriesClientSideTransportFailures) {
  EXPECT_TRUE(RetryPolicy::IsRetryable(Status(ErrorCode::kNetwork, "connection reset")));
  EXPECT_TRUE(RetryPolicy::IsRetryable(Status(ErrorCode::kTimeout, "low speed")));
}

TEST(RetryPolicyTest, NeverRetriesRefusalsOrClientMistakes) {
  EXPECT_FALSE(RetryPolicy::IsRetryable(Server(ErrorCode::kAccessDenied, 403, "AccessDenied")));
  EXPECT_FALSE(
      RetryPolicy::IsRetryable(Server(ErrorCode::kAuthFailed, 403, "SignatureDoesNotMatch")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Server(ErrorCode::kNotFound, 404, "NoSuchKey")));
  EXPECT_FALSE(
      RetryPolicy::IsRetryable(Server(ErrorCode::kPreconditionFailed, 412, "PreconditionFailed")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Server(ErrorCode::kBadRequest, 400, "InvalidArgument")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Server(ErrorCode::kBadRequest, 416, "InvalidRange")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Server(ErrorCode::kServerError, 501, "NotImplemented")));
  // A 403 stays final even if a server misuses an otherwise transient code with it.
  EXPECT_FALSE(RetryPolicy::IsRetryable(Server(ErrorCode::kAccessDenied, 403, "InternalError")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Status(ErrorCode::kCorrupt, "short body")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Status(ErrorCode::kInvalidArgument, "bad key")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Status(ErrorCode::kCancelled, "sink refused")));
  EXPECT_FALSE(RetryPolicy::IsRetryable(Status::Ok()));
}

TEST(RetryPolicyTest, AttemptsAreBounded) {
  RetryPolicy policy(RetryOptions{3, std::chrono::milliseconds(10), std::chrono::milliseconds(100)});
  Status transient(ErrorCode::kNetwork, "reset");
  EXPECT_TRUE(policy.ShouldRetry(transient, 1));
  EXPECT_TRUE(policy.ShouldRetry(transient, 2));
  EXPECT_FALSE(policy.ShouldRetry(transient, 3));
  EXPECT_FALSE(policy.ShouldRetry(Server(ErrorCode::kNotFound, 404, "NoSuchKey"), 1));
  EXPECT_FALSE(policy.ShouldRetry(Status::Ok(), 1));
  RetryPolicy once(RetryOptions{1, std::chrono::milliseconds(10), std::chrono::milliseconds(100)});
  EXPECT_FALSE(once.ShouldRetry(transient, 1));
}

TEST(RetryPolicyTest, DefaultIsFiveAttempts) {
  RetryPolicy policy;
  Status transient(ErrorCode::kTimeout, "t");
  EXPECT_TRUE(policy.ShouldRetry(transient, 4));
  EXPECT_FALSE(policy.ShouldRetry(transient, 5));
}

TEST(RetryPolicyTest, BackoffIsExponentialWithFullJitterAndCapped) {
  RetryPolicy policy(
      RetryOptions{10, std::chrono::milliseconds(100), std::chrono::milliseconds(1000)});
  // The ceiling doubles: 100, 200, 400, 800, then the 1000 cap.
  EXPECT_EQ(policy.Backoff(1, 0.999999).count(), 99);
  EXPECT_EQ(policy.Backoff(2, 0.5).count(), 100);
  EXPECT_EQ(policy.Backoff(3, 0.5).count(), 200);
  EXPECT_EQ(policy.Backoff(4, 0.5).count(), 400);
  EXPECT_EQ(policy.Backoff(5, 0.5).count(), 500);
  EXPECT_EQ(policy.Backoff(50, 0.5).count(), 500);
  // Full jitter: anything from zero up to the ceiling.
  EXPECT_EQ(policy.Backoff(4, 0.0).count(), 0);
  EXPECT_EQ(policy.Backoff(4, 0.25).count(), 200);
  // Out-of-range draws are clamped.
  EXPECT_EQ(policy.Backoff(1, 7.0).count(), 100);
  EXPECT_EQ(policy.Backoff(1, -1.0).count(), 0);
}

}  // namespace
}  // namespace spacesfs::s3

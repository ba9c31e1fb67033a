// CurlObjectClient through tests/tools/fault_proxy.py in front of the real radosgw: with a share of
// requests faulted (503 SlowDown, 500, connection reset, truncated body, flipped byte, latency),
// every call either succeeds with exactly the right bytes or fails with a clear Status; wrong bytes
// are never returned as success. Forced faults ("next") check the retry and resume paths one by one.
// Every object written is checked with an independent client that talks to radosgw directly.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <random>
#include <string>

#include "s3/body_digest.h"
#include "s3/sigv4.h"
#include "s3/transfer.h"
#include "support/fault_proxy.h"
#include "support/s3_test_env.h"

namespace spacesfs {
namespace {

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

class FaultProxyClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = *env;
    proxy_ = testing::FaultProxy::Start(env_.endpoint, {"--seed", "7"});
    ASSERT_NE(proxy_, nullptr);
    s3::ClientConfig config = testing::TestClientConfig(env_, env_.owner, "team-a");
    config.endpoint = proxy_->endpoint();
    config.max_attempts = 6;
    config.retry_base_delay = std::chrono::milliseconds(20);
    config.retry_max_delay = std::chrono::milliseconds(500);
    config.low_speed_time = std::chrono::seconds(10);
    auto faulty = s3::CurlObjectClient::Create(config);
    ASSERT_TRUE(faulty.ok()) << faulty.status().ToString();
    faulty_ = std::move(*faulty);
    auto direct = testing::MakeTestClient(env_, testing::TestUser::kOwner, "team-a");
    ASSERT_TRUE(direct.ok()) << direct.status().ToString();
    direct_ = std::move(*direct);
    prefix_ = testing::UniqueTestPrefix("fault-proxy");
  }
  void TearDown() override {
    if (direct_) {
      EXPECT_TRUE(testing::DeleteAllUnder(*direct_, prefix_).ok());
    }
  }

  bool Configure(const std::string& json) {
    bool ok = proxy_->Configure(json);
    EXPECT_TRUE(ok) << json;
    return ok;
  }

  // The whole object read with the direct client ("<error>" on failure).
  std::string DirectBody(const std::string& key) {
    std::string body;
    s3::GetObjectRequest get;
    get.key = key;
    auto r = direct_->GetObject(get, [&](std::string_view c) {
      body.append(c);
      return Status::Ok();
    });
    return r.ok() ? body : "<" + r.status().ToString() + ">";
  }

  Result<std::string> FaultyGet(const std::string& key) {
    std::string body;
    s3::GetObjectRequest get;
    get.key = key;
    auto r = faulty_->GetObject(get, [&](std::string_view c) {
      body.append(c);
      return Status::Ok();
    });
    if (!r.ok()) return r.status();
    return body;
  }

  Result<std::string> FaultyPut(const std::string& key, const std::string& data) {
    s3::PutObjectRequest put;
    put.key = key;
    put.body = s3::BodySource::FromView(data);
    return faulty_->PutObject(put);
  }

  size_t PendingUploads() {
    s3::ListMultipartUploadsRequest list;
    list.prefix = prefix_;
    auto page = direct_->ListMultipartUploads(list);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->uploads.size() : 0;
  }

  testing::S3TestEnv env_;
  std::unique_ptr<testing::FaultProxy> proxy_;
  std::unique_ptr<s3::CurlObjectClient> faulty_;
  std::unique_ptr<s3::CurlObjectClient> direct_;
  std::string prefix_;
};

// A failure must say what failed: a real error code and a message naming the operation.
void ExpectClearFailure(const Status& status) {
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.code(), ErrorCode::kOk);
  EXPECT_FALSE(status.message().empty()) << status.ToString();
}

TEST_F(FaultProxyClientTest, SmallObjectsUnderRandomFaultsAreExactOrCleanFailures) {
  ASSERT_TRUE(Configure(R"({"fault_rate": 0.25, "seed": 11,
      "faults": ["slowdown", "500", "reset", "truncate", "latency"], "latency_ms": 50})"));
  int put_ok = 0, get_ok = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string key = prefix_ + "small-" + std::to_string(i);
    const std::string data = RandomBytes(1000 + i * 7919, 100 + i);
    Result<std::string> put = FaultyPut(key, data);
    if (put.ok()) {
      ++put_ok;
      EXPECT_EQ(s3::Sha256Hex(DirectBody(key)), s3::Sha256Hex(data)) << key;
    } else {
      ExpectClearFailure(put.status());
      std::string seen = DirectBody(key);
      // A failed PUT leaves nothing or the whole object (its response was lost), never a part.
      EXPECT_TRUE(seen.starts_with("<") || seen == data) << key << ": " << seen.size() << " bytes";
      continue;
    }
    Result<std::string> got = FaultyGet(key);
    if (got.ok()) {
      ++get_ok;
      EXPECT_EQ(s3::Sha256Hex(*got), s3::Sha256Hex(data)) << key << " returned wrong bytes as success";
    } else {
      ExpectClearFailure(got.status());
    }
  }
  long faults = 0;
  for (const char* f : {"slowdown", "500", "reset_before", "reset_mid", "truncate", "latency"}) {
    faults += proxy_->Counter("faults", f);
  }
  std::printf("small objects: %d/40 PUT ok, %d GET ok, %ld faults injected; stats %s\n", put_ok,
              get_ok, faults, proxy_->Stats().c_str());
  EXPECT_GT(faults, 5) << "the proxy injected too few faults for the test to mean anything";
  // With 6 attempts a request fails for good at 0.25^6: nearly everything must succeed.
  EXPECT_GE(put_ok, 36);
  EXPECT_GE(get_ok, put_ok - 3);
}

TEST_F(FaultProxyClientTest, MultipartUploadAndRangedDownloadUnderRandomFaults) {
  const uint64_t kSize = 32ull << 20;
  const std::string data = RandomBytes(kSize, 42);
  char in_path[] = "/tmp/spacesfs-fault-in-XXXXXX";
  int in_fd = mkstemp(in_path);
  ASSERT_GE(in_fd, 0);
  unlink(in_path);
  ASSERT_EQ(pwrite(in_fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  ASSERT_TRUE(Configure(R"({"fault_rate": 0.15, "seed": 5,
      "faults": ["slowdown", "500", "reset", "truncate", "latency"], "latency_ms": 100})"));
  s3::TransferOptions options;
  options.part_size = 5ull << 20;
  options.concurrency = 4;
  int rounds_ok = 0;
  for (int round = 0; round < 2; ++round) {
    const std::string key = prefix_ + "big-" + std::to_string(round);
    auto start = std::chrono::steady_clock::now();
    Result<std::string> up = s3::UploadFromFd(*faulty_, key, in_fd, kSize, options);
    if (!up.ok()) {
      ExpectClearFailure(up.status());
      EXPECT_TRUE(DirectBody(key).starts_with("<")) << "a failed multipart upload left an object";
    } else {
      EXPECT_EQ(s3::Sha256Hex(DirectBody(key)), s3::Sha256Hex(data)) << "uploaded bytes differ";
      char out_path[] = "/tmp/spacesfs-fault-out-XXXXXX";
      int out_fd = mkstemp(out_path);
      ASSERT_GE(out_fd, 0);
      unlink(out_path);
      Result<s3::ObjectInfo> down = s3::DownloadToFd(*faulty_, key, out_fd, options);
      if (down.ok()) {
        std::string back(kSize, '\0');
        ASSERT_EQ(pread(out_fd, back.data(), kSize, 0), static_cast<ssize_t>(kSize));
        EXPECT_EQ(s3::Sha256Hex(back), s3::Sha256Hex(data)) << "download returned wrong bytes";
        ++rounds_ok;
      } else {
        ExpectClearFailure(down.status());
      }
      close(out_fd);
    }
    EXPECT_EQ(PendingUploads(), 0u) << "multipart upload left behind";
    std::printf("32 MiB round %d: upload %s, %.1f s\n", round, up.ok() ? "ok" : up.status().ToString().c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  close(in_fd);
  std::printf("stats %s\n", proxy_->Stats().c_str());
  EXPECT_GT(proxy_->Counter("faults", "truncate") + proxy_->Counter("faults", "reset_mid") +
                proxy_->Counter("faults", "slowdown") + proxy_->Counter("faults", "500"),
            0);
  EXPECT_GE(rounds_ok, 1);
}

TEST_F(FaultProxyClientTest, SlowDownThenSuccessIsRetried) {
  const std::string key = prefix_ + "slowdown";
  const std::string data = RandomBytes(4096, 1);
  ASSERT_TRUE(proxy_->ResetStats());
  ASSERT_TRUE(Configure(R"({"fault_rate": 0, "next": ["slowdown", "slowdown"]})"));
  Result<std::string> put = FaultyPut(key, data);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(proxy_->Counter("faults", "slowdown"), 2);
  EXPECT_EQ(proxy_->Counter("requests"), 3);
  EXPECT_EQ(DirectBody(key), data);
}

// A part whose bytes change on the way is refused by the server (its SHA-256 is signed; it
// carries no Content-MD5) and sent again; the object holds exactly what was written.
TEST_F(FaultProxyClientTest, APartChangedOnTheWayIsRefusedAndSentAgain) {
  const std::string key = prefix_ + "flipped-part";
  const std::string part1 = RandomBytes(5 << 20, 7);
  const std::string part2 = RandomBytes(1000, 8);
  Result<std::string> upload_id = direct_->CreateMultipartUpload(key, {}, "");
  ASSERT_TRUE(upload_id.ok()) << upload_id.status().ToString();
  ASSERT_TRUE(proxy_->ResetStats());
  ASSERT_TRUE(Configure(R"({"fault_rate": 0, "next": ["flip_request"], "body_offset": 4242})"));
  Result<std::string> etag1 =
      faulty_->UploadPart(key, *upload_id, 1, s3::BodySource::FromView(part1));
  ASSERT_TRUE(etag1.ok()) << etag1.status().ToString();
  EXPECT_EQ(proxy_->Counter("faults", "flip_request"), 1);
  EXPECT_EQ(proxy_->Counter("requests"), 2);  // refused once, then stored
  Result<std::string> etag2 =
      faulty_->UploadPart(key, *upload_id, 2, s3::BodySource::FromView(part2));
  ASSERT_TRUE(etag2.ok()) << etag2.status().ToString();
  // The ETags are the server's, and they are the parts' MD5s.
  EXPECT_EQ(*etag1, s3::QuotedMd5Etag(s3::Md5(part1)));
  EXPECT_EQ(*etag2, s3::QuotedMd5Etag(s3::Md5(part2)));
  Result<std::string> done =
      direct_->CompleteMultipartUpload(key, *upload_id, {{1, *etag1}, {2, *etag2}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(s3::Sha256Hex(DirectBody(key)), s3::Sha256Hex(part1 + part2));
}

// A part changed on every attempt is never stored: the upload fails and says so.
TEST_F(FaultProxyClientTest, APartChangedOnEveryAttemptFailsAndIsNotStored) {
  const std::string key = prefix_ + "always-flipped-part";
  const std::string part = RandomBytes(5 << 20, 9);
  Result<std::string> upload_id = direct_->CreateMultipartUpload(key, {}, "");
  ASSERT_TRUE(upload_id.ok()) << upload_id.status().ToString();
  ASSERT_TRUE(Configure(
      R"({"fault_rate": 1.0, "faults": ["flip_request"], "methods": ["PUT"], "body_offset": 99})"));
  Result<std::string> etag = faulty_->UploadPart(key, *upload_id, 1, s3::BodySource::FromView(part));
  ASSERT_FALSE(etag.ok());
  EXPECT_EQ(etag.status().s3_code(), "XAmzContentSHA256Mismatch") << etag.status().ToString();
  EXPECT_NE(etag.status().message().find(key), std::string::npos) << etag.status().ToString();
  ASSERT_TRUE(Configure(R"({"fault_rate": 0})"));
  // Neither the sent bytes nor changed ones were kept as part 1.
  Result<std::string> done = direct_->CompleteMultipartUpload(
      key, *upload_id, {{1, s3::QuotedMd5Etag(s3::Md5(part))}});
  EXPECT_FALSE(done.ok()) << "a part refused on every attempt was stored";
  EXPECT_TRUE(DirectBody(key).starts_with("<"));
  EXPECT_TRUE(direct_->AbortMultipartUpload(key, *upload_id).ok());
}

TEST_F(FaultProxyClientTest, PersistentServerErrorFailsWithServerStatus) {
  const std::string key = prefix_ + "always-500";
  const std::string data = RandomBytes(100, 2);
  ASSERT_TRUE(Configure(R"({"fault_rate": 1.0, "faults": ["500"]})"));
  auto start = std::chrono::steady_clock::now();
  Result<std::string> put = FaultyPut(key, data);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), ErrorCode::kServerError) << put.status().ToString();
  EXPECT_NE(put.status().message().find(key), std::string::npos) << put.status().ToString();
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(proxy_->Counter("faults", "500"), 6);  // max_attempts
  EXPECT_TRUE(DirectBody(key).starts_with("<"));
}

TEST_F(FaultProxyClientTest, TruncatedGetIsResumedWithTheRightBytes) {
  const std::string key = prefix_ + "truncate";
  const std::string data = RandomBytes(3 << 20, 3);
  ASSERT_TRUE(FaultyPut(key, data).ok());
  ASSERT_TRUE(proxy_->ResetStats());
  ASSERT_TRUE(Configure(R"({"fault_rate": 0, "methods": ["GET"], "next": ["truncate", "truncate"]})"));
  Result<std::string> got = FaultyGet(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(proxy_->Counter("faults", "truncate"), 2);
  EXPECT_EQ(proxy_->Counter("requests"), 3);
  EXPECT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data) << "resumed GET returned wrong bytes";
}

TEST_F(FaultProxyClientTest, ResetConnectionsAreRetried) {
  const std::string key = prefix_ + "reset";
  const std::string data = RandomBytes(1 << 20, 4);
  ASSERT_TRUE(Configure(R"({"fault_rate": 0, "next": ["reset_before", "reset_mid"]})"));
  Result<std::string> put = FaultyPut(key, data);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(DirectBody(key), data);
  ASSERT_TRUE(proxy_->ResetStats());
  ASSERT_TRUE(Configure(R"({"fault_rate": 0, "methods": ["GET"], "next": ["reset_mid", "reset_before"]})"));
  Result<std::string> got = FaultyGet(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data);
  EXPECT_EQ(proxy_->Counter("faults", "reset_mid") + proxy_->Counter("faults", "reset_before"), 2);
}

TEST_F(FaultProxyClientTest, TruncatedGetThatNeverCompletesIsCorruptNotSuccess) {
  const std::string key = prefix_ + "always-truncated";
  const std::string data = RandomBytes(256 << 10, 5);
  ASSERT_TRUE(FaultyPut(key, data).ok());
  ASSERT_TRUE(Configure(R"({"fault_rate": 1.0, "methods": ["GET"], "faults": ["truncate"]})"));
  Result<std::string> got = FaultyGet(key);
  ASSERT_FALSE(got.ok()) << "a body that was never complete came back as success";
  ExpectClearFailure(got.status());
}

// Product gap (s3/curl_object_client.cc, CurlObjectClient::GetObject): a whole-object GET of a
// single-part object (ETag = MD5 of the body) does not compare the MD5 of the bytes received with
// the ETag, so one byte flipped in transit is returned as success. Enable when GetObject checks it.
TEST_F(FaultProxyClientTest, FlippedByteInWholeObjectGetIsNotSuccess) {
  const std::string key = prefix_ + "flip";
  const std::string data = RandomBytes(64 << 10, 6);
  ASSERT_TRUE(FaultyPut(key, data).ok());
  // Every attempt is flipped: the only right answers are an error, or (never) the right bytes.
  ASSERT_TRUE(Configure(R"({"fault_rate": 1.0, "methods": ["GET"], "faults": ["flip"]})"));
  Result<std::string> got = FaultyGet(key);
  if (got.ok()) {
    EXPECT_TRUE(*got == data) << "GetObject returned a flipped byte as success";
  } else {
    EXPECT_EQ(got.status().code(), ErrorCode::kCorrupt) << got.status().ToString();
  }
  // One flip then a clean answer: a client that detects the flip retries and gets the right bytes.
  ASSERT_TRUE(Configure(R"({"fault_rate": 0, "methods": ["GET"], "next": ["flip"]})"));
  got = FaultyGet(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data) << "GetObject returned a flipped byte as success";
}

}  // namespace
}  // namespace spacesfs

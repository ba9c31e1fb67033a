#include "s3/fault_injecting_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace spacesfs::s3 {
namespace {

using std::chrono::milliseconds;

// A tiny in-memory bucket. GET bodies are streamed in 3-byte chunks so cuts land inside chunks.
class FakeClient : public ObjectClient {
 public:
  const std::string& bucket() const override { return bucket_; }

  Result<ObjectInfo> HeadObject(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status(ErrorCode::kNotFound, key);
    return Info(key, it->second);
  }
  Result<ObjectInfo> GetObject(const GetObjectRequest& request, const BodySink& sink) override {
    std::string body;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      auto it = objects_.find(request.key);
      if (it == objects_.end()) return Status(ErrorCode::kNotFound, request.key);
      body = it->second;
    }
    for (size_t i = 0; i < body.size(); i += 3) {
      Status s = sink(std::string_view(body).substr(i, 3));
      if (!s.ok()) return s;
    }
    return Info(request.key, body);
  }
  Result<ListObjectsPage> ListObjects(const ListObjectsRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    ListObjectsPage page;
    for (const auto& [key, body] : objects_) {
      if (key.starts_with(request.prefix)) page.objects.push_back(Info(key, body));
    }
    return page;
  }
  Result<std::string> PutObject(const PutObjectRequest& request) override {
    std::string body(request.body.size, '\0');
    if (request.body.size > 0) {
      Result<size_t> n = request.body.read(0, std::span<char>(body.data(), body.size()));
      if (!n.ok()) return n.status();
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    objects_[request.key] = body;
    return std::string("\"etag-") + request.key + "\"";
  }
  Result<std::string> CreateMultipartUpload(const std::string&, const UserMetadata&,
                                            const std::string&) override {
    return Count(std::string("upload-1"));
  }
  Result<std::string> UploadPart(const std::string&, const std::string&, int part,
                                 const BodySource&) override {
    return Count("\"part-" + std::to_string(part) + "\"");
  }
  Result<std::string> CompleteMultipartUpload(const std::string&, const std::string&,
                                              const std::vector<CompletedPart>&) override {
    return Count(std::string("\"mpu\""));
  }
  Status AbortMultipartUpload(const std::string&, const std::string&) override {
    Count(0);
    return Status::Ok();
  }
  Result<ListMultipartUploadsPage> ListMultipartUploads(
      const ListMultipartUploadsRequest&) override {
    return Count(ListMultipartUploadsPage());
  }
  Result<std::string> CopyObject(const CopyObjectRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    auto it = objects_.find(request.source_key);
    if (it == objects_.end()) return Status(ErrorCode::kNotFound, request.source_key);
    objects_[request.destination_key] = it->second;
    return std::string("\"copy\"");
  }
  Result<std::string> UploadPartCopy(const UploadPartCopyRequest&) override {
    return Count(std::string("\"partcopy\""));
  }
  Status DeleteObject(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    objects_.erase(key);
    return Status::Ok();
  }
  Result<std::vector<DeleteError>> DeleteObjects(const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    for (const std::string& k : keys) objects_.erase(k);
    return std::vector<DeleteError>();
  }

  void Set(const std::string& key, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[key] = std::move(body);
  }
  bool Has(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_.count(key) > 0;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  static ObjectInfo Info(const std::string& key, const std::string& body) {
    ObjectInfo info;
    info.key = key;
    info.size = body.size();
    info.etag = "\"e\"";
    return info;
  }
  template <typename T>
  T Count(T value) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    return value;
  }

  const std::string bucket_ = "fake-bucket";
  std::mutex mu_;
  std::map<std::string, std::string> objects_;  // guarded by mu_
  int calls_ = 0;                               // guarded by mu_
};

Result<std::string> Put(ObjectClient& c, const std::string& key, std::string_view body) {
  PutObjectRequest req;
  req.key = key;
  req.body = BodySource::FromView(body);
  return c.PutObject(req);
}

struct GetOutcome {
  Result<ObjectInfo> result;
  std::string received;
};

GetOutcome Get(ObjectClient& c, const std::string& key) {
  std::string received;
  GetObjectRequest req;
  req.key = key;
  Result<ObjectInfo> r = c.GetObject(req, [&](std::string_view chunk) {
    received.append(chunk);
    return Status::Ok();
  });
  return GetOutcome{std::move(r), std::move(received)};
}

class FaultInjectingClientTest : public ::testing::Test {
 protected:
  FakeClient fake_;
  FaultInjectingClient faulty_{fake_, 7};
};

TEST_F(FaultInjectingClientTest, PassesThroughWithoutRules) {
  ASSERT_TRUE(Put(faulty_, "a", "hello world").ok());
  GetOutcome g = Get(faulty_, "a");
  ASSERT_TRUE(g.result.ok()) << g.result.status().ToString();
  EXPECT_EQ(g.received, "hello world");
  EXPECT_EQ(g.result->size, 11u);
  EXPECT_EQ(faulty_.HeadObject("missing").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(faulty_.bucket(), "fake-bucket");
  EXPECT_EQ(faulty_.CallCount(Operation::kPutObject), 1u);
  EXPECT_EQ(faulty_.CallCount(Operation::kGetObject), 1u);
  EXPECT_EQ(faulty_.CallCount(Operation::kHeadObject), 1u);
  EXPECT_EQ(faulty_.InjectedCount(Operation::kGetObject), 0u);
  EXPECT_EQ(faulty_.TotalCalls(), 3u);
}

TEST_F(FaultInjectingClientTest, FailsOnlyTheNthCallAndSendsNothing) {
  const Status slow = Status::FromServer(ErrorCode::kThrottled, 503, "SlowDown",
                                         "Please reduce your request rate.", "tx-1");
  FaultInjectingClient::RuleId id =
      faulty_.AddRule(FaultRule::FailNth(Operation::kPutObject, 2, slow));
  EXPECT_TRUE(Put(faulty_, "k1", "1").ok());
  Result<std::string> second = Put(faulty_, "k2", "2");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kThrottled);
  EXPECT_EQ(second.status().http_status(), 503);
  EXPECT_EQ(second.status().s3_code(), "SlowDown");
  EXPECT_EQ(second.status().request_id(), "tx-1");
  EXPECT_FALSE(fake_.Has("k2"));  // the failed call never reached the inner client
  EXPECT_TRUE(Put(faulty_, "k3", "3").ok());
  EXPECT_TRUE(Put(faulty_, "k2", "2").ok());
  EXPECT_EQ(faulty_.CallCount(Operation::kPutObject), 4u);
  EXPECT_EQ(faulty_.ForwardedCount(Operation::kPutObject), 3u);
  EXPECT_EQ(faulty_.InjectedCount(Operation::kPutObject), 1u);
  EXPECT_EQ(faulty_.FiredCount(id), 1u);
  EXPECT_EQ(fake_.calls(), 3);
}

TEST_F(FaultInjectingClientTest, FailTimesAndFailFromCoverTheirWindows) {
  faulty_.AddRule(FaultRule::FailTimes(Operation::kHeadObject, 2, 2, ConnectionResetStatus()));
  faulty_.AddRule(FaultRule::FailFrom(Operation::kDeleteObject, 3, InternalErrorStatus()));
  fake_.Set("x", "body");
  std::vector<bool> head_ok;
  std::vector<bool> delete_ok;
  for (int i = 0; i < 6; ++i) {
    head_ok.push_back(faulty_.HeadObject("x").ok());
    delete_ok.push_back(faulty_.DeleteObject("y").ok());
  }
  EXPECT_EQ(head_ok, (std::vector<bool>{true, false, false, true, true, true}));
  EXPECT_EQ(delete_ok, (std::vector<bool>{true, true, false, false, false, false}));
  EXPECT_EQ(faulty_.HeadObject("x").status().ok(), true);
  Status del = faulty_.DeleteObject("y");
  EXPECT_EQ(del.code(), ErrorCode::kServerError);
  EXPECT_EQ(del.http_status(), 500);
  EXPECT_EQ(del.s3_code(), "InternalError");
}

TEST_F(FaultInjectingClientTest, KeyPrefixLimitsTheRuleAndItsCallNumbering) {
  faulty_.AddRule(
      FaultRule::FailNth(Operation::kPutObject, 2, SlowDownStatus()).ForKeyPrefix("team-a/"));
  EXPECT_TRUE(Put(faulty_, "team-a/1", "x").ok());
  EXPECT_TRUE(Put(faulty_, "team-b/1", "x").ok());  // does not match: not counted by the rule
  EXPECT_TRUE(Put(faulty_, "team-b/2", "x").ok());
  EXPECT_EQ(Put(faulty_, "team-a/2", "x").status().code(), ErrorCode::kThrottled);
  EXPECT_TRUE(Put(faulty_, "team-a/3", "x").ok());
}

TEST_F(FaultInjectingClientTest, FailAfterCallReachesTheServerButReportsFailure) {
  faulty_.AddRule(
      FaultRule::FailNthAfterCall(Operation::kPutObject, 1, ConnectionResetStatus()));
  Result<std::string> r = Put(faulty_, "lost-response", "data");
  EXPECT_EQ(r.status().code(), ErrorCode::kNetwork);
  EXPECT_TRUE(fake_.Has("lost-response"));
  EXPECT_EQ(faulty_.ForwardedCount(Operation::kPutObject), 1u);
}

TEST_F(FaultInjectingClientTest, TruncatedGetDeliversExactlyKBytesThenCorrupt) {
  const std::string body = "0123456789abcdefghij";  // 20 bytes, sent in 3-byte chunks
  fake_.Set("obj", body);
  faulty_.AddRule(FaultRule::TruncateGet(1, 7));
  GetOutcome g = Get(faulty_, "obj");
  ASSERT_FALSE(g.result.ok());
  EXPECT_EQ(g.result.status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(g.received, body.substr(0, 7));
  // Only the first GET was cut.
  GetOutcome again = Get(faulty_, "obj");
  ASSERT_TRUE(again.result.ok());
  EXPECT_EQ(again.received, body);
}

TEST_F(FaultInjectingClientTest, TruncatedGetAtChunkBoundaryAndZeroAndCustomStatus) {
  const std::string body = "0123456789abcdefghij";
  fake_.Set("obj", body);
  faulty_.AddRule(FaultRule::TruncateGet(1, 6, ConnectionResetStatus()));  // boundary of chunk 2
  faulty_.AddRule(FaultRule::TruncateGet(2, 0));
  GetOutcome g1 = Get(faulty_, "obj");
  EXPECT_EQ(g1.result.status().code(), ErrorCode::kNetwork);
  EXPECT_EQ(g1.received, "012345");
  GetOutcome g2 = Get(faulty_, "obj");
  EXPECT_EQ(g2.result.status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(g2.received, "");
}

TEST_F(FaultInjectingClientTest, TruncationLongerThanBodyDoesNotCut) {
  fake_.Set("small", "abc");
  faulty_.AddRule(FaultRule::TruncateGet(1, 3));
  GetOutcome g = Get(faulty_, "small");
  ASSERT_TRUE(g.result.ok()) << g.result.status().ToString();
  EXPECT_EQ(g.received, "abc");
}

TEST_F(FaultInjectingClientTest, SinkErrorBeforeTheCutIsReturnedAsIs) {
  fake_.Set("obj", "0123456789");
  faulty_.AddRule(FaultRule::TruncateGet(1, 8));
  GetObjectRequest req;
  req.key = "obj";
  Result<ObjectInfo> r = faulty_.GetObject(req, [](std::string_view) {
    return Status(ErrorCode::kNoSpace, "cache full");
  });
  EXPECT_EQ(r.status().code(), ErrorCode::kNoSpace);
}

TEST_F(FaultInjectingClientTest, DelayAddsLatencyAndStillSucceeds) {
  fake_.Set("obj", "x");
  faulty_.AddRule(FaultRule::Delay(Operation::kHeadObject, milliseconds(50)));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(faulty_.HeadObject("obj").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
  EXPECT_EQ(faulty_.InjectedCount(Operation::kHeadObject), 1u);
  // Other operations are not delayed.
  start = std::chrono::steady_clock::now();
  EXPECT_TRUE(faulty_.DeleteObject("obj").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(40));
}

TEST_F(FaultInjectingClientTest, DelayCombinesWithAFailureAndFirstFailingRuleDecides) {
  faulty_.AddRule(FaultRule::Delay(Operation::kListObjects, milliseconds(30)));
  faulty_.AddRule(FaultRule::FailNth(Operation::kListObjects, 1, SlowDownStatus())
                      .WithLatency(milliseconds(30)));
  faulty_.AddRule(FaultRule::FailNth(Operation::kListObjects, 1, InternalErrorStatus()));
  auto start = std::chrono::steady_clock::now();
  Result<ListObjectsPage> r = faulty_.ListObjects(ListObjectsRequest());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(60));
  EXPECT_EQ(r.status().code(), ErrorCode::kThrottled);
  EXPECT_EQ(fake_.calls(), 0);
}

std::vector<bool> ProbabilityPattern(uint64_t seed, double p, int n) {
  FakeClient fake;
  fake.Set("k", "v");
  FaultInjectingClient faulty(fake, seed);
  faulty.AddRule(FaultRule::FailWithProbability(Operation::kHeadObject, p, SlowDownStatus()));
  std::vector<bool> failed;
  for (int i = 0; i < n; ++i) failed.push_back(!faulty.HeadObject("k").ok());
  return failed;
}

TEST(FaultInjectingClientProbabilityTest, SeededAndRoughlyAtTheRate) {
  std::vector<bool> a = ProbabilityPattern(1234, 0.3, 2000);
  EXPECT_EQ(a, ProbabilityPattern(1234, 0.3, 2000));  // same seed, same failures
  EXPECT_NE(a, ProbabilityPattern(99, 0.3, 2000));
  long failures = std::count(a.begin(), a.end(), true);
  EXPECT_GT(failures, 480);  // expected 600; sigma about 20
  EXPECT_LT(failures, 720);
  std::vector<bool> never = ProbabilityPattern(1, 0.0, 200);
  EXPECT_EQ(std::count(never.begin(), never.end(), true), 0);
  std::vector<bool> always = ProbabilityPattern(1, 1.0, 200);
  EXPECT_EQ(std::count(always.begin(), always.end(), true), 200);
}

TEST_F(FaultInjectingClientTest, EveryOperationHasItsOwnCounter) {
  fake_.Set("src", "data");
  EXPECT_EQ(faulty_.TotalCalls(), 0u);
  std::string body = "part";
  ASSERT_TRUE(faulty_.HeadObject("src").ok());
  ASSERT_TRUE(Get(faulty_, "src").result.ok());
  ASSERT_TRUE(faulty_.ListObjects(ListObjectsRequest()).ok());
  ASSERT_TRUE(Put(faulty_, "dst", body).ok());
  ASSERT_TRUE(faulty_.CreateMultipartUpload("mp", {}, "").ok());
  ASSERT_TRUE(faulty_.UploadPart("mp", "upload-1", 1, BodySource::FromView(body)).ok());
  ASSERT_TRUE(faulty_.CompleteMultipartUpload("mp", "upload-1", {{1, "\"part-1\""}}).ok());
  ASSERT_TRUE(faulty_.AbortMultipartUpload("mp", "upload-1").ok());
  ASSERT_TRUE(faulty_.ListMultipartUploads(ListMultipartUploadsRequest()).ok());
  CopyObjectRequest copy;
  copy.source_key = "src";
  copy.destination_key = "copy";
  ASSERT_TRUE(faulty_.CopyObject(copy).ok());
  UploadPartCopyRequest part_copy;
  part_copy.source_key = "src";
  part_copy.destination_key = "mp";
  ASSERT_TRUE(faulty_.UploadPartCopy(part_copy).ok());
  ASSERT_TRUE(faulty_.DeleteObject("copy").ok());
  ASSERT_TRUE(faulty_.DeleteObjects({"dst", "src"}).ok());
  for (int i = 0; i < kOperationCount; ++i) {
    Operation op = static_cast<Operation>(i);
    EXPECT_EQ(faulty_.CallCount(op), 1u) << OperationName(op);
    EXPECT_EQ(faulty_.ForwardedCount(op), 1u) << OperationName(op);
  }
  EXPECT_EQ(faulty_.TotalCalls(), static_cast<uint64_t>(kOperationCount));
  EXPECT_EQ(fake_.calls(), kOperationCount);
  faulty_.ResetCounts();
  EXPECT_EQ(faulty_.TotalCalls(), 0u);
}

TEST_F(FaultInjectingClientTest, EveryOperationCanBeFailedWithoutReachingTheInnerClient) {
  for (int i = 0; i < kOperationCount; ++i) {
    faulty_.AddRule(FaultRule::FailFrom(static_cast<Operation>(i), 1, SlowDownStatus()));
  }
  std::string body = "part";
  EXPECT_FALSE(faulty_.HeadObject("a").ok());
  EXPECT_FALSE(Get(faulty_, "a").result.ok());
  EXPECT_FALSE(faulty_.ListObjects(ListObjectsRequest()).ok());
  EXPECT_FALSE(Put(faulty_, "a", body).ok());
  EXPECT_FALSE(faulty_.CreateMultipartUpload("a", {}, "").ok());
  EXPECT_FALSE(faulty_.UploadPart("a", "u", 1, BodySource::FromView(body)).ok());
  EXPECT_FALSE(faulty_.CompleteMultipartUpload("a", "u", {}).ok());
  EXPECT_FALSE(faulty_.AbortMultipartUpload("a", "u").ok());
  EXPECT_FALSE(faulty_.ListMultipartUploads(ListMultipartUploadsRequest()).ok());
  EXPECT_FALSE(faulty_.CopyObject(CopyObjectRequest()).ok());
  EXPECT_FALSE(faulty_.UploadPartCopy(UploadPartCopyRequest()).ok());
  EXPECT_FALSE(faulty_.DeleteObject("a").ok());
  EXPECT_FALSE(faulty_.DeleteObjects({"a"}).ok());
  EXPECT_EQ(fake_.calls(), 0);
  for (int i = 0; i < kOperationCount; ++i) {
    EXPECT_EQ(faulty_.InjectedCount(static_cast<Operation>(i)), 1u);
    EXPECT_EQ(faulty_.ForwardedCount(static_cast<Operation>(i)), 0u);
  }
}

TEST_F(FaultInjectingClientTest, CopyAndDeleteObjectsMatchAnyOfTheirKeys) {
  faulty_.AddRule(
      FaultRule::FailFrom(Operation::kCopyObject, 1, SlowDownStatus()).ForKeyPrefix("secret/"));
  faulty_.AddRule(
      FaultRule::FailFrom(Operation::kDeleteObjects, 1, SlowDownStatus()).ForKeyPrefix("secret/"));
  fake_.Set("secret/a", "1");
  fake_.Set("open/a", "1");
  CopyObjectRequest copy;
  copy.source_key = "secret/a";
  copy.destination_key = "open/b";
  EXPECT_FALSE(faulty_.CopyObject(copy).ok());
  copy.source_key = "open/a";
  EXPECT_TRUE(faulty_.CopyObject(copy).ok());
  EXPECT_FALSE(faulty_.DeleteObjects({"open/a", "secret/a"}).ok());
  EXPECT_TRUE(faulty_.DeleteObjects({"open/a", "open/b"}).ok());
}

TEST_F(FaultInjectingClientTest, RemoveAndClearRules) {
  FaultInjectingClient::RuleId id =
      faulty_.AddRule(FaultRule::FailFrom(Operation::kDeleteObject, 1, SlowDownStatus()));
  EXPECT_FALSE(faulty_.DeleteObject("a").ok());
  faulty_.RemoveRule(id);
  EXPECT_EQ(faulty_.FiredCount(id), 0u);  // unknown now
  EXPECT_TRUE(faulty_.DeleteObject("a").ok());
  faulty_.AddRule(FaultRule::FailFrom(Operation::kDeleteObject, 1, SlowDownStatus()));
  EXPECT_FALSE(faulty_.DeleteObject("a").ok());
  faulty_.ClearRules();
  EXPECT_TRUE(faulty_.DeleteObject("a").ok());
  EXPECT_EQ(faulty_.CallCount(Operation::kDeleteObject), 4u);
}

TEST_F(FaultInjectingClientTest, RuleWindowStartsWhenTheRuleIsAdded) {
  EXPECT_TRUE(faulty_.DeleteObject("a").ok());
  EXPECT_TRUE(faulty_.DeleteObject("a").ok());
  faulty_.AddRule(FaultRule::FailNth(Operation::kDeleteObject, 1, SlowDownStatus()));
  EXPECT_FALSE(faulty_.DeleteObject("a").ok());
  EXPECT_TRUE(faulty_.DeleteObject("a").ok());
}

TEST_F(FaultInjectingClientTest, CallHookSeesOperationAndKey) {
  std::vector<std::string> seen;
  faulty_.SetCallHook([&](Operation op, const std::string& key) {
    seen.push_back(std::string(OperationName(op)) + ":" + key);
    if (op == Operation::kGetObject) fake_.Set(key, "changed behind the back");
  });
  faulty_.AddRule(FaultRule::FailNth(Operation::kHeadObject, 1, SlowDownStatus()));
  EXPECT_FALSE(faulty_.HeadObject("h").ok());
  GetOutcome g = Get(faulty_, "g");
  EXPECT_EQ(g.received, "changed behind the back");
  EXPECT_EQ(seen, (std::vector<std::string>{"HeadObject:h", "GetObject:g"}));
}

TEST(FaultInjectingClientConcurrencyTest, CountsAndWindowsHoldUnderManyThreads) {
  FakeClient fake;
  fake.Set("k", "0123456789");
  FaultInjectingClient faulty(fake, 5);
  FaultInjectingClient::RuleId window =
      faulty.AddRule(FaultRule::FailTimes(Operation::kHeadObject, 101, 250, SlowDownStatus()));
  FaultInjectingClient::RuleId random =
      faulty.AddRule(FaultRule::FailWithProbability(Operation::kGetObject, 0.25, SlowDownStatus()));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::atomic<int> head_failures{0};
  std::atomic<int> get_failures{0};
  std::atomic<int> bad_bodies{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!faulty.HeadObject("k").ok()) ++head_failures;
        GetOutcome g = Get(faulty, "k");
        if (!g.result.ok()) {
          ++get_failures;
        } else if (g.received != "0123456789") {
          ++bad_bodies;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  constexpr uint64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(head_failures.load(), 250);
  EXPECT_EQ(faulty.FiredCount(window), 250u);
  EXPECT_EQ(bad_bodies.load(), 0);
  EXPECT_EQ(static_cast<uint64_t>(get_failures.load()), faulty.FiredCount(random));
  EXPECT_GT(get_failures.load(), 800);  // expected 1000 of 4000
  EXPECT_LT(get_failures.load(), 1200);
  EXPECT_EQ(faulty.CallCount(Operation::kHeadObject), kTotal);
  EXPECT_EQ(faulty.CallCount(Operation::kGetObject), kTotal);
  EXPECT_EQ(faulty.ForwardedCount(Operation::kHeadObject), kTotal - 250);
  EXPECT_EQ(faulty.ForwardedCount(Operation::kGetObject), kTotal - get_failures.load());
  EXPECT_EQ(static_cast<uint64_t>(fake.calls()), 2 * kTotal - 250 - get_failures.load());
}

TEST(FaultInjectingClientDeathTest, InvalidRulesAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  FakeClient fake;
  FaultInjectingClient faulty(fake);
  FaultRule truncate_put = FaultRule::TruncateGet(1, 3);
  truncate_put.operation = Operation::kPutObject;
  EXPECT_DEATH(faulty.AddRule(truncate_put), "kTruncateBody");
  EXPECT_DEATH(faulty.AddRule(FaultRule::FailNth(Operation::kPutObject, 0, SlowDownStatus())),
               "1-based");
  EXPECT_DEATH(faulty.AddRule(FaultRule::FailWithProbability(Operation::kPutObject, 1.5,
                                                             SlowDownStatus())),
               "probability");
}

}  // namespace
}  // namespace spacesfs::s3

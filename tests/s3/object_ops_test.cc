// CurlObjectClient against the local radosgw: single-object operations, as the bucket owner.
#include <gtest/gtest.h>

#include <chrono>
#include <atomic>
#include <set>
#include <thread>

#include "s3/curl_object_client.h"
#include "support/s3_test_env.h"

namespace spacesfs::s3 {
namespace {

using testing::TestUser;

class ObjectOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = *env;
    auto client = testing::MakeTestClient(env_, TestUser::kOwner, "team-a");
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
    prefix_ = testing::UniqueTestPrefix(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void TearDown() override {
    if (client_ != nullptr) {
      Status cleaned = testing::DeleteAllUnder(*client_, prefix_);
      EXPECT_TRUE(cleaned.ok()) << cleaned.ToString();
    }
  }

  std::string Put(const std::string& key, std::string_view body, UserMetadata metadata = {}) {
    PutObjectRequest request;
    request.key = key;
    request.body = BodySource::FromView(body);
    request.metadata = std::move(metadata);
    Result<std::string> etag = client_->PutObject(request);
    EXPECT_TRUE(etag.ok()) << etag.status().ToString();
    return etag.ok() ? *etag : "";
  }

  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range = std::nullopt,
                          std::string if_match = "", ObjectInfo* info = nullptr) {
    std::string data;
    GetObjectRequest request{key, range, std::move(if_match)};
    Result<ObjectInfo> got = client_->GetObject(request, [&data](std::string_view chunk) {
      data.append(chunk);
      return Status::Ok();
    });
    if (!got.ok()) return got.status();
    if (info != nullptr) *info = *got;
    return data;
  }

  testing::S3TestEnv env_;
  std::unique_ptr<CurlObjectClient> client_;
  std::string prefix_;
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

TEST_F(ObjectOpsTest, PutHeadGetRoundTripWithMetadata) {
  const std::string key = prefix_ + "hello.txt";
  const std::string body = "hello, spaces\n";
  PutObjectRequest request;
  request.key = key;
  request.body = BodySource::FromView(body);
  request.metadata = {{"color", "blue"}, {"mode", "0644"}, {"uid", "1000"}};
  request.content_type = "text/plain";
  Result<std::string> etag = client_->PutObject(request);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, "\"0efa1311873f45f9e85a1add1f4c172a\"");

  Result<ObjectInfo> head = client_->HeadObject(key);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->key, key);
  EXPECT_EQ(head->size, body.size());
  EXPECT_EQ(head->etag, *etag);
  EXPECT_EQ(head->content_type, "text/plain");
  EXPECT_EQ(head->metadata, request.metadata);
  int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_LT(std::llabs(head->last_modified_ns - now_ns), int64_t{300} * 1'000'000'000);

  ObjectInfo info;
  Result<std::string> data = Get(key, std::nullopt, "", &info);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, body);
  EXPECT_EQ(info.size, body.size());
  EXPECT_EQ(info.etag, *etag);
  EXPECT_EQ(info.metadata, request.metadata);
}

TEST_F(ObjectOpsTest, EmptyObjectRoundTrips) {
  const std::string key = prefix_ + "empty";
  std::string etag = Put(key, "");
  EXPECT_EQ(etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
  Result<std::string> data = Get(key);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, "");
  Result<ObjectInfo> head = client_->HeadObject(key);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 0u);
}

TEST_F(ObjectOpsTest, LargerBodyStreamsInChunks) {
  const std::string key = prefix_ + "three-mib";
  const std::string body = Pattern(3 * 1024 * 1024 + 17);
  Put(key, body);
  std::string data;
  int chunks = 0;
  // A ranged GET streams (a whole-object GET up to 8 MiB is held back until its MD5 is checked).
  ByteRange all{0, body.size() - 1};
  Result<ObjectInfo> info = client_->GetObject({key, all, ""}, [&](std::string_view c) {
    ++chunks;
    data.append(c);
    return Status::Ok();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(data == body, true);
  EXPECT_GT(chunks, 1);
}

TEST_F(ObjectOpsTest, SinkRefusalAbortsTheGetWithItsStatus) {
  const std::string key = prefix_ + "refused";
  Put(key, Pattern(2 * 1024 * 1024));
  Result<ObjectInfo> info = client_->GetObject({key, std::nullopt, ""}, [](std::string_view) {
    return Status(ErrorCode::kCancelled, "reader went away");
  });
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(info.status().message(), "reader went away");
}

TEST_F(ObjectOpsTest, RangesAreExactAndClampedAtTheEnd) {
  const std::string key = prefix_ + "ranged";
  const std::string body = Pattern(1000);
  Put(key, body);
  ObjectInfo info;
  Result<std::string> middle = Get(key, ByteRange{10, 19}, "", &info);
  ASSERT_TRUE(middle.ok()) << middle.status().ToString();
  EXPECT_EQ(*middle, body.substr(10, 10));
  EXPECT_EQ(info.size, 1000u);  // the whole object's size

  Result<std::string> first = Get(key, ByteRange{0, 0});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, body.substr(0, 1));

  Result<std::string> tail = Get(key, ByteRange{990, 5000});
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ(*tail, body.substr(990));

  Result<std::string> past = Get(key, ByteRange{1000, 1010});
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().http_status(), 416);
  EXPECT_EQ(past.status().s3_code(), "InvalidRange");
}

TEST_F(ObjectOpsTest, IfMatchHoldsOrFailsWithPreconditionFailed) {
  const std::string key = prefix_ + "if-match";
  std::string etag = Put(key, "version one");
  Result<std::string> same = Get(key, std::nullopt, etag);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(*same, "version one");

  Put(key, "version two");
  Result<std::string> stale = Get(key, ByteRange{0, 3}, etag);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), ErrorCode::kPreconditionFailed) << stale.status().ToString();
  EXPECT_EQ(stale.status().http_status(), 412);
}

TEST_F(ObjectOpsTest, IfNoneMatchCreatesOnlyOnce) {
  const std::string key = prefix_ + "create-once";
  PutObjectRequest request;
  request.key = key;
  request.body = BodySource::FromView("first");
  request.if_none_match = true;
  Result<std::string> created = client_->PutObject(request);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  request.body = BodySource::FromView("second");
  Result<std::string> again = client_->PutObject(request);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kPreconditionFailed) << again.status().ToString();
  Result<std::string> data = Get(key);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "first");
}

TEST_F(ObjectOpsTest, MissingObjectIsNotFoundWithContext) {
  const std::string key = prefix_ + "no such key";
  Result<ObjectInfo> head = client_->HeadObject(key);
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(head.status().http_status(), 404);

  Result<std::string> get = Get(key);
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(get.status().s3_code(), "NoSuchKey");
  const std::string text = get.status().ToString();
  EXPECT_NE(text.find("GetObject team-a/" + key), std::string::npos) << text;
  EXPECT_NE(text.find("key " + env_.owner.access_key_id.substr(0, 4) + "..."), std::string::npos)
      << text;
  EXPECT_EQ(text.find(env_.owner.access_key_id), std::string::npos) << text;
  EXPECT_EQ(text.find(std::string(env_.owner.secret_access_key.reveal())), std::string::npos);
}

TEST_F(ObjectOpsTest, CopyKeepsOrReplacesMetadata) {
  const std::string source = prefix_ + "copy source+ü";
  PutObjectRequest put;
  put.key = source;
  put.body = BodySource::FromView("copy me");
  put.metadata = {{"color", "red"}};
  put.content_type = "text/x-source";
  Result<std::string> source_etag = client_->PutObject(put);
  ASSERT_TRUE(source_etag.ok()) << source_etag.status().ToString();

  CopyObjectRequest copy;
  copy.source_key = source;
  copy.destination_key = prefix_ + "copied";
  copy.if_match = *source_etag;
  Result<std::string> etag = client_->CopyObject(copy);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, *source_etag);
  Result<ObjectInfo> head = client_->HeadObject(copy.destination_key);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->metadata, put.metadata);
  EXPECT_EQ(head->content_type, "text/x-source");
  Result<std::string> data = Get(copy.destination_key);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "copy me");

  copy.destination_key = prefix_ + "replaced";
  copy.directive = MetadataDirective::kReplace;
  copy.metadata = {{"color", "green"}, {"shape", "round"}};
  copy.content_type = "text/x-replaced";
  etag = client_->CopyObject(copy);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  head = client_->HeadObject(copy.destination_key);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->metadata, copy.metadata);
  EXPECT_EQ(head->content_type, "text/x-replaced");

  // Replacing an object's metadata in place.
  copy.destination_key = source;
  etag = client_->CopyObject(copy);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  head = client_->HeadObject(source);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->metadata, copy.metadata);

  copy.destination_key = prefix_ + "not-copied";
  copy.if_match = "\"00000000000000000000000000000000\"";
  etag = client_->CopyObject(copy);
  ASSERT_FALSE(etag.ok());
  EXPECT_EQ(etag.status().code(), ErrorCode::kPreconditionFailed) << etag.status().ToString();
  EXPECT_EQ(client_->HeadObject(copy.destination_key).status().code(), ErrorCode::kNotFound);
}

TEST_F(ObjectOpsTest, DeleteAndDeleteMany) {
  const std::string key = prefix_ + "doomed";
  Put(key, "x");
  ASSERT_TRUE(client_->DeleteObject(key).ok());
  EXPECT_EQ(client_->HeadObject(key).status().code(), ErrorCode::kNotFound);
  Status again = client_->DeleteObject(key);
  EXPECT_TRUE(again.ok()) << again.ToString();

  std::vector<std::string> keys = {prefix_ + "many/1", prefix_ + "many/2 two",
                                   prefix_ + "many/<3&>", prefix_ + "many/new\nline",
                                   prefix_ + "many/ctrl\x01char"};
  for (const auto& k : keys) Put(k, "y");
  keys.push_back(prefix_ + "many/never-existed");
  Result<std::vector<DeleteError>> errors = client_->DeleteObjects(keys);
  ASSERT_TRUE(errors.ok()) << errors.status().ToString();
  EXPECT_TRUE(errors->empty());
  for (const auto& k : keys) {
    EXPECT_EQ(client_->HeadObject(k).status().code(), ErrorCode::kNotFound) << k;
  }
  std::vector<std::string> too_many(1001, prefix_ + "x");
  EXPECT_EQ(client_->DeleteObjects(too_many).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ObjectOpsTest, ListPagesWithOddKeys) {
  const std::vector<std::string> names = {
      "a b",        "plus+sign", "per%25cent", "per%cent", "unicode-ü-日本", "new\nline",
      "tab\there",  "amp&<>\"'", "tilde~",     "dir/x",    "dir/y",        "dir/sub/z",
      "q?mark#hash"};
  std::set<std::string> want;
  for (const auto& name : names) {
    Put(prefix_ + name, name);
    want.insert(prefix_ + name);
  }

  std::set<std::string> got;
  ListObjectsRequest request;
  request.prefix = prefix_;
  request.max_keys = 3;
  int pages = 0;
  for (;;) {
    Result<ListObjectsPage> page = client_->ListObjects(request);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    EXPECT_LE(page->objects.size(), 3u);
    for (const auto& object : page->objects) {
      EXPECT_TRUE(got.insert(object.key).second) << "listed twice: " << object.key;
      EXPECT_EQ(object.size, object.key.size() - prefix_.size()) << object.key;
      EXPECT_FALSE(object.etag.empty());
    }
    if (!page->is_truncated) break;
    ASSERT_FALSE(page->next_continuation_token.empty());
    request.continuation_token = page->next_continuation_token;
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(got, want);
  EXPECT_GE(pages, 5);

  ListObjectsRequest delimited;
  delimited.prefix = prefix_;
  delimited.delimiter = "/";
  Result<ListObjectsPage> page = client_->ListObjects(delimited);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{prefix_ + "dir/"});
  EXPECT_EQ(page->objects.size(), names.size() - 3);

  ListObjectsRequest after;
  after.prefix = prefix_;
  after.start_after = prefix_ + "tab";
  page = client_->ListObjects(after);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::set<std::string> tail;
  for (const auto& object : page->objects) tail.insert(object.key);
  EXPECT_EQ(tail, (std::set<std::string>{prefix_ + "tab\there", prefix_ + "tilde~",
                                          prefix_ + "unicode-ü-日本"}));
}

TEST_F(ObjectOpsTest, KeysWithDotSegmentsAndSlashesStayVerbatim) {
  for (const std::string name : {"./dot", "../up", "a//b", "trailing/", "x/./y"}) {
    const std::string key = prefix_ + name;
    Put(key, name);
    Result<std::string> data = Get(key);
    ASSERT_TRUE(data.ok()) << name << ": " << data.status().ToString();
    EXPECT_EQ(*data, name);
  }
  ListObjectsRequest request;
  request.prefix = prefix_;
  Result<ListObjectsPage> page = client_->ListObjects(request);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 5u);
}

TEST_F(ObjectOpsTest, SequentialRequestsReuseOneConnection) {
  const std::string key = prefix_ + "reuse";
  Put(key, "x");
  uint64_t before = client_->connections_opened();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client_->HeadObject(key).ok());
    ASSERT_TRUE(Get(key).ok());
  }
  EXPECT_LE(client_->connections_opened() - before, 1u);
}

TEST_F(ObjectOpsTest, ConcurrentRequestsShareThePool) {
  const std::string body = Pattern(64 * 1024);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string key = prefix_ + "t" + std::to_string(t) + "/" + std::to_string(i);
        PutObjectRequest put;
        put.key = key;
        put.body = BodySource::FromView(body);
        if (!client_->PutObject(put).ok()) ++failures;
        std::string data;
        Result<ObjectInfo> info = client_->GetObject({key, std::nullopt, ""}, [&](std::string_view c) {
          data.append(c);
          return Status::Ok();
        });
        if (!info.ok() || data != body) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // 160 requests from 8 threads: at most a connection or two per thread.
  EXPECT_LE(client_->connections_opened(), 16u);
}

}  // namespace
}  // namespace spacesfs::s3

namespace spacesfs::s3 {
namespace {

// radosgw runs with "rgw dns name = localhost", and libcurl resolves *.localhost to loopback,
// so bucket.localhost:PORT reaches the bucket by virtual-hosted addressing.
TEST(AddressingTest, VirtualHostedStyleWorksAgainstLocalhost) {
  Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  ClientConfig config = testing::TestClientConfig(*env, env->owner, "team-a");
  size_t port_at = config.endpoint.rfind(':');
  ASSERT_NE(port_at, std::string::npos);
  config.endpoint = "http://localhost" + config.endpoint.substr(port_at);
  config.addressing = Addressing::kVirtualHosted;
  auto client = CurlObjectClient::Create(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_FALSE((*client)->path_style());

  const std::string key = testing::UniqueTestPrefix("vhost") + "a b+c";
  PutObjectRequest put;
  put.key = key;
  put.body = BodySource::FromView("virtual");
  Result<std::string> etag = (*client)->PutObject(put);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  std::string data;
  Result<ObjectInfo> info = (*client)->GetObject({key, std::nullopt, ""}, [&](std::string_view c) {
    data.append(c);
    return Status::Ok();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(data, "virtual");
  ListObjectsRequest list;
  list.prefix = key;
  Result<ListObjectsPage> page = (*client)->ListObjects(list);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, key);
  EXPECT_TRUE((*client)->DeleteObject(key).ok());

  // Auto addressing picks path-style for localhost and reaches the same bucket.
  config.addressing = Addressing::kAuto;
  auto path_client = CurlObjectClient::Create(config);
  ASSERT_TRUE(path_client.ok());
  EXPECT_TRUE((*path_client)->path_style());
  EXPECT_EQ((*path_client)->HeadObject(key).status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace spacesfs::s3

// CurlObjectClient against the local radosgw: what each test user may and may not do.
#include <gtest/gtest.h>

#include "s3/curl_object_client.h"
#include "support/s3_test_env.h"

namespace spacesfs::s3 {
namespace {

using testing::TestUser;

class PermissionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = *env;
    prefix_ = testing::UniqueTestPrefix(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void TearDown() override {
    for (const char* bucket : {"team-a", "team-b"}) {
      auto owner = testing::MakeTestClient(env_, TestUser::kOwner, bucket);
      ASSERT_TRUE(owner.ok());
      Status cleaned = testing::DeleteAllUnder(**owner, prefix_);
      EXPECT_TRUE(cleaned.ok()) << bucket << ": " << cleaned.ToString();
    }
  }

  std::unique_ptr<CurlObjectClient> Client(TestUser user, const std::string& bucket) {
    auto client = testing::MakeTestClient(env_, user, bucket);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static Status Put(CurlObjectClient& client, const std::string& key, std::string_view body) {
    PutObjectRequest request;
    request.key = key;
    request.body = BodySource::FromView(body);
    return client.PutObject(request).status();
  }

  static Result<std::string> Get(CurlObjectClient& client, const std::string& key) {
    std::string data;
    Result<ObjectInfo> info = client.GetObject({key, std::nullopt, ""}, [&](std::string_view c) {
      data.append(c);
      return Status::Ok();
    });
    if (!info.ok()) return info.status();
    return data;
  }

  testing::S3TestEnv env_;
  std::string prefix_;
};

TEST_F(PermissionsTest, WrongSecretIsAuthFailedNamingSignatureDoesNotMatch) {
  SigningKey wrong = env_.owner;
  wrong.secret_access_key = Secret("not-the-secret-0123456789abcdefghijklmn");
  auto client = CurlObjectClient::Create(testing::TestClientConfig(env_, wrong, "team-a"));
  ASSERT_TRUE(client.ok());
  Result<ListObjectsPage> page = (*client)->ListObjects(ListObjectsRequest{});
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), ErrorCode::kAuthFailed) << page.status().ToString();
  EXPECT_EQ(page.status().http_status(), 403);
  EXPECT_EQ(page.status().s3_code(), "SignatureDoesNotMatch");
  const std::string text = page.status().ToString();
  EXPECT_NE(text.find("SignatureDoesNotMatch"), std::string::npos) << text;
  EXPECT_EQ(text.find("not-the-secret"), std::string::npos) << text;

  Status put = Put(**client, prefix_ + "x", "x");
  EXPECT_EQ(put.code(), ErrorCode::kAuthFailed) << put.ToString();
}

TEST_F(PermissionsTest, UnknownAccessKeyIsAuthFailed) {
  SigningKey unknown;
  unknown.access_key_id = "NOSUCHKEY00000000000";
  unknown.secret_access_key = Secret("whatever");
  auto client = CurlObjectClient::Create(testing::TestClientConfig(env_, unknown, "team-a"));
  ASSERT_TRUE(client.ok());
  Result<ObjectInfo> head = (*client)->HeadObject("anything");
  ASSERT_FALSE(head.ok());
  Result<ListObjectsPage> page = (*client)->ListObjects(ListObjectsRequest{});
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), ErrorCode::kAuthFailed) << page.status().ToString();
  EXPECT_EQ(page.status().s3_code(), "InvalidAccessKeyId");
}

TEST_F(PermissionsTest, ScopedKeyWorksOnTeamBAndIsDeniedOnTeamA) {
  auto team_b = Client(TestUser::kScoped, "team-b");
  ASSERT_NE(team_b, nullptr);
  ASSERT_TRUE(Put(*team_b, prefix_ + "mine", "scoped data").ok());
  Result<std::string> data = Get(*team_b, prefix_ + "mine");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, "scoped data");
  ListObjectsRequest list;
  list.prefix = prefix_;
  Result<ListObjectsPage> page = team_b->ListObjects(list);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, prefix_ + "mine");
  EXPECT_TRUE(team_b->DeleteObject(prefix_ + "mine").ok());

  auto owner = Client(TestUser::kOwner, "team-a");
  ASSERT_TRUE(Put(*owner, prefix_ + "owners", "not for scoped").ok());
  auto team_a = Client(TestUser::kScoped, "team-a");
  Result<ListObjectsPage> denied = team_a->ListObjects(list);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), ErrorCode::kAccessDenied) << denied.status().ToString();
  EXPECT_EQ(denied.status().http_status(), 403);
  EXPECT_EQ(denied.status().s3_code(), "AccessDenied");
  Result<std::string> get = Get(*team_a, prefix_ + "owners");
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.status().code(), ErrorCode::kAccessDenied) << get.status().ToString();
  EXPECT_EQ(get.status().s3_code(), "AccessDenied");
  EXPECT_EQ(Put(*team_a, prefix_ + "intruder", "x").code(), ErrorCode::kAccessDenied);
}

TEST_F(PermissionsTest, ReaderReadsTeamAButCannotWrite) {
  auto owner = Client(TestUser::kOwner, "team-a");
  ASSERT_TRUE(Put(*owner, prefix_ + "shared", "read me").ok());
  auto reader = Client(TestUser::kReader, "team-a");
  Result<std::string> data = Get(*reader, prefix_ + "shared");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, "read me");
  ListObjectsRequest list;
  list.prefix = prefix_;
  Result<ListObjectsPage> page = reader->ListObjects(list);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.size(), 1u);

  Status put = Put(*reader, prefix_ + "reader-wrote", "no");
  EXPECT_EQ(put.code(), ErrorCode::kAccessDenied) << put.ToString();
  EXPECT_EQ(put.s3_code(), "AccessDenied");
  // A refused large body (sent with Expect: 100-continue) is still a clean 403, not a reset.
  std::string large(8 << 20, 'r');
  put = Put(*reader, prefix_ + "reader-wrote-large", large);
  EXPECT_EQ(put.code(), ErrorCode::kAccessDenied) << put.ToString();
  Result<std::string> upload = reader->CreateMultipartUpload(prefix_ + "reader-mp", {}, "");
  EXPECT_EQ(upload.status().code(), ErrorCode::kAccessDenied) << upload.status().ToString();
  Status del = reader->DeleteObject(prefix_ + "shared");
  EXPECT_EQ(del.code(), ErrorCode::kAccessDenied) << del.ToString();
  EXPECT_TRUE(Get(*owner, prefix_ + "shared").ok());

  auto reader_b = Client(TestUser::kReader, "team-b");
  EXPECT_EQ(reader_b->ListObjects(list).status().code(), ErrorCode::kAccessDenied);
}

TEST_F(PermissionsTest, BroadKeyHasFullAccessToTeamA) {
  auto broad = Client(TestUser::kBroad, "team-a");
  ASSERT_TRUE(Put(*broad, prefix_ + "broad", "broad data").ok());
  Result<std::string> data = Get(*broad, prefix_ + "broad");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, "broad data");
  CopyObjectRequest copy;
  copy.source_key = prefix_ + "broad";
  copy.destination_key = prefix_ + "broad-copy";
  EXPECT_TRUE(broad->CopyObject(copy).ok());
  Result<std::vector<DeleteError>> errors =
      broad->DeleteObjects({prefix_ + "broad", prefix_ + "broad-copy"});
  ASSERT_TRUE(errors.ok()) << errors.status().ToString();
  EXPECT_TRUE(errors->empty());
  EXPECT_EQ(broad->HeadObject(prefix_ + "broad").status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace spacesfs::s3

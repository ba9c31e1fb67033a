// `spacesfs keys --provider rgw` against the local radosgw: a key minted for team-a:read can list
// and read team-a only; rotate replaces it (the old key is refused afterwards); revoke removes it.
//
// Several `spacesfs keys create` at once into one credential file all land. A minted key cannot
// create a bucket, not even one its fullaccess grant names.
//
// The RGW admin key is spacesfs-admin's (created by tests/server/rgw-tenants); the test gives it
// the caps it needs with radosgw-admin when missing (CEPH_CONF or $CEPH_DIR/ceph.conf).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "auth/credentials.h"
#include "cli/keys_command.h"
#include "gtest/gtest.h"
#include "s3/http_transport.h"
#include "s3/sigv4.h"
#include "support/rgw_admin.h"
#include "support/s3_test_env.h"

namespace spacesfs::keys {
namespace {

namespace fs = std::filesystem;

int RunKeysArgs(std::vector<std::string> args) {
  args.insert(args.begin(), {"spacesfs", "keys"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return cli::RunKeys(static_cast<int>(args.size()), argv.data());
}

class KeysRgwTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = std::move(*env);
    char tmpl[] = "/tmp/spacesfs-keys-rgw.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    creds_ = dir_ + "/credentials";
    conf_ = testing::CephConf(env_.endpoint);
    ASSERT_FALSE(conf_.empty()) << "set CEPH_CONF (source $CEPH_DIR/env.sh) for the cluster at "
                                << env_.endpoint << ": the test gives spacesfs-admin RGW caps";
    const std::string admin =
        testing::AdminProfileSection(conf_, "rgw-admin", env_.endpoint, env_.region);
    ASSERT_FALSE(admin.empty()) << "cannot read spacesfs-admin's key with radosgw-admin";
    std::ofstream(creds_) << admin;
    ::chmod(creds_.c_str(), 0600);
    prefix_ = testing::UniqueTestPrefix("keys-rgw");
    auto owner = testing::MakeTestClient(env_, testing::TestUser::kOwner, "team-a");
    ASSERT_TRUE(owner.ok());
    s3::PutObjectRequest put;
    put.key = prefix_ + "hello";
    put.body = s3::BodySource::FromView("hello");
    ASSERT_TRUE((*owner)->PutObject(put).ok());
    name_ = "kt" + std::to_string(::getpid());
    names_ = {name_};
  }
  void TearDown() override {
    // Nothing is left on the server when the test passes; after a failure, remove what it made.
    EXPECT_EQ(testing::RemoveRgwKeyUsers(conf_, names_), 0) << "keys were left on the server";
    for (const std::string& bucket : buckets_) {  // only there when a key could create it
      if (testing::RadosgwAdmin(conf_, "bucket stats --bucket=" + bucket).exit_code == 0) {
        testing::RadosgwAdmin(conf_, "bucket rm --purge-objects --bucket=" + bucket);
      }
    }
    auto owner = testing::MakeTestClient(env_, testing::TestUser::kOwner, "team-a");
    if (owner.ok()) (void)testing::DeleteAllUnder(**owner, prefix_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Result<auth::Profile> Profile() { return auth::LoadProfile(creds_, name_, ::getuid()); }

  std::unique_ptr<s3::CurlObjectClient> ClientFor(const auth::Profile& profile,
                                                  const std::string& bucket) {
    s3::SigningKey key{profile.access_key_id, profile.secret_access_key, ""};
    auto client = s3::CurlObjectClient::Create(testing::TestClientConfig(env_, key, bucket));
    EXPECT_TRUE(client.ok());
    return client.ok() ? std::move(*client) : nullptr;
  }

  Status ListOne(const auth::Profile& profile, const std::string& bucket) {
    s3::ListObjectsRequest list;
    list.max_keys = 1;
    return ClientFor(profile, bucket)->ListObjects(list).status();
  }

  testing::S3TestEnv env_;
  std::string conf_, dir_, creds_, prefix_, name_;
  std::vector<std::string> names_;    // every key name the test creates
  std::vector<std::string> buckets_;  // buckets a key must not be able to create
};

TEST_F(KeysRgwTest, CreateRotateRevoke) {
  ASSERT_EQ(RunKeysArgs({"create", "--provider", "rgw", "--admin-profile", "rgw-admin", "--name",
                         name_, "--grant", "team-a:read", "--credentials", creds_}),
            0);
  Result<auth::Profile> first = Profile();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->endpoint, env_.endpoint);
  struct stat st;
  ASSERT_EQ(::stat(creds_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // Reads team-a; cannot write it; cannot touch team-b.
  EXPECT_TRUE(ListOne(*first, "team-a").ok());
  std::string body;
  Result<s3::ObjectInfo> got = ClientFor(*first, "team-a")->GetObject(
      {prefix_ + "hello", std::nullopt, ""}, [&body](std::string_view chunk) {
        body += chunk;
        return Status::Ok();
      });
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(body, "hello");
  s3::PutObjectRequest put;
  put.key = prefix_ + "refused";
  put.body = s3::BodySource::FromView("x");
  Result<std::string> put_result = ClientFor(*first, "team-a")->PutObject(put);
  ASSERT_FALSE(put_result.ok());
  EXPECT_EQ(put_result.status().http_status(), 403);
  Status team_b = ListOne(*first, "team-b");
  EXPECT_EQ(team_b.http_status(), 403) << team_b.ToString();

  // The key shows up in the list.
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunKeysArgs({"list", "--provider", "rgw", "--admin-profile", "rgw-admin",
                         "--credentials", creds_}),
            0);
  std::string listed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(listed.find(name_ + "\t" + first->access_key_id), std::string::npos) << listed;

  // Rotate: a new key that works, the old one refused.
  ASSERT_EQ(RunKeysArgs({"rotate", name_, "--provider", "rgw", "--admin-profile", "rgw-admin",
                         "--credentials", creds_}),
            0);
  Result<auth::Profile> second = Profile();
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->access_key_id, first->access_key_id);
  EXPECT_TRUE(ListOne(*second, "team-a").ok());
  Status old_key = ListOne(*first, "team-a");
  EXPECT_EQ(old_key.http_status(), 403) << old_key.ToString();
  EXPECT_EQ(old_key.s3_code(), "InvalidAccessKeyId") << old_key.ToString();
  EXPECT_EQ(ListOne(*second, "team-b").http_status(), 403);

  // Revoke: refused afterwards.
  ASSERT_EQ(RunKeysArgs({"revoke", second->access_key_id, "--provider", "rgw", "--admin-profile",
                         "rgw-admin", "--credentials", creds_}),
            0);
  Status revoked = ListOne(*second, "team-a");
  EXPECT_EQ(revoked.http_status(), 403) << revoked.ToString();
  EXPECT_EQ(revoked.s3_code(), "InvalidAccessKeyId") << revoked.ToString();
}

// PUT /BUCKET (CreateBucket) signed with `profile`'s key: the server's answer.
s3::HttpResponse CreateBucket(const testing::S3TestEnv& env, const auth::Profile& profile,
                              const std::string& bucket) {
  s3::RequestToSign to_sign;
  to_sign.method = "PUT";
  to_sign.host = env.endpoint.substr(env.endpoint.find("://") + 3);
  to_sign.raw_path = "/" + bucket;
  to_sign.payload_hash = std::string(s3::kEmptyPayloadSha256);
  s3::SigningKey key{profile.access_key_id, profile.secret_access_key, ""};
  s3::HttpRequest request;
  request.method = "PUT";
  request.url = env.endpoint + "/" + bucket;
  request.headers = s3::SignRequest(to_sign, key, env.region, std::time(nullptr));
  const s3::BodySource empty = s3::BodySource::FromView("");
  request.body = &empty;
  s3::HttpTransport transport{s3::TransportOptions{}};
  s3::HttpResponse response;
  Status sent = transport.Perform(request, &response);
  EXPECT_TRUE(sent.ok()) << sent.ToString();
  return response;
}

TEST_F(KeysRgwTest, MintedKeysCannotCreateBuckets) {
  // A read key, and a fullaccess key whose policy (s3:* on the bucket) would allow creating that
  // very bucket: the RGW user behind each key has max-buckets=-1, so the server refuses both.
  const std::string bucket = "spacesfs-nobucket-" + std::to_string(::getpid());
  buckets_.push_back(bucket);
  const std::string full = name_ + "f";
  names_.push_back(full);
  ASSERT_EQ(RunKeysArgs({"create", "--provider", "rgw", "--admin-profile", "rgw-admin", "--name",
                         name_, "--grant", "team-a:read", "--credentials", creds_}),
            0);
  ASSERT_EQ(RunKeysArgs({"create", "--provider", "rgw", "--admin-profile", "rgw-admin", "--name",
                         full, "--grant", bucket + ":fullaccess", "--credentials", creds_}),
            0);
  for (const std::string& profile_name : {name_, full}) {
    Result<auth::Profile> profile = auth::LoadProfile(creds_, profile_name, ::getuid());
    ASSERT_TRUE(profile.ok()) << profile.status().ToString();
    s3::HttpResponse answer = CreateBucket(env_, *profile, bucket);
    EXPECT_EQ(answer.status, 403) << profile_name << ": " << answer.body;
    EXPECT_NE(answer.body.find("<Code>AccessDenied</Code>"), std::string::npos)
        << profile_name << ": " << answer.body;
    EXPECT_NE(testing::RadosgwAdmin(conf_, "bucket stats --bucket=" + bucket).exit_code, 0)
        << profile_name << " created " << bucket;
  }
  // The keys themselves work (the refusal is not a broken key).
  Result<auth::Profile> reader = Profile();
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(ListOne(*reader, "team-a").ok());
  for (const std::string& key_name : {name_, full}) {
    EXPECT_EQ(RunKeysArgs({"revoke", key_name, "--provider", "rgw", "--admin-profile", "rgw-admin",
                           "--credentials", creds_}),
              0);
  }
}

TEST_F(KeysRgwTest, ConcurrentCreatesIntoOneFileAllLand) {
  constexpr int kCreates = 4;
  std::string script;
  for (int i = 0; i < kCreates; ++i) {
    const std::string name = name_ + "c" + std::to_string(i);
    names_.push_back(name);
    const std::string n = std::to_string(i);
    script += "( " + testing::ShellQuote(SPACESFS_BINARY) +
              " keys create --provider rgw --admin-profile rgw-admin --grant team-a:read --name " +
              name + " --credentials " + testing::ShellQuote(creds_) + " >" + dir_ + "/out." + n +
              " 2>&1; echo $? >" + dir_ + "/rc." + n + " ) &\n";
  }
  testing::RunShell(script + "wait\n");

  for (int i = 0; i < kCreates; ++i) {
    const std::string n = std::to_string(i);
    EXPECT_EQ(testing::ReadWholeFile(dir_ + "/rc." + n), "0\n")
        << testing::ReadWholeFile(dir_ + "/out." + n);
  }
  struct stat st;
  ASSERT_EQ(::stat(creds_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(auth::LoadProfile(creds_, "rgw-admin", ::getuid()).ok());
  for (int i = 0; i < kCreates; ++i) {
    const std::string name = name_ + "c" + std::to_string(i);
    Result<auth::Profile> profile = auth::LoadProfile(creds_, name, ::getuid());
    ASSERT_TRUE(profile.ok()) << "lost: " << profile.status().ToString();
    EXPECT_TRUE(ListOne(*profile, "team-a").ok()) << name;
    EXPECT_EQ(RunKeysArgs({"revoke", name, "--provider", "rgw", "--admin-profile", "rgw-admin",
                           "--credentials", creds_}),
              0);
  }
}

}  // namespace
}  // namespace spacesfs::keys

// `spacesfs keys --provider rgw` against the local radosgw: a key minted for team-a:read can list
// and read team-a only; rotate replaces it (the old key is refused afterwards); revoke removes it.
//
// The RGW admin key is spacesfs-admin's (created by tests/server/rgw-tenants); this test gives it the
// caps users=* and metadata=read with radosgw-admin when missing (CEPH_CONF or $CEPH_DIR/ceph.conf).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "auth/credentials.h"
#include "cli/keys_command.h"
#include "gtest/gtest.h"
#include "support/s3_test_env.h"

namespace spacesfs::keys {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

int RunKeysArgs(std::vector<std::string> args) {
  args.insert(args.begin(), {"spacesfs", "keys"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return cli::RunKeys(static_cast<int>(args.size()), argv.data());
}

// The ceph.conf of the cluster serving `endpoint` (CEPH_CONF, else $CEPH_DIR/ceph.conf), or "" when
// neither is set or the file does not name the endpoint's host:port (another cluster).
std::string CephConf(const std::string& endpoint) {
  std::string conf;
  if (const char* c = std::getenv("CEPH_CONF")) {
    conf = c;
  } else if (const char* dir = std::getenv("CEPH_DIR")) {
    conf = std::string(dir) + "/ceph.conf";
  }
  if (conf.empty()) return "";
  std::ifstream in(conf);
  std::stringstream text;
  text << in.rdbuf();
  const std::string host_port = endpoint.substr(endpoint.find("://") + 3);
  return text.str().find("endpoint=" + host_port) != std::string::npos ? conf : "";
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
    const std::string conf = CephConf(env_.endpoint);
    ASSERT_FALSE(conf.empty()) << "set CEPH_CONF (source $CEPH_DIR/env.sh) for the cluster at "
                               << env_.endpoint << ": the test gives spacesfs-admin RGW caps";
    const std::string info = dir_ + "/admin.json";
    // The admin API needs users=* (create/remove users) and metadata=read (list them).
    std::string caps = "radosgw-admin -c '" + conf +
                       "' caps add --uid=spacesfs-admin --caps='users=*;metadata=read' >/dev/null";
    ASSERT_EQ(std::system(caps.c_str()), 0) << caps;
    std::string get = "radosgw-admin -c '" + conf + "' user info --uid=spacesfs-admin >'" + info + "'";
    ASSERT_EQ(std::system(get.c_str()), 0) << get;
    std::ifstream in(info);
    json user = json::parse(in);
    fs::remove(info);
    ASSERT_FALSE(user["keys"].empty());
    std::string secret = user["keys"][0]["secret_key"];
    {
      std::ofstream out(creds_);
      out << "[rgw-admin]\naccess_key_id = " << user["keys"][0]["access_key"].get<std::string>()
          << "\nsecret_access_key = " << secret << "\nendpoint = " << env_.endpoint
          << "\nregion = " << env_.region << "\ngrant = team-a:read\n";
    }
    ::chmod(creds_.c_str(), 0600);
    prefix_ = testing::UniqueTestPrefix("keys-rgw");
    auto owner = testing::MakeTestClient(env_, testing::TestUser::kOwner, "team-a");
    ASSERT_TRUE(owner.ok());
    s3::PutObjectRequest put;
    put.key = prefix_ + "hello";
    put.body = s3::BodySource::FromView("hello");
    ASSERT_TRUE((*owner)->PutObject(put).ok());
    name_ = "kt" + std::to_string(::getpid());
  }
  void TearDown() override {
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
  std::string dir_, creds_, prefix_, name_;
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

}  // namespace
}  // namespace spacesfs::keys

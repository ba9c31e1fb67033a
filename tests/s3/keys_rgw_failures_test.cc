// `spacesfs keys --provider rgw` when things go wrong, on the local radosgw: an admin key without
// the caps (403), a key unknown to revoke (404), a server that cannot be reached or does not
// answer, a policy the server refuses and a credential file that cannot be written. Each gives one
// clear line on stderr and exit status 1, and leaves nothing half done: no profile written, no RGW
// user left behind for a key that was not stored.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "keys/rgw_provider.h"
#include "support/rgw_admin.h"
#include "support/s3_test_env.h"

namespace spacesfs::keys {
namespace {

namespace fs = std::filesystem;
using testing::KeysRun;

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

class KeysRgwFailuresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    env_ = std::move(*env);
    conf_ = testing::CephConf(env_.endpoint);
    ASSERT_FALSE(conf_.empty()) << "set CEPH_CONF (source $CEPH_DIR/env.sh) for the cluster at "
                                << env_.endpoint;
    char tmpl[] = "/tmp/spacesfs-keys-rgw-failures.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    admin_ = dir_ + "/admin-credentials";
    creds_ = dir_ + "/credentials";
    const std::string admin =
        testing::AdminProfileSection(conf_, "rgw-admin", env_.endpoint, env_.region);
    ASSERT_FALSE(admin.empty()) << "cannot read spacesfs-admin's key with radosgw-admin";
    // notadmin: a valid key (the owner tenant's) without any RGW caps. down: nothing listens there.
    WriteAdmin(admin + testing::ProfileSection("notadmin", "OWNER", {"team-a:read"}) +
               "[down]\naccess_key_id = AKDOWN\nsecret_access_key = nothing-listens\n"
               "endpoint = http://127.0.0.1:1\ngrant = team-a:read\n");
    name_ = "kf" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(name_.begin(), name_.end(), name_.begin(), ::tolower);
    name_ = name_.substr(0, 48);
  }
  void TearDown() override {
    if (!conf_.empty() && !name_.empty()) {
      EXPECT_EQ(testing::RemoveRgwKeyUsers(conf_, {name_}), 0) << "a key was left on the server";
    }
    if (!limited_admin_.empty()) testing::RadosgwAdmin(conf_, "user rm --uid=" + limited_admin_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void WriteAdmin(const std::string& text) {
    std::ofstream(admin_, std::ios::app) << text;
    ::chmod(admin_.c_str(), 0600);
  }

  KeysRun Keys(std::vector<std::string> args, const std::string& admin_profile,
               const std::string& credentials) {
    args.insert(args.end(), {"--provider", "rgw", "--admin-profile", admin_profile,
                             "--admin-credentials", admin_, "--credentials", credentials});
    return testing::RunKeysBinary(args, dir_);
  }
  KeysRun Create(const std::string& admin_profile, const std::string& credentials) {
    return Keys({"create", "--name", name_, "--grant", "team-a:read"}, admin_profile, credentials);
  }

  // The run failed with exactly one line on stderr containing every `wanted` piece.
  void ExpectOneLine(const KeysRun& run, const std::vector<std::string>& wanted) {
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_EQ(Lines(run.err), 1u) << run.err;
    EXPECT_EQ(run.err.rfind("spacesfs keys: ", 0), 0u) << run.err;
    for (const std::string& piece : wanted) {
      EXPECT_NE(run.err.find(piece), std::string::npos)
          << "wanted '" << piece << "' in " << run.err;
    }
  }

  testing::S3TestEnv env_;
  std::string conf_, dir_, admin_, creds_, name_, limited_admin_;
};

TEST_F(KeysRgwFailuresTest, AdminKeyWithoutCapsIsRefused) {
  const std::string uid = "spacesfs-" + name_;
  KeysRun create = Create("notadmin", creds_);
  ExpectOneLine(
      create,
      {"access_denied: RGW admin API: GET /admin/user (uid " + uid + "): HTTP 403", "AccessDenied",
       "the admin key needs the RGW caps users=*, metadata=read and user-policy=*"});
  EXPECT_FALSE(fs::exists(creds_));
  EXPECT_FALSE(testing::RgwUserExists(conf_, uid));

  ExpectOneLine(Keys({"list"}, "notadmin", creds_),
                {"access_denied: RGW admin API: GET /admin/metadata/user: HTTP 403"});
  ExpectOneLine(Keys({"revoke", name_}, "notadmin", creds_),
                {"access_denied: RGW admin API: GET /admin/metadata/user: HTTP 403"});
  // The key's secret is never echoed.
  const std::string secret(env_.owner.secret_access_key.reveal());
  EXPECT_EQ(create.err.find(secret), std::string::npos);
}

TEST_F(KeysRgwFailuresTest, RevokingAnUnknownKeyIsNotFound) {
  ExpectOneLine(
      Keys({"revoke", name_}, "rgw-admin", creds_),
      {"not_found: RGW admin API: no spacesfs key named or with access key '" + name_ + "'"});
  ExpectOneLine(
      Keys({"revoke", "AKNOSUCHKEY0000"}, "rgw-admin", creds_),
      {"not_found: RGW admin API: no spacesfs key named or with access key 'AKNOSUCHKEY0000'"});
  EXPECT_FALSE(fs::exists(creds_));
}

TEST_F(KeysRgwFailuresTest, UnreachableServer) {
  ExpectOneLine(Create("down", creds_),
                {"network: RGW admin API: GET /admin/user (uid spacesfs-" + name_ + "): ",
                 "127.0.0.1 port 1"});
  EXPECT_FALSE(fs::exists(creds_));
  ExpectOneLine(Keys({"list"}, "down", creds_),
                {"network: RGW admin API: GET /admin/metadata/user: "});
}

TEST_F(KeysRgwFailuresTest, ServerThatDoesNotAnswerTimesOut) {
  // A listening socket nobody accepts from: the connection is made, no reply ever comes.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  RgwConfig config;
  config.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  config.admin = env_.owner;
  config.timeout = std::chrono::seconds(1);
  RgwProvider provider(std::move(config));
  Result<MintedKey> minted = provider.Create(name_, {*auth::ParseGrant("team-a:read")});
  ::close(listener);
  ASSERT_FALSE(minted.ok());
  EXPECT_EQ(minted.status().code(), ErrorCode::kTimeout) << minted.status().ToString();
  EXPECT_EQ(minted.status().message().rfind(
                "RGW admin API: GET /admin/user (uid spacesfs-" + name_ + "): ", 0),
            0u)
      << minted.status().ToString();
  EXPECT_EQ(minted.status().ToString().find('\n'), std::string::npos);
}

TEST_F(KeysRgwFailuresTest, RefusedPolicyRemovesTheNewUser) {
  // An admin that may create users but not attach policies: the user is made, then removed again.
  limited_admin_ = "keys-test-nopolicy-" + std::to_string(::getpid());
  ASSERT_EQ(testing::RadosgwAdmin(
                conf_, "user create --uid=" + limited_admin_ + " --display-name=" + limited_admin_)
                .exit_code,
            0);
  ASSERT_EQ(testing::RadosgwAdmin(
                conf_, "caps add --uid=" + limited_admin_ + " --caps='users=*;metadata=read'")
                .exit_code,
            0);
  WriteAdmin(testing::RgwUserProfileSection(conf_, limited_admin_, "nopolicy", env_.endpoint,
                                            env_.region));
  const std::string uid = "spacesfs-" + name_;
  ExpectOneLine(
      Create("nopolicy", creds_),
      {"access_denied: RGW admin API: IAM POST / (PutUserPolicy for " + uid + "): HTTP 403",
       "no key was made (user " + uid + " was removed again)"});
  EXPECT_FALSE(testing::RgwUserExists(conf_, uid));
  EXPECT_FALSE(fs::exists(creds_));
}

TEST_F(KeysRgwFailuresTest, KeyCreatedButNotStoredIsRevoked) {
  const std::string missing = dir_ + "/no-such-dir/credentials";
  KeysRun run = Create("rgw-admin", missing);
  ExpectOneLine(run,
                {"config: " + missing + ": directory " + dir_ + "/no-such-dir does not exist"});
  EXPECT_NE(run.out.find("revoked the new key "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" again, since it could not be put to use"), std::string::npos) << run.out;
  EXPECT_EQ(Lines(run.out), 1u) << run.out;
  EXPECT_FALSE(testing::RgwUserExists(conf_, "spacesfs-" + name_));
  EXPECT_FALSE(fs::exists(dir_ + "/no-such-dir"));

  // An unsafe credential file (group-readable) is refused before anything is created.
  std::ofstream(creds_) << "";
  ::chmod(creds_.c_str(), 0640);
  KeysRun unsafe = Create("rgw-admin", creds_);
  EXPECT_EQ(unsafe.exit_code, 1);
  EXPECT_EQ(Lines(unsafe.err), 1u) << unsafe.err;
  EXPECT_EQ(unsafe.out, "");
  EXPECT_FALSE(testing::RgwUserExists(conf_, "spacesfs-" + name_));
}

}  // namespace
}  // namespace spacesfs::keys

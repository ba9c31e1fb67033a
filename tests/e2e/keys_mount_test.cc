// End to end: a key minted by `spacesfs keys --provider rgw` on the local radosgw, used by a real
// FUSE mount. The `read` key for team-a goes into a fresh credential file; a mount with that
// profile reads, refuses writes with EROFS, and the server itself refuses the key on team-b. `keys
// rotate` while the mount is up revokes the old key (the mount fails with EACCES until SIGHUP, then
// works with the new key); `keys revoke` makes the server refuse the key (403) and the mount with
// it.
//
// The RGW admin key is spacesfs-admin's (tests/server/rgw-tenants; see tests/support/rgw_admin.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "auth/credentials.h"
#include "s3/curl_object_client.h"
#include "support/e2e.h"
#include "support/rgw_admin.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

// The errno a failed shell command reported, from its message; "0" when it succeeded.
std::string ErrnoOf(const testing::CommandResult& r) {
  if (r.exit_code == 0) return "0";
  if (r.output.find("Read-only file system") != std::string::npos) return "EROFS";
  if (r.output.find("Permission denied") != std::string::npos) return "EACCES";
  return "other: " + r.output;
}

class KeysMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = testing::RequireEnv("SPACESFS_TEST_ENDPOINT");
    region_ = testing::RequireEnv("SPACESFS_TEST_REGION");
    conf_ = testing::CephConf(endpoint_);
    ASSERT_FALSE(conf_.empty()) << "set CEPH_CONF (source $CEPH_DIR/env.sh) for the cluster at "
                                << endpoint_;
    const std::string admin = testing::AdminProfileSection(conf_, "rgw-admin", endpoint_, region_);
    ASSERT_FALSE(admin.empty()) << "cannot read spacesfs-admin's key with radosgw-admin";
    admin_credentials_ = testing::WriteCredentialFile(dir_.path() + "/admin-credentials", admin);
    credentials_ = dir_.path() + "/credentials";  // does not exist yet: keys create makes it
    mnt_ = dir_.path() + "/mnt";
    ::mkdir(mnt_.c_str(), 0755);
    name_ = "km" + std::to_string(::getpid());
    prefix_ = testing::UniquePrefix("keys-mount");
    owner_ = testing::TenantClient("OWNER", "team-a");
    for (const char* file :
         {"hello.txt", "after-rotate.txt", "after-sighup.txt", "after-revoke.txt"}) {
      s3::PutObjectRequest put;
      put.key = prefix_ + file;
      const std::string body = std::string("content of ") + file + "\n";
      put.body = s3::BodySource::FromView(body);
      ASSERT_TRUE(owner_->PutObject(put).ok()) << put.key;
    }
  }
  void TearDown() override {
    for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) {
      (void)owner_->DeleteObject(key);
    }
    if (!conf_.empty()) {
      EXPECT_EQ(testing::RemoveRgwKeyUsers(conf_, {name_}), 0) << "a key was left on the server";
    }
  }

  testing::KeysRun Keys(std::vector<std::string> args) {
    args.insert(args.end(),
                {"--provider", "rgw", "--admin-profile", "rgw-admin", "--admin-credentials",
                 admin_credentials_, "--credentials", credentials_});
    return testing::RunKeysBinary(args, dir_.path());
  }

  auth::Profile LoadProfile() {
    Result<auth::Profile> profile = auth::LoadProfile(credentials_, name_, ::getuid());
    EXPECT_TRUE(profile.ok()) << profile.status().ToString();
    return profile.ok() ? std::move(*profile) : auth::Profile{};
  }

  // A direct request with the profile's key: ListObjectsV2 max-keys=1 on `bucket`.
  Status ListWith(const auth::Profile& profile, const std::string& bucket) {
    s3::ClientConfig config;
    config.endpoint = endpoint_;
    config.region = region_;
    config.bucket = bucket;
    config.key = s3::SigningKey{profile.access_key_id, profile.secret_access_key, ""};
    config.max_attempts = 1;
    auto client = s3::CurlObjectClient::Create(std::move(config));
    if (!client.ok()) return client.status();
    s3::ListObjectsRequest list;
    list.max_keys = 1;
    return (*client)->ListObjects(list).status();
  }

  // Waits until the daemon's log says it reloaded the profile `count` times.
  bool WaitForReload(const testing::TestMount& mount, size_t count) {
    const std::string line = "reload: profile '" + name_ + "' reloaded";
    for (int i = 0; i < 200; ++i) {
      const std::string log = mount.log();
      size_t seen = 0;
      for (size_t p = log.find(line); p != std::string::npos; p = log.find(line, p + 1)) ++seen;
      if (seen >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string In(const std::string& file) const { return ShellQuote(mnt_ + "/" + prefix_ + file); }

  testing::TempDir dir_;
  std::string endpoint_, region_, conf_, admin_credentials_, credentials_, mnt_, name_, prefix_;
  std::unique_ptr<s3::ObjectClient> owner_;
};

TEST_F(KeysMountTest, MintedReadKeyMountsRotatesOnSighupAndIsRevoked) {
  // keys create: a read key for team-a, into a credential file that did not exist.
  testing::KeysRun created = Keys({"create", "--name", name_, "--grant", "team-a:read"});
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  struct stat st;
  ASSERT_EQ(::stat(credentials_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  const auth::Profile first = LoadProfile();
  ASSERT_FALSE(first.access_key_id.empty());
  ASSERT_EQ(first.grants.size(), 1u);
  EXPECT_EQ(auth::FormatGrant(first.grants[0]), "team-a:read");
  const std::string first_secret(first.secret_access_key.reveal());
  EXPECT_EQ(created.out.find(first_secret), std::string::npos);
  EXPECT_EQ(created.err.find(first_secret), std::string::npos);

  // Mount with the new profile: reads work, writes are EROFS and reach nothing on the server.
  testing::TestMount mount(SPACESFS_BINARY,
                           {"team-a", mnt_, "-o",
                            "profile=" + name_ + ",credentials=" + credentials_ +
                                ",attr_timeout=0,entry_timeout=0,negative_timeout=0"},
                           mnt_);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_EQ(RunShell("cat " + In("hello.txt")).output, "content of hello.txt\n");
  testing::CommandResult listed = RunShell("ls " + In(""));
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("hello.txt"), std::string::npos) << listed.output;
  EXPECT_EQ(ErrnoOf(RunShell("echo new > " + In("written.txt"))), "EROFS");
  EXPECT_EQ(ErrnoOf(RunShell("echo more >> " + In("hello.txt"))), "EROFS");
  EXPECT_EQ(ErrnoOf(RunShell("rm " + In("hello.txt"))), "EROFS");
  EXPECT_EQ(ErrnoOf(RunShell("mkdir " + In("newdir"))), "EROFS");
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "written.txt"), "<missing>");
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "hello.txt"), "content of hello.txt\n");

  // Another Space: the server refuses the key, even to a profile that claims a grant for it.
  Status team_b = ListWith(first, "team-b");
  EXPECT_EQ(team_b.http_status(), 403) << team_b.ToString();
  EXPECT_EQ(team_b.s3_code(), "AccessDenied") << team_b.ToString();
  const std::string claims_b = testing::WriteCredentialFile(
      dir_.path() + "/claims-team-b", "[claims-b]\naccess_key_id = " + first.access_key_id +
                                          "\nsecret_access_key = " + first_secret +
                                          "\nendpoint = " + endpoint_ + "\nregion = " + region_ +
                                          "\ngrant = team-b:read\n");
  const std::string mnt_b = dir_.path() + "/mnt-b";
  ::mkdir(mnt_b.c_str(), 0755);
  testing::CommandResult refused =
      RunShell(std::string(SPACESFS_BINARY) + " team-b " + ShellQuote(mnt_b) + " -o " +
               ShellQuote("profile=claims-b,credentials=" + claims_b));
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_EQ(refused.output,
            "spacesfs: the key of profile 'claims-b' may not list Space 'team-b' (AccessDenied)\n");
  EXPECT_FALSE(testing::IsMounted(mnt_b));

  // keys rotate while the mount is up: the old key is revoked at once...
  testing::KeysRun rotated = Keys({"rotate", name_});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
  const auth::Profile second = LoadProfile();
  EXPECT_NE(second.access_key_id, first.access_key_id);
  EXPECT_EQ(std::string(second.secret_access_key.reveal()).find(first_secret), std::string::npos);
  EXPECT_TRUE(ListWith(second, "team-a").ok());
  Status old_key = ListWith(first, "team-a");
  EXPECT_EQ(old_key.http_status(), 403) << old_key.ToString();
  EXPECT_EQ(old_key.s3_code(), "InvalidAccessKeyId") << old_key.ToString();
  ASSERT_EQ(::stat(credentials_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // ... so the mount, still signing with it, is refused until it reloads.
  EXPECT_EQ(ErrnoOf(RunShell("cat " + In("after-rotate.txt"))), "EACCES");
  ASSERT_EQ(::kill(mount.pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitForReload(mount, 1)) << mount.log();
  EXPECT_EQ(RunShell("cat " + In("after-sighup.txt")).output, "content of after-sighup.txt\n");
  EXPECT_EQ(RunShell("cat " + In("after-rotate.txt")).output, "content of after-rotate.txt\n");
  EXPECT_EQ(ErrnoOf(RunShell("echo new > " + In("written.txt"))), "EROFS");
  EXPECT_TRUE(testing::IsMounted(mnt_));

  // The old key is gone: revoking it again is not found.
  testing::KeysRun again = Keys({"revoke", first.access_key_id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not_found: RGW admin API: no spacesfs key named or with access key '" +
                           first.access_key_id + "'"),
            std::string::npos)
      << again.err;

  // keys revoke the current key: the server refuses it from then on, and the mount with it.
  testing::KeysRun revoked = Keys({"revoke", second.access_key_id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.out << revoked.err;
  EXPECT_EQ(revoked.out, "revoked " + second.access_key_id + "\n");
  Status gone = ListWith(second, "team-a");
  EXPECT_EQ(gone.http_status(), 403) << gone.ToString();
  EXPECT_EQ(gone.s3_code(), "InvalidAccessKeyId") << gone.ToString();
  EXPECT_EQ(ErrnoOf(RunShell("cat " + In("after-revoke.txt"))), "EACCES");
  EXPECT_EQ(mount.Unmount(), 0) << mount.log();

  // Nothing the keys command wrote or printed carries a secret but the credential file.
  const std::string second_secret(second.secret_access_key.reveal());
  for (const testing::KeysRun* run : {&created, &rotated, &again, &revoked}) {
    EXPECT_EQ(run->out.find(second_secret), std::string::npos);
    EXPECT_EQ(run->err.find(second_secret), std::string::npos);
    EXPECT_EQ(run->out.find(first_secret), std::string::npos);
  }
  EXPECT_EQ(mount.log().find(first_secret), std::string::npos);
  EXPECT_EQ(mount.log().find(second_secret), std::string::npos);
}

}  // namespace
}  // namespace spacesfs

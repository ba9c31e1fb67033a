// End to end over https: radosgw's https frontend (tests/server/rgw-start), whose certificate is
// signed by the cluster's own authority, trusted through the profile's ca_bundle. A file written
// through the mount in several parts (sent as UNSIGNED-PAYLOAD with no digest: sign_payload=auto,
// the default) and one written with sign_payload=always reach the server byte for byte, as do
// small files (single PUTs with Content-MD5); after a remount they read back the same.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/e2e.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

class TlsMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string text = "[owner-tls]\n";
    text += "access_key_id = " + testing::RequireEnv("SPACESFS_TEST_OWNER_ACCESS_KEY") + "\n";
    text += "secret_access_key = " + testing::RequireEnv("SPACESFS_TEST_OWNER_SECRET_KEY") + "\n";
    text += "endpoint = " + testing::RequireEnv("SPACESFS_TEST_TLS_ENDPOINT") + "\n";
    text += "ca_bundle = " + testing::RequireEnv("SPACESFS_TEST_TLS_CA_BUNDLE") + "\n";
    text += "region = " + testing::RequireEnv("SPACESFS_TEST_REGION") + "\n";
    text += "grant = team-a:fullaccess\n";
    credentials_ = testing::WriteCredentialFile(dir_.path() + "/credentials", text);
    prefix_ = testing::UniquePrefix("tls-mount");
    mnt_ = dir_.path() + "/mnt";
    RunShell("mkdir -p " + ShellQuote(mnt_));
    owner_ = testing::TenantClient("OWNER", "team-a");  // plain http: a second view of the server
  }

  void TearDown() override {
    if (owner_) {
      for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) {
        (void)owner_->DeleteObject(key);
      }
    }
  }

  std::unique_ptr<testing::TestMount> Mount(const std::string& extra) {
    const std::string target = "team-a:/" + prefix_.substr(0, prefix_.size() - 1);
    return std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{target, mnt_, "-o",
                                 "profile=owner-tls,credentials=" + credentials_ +
                                     (extra.empty() ? "" : "," + extra)},
        mnt_);
  }

  testing::TempDir dir_;
  std::string credentials_, prefix_, mnt_;
  std::unique_ptr<s3::ObjectClient> owner_;
};

TEST_F(TlsMountTest, FilesWrittenOverHttpsArriveByteForByteSignedOrNot) {
  const std::string source = dir_.path() + "/source";
  // 37 MiB and a bit: five 8 MiB parts, the last one short.
  ASSERT_EQ(RunShell("head -c 38797341 /dev/urandom > " + ShellQuote(source)).exit_code, 0);
  const std::string want = RunShell("sha256sum < " + ShellQuote(source) + " | cut -d' ' -f1").output;

  for (const std::string signing : {"", "sign_payload=always"}) {
    SCOPED_TRACE(signing.empty() ? "sign_payload=auto" : signing);
    const std::string name = signing.empty() ? "auto" : "always";
    auto mount = Mount(signing);
    ASSERT_TRUE(mount->mounted()) << mount->log();
    testing::CommandResult cp = RunShell("cp " + ShellQuote(source) + " " +
                                         ShellQuote(mnt_ + "/" + name + ".bin") + " && echo " +
                                         name + " > " + ShellQuote(mnt_ + "/" + name + ".txt"));
    ASSERT_EQ(cp.exit_code, 0) << cp.output << mount->log();
    EXPECT_EQ(mount->Unmount(), 0) << mount->log();

    // On the server, read over plain http with the tenant's own key.
    const std::string stored = testing::GetBody(*owner_, prefix_ + name + ".bin");
    ASSERT_EQ(stored.size(), 38797341u) << stored.substr(0, 200);
    const std::string copy = dir_.path() + "/stored-" + name;
    std::ofstream(copy, std::ios::binary) << stored;
    EXPECT_EQ(RunShell("sha256sum < " + ShellQuote(copy) + " | cut -d' ' -f1").output, want);
    Result<s3::ObjectInfo> head = owner_->HeadObject(prefix_ + name + ".bin");
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_NE(head->etag.find("-5"), std::string::npos) << "uploaded in five parts: " << head->etag;
    EXPECT_EQ(testing::GetBody(*owner_, prefix_ + name + ".txt"), name + "\n");
  }

  // Read back through a new mount over https (reads are checked against the ETags).
  auto mount = Mount("");
  ASSERT_TRUE(mount->mounted()) << mount->log();
  for (const char* name : {"auto", "always"}) {
    testing::CommandResult cmp =
        RunShell("cmp " + ShellQuote(source) + " " + ShellQuote(mnt_ + "/" + name + ".bin"));
    EXPECT_EQ(cmp.exit_code, 0) << name << ": " << cmp.output;
  }
  EXPECT_EQ(mount->Unmount(), 0) << mount->log();
}

}  // namespace
}  // namespace spacesfs

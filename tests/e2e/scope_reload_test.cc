// End to end: SIGHUP reloads the profile's grants (the scope) together with its key. A narrowed
// grant refuses the next write with the right errno and the server is untouched; a profile that no
// longer grants the mounted Space is refused with one log line and the old scope stays.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/e2e.h"
#include "support/linux_users.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::ErrnoOf;
using testing::GetBody;
using testing::RunShell;
using testing::ShellQuote;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ScopeReloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::EnsureUsers(); }

  void SetUp() override {
    owner_ = testing::TenantClient("OWNER", "team-a");
    prefix_ = testing::UniquePrefix("scope-reload");
    credentials_ = dir_.path() + "/credentials";
    mnt_ = dir_.path() + "/mnt";
    mkdir(mnt_.c_str(), 0755);
  }

  void WriteProfile(const std::vector<std::string>& grants) {
    testing::WriteCredentialFile(credentials_, testing::ProfileSection("team", "OWNER", grants));
  }

  // Sends SIGHUP and waits (10 s at most) until the daemon has logged its answer.
  void Reload() {
    const size_t before = Count(mount_->log(), "reload: ");
    ASSERT_EQ(kill(mount_->pid(), SIGHUP), 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (Count(mount_->log(), "reload: ") == before) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no reload logged:\n" << mount_->log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  testing::CommandResult As(const std::string& user, const std::string& command) {
    return RunShell("cd " + ShellQuote(mnt_) + " && " + command, user);
  }

  testing::TempDir dir_;
  std::unique_ptr<s3::ObjectClient> owner_;
  std::string prefix_;
  std::string credentials_;
  std::string mnt_;
  std::unique_ptr<testing::TestMount> mount_;
};

TEST_F(ScopeReloadTest, SighupAppliesNarrowedAndWidenedGrants) {
  WriteProfile({"team-a:readwrite"});
  mount_ = std::make_unique<testing::TestMount>(
      SPACESFS_BINARY,
      std::vector<std::string>{"team-a:/" + prefix_, mnt_, "-o",
                               "profile=team,credentials=" + credentials_ +
                                   ",allow_other,file_mode=0666,dir_mode=0777,umask=0,"
                                   "attr_timeout=0,entry_timeout=0,negative_timeout=0"},
      mnt_);
  ASSERT_TRUE(mount_->mounted()) << mount_->log();
  ASSERT_EQ(ErrnoOf(As("bob", "echo 1 > f")), "0");
  ASSERT_EQ(GetBody(*owner_, prefix_ + "f"), "1\n");

  // readwrite -> read: every grant is read, so every write is EROFS, and nothing reaches the
  // server. (The kernel mount keeps its flags: `ro` would show after a remount.)
  WriteProfile({"team-a:read"});
  Reload();
  EXPECT_EQ(ErrnoOf(As("bob", "echo 2 > f")), "EROFS");
  EXPECT_EQ(ErrnoOf(As("bob", "echo 2 >> f")), "EROFS");
  EXPECT_EQ(ErrnoOf(As("bob", "echo 2 > g")), "EROFS");
  EXPECT_EQ(ErrnoOf(As("bob", "rm f")), "EROFS");
  EXPECT_EQ(ErrnoOf(As("bob", "mv f h")), "EROFS");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "f"), "1\n");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "g"), "<missing>");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "h"), "<missing>");
  EXPECT_EQ(As("carol", "cat f").output, "1\n");
  EXPECT_NE(mount_->log().find("reload: profile 'team' reloaded"), std::string::npos);
  EXPECT_NE(mount_->log().find("scope team-a:read (every grant is read: writes fail with EROFS"),
            std::string::npos)
      << mount_->log();

  // read for everyone, readwrite for the editors: bob writes again, carol is denied (EACCES:
  // the mount is writable for someone).
  WriteProfile({"team-a:readwrite @spacesfs-editors", "team-a:read"});
  Reload();
  EXPECT_EQ(ErrnoOf(As("bob", "echo 3 > f")), "0");
  EXPECT_EQ(ErrnoOf(As("carol", "echo 4 > f")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("carol", "echo 4 > g")), "EACCES");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "f"), "3\n");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "g"), "<missing>");

  // A profile that no longer grants the mounted Space is refused: one line, the old scope stays.
  WriteProfile({"team-b:readwrite"});
  Reload();
  WriteProfile({"team-a:fullaccess nobody-is-called-this"});
  Reload();
  EXPECT_EQ(ErrnoOf(As("bob", "echo 5 > f")), "0");
  EXPECT_EQ(ErrnoOf(As("carol", "echo 6 > f")), "EACCES");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "f"), "5\n");
  std::string log = mount_->log();
  EXPECT_EQ(Count(log, "reload: keeping the current key and scope: profile 'team' in " +
                           credentials_ + ": no grant names Space 'team-a'\n"),
            1u)
      << log;
  EXPECT_EQ(Count(log, "reload: keeping the current key and scope: profile 'team' in " +
                           credentials_ +
                           ": grant 'team-a:fullaccess nobody-is-called-this' names unknown "
                           "user 'nobody-is-called-this'\n"),
            1u)
      << log;
  EXPECT_TRUE(mount_->mounted());

  // A new endpoint in the profile: the key and grants are reloaded (carol may now create), the
  // connection is not (the line says which mount uses it): the mount goes on with its server.
  const std::string endpoint = testing::RequireEnv("SPACESFS_TEST_ENDPOINT");
  std::string section = testing::ProfileSection("team", "OWNER", {"team-a:readwrite"});
  const std::string elsewhere = "http://localhost:1";
  section.replace(section.find(endpoint), endpoint.size(), elsewhere);
  testing::WriteCredentialFile(credentials_, section);
  Reload();
  EXPECT_EQ(Count(mount_->log(), "scope team-a:readwrite; from the next mount: endpoint '" +
                                     elsewhere + "' (this mount stays on " + endpoint + ")\n"),
            1u)
      << mount_->log();
  EXPECT_EQ(ErrnoOf(As("carol", "echo 7 > g")), "0") << mount_->log();
  EXPECT_EQ(GetBody(*owner_, prefix_ + "g"), "7\n");
  EXPECT_EQ(mount_->Unmount(), 0) << mount_->log();
}

}  // namespace
}  // namespace spacesfs

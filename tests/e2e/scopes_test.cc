// End to end: scopes enforced on a real FUSE mount of the local radosgw, exercised by real Linux
// users (alice, bob in spacesfs-editors, carol outside it), each refusal checked against the errno
// the shell reports and against the server state afterwards. The full matrix of users x scopes x
// operations is tests/e2e/scope_matrix_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "cli/check_command.h"
#include "s3/client_config.h"
#include "s3/curl_object_client.h"
#include "support/e2e.h"
#include "support/linux_users.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::ErrnoOf;
using testing::RunShell;
using testing::ShellQuote;
using testing::GetBody;
using testing::KeysUnder;
using testing::TenantClient;
using testing::UidOf;

void Put(s3::ObjectClient& client, const std::string& key, const std::string& data) {
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView(data);
  ASSERT_TRUE(client.PutObject(put).ok()) << key;
}

class ScopesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::EnsureUsers();
    dir_ = new testing::TempDir();
    owner_ = TenantClient("OWNER", "team-a").release();
  }
  static void TearDownTestSuite() {
    delete owner_;
    delete dir_;
  }

  void SetUp() override {
    prefix_ = testing::UniquePrefix(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mnt_ = dir_->path() + "/mnt-" + std::to_string(counter_++);
    mkdir(mnt_.c_str(), 0755);
  }
  void TearDown() override { mount_.reset(); }

  // Mounts team-a:/prefix_ as root with allow_other and one profile; extra options appended.
  void Mount(const std::string& profile_text, const std::string& profile,
             const std::string& extra = "") {
    mount_.reset();
    std::string credentials = testing::WriteCredentialFile(
        dir_->path() + "/credentials-" + std::to_string(counter_++), profile_text);
    mount_ = std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{"team-a:/" + prefix_, mnt_, "-o",
                                 "profile=" + profile + ",credentials=" + credentials +
                                     ",allow_other,attr_timeout=0,entry_timeout=0,"
                                     "negative_timeout=0" + extra},
        mnt_);
    ASSERT_TRUE(mount_->mounted()) << "spacesfs did not mount:\n" << mount_->log();
  }

  testing::CommandResult As(const std::string& user, const std::string& command) {
    return RunShell("cd " + ShellQuote(mnt_) + " && " + command, user);
  }

  static testing::TempDir* dir_;
  static s3::ObjectClient* owner_;
  static int counter_;
  std::string prefix_;
  std::string mnt_;
  std::unique_ptr<testing::TestMount> mount_;
};

testing::TempDir* ScopesTest::dir_ = nullptr;
s3::ObjectClient* ScopesTest::owner_ = nullptr;
int ScopesTest::counter_ = 0;

TEST_F(ScopesTest, PerUserGrantsOnOneSharedMount) {
  Put(*owner_, prefix_ + "doc", "shared");
  Mount(testing::ProfileSection("team", "OWNER",
                                {"team-a:readwrite @spacesfs-editors", "team-a:read"}),
        "team", ",file_mode=0666,dir_mode=0777,umask=0");
  EXPECT_EQ(ErrnoOf(As("bob", "echo bob > by-bob")), "0");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "by-bob"), "bob\n");
  // carol has only the `read` grant: the same write is refused before any request. bob may write
  // on this mount, so it is not read-only: carol gets EACCES (docs/SCOPES.md).
  EXPECT_EQ(ErrnoOf(As("carol", "echo carol > by-carol")), "EACCES");
  // (doc has mode 0666 from file_mode, so the kernel's mode check passes and the scope decides.)
  EXPECT_EQ(ErrnoOf(As("bob", "echo bob >> doc")), "0");
  EXPECT_EQ(ErrnoOf(As("carol", "echo carol > doc")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("carol", "echo carol > doc; echo carol >> doc; rm doc")), "EACCES");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "doc"), "sharedbob\n");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "by-carol"), "<missing>");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "by-bob"), "bob\n");
  // alice, named nowhere, reads.
  testing::CommandResult r = As("alice", "cat doc");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "sharedbob\n");
  EXPECT_EQ(ErrnoOf(As("alice", "rm -f doc")), "EACCES");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "doc"), "sharedbob\n");
  EXPECT_EQ(RunShell("grep " + ShellQuote(" " + mnt_ + " ") + " /proc/mounts").output.find(" ro,"),
            std::string::npos);
  // Each refusal is logged once per key and operation, naming the user, however often it is
  // repeated: carol overwrote doc twice, appended once and tried to delete it once.
  std::string log = mount_->log();
  auto count = [&](const std::string& text) {
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  const std::string carol = "denied: user carol (uid " + UidOf("carol") + ") may not ";
  EXPECT_EQ(count(carol + "create '" + prefix_ + "by-carol'"), 1u) << log;
  EXPECT_EQ(count(carol + "overwrite '" + prefix_ + "doc'"), 1u) << log;
  EXPECT_EQ(count(carol + "append '" + prefix_ + "doc'"), 1u) << log;
  EXPECT_EQ(count(carol + "delete '" + prefix_ + "doc'"), 1u) << log;
  EXPECT_EQ(count("denied: user alice (uid " + UidOf("alice") + ") may not delete '" + prefix_ +
                  "doc' in Space 'team-a' (profile 'team', grant read)"),
            1u)
      << log;
}

TEST_F(ScopesTest, ABroadKeyNarrowedToReadSendsNoWrite) {
  Put(*owner_, prefix_ + "f", "original");
  Mount(testing::ProfileSection("broad-ro", "BROAD", {"team-a:read"}), "broad-ro");
  EXPECT_EQ(ErrnoOf(As("", "echo x > f")), "EROFS");
  EXPECT_EQ(ErrnoOf(As("", "echo x > g")), "EROFS");
  EXPECT_EQ(ErrnoOf(As("", "rm -f f")), "EROFS");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "f"), "original");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "g"), "<missing>");
  EXPECT_NE(RunShell("grep " + ShellQuote(" " + mnt_ + " ") + " /proc/mounts").output.find(" ro,"),
            std::string::npos);
}

TEST_F(ScopesTest, ANarrowKeyRefusedByTheServerIsPermissionDenied) {
  Put(*owner_, prefix_ + "f", "original");
  Mount(testing::ProfileSection("reader-claims-rw", "READER", {"team-a:readwrite"}),
        "reader-claims-rw");
  testing::CommandResult r = As("", "echo x > new-file");
  EXPECT_EQ(ErrnoOf(r), "EACCES") << r.output;
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  r = As("", "rm -f f");
  EXPECT_EQ(ErrnoOf(r), "EACCES") << r.output;
  EXPECT_EQ(GetBody(*owner_, prefix_ + "f"), "original");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "new-file"), "<missing>");
  std::string log = mount_->log();
  size_t line = log.find("server refused");
  ASSERT_NE(line, std::string::npos) << log;
  std::string first = log.substr(line, log.find('\n', line) - line);
  EXPECT_NE(first.find("server refused: user root (uid 0): "), std::string::npos) << first;
  EXPECT_NE(first.find("profile 'reader-claims-rw'"), std::string::npos) << first;
  EXPECT_NE(first.find("Space 'team-a'"), std::string::npos) << first;
  EXPECT_NE(first.find(prefix_ + "new-file"), std::string::npos) << first;
  EXPECT_NE(first.find("AccessDenied"), std::string::npos) << first;
  EXPECT_EQ(log.find(testing::RequireEnv("SPACESFS_TEST_READER_SECRET_KEY")), std::string::npos);
}

TEST_F(ScopesTest, PathsOutsideAGrantAreInvisible) {
  Put(*owner_, prefix_ + "visible/a", "a");
  Put(*owner_, prefix_ + "hidden/b", "b");
  Put(*owner_, prefix_ + "top", "t");
  Mount(testing::ProfileSection("narrow", "OWNER", {"team-a/" + prefix_ + "visible/:readwrite"}),
        "narrow");
  testing::CommandResult r = As("", "ls -A");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "visible\n");
  EXPECT_EQ(ErrnoOf(As("", "cat hidden/b")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("", "ls hidden")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("", "cat top")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("", "echo x > top")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("", "mv visible/a a-out")), "EACCES");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "top"), "t");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "visible/a"), "a");
  r = As("", "cat visible/a");
  EXPECT_EQ(r.output, "a");
  // A symlink is no way out: the kernel follows it through the same lookups.
  EXPECT_EQ(ErrnoOf(As("", "ln -s ../hidden/b visible/to-hidden")), "0");
  EXPECT_EQ(ErrnoOf(As("", "cat visible/to-hidden")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("", "echo x > visible/to-hidden")), "EACCES");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "hidden/b"), "b");
}

TEST_F(ScopesTest, CheckComparesTheKeyWithTheScope) {
  std::string credentials = testing::WriteCredentialFile(
      dir_->path() + "/credentials-check",
      testing::ProfileSection("broad-ro", "BROAD", {"team-a:read"}) +
          testing::ProfileSection("reader-rw", "READER", {"team-a:readwrite"}) +
          testing::ProfileSection("exact", "OWNER", {"team-a:readwrite"}));
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(cli::RunCheck("broad-ro", "team-a", credentials), 0);
  std::string broad = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(broad.find("write yes, delete yes"), std::string::npos) << broad;
  EXPECT_NE(broad.find("more than the scope"), std::string::npos) << broad;

  ::testing::internal::CaptureStdout();
  EXPECT_EQ(cli::RunCheck("reader-rw", "", credentials), 0);
  std::string narrow = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(narrow.find("list yes, read yes, write no"), std::string::npos) << narrow;
  EXPECT_NE(narrow.find("less than the scope"), std::string::npos) << narrow;

  ::testing::internal::CaptureStdout();
  EXPECT_EQ(cli::RunCheck("exact", "team-a", credentials), 0);
  std::string exact = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(exact.find("warning"), std::string::npos) << exact;

  EXPECT_EQ(cli::RunCheck("missing", "", credentials), 1);
  // The probe objects are gone.
  s3::ListObjectsRequest list;
  list.prefix = ".spacesfs-check/";
  Result<s3::ListObjectsPage> page = owner_->ListObjects(list);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
}

}  // namespace
}  // namespace spacesfs

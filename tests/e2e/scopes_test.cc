// End to end: scopes enforced on a real FUSE mount of the local radosgw, exercised by real Linux
// users (alice, bob in spacesfs-editors, carol outside it), each refusal checked against the errno
// the shell reports and against the server state afterwards.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "cli/check_command.h"
#include "s3/client_config.h"
#include "s3/curl_object_client.h"
#include "support/e2e.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;
using testing::GetBody;
using testing::KeysUnder;
using testing::TenantClient;

void Put(s3::ObjectClient& client, const std::string& key, const std::string& data) {
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView(data);
  ASSERT_TRUE(client.PutObject(put).ok()) << key;
}

// The errno a failed shell command reported, from its message; "0" when it succeeded.
std::string ErrnoOf(const testing::CommandResult& r) {
  if (r.exit_code == 0) return "0";
  if (r.output.find("Read-only file system") != std::string::npos) return "EROFS";
  if (r.output.find("Permission denied") != std::string::npos) return "EACCES";
  if (r.output.find("Operation not permitted") != std::string::npos) return "EPERM";
  if (r.output.find("Input/output error") != std::string::npos) return "EIO";
  return "other: " + r.output;
}

// Creates the test users and group once (idempotent).
void EnsureUsers() {
  RunShell("getent group spacesfs-editors >/dev/null || groupadd spacesfs-editors");
  // Each user has a group of its own name (tests/support/e2e.h runs commands with --regid=USER).
  for (std::string user : {"alice", "bob", "carol"}) {
    RunShell("getent group " + user + " >/dev/null || groupadd " + user);
    RunShell("id -u " + user + " >/dev/null 2>&1 || useradd -M -N -g " + user + " -s /bin/sh " +
             user);
    RunShell("[ \"$(id -gn " + user + ")\" = " + user + " ] || usermod -g " + user + " " + user);
  }
  RunShell("id -nG bob | grep -qw spacesfs-editors || usermod -aG spacesfs-editors bob");
}

std::string UidOf(const std::string& user) {
  struct passwd* pw = getpwnam(user.c_str());
  return pw == nullptr ? "0" : std::to_string(pw->pw_uid);
}

class ScopesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EnsureUsers();
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

// Linux user alice x profile scope x operation -> errno, and the server state afterwards.
TEST_F(ScopesTest, Matrix) {
  struct Op {
    const char* name;
    const char* command;
  };
  const Op ops[] = {
      {"list", "ls d >/dev/null"},
      {"read", "cat d/existing >/dev/null"},
      {"create", "echo new > d/created"},
      {"overwrite", "echo x > d/existing"},
      {"append", "echo x >> d/existing"},
      {"rename", "mv d/existing d/renamed"},
      {"delete", "rm -f d/existing"},
      {"mkdir", "mkdir d/newdir"},
      {"rmdir", "rmdir d/emptydir"},
      {"chmod", "chmod 600 d/existing"},
  };
  // Expected errno per permission, in the order of ops.
  const std::map<std::string, std::vector<std::string>> expected = {
      {"read", {"0", "0", "EROFS", "EROFS", "EROFS", "EROFS", "EROFS", "EROFS", "EROFS", "EROFS"}},
      {"append-only",
       {"0", "0", "0", "EACCES", "EACCES", "EACCES", "EACCES", "0", "EACCES", "EACCES"}},
      {"readwrite-nodelete",
       {"0", "0", "0", "0", "0", "EACCES", "EACCES", "0", "EACCES", "EACCES"}},
      {"readwrite", {"0", "0", "0", "0", "0", "0", "0", "0", "0", "EACCES"}},
      {"fullaccess", {"0", "0", "0", "0", "0", "0", "0", "0", "0", "0"}},
  };
  // alice owns every file (uid=) so the kernel's own checks (default_permissions) pass and the
  // scope decides.
  const std::string options = ",uid=" + UidOf("alice") + ",file_mode=0666,dir_mode=0777,umask=0";
  for (const auto& [permission, errnos] : expected) {
    Mount(testing::ProfileSection("m", "OWNER", {"team-a:" + permission}), "m", options);
    for (size_t i = 0; i < std::size(ops); ++i) {
      SCOPED_TRACE(permission + " x " + ops[i].name);
      const std::string d = prefix_ + "d/";
      Put(*owner_, d + "existing", "old");
      Put(*owner_, d + "emptydir/", "");
      (void)owner_->DeleteObject(d + "created");
      (void)owner_->DeleteObject(d + "renamed");
      (void)owner_->DeleteObject(d + "newdir/");
      testing::CommandResult r = As("alice", ops[i].command);
      EXPECT_EQ(ErrnoOf(r), errnos[i]) << ops[i].command << "\n" << r.output;
      if (errnos[i] != "0") {  // refused: the server is untouched
        EXPECT_EQ(GetBody(*owner_, d + "existing"), "old");
        EXPECT_EQ(GetBody(*owner_, d + "emptydir/"), "");
        EXPECT_EQ(GetBody(*owner_, d + "created"), "<missing>");
        EXPECT_EQ(GetBody(*owner_, d + "renamed"), "<missing>");
        EXPECT_EQ(GetBody(*owner_, d + "newdir/"), "<missing>");
      }
    }
    if (permission == "read") {
      EXPECT_NE(RunShell("grep " + ShellQuote(" " + mnt_ + " ") + " /proc/mounts").output.find(" ro,"),
                std::string::npos)
          << "a read-only scope makes a read-only mount";
    }
  }
}

TEST_F(ScopesTest, PerUserGrantsOnOneSharedMount) {
  Put(*owner_, prefix_ + "doc", "shared");
  Mount(testing::ProfileSection("team", "OWNER",
                                {"team-a:readwrite @spacesfs-editors", "team-a:read"}),
        "team", ",file_mode=0666,dir_mode=0777,umask=0");
  EXPECT_EQ(ErrnoOf(As("bob", "echo bob > by-bob")), "0");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "by-bob"), "bob\n");
  // carol has only the `read` grant: the same write is refused before any request (EROFS, as
  // docs/SCOPES.md specifies for a key covered by read only).
  EXPECT_EQ(ErrnoOf(As("carol", "echo carol > by-carol")), "EROFS");
  // (doc has mode 0666 from file_mode, so the kernel's mode check passes and the scope decides.)
  EXPECT_EQ(ErrnoOf(As("bob", "echo bob >> doc")), "0");
  EXPECT_EQ(ErrnoOf(As("carol", "echo carol > doc")), "EROFS");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "doc"), "sharedbob\n");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "by-carol"), "<missing>");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "by-bob"), "bob\n");
  // alice, named nowhere, reads.
  testing::CommandResult r = As("alice", "cat doc");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "sharedbob\n");
  EXPECT_EQ(ErrnoOf(As("alice", "rm -f doc")), "EROFS");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "doc"), "sharedbob\n");
  std::string log = mount_->log();
  EXPECT_NE(log.find("denied: user carol (uid " + UidOf("carol") + ")"), std::string::npos) << log;
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

// End to end: a user other than root (alice) mounts her own Space on ~/Spaces/..., with her own
// credential file (~/.config/spacesfs/credentials, read by default), through fusermount3, and the
// mount is hers alone: another user (bob) and root get EACCES, root gets in only with allow_root,
// and the counters are refused to others. allow_other/allow_root need user_allow_other in
// /etc/fuse.conf, and the refusal says so. An /etc/fstab line with `user` lets her `mount` and
// `umount` it herself.
//
// These tests change the machine for their duration and put it back afterwards, also when they
// fail: /dev/fuse mode 0666 (what udev sets on Debian; a machine without udev has 0600),
// /etc/fuse.conf, /etc/fstab (a line tagged x-spacesfs-e2e=PID, which later runs remove if the
// process died), alice's home directory (created if missing) and credential file, and the link
// /sbin/mount.spacesfs for the fstab test. They hold the same lock as the mount(8) tests.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <sstream>
#include <string>

#include "support/daemon.h"
#include "support/e2e.h"
#include "support/system_files.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

constexpr char kUser[] = "alice";

// /etc/fstab without the lines earlier runs of this test left behind when they were killed.
std::string WithoutStaleTestLines(const std::string& fstab) {
  std::istringstream in(fstab);
  std::string line, out;
  while (std::getline(in, line)) {
    size_t tag = line.find("x-spacesfs-e2e=");
    if (tag != std::string::npos) {
      pid_t pid = static_cast<pid_t>(std::atoll(line.c_str() + tag + 15));
      if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) continue;
    }
    out += line + "\n";
  }
  return out;
}

class UserMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::EnsureTestUsers();
    struct passwd* pw = getpwnam(kUser);
    ASSERT_NE(pw, nullptr);
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    home_ = pw->pw_dir;
    const std::string credentials_text =
        testing::ProfileSection("mine", "OWNER", {"team-a:readwrite"});

    fuse_device_ = std::make_unique<testing::RestoredMode>("/dev/fuse", 0666);
    fuse_conf_ = std::make_unique<testing::RestoredFile>("/etc/fuse.conf");
    SetUserAllowOther(false);
    struct stat st;
    created_home_ = stat(home_.c_str(), &st) != 0;
    if (created_home_) {
      RunShell("install -d -o " + std::string(kUser) + " -g " + std::to_string(gid_) +
               " -m 0755 " + ShellQuote(home_));
    }
    home_mode_ = std::make_unique<testing::RestoredMode>(home_, 0755);  // others may reach Spaces/
    RunShell("cd " + ShellQuote(home_) + " && mkdir -p .config/spacesfs Spaces", kUser);
    credential_file_ =
        std::make_unique<testing::RestoredFile>(home_ + "/.config/spacesfs/credentials");
    testing::WriteCredentialFile(home_ + "/.config/spacesfs/credentials", credentials_text, uid_,
                                 gid_);

    prefix_ = testing::UniquePrefix("user-mount");
    spec_ = "team-a:/" + prefix_.substr(0, prefix_.size() - 1);
    mnt_ = home_ + "/Spaces/team-a-" + std::to_string(getpid());
    RunShell("install -d -m 0755 " + ShellQuote(mnt_), kUser);
    owner_ = testing::TenantClient("OWNER", "team-a");
  }

  void TearDown() override {
    if (testing::IsMounted(mnt_)) RunShell("fusermount3 -u -z " + ShellQuote(mnt_));
    RunShell("rmdir " + ShellQuote(mnt_));
    if (owner_) {
      for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) {
        (void)owner_->DeleteObject(key);
      }
    }
    credential_file_.reset();
    home_mode_.reset();
    if (created_home_) RunShell("rm -rf " + ShellQuote(home_));
  }

  void SetUserAllowOther(bool allow) {
    std::istringstream in(fuse_conf_->original());
    std::string line, text;
    while (std::getline(in, line)) {
      if (line.find("user_allow_other") == std::string::npos || line.starts_with("#")) {
        text += line + "\n";
      }
    }
    if (allow) text += "user_allow_other\n";
    testing::WriteWholeFile("/etc/fuse.conf", text);
  }

  // spacesfs SPEC ~/Spaces/team-a-PID -o OPTIONS, run by alice (it detaches once mounted).
  testing::CommandResult MountAsUser(const std::string& options) {
    return RunShell(std::string(SPACESFS_BINARY) + " " + spec_ + " ~/Spaces/" +
                        ShellQuote(mnt_.substr(mnt_.rfind('/') + 1)) + " -o " + ShellQuote(options),
                    kUser);
  }

  // Unmounts as alice and waits for the daemon to exit.
  void UnmountAsUser() {
    pid_t daemon = testing::DaemonPid(mnt_, kUser);
    testing::CommandResult r = RunShell("fusermount3 -u " + ShellQuote(mnt_), kUser);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_FALSE(testing::IsMounted(mnt_));
    EXPECT_GT(daemon, 0);
    EXPECT_TRUE(daemon <= 0 || testing::WaitGone(daemon));
  }

  testing::SystemLock lock_{"spacesfs-e2e-mount-helpers"};  // first: held the longest
  std::unique_ptr<testing::RestoredMode> fuse_device_, home_mode_;
  std::unique_ptr<testing::RestoredFile> fuse_conf_, credential_file_;
  std::unique_ptr<s3::ObjectClient> owner_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool created_home_ = false;
  std::string home_, prefix_, spec_, mnt_;
};

TEST_F(UserMountTest, OwnMountWithOwnCredentialsIsInvisibleToOthers) {
  testing::CommandResult r = MountAsUser("profile=mine");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string info = testing::MountInfoLine(mnt_);
  EXPECT_NE(info.find("fuse.spacesfs " + spec_ + " "), std::string::npos) << info;
  EXPECT_NE(info.find("user_id=" + std::to_string(uid_)), std::string::npos) << info;

  r = RunShell("echo hers > " + ShellQuote(mnt_ + "/mine.txt") + " && cat " +
                   ShellQuote(mnt_ + "/mine.txt"),
               kUser);
  EXPECT_EQ(r.output, "hers\n");
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "mine.txt"), "hers\n");

  // bob reaches the directory the mount is on, but not the mount; neither does root.
  EXPECT_EQ(RunShell("ls -d " + ShellQuote(home_ + "/Spaces"), "bob").exit_code, 0);
  for (const std::string& who : {std::string("bob"), std::string("")}) {
    r = RunShell("ls " + ShellQuote(mnt_), who);
    EXPECT_NE(r.exit_code, 0) << who;
    EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << who << ": " << r.output;
    r = RunShell("cat " + ShellQuote(mnt_ + "/mine.txt"), who);
    EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << who << ": " << r.output;
  }

  // The counters: hers, not bob's (one line).
  r = RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_), kUser);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\nbytes_uploaded 5\n"), std::string::npos) << r.output;
  r = RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_), "bob");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "spacesfs: the stats of " + mnt_ +
                          " are shown only to the user who mounted it and to root\n");

  UnmountAsUser();
}

TEST_F(UserMountTest, AllowOtherAndAllowRootNeedUserAllowOther) {
  for (const char* option : {"allow_other", "allow_root"}) {
    testing::CommandResult r = MountAsUser(std::string("profile=mine,") + option);
    EXPECT_NE(r.exit_code, 0) << option;
    EXPECT_EQ(r.output, std::string("spacesfs: ") + option +
                            " in a mount by a user other than root needs the line "
                            "'user_allow_other' in /etc/fuse.conf: ask the administrator to add "
                            "it, or mount without " + option + "\n");
    EXPECT_FALSE(testing::IsMounted(mnt_));
  }

  // With user_allow_other, allow_root lets root in (and to the counters), still not bob.
  SetUserAllowOther(true);
  testing::CommandResult r = MountAsUser("profile=mine,allow_root");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(RunShell("echo for-root > " + ShellQuote(mnt_ + "/shared.txt"), kUser).exit_code, 0);
  EXPECT_EQ(RunShell("cat " + ShellQuote(mnt_ + "/shared.txt")).output, "for-root\n");
  r = RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("requests "), std::string::npos) << r.output;
  r = RunShell("cat " + ShellQuote(mnt_ + "/shared.txt"), "bob");
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  UnmountAsUser();
}

TEST_F(UserMountTest, DevFuseClosedToUsersIsNamed) {
  testing::RestoredMode closed("/dev/fuse", 0600);
  testing::CommandResult r = MountAsUser("profile=mine");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output, "spacesfs: /dev/fuse is not readable and writable by uid " +
                          std::to_string(uid_) +
                          ": mounts by users other than root need it mode 0666 (as udev sets "
                          "it); ask the administrator\n");
  EXPECT_FALSE(testing::IsMounted(mnt_));
}

TEST_F(UserMountTest, FstabUserLineLetsHerMountAndUnmount) {
  testing::TemporarySymlink helper(SPACESFS_BINARY, "/sbin/mount.spacesfs");
  if (!helper.created()) GTEST_SKIP() << "/sbin/mount.spacesfs exists: not replacing it";
  testing::WriteWholeFile("/etc/fstab",
                          WithoutStaleTestLines(testing::ReadWholeFile("/etc/fstab").value_or("")));
  testing::RestoredFile fstab("/etc/fstab");
  testing::WriteWholeFile("/etc/fstab", fstab.original() + spec_ + "  " + mnt_ +
                                            "  spacesfs  noauto,user,profile=mine,x-spacesfs-e2e=" +
                                            std::to_string(getpid()) + "  0 0\n");

  testing::CommandResult r = RunShell("mount " + ShellQuote(mnt_), kUser);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string info = testing::MountInfoLine(mnt_);
  EXPECT_NE(info.find("user_id=" + std::to_string(uid_)), std::string::npos) << info;
  EXPECT_NE(info.find("noexec"), std::string::npos) << "fstab's user implies noexec: " << info;
  r = RunShell("echo via-fstab > " + ShellQuote(mnt_ + "/fstab.txt"), kUser);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "fstab.txt"), "via-fstab\n");

  // `user`: only she may unmount it.
  r = RunShell("umount " + ShellQuote(mnt_), "bob");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(testing::IsMounted(mnt_));
  pid_t daemon = testing::DaemonPid(mnt_, kUser);
  r = RunShell("umount " + ShellQuote(mnt_), kUser);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(testing::IsMounted(mnt_));
  EXPECT_GT(daemon, 0);
  EXPECT_TRUE(daemon <= 0 || testing::WaitGone(daemon));
}

}  // namespace
}  // namespace spacesfs

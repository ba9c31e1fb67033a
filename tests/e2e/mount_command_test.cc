// End to end, as root: spacesfs as mount(8) and /etc/fstab see it. `mount -t spacesfs` through
// /sbin/mount.spacesfs and `mount -t fuse.spacesfs` through mount.fuse3; fstab lines with the usual
// options (read from a file of the test's own with `mount -T`, so /etc/fstab is not touched);
// `mount -a` twice; `umount` with a pending change written before the daemon exits; an unknown
// option named; the log file at debug level; `spacesfs stats`.
//
// For its duration a test links /sbin/mount.spacesfs (and /usr/local/sbin/spacesfs for
// mount.fuse3, which runs `spacesfs` from the standard PATH) to the build's binary; it is skipped
// when one of them already exists (an installed spacesfs), and the links are removed afterwards.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <sstream>

#include "support/daemon.h"
#include "support/e2e.h"
#include "support/system_files.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

class MountCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::EnsureTestUsers();
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"}));
    helper_ = std::make_unique<testing::TemporarySymlink>(SPACESFS_BINARY, "/sbin/mount.spacesfs");
    if (!helper_->created()) {
      GTEST_SKIP() << "/sbin/mount.spacesfs exists (an installed spacesfs?): not replacing it";
    }
    prefix_ = testing::UniquePrefix("mount-command");
    spec_ = "team-a:/" + prefix_.substr(0, prefix_.size() - 1);
    mnt_ = dir_.path() + "/mnt";
    mkdir(mnt_.c_str(), 0755);
    owner_ = testing::TenantClient("OWNER", "team-a");
  }

  void TearDown() override {
    for (const std::string& m : mounted_) {
      if (testing::IsMounted(m)) RunShell("umount -l " + ShellQuote(m));
    }
    if (owner_) {
      for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) {
        (void)owner_->DeleteObject(key);
      }
    }
  }

  // `mount ARGS` as root; remembers mount points to clean up.
  testing::CommandResult Mount(const std::string& args, const std::string& mountpoint) {
    mounted_.push_back(mountpoint);
    return RunShell("mount " + args);
  }

  std::string Options(const std::string& extra = "") const {
    return "profile=owner,credentials=" + credentials_ + (extra.empty() ? "" : "," + extra);
  }

  // An fstab file of the test's own with the given lines.
  std::string Fstab(const std::string& lines) {
    std::string path = dir_.path() + "/fstab";
    testing::WriteWholeFile(path, lines);
    return path;
  }

  // The S3 metadata "mode" of an object under the test prefix.
  std::string ModeOnServer(const std::string& name) {
    Result<s3::ObjectInfo> head = owner_->HeadObject(prefix_ + name);
    if (!head.ok()) return head.status().ToString();
    auto it = head->metadata.find("mode");
    return it == head->metadata.end() ? "<no mode>" : it->second;
  }

  testing::SystemLock lock_{"spacesfs-e2e-mount-helpers"};  // first: held the longest
  testing::TempDir dir_;
  std::unique_ptr<testing::TemporarySymlink> helper_;
  std::unique_ptr<s3::ObjectClient> owner_;
  std::string credentials_, prefix_, spec_, mnt_;
  std::vector<std::string> mounted_;
};

TEST_F(MountCommandTest, MountTypeSpacesfsThenUmountWritesPendingChangesFirst) {
  const std::string alice = testing::UidOf("alice");
  testing::CommandResult r = Mount("-t spacesfs " + spec_ + " " + ShellQuote(mnt_) + " -o " +
                                       ShellQuote(Options("allow_other,uid=" + alice)),
                                   mnt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string info = testing::MountInfoLine(mnt_);
  EXPECT_NE(info.find(" - fuse.spacesfs " + spec_ + " "), std::string::npos) << info;
  EXPECT_NE(info.find("allow_other"), std::string::npos) << info;

  // uid= gives the mount to alice, allow_other lets her in.
  EXPECT_EQ(RunShell("stat -c %U " + ShellQuote(mnt_)).output, "alice\n");
  r = RunShell("echo from-alice > " + ShellQuote(mnt_ + "/alice.txt"), "alice");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "alice.txt"), "from-alice\n");

  // A chmod is written to the server a moment later; umount right away must not lose it.
  pid_t daemon = testing::DaemonPid(mnt_);
  ASSERT_GT(daemon, 0);
  ASSERT_EQ(RunShell("chmod 600 " + ShellQuote(mnt_ + "/alice.txt")).exit_code, 0);
  r = RunShell("umount " + ShellQuote(mnt_));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(testing::IsMounted(mnt_));
  ASSERT_TRUE(testing::WaitGone(daemon)) << "the daemon did not exit after umount";
  EXPECT_EQ(ModeOnServer("alice.txt"), std::to_string(S_IFREG | 0600));
}

TEST_F(MountCommandTest, MountTypeFuseSpacesfsThroughMountFuse3) {
  // mount(8) gives mount.fuse3 the standard PATH; it runs `spacesfs` from there.
  testing::TemporarySymlink command(SPACESFS_BINARY, "/usr/local/sbin/spacesfs");
  if (!command.created()) GTEST_SKIP() << "/usr/local/sbin/spacesfs exists: not replacing it";
  testing::CommandResult r = Mount("-t fuse.spacesfs " + spec_ + " " + ShellQuote(mnt_) + " -o " +
                                       ShellQuote(Options("_netdev,nofail")),
                                   mnt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(testing::MountInfoLine(mnt_).find(" - fuse.spacesfs " + spec_ + " "),
            std::string::npos);
  ASSERT_EQ(RunShell("echo via-fuse3 > " + ShellQuote(mnt_ + "/f.txt")).exit_code, 0);
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "f.txt"), "via-fuse3\n");
  pid_t daemon = testing::DaemonPid(mnt_);
  r = RunShell("umount " + ShellQuote(mnt_));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(testing::IsMounted(mnt_));
  EXPECT_TRUE(testing::WaitGone(daemon));
}

TEST_F(MountCommandTest, FstabLinesWithTheUsualOptionsAndMountAllTwice) {
  const std::string automatic = dir_.path() + "/auto";
  const std::string on_demand = dir_.path() + "/on-demand";
  mkdir(automatic.c_str(), 0755);
  mkdir(on_demand.c_str(), 0755);
  const std::string fstab = Fstab(
      "# spacesfs e2e\n" + spec_ + "  " + automatic + "  spacesfs  _netdev,nofail," +
      "x-systemd.automount," + Options() + "  0 0\n" + spec_ + "  " + on_demand +
      "  spacesfs  _netdev,nofail,noauto,users,x-systemd.idle-timeout=600," + Options() +
      "  0 0\n");
  mounted_ = {automatic, on_demand};

  testing::CommandResult r = RunShell("mount -a -T " + ShellQuote(fstab));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::MountCount(automatic), 1);
  EXPECT_EQ(testing::MountCount(on_demand), 0) << "noauto lines are not mounted by mount -a";
  r = RunShell("mount -a -T " + ShellQuote(fstab));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::MountCount(automatic), 1) << "mount -a mounted a second time";

  // `mount DIR` finds the line by its mount point.
  r = RunShell("mount -T " + ShellQuote(fstab) + " " + ShellQuote(on_demand));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::MountCount(on_demand), 1);
  ASSERT_EQ(RunShell("echo through-fstab > " + ShellQuote(on_demand + "/fstab.txt")).exit_code, 0);
  EXPECT_EQ(RunShell("cat " + ShellQuote(automatic + "/fstab.txt")).output, "through-fstab\n");
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "fstab.txt"), "through-fstab\n");

  for (const std::string& m : {on_demand, automatic}) {
    r = RunShell("umount " + ShellQuote(m));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(testing::MountCount(m), 0);
  }
}

TEST_F(MountCommandTest, UnknownOptionIsAnErrorNamingIt) {
  const std::string fstab =
      Fstab(spec_ + "  " + mnt_ + "  spacesfs  _netdev,noauto,allow_othr," + Options() + "  0 0\n");
  testing::CommandResult r = Mount("-T " + ShellQuote(fstab) + " " + ShellQuote(mnt_), mnt_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown mount option 'allow_othr'"), std::string::npos) << r.output;
  EXPECT_FALSE(testing::IsMounted(mnt_));

  r = Mount("-t spacesfs " + spec_ + " " + ShellQuote(mnt_) + " -o " +
                ShellQuote(Options("cache_size=1G,bogus")),
            mnt_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("'cache_size'"), std::string::npos) << r.output;
  EXPECT_FALSE(testing::IsMounted(mnt_));
}

TEST_F(MountCommandTest, LogFileAtDebugNamesTheMountAndNeverTheSecret) {
  const std::string log = dir_.path() + "/spacesfs.log";
  testing::CommandResult r =
      Mount("-t spacesfs " + spec_ + " " + ShellQuote(mnt_) + " -o " +
                ShellQuote(Options("log_level=debug,log_file=" + log)),
            mnt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "with a log file the mount command prints nothing";
  pid_t daemon = testing::DaemonPid(mnt_);
  ASSERT_EQ(RunShell("echo logged > " + ShellQuote(mnt_ + "/log.txt") + " && cat " +
                     ShellQuote(mnt_ + "/log.txt"))
                .exit_code,
            0);
  ASSERT_EQ(RunShell("umount " + ShellQuote(mnt_)).exit_code, 0);
  ASSERT_TRUE(testing::WaitGone(daemon));

  std::string text = testing::ReadWholeFile(log).value_or("");
  const std::string key_id = testing::RequireEnv("SPACESFS_TEST_OWNER_ACCESS_KEY");
  const std::string mount_line = "mounted Space 'team-a' prefix '" + prefix_ + "' on " + mnt_ +
                                 ": profile 'owner' (key " + key_id.substr(0, 4) +
                                 "…), endpoint " + testing::RequireEnv("SPACESFS_TEST_ENDPOINT") +
                                 ", scope team-a:fullaccess";
  EXPECT_NE(text.find(mount_line), std::string::npos) << "wanted\n" << mount_line << "\nin\n" << text;
  EXPECT_NE(text.find(" debug PUT '" + prefix_ + "log.txt' in 'team-a': ok"), std::string::npos)
      << text;
  EXPECT_NE(text.find("unmounted " + mnt_), std::string::npos) << text;
  EXPECT_EQ(text.find(testing::RequireEnv("SPACESFS_TEST_OWNER_SECRET_KEY")), std::string::npos)
      << "the secret is in the log";
  EXPECT_EQ(text.find(key_id), std::string::npos) << "the whole access key id is in the log";
}

TEST_F(MountCommandTest, StatsForTheOwnerAndRootOnly) {
  testing::CommandResult r = Mount("-t spacesfs " + spec_ + " " + ShellQuote(mnt_) + " -o " +
                                       ShellQuote(Options("allow_other,file_mode=0666,dir_mode=0777")),
                                   mnt_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string body(5000, 's');
  s3::PutObjectRequest put;
  put.key = prefix_ + "from-server.bin";
  put.body = s3::BodySource::FromView(body);
  ASSERT_TRUE(owner_->PutObject(put).ok());
  EXPECT_EQ(RunShell("cat " + ShellQuote(mnt_ + "/from-server.bin") + " | wc -c").output, "5000\n");
  ASSERT_EQ(RunShell("head -c 3000 /dev/zero > " + ShellQuote(mnt_ + "/up.bin")).exit_code, 0);

  const std::string stats = std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_);
  r = RunShell(stats);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, long long> counters;
  std::istringstream in(r.output);
  std::string name;
  long long value;
  while (in >> name >> value) counters[name] = value;
  EXPECT_GT(counters["pid"], 0) << r.output;
  EXPECT_GE(counters["requests"], 3) << r.output;
  EXPECT_GE(counters["bytes_downloaded"], 5000) << r.output;
  EXPECT_GE(counters["bytes_uploaded"], 3000) << r.output;
  EXPECT_EQ(counters["request_errors"], 0) << r.output;
  for (const char* field : {"denials_scope", "denials_server", "files_open_for_writing"}) {
    EXPECT_EQ(counters.count(field), 1u) << field << " missing in\n" << r.output;
  }

  // Another user reaches the mount (allow_other) but not its counters: one line, exit 1.
  r = RunShell(stats, "alice");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output,
            "spacesfs: the stats of " + mnt_ +
                " are shown only to the user who mounted it and to root\n");

  // Not on other inodes, nor on other directories; the stats are no extended attribute.
  r = RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_ + "/up.bin"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("is not a spacesfs mount point"), std::string::npos) << r.output;
  ASSERT_EQ(RunShell("mkdir " + ShellQuote(mnt_ + "/sub")).exit_code, 0);
  r = RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_ + "/sub"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("is not a spacesfs mount point"), std::string::npos) << r.output;
  r = RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(dir_.path()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("is not a spacesfs mount point"), std::string::npos) << r.output;
  r = RunShell("python3 -c " +
               ShellQuote("import os,sys\n"
                          "for call in (lambda: os.getxattr(sys.argv[1], 'user.spacesfs.stats'),\n"
                          "             lambda: os.listxattr(sys.argv[1]),\n"
                          "             lambda: os.setxattr(sys.argv[1], 'user.spacesfs.stats', b'0'),\n"
                          "             lambda: os.removexattr(sys.argv[1], 'user.spacesfs.stats')):\n"
                          "  try:\n"
                          "    print(call())\n"
                          "  except OSError as e:\n"
                          "    print(e.strerror)\n") +
               " " + ShellQuote(mnt_));
  EXPECT_EQ(r.output,
            "Operation not supported\nOperation not supported\nOperation not supported\n"
            "Operation not supported\n");
  EXPECT_EQ(RunShell("umount " + ShellQuote(mnt_)).exit_code, 0);
}

}  // namespace
}  // namespace spacesfs

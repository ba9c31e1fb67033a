// End to end: the kernel layer of an allow_other mount of the local radosgw, as real Linux users.
// Modes stored in s3fs metadata are enforced by the kernel (default_permissions, on by default
// with allow_other) before any request: a user the mode bits refuse gets EACCES and no GET of the
// object reaches the server (the daemon talks to it through tests/tools/fault_proxy.py, whose
// request journal shows what was sent). nodefault_permissions turns that off. uid=, gid=, umask=,
// file_mode= and dir_mode= are what stat shows for objects without stored modes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "support/e2e.h"
#include "support/fault_proxy.h"
#include "support/linux_users.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::ErrnoOf;
using testing::GetBody;
using testing::RunShell;
using testing::ShellQuote;

class KernelLayerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::EnsureUsers(); }

  void SetUp() override {
    dir_ = std::make_unique<testing::TempDir>();
    owner_ = testing::TenantClient("OWNER", "team-a");
    prefix_ =
        testing::UniquePrefix(::testing::UnitTest::GetInstance()->current_test_info()->name());
    endpoint_ = testing::RequireEnv("SPACESFS_TEST_ENDPOINT");
    proxy_ = testing::FaultProxy::Start(endpoint_);
    ASSERT_NE(proxy_, nullptr);
    mnt_ = dir_->path() + "/mnt";
    mkdir(mnt_.c_str(), 0755);
  }
  void TearDown() override { mount_.reset(); }

  void Put(const std::string& name, const std::string& data, const s3::UserMetadata& metadata) {
    s3::PutObjectRequest put;
    put.key = prefix_ + name;
    put.body = s3::BodySource::FromView(data);
    put.metadata = metadata;
    ASSERT_TRUE(owner_->PutObject(put).ok()) << put.key;
  }

  // Mounts team-a:/prefix_ as root, through the proxy, with allow_other, a readwrite grant for
  // everyone (so only the kernel can refuse) and options appended.
  void Mount(const std::string& options) {
    mount_.reset();
    std::string section = testing::ProfileSection("team", "OWNER", {"team-a:readwrite"});
    section.replace(section.find(endpoint_), endpoint_.size(), proxy_->endpoint());
    std::string credentials = testing::WriteCredentialFile(dir_->path() + "/credentials", section);
    mount_ = std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{"team-a:/" + prefix_, mnt_, "-o",
                                 "profile=team,credentials=" + credentials +
                                     ",allow_other,attr_timeout=0,entry_timeout=0,"
                                     "negative_timeout=0" +
                                     options},
        mnt_);
    ASSERT_TRUE(mount_->mounted()) << "spacesfs did not mount:\n" << mount_->log();
  }

  testing::CommandResult As(const std::string& user, const std::string& command) {
    return RunShell("cd " + ShellQuote(mnt_) + " && " + command, user);
  }

  // The options field of the mount's /proc/mounts line, split at commas.
  std::vector<std::string> KernelOptions() {
    std::string line = RunShell("grep " + ShellQuote(" " + mnt_ + " ") + " /proc/mounts").output;
    std::istringstream fields(line);
    std::string device, mountpoint, type, options;
    fields >> device >> mountpoint >> type >> options;
    std::vector<std::string> out;
    std::istringstream items(options);
    for (std::string item; std::getline(items, item, ',');) out.push_back(item);
    return out;
  }
  static bool Has(const std::vector<std::string>& options, const std::string& option) {
    return std::find(options.begin(), options.end(), option) != options.end();
  }

  // Whether the proxy saw a GET or PUT of the object name (not a listing) since the last reset.
  bool ObjectRequested(const std::string& name) {
    const std::string target = "/team-a/" + prefix_ + name;
    for (const std::string& request : proxy_->Requests()) {
      for (const char* method : {"GET ", "PUT "}) {
        std::string sent = method + target;
        if (request == sent || request.starts_with(sent + "?")) return true;
      }
    }
    return false;
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<s3::ObjectClient> owner_;
  std::unique_ptr<testing::FaultProxy> proxy_;
  std::unique_ptr<testing::TestMount> mount_;
  std::string prefix_, endpoint_, mnt_;
};

// An object s3fs (or spacesfs) stored as alice's, mode 0600.
s3::UserMetadata OwnedBy(const testing::Identity& who, mode_t mode) {
  return {{"mode", std::to_string(S_IFREG | mode)},
          {"uid", std::to_string(who.uid)},
          {"gid", std::to_string(who.gid)}};
}

TEST_F(KernelLayerTest, StoredModesAreEnforcedByTheKernelBeforeAnyRequest) {
  testing::Identity alice = testing::IdentityOf("alice");
  // Larger than a revalidating lookup's GET brings (16 KiB): lookups are HEADs, and a GET is a
  // read.
  const std::string body = std::string(20 << 10, 'a') + "\nfor alice\n";
  Put("private", body, OwnedBy(alice, 0600));
  Mount("");
  std::vector<std::string> options = KernelOptions();
  EXPECT_TRUE(Has(options, "allow_other")) << ::testing::PrintToString(options);
  EXPECT_TRUE(Has(options, "default_permissions")) << ::testing::PrintToString(options);

  testing::CommandResult st = As("", "stat -c '%a %u %g' private");
  EXPECT_EQ(st.output, "600 " + std::to_string(alice.uid) + " " + std::to_string(alice.gid) + "\n");
  ASSERT_TRUE(proxy_->ResetStats());
  EXPECT_EQ(ErrnoOf(As("bob", "cat private")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("bob", "echo bob >> private")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("carol", "echo carol > private")), "EACCES");
  EXPECT_FALSE(ObjectRequested("private")) << ::testing::PrintToString(proxy_->Requests());
  EXPECT_EQ(GetBody(*owner_, prefix_ + "private"), body);

  testing::CommandResult r = As("alice", "cat private");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.output == body) << r.output.size() << " bytes";
  EXPECT_TRUE(ObjectRequested("private")) << "the journal shows a GET when one is sent";
}

// Without default_permissions an allow_other mount lets every local user past the mode bits: only
// the scope is left (here readwrite for everyone), which is why it is on unless turned off.
TEST_F(KernelLayerTest, NodefaultPermissionsLeavesTheModeBitsUnchecked) {
  Put("private", "for alice\n", OwnedBy(testing::IdentityOf("alice"), 0600));
  Mount(",nodefault_permissions");
  std::vector<std::string> options = KernelOptions();
  EXPECT_TRUE(Has(options, "allow_other")) << ::testing::PrintToString(options);
  EXPECT_FALSE(Has(options, "default_permissions")) << ::testing::PrintToString(options);
  testing::CommandResult r = As("bob", "cat private");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "for alice\n");
}

TEST_F(KernelLayerTest, MountOptionsAreTheDefaultsForObjectsWithoutStoredModes) {
  testing::Identity alice = testing::IdentityOf("alice");
  const std::string editors =
      RunShell("getent group spacesfs-editors | cut -d: -f3 | tr -d '\\n'").output;
  ASSERT_FALSE(editors.empty());
  Put("plain", "plain\n", {});
  Put("dir/inner", "inner\n", {});  // a directory without a marker object
  Put("stored", "stored\n", OwnedBy(alice, 0604));
  const std::string uid = std::to_string(alice.uid);

  // dir_mode 0751: others may pass through a directory (the mount's root too) but not list it.
  Mount(",uid=" + uid + ",gid=" + editors + ",file_mode=0640,dir_mode=0751,umask=0");
  EXPECT_EQ(As("", "stat -c '%a %u %g' plain").output, "640 " + uid + " " + editors + "\n");
  EXPECT_EQ(As("", "stat -c '%a %u %g' dir").output, "751 " + uid + " " + editors + "\n");
  EXPECT_EQ(As("", "stat -c '%a %u %g' .").output, "751 " + uid + " " + editors + "\n");
  EXPECT_EQ(As("", "stat -c '%a %u %g' stored").output,
            "604 " + uid + " " + std::to_string(alice.gid) + "\n");
  // The kernel applies them: bob is in spacesfs-editors (the group may read), carol is not.
  EXPECT_EQ(As("bob", "cat plain").output, "plain\n");
  EXPECT_EQ(As("bob", "ls dir").output, "inner\n");
  EXPECT_EQ(ErrnoOf(As("carol", "cat plain")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("carol", "ls dir")), "EACCES");
  EXPECT_EQ(ErrnoOf(As("carol", "cat dir/inner")), "EACCES");
  EXPECT_EQ(As("carol", "cat stored").output, "stored\n");  // its own mode: others may read

  // umask alone narrows the defaults 0644 and 0755; the owner is the mounting user (root).
  Mount(",umask=0077");
  EXPECT_EQ(As("", "stat -c '%a %u' plain").output, "600 0\n");
  EXPECT_EQ(As("", "stat -c '%a %u' dir").output, "700 0\n");
  EXPECT_EQ(As("", "stat -c '%a %u' .").output, "700 0\n");
  EXPECT_EQ(As("", "stat -c '%a' stored").output, "604\n");  // stored modes are not masked
  EXPECT_EQ(ErrnoOf(RunShell("cat " + ShellQuote(mnt_ + "/stored"), "alice")), "EACCES");
}

// What shell commands cost in requests, as the server sees them: a new small file made in a
// directory the mount made is one PUT at close; a small file read after its attributes expired
// is revalidated with a GET that brings its content (no HEAD, no second GET for the read).
TEST_F(KernelLayerTest, ASmallNewFileIsOnePutAndReadingOneBackNeedsNoHead) {
  Mount(",attr_timeout=1,entry_timeout=1,negative_timeout=1");  // the defaults (the last wins)
  ASSERT_TRUE(proxy_->ResetStats());
  testing::CommandResult made =
      As("", "mkdir d && for i in $(seq 1 20); do echo line-$i > d/f$i; done");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto count = [&](const std::string& method) {
    const std::string target = method + " /team-a/" + prefix_ + "d/f";
    size_t n = 0;
    for (const std::string& request : proxy_->Requests()) n += request.starts_with(target);
    return n;
  };
  EXPECT_EQ(count("PUT"), 20u) << ::testing::PrintToString(proxy_->Requests());
  EXPECT_EQ(count("HEAD"), 0u);
  EXPECT_EQ(GetBody(*owner_, prefix_ + "d/f7"), "line-7\n");

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // attributes expire
  ASSERT_TRUE(proxy_->ResetStats());
  testing::CommandResult read = As("", "cat d/f3 d/f17");
  EXPECT_EQ(read.output, "line-3\nline-17\n");
  EXPECT_EQ(count("HEAD"), 0u) << ::testing::PrintToString(proxy_->Requests());
  EXPECT_GE(count("GET"), 2u);
}

// The kernel checks "security.capability" before every write(2) on a filesystem that answers
// getxattr. spacesfs leaves xattrs unimplemented, so after the first ENOSYS the kernel answers
// EOPNOTSUPP itself: writes cost no extra round trip, and every xattr call is EOPNOTSUPP.
TEST_F(KernelLayerTest, WritesAreNotPrecededByAnXattrRequest) {
  Mount(",debug");  // libfuse prints every request it receives to the log
  testing::CommandResult wrote =
      As("", "dd if=/dev/zero of=w.bin bs=4096 count=16 status=none && "
             "dd if=/dev/zero of=v.bin bs=4096 count=16 status=none");
  ASSERT_EQ(wrote.exit_code, 0) << wrote.output;
  testing::CommandResult xattrs = RunShell(
      "python3 -c " +
      ShellQuote("import os,sys\n"
                 "for call in (lambda: os.getxattr(sys.argv[1], 'user.a'),\n"
                 "             lambda: os.listxattr(sys.argv[1]),\n"
                 "             lambda: os.setxattr(sys.argv[1], 'user.a', b'0'),\n"
                 "             lambda: os.removexattr(sys.argv[1], 'user.a')):\n"
                 "  try:\n"
                 "    print(call())\n"
                 "  except OSError as e:\n"
                 "    print(e.strerror)\n") +
      " " + ShellQuote(mnt_ + "/w.bin"));
  EXPECT_EQ(xattrs.output,
            "Operation not supported\nOperation not supported\nOperation not supported\n"
            "Operation not supported\n");
  EXPECT_EQ(GetBody(*owner_, prefix_ + "v.bin"), std::string(65536, '\0'));
  const std::string log = mount_->log();
  auto count = [&](const std::string& opcode) {
    size_t n = 0;
    for (size_t at = log.find("opcode: " + opcode + " "); at != std::string::npos;
         at = log.find("opcode: " + opcode + " ", at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_GE(count("WRITE"), 2u) << log;
  EXPECT_LE(count("GETXATTR"), 1u) << "a getxattr per write:\n" << log;
}

// A mount made by root reads ahead max_write (1 MiB) instead of the kernel's 128 KiB for FUSE,
// so a sequential reader's pages come in 1 MiB READ requests.
TEST_F(KernelLayerTest, ARootMountReadsAheadOneMebibyte) {
  Mount("");
  std::string device = RunShell("mountpoint -d " + ShellQuote(mnt_)).output;
  while (!device.empty() && device.back() == '\n') device.pop_back();
  ASSERT_FALSE(device.empty());
  testing::CommandResult ra = RunShell("cat /sys/class/bdi/" + device + "/read_ahead_kb");
  EXPECT_EQ(ra.output, "1024\n");
}

}  // namespace
}  // namespace spacesfs

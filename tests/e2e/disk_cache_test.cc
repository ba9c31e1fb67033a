// End to end: the local disk cache (-o cache=DIR,cache_size=SIZE) on a real FUSE mount of the
// local radosgw. A file read once is read again, after a remount, without a byte from the server
// (the daemon's own counters, `spacesfs stats`, say how many bytes it downloaded); a changed
// object is read fresh; a second mount on the same cache directory is refused with one line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>

#include "support/e2e.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"}));
    prefix_ = testing::UniquePrefix("disk-cache");
    mnt_ = dir_.path() + "/mnt";
    cache_ = dir_.path() + "/cache";
    mkdir(mnt_.c_str(), 0755);
    owner_ = testing::TenantClient("OWNER", "team-a");
  }
  void TearDown() override {
    for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) (void)owner_->DeleteObject(key);
  }
  std::unique_ptr<testing::TestMount> Mount(const std::string& mountpoint) {
    std::string spec = "team-a:/" + prefix_.substr(0, prefix_.size() - 1);
    return std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{spec, mountpoint, "-o",
                                 "profile=owner,credentials=" + credentials_ + ",cache=" + cache_ +
                                     ",cache_size=64M"},
        mountpoint);
  }
  // bytes_downloaded from `spacesfs stats`.
  long long Downloaded() {
    testing::CommandResult r =
        RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_) +
                 " | awk '$1 == \"bytes_downloaded\" { print $2 }'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output.empty() ? -1 : std::stoll(r.output);
  }
  std::string Sha(const std::string& path) {
    return RunShell("sha256sum < " + ShellQuote(path) + " | cut -c1-64").output;
  }

  testing::TempDir dir_;
  std::string credentials_, prefix_, mnt_, cache_;
  std::unique_ptr<s3::ObjectClient> owner_;
};

TEST_F(DiskCacheTest, ASecondReadAfterARemountComesFromTheCache) {
  ASSERT_EQ(RunShell("head -c 20971520 /dev/urandom > " + ShellQuote(dir_.path() + "/src")).exit_code, 0);
  std::string want = Sha(dir_.path() + "/src");
  {
    auto mount = Mount(mnt_);
    ASSERT_TRUE(mount->mounted()) << mount->log();
    ASSERT_EQ(RunShell("cp " + ShellQuote(dir_.path() + "/src") + " " + ShellQuote(mnt_ + "/f")).exit_code, 0);
  }
  {
    auto mount = Mount(mnt_);
    ASSERT_TRUE(mount->mounted()) << mount->log();
    EXPECT_EQ(Sha(mnt_ + "/f"), want);
    EXPECT_GE(Downloaded(), 20971520);  // the first read came from the server
  }
  RunShell("sync; echo 3 > /proc/sys/vm/drop_caches");
  {
    auto mount = Mount(mnt_);
    ASSERT_TRUE(mount->mounted()) << mount->log();
    EXPECT_EQ(Sha(mnt_ + "/f"), want);
    EXPECT_EQ(Downloaded(), 0) << "the second read reached the server\n" << mount->log();

    // A second mount on the same cache directory is refused, in one line.
    std::string other = dir_.path() + "/mnt2";
    mkdir(other.c_str(), 0755);
    testing::CommandResult refused = RunShell(
        std::string(SPACESFS_BINARY) + " team-a " + ShellQuote(other) + " -o profile=owner,credentials=" +
        ShellQuote(credentials_) + ",cache=" + ShellQuote(cache_));
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.output.find(cache_), std::string::npos) << refused.output;
    EXPECT_EQ(std::count(refused.output.begin(), refused.output.end(), '\n'), 1) << refused.output;
    RunShell("fusermount3 -u " + ShellQuote(other) + " 2>/dev/null");
  }

  // Changed behind the mount's back: the new bytes are read, not the cached ones.
  s3::PutObjectRequest put;
  put.key = prefix_ + "f";
  std::string replacement(1 << 20, 'n');
  put.body = s3::BodySource::FromView(replacement);
  ASSERT_TRUE(owner_->PutObject(put).ok());
  {
    auto mount = Mount(mnt_);
    ASSERT_TRUE(mount->mounted()) << mount->log();
    testing::CommandResult r = RunShell("cat " + ShellQuote(mnt_ + "/f") + " | tr -d n | wc -c");
    EXPECT_EQ(r.output, "0\n");
    EXPECT_EQ(RunShell("stat -c %s " + ShellQuote(mnt_ + "/f")).output, "1048576\n");
  }
}

}  // namespace
}  // namespace spacesfs

// End to end, objects over 5 GiB (S3's largest single PUT and CopyObject) through a real mount of
// the local radosgw:
// - a 10 GiB copy into the mount and back out: streamed as multipart parts that grow after the
//   1,000th, read back with the same SHA-256 (and verified by the daemon against the ETag, with
//   the part layout the object declares), the daemon's memory within its budget all along;
// - `mv` and `chmod` of an object over 5 GiB, which S3 can only copy in parts (UploadPartCopy).
//
// The server must hold 10 GiB at once (tests/server/rgw-start: MEMSTORE_BYTES, 16 GiB by
// default); the test skips, naming the reason, when it cannot. Each case takes minutes (5 to 6
// on 2 cores shared with the server), so the label big runs on demand:
//   SPACESFS_TEST_LABELS=big bash tests/run
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "support/daemon.h"
#include "support/e2e.h"
#include "support/rgw_admin.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;
using testing::PeakRssMib;
using testing::TenantClient;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kBudgetMiB = 128;  // the default memory_budget

// The memstore capacity of the local server's cluster (0 if unknown).
uint64_t MemstoreBytes(const std::string& conf) {
  if (conf.empty()) return 0;
  testing::CommandResult r = RunShell(
      "awk -F= '/memstore device bytes/ { gsub(/ /, \"\", $2); print $2 }' " + ShellQuote(conf));
  return r.exit_code == 0 && !r.output.empty() ? std::stoull(r.output) : 0;
}

class BigObjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conf_ = testing::CephConf(testing::RequireEnv("SPACESFS_TEST_ENDPOINT"));
    if (uint64_t bytes = MemstoreBytes(conf_); bytes < 12 * kGiB) {
      GTEST_SKIP() << "the local radosgw holds " << bytes / kGiB << " GiB (memstore device bytes in '"
                   << conf_ << "'); restart it with MEMSTORE_BYTES of at least 12 GiB (the "
                      "default of tests/server/rgw-start)";
    }
    prefix_ = testing::UniquePrefix("big");
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"}));
    mnt_ = dir_.path() + "/mnt";
    mkdir(mnt_.c_str(), 0755);
    owner_ = TenantClient("OWNER", "team-a");
    Mount();
  }
  void TearDown() override {
    if (owner_ == nullptr) return;
    mount_.reset();
    for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) {
      (void)owner_->DeleteObject(key);
    }
    // Deleted multipart data stays in memory until radosgw's garbage collector runs: run it now.
    testing::RadosgwAdmin(conf_, "gc process --include-all");
  }
  void Mount() {
    mount_ = std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{"team-a:/" + prefix_, mnt_, "-o",
                                 "profile=owner,credentials=" + credentials_},
        mnt_);
    ASSERT_TRUE(mount_->mounted()) << mount_->log();
  }
  void Remount() {
    mount_.reset();
    RunShell("sync; echo 3 > /proc/sys/vm/drop_caches");
    Mount();
  }
  // Runs a bash pipeline in the mount; expects exit 0 and returns its output.
  std::string Bash(const std::string& command) {
    testing::CommandResult r = RunShell("cd " + ShellQuote(mnt_) + " && bash -o pipefail -c " +
                                        ShellQuote(command));
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output << "\ndaemon log:\n" << mount_->log();
    return r.output;
  }
  // Writes size random bytes to name through the mount in 1 MiB writes; returns their SHA-256.
  std::string WriteRandom(const std::string& name, uint64_t size) {
    std::string sum = dir_.path() + "/" + name + ".sha256";
    Bash("head -c " + std::to_string(size) + " /dev/urandom | tee >(sha256sum | cut -c1-64 > " +
         ShellQuote(sum) + ") | dd of=" + ShellQuote(name) +
         " bs=1M iflag=fullblock status=none");
    // tee's process substitution may finish just after the pipeline.
    for (int i = 0; i < 100 && RunShell("test -s " + ShellQuote(sum)).exit_code != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return RunShell("cat " + ShellQuote(sum)).output;
  }
  std::string ReadSha(const std::string& name) {
    return Bash("dd if=" + ShellQuote(name) + " bs=1M status=none | sha256sum | cut -c1-64");
  }
  // The daemon's own accounting of its budgeted buffers (`spacesfs stats`), in MiB.
  uint64_t BudgetPeakMib() {
    testing::CommandResult r =
        RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mnt_) +
                 " | awk '$1 == \"memory_peak\" { print $2 }'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output.empty() ? UINT64_MAX : std::stoull(r.output) / kMiB;
  }

  testing::TempDir dir_;
  std::string conf_, prefix_, credentials_, mnt_;
  std::unique_ptr<s3::ObjectClient> owner_;
  std::unique_ptr<testing::TestMount> mount_;
};

TEST_F(BigObjectsTest, TenGibCopyInAndOutStaysWithinTheMemoryBudget) {
  const uint64_t size = 10 * kGiB;
  auto start = std::chrono::steady_clock::now();
  std::string want = WriteRandom("ten.bin", size);
  double write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(want.size(), 65u) << want;
  uint64_t write_rss = PeakRssMib(mount_->pid());
  uint64_t write_budget = BudgetPeakMib();

  // On the server as one object: 1,000 parts of 8 MiB, then 140 of 16 MiB, layout declared.
  Result<s3::ObjectInfo> head = owner_->HeadObject(prefix_ + "ten.bin");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, size);
  EXPECT_TRUE(head->etag.ends_with("-1140\"") || head->etag.ends_with("-1140")) << head->etag;
  EXPECT_EQ(head->metadata["spacesfs-part-layout"], "8388608,1000");

  Remount();
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadSha("ten.bin"), want);  // the daemon's own ETag check passed too (no EIO)
  double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t read_rss = PeakRssMib(mount_->pid());
  uint64_t read_budget = BudgetPeakMib();
  std::printf("10 GiB: written in %.0f s (%.0f MiB/s), read in %.0f s (%.0f MiB/s); daemon peak "
              "RSS %llu / %llu MiB, budgeted buffers peak %llu / %llu MiB (budget %llu MiB)\n",
              write_s, 10240 / write_s, read_s, 10240 / read_s,
              static_cast<unsigned long long>(write_rss), static_cast<unsigned long long>(read_rss),
              static_cast<unsigned long long>(write_budget),
              static_cast<unsigned long long>(read_budget),
              static_cast<unsigned long long>(kBudgetMiB));
  // The budget bounds every data buffer; the daemon's code, heap and thread stacks add a few tens
  // of MiB that do not grow with the file.
  EXPECT_LE(write_budget, kBudgetMiB);
  EXPECT_LE(read_budget, kBudgetMiB);
  EXPECT_LE(write_rss, kBudgetMiB + 48);
  EXPECT_LE(read_rss, kBudgetMiB + 48);
  Bash("rm ten.bin");
  EXPECT_EQ(owner_->HeadObject(prefix_ + "ten.bin").status().code(), ErrorCode::kNotFound);
}

TEST_F(BigObjectsTest, MoveOfAnObjectOverFiveGibCopiesItInParts) {
  const uint64_t size = 5 * kGiB + 3 * kMiB + 5;
  std::string want = WriteRandom("five.bin", size);
  ASSERT_EQ(want.size(), 65u) << want;
  Result<s3::ObjectInfo> before = owner_->HeadObject(prefix_ + "five.bin");
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  auto start = std::chrono::steady_clock::now();
  Bash("mkdir moved && mv five.bin moved/five.bin");
  double move_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("mv of %llu bytes: %.1f s\n", static_cast<unsigned long long>(size), move_s);
  EXPECT_EQ(owner_->HeadObject(prefix_ + "five.bin").status().code(), ErrorCode::kNotFound);
  Result<s3::ObjectInfo> after = owner_->HeadObject(prefix_ + "moved/five.bin");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->size, size);
  // Copied in 41 parts of 128 MiB (UploadPartCopy), and the copy declares that layout.
  EXPECT_TRUE(after->etag.ends_with("-41\"") || after->etag.ends_with("-41")) << after->etag;
  EXPECT_EQ(after->metadata["spacesfs-part-layout"], "134217728,0");
  EXPECT_EQ(after->metadata["mode"], before->metadata["mode"]);

  // A chmod of it is written by copying it onto itself, in parts too (S3 refuses a CopyObject
  // over 5 GiB); the unmount writes it at the latest.
  Bash("chmod 600 moved/five.bin");
  Remount();
  Result<s3::ObjectInfo> chmodded = owner_->HeadObject(prefix_ + "moved/five.bin");
  ASSERT_TRUE(chmodded.ok()) << chmodded.status().ToString();
  EXPECT_EQ(chmodded->metadata["mode"], std::to_string(S_IFREG | 0600));
  EXPECT_EQ(chmodded->metadata["spacesfs-part-layout"], "134217728,0");
  EXPECT_EQ(ReadSha("moved/five.bin"), want);
}

}  // namespace
}  // namespace spacesfs

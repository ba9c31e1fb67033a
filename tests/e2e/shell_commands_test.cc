// End to end: a real FUSE mount of a real Space on the local radosgw, driven by the shell commands
// people use (ls, cp -r, mv, rm -r, mkdir -p, tar, cat, >>, dd, rsync, find, du, an editor's save),
// with the result checked both through the mount and on the server with an independent client.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "s3/client_config.h"
#include "s3/curl_object_client.h"
#include "support/daemon.h"
#include "support/e2e.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;
using testing::GetBody;
using testing::KeysUnder;
using testing::PeakRssMib;
using testing::TenantClient;

class ShellCommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    prefix_ = new std::string(testing::UniquePrefix("shell"));
    credentials_ = new std::string(testing::WriteCredentialFile(
        dir_->path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess", "team-b:fullaccess"})));
    mnt_ = new std::string(dir_->path() + "/mnt");
    mkdir(mnt_->c_str(), 0755);
    client_ = TenantClient("OWNER", "team-a").release();
    Mount();
  }
  static void TearDownTestSuite() {
    delete mount_;
    mount_ = nullptr;
    delete client_;
    delete dir_;
  }
  static void Mount() {
    mount_ = new testing::TestMount(
        SPACESFS_BINARY,
        {"team-a:/" + *prefix_, *mnt_, "-o",
         "profile=owner,credentials=" + *credentials_ + ",attr_timeout=1,entry_timeout=1,negative_timeout=1"},
        *mnt_);
    ASSERT_TRUE(mount_->mounted()) << "spacesfs did not mount:\n" << mount_->log();
  }
  static void Remount() {
    delete mount_;
    mount_ = nullptr;
    Mount();
  }
  // Runs a command with the mount as the working directory; expects exit 0.
  static std::string Sh(const std::string& command) {
    testing::CommandResult r = RunShell("cd " + ShellQuote(*mnt_) + " && " + command);
    EXPECT_EQ(r.exit_code, 0) << command << "\n" << r.output << "\ndaemon log:\n" << mount_->log();
    return r.output;
  }
  static testing::CommandResult ShResult(const std::string& command) {
    return RunShell("cd " + ShellQuote(*mnt_) + " && " + command);
  }

  static testing::TempDir* dir_;
  static std::string* prefix_;
  static std::string* credentials_;
  static std::string* mnt_;
  static s3::ObjectClient* client_;
  static testing::TestMount* mount_;
};

testing::TempDir* ShellCommandsTest::dir_ = nullptr;
std::string* ShellCommandsTest::prefix_ = nullptr;
std::string* ShellCommandsTest::credentials_ = nullptr;
std::string* ShellCommandsTest::mnt_ = nullptr;
s3::ObjectClient* ShellCommandsTest::client_ = nullptr;
testing::TestMount* ShellCommandsTest::mount_ = nullptr;

TEST_F(ShellCommandsTest, MkdirEchoCatLs) {
  Sh("mkdir -p basic/a/b/c && echo hello > basic/a/b/c/f.txt");
  EXPECT_EQ(Sh("cat basic/a/b/c/f.txt"), "hello\n");
  EXPECT_NE(Sh("ls -l basic/a/b/c").find("f.txt"), std::string::npos);
  EXPECT_EQ(GetBody(*client_, *prefix_ + "basic/a/b/c/f.txt"), "hello\n");
}

TEST_F(ShellCommandsTest, AppendTruncateAndDd) {
  Sh("echo one > app.txt && echo two >> app.txt && echo three >> app.txt");
  EXPECT_EQ(Sh("cat app.txt"), "one\ntwo\nthree\n");
  EXPECT_EQ(GetBody(*client_, *prefix_ + "app.txt"), "one\ntwo\nthree\n");
  Sh("truncate -s 3 app.txt");
  EXPECT_EQ(Sh("stat -c %s app.txt"), "3\n");
  EXPECT_EQ(GetBody(*client_, *prefix_ + "app.txt"), "one");
  Sh("dd if=/dev/urandom of=/tmp/spacesfs-dd.$$ bs=1M count=24 status=none && "
     "dd if=/tmp/spacesfs-dd.$$ of=dd.bin bs=1M status=none && cmp /tmp/spacesfs-dd.$$ dd.bin && "
     "sha256sum < /tmp/spacesfs-dd.$$ > /tmp/spacesfs-dd.$$.sum && rm /tmp/spacesfs-dd.$$");
  // A write into the middle of the file (no truncation) keeps the rest.
  Sh("printf XYZ | dd of=dd.bin bs=1 seek=1000 conv=notrunc status=none");
  EXPECT_EQ(Sh("dd if=dd.bin bs=1 skip=1000 count=3 status=none"), "XYZ");
  EXPECT_EQ(Sh("stat -c %s dd.bin"), std::to_string(24 << 20) + "\n");
  std::string body = GetBody(*client_, *prefix_ + "dd.bin");
  ASSERT_EQ(body.size(), 24u << 20);
  EXPECT_EQ(body.substr(1000, 3), "XYZ");
}

TEST_F(ShellCommandsTest, CopyTreeTarAndRsyncRoundTrip) {
  RunShell("rm -rf /tmp/spacesfs-src && mkdir -p /tmp/spacesfs-src/d1/d2 /tmp/spacesfs-src/empty && "
           "cd /tmp/spacesfs-src && echo a > a.txt && : > zero && head -c 300000 /dev/urandom > d1/r.bin "
           "&& for i in $(seq 1 30); do echo $i > d1/d2/f$i; done && ln -s a.txt link");
  Sh("cp -r /tmp/spacesfs-src tree");
  Sh("diff -r /tmp/spacesfs-src tree");
  EXPECT_EQ(Sh("readlink tree/link"), "a.txt\n");
  Sh("tar -C tree -cf /tmp/spacesfs-out.tar . && mkdir untar && tar -C untar -xf /tmp/spacesfs-out.tar");
  Sh("diff -r /tmp/spacesfs-src untar");
  Sh("rsync -a /tmp/spacesfs-src/ rs/ && diff -r /tmp/spacesfs-src rs");
  // A second rsync finds nothing to transfer.
  EXPECT_EQ(Sh("rsync -a --itemize-changes /tmp/spacesfs-src/ rs/ | grep -v '^\\.d' | wc -l"), "0\n");
  EXPECT_EQ(Sh("find tree -type f | wc -l"), "33\n");
  EXPECT_NE(Sh("du -sk tree | cut -f1"), "0\n");
}

TEST_F(ShellCommandsTest, MoveFileAndDirectoryOfHundredFiles) {
  Sh("mkdir mvsrc && for i in $(seq 1 100); do echo $i > mvsrc/f$i; done");
  Sh("mv mvsrc mvdst");
  EXPECT_EQ(Sh("ls mvdst | wc -l"), "100\n");
  EXPECT_EQ(Sh("cat mvdst/f42"), "42\n");
  EXPECT_EQ(ShResult("ls mvsrc").exit_code, 2);
  EXPECT_EQ(KeysUnder(*client_, *prefix_ + "mvsrc/").size(), 0u);
  std::vector<std::string> moved = KeysUnder(*client_, *prefix_ + "mvdst/");
  EXPECT_EQ(moved.size(), 101u);  // 100 files and the directory marker mkdir wrote
  EXPECT_EQ(std::count(moved.begin(), moved.end(), *prefix_ + "mvdst/"), 1);
  Sh("mv mvdst/f1 moved.txt");
  EXPECT_EQ(GetBody(*client_, *prefix_ + "moved.txt"), "1\n");
}

TEST_F(ShellCommandsTest, EditorSaveReplacesByRename) {
  Sh("echo original > doc.txt && echo edited > .doc.txt.swp && mv .doc.txt.swp doc.txt");
  EXPECT_EQ(Sh("cat doc.txt"), "edited\n");
  EXPECT_EQ(GetBody(*client_, *prefix_ + "doc.txt"), "edited\n");
  EXPECT_EQ(KeysUnder(*client_, *prefix_ + ".doc.txt.swp").size(), 0u);
}

TEST_F(ShellCommandsTest, RemoveRecursiveAndRmdirErrors) {
  Sh("mkdir -p rmme/x/y && echo 1 > rmme/x/y/z && echo 2 > rmme/top");
  testing::CommandResult r = ShResult("rmdir rmme");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("Directory not empty"), std::string::npos) << r.output;
  Sh("rm -r rmme");
  EXPECT_EQ(ShResult("ls rmme").exit_code, 2);
  EXPECT_EQ(KeysUnder(*client_, *prefix_ + "rmme/").size(), 0u);
}

TEST_F(ShellCommandsTest, SymlinksAndHardLinks) {
  Sh("echo target > t.txt && ln -s t.txt sym");
  EXPECT_EQ(Sh("readlink sym"), "t.txt\n");
  EXPECT_EQ(Sh("cat sym"), "target\n");
  testing::CommandResult r = ShResult("ln t.txt hard");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("Operation not permitted"), std::string::npos) << r.output;
}

TEST_F(ShellCommandsTest, UnlinkedOpenFileStaysReadable) {
  Sh("echo still-here > open.txt");
  EXPECT_EQ(Sh("exec 3< open.txt; rm open.txt; cat <&3"), "still-here\n");
  EXPECT_EQ(ShResult("cat open.txt").exit_code, 1);
}

TEST_F(ShellCommandsTest, ChmodChownUtimesPersistInS3fsMetadata) {
  Sh("echo m > meta.txt && chmod 640 meta.txt && chown 1234:5678 meta.txt && "
     "touch -d '2001-02-03 04:05:06.123456789' meta.txt");
  Remount();  // everything below comes from the server
  EXPECT_EQ(Sh("stat -c '%a %u %g %y' meta.txt"), "640 1234 5678 2001-02-03 04:05:06.123456789 +0000\n");
  Result<s3::ObjectInfo> head = client_->HeadObject(*prefix_ + "meta.txt");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->metadata["mode"], std::to_string(0100640));
  EXPECT_EQ(head->metadata["uid"], "1234");
  EXPECT_EQ(head->metadata["gid"], "5678");
  EXPECT_EQ(head->metadata["mtime"].substr(0, 9), "981173106");
}

// metadata_flush_delay=0 writes a chmod within a flusher tick; a long delay holds it until unmount.
TEST_F(ShellCommandsTest, MetadataFlushDelayDecidesWhenChmodReachesTheServer) {
  Sh("mkdir -p delay && echo d > delay/soon.txt && echo d > delay/late.txt");
  auto mode_on_server = [](const std::string& name) {
    Result<s3::ObjectInfo> head = client_->HeadObject(*prefix_ + "delay/" + name);
    return head.ok() ? head->metadata["mode"] : "HEAD failed: " + head.status().ToString();
  };
  ASSERT_EQ(mode_on_server("late.txt"), std::to_string(0100644));
  auto mount_with = [](const std::string& delay) {
    std::string at = dir_->path() + "/delay" + delay;
    mkdir(at.c_str(), 0755);
    return std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{"team-a:/" + *prefix_ + "delay", at, "-o",
                                 "profile=owner,credentials=" + *credentials_ +
                                     ",metadata_flush_delay=" + delay},
        at);
  };
  {
    std::unique_ptr<testing::TestMount> now = mount_with("0");
    ASSERT_TRUE(now->mounted()) << now->log();
    ASSERT_EQ(RunShell("chmod 600 " + ShellQuote(dir_->path() + "/delay0/soon.txt")).exit_code, 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(900);
    while (mode_on_server("soon.txt") != std::to_string(0100600) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(mode_on_server("soon.txt"), std::to_string(0100600));
  }
  std::unique_ptr<testing::TestMount> later = mount_with("30");
  ASSERT_TRUE(later->mounted()) << later->log();
  ASSERT_EQ(RunShell("chmod 604 " + ShellQuote(dir_->path() + "/delay30/late.txt")).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(mode_on_server("late.txt"), std::to_string(0100644)) << "written before the delay";
  later.reset();  // unmount writes what is pending
  EXPECT_EQ(mode_on_server("late.txt"), std::to_string(0100604));
}

TEST_F(ShellCommandsTest, ObjectsFromAnotherClientAppearWithTheirMetadata) {
  s3::PutObjectRequest put;
  put.key = *prefix_ + "foreign/by-s3fs.txt";
  put.body = s3::BodySource::FromView("written elsewhere\n");
  put.metadata = {{"mode", std::to_string(0100600)}, {"uid", "4321"}, {"gid", "8765"},
                  {"mtime", "1500000000"}};
  ASSERT_TRUE(client_->PutObject(put).ok());
  put.key = *prefix_ + "foreign/plain/deep.txt";  // no metadata, no directory marker
  put.metadata.clear();
  ASSERT_TRUE(client_->PutObject(put).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the caches' TTL
  EXPECT_EQ(Sh("stat -c '%a %u %g %Y' foreign/by-s3fs.txt"), "600 4321 8765 1500000000\n");
  EXPECT_EQ(Sh("cat foreign/plain/deep.txt"), "written elsewhere\n");
  EXPECT_EQ(Sh("stat -c %F foreign/plain"), "directory\n");
}

TEST_F(ShellCommandsTest, ListsTenThousandObjects) {
  const std::string dir = *prefix_ + "many/";
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 16; ++t) {
    workers.emplace_back([&] {
      std::unique_ptr<s3::ObjectClient> c = TenantClient("OWNER", "team-a");
      for (int i; (i = next.fetch_add(1)) < 10000;) {
        s3::PutObjectRequest put;
        put.key = dir + "obj-" + std::to_string(i);
        put.body = s3::BodySource::FromView("x");
        if (!c->PutObject(put).ok()) failures++;
      }
    });
  }
  for (auto& w : workers) w.join();
  ASSERT_EQ(failures.load(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Sh("ls -l many | grep -c '^-'"), "10000\n");
}

TEST_F(ShellCommandsTest, OneGibFileRoundTripsBitForBit) {
  Sh("head -c 1073741824 /dev/urandom > /tmp/spacesfs-1g.$$ && cp /tmp/spacesfs-1g.$$ big.bin && "
     "sha256sum < /tmp/spacesfs-1g.$$ > /tmp/spacesfs-1g.sum && rm /tmp/spacesfs-1g.$$");
  // Streamed, not held: the daemon stays within its memory budget (128 MiB by default) plus
  // its own working set, far below the file's size.
  uint64_t write_peak = PeakRssMib(mount_->pid());
  Remount();
  RunShell("sync; echo 3 > /proc/sys/vm/drop_caches");
  EXPECT_EQ(Sh("sha256sum < big.bin"), Sh("cat /tmp/spacesfs-1g.sum"));
  uint64_t read_peak = PeakRssMib(mount_->pid());
  std::printf("daemon peak RSS: writing 1 GiB %llu MiB, reading it %llu MiB\n",
              static_cast<unsigned long long>(write_peak),
              static_cast<unsigned long long>(read_peak));
  EXPECT_GT(write_peak, 0u);
  EXPECT_LT(write_peak, 256u);
  EXPECT_LT(read_peak, 256u);
  Result<s3::ObjectInfo> head = client_->HeadObject(*prefix_ + "big.bin");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 1ull << 30);
  Sh("rm big.bin");
}

}  // namespace
}  // namespace spacesfs

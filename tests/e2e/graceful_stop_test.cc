// End to end: SIGTERM while a file is being written. The daemon refuses new writes, keeps serving
// the file open for writing (and reads) until it is closed, and the object on the server is then
// complete; the wait is bounded by stop_timeout, and a second SIGTERM ends it at once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "support/e2e.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

constexpr size_t kChunk = 4u << 20;  // three chunks: 12 MiB, a multipart upload

char ChunkByte(int i) { return static_cast<char>('A' + i); }

// A child process that creates `path`, writes chunk 0, reports on a pipe, waits for a byte on
// another pipe, writes chunks 1 and 2 and closes. Exit status 0 only if every call succeeded.
class Writer {
 public:
  explicit Writer(const std::string& path) {
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) std::abort();
    std::string chunk(kChunk, '\0');
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      close(go[1]);
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(10);
      for (int i = 0; i < 3; ++i) {
        if (i == 1) {
          char c = 'r';
          if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(11);
        }
        std::fill(chunk.begin(), chunk.end(), ChunkByte(i));
        size_t done = 0;
        while (done < chunk.size()) {
          ssize_t n = write(fd, chunk.data() + done, chunk.size() - done);
          if (n <= 0) _exit(20 + i);
          done += static_cast<size_t>(n);
        }
      }
      _exit(close(fd) == 0 ? 0 : 30);
    }
    close(ready[1]);
    close(go[0]);
    ready_fd_ = ready[0];
    go_fd_ = go[1];
  }

  ~Writer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(ready_fd_);
    close(go_fd_);
  }

  // True once the first chunk is written (the file is open for writing on the mount).
  bool WaitReady() {
    pollfd p{ready_fd_, POLLIN, 0};
    char c;
    return poll(&p, 1, 30'000) == 1 && read(ready_fd_, &c, 1) == 1;
  }

  // Lets it write the rest and close; returns its exit status.
  int Finish() {
    char c = 'g';
    if (write(go_fd_, &c, 1) != 1) return -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  int go_fd_ = -1;
};

// True once process pid (a child of this process) has exited, reaped or not; waits up to limit.
bool ExitsWithin(pid_t pid, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    if (!(stat >> pid_field >> comm >> state) || state == "Z") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class GracefulStopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"}));
    prefix_ = testing::UniquePrefix("graceful-stop");
    mnt_ = dir_.path() + "/mnt";
    mkdir(mnt_.c_str(), 0755);
    owner_ = testing::TenantClient("OWNER", "team-a");
  }

  void TearDown() override {
    for (const std::string& key : testing::KeysUnder(*owner_, prefix_)) (void)owner_->DeleteObject(key);
  }

  std::unique_ptr<testing::TestMount> Mount(const std::string& extra_options = "") {
    std::string spec = "team-a:/" + prefix_.substr(0, prefix_.size() - 1);
    return std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{spec, mnt_, "-o",
                                 "profile=owner,credentials=" + credentials_ + extra_options},
        mnt_);
  }

  // Waits until the daemon logged that it is stopping, then tries to create a file: true when
  // that is refused with EROFS.
  bool RefusesNewWrites(const testing::TestMount& mount) {
    for (int i = 0; i < 1000 && mount.log().find("stopping:") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    testing::CommandResult r = RunShell("touch " + ShellQuote(mnt_ + "/created-while-stopping"));
    return r.exit_code != 0 && r.output.find("Read-only file system") != std::string::npos;
  }

  testing::TempDir dir_;
  std::string credentials_, prefix_, mnt_;
  std::unique_ptr<s3::ObjectClient> owner_;
};

TEST_F(GracefulStopTest, SigtermDuringAWriteLeavesTheCompleteObject) {
  s3::PutObjectRequest put;
  put.key = prefix_ + "existing.txt";
  put.body = s3::BodySource::FromView("still readable\n");
  ASSERT_TRUE(owner_->PutObject(put).ok());
  std::unique_ptr<testing::TestMount> mount = Mount();
  ASSERT_TRUE(mount->mounted()) << mount->log();
  Writer writer(mnt_ + "/big.bin");
  ASSERT_TRUE(writer.WaitReady());

  kill(mount->pid(), SIGTERM);
  EXPECT_TRUE(RefusesNewWrites(*mount)) << mount->log();
  EXPECT_EQ(RunShell("cat " + ShellQuote(mnt_ + "/existing.txt")).output, "still readable\n")
      << "reads are served while the daemon waits";
  EXPECT_EQ(writer.Finish(), 0) << "the writer's write or close failed\n" << mount->log();
  EXPECT_TRUE(ExitsWithin(mount->pid(), std::chrono::seconds(60))) << mount->log();
  EXPECT_EQ(mount->Unmount(), 0) << mount->log();

  std::string body = testing::GetBody(*owner_, prefix_ + "big.bin");
  ASSERT_EQ(body.size(), 3 * kChunk) << body.substr(0, 200);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(body.compare(i * kChunk, kChunk, std::string(kChunk, ChunkByte(i))) == 0)
        << "chunk " << i << " differs";
  }
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "created-while-stopping"), "<missing>");
  EXPECT_NE(mount->log().find("waiting up to 30000 ms for 1 file(s) open for writing"),
            std::string::npos)
      << mount->log();
}

TEST_F(GracefulStopTest, TheWaitIsBoundedByStopTimeout) {
  std::unique_ptr<testing::TestMount> mount = Mount(",stop_timeout=1");
  ASSERT_TRUE(mount->mounted()) << mount->log();
  Writer writer(mnt_ + "/never-closed.bin");
  ASSERT_TRUE(writer.WaitReady());
  kill(mount->pid(), SIGTERM);
  EXPECT_TRUE(ExitsWithin(mount->pid(), std::chrono::seconds(30)))
      << "the daemon still waits for a writer that never closes\n" << mount->log();
  EXPECT_EQ(mount->Unmount(), 0) << mount->log();
  EXPECT_NE(mount->log().find("1 file(s) still open for writing after 1000 ms"), std::string::npos)
      << mount->log();
  EXPECT_NE(writer.Finish(), 0) << "writing to a stopped mount cannot succeed";
  // What the never-closed file held is not a file anyone finished: nothing partial was uploaded
  // (the server keeps the empty object its create made) and no multipart upload was left.
  EXPECT_NE(mount->log().find("was still open for writing when the mount stopped"),
            std::string::npos)
      << mount->log();
  EXPECT_EQ(testing::GetBody(*owner_, prefix_ + "never-closed.bin"), "");
}

TEST_F(GracefulStopTest, ASecondSigtermEndsTheWait) {
  std::unique_ptr<testing::TestMount> mount = Mount(",stop_timeout=600");
  ASSERT_TRUE(mount->mounted()) << mount->log();
  Writer writer(mnt_ + "/abandoned.bin");
  ASSERT_TRUE(writer.WaitReady());
  kill(mount->pid(), SIGTERM);
  ASSERT_TRUE(RefusesNewWrites(*mount)) << mount->log();
  kill(mount->pid(), SIGTERM);
  EXPECT_TRUE(ExitsWithin(mount->pid(), std::chrono::seconds(30))) << mount->log();
  EXPECT_EQ(mount->Unmount(), 0) << mount->log();
  EXPECT_NE(mount->log().find("second signal"), std::string::npos) << mount->log();
  EXPECT_NE(writer.Finish(), 0);
}

}  // namespace
}  // namespace spacesfs

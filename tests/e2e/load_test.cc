// End to end under load: 16 forked worker processes, each in its own directory of one mount, do
// mixed create/write/read/rename/overwrite/unlink/listing for SPACESFS_LOAD_SECONDS (default 60),
// each verifying its own data. Zero errors, no deadlock (a watchdog fails the test when no worker
// makes progress for 60 s), and the daemon's VmRSS must not grow by more than 64 MiB past its peak
// during warm-up (the first third of the run).
// The second test runs the same on two mounts of one Space at once (profiles owner and broad on
// team-a, same prefix, 8 workers each) and checks that both mounts end up showing the same tree.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <new>
#include <random>
#include <set>
#include <thread>

#include "s3/curl_object_client.h"
#include "support/e2e.h"
#include "support/s3_test_env.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;
using Clock = std::chrono::steady_clock;

constexpr int kMaxWorkers = 16;
constexpr long kRssGrowthLimitKb = 64 * 1024;

struct Shared {
  std::atomic<long> progress[kMaxWorkers];
  std::atomic<long> errors[kMaxWorkers];
  char first_error[kMaxWorkers][512];
};

int LoadSeconds() {
  const char* v = std::getenv("SPACESFS_LOAD_SECONDS");
  int s = v != nullptr ? std::atoi(v) : 0;
  return s > 0 ? s : 60;
}

long VmRssKb(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

std::string Content(int worker, long seed, size_t size) {
  std::mt19937_64 rng(worker * 1000003L + seed);
  std::string s(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

// One worker process: returns only through _exit.
class Worker {
 public:
  Worker(Shared* shared, int index, std::string dir, Clock::time_point deadline)
      : shared_(shared), index_(index), dir_(std::move(dir)), deadline_(deadline), rng_(index) {}

  [[noreturn]] void Run() {
    if (mkdir(dir_.c_str(), 0755) != 0) Fail("mkdir " + dir_ + ": " + std::strerror(errno));
    long n = 0;
    while (Clock::now() < deadline_) {
      ++n;
      std::string name = "f" + std::to_string(n);
      size_t size = (n % 25 == 3) ? (9u << 20) + rng_() % 4096 : 1 + rng_() % (300 << 10);
      long seed = n * 7;
      if (!WriteFile(name, Content(index_, seed, size), O_CREAT | O_EXCL)) continue;
      files_[name] = {seed, size};
      Step();
      Verify(name);
      if (n % 3 == 0) {  // rename
        std::string to = "g" + std::to_string(n);
        if (rename(Path(name).c_str(), Path(to).c_str()) != 0) {
          Fail("rename " + name + ": " + std::strerror(errno));
        } else {
          files_[to] = files_[name];
          files_.erase(name);
          struct stat st;
          if (stat(Path(name).c_str(), &st) == 0 || errno != ENOENT) Fail("old name still there: " + name);
          Verify(to);
          Step();
        }
      }
      if (n % 4 == 0 && !files_.empty()) {  // overwrite an existing file
        auto it = files_.begin();
        std::advance(it, rng_() % files_.size());
        long new_seed = seed + 1;
        size_t new_size = 1 + rng_() % (100 << 10);
        if (WriteFile(it->first, Content(index_, new_seed, new_size), O_TRUNC)) {
          it->second = {new_seed, new_size};
          Verify(it->first);
          Step();
        }
      }
      CheckListing();
      while (files_.size() > 6) {  // unlink
        auto it = files_.begin();
        std::advance(it, rng_() % files_.size());
        if (unlink(Path(it->first).c_str()) != 0) Fail("unlink " + it->first + ": " + std::strerror(errno));
        files_.erase(it);
        Step();
      }
    }
    CheckListing();
    _exit(0);
  }

 private:
  struct FileState {
    long seed;
    size_t size;
  };

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void Step() { shared_->progress[index_].fetch_add(1); }
  void Fail(const std::string& what) {
    if (shared_->errors[index_].fetch_add(1) == 0) {
      std::snprintf(shared_->first_error[index_], sizeof shared_->first_error[index_], "worker %d: %s",
                    index_, what.c_str());
    }
  }

  bool WriteFile(const std::string& name, const std::string& data, int flags) {
    int fd = open(Path(name).c_str(), O_WRONLY | flags, 0644);
    if (fd < 0) {
      Fail("open for write " + name + ": " + std::strerror(errno));
      return false;
    }
    size_t done = 0;
    while (done < data.size()) {
      size_t piece = std::min<size_t>(data.size() - done, 1 + rng_() % (128 << 10));
      ssize_t w = write(fd, data.data() + done, piece);
      if (w <= 0) {
        Fail("write " + name + ": " + std::strerror(errno));
        close(fd);
        return false;
      }
      done += w;
    }
    if (close(fd) != 0) {
      Fail("close " + name + ": " + std::strerror(errno));
      return false;
    }
    return true;
  }

  void Verify(const std::string& name) {
    const FileState& state = files_[name];
    std::string want = Content(index_, state.seed, state.size);
    int fd = open(Path(name).c_str(), O_RDONLY);
    if (fd < 0) return Fail("open for read " + name + ": " + std::strerror(errno));
    std::string got;
    char buffer[65536];
    ssize_t r;
    while ((r = read(fd, buffer, sizeof buffer)) > 0) got.append(buffer, r);
    if (r < 0) Fail("read " + name + ": " + std::strerror(errno));
    close(fd);
    if (got != want) {
      Fail("wrong content in " + name + ": " + std::to_string(got.size()) + " bytes, want " +
           std::to_string(want.size()));
    }
    Step();
  }

  void CheckListing() {
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) return Fail(std::string("opendir: ") + std::strerror(errno));
    std::set<std::string> seen;
    while (dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) seen.insert(e->d_name);
    }
    closedir(d);
    std::set<std::string> want;
    for (const auto& [name, state] : files_) want.insert(name);
    if (seen != want) {
      std::string diff;
      for (const std::string& s : seen) if (!want.count(s)) diff += " +" + s;
      for (const std::string& s : want) if (!seen.count(s)) diff += " -" + s;
      Fail("listing differs:" + diff);
    }
    Step();
  }

  Shared* shared_;
  int index_;
  std::string dir_;
  Clock::time_point deadline_;
  std::mt19937_64 rng_;
  std::map<std::string, FileState> files_;
};

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    auto direct = testing::MakeTestClient(*env, testing::TestUser::kOwner, "team-a");
    ASSERT_TRUE(direct.ok());
    direct_ = std::move(*direct);
    prefix_ = testing::UniquePrefix("load");
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"}) +
            testing::ProfileSection("broad", "BROAD", {"team-a:fullaccess"}));
    void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    shared_ = new (mem) Shared();
  }
  void TearDown() override {
    mounts_.clear();
    if (shared_ != nullptr) munmap(shared_, sizeof(Shared));
    if (direct_) {
      EXPECT_TRUE(testing::DeleteAllUnder(*direct_, prefix_).ok());
    }
  }

  testing::TestMount* AddMount(const std::string& profile, const std::string& name) {
    std::string mnt = dir_.path() + "/" + name;
    mkdir(mnt.c_str(), 0755);
    mounts_.push_back(std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{"team-a:/" + prefix_, mnt, "-o",
                                 "profile=" + profile + ",credentials=" + credentials_ +
                                     ",attr_timeout=1,entry_timeout=1,negative_timeout=1"},
        mnt));
    EXPECT_TRUE(mounts_.back()->mounted()) << mounts_.back()->log();
    mount_points_.push_back(mnt);
    return mounts_.back().get();
  }

  // Runs workers (worker i in mount_points_[i % mounts]) and samples the daemons until done.
  void RunWorkers(int workers) {
    const int seconds = LoadSeconds();
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(seconds);
    const auto warm_up_end = start + std::chrono::seconds(std::max(10, seconds / 3));
    std::vector<pid_t> children;
    for (int i = 0; i < workers; ++i) {
      std::string dir = mount_points_[i % mount_points_.size()] + "/w" + std::to_string(i);
      pid_t pid = fork();
      if (pid == 0) Worker(shared_, i, dir, deadline).Run();
      ASSERT_GT(pid, 0);
      children.push_back(pid);
    }
    // VmRSS per mount: the warm-up peak (first third of the run, at least 10 s: the working set the
    // load needs, read-ahead buffers included) and the peak after it. A leak grows past the warm-up
    // peak; a bounded working set does not.
    std::vector<long> warm_peak(mounts_.size(), 0), later_peak(mounts_.size(), 0), first(mounts_.size(), -1);
    std::vector<std::string> series(mounts_.size());
    int tick = 0;
    long last_total = -1;
    auto last_progress = Clock::now();
    bool stalled = false;
    size_t running = children.size();
    while (running > 0) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      ++tick;
      for (size_t m = 0; m < mounts_.size(); ++m) {
        long rss = VmRssKb(mounts_[m]->pid());
        if (first[m] < 0) first[m] = rss;
        if (tick % 10 == 0) series[m] += " " + std::to_string(rss / 1024);
        long& peak = Clock::now() < warm_up_end ? warm_peak[m] : later_peak[m];
        peak = std::max(peak, rss);
      }
      long total = 0;
      for (int i = 0; i < workers; ++i) total += shared_->progress[i].load();
      if (total != last_total) {
        last_total = total;
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > std::chrono::seconds(60)) {
        stalled = true;
        for (pid_t c : children) if (c > 0) kill(c, SIGKILL);
      }
      for (pid_t& c : children) {
        if (c > 0 && waitpid(c, nullptr, WNOHANG) == c) {
          c = -1;
          --running;
        }
      }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_FALSE(stalled) << "no progress for 60 s: deadlock or hang";
    long total_errors = 0, total_ops = 0;
    for (int i = 0; i < workers; ++i) {
      total_errors += shared_->errors[i].load();
      total_ops += shared_->progress[i].load();
      EXPECT_EQ(shared_->errors[i].load(), 0) << shared_->first_error[i];
      EXPECT_GT(shared_->progress[i].load(), 0) << "worker " << i << " did nothing";
    }
    std::printf("load: %d workers, %d mount(s), %.1f s, %ld verified operations, %ld errors\n", workers,
                static_cast<int>(mounts_.size()), elapsed, total_ops, total_errors);
    for (size_t m = 0; m < mounts_.size(); ++m) {
      EXPECT_GT(mounts_[m]->pid(), 0);
      EXPECT_EQ(kill(mounts_[m]->pid(), 0), 0) << "daemon died:\n" << mounts_[m]->log();
      long after = VmRssKb(mounts_[m]->pid());
      std::printf("  mount %zu VmRSS kB: start %ld, warm-up peak %ld, later peak %ld, growth %ld, after "
                  "the workers %ld; MiB every 10 s:%s\n", m, first[m], warm_peak[m], later_peak[m],
                  later_peak[m] - warm_peak[m], after, series[m].c_str());
      EXPECT_LE(later_peak[m] - warm_peak[m], kRssGrowthLimitKb) << "daemon memory grew under load";
    }
  }

  // "path size" for every file under a mount point, sorted.
  std::string Tree(const std::string& mnt) {
    testing::CommandResult r =
        RunShell("cd " + ShellQuote(mnt) + " && find . -type f -printf '%P %s\\n' | LC_ALL=C sort");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  testing::TempDir dir_;
  std::unique_ptr<s3::CurlObjectClient> direct_;
  std::vector<std::unique_ptr<testing::TestMount>> mounts_;
  std::vector<std::string> mount_points_;
  std::string prefix_, credentials_;
  Shared* shared_ = nullptr;
};

TEST_F(LoadTest, SixteenWorkersOnOneMount) {
  AddMount("owner", "mnt");
  ASSERT_TRUE(mounts_[0]->mounted());
  RunWorkers(16);
}

TEST_F(LoadTest, SixteenWorkersOnTwoMountsOfOneSpace) {
  AddMount("owner", "mnt-owner");
  AddMount("broad", "mnt-broad");
  ASSERT_TRUE(mounts_[0]->mounted());
  ASSERT_TRUE(mounts_[1]->mounted());
  RunWorkers(16);
  // Both mounts show the same tree once the caches expire.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::string a = Tree(mount_points_[0]);
  std::string b = Tree(mount_points_[1]);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace spacesfs

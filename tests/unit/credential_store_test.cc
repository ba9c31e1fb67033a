// keys/credential_store: writers of one credential file at the same time never lose each other's
// profiles (each read-modify-write-rename holds the file's lock), the file stays 0600, no temporary
// file is left behind, a section put back by RestoreSection leaves the other profiles alone, and a
// write that fails leaves the old file byte for byte as it was.
#include "keys/credential_store.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/credentials.h"
#include "gtest/gtest.h"
#include "support/e2e.h"

namespace spacesfs::keys {
namespace {

namespace fs = std::filesystem;

class CredentialStoreTest : public ::testing::Test {
 protected:
  // The file's text, read with the same checks as any credential file.
  std::string Text() const {
    Result<Secret> text = auth::ReadCredentialFile(path_, ::getuid());
    return text.ok() ? std::string(text->reveal()) : "<" + text.status().ToString() + ">";
  }

  static NewProfile Profile(const std::string& name, const std::string& key) {
    NewProfile profile;
    profile.name = name;
    profile.access_key_id = key;
    profile.secret_access_key = Secret("secret-of-" + name);
    profile.endpoint = "http://127.0.0.1:1";
    profile.grants = {*auth::ParseGrant("team-a:read")};
    return profile;
  }

  testing::TempDir temp_;
  const std::string dir_ = temp_.path();
  const std::string path_ = dir_ + "/credentials";
};

TEST_F(CredentialStoreTest, AWrittenProfileKeepsItsCaBundle) {
  // A key minted through an https radosgw with a private authority (the admin profile's
  // ca_bundle) is stored with that ca_bundle, and reads back as the same profile.
  NewProfile profile = Profile("private", "AKPRIVATE");
  profile.endpoint = "https://rgw.internal.example:8443";
  profile.ca_bundle = "/etc/spacesfs/internal-ca.pem";
  ASSERT_TRUE(WriteProfile(path_, profile, false, ::getuid()).ok());
  EXPECT_NE(Text().find("ca_bundle = /etc/spacesfs/internal-ca.pem\n"), std::string::npos)
      << Text();
  Result<auth::Profile> read = auth::LoadProfile(path_, "private", ::getuid());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->ca_bundle, "/etc/spacesfs/internal-ca.pem");
  EXPECT_EQ(read->endpoint, "https://rgw.internal.example:8443");
}

TEST_F(CredentialStoreTest, ConcurrentWritersAllLand) {
  constexpr int kWriters = 8;
  constexpr int kRounds = 10;  // 80 locked rewrites: enough to interleave, quick under TSan
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      while (!go.load()) std::this_thread::yield();
      for (int r = 0; r < kRounds; ++r) {
        const std::string name = "w" + std::to_string(w) + "-" + std::to_string(r);
        Status written = WriteProfile(path_, Profile(name, "AK" + name), false, ::getuid());
        if (!written.ok()) failures[w] += written.ToString() + "\n";
      }
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();
  for (const std::string& f : failures) EXPECT_EQ(f, "");

  Result<Secret> text = auth::ReadCredentialFile(path_, ::getuid());
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  Result<std::vector<auth::Profile>> profiles = auth::ParseCredentials(text->reveal(), path_);
  ASSERT_TRUE(profiles.ok()) << profiles.status().ToString();
  EXPECT_EQ(profiles->size(), static_cast<size_t>(kWriters * kRounds));
  for (int w = 0; w < kWriters; ++w) {
    for (int r = 0; r < kRounds; ++r) {
      const std::string name = "w" + std::to_string(w) + "-" + std::to_string(r);
      Result<auth::Profile> p = auth::LoadProfile(path_, name, ::getuid());
      ASSERT_TRUE(p.ok()) << name << " was lost: " << p.status().ToString();
      EXPECT_EQ(p->access_key_id, "AK" + name);
    }
  }
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const std::string file = entry.path().filename().string();
    EXPECT_TRUE(file == "credentials" || file == "credentials.lock") << "left behind: " << file;
  }
  ASSERT_EQ(::stat((path_ + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(CredentialStoreTest, WriterWaitsForTheLockHolder) {
  ASSERT_TRUE(WriteProfile(path_, Profile("first", "AK1"), false, ::getuid()).ok());
  // Another process holds the lock: the writer waits for it instead of writing at the same time.
  int held = ::open((path_ + ".lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    EXPECT_TRUE(WriteProfile(path_, Profile("second", "AK2"), false, ::getuid()).ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(done.load()) << "wrote while another process held " << path_ << ".lock";
  EXPECT_EQ(Text().find("[second]"), std::string::npos);
  ::flock(held, LOCK_UN);
  ::close(held);
  writer.join();
  EXPECT_TRUE(done.load());
  EXPECT_TRUE(auth::LoadProfile(path_, "first", ::getuid()).ok());
  EXPECT_TRUE(auth::LoadProfile(path_, "second", ::getuid()).ok());
}

TEST_F(CredentialStoreTest, RestoreSectionKeepsProfilesWrittenMeanwhile) {
  ASSERT_TRUE(WriteProfile(path_, Profile("app", "AKOLD"), false, ::getuid()).ok());
  const std::string before = Text();
  ASSERT_TRUE(WriteProfile(path_, Profile("app", "AKNEW"), true, ::getuid()).ok());
  ASSERT_TRUE(WriteProfile(path_, Profile("other", "AKOTHER"), false, ::getuid()).ok());
  ASSERT_TRUE(RestoreSection(path_, "app", before, ::getuid()).ok());
  Result<auth::Profile> app = auth::LoadProfile(path_, "app", ::getuid());
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->access_key_id, "AKOLD");
  Result<auth::Profile> other = auth::LoadProfile(path_, "other", ::getuid());
  ASSERT_TRUE(other.ok()) << "a profile written meanwhile was lost";
  EXPECT_EQ(other->access_key_id, "AKOTHER");
  EXPECT_EQ(Text().rfind(before, 0), 0u) << Text();
}

// The bytes of a file, as they are.
std::string RawBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Runs `write` in a child process whose files may not grow past `limit` bytes (RLIMIT_FSIZE, with
// SIGXFSZ ignored, so the write crossing it fails with EFBIG): a real failed write, also as root,
// whom a read-only directory would not stop. Returns the Status the child got, as text.
std::string InChildWithFileSizeLimit(rlim_t limit, const std::function<Status()>& write) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit small{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(1);
    const std::string text = write().ToString();
    const ssize_t sent = ::write(fds[1], text.data(), text.size());
    ::_exit(sent == static_cast<ssize_t>(text.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    text += " (child status " + std::to_string(wstatus) + ")";
  }
  return text;
}

TEST_F(CredentialStoreTest, FailedWriteLeavesTheOldFileAsItWas) {
  ASSERT_TRUE(WriteProfile(path_, Profile("app", "AKOLD"), false, ::getuid()).ok());
  ASSERT_TRUE(WriteProfile(path_, Profile("other", "AKOTHER"), false, ::getuid()).ok());
  const std::string before = RawBytes(path_);
  ASSERT_GT(before.size(), 100u);

  // Replacing a profile and adding one: the temporary file cannot grow past 64 bytes.
  for (bool replace : {true, false}) {
    const std::string result = InChildWithFileSizeLimit(64, [&] {
      return WriteProfile(path_, Profile(replace ? "app" : "third", "AKNEW"), replace, ::getuid());
    });
    EXPECT_EQ(result, "io_error: " + path_ + ": write: File too large") << replace;

    EXPECT_EQ(RawBytes(path_), before) << replace;
    struct stat st;
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::getuid());
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string file = entry.path().filename().string();
      EXPECT_TRUE(file == "credentials" || file == "credentials.lock") << "left behind: " << file;
    }
  }
  // The same write without the limit goes through (the failure above was the limit's).
  ASSERT_TRUE(WriteProfile(path_, Profile("app", "AKNEW"), true, ::getuid()).ok());
  EXPECT_EQ(auth::LoadProfile(path_, "app", ::getuid())->access_key_id, "AKNEW");
}

TEST_F(CredentialStoreTest, LockFileThatIsASymlinkIsRefused) {
  ASSERT_EQ(::symlink((dir_ + "/elsewhere").c_str(), (path_ + ".lock").c_str()), 0);
  Status written = WriteProfile(path_, Profile("app", "AK1"), false, ::getuid());
  EXPECT_EQ(written.code(), ErrorCode::kConfig) << written.ToString();
  EXPECT_NE(written.message().find(path_ + ".lock"), std::string::npos) << written.ToString();
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere"));
}

}  // namespace
}  // namespace spacesfs::keys

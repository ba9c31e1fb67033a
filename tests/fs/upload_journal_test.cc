// UploadJournal: the multipart uploads a gone daemon started and did not end are aborted on the
// server (a MemoryObjectClient) and its journal removed; a live daemon's journal (its lock held, by
// a child process or by this one), other Spaces' journals and ended uploads are left alone.
// "Daemons" are forked children: one that exits without its destructor is a killed daemon.
#include "fs/upload_journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "s3/fault_injecting_client.h"
#include "s3/memory_object_client.h"
#include "s3/sigv4.h"
#include "support/log_capture.h"

namespace spacesfs::fs {
namespace {

namespace stdfs = std::filesystem;
using s3::MemoryObjectClient;

const std::string kSpace = "http://127.0.0.1:7480|photos|2024/";
const std::string kOtherSpace = "http://127.0.0.1:7480|photos|2025/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

using testing::LogCapture;

class UploadJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/spacesfs-journal-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    dir_ = root_ + "/state";
  }
  void TearDown() override { stdfs::remove_all(root_); }

  std::string Create(const std::string& key) {
    Result<std::string> id = client_.CreateMultipartUpload(key, {}, "");
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  // Upload ids the server still has in progress.
  std::set<std::string> OpenUploads() {
    s3::ListMultipartUploadsRequest request;
    Result<s3::ListMultipartUploadsPage> page = client_.ListMultipartUploads(request);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::set<std::string> ids;
    if (page.ok()) {
      for (const s3::MultipartUpload& u : page->uploads) ids.insert(u.upload_id);
    }
    return ids;
  }

  // Journal files in the state directory.
  std::vector<std::string> Files() {
    std::vector<std::string> names;
    if (!stdfs::exists(dir_)) return names;
    for (const auto& entry : stdfs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  uint64_t Aborts() {
    return client_.RequestCount(MemoryObjectClient::Operation::kAbortMultipartUpload);
  }

  std::string root_;
  std::string dir_;
  MemoryObjectClient client_;
};

// A daemon in a child process: opens its journal for space_id, runs `record`, then either exits at
// once without closing the journal (killed) or, for a live one, waits until Release().
class ChildDaemon {
 public:
  ChildDaemon(const std::string& dir, const std::string& space_id,
              const std::function<bool(UploadJournal&)>& record, bool stay_alive) {
    int ready[2];
    int release[2];
    if (pipe(ready) != 0 || pipe(release) != 0) std::abort();
    pid_ = fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      close(ready[0]);
      close(release[1]);
      Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(dir, space_id);
      if (!journal.ok() || !record(**journal)) _exit(2);
      path_ = (*journal)->path();
      if (write(ready[1], path_.data(), path_.size()) < 0) _exit(3);
      close(ready[1]);
      if (stay_alive) {
        char c;
        while (read(release[0], &c, 1) > 0) {
        }
      }
      journal->release();  // killed: no destructor, the journal stays; exiting drops the lock
      _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    release_fd_ = release[1];
    char buffer[4096];
    ssize_t n;
    while ((n = read(ready[0], buffer, sizeof buffer)) > 0) path_.append(buffer, n);
    close(ready[0]);
    if (!stay_alive) Release();
  }
  ~ChildDaemon() { Release(); }

  // Lets a live child exit (as if killed) and waits for it. Returns its exit code.
  int Release() {
    if (release_fd_ >= 0) {
      close(release_fd_);
      release_fd_ = -1;
    }
    if (pid_ > 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    return exit_code_;
  }
  const std::string& path() const { return path_; }

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
  int exit_code_ = -1;
  std::string path_;
};

std::function<bool(UploadJournal&)> Record(std::vector<std::pair<std::string, std::string>> started,
                                           std::vector<std::string> ended = {}) {
  return [=](UploadJournal& journal) {
    for (const auto& [key, id] : started) {
      if (!journal.Started(key, id).ok()) return false;
    }
    for (const std::string& id : ended) {
      if (!journal.Ended(id).ok()) return false;
    }
    return true;
  };
}

TEST_F(UploadJournalTest, UploadsAKilledDaemonLeftAreAbortedAndItsJournalRemoved) {
  // Keys may hold any byte.
  const std::string k1 = "dir/a b\nc\x01\xff.bin";
  const std::string k2 = "dir/ended.bin";
  const std::string k3 = "dir/third";
  std::string u1 = Create(k1), u2 = Create(k2), u3 = Create(k3);
  std::string unrelated = Create("someone/else");
  ChildDaemon dead(dir_, kSpace, Record({{k1, u1}, {k2, u2}, {k3, u3}}, {u2}), false);
  ASSERT_EQ(dead.Release(), 0);
  ASSERT_EQ(Files().size(), 1u);

  Result<std::vector<AbandonedJournal>> found = UploadJournal::FindAbandoned(dir_, kSpace);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].path, dead.path());
  ASSERT_EQ((*found)[0].uploads.size(), 2u);
  EXPECT_EQ((*found)[0].uploads[0].key, k1);
  EXPECT_EQ((*found)[0].uploads[0].upload_id, u1);
  EXPECT_EQ((*found)[0].uploads[1].key, k3);

  LogCapture log;
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 2u);
  EXPECT_EQ(Aborts(), 2u);
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("[info] aborted the unfinished multipart upload of 'dir/a b\\x0ac\\x01"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("(upload id " + u1 + ")"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("'dir/third' in Space 'test-bucket'"), std::string::npos) << lines[1];
  // The ended upload (left open on the server here on purpose) and others' uploads stay.
  EXPECT_EQ(OpenUploads(), (std::set<std::string>{u2, unrelated}));
  EXPECT_TRUE(Files().empty());

  // Nothing left: no request at all.
  client_.ResetRequestCounts();
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 0u);
  EXPECT_EQ(client_.TotalRequests(), 0u);
}

TEST_F(UploadJournalTest, LiveDaemonsJournalIsUntouched) {
  std::string u1 = Create("live/a");
  ChildDaemon live(dir_, kSpace, Record({{"live/a", u1}}), true);
  ASSERT_FALSE(live.path().empty());

  Result<std::vector<AbandonedJournal>> found = UploadJournal::FindAbandoned(dir_, kSpace);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->empty());
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 0u);
  EXPECT_EQ(Aborts(), 0u);
  EXPECT_EQ(OpenUploads(), (std::set<std::string>{u1}));
  EXPECT_TRUE(stdfs::exists(live.path()));

  // Once it is gone, the same journal is abandoned.
  ASSERT_EQ(live.Release(), 0);
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 1u);
  EXPECT_TRUE(OpenUploads().empty());
  EXPECT_FALSE(stdfs::exists(live.path()));
}

TEST_F(UploadJournalTest, OwnJournalIsNeverAbandoned) {
  std::string u1 = Create("own/a");
  std::string journal_path;
  {
    Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(dir_, kSpace);
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    journal_path = (*journal)->path();
    ASSERT_TRUE((*journal)->Started("own/a", u1).ok());
    EXPECT_EQ((*journal)->in_progress(), 1u);

    Result<std::vector<AbandonedJournal>> found = UploadJournal::FindAbandoned(dir_, kSpace);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_TRUE(found->empty());
    EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 0u);
    EXPECT_EQ(OpenUploads(), (std::set<std::string>{u1}));
    // Closed with an upload still in progress: the file is kept.
  }
  EXPECT_TRUE(stdfs::exists(journal_path));
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 1u);
  EXPECT_TRUE(OpenUploads().empty());
  EXPECT_TRUE(Files().empty());
}

TEST_F(UploadJournalTest, JournalFileNameLinesAndCleanClose) {
  Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(dir_, kSpace);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  const std::string path = (*journal)->path();
  std::string hash = s3::Sha256Hex(kSpace).substr(0, 16);
  EXPECT_EQ(path, dir_ + "/uploads-" + hash + "-" + std::to_string(getpid()) + ".journal");
  EXPECT_EQ(UploadJournal::FileNamePrefix(kSpace), "uploads-" + hash + "-");
  EXPECT_NE(UploadJournal::FileNamePrefix(kOtherSpace), UploadJournal::FileNamePrefix(kSpace));

  ASSERT_TRUE((*journal)->Started("a/b", "id-1").ok());
  ASSERT_TRUE((*journal)->Started("c", "id-2").ok());
  ASSERT_TRUE((*journal)->Ended("id-1").ok());
  ASSERT_TRUE((*journal)->Ended("never-started").ok());
  EXPECT_EQ(ReadFile(path), "start id-1 612f62\nstart id-2 63\nend id-1\n");
  // Nothing in progress: the file starts over.
  ASSERT_TRUE((*journal)->Ended("id-2").ok());
  EXPECT_EQ(ReadFile(path), "");
  ASSERT_TRUE((*journal)->Started("d", "id-3").ok());
  EXPECT_EQ(ReadFile(path), "start id-3 64\n");
  ASSERT_TRUE((*journal)->Ended("id-3").ok());

  for (const std::string& bad : {std::string(""), std::string("a b"), std::string("a\nb")}) {
    Status st = (*journal)->Started("k", bad);
    EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument) << "'" << bad << "'";
  }
  EXPECT_EQ(ReadFile(path), "");
  journal->reset();  // nothing in progress: the file is deleted
  EXPECT_FALSE(stdfs::exists(path));
}

TEST_F(UploadJournalTest, TornLastLineAndMalformedLinesAreIgnored) {
  std::string u1 = Create("t/one");
  std::string u2 = Create("t/two");
  std::string u3 = Create("t/three");
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  // Written by hand, with no lock held: a daemon that died while appending the last line.
  std::string path = dir_ + "/" + UploadJournal::FileNamePrefix(kSpace) + "4242.journal";
  WriteFile(path, "start " + u1 + " " + s3::HexEncode("t/one") + "\n" + "garbage line\n" +
                      "start " + u3 + " nothex\n" + "start " + u2 + " " +
                      s3::HexEncode("t/two").substr(0, 5));
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 1u);
  EXPECT_EQ(OpenUploads(), (std::set<std::string>{u2, u3}));
  EXPECT_TRUE(Files().empty());
}

TEST_F(UploadJournalTest, OtherSpacesAreUntouched) {
  std::string mine = Create("2024/a");
  std::string theirs = Create("2025/a");
  ChildDaemon other(dir_, kOtherSpace, Record({{"2025/a", theirs}}), false);
  ChildDaemon same(dir_, kSpace, Record({{"2024/a", mine}}), false);
  ASSERT_EQ(other.Release(), 0);
  ASSERT_EQ(same.Release(), 0);

  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 1u);
  EXPECT_EQ(OpenUploads(), (std::set<std::string>{theirs}));
  EXPECT_TRUE(stdfs::exists(other.path()));
  EXPECT_FALSE(stdfs::exists(same.path()));

  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kOtherSpace), 1u);
  EXPECT_TRUE(OpenUploads().empty());
  EXPECT_TRUE(Files().empty());
}

TEST_F(UploadJournalTest, FailedAbortKeepsTheJournalForNextTime) {
  std::string u1 = Create("f/a");
  std::string u2 = Create("f/b");
  ChildDaemon dead(dir_, kSpace, Record({{"f/a", u1}, {"f/b", u2}}), false);
  ASSERT_EQ(dead.Release(), 0);

  s3::FaultInjectingClient faulty(client_, 1);
  faulty.AddRule(s3::FaultRule::FailNth(
      s3::Operation::kAbortMultipartUpload, 2,
      Status::FromServer(ErrorCode::kAccessDenied, 403, "AccessDenied", "Access Denied", "tx1")));
  {
    LogCapture log;
    EXPECT_EQ(AbortAbandonedUploads(faulty, dir_, kSpace), 1u);
    std::vector<std::string> lines = log.Lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[1].find("[warning] could not abort the unfinished multipart upload of 'f/b'"),
              std::string::npos)
        << lines[1];
    EXPECT_NE(lines[1].find(dead.path() + " is kept"), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("AccessDenied"), std::string::npos) << lines[1];
  }
  EXPECT_EQ(OpenUploads(), (std::set<std::string>{u2}));
  EXPECT_TRUE(stdfs::exists(dead.path()));

  // Next mount: the first upload is already gone (NoSuchUpload counts as done), the second goes.
  EXPECT_EQ(AbortAbandonedUploads(faulty, dir_, kSpace), 1u);
  EXPECT_TRUE(OpenUploads().empty());
  EXPECT_TRUE(Files().empty());
}

TEST_F(UploadJournalTest, UploadsAlreadyGoneCountAsDone) {
  ChildDaemon dead(dir_, kSpace, Record({{"g/a", "no-such-upload"}}), false);
  ASSERT_EQ(dead.Release(), 0);
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 0u);
  EXPECT_EQ(Aborts(), 1u);
  EXPECT_TRUE(Files().empty());
}

TEST_F(UploadJournalTest, ANameLeftByADeadDaemonWithTheSamePidIsNotReused) {
  std::string u1 = Create("p/a");
  ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
  std::string base = dir_ + "/" + UploadJournal::FileNamePrefix(kSpace) + std::to_string(getpid());
  WriteFile(base + ".journal", "start " + u1 + " " + s3::HexEncode("p/a") + "\n");

  Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(dir_, kSpace);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  EXPECT_EQ((*journal)->path(), base + "-1.journal");
  ASSERT_TRUE((*journal)->Started("p/b", "mine").ok());

  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), 1u);
  EXPECT_TRUE(OpenUploads().empty());
  EXPECT_EQ(Files(),
            (std::vector<std::string>{stdfs::path(base + "-1.journal").filename().string()}));
  ASSERT_TRUE((*journal)->Ended("mine").ok());
  journal->reset();
  EXPECT_TRUE(Files().empty());
}

TEST_F(UploadJournalTest, ModesAre0700And0600WhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{0277}}) {
    std::string dir = root_ + "/m" + std::to_string(mask) + "/a/b";
    mode_t old = umask(mask);
    Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(dir, kSpace);
    umask(old);
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    EXPECT_EQ(ModeOf(root_ + "/m" + std::to_string(mask)), 0700u) << "umask " << mask;
    EXPECT_EQ(ModeOf(dir), 0700u) << "umask " << mask;
    EXPECT_EQ(ModeOf((*journal)->path()), 0600u) << "umask " << mask;
  }
  // An existing directory keeps its mode.
  std::string existing = root_ + "/existing";
  ASSERT_EQ(mkdir(existing.c_str(), 0750), 0);
  ASSERT_EQ(chmod(existing.c_str(), 0750), 0);
  ASSERT_TRUE(UploadJournal::Open(existing, kSpace).ok());
  EXPECT_EQ(ModeOf(existing), 0750u);
}

TEST_F(UploadJournalTest, ErrorsNameTheFile) {
  std::string file = root_ + "/plain-file";
  WriteFile(file, "x");
  Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(file + "/state", kSpace);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kIoError);
  EXPECT_NE(journal.status().message().find(file), std::string::npos)
      << journal.status().ToString();
  EXPECT_NE(journal.status().message().find("Not a directory"), std::string::npos)
      << journal.status().ToString();
  // A missing directory has no abandoned journal, and nothing is created.
  EXPECT_EQ(AbortAbandonedUploads(client_, root_ + "/missing", kSpace), 0u);
  EXPECT_FALSE(stdfs::exists(root_ + "/missing"));
}

TEST_F(UploadJournalTest, ConcurrentStartsAndEnds) {
  LogCapture quiet;
  std::string path;
  std::set<std::string> left;
  {
    Result<std::unique_ptr<UploadJournal>> journal = UploadJournal::Open(dir_, kSpace);
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    path = (*journal)->path();
    std::vector<std::thread> threads;
    std::mutex mu;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 40; ++i) {
          std::string key = "c/" + std::to_string(t) + "/" + std::to_string(i);
          std::string id = Create(key);
          EXPECT_TRUE((*journal)->Started(key, id).ok());
          if (i % 3 == 0) {
            std::lock_guard lock(mu);
            left.insert(id);
          } else {
            EXPECT_TRUE((*journal)->Ended(id).ok());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ((*journal)->in_progress(), left.size());
  }  // closed with uploads in progress: kept
  Result<std::vector<AbandonedJournal>> found = UploadJournal::FindAbandoned(dir_, kSpace);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 1u);
  std::set<std::string> ids;
  for (const AbandonedUpload& u : (*found)[0].uploads) ids.insert(u.upload_id);
  EXPECT_EQ(ids, left);
  EXPECT_EQ(AbortAbandonedUploads(client_, dir_, kSpace), left.size());
  EXPECT_EQ(OpenUploads().size(), 8u * 40u - left.size());
  EXPECT_FALSE(stdfs::exists(path));
}

}  // namespace
}  // namespace spacesfs::fs

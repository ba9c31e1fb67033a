// End-to-end test support for tests that must touch files of the machine itself (/etc/fstab,
// /etc/fuse.conf, /sbin/mount.spacesfs, /dev/fuse) and put everything back afterwards.
//
//   SystemLock      an exclusive flock(2) on a file in /run/lock, held for the object's life, so
//                   tests (CTest runs them in parallel) that change the same system file take turns.
//   RestoredFile    remembers a file's bytes and mode (or that it did not exist) and restores them
//                   in its destructor, also when the test failed.
//   TemporarySymlink  creates LINK -> TARGET unless LINK exists; removes it in its destructor only
//                   if it created it (or found exactly that link, left by a killed test). Any
//                   other existing file, e.g. an installed package's, is never touched: created()
//                   says whether the test can use the link.
//   RestoredMode    chmods a path and restores the old mode in its destructor.
//
// Threading: single-threaded test code. A test process that dies by a signal leaves the change in
// place: tags in the changed files (x-spacesfs-e2e=PID in fstab lines) let later runs clean up.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace spacesfs::testing {

class SystemLock {
 public:
  explicit SystemLock(const std::string& name) {
    fd_ = open(("/run/lock/" + name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) {
      while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~SystemLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }
  SystemLock(const SystemLock&) = delete;
  SystemLock& operator=(const SystemLock&) = delete;

 private:
  int fd_ = -1;
};

inline std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteWholeFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class RestoredFile {
 public:
  explicit RestoredFile(std::string path) : path_(std::move(path)) {
    original_ = ReadWholeFile(path_);
    struct stat st;
    if (original_ && stat(path_.c_str(), &st) == 0) mode_ = st.st_mode & 07777;
  }
  ~RestoredFile() {
    if (!original_) {
      std::remove(path_.c_str());
      return;
    }
    WriteWholeFile(path_, *original_);
    chmod(path_.c_str(), mode_);
  }
  RestoredFile(const RestoredFile&) = delete;
  RestoredFile& operator=(const RestoredFile&) = delete;

  // The content before the test ("" when the file did not exist).
  const std::string& original() const {
    static const std::string kNone;
    return original_ ? *original_ : kNone;
  }

 private:
  std::string path_;
  std::optional<std::string> original_;
  mode_t mode_ = 0644;
};

class TemporarySymlink {
 public:
  TemporarySymlink(const std::string& target, std::string link) : link_(std::move(link)) {
    created_ = symlink(target.c_str(), link_.c_str()) == 0;
    if (!created_ && errno == EEXIST) {
      // Left behind by a test process that was killed: the same link to the same binary.
      char buf[4096];
      ssize_t n = readlink(link_.c_str(), buf, sizeof buf);
      created_ = n > 0 && std::string(buf, static_cast<size_t>(n)) == target;
    }
  }
  ~TemporarySymlink() {
    if (created_) unlink(link_.c_str());
  }
  TemporarySymlink(const TemporarySymlink&) = delete;
  TemporarySymlink& operator=(const TemporarySymlink&) = delete;

  bool created() const { return created_; }

 private:
  std::string link_;
  bool created_ = false;
};

class RestoredMode {
 public:
  RestoredMode(std::string path, mode_t mode) : path_(std::move(path)) {
    struct stat st;
    if (stat(path_.c_str(), &st) == 0) {
      old_ = st.st_mode & 07777;
      chmod(path_.c_str(), mode);
    }
  }
  ~RestoredMode() {
    if (old_) chmod(path_.c_str(), *old_);
  }
  RestoredMode(const RestoredMode&) = delete;
  RestoredMode& operator=(const RestoredMode&) = delete;

 private:
  std::string path_;
  std::optional<mode_t> old_;
};

}  // namespace spacesfs::testing

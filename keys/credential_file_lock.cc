#include "keys/credential_file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace spacesfs::keys {

Result<CredentialFileLock> CredentialFileLock::Acquire(const std::string& credentials_path,
                                                       uid_t owner,
                                                       std::chrono::milliseconds wait) {
  const std::string path = credentials_path + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return Status(ErrorCode::kConfig,
                    path + ": is a symbolic link; remove it (it is only a lock)");
    }
    return Status(ErrorCode::kConfig, path + ": cannot open the lock file: " + std::strerror(err));
  }
  CredentialFileLock lock(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kConfig,
                  path + ": is not a regular file; remove it (it is only a lock)");
  }
  if (st.st_uid != owner && ::geteuid() == 0 && ::fchown(fd, owner, static_cast<gid_t>(-1)) != 0) {
    return Status(ErrorCode::kConfig, path + ": fchown: " + std::strerror(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      return Status(ErrorCode::kConfig, path + ": flock: " + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(
          ErrorCode::kTimeout,
          path + ": another process has held this lock for " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
              " s while writing the credential file; try again when it is done");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

CredentialFileLock::CredentialFileLock(CredentialFileLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

CredentialFileLock::~CredentialFileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace spacesfs::keys

// CredentialFileLock: the lock every writer of one credential file holds around its
// read-modify-write-rename, so two `spacesfs keys` commands writing the same file at once both
// land.
//
// The lock is an exclusive flock(2) on the sibling file PATH.lock (the credential file itself
// cannot carry it: each write renames a new file over it). PATH.lock is created on first use with
// mode 0600 (owned by the credential file's owner when root creates it) and never removed, since
// removing it would let two writers lock two different files. Readers (mounts) take no lock: they
// see the old or the new file, never a mix (see keys/credential_store.h).
//
// Acquire waits up to `wait` for another holder, then fails.
// Errors: kConfig (PATH.lock is a symbolic link or not a regular file, or cannot be created),
// kTimeout (still held by another process after `wait`). Messages name PATH.lock.
// Threading: one object per writer; the lock is released when the object is destroyed. Locks taken
// through separate objects exclude each other, in one process as across processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "common/result.h"

namespace spacesfs::keys {

class CredentialFileLock {
 public:
  static Result<CredentialFileLock> Acquire(
      const std::string& credentials_path, uid_t owner,
      std::chrono::milliseconds wait = std::chrono::seconds(30));

  CredentialFileLock(CredentialFileLock&& other) noexcept;
  CredentialFileLock& operator=(CredentialFileLock&&) = delete;
  CredentialFileLock(const CredentialFileLock&) = delete;
  ~CredentialFileLock();

 private:
  explicit CredentialFileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace spacesfs::keys

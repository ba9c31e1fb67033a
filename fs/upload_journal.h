// UploadJournal: a local, crash-safe record of the multipart uploads one daemon has in progress for
// one Space, so that the next mount of the Space can abort the uploads a killed daemon left on the
// server (unfinished uploads are invisible, billed, and never cleaned by S3 itself; its
// ListMultipartUploads cannot tell whose an upload is, so the marker is this local journal).
//
// Files live in `dir` (created with its missing parents, mode 0700, if missing), named
// "uploads-<first 16 hex digits of SHA-256(space_id)>-<pid>.journal" (mode 0600; "-<pid>-<n>" when
// that name is taken by a file a dead daemon with the same pid left). The space_id the filesystem
// passes is "<endpoint>|<bucket>|<prefix>". Each daemon holds an exclusive flock(2) on its own file
// for its lifetime, so a file whose lock can be taken belongs to a daemon that is gone. (A fork()ed
// child that does not exec keeps the lock: the descriptor is O_CLOEXEC only.)
//
// Lines are "start <upload_id> <hex of the key>\n" and "end <upload_id>\n" (keys may hold any
// byte), each appended with one write(2) and made durable with fdatasync(2) before Started/Ended
// return. A torn last line (no newline) and any malformed line are ignored; aborting an upload that
// in fact completed is harmless (the server answers NoSuchUpload), so callers write "end" after
// Complete or Abort returned, whatever its outcome. The file is emptied whenever no upload is in
// progress, so it stays small.
//
// Threading: an UploadJournal may be used from any number of threads (an internal mutex; it is held
// across the write and fdatasync, never across a network call). The static functions touch only
// files and may run in several daemons at once: a journal is read and removed only under its lock.
// Errors: kIoError naming the file and the errno text; kInvalidArgument for an upload id that is
// empty or holds a space or control character (S3 never issues one).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "s3/object_client.h"

namespace spacesfs::fs {

struct AbandonedUpload {
  std::string key;
  std::string upload_id;
};

// One journal of a daemon that is gone, and what it left unfinished (in the order started).
struct AbandonedJournal {
  std::string path;
  std::vector<AbandonedUpload> uploads;
  Status status;  // not OK: the journal could not be read (kIoError), its uploads are unknown
};

class UploadJournal {
 public:
  static Result<std::unique_ptr<UploadJournal>> Open(const std::string& dir,
                                                     const std::string& space_id);
  // Closes the file and deletes it when no upload is in progress. When some still are (the daemon
  // is exiting without finishing them), the file is kept: once the lock is gone the next mount of
  // the Space aborts them.
  ~UploadJournal();
  UploadJournal(const UploadJournal&) = delete;
  UploadJournal& operator=(const UploadJournal&) = delete;

  // Records an upload the server has created, before any part is sent.
  Status Started(const std::string& key, const std::string& upload_id);
  // Records that an upload was completed or aborted. An id not in progress is ignored.
  Status Ended(const std::string& upload_id);

  const std::string& path() const { return path_; }
  size_t in_progress() const;

  // "uploads-<16 hex digits>-": the start of every journal file name of space_id.
  static std::string FileNamePrefix(const std::string& space_id);

  // The journals of space_id in dir whose daemons are gone (lock free), with the uploads they
  // started and did not end; journals with nothing left unfinished are listed too (with no uploads)
  // so that ForgetAbandoned removes them. A live daemon's journal, this process's own included, is
  // never listed. A missing dir is no journal. A journal that cannot be read is listed with its
  // error in status; only failing to read dir itself fails the call.
  static Result<std::vector<AbandonedJournal>> FindAbandoned(const std::string& dir,
                                                             const std::string& space_id);
  // Removes a journal FindAbandoned listed, if it is still lock free and the same file, and every
  // upload it leaves unfinished (read again, under the lock) has an id in `gone`. Returns whether
  // it was removed (false when it changed hands, vanished, or still has uploads not gone).
  static Result<bool> ForgetAbandoned(const AbandonedJournal& journal,
                                      const std::set<std::string>& gone);

 private:
  UploadJournal(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Append(const std::string& line);  // requires mu_

  // Constant after construction.
  const int fd_;  // O_APPEND, flock(LOCK_EX) held until the destructor
  const std::string path_;

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::set<std::string> in_progress_;  // upload ids started and not ended
  bool torn_ = false;                  // a write failed part-way: the file may end mid-line
};

// Aborts every abandoned upload of this Space through client (NoSuchUpload / 404 counts as gone),
// logs one info line per upload aborted, and removes the journal files whose uploads are all gone.
// Returns how many were aborted. Never fails: errors are logged as warnings and the journal is kept
// for the next mount. Makes one AbortMultipartUpload request per abandoned upload, none when there
// is nothing to abort.
size_t AbortAbandonedUploads(s3::ObjectClient& client, const std::string& dir,
                             const std::string& space_id);

}  // namespace spacesfs::fs

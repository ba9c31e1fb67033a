#include "fs/upload_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "s3/sigv4.h"

namespace spacesfs::fs {
namespace {

constexpr const char* kSuffix = ".journal";
constexpr int kMaxOpenAttempts = 1000;

Status IoError(const std::string& path, std::string_view what, int err) {
  return Status(ErrorCode::kIoError,
                "upload journal " + path + ": " + std::string(what) + ": " + std::strerror(err));
}

bool ValidUploadId(std::string_view id) {
  return !id.empty() && std::none_of(id.begin(), id.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

// Whether fd is still the file at path (not unlinked or replaced since it was opened).
bool SameFile(int fd, const std::string& path) {
  struct stat by_fd {};
  struct stat by_path {};
  if (fstat(fd, &by_fd) != 0 || lstat(path.c_str(), &by_path) != 0) return false;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

// Creates dir and its missing parents, each new one with mode 0700.
Status MakeDirectories(const std::string& dir) {
  if (dir.empty()) return Status(ErrorCode::kInvalidArgument, "upload journal: no directory given");
  for (size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    std::string part = dir.substr(0, end);
    if (mkdir(part.c_str(), 0700) == 0) {
      if (chmod(part.c_str(), 0700) != 0) return IoError(part, "chmod", errno);
    } else if (errno != EEXIST) {
      return IoError(part, "mkdir", errno);
    }
    if (end == std::string::npos) break;
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return IoError(dir, "stat", errno);
  if (!S_ISDIR(st.st_mode)) return IoError(dir, "not a directory", ENOTDIR);
  return Status::Ok();
}

Result<std::string> ReadAll(int fd, const std::string& path) {
  std::string out;
  char buffer[8192];
  for (off_t offset = 0;;) {
    ssize_t n = pread(fd, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(path, "read", errno);
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
}

// The uploads a journal's text starts and does not end, in the order started. Only whole lines
// count: a torn last line and malformed lines are skipped.
std::vector<AbandonedUpload> Unfinished(std::string_view text) {
  std::map<std::string, std::pair<size_t, std::string>> open;  // id -> (line number, key)
  size_t line_number = 0;
  for (size_t newline; (newline = text.find('\n')) != std::string_view::npos;
       text.remove_prefix(newline + 1), ++line_number) {
    std::string_view line = text.substr(0, newline);
    std::vector<std::string_view> fields;
    for (size_t space; (space = line.find(' ')) != std::string_view::npos;
         line.remove_prefix(space + 1)) {
      fields.push_back(line.substr(0, space));
    }
    fields.push_back(line);
    if (fields.size() == 3 && fields[0] == "start" && ValidUploadId(fields[1])) {
      std::optional<std::string> key = s3::HexDecode(fields[2]);
      if (key && !key->empty()) open[std::string(fields[1])] = {line_number, std::move(*key)};
    } else if (fields.size() == 2 && fields[0] == "end") {
      open.erase(std::string(fields[1]));
    }
  }
  std::vector<std::pair<size_t, AbandonedUpload>> ordered;
  for (auto& [id, started] : open) {
    ordered.push_back({started.first, AbandonedUpload{std::move(started.second), id}});
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<AbandonedUpload> out;
  for (auto& entry : ordered) out.push_back(std::move(entry.second));
  return out;
}

// "uploads-<hash>-<pid>.journal" or "uploads-<hash>-<pid>-<n>.journal" of this prefix.
bool IsJournalName(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || !name.ends_with(kSuffix)) return false;
  std::string_view middle =
      name.substr(prefix.size(), name.size() - prefix.size() - strlen(kSuffix));
  if (middle.empty() || middle.front() == '-' || middle.back() == '-') return false;
  return std::all_of(middle.begin(), middle.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
}

// A journal of a gone daemon, opened and locked; closing the descriptor releases the lock.
class LockedJournal {
 public:
  // nullopt: the file is gone, replaced, or its daemon is alive.
  static Result<std::optional<LockedJournal>> Take(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) return std::optional<LockedJournal>();
      return IoError(path, "open", errno);
    }
    LockedJournal journal(fd);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return std::optional<LockedJournal>();
      return IoError(path, "flock", errno);
    }
    if (!SameFile(fd, path)) return std::optional<LockedJournal>();
    return std::optional<LockedJournal>(std::move(journal));
  }
  LockedJournal(LockedJournal&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  LockedJournal& operator=(LockedJournal&&) = delete;
  ~LockedJournal() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  explicit LockedJournal(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

std::string UploadJournal::FileNamePrefix(const std::string& space_id) {
  return "uploads-" + s3::Sha256Hex(space_id).substr(0, 16) + "-";
}

Result<std::unique_ptr<UploadJournal>> UploadJournal::Open(const std::string& dir,
                                                           const std::string& space_id) {
  SPACESFS_RETURN_IF_ERROR(MakeDirectories(dir));
  const std::string base = dir + "/" + FileNamePrefix(space_id) + std::to_string(getpid());
  int n = 0;
  for (int attempt = 0; attempt < kMaxOpenAttempts; ++attempt) {
    std::string path = base + (n == 0 ? "" : "-" + std::to_string(n)) + kSuffix;
    int fd =
        open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno != EEXIST) return IoError(path, "create", errno);
      ++n;  // a journal a gone daemon with this pid left: FindAbandoned will take care of it
      continue;
    }
    int locked = 0;
    while ((locked = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (locked != 0) {
      int err = errno;
      unlink(path.c_str());
      close(fd);
      return IoError(path, "flock", err);
    }
    // Another daemon may have taken the new, empty, not yet locked file for abandoned and removed
    // it: start again.
    if (!SameFile(fd, path)) {
      close(fd);
      continue;
    }
    if (fchmod(fd, 0600) != 0) {
      int err = errno;
      unlink(path.c_str());
      close(fd);
      return IoError(path, "chmod", err);
    }
    return std::unique_ptr<UploadJournal>(new UploadJournal(fd, path));
  }
  return Status(ErrorCode::kIoError, "upload journal " + base + kSuffix +
                                         ": no free file name after " +
                                         std::to_string(kMaxOpenAttempts) + " attempts");
}

UploadJournal::~UploadJournal() {
  std::lock_guard lock(mu_);
  if (in_progress_.empty()) {
    unlink(path_.c_str());  // still under the lock: nobody reads it as abandoned meanwhile
  } else {
    spdlog::warn(
        "{} multipart upload(s) not finished: {} is kept so that the next mount aborts them",
        in_progress_.size(), path_);
  }
  close(fd_);
}

size_t UploadJournal::in_progress() const {
  std::lock_guard lock(mu_);
  return in_progress_.size();
}

Status UploadJournal::Append(const std::string& line) {
  std::string data = torn_ ? "\n" + line : line;  // end a torn line first, so it is skipped
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      if (done > 0) torn_ = true;
      return IoError(path_, "write", err);
    }
    done += static_cast<size_t>(n);
  }
  torn_ = false;
  if (fdatasync(fd_) != 0) return IoError(path_, "fdatasync", errno);
  return Status::Ok();
}

Status UploadJournal::Started(const std::string& key, const std::string& upload_id) {
  if (!ValidUploadId(upload_id)) {
    return Status(ErrorCode::kInvalidArgument,
                  "upload journal " + path_ + ": upload id '" + upload_id + "' cannot be recorded");
  }
  if (key.empty()) {
    return Status(ErrorCode::kInvalidArgument, "upload journal " + path_ + ": empty key");
  }
  std::lock_guard lock(mu_);
  SPACESFS_RETURN_IF_ERROR(Append("start " + upload_id + " " + s3::HexEncode(key) + "\n"));
  in_progress_.insert(upload_id);
  return Status::Ok();
}

Status UploadJournal::Ended(const std::string& upload_id) {
  std::lock_guard lock(mu_);
  if (in_progress_.count(upload_id) == 0) return Status::Ok();
  SPACESFS_RETURN_IF_ERROR(Append("end " + upload_id + "\n"));
  in_progress_.erase(upload_id);
  // Nothing in progress: start the file over (a failure only leaves it longer).
  if (in_progress_.empty() && ftruncate(fd_, 0) == 0) torn_ = false;
  return Status::Ok();
}

Result<std::vector<AbandonedJournal>> UploadJournal::FindAbandoned(const std::string& dir,
                                                                   const std::string& space_id) {
  std::vector<std::string> names;
  {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return std::vector<AbandonedJournal>();
      return IoError(dir, "opendir", errno);
    }
    const std::string prefix = FileNamePrefix(space_id);
    errno = 0;
    while (const dirent* entry = readdir(d)) {
      if (IsJournalName(entry->d_name, prefix)) names.emplace_back(entry->d_name);
    }
    int err = errno;
    closedir(d);
    if (err != 0) return IoError(dir, "readdir", err);
  }
  std::sort(names.begin(), names.end());
  std::vector<AbandonedJournal> out;
  for (const std::string& name : names) {
    AbandonedJournal journal;
    journal.path = dir + "/" + name;
    Result<std::optional<LockedJournal>> locked = LockedJournal::Take(journal.path);
    if (locked.ok() && !locked->has_value()) continue;
    Result<std::string> text =
        locked.ok() ? ReadAll((*locked)->fd(), journal.path) : Result<std::string>(locked.status());
    if (text.ok()) {
      journal.uploads = Unfinished(*text);
    } else {
      journal.status = text.status();
    }
    out.push_back(std::move(journal));
  }
  return out;
}

Result<bool> UploadJournal::ForgetAbandoned(const AbandonedJournal& journal,
                                            const std::set<std::string>& gone) {
  Result<std::optional<LockedJournal>> locked = LockedJournal::Take(journal.path);
  if (!locked.ok()) return locked.status();
  if (!locked->has_value()) return false;
  Result<std::string> text = ReadAll((*locked)->fd(), journal.path);
  if (!text.ok()) return text.status();
  for (const AbandonedUpload& upload : Unfinished(*text)) {
    if (gone.count(upload.upload_id) == 0) return false;
  }
  if (unlink(journal.path.c_str()) != 0) return IoError(journal.path, "unlink", errno);
  return true;
}

size_t AbortAbandonedUploads(s3::ObjectClient& client, const std::string& dir,
                             const std::string& space_id) {
  Result<std::vector<AbandonedJournal>> journals = UploadJournal::FindAbandoned(dir, space_id);
  if (!journals.ok()) {
    spdlog::warn("unfinished uploads of earlier mounts not cleaned up: {}",
                 journals.status().ToString());
    return 0;
  }
  size_t aborted = 0;
  for (const AbandonedJournal& journal : *journals) {
    if (!journal.status.ok()) {
      spdlog::warn("unfinished uploads of an earlier mount not cleaned up: {}",
                   journal.status.ToString());
      continue;
    }
    std::set<std::string> gone;
    for (const AbandonedUpload& upload : journal.uploads) {
      Status st = client.AbortMultipartUpload(upload.key, upload.upload_id);
      std::string key = EscapeControlCharacters(upload.key);
      if (st.ok()) {
        ++aborted;
        gone.insert(upload.upload_id);
        spdlog::info(
            "aborted the unfinished multipart upload of '{}' in Space '{}' that an earlier "
            "spacesfs left (upload id {})",
            key, client.bucket(), upload.upload_id);
      } else if (st.code() == ErrorCode::kNotFound) {
        gone.insert(upload.upload_id);
        spdlog::debug("unfinished multipart upload {} of '{}' is already gone", upload.upload_id,
                      key);
      } else {
        spdlog::warn(
            "could not abort the unfinished multipart upload of '{}' in Space '{}' (upload "
            "id {}); {} is kept to try again at the next mount: {}",
            key, client.bucket(), upload.upload_id, journal.path, st.ToString());
      }
    }
    Result<bool> removed = UploadJournal::ForgetAbandoned(journal, gone);
    if (!removed.ok()) spdlog::warn("{}", removed.status().ToString());
  }
  return aborted;
}

}  // namespace spacesfs::fs

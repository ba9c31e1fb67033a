#include "keys/credential_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <random>

#include "auth/credentials.h"
#include "keys/credential_file_lock.h"

namespace spacesfs::keys {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The section name of a "[name]" line, or nullopt-like "" with is_header false.
bool SectionHeader(std::string_view line, std::string* name) {
  std::string_view t = Trim(line);
  if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
    *name = std::string(Trim(t.substr(1, t.size() - 2)));
    return true;
  }
  return false;
}

bool IsCommentOrBlank(std::string_view line) {
  std::string_view t = Trim(line);
  return t.empty() || t.front() == '#' || t.front() == ';';
}

std::string Dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status MissingDirectory(const std::string& path, const std::string& dir) {
  return Status(
      ErrorCode::kConfig,
      path + ": directory " + dir + " does not exist; create it: run: install -d -m 700 " + dir);
}

Status IoError(const std::string& what, int err) {
  return Status(ErrorCode::kIoError, what + ": " + std::strerror(err));
}

// Where [name]'s section lies in `text`, in lines (each with its '\n'): [begin, keep_from) is the
// section itself; comments and blank lines in [keep_from, stop) just before the next section belong
// to that next one. begin == lines.size() when there is no such section.
struct SectionSpan {
  std::vector<std::string_view> lines;
  size_t begin = 0, keep_from = 0, stop = 0;
  bool found() const { return begin != lines.size(); }
};

SectionSpan FindSection(std::string_view text, std::string_view name) {
  SectionSpan span;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    span.lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  const size_t n = span.lines.size();
  span.begin = span.stop = n;
  for (size_t i = 0; i < n; ++i) {
    std::string header;
    if (!SectionHeader(span.lines[i], &header)) continue;
    if (span.begin == n) {
      if (header == name) span.begin = i;
    } else {
      span.stop = i;
      break;
    }
  }
  span.keep_from = span.stop;
  if (span.found() && span.stop != n) {
    while (span.keep_from > span.begin + 1 && IsCommentOrBlank(span.lines[span.keep_from - 1])) {
      --span.keep_from;
    }
  }
  return span;
}

}  // namespace

std::string FormatProfile(const NewProfile& profile) {
  std::string out = "[" + profile.name + "]\n";
  if (!profile.comment.empty()) out += "# " + profile.comment + "\n";
  out += "access_key_id = " + profile.access_key_id + "\n";
  out += "secret_access_key = ";
  out += profile.secret_access_key.reveal();
  out += "\n";
  if (!profile.region.empty()) out += "region = " + profile.region + "\n";
  if (!profile.endpoint.empty()) out += "endpoint = " + profile.endpoint + "\n";
  if (!profile.ca_bundle.empty()) out += "ca_bundle = " + profile.ca_bundle + "\n";
  for (const auth::Grant& grant : profile.grants) out += "grant = " + auth::FormatGrant(grant) + "\n";
  return out;
}

std::string ReplaceSection(std::string_view text, std::string_view name, std::string_view section,
                           bool* found) {
  const SectionSpan span = FindSection(text, name);
  *found = span.found();
  std::string out;
  if (!*found) {
    out = std::string(text);
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    out += section;
    return out;
  }
  for (size_t i = 0; i < span.begin; ++i) out += span.lines[i];
  out += section;
  if (span.keep_from == span.stop && span.stop != span.lines.size()) out += '\n';
  for (size_t i = span.keep_from; i < span.lines.size(); ++i) out += span.lines[i];
  return out;
}

std::string ExtractSection(std::string_view text, std::string_view name) {
  const SectionSpan span = FindSection(text, name);
  std::string out;
  if (!span.found()) return out;
  for (size_t i = span.begin; i < span.keep_from; ++i) out += span.lines[i];
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

Result<Secret> ReadExisting(const std::string& path, uid_t expected_owner) {
  Result<Secret> content = auth::ReadCredentialFile(path, expected_owner);
  if (!content.ok() && content.status().code() == ErrorCode::kNotFound) return Secret();
  return content;
}

Result<bool> HasProfile(const std::string& path, std::string_view name, uid_t expected_owner) {
  Result<Secret> content = ReadExisting(path, expected_owner);
  if (!content.ok()) return content.status();
  if (content->empty()) return false;
  Result<std::vector<auth::Profile>> profiles = auth::ParseCredentials(content->reveal(), path);
  if (!profiles.ok()) return profiles.status();
  for (const auth::Profile& profile : *profiles) {
    if (profile.name == name) return true;
  }
  return false;
}

Status WriteFileAtomically(const std::string& path, std::string_view content, uid_t owner,
                           gid_t group) {
  const std::string dir = Dir(path);
  std::random_device random;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 10 && fd < 0; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(random()));
    temp = path + ".tmp-" + suffix;
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return MissingDirectory(path, dir);
    return Status(ErrorCode::kConfig,
                  path + ": cannot create a file in " + dir + ": " + std::strerror(err));
  }
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return IoError(path + ": " + what, err);
  };
  if (::fchmod(fd, 0600) != 0) return fail("fchmod");
  if (::geteuid() == 0 || owner != ::geteuid()) {
    if (::fchown(fd, owner, group) != 0) return fail("fchown");
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return IoError(path + ": close", err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return IoError(path + ": rename", err);
  }
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return IoError(dir + ": open directory for fsync", errno);
  const int synced = ::fsync(dir_fd);
  const int err = errno;
  ::close(dir_fd);
  if (synced != 0) return IoError(dir + ": fsync", err);
  return Status::Ok();
}

namespace {

// The read-modify-write of `path` under its lock: `edit` turns the current content (checked and
// parsed like any credential file; "" when the file does not exist) into the new content, which
// must parse too before it is written atomically with the file's owner, group and mode 0600.
using Edit = std::function<Status(std::string_view current, std::string* next)>;

Status UpdateFile(const std::string& path, uid_t expected_owner, const Edit& edit) {
  const std::string dir = Dir(path);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT) return MissingDirectory(path, dir);
  Result<CredentialFileLock> lock = CredentialFileLock::Acquire(path, expected_owner);
  if (!lock.ok()) return lock.status();
  Result<Secret> existing = ReadExisting(path, expected_owner);
  if (!existing.ok()) return existing.status();
  uid_t owner = expected_owner;
  gid_t group = ::getegid();
  if (!existing->empty() && ::lstat(path.c_str(), &st) == 0) {
    owner = st.st_uid;
    group = st.st_gid;
  }
  if (!existing->empty()) {
    Result<std::vector<auth::Profile>> old = auth::ParseCredentials(existing->reveal(), path);
    if (!old.ok()) return old.status().WithContext("not changing a credential file that does not parse");
  }
  std::string text;
  Status edited = edit(existing->reveal(), &text);
  if (!edited.ok()) {
    WipeString(text);
    return edited;
  }
  Result<std::vector<auth::Profile>> check = auth::ParseCredentials(text, path);
  if (!check.ok()) {
    WipeString(text);
    return check.status().WithContext("the new credential file would not parse");
  }
  Status written = WriteFileAtomically(path, text, owner, group);
  WipeString(text);
  return written;
}

}  // namespace

Status WriteProfile(const std::string& path, const NewProfile& profile, bool replace,
                    uid_t expected_owner) {
  return UpdateFile(path, expected_owner, [&](std::string_view current, std::string* next) {
    std::string section = FormatProfile(profile);
    bool found = false;
    *next = ReplaceSection(current, profile.name, section, &found);
    WipeString(section);
    if (found && !replace) {
      return Status(ErrorCode::kExists, path + ": profile [" + profile.name +
                                            "] already exists; pass --force to replace it");
    }
    return Status::Ok();
  });
}

Status RestoreSection(const std::string& path, const std::string& name, std::string_view earlier,
                      uid_t expected_owner) {
  return UpdateFile(path, expected_owner, [&](std::string_view current, std::string* next) {
    std::string section = ExtractSection(earlier, name);
    if (section.empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    path + ": the earlier content has no profile [" + name + "] to put back");
    }
    bool found = false;
    *next = ReplaceSection(current, name, section, &found);
    WipeString(section);
    return Status::Ok();
  });
}

}  // namespace spacesfs::keys

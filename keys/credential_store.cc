#include "keys/credential_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "auth/credentials.h"

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

Status IoError(const std::string& what, int err) {
  return Status(ErrorCode::kIoError, what + ": " + std::strerror(err));
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
  for (const auth::Grant& grant : profile.grants) out += "grant = " + auth::FormatGrant(grant) + "\n";
  return out;
}

std::string ReplaceSection(std::string_view text, std::string_view name, std::string_view section,
                           bool* found) {
  // Split into lines, keeping their ends.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  size_t begin = lines.size(), stop = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string header;
    if (!SectionHeader(lines[i], &header)) continue;
    if (begin == lines.size()) {
      if (header == name) begin = i;
    } else {
      stop = i;
      break;
    }
  }
  *found = begin != lines.size();
  std::string out;
  if (!*found) {
    out = std::string(text);
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    out += section;
    return out;
  }
  // Comments and blank lines just before the next section belong to it: keep them.
  size_t keep_from = stop;
  if (stop != lines.size()) {
    while (keep_from > begin + 1 && IsCommentOrBlank(lines[keep_from - 1])) --keep_from;
  }
  for (size_t i = 0; i < begin; ++i) out += lines[i];
  out += section;
  if (keep_from == stop && stop != lines.size()) out += '\n';
  for (size_t i = keep_from; i < lines.size(); ++i) out += lines[i];
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
    if (err == ENOENT) {
      return Status(ErrorCode::kConfig, path + ": directory " + dir +
                                            " does not exist; create it: run: install -d -m 700 " +
                                            dir);
    }
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

Status WriteProfile(const std::string& path, const NewProfile& profile, bool replace,
                    uid_t expected_owner) {
  Result<Secret> existing = ReadExisting(path, expected_owner);
  if (!existing.ok()) return existing.status();
  uid_t owner = expected_owner;
  gid_t group = ::getegid();
  struct stat st;
  if (!existing->empty() && ::lstat(path.c_str(), &st) == 0) {
    owner = st.st_uid;
    group = st.st_gid;
  }
  if (!existing->empty()) {
    Result<std::vector<auth::Profile>> old = auth::ParseCredentials(existing->reveal(), path);
    if (!old.ok()) return old.status().WithContext("not changing a credential file that does not parse");
  }
  std::string section = FormatProfile(profile);
  bool found = false;
  std::string text = ReplaceSection(existing->reveal(), profile.name, section, &found);
  WipeString(section);
  if (found && !replace) {
    WipeString(text);
    return Status(ErrorCode::kExists, path + ": profile [" + profile.name +
                                          "] already exists; pass --force to replace it");
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

}  // namespace spacesfs::keys

// The I/O half of the credential store: opening credential and secret files safely, resolving
// secret_file / secret_credential, and LoadProfile.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "auth/credentials.h"

namespace spacesfs::auth {
namespace {

Status ConfigError(std::string message) { return Status(ErrorCode::kConfig, std::move(message)); }

// The path as one shell word, for the "run: ..." part of a message.
std::string ShellWord(std::string_view s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("/._-+:@%,=", c) == nullptr) {
      plain = false;
    }
  }
  if (plain) return std::string(s);
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Status CheckCredentialFileSafety(int fd, std::string_view path, uid_t expected_owner) {
  const std::string name(path);
  const std::string word = ShellWord(path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return ConfigError(name + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return ConfigError(name + ": is " + FileKind(st.st_mode) +
                       "; credential files must be regular files with mode 0600");
  }
  const mode_t mode = st.st_mode & 07777;
  const bool open_mode = (mode & 077) != 0;
  if (st.st_uid != expected_owner) {
    std::string fix = "run: chown " + std::to_string(expected_owner) + " " + word;
    if (open_mode) fix += " && chmod 600 " + word;
    return ConfigError(name + ": owned by uid " + std::to_string(st.st_uid) + ", expected uid " +
                       std::to_string(expected_owner) + "; " + fix);
  }
  if (open_mode) {
    const char* what = (mode & 044) ? "lets group/others read secrets"
                       : (mode & 022) ? "lets group/others modify it"
                                      : "gives group/others access";
    return ConfigError(name + ": mode " + Octal(mode) + " " + what + "; run: chmod 600 " + word);
  }
  return Status::Ok();
}

Result<Secret> ReadCredentialFile(const std::string& path, uid_t expected_owner) {
  const std::string word = ShellWord(path);
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return ConfigError(path +
                         ": is a symbolic link, which is refused for credential files; replace it "
                         "with the file itself: run: cp --remove-destination \"$(readlink -f " +
                         word + ")\" " + word);
    }
    if (err == ENOENT) {
      return Status(ErrorCode::kNotFound,
                    path + ": no such file; create it: run: install -D -m 600 /dev/null " + word);
    }
    if (err == EACCES) {
      return ConfigError(path + ": permission denied; it must be readable by its owner, uid " +
                         std::to_string(expected_owner));
    }
    return ConfigError(path + ": cannot open: " + std::strerror(err));
  }
  SPACESFS_RETURN_IF_ERROR(CheckCredentialFileSafety(fd.get(), path, expected_owner));

  std::string content(kMaxCredentialFileSize + 1, '\0');
  size_t used = 0;
  while (used < content.size()) {
    ssize_t n = ::read(fd.get(), content.data() + used, content.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      WipeString(content);
      return ConfigError(path + ": read failed: " + std::strerror(err));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > kMaxCredentialFileSize) {
    WipeString(content);
    return ConfigError(path + ": larger than " + std::to_string(kMaxCredentialFileSize) +
                       " bytes; not a credential file");
  }
  content.resize(used);
  return Secret(std::move(content));
}

Status ResolveSecret(Profile* profile, uid_t expected_owner,
                     const std::optional<std::string>& credentials_directory) {
  if (profile->secret_source == SecretSource::kInline) return Status::Ok();
  const std::string where = profile->source_file + ":" + std::to_string(profile->line) + ": [" +
                            profile->name + "]";
  std::string path;
  if (profile->secret_source == SecretSource::kFile) {
    path = profile->secret_reference;
  } else {
    if (!credentials_directory || credentials_directory->empty()) {
      return ConfigError(where + " uses secret_credential = " + profile->secret_reference +
                         " but $CREDENTIALS_DIRECTORY is not set (systemd sets it for units with "
                         "LoadCredential=" +
                         profile->secret_reference + ")");
    }
    path = *credentials_directory + "/" + profile->secret_reference;
  }
  Result<Secret> content = ReadCredentialFile(path, expected_owner);
  if (!content.ok()) return content.status().WithContext(where);
  std::string_view text = content->reveal();
  if (text.size() >= 1 && text.back() == '\n') text.remove_suffix(1);
  if (text.size() >= 1 && text.back() == '\r') text.remove_suffix(1);
  if (text.empty()) return ConfigError(where + ": " + path + ": secret is empty");
  for (char c : text) {
    if (c <= 0x20 || c == 0x7f) {
      return ConfigError(where + ": " + path +
                         ": secret contains spaces, control characters or more than one line");
    }
  }
  profile->secret_access_key = Secret(std::string(text));
  return Status::Ok();
}

Result<Profile> LoadProfile(const std::string& path, std::string_view profile_name,
                            uid_t expected_owner,
                            const std::optional<std::string>& credentials_directory) {
  Result<Secret> text = ReadCredentialFile(path, expected_owner);
  if (!text.ok()) return text.status();
  Result<std::vector<Profile>> profiles = ParseCredentials(text->reveal(), path);
  text->Wipe();
  if (!profiles.ok()) return profiles.status();
  std::string names;
  for (Profile& profile : *profiles) {
    if (profile.name == profile_name) {
      SPACESFS_RETURN_IF_ERROR(ResolveSecret(&profile, expected_owner, credentials_directory));
      return std::move(profile);
    }
    names += (names.empty() ? "" : ", ") + profile.name;
  }
  return Status(ErrorCode::kNotFound, path + ": no profile [" + std::string(profile_name) + "]" +
                                          (names.empty() ? " (the file has no profiles)"
                                                         : " (profiles: " + names + ")"));
}

Result<Profile> LoadProfile(const std::string& path, std::string_view profile_name,
                            uid_t expected_owner) {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  return LoadProfile(path, profile_name, expected_owner,
                     dir ? std::optional<std::string>(dir) : std::nullopt);
}

std::string DefaultCredentialPath(uid_t uid, std::string_view home) {
  if (uid == 0) return std::string(kSystemCredentialPath);
  std::string out(home);
  if (out.empty() || out.back() != '/') out += '/';
  return out + std::string(kUserCredentialPath);
}

}  // namespace spacesfs::auth

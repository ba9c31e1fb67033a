#include "cli/mount_options.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include "auth/secret_options.h"

namespace spacesfs::cli {
namespace {

Status ConfigError(std::string message) { return Status(ErrorCode::kConfig, std::move(message)); }

std::vector<std::string> SplitOptions(std::string_view list) {
  std::vector<std::string> items;
  std::string current;
  for (char c : list) {
    if (c == ',') {
      if (!current.empty()) items.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) items.push_back(current);
  return items;
}

Result<uint64_t> ParseUnsigned(std::string_view name, std::string_view value, int base = 10) {
  uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out, base);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
    return ConfigError("mount option '" + std::string(name) + "' needs a number, got '" +
                       std::string(value) + "'");
  }
  return out;
}

// A byte count with an optional K, M or G suffix (powers of 1024): "128M", "1G", "65536".
Result<uint64_t> ParseBytes(std::string_view name, std::string_view value) {
  uint64_t scale = 1;
  if (!value.empty()) {
    switch (value.back()) {
      case 'k': case 'K': scale = 1ull << 10; break;
      case 'm': case 'M': scale = 1ull << 20; break;
      case 'g': case 'G': scale = 1ull << 30; break;
      default: break;
    }
    if (scale != 1) value.remove_suffix(1);
  }
  Result<uint64_t> n = ParseUnsigned(name, value);
  if (!n.ok()) {
    return ConfigError("mount option '" + std::string(name) +
                       "' needs a size such as 128M or 1G, got '" + std::string(value) + "'");
  }
  if (*n > (1ull << 50) / scale) {
    return ConfigError("mount option '" + std::string(name) + "' is too large");
  }
  return *n * scale;
}

Result<double> ParseSeconds(std::string_view name, std::string_view value) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || out < 0) {
    return ConfigError("mount option '" + std::string(name) + "' needs seconds (e.g. 1.5), got '" +
                       std::string(value) + "'");
  }
  return out;
}

Result<mode_t> ParseMode(std::string_view name, std::string_view value) {
  Result<uint64_t> n = ParseUnsigned(name, value, 8);
  if (!n.ok() || *n > 07777) {
    return ConfigError("mount option '" + std::string(name) + "' needs an octal mode (e.g. 0644), got '" +
                       std::string(value) + "'");
  }
  return static_cast<mode_t>(*n);
}

constexpr char kSecretsGoElsewhere[] =
    "secrets are never given as options (they show in ps and /etc/fstab); put "
    "secret_access_key in the credentials file (/etc/spacesfs/credentials or "
    "~/.config/spacesfs/credentials) under the profile's section";

bool LooksLikeSecretValue(std::string_view text) {
  return auth::LooksLikeSecret(text) || auth::LooksLikeDigitalOceanToken(text);
}

bool IsSecretOption(std::string_view name) {
  static const std::set<std::string, std::less<>> kSecretNames = {
      "secret", "secret_key", "secret_access_key", "aws_secret_access_key", "password",
      "passwd", "secretkey", "session_token", "token", "access_key_secret"};
  return kSecretNames.count(name) > 0;
}

// Options mount(8), fstab or systemd use that mean nothing to the daemon itself.
bool IsMountHelperOption(std::string_view name) {
  static const std::set<std::string, std::less<>> kIgnored = {
      "_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "owner", "group",
      "defaults", "dev", "nodev", "suid", "nosuid", "atime", "noatime",
      "relatime", "norelatime", "strictatime", "diratime", "nodiratime", "lazytime", "sync",
      "async", "dirsync", "rw", "comment"};
  return kIgnored.count(name) > 0 || name.starts_with("x-") || name.starts_with("comment=");
}

}  // namespace

Result<MountTarget> ParseMountTarget(std::string_view text) {
  MountTarget target;
  size_t colon = text.find(':');
  target.space = std::string(text.substr(0, colon));
  if (target.space.empty()) {
    return ConfigError("'" + std::string(text) + "' names no Space: use SPACE or SPACE:/PREFIX");
  }
  if (colon != std::string_view::npos) {
    std::string_view prefix = text.substr(colon + 1);
    while (prefix.starts_with('/')) prefix.remove_prefix(1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    if (!prefix.empty()) target.prefix = std::string(prefix) + "/";
    // Components of the prefix must be storable, normal path names.
    size_t start = 0;
    while (start < target.prefix.size()) {
      size_t slash = target.prefix.find('/', start);
      std::string_view part(target.prefix.data() + start, slash - start);
      if (part.empty() || part == "." || part == "..") {
        return ConfigError("prefix '" + std::string(text.substr(colon + 1)) +
                           "' has an empty, '.' or '..' component");
      }
      start = slash + 1;
    }
  }
  for (char c : target.space) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || target.space.size() < 3 || target.space.size() > 63) {
      return ConfigError("'" + target.space +
                         "' is not a Space name (3-63 characters: a-z, 0-9, '-' and '.')");
    }
  }
  return target;
}

Result<MountOptions> ParseMountOptions(const std::vector<std::string>& option_lists) {
  MountOptions o;
  std::vector<std::string> unknown;
  bool cache_size_given = false;
  for (const std::string& list : option_lists) {
    for (const std::string& item : SplitOptions(list)) {
      size_t eq = item.find('=');
      std::string name = item.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
      bool has_value = eq != std::string::npos;
      auto need_value = [&]() -> Status {
        if (!has_value || value.empty()) return ConfigError("mount option '" + name + "' needs a value");
        return Status::Ok();
      };
      if (IsSecretOption(name)) {
        return ConfigError("mount option '" + name + "' refused: " + kSecretsGoElsewhere);
      }
      // A value (or a bare item) shaped like a secret key or an API token is refused without
      // echoing it, whatever option carries it.
      if (LooksLikeSecretValue(value) || LooksLikeSecretValue(name)) {
        const std::string which = LooksLikeSecretValue(name) ? "an item" : "option '" + name + "'";
        return ConfigError("mount option refused: " + which +
                           " looks like a secret key or API token; " + kSecretsGoElsewhere);
      }
      Status st;
      if (name == "profile") {
        st = need_value();
        o.profile = value;
      } else if (name == "credentials") {
        st = need_value();
        o.credentials_file = value;
      } else if (name == "uid" || name == "gid") {
        st = need_value();
        if (st.ok()) {
          Result<uint64_t> n = ParseUnsigned(name, value);
          if (!n.ok()) return n.status();
          if (name == "uid") o.uid = static_cast<uid_t>(*n); else o.gid = static_cast<gid_t>(*n);
        }
      } else if (name == "umask" || name == "file_mode" || name == "dir_mode") {
        st = need_value();
        if (st.ok()) {
          Result<mode_t> m = ParseMode(name, value);
          if (!m.ok()) return m.status();
          if (name == "umask") o.umask = *m;
          else if (name == "file_mode") o.file_mode = *m;
          else o.dir_mode = *m;
        }
      } else if (name == "allow_other") {
        o.allow_other = true;
      } else if (name == "allow_root") {
        o.allow_root = true;
      } else if (name == "default_permissions") {
        o.default_permissions = true;
      } else if (name == "nodefault_permissions" || name == "no_default_permissions") {
        o.default_permissions = false;
      } else if (name == "ro") {
        o.read_only = true;
      } else if (name == "rw") {
        o.read_only = false;
      } else if (name == "noexec") {
        o.no_exec = true;
      } else if (name == "exec") {
        o.no_exec = false;
      } else if (name == "verify_reads") {
        o.verify_reads = true;
      } else if (name == "noverify_reads") {
        o.verify_reads = false;
      } else if (name == "cache") {
        st = need_value();
        o.cache_dir = value;
      } else if (name == "memory_budget" || name == "part_size" || name == "max_read_ahead" ||
                 name == "cache_size") {
        st = need_value();
        if (st.ok()) {
          Result<uint64_t> bytes = ParseBytes(name, value);
          if (!bytes.ok()) return bytes.status();
          if (name == "memory_budget") {
            if (*bytes < (16ull << 20)) {
              return ConfigError("mount option 'memory_budget' must be at least 16M");
            }
            o.memory_budget = *bytes;
          } else if (name == "part_size") {
            if (*bytes < (5ull << 20) || *bytes > (5ull << 30)) {
              return ConfigError("mount option 'part_size' must be between 5M and 5G (S3's limits)");
            }
            o.part_size = *bytes;
          } else if (name == "cache_size") {
            if (*bytes < (16ull << 20)) {
              return ConfigError("mount option 'cache_size' must be at least 16M");
            }
            cache_size_given = true;
            o.cache_size = *bytes;
          } else {
            o.max_read_ahead = *bytes;
          }
        }
      } else if (name == "upload_parallel") {
        st = need_value();
        if (st.ok()) {
          Result<uint64_t> n = ParseUnsigned(name, value);
          if (!n.ok()) return n.status();
          if (*n < 1 || *n > 64) return ConfigError("mount option 'upload_parallel' must be 1 to 64");
          o.upload_parallel = *n;
        }
      } else if (name == "staging_dir") {
        st = need_value();
        o.staging_dir = value;
      } else if (name == "state_dir") {
        st = need_value();
        o.state_dir = value;
      } else if (name == "metadata_flush_delay") {
        st = need_value();
        if (st.ok()) {
          Result<double> s = ParseSeconds(name, value);
          if (!s.ok()) return s.status();
          if (*s > 3600) {
            return ConfigError("mount option 'metadata_flush_delay' must be 0 to 3600 seconds");
          }
          o.metadata_flush_delay = *s;
        }
      } else if (name == "connect_timeout" || name == "request_timeout") {
        st = need_value();
        if (st.ok()) {
          Result<double> s = ParseSeconds(name, value);
          if (!s.ok()) return s.status();
          if (*s < 1 || *s > 3600) {
            return ConfigError("mount option '" + name + "' must be 1 to 3600 seconds");
          }
          (name == "connect_timeout" ? o.connect_timeout : o.request_timeout) = *s;
        }
      } else if (name == "retries") {
        st = need_value();
        if (st.ok()) {
          Result<uint64_t> n = ParseUnsigned(name, value);
          if (!n.ok()) return n.status();
          if (*n > 10) return ConfigError("mount option 'retries' must be 0 to 10");
          o.retries = static_cast<int>(*n);
        }
      } else if (name == "sign_payload") {
        st = need_value();
        if (st.ok() && value != "auto" && value != "always") {
          return ConfigError("mount option 'sign_payload' must be auto or always; got '" + value +
                             "'");
        }
        o.sign_payload_over_tls = value == "always";
      } else if (name == "attr_timeout" || name == "entry_timeout" || name == "negative_timeout" ||
                 name == "stop_timeout") {
        st = need_value();
        if (st.ok()) {
          Result<double> s = ParseSeconds(name, value);
          if (!s.ok()) return s.status();
          if (name == "attr_timeout") o.attr_timeout = *s;
          else if (name == "entry_timeout") o.entry_timeout = *s;
          else if (name == "negative_timeout") o.negative_timeout = *s;
          else o.stop_timeout = *s;
        }
      } else if (name == "log_level") {
        st = need_value();
        static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn",
                                                      "error", "critical", "off"};
        if (st.ok() && kLevels.count(value) == 0) {
          return ConfigError("mount option 'log_level' must be one of trace, debug, info, warn, "
                             "error, critical, off; got '" + value + "'");
        }
        o.log_level = value;
      } else if (name == "log_file") {
        st = need_value();
        o.log_file = value;
      } else if (name == "fsname") {
        st = need_value();
        o.fsname = value;
      } else if (name == "foreground") {
        o.foreground = true;
      } else if (name == "debug") {
        o.debug = true;
        o.foreground = true;
      } else if (IsMountHelperOption(name)) {
        // Meaningful to mount(8)/systemd only.
      } else {
        unknown.push_back(name);
      }
      if (!st.ok()) return st;
    }
  }
  if (cache_size_given && o.cache_dir.empty()) {
    return ConfigError("mount option 'cache_size' needs 'cache=DIR' (the cache's directory)");
  }
  if (!unknown.empty()) {
    std::string names;
    for (const std::string& n : unknown) {
      // A bare item that could be a secret the shape check let through is not repeated.
      const std::string shown = auth::MayBeSecret(n)
                                    ? "(" + std::to_string(n.size()) + " characters, not shown)"
                                    : n;
      names += (names.empty() ? "'" : ", '") + shown + "'";
    }
    return ConfigError(std::string("unknown mount option") + (unknown.size() > 1 ? "s " : " ") +
                       names + " (see spacesfs(8))");
  }
  return o;
}

uint64_t DataPathBudget(uint64_t memory_budget) {
  constexpr uint64_t kDaemonOwn = 32ull << 20;
  return memory_budget - std::min(kDaemonOwn, memory_budget / 2);
}

}  // namespace spacesfs::cli

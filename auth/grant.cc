#include "auth/grant.h"

#include <cctype>

namespace spacesfs::auth {
namespace {

bool IsSpaceChar(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpaceChar(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpaceChar(s.back())) s.remove_suffix(1);
  return s;
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool LooksLikeIpv4(std::string_view s) {
  int parts = 0;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (part.empty() || part.size() > 3) return false;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

Status ConfigError(std::string message) { return Status(ErrorCode::kConfig, std::move(message)); }

}  // namespace

Status ValidateSpaceName(std::string_view name) {
  const std::string quoted = "'" + std::string(name) + "'";
  if (name.size() < 3 || name.size() > 63) {
    return ConfigError("Space name " + quoted + " must be 3 to 63 characters long");
  }
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-') {
      return ConfigError("Space name " + quoted +
                         " may only contain lower-case letters, digits, '.' and '-'");
    }
  }
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) {
    return ConfigError("Space name " + quoted + " must start and end with a letter or digit");
  }
  if (name.find("..") != name.npos || name.find(".-") != name.npos ||
      name.find("-.") != name.npos) {
    return ConfigError("Space name " + quoted + " must not contain '..', '.-' or '-.'");
  }
  if (LooksLikeIpv4(name)) {
    return ConfigError("Space name " + quoted + " must not look like an IP address");
  }
  if (name.substr(0, 4) == "xn--") {
    return ConfigError("Space name " + quoted + " must not start with 'xn--'");
  }
  return Status::Ok();
}

Result<std::string> NormalizeGrantPrefix(std::string_view prefix) {
  if (prefix.empty()) return std::string();
  if (prefix.front() == '/') {
    return ConfigError("prefix must not start with '/'");
  }
  for (char c : prefix) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return ConfigError("prefix must not contain NUL or control characters");
    }
  }
  std::string_view rest = prefix;
  if (rest.back() == '/') rest.remove_suffix(1);
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    std::string_view part = rest.substr(start, slash == rest.npos ? rest.npos : slash - start);
    if (part.empty()) return ConfigError("prefix must not contain an empty component ('//')");
    if (part == "." || part == "..") {
      return ConfigError("prefix must not contain a '" + std::string(part) + "' component");
    }
    if (slash == rest.npos) break;
    start = slash + 1;
  }
  return std::string(rest) + "/";
}

bool IsValidPrincipalName(std::string_view name) {
  if (!name.empty() && name.back() == '$') name.remove_suffix(1);
  if (name.empty() || name.size() > 64 || name.front() == '-') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

Result<Grant> ParseGrant(std::string_view text) {
  text = Trim(text);
  const std::string quoted = "'" + std::string(text) + "'";
  const std::string kShape = " (expected SPACE[/PREFIX]:PERMISSION [USER|@GROUP])";
  size_t colon = text.rfind(':');
  if (colon == text.npos) {
    return ConfigError("grant " + quoted + " has no ':PERMISSION'" + kShape);
  }
  std::string_view target = text.substr(0, colon);
  std::string_view tail = text.substr(colon + 1);
  if (target.empty()) return ConfigError("grant " + quoted + " names no Space" + kShape);
  if (IsSpaceChar(target.back())) {
    return ConfigError("grant " + quoted + " has a space before ':'" + kShape);
  }

  Grant grant;
  size_t slash = target.find('/');
  std::string_view space = target.substr(0, slash);
  Status space_ok = ValidateSpaceName(space);
  if (!space_ok.ok()) return space_ok.WithContext("grant " + quoted);
  grant.space = std::string(space);
  if (slash != target.npos) {
    Result<std::string> prefix = NormalizeGrantPrefix(target.substr(slash + 1));
    if (!prefix.ok()) return prefix.status().WithContext("grant " + quoted);
    grant.prefix = std::move(*prefix);
  }

  size_t sep = tail.find_first_of(" \t");
  std::string_view permission_name = tail.substr(0, sep);
  std::string_view who = sep == tail.npos ? std::string_view() : Trim(tail.substr(sep));
  std::optional<Permission> permission = ParsePermission(permission_name);
  if (!permission) {
    return ConfigError("grant " + quoted + ": unknown permission '" +
                       std::string(permission_name) +
                       "' (use read, readwrite, fullaccess, readwrite-nodelete or append-only)");
  }
  grant.permission = *permission;

  if (!who.empty()) {
    if (who.find_first_of(" \t") != who.npos) {
      return ConfigError("grant " + quoted + " names more than one user or group" + kShape);
    }
    if (who.front() == '@') {
      grant.who_is_group = true;
      who.remove_prefix(1);
    }
    if (!IsValidPrincipalName(who)) {
      return ConfigError("grant " + quoted + ": '" + std::string(who) + "' is not a valid " +
                         (grant.who_is_group ? "group" : "user") + " name");
    }
    grant.who = std::string(who);
  }
  return grant;
}

std::string FormatGrant(const Grant& grant) {
  std::string out = grant.space;
  if (!grant.prefix.empty()) out += "/" + grant.prefix;
  out += ":";
  out += PermissionName(grant.permission);
  if (!grant.who.empty()) out += (grant.who_is_group ? " @" : " ") + grant.who;
  return out;
}

}  // namespace spacesfs::auth

#include "fs/names.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "fs/filesystem.h"

namespace spacesfs::fs {

bool IsValidComponent(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  if (name.size() > kMaxNameBytes) return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

Status CheckNewName(std::string_view name, std::string_view key) {
  if (name.size() > kMaxNameBytes) {
    return Status(ErrorCode::kNameTooLong, "name longer than 255 bytes");
  }
  if (key.size() > kMaxKeyBytes) {
    return Status(ErrorCode::kNameTooLong, "key longer than 1024 bytes");
  }
  if (!IsValidComponent(name)) {
    return Status(ErrorCode::kInvalidArgument, "name cannot be stored as a key component");
  }
  return Status::Ok();
}

std::string JoinPath(std::string_view parent_path, std::string_view name) {
  std::string out(parent_path);
  if (!out.empty()) out += '/';
  out += name;
  return out;
}

void WarnHiddenKeyOnce(std::string_view key, std::string_view why) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> warned;  // guarded by mu
  {
    std::lock_guard lock(mu);
    if (warned.count(key)) return;
    if (warned.size() < 100000) warned.emplace(key);
  }
  spdlog::warn("hiding key \"{}\": {}", EscapeControlCharacters(key), why);
}

}  // namespace spacesfs::fs

#include "cli/state_dir.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace spacesfs::cli {

std::string DefaultStateDirFor(uid_t uid, std::string_view xdg_state_home, std::string_view home) {
  if (uid == 0) return "/var/lib/spacesfs";
  if (xdg_state_home.starts_with('/')) return std::string(xdg_state_home) + "/spacesfs";
  if (!home.starts_with('/')) return "";
  while (home.size() > 1 && home.ends_with('/')) home.remove_suffix(1);
  return std::string(home == "/" ? "" : home) + "/.local/state/spacesfs";
}

std::string DefaultStateDir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  std::string home;
  if (const char* env = std::getenv("HOME"); env != nullptr && *env != '\0') {
    home = env;
  } else {
    std::vector<char> buffer(16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    if (getpwuid_r(getuid(), &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
        found->pw_dir != nullptr) {
      home = found->pw_dir;
    }
  }
  return DefaultStateDirFor(getuid(), xdg != nullptr ? xdg : "", home);
}

}  // namespace spacesfs::cli

// End-to-end test support for daemonised mounts (made by mount(8), or by spacesfs without -f):
// find the daemon behind a mount point, wait for it to exit, count mounts on a path, and make sure
// the Linux test users exist, and read a daemon's peak memory.
//
// Threading: single-threaded test code.
#pragma once

#include <pwd.h>
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/e2e.h"

namespace spacesfs::testing {

// The pid of the daemon serving mountpoint, from `spacesfs stats` run as as_user ("" = root);
// 0 when it cannot be read.
inline pid_t DaemonPid(const std::string& mountpoint, const std::string& as_user = "") {
  CommandResult r =
      RunShell(std::string(SPACESFS_BINARY) + " stats " + ShellQuote(mountpoint), as_user);
  std::istringstream in(r.output);
  std::string name;
  long long value;
  while (in >> name >> value) {
    if (name == "pid") return static_cast<pid_t>(value);
  }
  return 0;
}

// The peak resident memory (VmHWM) of process pid, in MiB; 0 when it cannot be read.
inline uint64_t PeakRssMib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) / 1024;
  }
  return 0;
}

// Waits until process pid no longer exists (at most `limit`); true when it is gone.
inline bool WaitGone(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (kill(pid, 0) == 0 || errno != ESRCH) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// How many mounts are stacked on path (0, 1, or more when something mounted twice).
inline int MountCount(const std::string& path) {
  return static_cast<int>(MountInfoLinesOn(path).size());
}

// The /proc/self/mountinfo line of the (first) mount on path ("" if none).
inline std::string MountInfoLine(const std::string& path) {
  std::vector<std::string> lines = MountInfoLinesOn(path);
  return lines.empty() ? "" : lines.front();
}

inline std::string UidOf(const std::string& user) {
  struct passwd* pw = getpwnam(user.c_str());
  return pw == nullptr ? "" : std::to_string(pw->pw_uid);
}

// The test users alice, bob and carol, each with a group of its own name (idempotent).
inline void EnsureTestUsers() {
  for (std::string user : {"alice", "bob", "carol"}) {
    RunShell("getent group " + user + " >/dev/null || groupadd " + user);
    RunShell("id -u " + user + " >/dev/null 2>&1 || useradd -M -N -g " + user + " -s /bin/sh " +
             user);
  }
}

}  // namespace spacesfs::testing

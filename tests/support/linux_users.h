// The Linux users the end-to-end scope tests act as: alice, bob (in spacesfs-editors) and carol
// (in no shared group), each with a primary group of its own name. EnsureUsers creates whatever is
// missing (idempotent; needs root); IdentityOf reads a user's ids from the user database; ErrnoOf
// names the error a shell command run as one of them (RunShell) reported.
//
// Threading: single-threaded test code.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "support/e2e.h"

namespace spacesfs::testing {

inline void EnsureUsers() {
  RunShell("getent group spacesfs-editors >/dev/null || groupadd spacesfs-editors");
  // Each user has a group of its own name (RunShell runs commands with --regid=USER).
  for (std::string user : {"alice", "bob", "carol"}) {
    RunShell("getent group " + user + " >/dev/null || groupadd " + user);
    RunShell("id -u " + user + " >/dev/null 2>&1 || useradd -M -N -g " + user + " -s /bin/sh " +
             user);
    RunShell("[ \"$(id -gn " + user + ")\" = " + user + " ] || usermod -g " + user + " " + user);
  }
  RunShell("id -nG bob | grep -qw spacesfs-editors || usermod -aG spacesfs-editors bob");
}

// What the kernel (and FUSE) sees of a process running as a user after login.
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, the primary one included
};

// The user's ids; uid 0 and no groups when the user does not exist.
inline Identity IdentityOf(const std::string& user) {
  Identity id;
  struct passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return id;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  int count = 64;
  id.groups.resize(count);
  if (getgrouplist(user.c_str(), id.gid, id.groups.data(), &count) < 0) {
    id.groups.resize(count);
    getgrouplist(user.c_str(), id.gid, id.groups.data(), &count);
  }
  id.groups.resize(count);
  return id;
}

inline std::string UidOf(const std::string& user) {
  return std::to_string(IdentityOf(user).uid);
}

// The errno a failed shell command reported, from its message ("EROFS", "EACCES", "EPERM", "EIO");
// "0" when it succeeded, "other: OUTPUT" for anything else.
inline std::string ErrnoOf(const CommandResult& r) {
  if (r.exit_code == 0) return "0";
  if (r.output.find("Read-only file system") != std::string::npos) return "EROFS";
  if (r.output.find("Permission denied") != std::string::npos) return "EACCES";
  if (r.output.find("Operation not permitted") != std::string::npos) return "EPERM";
  if (r.output.find("Input/output error") != std::string::npos) return "EIO";
  return "other: " + r.output;
}

}  // namespace spacesfs::testing

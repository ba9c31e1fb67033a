// RGW administration for tests of `spacesfs keys --provider rgw` on the local radosgw:
// radosgw-admin of the cluster serving the test endpoint, admin-key profiles, and running the
// spacesfs binary's `keys` command with its stdout and stderr kept apart.
//
// The admin user is spacesfs-admin (created by tests/server/rgw-tenants with the caps users=*,
// metadata=read, user-policy=*; AdminProfileSection adds them again when missing). Secrets read
// from radosgw-admin go into credential files only, never onto a command line.
//
// Threading: single-threaded test code.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/e2e.h"

namespace spacesfs::testing {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The ceph.conf of the cluster serving `endpoint` (CEPH_CONF, else $CEPH_DIR/ceph.conf), or "" when
// neither is set or the file does not name the endpoint's host:port (another cluster).
inline std::string CephConf(const std::string& endpoint) {
  std::string conf;
  if (const char* c = std::getenv("CEPH_CONF")) {
    conf = c;
  } else if (const char* dir = std::getenv("CEPH_DIR")) {
    conf = std::string(dir) + "/ceph.conf";
  }
  if (conf.empty()) return "";
  const std::string host_port = endpoint.substr(endpoint.find("://") + 3);
  return ReadWholeFile(conf).find("endpoint=" + host_port) != std::string::npos ? conf : "";
}

// Runs radosgw-admin with `args` (shell words, no secrets) for the cluster of `conf`; output is its
// stdout only.
inline CommandResult RadosgwAdmin(const std::string& conf, const std::string& args) {
  return RunShell("radosgw-admin -c " + ShellQuote(conf) + " " + args + " 2>/dev/null");
}

inline bool RgwUserExists(const std::string& conf, const std::string& uid) {
  return RadosgwAdmin(conf, "user info --uid=" + ShellQuote(uid)).exit_code == 0;
}

// A [profile] section holding the first S3 key of RGW user `uid`, with the endpoint and region the
// keys command should use (a profile needs a grant; it is not used). "" when the user has no key.
inline std::string RgwUserProfileSection(const std::string& conf, const std::string& uid,
                                         const std::string& profile, const std::string& endpoint,
                                         const std::string& region) {
  CommandResult info = RadosgwAdmin(conf, "user info --uid=" + ShellQuote(uid));
  if (info.exit_code != 0) return "";
  nlohmann::json user = nlohmann::json::parse(info.output, nullptr, false);
  if (!user.is_object() || !user.contains("keys") || user["keys"].empty()) return "";
  const nlohmann::json& key = user["keys"][0];
  return "[" + profile + "]\naccess_key_id = " + key["access_key"].get<std::string>() +
         "\nsecret_access_key = " + key["secret_key"].get<std::string>() +
         "\nendpoint = " + endpoint + "\nregion = " + region + "\ngrant = team-a:read\n\n";
}

// The profile of spacesfs-admin, after making sure it has the caps `spacesfs keys` needs.
inline std::string AdminProfileSection(const std::string& conf, const std::string& profile,
                                       const std::string& endpoint, const std::string& region) {
  if (RadosgwAdmin(conf,
                   "caps add --uid=spacesfs-admin --caps='users=*;metadata=read;user-policy=*'")
          .exit_code != 0) {
    return "";
  }
  return RgwUserProfileSection(conf, "spacesfs-admin", profile, endpoint, region);
}

// Removes what `spacesfs keys` left on the server for the key names given: users spacesfs-NAME and
// their rotations spacesfs-NAME-STAMP (a test's cleanup after a failure; returns how many).
inline int RemoveRgwKeyUsers(const std::string& conf, const std::vector<std::string>& names) {
  nlohmann::json uids =
      nlohmann::json::parse(RadosgwAdmin(conf, "user list").output, nullptr, false);
  if (!uids.is_array()) return 0;
  int removed = 0;
  for (const nlohmann::json& uid : uids) {
    if (!uid.is_string()) continue;
    const std::string u = uid.get<std::string>();
    for (const std::string& name : names) {
      const std::string mine = "spacesfs-" + name;
      if (u != mine && u.rfind(mine + "-", 0) != 0) continue;
      if (RadosgwAdmin(conf, "user rm --purge-data --uid=" + ShellQuote(u)).exit_code == 0)
        ++removed;
      break;
    }
  }
  return removed;
}

struct KeysRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs `spacesfs keys ARGS` (the built binary) with stdout and stderr captured apart; `scratch` is
// a directory for the two files.
inline KeysRun RunKeysBinary(const std::vector<std::string>& args, const std::string& scratch) {
  std::string command = ShellQuote(SPACESFS_BINARY) + " keys";
  for (const std::string& a : args) command += " " + ShellQuote(a);
  const std::string out = scratch + "/keys.out", err = scratch + "/keys.err";
  KeysRun run;
  run.exit_code = RunShell(command + " >" + ShellQuote(out) + " 2>" + ShellQuote(err)).exit_code;
  run.out = ReadWholeFile(out);
  run.err = ReadWholeFile(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return run;
}

}  // namespace spacesfs::testing

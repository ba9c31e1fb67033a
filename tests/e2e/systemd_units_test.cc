// The systemd units, the unit and fstab examples, and the man pages that ship with spacesfs:
// `systemd-analyze verify` accepts every unit without a single warning, the hardening that the
// units promise is there, nothing in them would hide the mount in a private mount namespace or
// stop fusermount3, and the example configuration is accepted by the spacesfs option parser.
//
// Runs without systemd as PID 1: `systemd-analyze verify` loads a unit file offline. The unit's
// /usr/bin/spacesfs is pointed at the built binary (or a stand-in script) in a temporary copy,
// because verify refuses commands that do not exist. Needs the Debian packages systemd
// (systemd-analyze) and groff-base (groff).
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/mount_options.h"
#include "support/e2e.h"

namespace spacesfs {
namespace {

namespace fs = std::filesystem;
using testing::RunShell;
using testing::ShellQuote;

const std::string kSource = SPACESFS_SOURCE_DIR;
const std::string kSystemUnit = kSource + "/systemd/spacesfs@.service";
const std::string kUserUnit = kSource + "/systemd/user/spacesfs@.service";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "Section.Key" -> every value given, in order. Unit files here use no continuation lines.
using UnitMap = std::map<std::string, std::vector<std::string>>;

UnitMap ParseUnit(const std::string& path) {
  UnitMap out;
  std::istringstream in(ReadFile(path));
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[section + "." + line.substr(0, eq)].push_back(line.substr(eq + 1));
  }
  return out;
}

std::string One(const UnitMap& unit, const std::string& key) {
  auto it = unit.find(key);
  if (it == unit.end() || it->second.size() != 1) return "<" + key + " not set exactly once>";
  return it->second[0];
}

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/spacesfs-units-XXXXXX";
    path_ = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A copy of `unit` in `dir` whose /usr/bin/spacesfs is an executable that exists.
std::string CopyWithRunnableBinary(const std::string& unit, const std::string& dir) {
  std::string binary = SPACESFS_BINARY;
  if (binary.empty() || access(binary.c_str(), X_OK) != 0) {
    binary = dir + "/spacesfs";
    std::ofstream(binary) << "#!/bin/sh\nexit 0\n";
    chmod(binary.c_str(), 0755);
  }
  std::string text = ReadFile(unit);
  for (size_t at = 0; (at = text.find("/usr/bin/spacesfs", at)) != std::string::npos;) {
    text.replace(at, 17, binary);
    at += binary.size();
  }
  std::string copy = dir + "/" + fs::path(unit).filename().string();
  std::ofstream(copy) << text;
  return copy;
}

// Runs systemd-analyze verify; returns everything it printed (empty = no warning, no error).
testing::CommandResult Verify(const std::string& unit_file, bool user, const std::string& dir) {
  std::string env;
  if (user) {
    std::string runtime = dir + "/runtime";
    fs::create_directories(runtime);
    fs::permissions(runtime, fs::perms::owner_all);
    env = "XDG_RUNTIME_DIR=" + ShellQuote(runtime) + " ";
  }
  return RunShell(env + "systemd-analyze " + (user ? "--user " : "") + "--man=no verify " +
                  ShellQuote(unit_file));
}

void ExpectCleanVerify(const std::string& unit, bool user) {
  ASSERT_EQ(RunShell("command -v systemd-analyze").exit_code, 0)
      << "systemd-analyze is missing: install the Debian package systemd";
  TempDir dir;
  std::string copy = CopyWithRunnableBinary(unit, dir.path());
  testing::CommandResult r = Verify(copy, user, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "systemd-analyze verify " << unit << " printed warnings or errors";
}

// Settings that make systemd run the unit's processes in their own mount namespace, detached
// from the host's: a FUSE mount made there is invisible to every other process.
const std::vector<std::string> kMountNamespaceSettings = {
    "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateMounts",
    "PrivateNetwork", "PrivateIPC", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths",
    "ExecPaths", "NoExecPaths", "BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
    "ProtectControlGroups", "ProtectProc", "ProcSubset", "RootDirectory", "RootImage",
    "MountAPIVFS", "DynamicUser", "MountFlags", "JoinsNamespaceOf", "LogNamespace"};

// Settings that imply NoNewPrivileges=yes in a user manager (see systemd.exec(5)).
const std::vector<std::string> kNoNewPrivilegesSettings = {
    "NoNewPrivileges", "SystemCallFilter", "SystemCallArchitectures", "SystemCallLog",
    "MemoryDenyWriteExecute", "LockPersonality", "RestrictRealtime", "RestrictSUIDSGID",
    "RestrictNamespaces", "RestrictAddressFamilies", "ProtectClock", "ProtectHostname",
    "ProtectKernelModules", "ProtectKernelLogs", "ProtectKernelTunables", "PrivateDevices"};

void ExpectNone(const UnitMap& unit, const std::vector<std::string>& keys, const std::string& why) {
  for (const std::string& key : keys) {
    EXPECT_EQ(unit.count("Service." + key), 0u) << key << "= must not be set: " << why;
  }
}

TEST(SystemdUnits, SystemTemplateVerifiesWithoutWarnings) { ExpectCleanVerify(kSystemUnit, false); }

TEST(SystemdUnits, UserTemplateVerifiesWithoutWarnings) { ExpectCleanVerify(kUserUnit, true); }

TEST(SystemdUnits, ExampleMountAndAutomountVerifyWithoutWarnings) {
  ExpectCleanVerify(kSource + "/systemd/examples/mnt-photos.mount", false);
  ExpectCleanVerify(kSource + "/systemd/examples/mnt-photos.automount", false);
}

// The harness must see warnings, or the tests above would pass on anything.
TEST(SystemdUnits, VerifyHarnessReportsABrokenUnit) {
  TempDir dir;
  std::string broken = dir.path() + "/spacesfs@.service";
  std::ofstream(broken) << ReadFile(kSystemUnit) << "\n[Service]\nKilMode=mixed\n";
  std::string copy = CopyWithRunnableBinary(broken, dir.path() + "/");
  testing::CommandResult r = Verify(copy, false, dir.path());
  EXPECT_NE(r.output.find("KilMode"), std::string::npos) << r.output;
}

TEST(SystemdUnits, SystemTemplateRunsTheDaemonUnderSystemdControl) {
  UnitMap u = ParseUnit(kSystemUnit);
  EXPECT_EQ(One(u, "Service.Type"), "notify");
  EXPECT_EQ(One(u, "Service.NotifyAccess"), "main");
  EXPECT_EQ(One(u, "Service.EnvironmentFile"), "/etc/spacesfs/mounts/%i.conf");
  EXPECT_EQ(One(u, "Service.ExecStart"), "/usr/bin/spacesfs ${SPACE} %f -f -o ${OPTIONS}");
  EXPECT_EQ(One(u, "Service.LoadCredential"), "spacesfs-%i:/etc/spacesfs/credentials.d/%i");
  EXPECT_EQ(One(u, "Service.ExecReload"), "/usr/bin/kill -HUP $MAINPID");
  EXPECT_EQ(One(u, "Service.ExecStopPost"), "-/usr/bin/fusermount3 -u -z %f");
  EXPECT_EQ(One(u, "Service.Restart"), "on-failure");
  EXPECT_EQ(One(u, "Service.KillMode"), "mixed");
  EXPECT_EQ(One(u, "Service.KillSignal"), "SIGTERM");
  int stop = std::stoi(One(u, "Service.TimeoutStopSec"));
  EXPECT_GT(stop, 0);
  EXPECT_LE(stop, 300) << "shutdown must not wait unboundedly for uploads";
  EXPECT_EQ(One(u, "Unit.Wants"), "network-online.target");
  EXPECT_EQ(One(u, "Unit.After"), "network-online.target");
  EXPECT_EQ(One(u, "Install.WantedBy"), "remote-fs.target");
}

TEST(SystemdUnits, SystemTemplateIsHardened) {
  UnitMap u = ParseUnit(kSystemUnit);
  EXPECT_EQ(One(u, "Service.NoNewPrivileges"), "yes");
  EXPECT_EQ(One(u, "Service.CapabilityBoundingSet"), "CAP_SYS_ADMIN");
  EXPECT_EQ(One(u, "Service.AmbientCapabilities"), "");
  EXPECT_EQ(One(u, "Service.DevicePolicy"), "closed");
  EXPECT_EQ(One(u, "Service.DeviceAllow"), "/dev/fuse rw");
  EXPECT_EQ(One(u, "Service.UMask"), "0077");
  EXPECT_EQ(One(u, "Service.CacheDirectory"), "spacesfs/%i");
  EXPECT_EQ(One(u, "Service.CacheDirectoryMode"), "0700");
  EXPECT_EQ(One(u, "Service.StateDirectory"), "spacesfs");
  EXPECT_EQ(One(u, "Service.StateDirectoryMode"), "0700");
  EXPECT_EQ(One(u, "Service.LockPersonality"), "yes");
  EXPECT_EQ(One(u, "Service.MemoryDenyWriteExecute"), "yes");
  EXPECT_EQ(One(u, "Service.RestrictRealtime"), "yes");
  EXPECT_EQ(One(u, "Service.RestrictSUIDSGID"), "yes");
  EXPECT_EQ(One(u, "Service.RestrictNamespaces"), "yes");
  EXPECT_EQ(One(u, "Service.ProtectClock"), "yes");
  EXPECT_EQ(One(u, "Service.ProtectHostname"), "yes");
  EXPECT_EQ(One(u, "Service.RestrictAddressFamilies"), "AF_UNIX AF_INET AF_INET6 AF_NETLINK");
  EXPECT_EQ(One(u, "Service.SystemCallArchitectures"), "native");
  EXPECT_EQ(One(u, "Service.SystemCallFilter"), "@system-service @mount");
  ExpectNone(u, kMountNamespaceSettings,
             "it gives the service its own mount namespace and the mount would be invisible");
}

TEST(SystemdUnits, UserTemplateMountsUnderSpacesWithTheInstanceAsSpaceAndProfile) {
  UnitMap u = ParseUnit(kUserUnit);
  EXPECT_EQ(One(u, "Service.Type"), "notify");
  EXPECT_EQ(One(u, "Service.Environment"), "SPACE=%i OPTIONS=profile=%i");
  EXPECT_EQ(One(u, "Service.EnvironmentFile"), "-%h/.config/spacesfs/mounts/%i.conf");
  EXPECT_EQ(One(u, "Service.ExecStartPre"), "/usr/bin/mkdir -p %h/Spaces/%i");
  EXPECT_EQ(One(u, "Service.ExecStart"), "/usr/bin/spacesfs ${SPACE} %h/Spaces/%i -f -o ${OPTIONS}");
  EXPECT_EQ(One(u, "Service.ExecStop"), "-/usr/bin/fusermount3 -u %h/Spaces/%i");
  EXPECT_EQ(One(u, "Service.ExecStopPost"), "-/usr/bin/fusermount3 -u -z %h/Spaces/%i");
  EXPECT_EQ(One(u, "Service.KillMode"), "mixed");
  EXPECT_LE(std::stoi(One(u, "Service.TimeoutStopSec")), 300);
  EXPECT_EQ(One(u, "Install.WantedBy"), "default.target");
  ExpectNone(u, kMountNamespaceSettings,
             "it gives the service its own mount namespace and the mount would be invisible");
  ExpectNone(u, kNoNewPrivilegesSettings,
             "in a user manager it implies NoNewPrivileges=yes, which stops set-user-ID fusermount3");
}

// Every man page a unit names exists, and renders without a groff warning.
TEST(SystemdUnits, DocumentedManPagesShipAndRender) {
  std::vector<std::string> pages;
  for (const std::string& unit : {kSystemUnit, kUserUnit}) {
    std::istringstream docs(One(ParseUnit(unit), "Unit.Documentation"));
    std::string ref;
    while (docs >> ref) {
      ASSERT_TRUE(ref.starts_with("man:")) << ref;
      std::string name = ref.substr(4, ref.find('(') - 4);
      std::string section = ref.substr(ref.find('(') + 1, 1);
      pages.push_back(kSource + "/man/man" + section + "/" + name + "." + section);
    }
  }
  pages.push_back(kSource + "/man/man8/mount.spacesfs.8");
  ASSERT_EQ(RunShell("command -v groff").exit_code, 0) << "groff is missing: install groff-base";
  for (const std::string& page : pages) {
    ASSERT_TRUE(fs::exists(page)) << page;
    testing::CommandResult r = RunShell("groff -man -ww -z -Tutf8 " + ShellQuote(page));
    EXPECT_EQ(r.exit_code, 0) << page << ": " << r.output;
    EXPECT_EQ(r.output, "") << page;
  }
}

// What the instance file and the fstab examples hand to spacesfs is accepted by its parser.
TEST(SystemdUnits, ExampleMountConfigurationParses) {
  std::map<std::string, std::string> env;
  std::istringstream conf(ReadFile(kSource + "/systemd/examples/mnt-photos.conf"));
  std::string line;
  while (std::getline(conf, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    ASSERT_NE(eq, std::string::npos) << line;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  ASSERT_EQ(env.size(), 2u);
  EXPECT_TRUE(cli::ParseMountTarget(env["SPACE"]).ok());
  Result<cli::MountOptions> options = cli::ParseMountOptions({env["OPTIONS"]});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->profile, "photos");
  EXPECT_TRUE(options->allow_other);
  EXPECT_EQ(*options->uid, 1000u);
  // The disk cache lives where the system template's CacheDirectory=spacesfs/%i puts it.
  EXPECT_EQ(One(ParseUnit(kSystemUnit), "Service.CacheDirectory"), "spacesfs/%i");
  EXPECT_EQ(options->cache_dir, "/var/cache/spacesfs/mnt-photos");

  std::istringstream fstab(ReadFile(kSource + "/systemd/examples/fstab.example"));
  int lines = 0;
  while (std::getline(fstab, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string spec, dir, type, opts, dump, pass;
    ASSERT_TRUE(fields >> spec >> dir >> type >> opts >> dump >> pass) << line;
    ++lines;
    EXPECT_TRUE(type == "spacesfs" || type == "fuse.spacesfs") << line;
    EXPECT_TRUE(cli::ParseMountTarget(spec).ok()) << line;
    Result<cli::MountOptions> o = cli::ParseMountOptions({opts});
    EXPECT_TRUE(o.ok()) << line << ": " << o.status().ToString();
    // mount(8) hands a "user" mount's helper "user=NAME"; it must be ignored as well.
    if (opts.find("user,") != std::string::npos) {
      std::string with_name = opts;
      with_name.replace(with_name.find("user,"), 5, "user=alice,");
      EXPECT_TRUE(cli::ParseMountOptions({with_name}).ok()) << with_name;
    }
  }
  EXPECT_EQ(lines, 5);
}

}  // namespace
}  // namespace spacesfs

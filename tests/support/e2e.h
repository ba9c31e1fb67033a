// End-to-end test support: run shell commands (as root or as another Linux user) and mount
// spacesfs for real through FUSE, against the local radosgw the test command started.
//
// TestMount starts the spacesfs binary in the foreground as a child process, waits until the mount
// appears in /proc/self/mountinfo (or the child exits: its stderr is then in log()), and unmounts and
// reaps it in its destructor. Commands run through /bin/sh; RunAs uses setpriv with the user's
// uid, gid and supplementary groups, so the kernel and spacesfs see that user.
//
// Threading: single-threaded test code.
#pragma once

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace spacesfs::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''"; else out += c;
  }
  return out + "'";
}

// Runs `command` with /bin/sh -c; as_user "" means the current user (root in the test command).
inline CommandResult RunShell(const std::string& command, const std::string& as_user = "") {
  std::string full = "/bin/sh -c " + ShellQuote(command);
  if (!as_user.empty()) {
    full = "setpriv --reuid=" + as_user + " --regid=" + as_user +
           " --init-groups --reset-env " + full;
  }
  full += " 2>&1";
  CommandResult result;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

inline std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr,
                 "%s is not set: run the tests through tests/run, which starts the local radosgw "
                 "and exports the test tenants' keys\n", name);
    std::abort();
  }
  return v;
}

// The /proc/self/mountinfo lines of the mounts on mountpoint (more than one when stacked).
inline std::vector<std::string> MountInfoLinesOn(const std::string& mountpoint) {
  std::vector<std::string> lines;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mp;
    fields >> id >> parent >> devno >> root >> mp;
    if (mp == mountpoint) lines.push_back(line);
  }
  return lines;
}

inline bool IsMounted(const std::string& mountpoint) { return !MountInfoLinesOn(mountpoint).empty(); }

class TestMount {
 public:
  // argv after the binary: e.g. {"team-a", "/mnt/x", "-o", "profile=owner,credentials=/tmp/c"}.
  // The -f (foreground) flag is added. as_user: run the daemon as that user (non-root mount).
  TestMount(const std::string& binary, std::vector<std::string> args, std::string mountpoint,
            std::string as_user = "")
      : mountpoint_(std::move(mountpoint)) {
    char log_template[] = "/tmp/spacesfs-e2e-log-XXXXXX";
    int log_fd = mkstemp(log_template);
    log_path_ = log_template;
    std::vector<std::string> argv_strings;
    if (!as_user.empty()) {
      for (const char* a : {"/usr/bin/setpriv", "--init-groups", "--reset-env"}) argv_strings.push_back(a);
      argv_strings.push_back("--reuid=" + as_user);
      argv_strings.push_back("--regid=" + as_user);
    }
    argv_strings.push_back(binary);
    for (std::string& a : args) argv_strings.push_back(std::move(a));
    argv_strings.push_back("-f");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      std::vector<char*> argv;
      for (std::string& s : argv_strings) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(log_fd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (IsMounted(mountpoint_)) {
        mounted_ = true;
        // The kernel never caches statfs: once it returns, the daemon serves requests (and has
        // opened its upload journal). Best effort: a mount the caller may not use fails at once.
        struct statvfs vfs;
        (void)statvfs(mountpoint_.c_str(), &vfs);
        return;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  ~TestMount() { Unmount(); std::remove(log_path_.c_str()); }
  TestMount(const TestMount&) = delete;
  TestMount& operator=(const TestMount&) = delete;

  bool mounted() const { return mounted_; }
  // Exit status of a daemon that stopped (-1 while it runs).
  int exit_code() const { return exit_code_; }
  pid_t pid() const { return pid_; }

  // Unmounts (waiting for the daemon to finish its uploads and exit); returns its exit status.
  int Unmount() {
    if (mounted_) {
      RunShell("fusermount3 -u " + ShellQuote(mountpoint_));
      mounted_ = false;
    }
    if (pid_ > 0) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      int status = 0;
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      if (IsMounted(mountpoint_)) RunShell("fusermount3 -u -z " + ShellQuote(mountpoint_));
    }
    return exit_code_;
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string mountpoint_;
  std::string log_path_;
  pid_t pid_ = -1;
  bool mounted_ = false;
  int exit_code_ = -1;
};

}  // namespace spacesfs::testing

namespace spacesfs::testing {

// A private directory (mode 0755 so other test users can reach mount points below it) removed
// with everything in it when the object dies.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/spacesfs-e2e-XXXXXX";
    path_ = mkdtemp(tmpl);
    chmod(path_.c_str(), 0755);
  }
  ~TempDir() { RunShell("rm -rf " + ShellQuote(path_)); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a credential file (mode 0600, owned by `owner_uid`) holding the given INI text.
inline std::string WriteCredentialFile(const std::string& path, const std::string& text,
                                       uid_t owner_uid = 0, gid_t owner_gid = 0) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
  if (chown(path.c_str(), owner_uid, owner_gid) != 0) std::abort();
  return path;
}

// One [profile] section for the test tenant `who` ("OWNER", "SCOPED", "READER", "BROAD") with the
// given grant lines, using the endpoint the test command exported.
inline std::string ProfileSection(const std::string& profile, const std::string& who,
                                  const std::vector<std::string>& grants) {
  std::string text = "[" + profile + "]\n";
  text += "access_key_id = " + RequireEnv(("SPACESFS_TEST_" + who + "_ACCESS_KEY").c_str()) + "\n";
  text += "secret_access_key = " + RequireEnv(("SPACESFS_TEST_" + who + "_SECRET_KEY").c_str()) + "\n";
  text += "endpoint = " + RequireEnv("SPACESFS_TEST_ENDPOINT") + "\n";
  text += "region = " + RequireEnv("SPACESFS_TEST_REGION") + "\n";
  for (const std::string& g : grants) text += "grant = " + g + "\n";
  return text + "\n";
}

// A prefix unique to this test process, so runs never see each other's objects.
inline std::string UniquePrefix(const std::string& name) {
  return name + "-" + std::to_string(getpid()) + "-" + std::to_string(time(nullptr)) + "/";
}

}  // namespace spacesfs::testing

// End to end: a profile's secret never shows. Not in the command line of any process on the
// machine (/proc/*/cmdline) while mounts run, are reloaded and unmounted; not in the daemon's
// output at its most verbose (log_level=trace, and -d with libfuse's own debug output) through
// reads, writes, refusals by the scope and by the server; not in the output of a mount that fails.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/e2e.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

// Every test tenant's secret: none of them may show anywhere.
std::vector<std::string> Secrets() {
  std::vector<std::string> out;
  for (const char* who : {"OWNER", "SCOPED", "READER", "BROAD"}) {
    out.push_back(testing::RequireEnv(("SPACESFS_TEST_" + std::string(who) + "_SECRET_KEY").c_str()));
  }
  return out;
}

// The secrets found in text, for the failure message (never printed: only which tenant's).
std::string Leaks(const std::string& text) {
  std::string found;
  const char* names[] = {"OWNER", "SCOPED", "READER", "BROAD"};
  std::vector<std::string> secrets = Secrets();
  for (size_t i = 0; i < secrets.size(); ++i) {
    if (text.find(secrets[i]) != std::string::npos) found += std::string(names[i]) + " ";
  }
  return found;
}

// Every process's command line, NULs as spaces, one per line.
std::string AllCommandLines() {
  std::string out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string line = ss.str();
    for (char& c : line) {
      if (c == '\0') c = ' ';
    }
    out += line + "\n";
  }
  closedir(proc);
  return out;
}

class SecretExposureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = testing::UniquePrefix("secret-exposure");
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a/" + prefix_ + "open/:readwrite",
                                                   "team-a/" + prefix_ + "ro/:read"}) +
            testing::ProfileSection("claims", "READER", {"team-a:readwrite"}) +
            testing::ProfileSection("elsewhere", "SCOPED", {"team-a:read"}) +
            testing::ProfileSection("missing", "BROAD", {"nosuch-space-secret-test:read"}));
  }

  std::string Mountpoint(const std::string& name) {
    std::string path = dir_.path() + "/" + name;
    mkdir(path.c_str(), 0755);
    return path;
  }

  testing::TempDir dir_;
  std::string prefix_;
  std::string credentials_;
};

TEST_F(SecretExposureTest, NotInAnyCommandLineOrTheMostVerboseLogs) {
  const std::string a = Mountpoint("a"), b = Mountpoint("b");
  testing::TestMount traced(
      SPACESFS_BINARY,
      {"team-a:/" + prefix_, a, "-o",
       "profile=owner,log_level=trace,attr_timeout=0,credentials=" + credentials_},
      a);
  ASSERT_TRUE(traced.mounted()) << traced.log();
  testing::TestMount debugged(SPACESFS_BINARY,
                              {"team-a:/" + prefix_, b, "-d", "-o",
                               "profile=claims,attr_timeout=0,credentials=" + credentials_},
                              b);
  ASSERT_TRUE(debugged.mounted()) << debugged.log();
  const std::string command_lines = AllCommandLines();
  EXPECT_NE(command_lines.find("profile=claims,"), std::string::npos) << "the daemons are listed";
  EXPECT_EQ(Leaks(command_lines), "");

  // Reads, writes, a refusal by the scope, a refusal by the server, a reload.
  EXPECT_EQ(RunShell("echo x > " + ShellQuote(a + "/open/f") + " && cat " +
                     ShellQuote(a + "/open/f") + " && ls -l " + ShellQuote(a + "/open"))
                .exit_code,
            0);
  EXPECT_NE(RunShell("echo x > " + ShellQuote(a + "/ro/f")).exit_code, 0);
  EXPECT_NE(RunShell("echo x > " + ShellQuote(b + "/g")).exit_code, 0);  // 403 from the server
  RunShell("ls -l " + ShellQuote(b) + " >/dev/null; rm -f " + ShellQuote(a + "/open/f"));
  kill(traced.pid(), SIGHUP);
  kill(debugged.pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Leaks(AllCommandLines()), "");

  traced.Unmount();
  debugged.Unmount();
  const std::string trace_log = traced.log(), debug_log = debugged.log();
  // The logs are the verbose ones: they hold the refusals, and libfuse's per-request debug lines.
  EXPECT_NE(trace_log.find("denied: "), std::string::npos) << trace_log;
  EXPECT_NE(debug_log.find("server refused: "), std::string::npos) << debug_log;
  EXPECT_NE(debug_log.find("opcode: "), std::string::npos) << "no libfuse debug output";
  EXPECT_EQ(Leaks(trace_log), "");
  EXPECT_EQ(Leaks(debug_log), "");
}

TEST_F(SecretExposureTest, NotInTheOutputOfAFailingMount) {
  const std::string mnt = Mountpoint("mnt");
  const std::string owner_secret = testing::RequireEnv("SPACESFS_TEST_OWNER_SECRET_KEY");
  std::string unsafe = dir_.path() + "/unsafe-credentials";
  testing::WriteCredentialFile(unsafe, testing::ProfileSection("owner", "OWNER", {"team-a:read"}));
  chmod(unsafe.c_str(), 0644);
  struct Case {
    std::string target, mountpoint, options;
  };
  const std::vector<Case> cases = {
      {"nosuch-space-secret-test", mnt, "profile=missing"},        // the Space does not exist
      {"team-a", mnt, "profile=elsewhere"},                         // the key may not list it
      {"team-b", mnt, "profile=owner"},                             // no grant for the Space
      {"team-a", dir_.path() + "/no-such-dir", "profile=owner"},    // no mount point
      {"team-a", mnt, "profile=owner,bogus_option"},                // a bad option
      {"team-a", mnt, "profile=owner,credentials=" + unsafe},       // an unsafe credential file
      {"team-a", mnt, "profile=owner,secret_access_key=" + owner_secret},  // the secret as option
  };
  for (const Case& c : cases) {
    std::string options = c.options;
    if (options.find("credentials=") == std::string::npos) options += ",credentials=" + credentials_;
    testing::CommandResult r =
        RunShell(std::string(SPACESFS_BINARY) + " " + c.target + " " + ShellQuote(c.mountpoint) +
                 " -f -o " + ShellQuote(options + ",log_level=trace"));
    EXPECT_NE(r.exit_code, 0) << c.target << " " << c.options.substr(0, 30);
    EXPECT_FALSE(r.output.empty());
    EXPECT_EQ(Leaks(r.output), "") << c.target << " " << c.options.substr(0, 30);
    EXPECT_FALSE(testing::IsMounted(c.mountpoint));
  }
}

// A secret given to a subcommand as an option it does not know is refused without echoing it,
// with the usage error's exit status (2), where CLI11 alone repeats the argument.
TEST_F(SecretExposureTest, NotEchoedBackByASubcommandThatRefusesIt) {
  const std::string owner_secret = testing::RequireEnv("SPACESFS_TEST_OWNER_SECRET_KEY");
  const std::vector<std::string> commands = {
      "ls --secret-access-key=" + owner_secret + " team-a",
      "ls -c " + ShellQuote(credentials_) + " --secret " + owner_secret + " team-a",
      "cp --secret_access_key " + owner_secret + " /etc/hostname team-a:/x",
      "check owner --secret-key " + owner_secret,
      "ls team-a " + owner_secret,  // a stray positional shaped like a secret key
      "stats --secret=" + owner_secret,
  };
  for (const std::string& args : commands) {
    testing::CommandResult r = RunShell(std::string(SPACESFS_BINARY) + " " + args);
    const std::string shown = args.substr(0, args.find(' '));
    EXPECT_EQ(r.exit_code, 2) << shown << ": " << Leaks(r.output);
    EXPECT_NE(r.output.find("secrets must not be passed as arguments"), std::string::npos) << shown;
    EXPECT_EQ(Leaks(r.output), "") << shown;
  }
  // A secret the shape heuristic lets through (no capitals side by side): CLI11's complaint about
  // the stray argument is still printed without it.
  const std::string escaped = "q8x2m4k7a9w1e5r3t6y0u8i2o4p7s1d3f5g7h9j0";
  for (const std::string& args :
       {"ls team-a " + escaped, "cp /etc/hostname team-a:/x " + escaped,
        "keys list --provider rgw " + escaped}) {
    testing::CommandResult r = RunShell(std::string(SPACESFS_BINARY) + " " + args);
    const std::string shown = args.substr(0, args.find(' '));
    EXPECT_EQ(r.exit_code, 2) << shown;
    EXPECT_EQ(r.output.find(escaped), std::string::npos) << shown;
    EXPECT_NE(r.output.find("(40 characters, not shown)"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("secrets must not be passed as arguments"), std::string::npos) << shown;
  }
  testing::CommandResult usage = RunShell(std::string(SPACESFS_BINARY) + " stats");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_NE(usage.output.find("mountpoint is required"), std::string::npos) << usage.output;
}

}  // namespace
}  // namespace spacesfs

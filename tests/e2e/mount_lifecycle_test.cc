// End to end: how the spacesfs daemon starts, reports and stops — the sd_notify sequence, SIGTERM,
// and every bad input at mount time answered within seconds by one line and a non-zero exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "support/e2e.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

class MountLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    credentials_ = testing::WriteCredentialFile(
        dir_.path() + "/credentials",
        testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess", "nosuch-space-x:read"}) +
            "[wrong]\naccess_key_id = " + testing::RequireEnv("SPACESFS_TEST_OWNER_ACCESS_KEY") +
            "\nsecret_access_key = not-the-right-secret-000000000000000000\nendpoint = " +
            testing::RequireEnv("SPACESFS_TEST_ENDPOINT") + "\ngrant = team-a:read\n\n" +
            "[unreachable]\naccess_key_id = AKIAEXAMPLE\nsecret_access_key = x\n"
            "endpoint = http://127.0.0.1:1\ngrant = team-a:read\n");
    mnt_ = dir_.path() + "/mnt";
    mkdir(mnt_.c_str(), 0755);
  }

  // Runs the mount command (not in the foreground) and returns its exit status and output.
  testing::CommandResult MountCommand(const std::string& target, const std::string& mountpoint,
                                      const std::string& options) {
    auto start = std::chrono::steady_clock::now();
    testing::CommandResult r =
        RunShell(std::string(SPACESFS_BINARY) + " " + target + " " + ShellQuote(mountpoint) +
                 " -o " + ShellQuote("credentials=" + credentials_ + "," + options));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15)) << r.output;
    return r;
  }

  testing::TempDir dir_;
  std::string credentials_;
  std::string mnt_;
};

TEST_F(MountLifecycleTest, BadInputsFailFastWithOneLine) {
  struct Case {
    std::string target, mountpoint, options, expected;
  };
  std::vector<Case> cases = {
      {"team-a", dir_.path() + "/missing", "profile=owner", "does not exist"},
      {"nosuch-space-x", mnt_, "profile=owner", "Space 'nosuch-space-x' does not exist"},
      {"team-b", mnt_, "profile=owner", "has no grant for Space 'team-b'"},
      {"team-a", mnt_, "profile=wrong", "refused"},
      {"team-a", mnt_, "profile=unreachable", "cannot reach http://127.0.0.1:1"},
      {"team-a", mnt_, "profile=nobody-has-this", "nobody-has-this"},
      {"team-a", mnt_, "profile=owner,bogus_option", "unknown mount option 'bogus_option'"},
      {"team-a", mnt_, "profile=owner,secret_access_key=abc", "never given as options"},
      {"Team_A", mnt_, "profile=owner", "not a Space name"},
  };
  for (const Case& c : cases) {
    testing::CommandResult r = MountCommand(c.target, c.mountpoint, c.options);
    EXPECT_NE(r.exit_code, 0) << c.target << " " << c.options;
    EXPECT_NE(r.output.find(c.expected), std::string::npos)
        << "wanted '" << c.expected << "' in: " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(testing::IsMounted(c.mountpoint));
  }
}

TEST_F(MountLifecycleTest, BusyMountPointIsRefused) {
  testing::CommandResult first = MountCommand("team-a", mnt_, "profile=owner");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  testing::CommandResult second = MountCommand("team-a", mnt_, "profile=owner");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.output.find("is busy"), std::string::npos) << second.output;
  EXPECT_EQ(RunShell("fusermount3 -u " + ShellQuote(mnt_)).exit_code, 0);
}

TEST_F(MountLifecycleTest, NotifiesReadyWhenLiveAndStoppingOnSigterm) {
  std::string socket_path = dir_.path() + "/notify.sock";
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{20, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto receive = [&]() {
    char buf[4096];
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("<nothing>");
  };

  setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
  testing::TestMount mount(SPACESFS_BINARY,
                           {"team-a", mnt_, "-o", "profile=owner,credentials=" + credentials_},
                           mnt_);
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_EQ(receive(), "READY=1");
  EXPECT_TRUE(testing::IsMounted(mnt_));
  std::string status = receive();
  EXPECT_EQ(status.rfind("STATUS=serving Space 'team-a'", 0), 0u) << status;

  // Data written before SIGTERM is on the server when the daemon exits.
  ASSERT_EQ(RunShell("echo before-term > " + ShellQuote(mnt_ + "/lifecycle.txt")).exit_code, 0);
  kill(mount.pid(), SIGTERM);
  std::string stopping = receive();
  while (stopping.starts_with("STATUS=")) stopping = receive();  // counters, every 10 s
  EXPECT_EQ(stopping, "STOPPING=1");
  EXPECT_EQ(mount.Unmount(), 0) << mount.log();
  EXPECT_FALSE(testing::IsMounted(mnt_));
  testing::TestMount again(SPACESFS_BINARY,
                           {"team-a", mnt_, "-o", "profile=owner,credentials=" + credentials_},
                           mnt_);
  ASSERT_TRUE(again.mounted()) << again.log();
  EXPECT_EQ(RunShell("cat " + ShellQuote(mnt_ + "/lifecycle.txt")).output, "before-term\n");
  RunShell("rm -f " + ShellQuote(mnt_ + "/lifecycle.txt"));
  close(sock);
}

TEST_F(MountLifecycleTest, ReloadsTheCredentialFileOnSighup) {
  const std::string good = testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"});
  testing::WriteCredentialFile(credentials_, good);
  testing::TestMount mount(
      SPACESFS_BINARY,
      {"team-a", mnt_, "-o",
       "profile=owner,attr_timeout=0,entry_timeout=0,negative_timeout=0,credentials=" + credentials_},
      mnt_);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  const std::string probe = ShellQuote(mnt_ + "/reload-probe-" + std::to_string(getpid()));
  ASSERT_EQ(RunShell("echo 1 > " + probe).exit_code, 0);

  // Rotate to a key the server refuses: after SIGHUP requests are signed with it and fail.
  std::string bad = good;
  const std::string secret = testing::RequireEnv("SPACESFS_TEST_OWNER_SECRET_KEY");
  bad.replace(bad.find(secret), secret.size(), std::string(secret.size(), 'x'));
  testing::WriteCredentialFile(credentials_, bad);
  kill(mount.pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  testing::CommandResult refused = RunShell("cat " + probe);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Permission denied"), std::string::npos) << refused.output;

  // And back: the mount recovers without a remount.
  testing::WriteCredentialFile(credentials_, good);
  kill(mount.pid(), SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(RunShell("cat " + probe).output, "1\n");
  RunShell("rm -f " + probe);
  EXPECT_NE(mount.log().find("reload: profile 'owner' reloaded"), std::string::npos) << mount.log();
}

TEST_F(MountLifecycleTest, SecretNeverInArgvOrDebugLog) {
  const std::string secret = testing::RequireEnv("SPACESFS_TEST_OWNER_SECRET_KEY");
  testing::TestMount mount(
      SPACESFS_BINARY,
      {"team-a", mnt_, "-o", "profile=owner,log_level=trace,credentials=" + credentials_}, mnt_);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  RunShell("ls -l " + ShellQuote(mnt_) + " && echo x > " + ShellQuote(mnt_ + "/secret-probe") +
           " && rm " + ShellQuote(mnt_ + "/secret-probe"));
  testing::CommandResult cmdline =
      RunShell("tr '\\0' ' ' < /proc/" + std::to_string(mount.pid()) + "/cmdline");
  EXPECT_NE(cmdline.output.find("profile=owner"), std::string::npos) << cmdline.output;
  EXPECT_EQ(cmdline.output.find(secret), std::string::npos);
  mount.Unmount();
  std::string log = mount.log();
  EXPECT_FALSE(log.empty());
  EXPECT_EQ(log.find(secret), std::string::npos) << "secret leaked into the log";
  testing::CommandResult failing = MountCommand("team-a", mnt_, "profile=wrong,log_level=trace");
  EXPECT_EQ(failing.output.find("not-the-right-secret"), std::string::npos) << failing.output;
}

}  // namespace
}  // namespace spacesfs

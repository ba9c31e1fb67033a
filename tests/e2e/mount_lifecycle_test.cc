// End to end: how the spacesfs daemon starts, reports and stops — the sd_notify sequence, SIGTERM,
// SIGHUP (log file reopened), and every bad input at mount time (a silent endpoint included)
// answered within seconds by one line and a non-zero exit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include "support/e2e.h"
#include "support/fault_proxy.h"
#include "support/tls_server.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;
using Clock = std::chrono::steady_clock;

// The contents of the file at path ("" if it cannot be read).
std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether a FUSE file system is mounted on path now (its /proc/self/mountinfo type is fuse*).
bool IsFuseMount(const std::string& path) {
  for (const std::string& line : testing::MountInfoLinesOn(path)) {
    if (line.find(" - fuse") != std::string::npos) return true;
  }
  return false;
}

// An AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET. A thread takes each message
// the moment it arrives and notes the time and whether `watched` was a FUSE mount point then.
class NotifyReceiver {
 public:
  struct Message {
    std::string text;
    bool fuse_mounted = false;  // `watched` was a FUSE mount when the message arrived
    Clock::time_point at;
  };

  NotifyReceiver(std::string socket_path, std::string watched)
      : path_(std::move(socket_path)), watched_(std::move(watched)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (bound_) thread_ = std::thread([this] { Run(); });
  }
  ~NotifyReceiver() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }

  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }

  // The next message not returned yet, waiting at most `limit` for it.
  std::optional<Message> Next(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto deadline = Clock::now() + limit;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!messages_.empty()) {
          Message m = std::move(messages_.front());
          messages_.pop_front();
          return m;
        }
      }
      if (Clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) continue;
      Message m{std::string(buffer, static_cast<size_t>(n)), IsFuseMount(watched_), Clock::now()};
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(std::move(m));
    }
  }

  std::string path_;
  std::string watched_;
  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::deque<Message> messages_;  // guarded by mu_
};

// The text of the next message from receiver that is not a STATUS= line ("<nothing>" if none).
std::string NextNonStatus(NotifyReceiver& receiver) {
  while (std::optional<NotifyReceiver::Message> m = receiver.Next()) {
    if (!m->text.starts_with("STATUS=")) return m->text;
  }
  return "<nothing>";
}

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

  // Mounts team-a with profile owner and $NOTIFY_SOCKET pointing at notify, and checks that the
  // first message is READY=1 and that mnt_ was a FUSE mount when it arrived. Returns that time.
  Clock::time_point MountExpectingReady(NotifyReceiver& notify,
                                        std::unique_ptr<testing::TestMount>* mount) {
    EXPECT_TRUE(notify.bound());
    setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
    *mount = std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{"team-a", mnt_, "-o", "profile=owner,credentials=" + credentials_},
        mnt_);
    unsetenv("NOTIFY_SOCKET");
    EXPECT_TRUE((*mount)->mounted()) << (*mount)->log();
    std::optional<NotifyReceiver::Message> ready = notify.Next();
    if (!ready.has_value()) {
      ADD_FAILURE() << "no message on the notify socket: " << (*mount)->log();
      return Clock::time_point();
    }
    EXPECT_EQ(ready->text, "READY=1");
    EXPECT_TRUE(ready->fuse_mounted) << "READY=1 arrived before " << mnt_ << " was mounted";
    return ready->at;
  }

  // Mounts team-a with a profile of a made-up key at endpoint (and the profile lines extra);
  // what the command printed, and how long it took, in seconds.
  std::pair<testing::CommandResult, double> MountAt(const std::string& endpoint,
                                                    const std::string& extra = "") {
    testing::WriteCredentialFile(credentials_, "[elsewhere]\naccess_key_id = AKIAEXAMPLE\n"
                                               "secret_access_key = x\nendpoint = " + endpoint +
                                               "\ngrant = team-a:read\n" + extra);
    auto start = Clock::now();
    testing::CommandResult r =
        RunShell(std::string(SPACESFS_BINARY) + " team-a " + ShellQuote(mnt_) + " -o " +
                 ShellQuote("profile=elsewhere,credentials=" + credentials_));
    return {r, std::chrono::duration<double>(Clock::now() - start).count()};
  }

  testing::TempDir dir_;
  std::string credentials_;
  std::string mnt_;
};

// Not a real token: the shape of one.
constexpr char kTokenHex[] = "3f9a0c6be2d14f7a8b5c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";

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
      // Shaped like a DigitalOcean API token: refused as an argument or an option value, unechoed.
      {"team-a", std::string("dop_v1_") + kTokenHex, "profile=owner",
       "argument 2 looks like a secret key or API token"},
      {"team-a", mnt_, std::string("profile=owner,fsname=dop_v1_") + kTokenHex,
       "option 'fsname' looks like a secret key or API token"},
  };
  for (const Case& c : cases) {
    testing::CommandResult r = MountCommand(c.target, c.mountpoint, c.options);
    EXPECT_NE(r.exit_code, 0) << c.target << " " << c.options;
    EXPECT_NE(r.output.find(c.expected), std::string::npos)
        << "wanted '" << c.expected << "' in: " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_EQ(r.output.find(kTokenHex), std::string::npos) << r.output;
    EXPECT_FALSE(testing::IsMounted(c.mountpoint));
  }
}

TEST_F(MountLifecycleTest, BusyMountPointIsRefused) {
  testing::CommandResult first = MountCommand("team-a", mnt_, "profile=owner");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  testing::CommandResult second = MountCommand("team-a", mnt_, "profile=owner");
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.output.find("is busy"), std::string::npos) << second.output;
  EXPECT_EQ(std::count(second.output.begin(), second.output.end(), '\n'), 1) << second.output;
  EXPECT_EQ(testing::MountInfoLinesOn(mnt_).size(), 1u) << "mounted twice";
  EXPECT_EQ(RunShell("fusermount3 -u " + ShellQuote(mnt_)).exit_code, 0);
}

// An endpoint that accepts connections and never answers (a hung server, or one behind a firewall
// that swallows the request) fails the mount with the short limits of the first request, not the
// minutes the mounted filesystem's limits would take, and well inside TimeoutStartSec=60.
TEST_F(MountLifecycleTest, SilentEndpointFailsWithinSecondsWithOneLine) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);  // the kernel completes handshakes; nothing ever answers
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto [r, seconds] = MountAt(endpoint);
  std::printf("silent endpoint: the mount failed after %.1f s: %s", seconds, r.output.c_str());
  EXPECT_LT(seconds, 30.0) << r.output;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(endpoint + " does not answer"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_FALSE(testing::IsMounted(mnt_));
  close(listener);
}

// An https endpoint whose certificate no trusted authority signed: the mount fails at once (no
// retries) with one line that says the certificate was refused, and nothing is mounted.
TEST_F(MountLifecycleTest, UntrustedTlsCertificateFailsAtOnceWithOneLine) {
  signal(SIGPIPE, SIG_IGN);  // the test server may write to a connection the client dropped
  testing::TestCertificates certs(dir_.path());
  ASSERT_TRUE(certs.ok()) << "openssl could not make the test certificates";
  testing::TlsServer server(certs.Path("localhost.pem"), certs.Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  auto [r, seconds] = MountAt("https://localhost:" + std::to_string(server.port()));
  std::printf("untrusted certificate: the mount failed after %.1f s: %s", seconds, r.output.c_str());
  EXPECT_LT(seconds, 10.0) << r.output;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("TLS certificate is refused"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("certificate problem"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ca_bundle"), std::string::npos) << "names the fix: " << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_EQ(server.connections(), 1) << "a refused certificate is not retried";
  EXPECT_EQ(server.requests(), 0);
  EXPECT_FALSE(testing::IsMounted(mnt_));
}

// The same endpoint with the test authority named by the profile's ca_bundle: the certificate
// is accepted and the first request reaches the server (which answers it with an object's
// headers, not a listing, so the mount still fails, but not on TLS). A ca_bundle that cannot be
// read fails before any connection, with one line naming it; one without the server's authority
// is refused like no bundle at all, with a line that says so.
TEST_F(MountLifecycleTest, ACaBundleInTheProfileTrustsAPrivateAuthority) {
  signal(SIGPIPE, SIG_IGN);
  testing::TestCertificates certs(dir_.path());
  ASSERT_TRUE(certs.ok()) << "openssl could not make the test certificates";
  testing::TlsServer server(certs.Path("localhost.pem"), certs.Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  const std::string endpoint = "https://localhost:" + std::to_string(server.port());

  auto [trusted, seconds] = MountAt(endpoint, "ca_bundle = " + certs.Path("ca.pem") + "\n");
  if (trusted.exit_code == 0) RunShell("fusermount3 -u " + ShellQuote(mnt_));
  std::printf("trusted by ca_bundle: exit %d after %.1f s: %s", trusted.exit_code, seconds,
              trusted.output.c_str());
  EXPECT_EQ(trusted.output.find("certificate"), std::string::npos) << trusted.output;
  EXPECT_GE(server.requests(), 1) << "the handshake succeeded and a request was read: "
                                  << trusted.output;

  // A bundle without the authority that signed the server's certificate: refused, and said so.
  auto [wrong, seconds_wrong] = MountAt(endpoint, "ca_bundle = " + certs.Path("other.pem") + "\n");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find(endpoint + ": TLS certificate is refused (SSL certificate problem"),
            std::string::npos)
      << wrong.output;
  EXPECT_NE(wrong.output.find("not signed by an authority in ca_bundle " + certs.Path("other.pem")),
            std::string::npos)
      << wrong.output;
  EXPECT_EQ(std::count(wrong.output.begin(), wrong.output.end(), '\n'), 1) << wrong.output;

  const int connections = server.connections();
  auto [missing, seconds2] = MountAt(endpoint, "ca_bundle = " + dir_.path() + "/nope.pem\n");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("ca_bundle " + dir_.path() + "/nope.pem of profile [elsewhere] "
                                "cannot be read: No such file or directory"),
            std::string::npos)
      << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
  EXPECT_EQ(server.connections(), connections) << "no connection with an unreadable ca_bundle";
  EXPECT_FALSE(testing::IsMounted(mnt_));
}

// READY=1 arrives once the mount is live (the mount point is a FUSE mount at the moment it
// arrives), then a STATUS= line with the counters; SIGTERM sends STOPPING=1.
TEST_F(MountLifecycleTest, NotifiesReadyWhenLiveAndStoppingOnSigterm) {
  NotifyReceiver notify(dir_.path() + "/notify.sock", mnt_);
  std::unique_ptr<testing::TestMount> mounted;
  MountExpectingReady(notify, &mounted);
  ASSERT_TRUE(mounted->mounted());
  testing::TestMount& mount = *mounted;
  std::optional<NotifyReceiver::Message> status = notify.Next();
  ASSERT_TRUE(status.has_value());
  const std::regex counters(
      "STATUS=serving Space 'team-a' on " + mnt_ + R"( \(profile 'owner'\): \d+ requests \(\d+ )"
      R"(failed\), [0-9.]+ [KMGT]?i?B down, [0-9.]+ [KMGT]?i?B up, \d+ denials)");
  EXPECT_TRUE(std::regex_match(status->text, counters)) << status->text;

  // Data written before SIGTERM is on the server when the daemon exits.
  ASSERT_EQ(RunShell("echo before-term > " + ShellQuote(mnt_ + "/lifecycle.txt")).exit_code, 0);
  kill(mount.pid(), SIGTERM);
  EXPECT_EQ(NextNonStatus(notify), "STOPPING=1");  // STATUS= counters come every 10 s
  EXPECT_EQ(mount.Unmount(), 0) << mount.log();
  EXPECT_FALSE(testing::IsMounted(mnt_));
  testing::TestMount again(SPACESFS_BINARY,
                           {"team-a", mnt_, "-o", "profile=owner,credentials=" + credentials_},
                           mnt_);
  ASSERT_TRUE(again.mounted()) << again.log();
  EXPECT_EQ(RunShell("cat " + ShellQuote(mnt_ + "/lifecycle.txt")).output, "before-term\n");
  RunShell("rm -f " + ShellQuote(mnt_ + "/lifecycle.txt"));
}

// With the server slow to answer the first request, READY=1 waits for that answer.
TEST_F(MountLifecycleTest, ReadyWaitsForTheFirstRequest) {
  const std::string upstream = testing::RequireEnv("SPACESFS_TEST_ENDPOINT");
  std::unique_ptr<testing::FaultProxy> proxy = testing::FaultProxy::Start(upstream);
  ASSERT_NE(proxy, nullptr);
  constexpr int kDelayMs = 3000;
  ASSERT_TRUE(proxy->Configure(R"({"latency_ms": )" + std::to_string(kDelayMs) +
                               R"(, "next": ["latency"]})"));
  std::string section = testing::ProfileSection("owner", "OWNER", {"team-a:fullaccess"});
  section.replace(section.find(upstream), upstream.size(), proxy->endpoint());
  testing::WriteCredentialFile(credentials_, section);

  NotifyReceiver notify(dir_.path() + "/notify.sock", mnt_);
  std::unique_ptr<testing::TestMount> mount;
  auto start = Clock::now();
  Clock::time_point ready_at = MountExpectingReady(notify, &mount);
  ASSERT_TRUE(mount->mounted());
  EXPECT_GE(ready_at - start, std::chrono::milliseconds(kDelayMs))
      << "READY=1 came before the delayed first request was answered";
  EXPECT_EQ(proxy->Counter("faults", "latency"), 1) << proxy->Stats();
  std::vector<std::string> requests = proxy->Requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_TRUE(requests.front().starts_with("GET /team-a")) << requests.front();
}

// A mount that fails never reports READY=1, and exits non-zero with one line.
TEST_F(MountLifecycleTest, FailingMountSendsNoReady) {
  NotifyReceiver notify(dir_.path() + "/notify.sock", mnt_);
  ASSERT_TRUE(notify.bound());
  for (const auto& [space, profile] : {std::pair<std::string, std::string>{"team-a", "wrong"},
                                       {"nosuch-space-x", "owner"}}) {
    testing::CommandResult r = RunShell(
        "NOTIFY_SOCKET=" + ShellQuote(notify.path()) + " " + SPACESFS_BINARY + " " + space + " " +
        ShellQuote(mnt_) + " -o " + ShellQuote("profile=" + profile + ",credentials=" + credentials_));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(testing::IsMounted(mnt_));
    while (std::optional<NotifyReceiver::Message> m = notify.Next(std::chrono::milliseconds(500))) {
      EXPECT_EQ(m->text.find("READY=1"), std::string::npos) << space << ": " << m->text;
    }
  }
}

// SIGHUP reopens log_file: after logrotate renames it, new lines go to a new file of the same name.
TEST_F(MountLifecycleTest, SighupReopensTheLogFile) {
  const std::string log_path = dir_.path() + "/spacesfs.log";
  const std::string rotated = log_path + ".1";
  const std::string marker = std::to_string(getpid());
  testing::TestMount mount(SPACESFS_BINARY,
                           {"team-a", mnt_, "-o",
                            "profile=owner,log_level=debug,log_file=" + log_path +
                                ",credentials=" + credentials_},
                           mnt_);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  RunShell("ls " + ShellQuote(mnt_ + "/before-hup-" + marker));  // missing: a logged request
  ASSERT_EQ(std::rename(log_path.c_str(), rotated.c_str()), 0);
  kill(mount.pid(), SIGHUP);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (access(log_path.c_str(), F_OK) != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(access(log_path.c_str(), F_OK), 0) << "no new " << log_path << " after SIGHUP";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the old file is closed
  const std::string rotated_after_hup = ReadWhole(rotated);
  RunShell("ls " + ShellQuote(mnt_ + "/after-hup-" + marker));
  EXPECT_EQ(mount.Unmount(), 0) << mount.log();

  const std::string old_log = ReadWhole(rotated);
  const std::string new_log = ReadWhole(log_path);
  EXPECT_EQ(old_log, rotated_after_hup) << "the rotated file grew after SIGHUP";
  EXPECT_NE(old_log.find("before-hup-" + marker), std::string::npos) << old_log;
  EXPECT_EQ(old_log.find("after-hup-" + marker), std::string::npos) << old_log;
  EXPECT_NE(new_log.find("after-hup-" + marker), std::string::npos) << new_log;
  EXPECT_NE(new_log.find("reload: profile 'owner' reloaded"), std::string::npos) << new_log;
  EXPECT_NE(new_log.find("unmounted " + mnt_), std::string::npos) << new_log;
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

// The sd_notify wrapper against a real AF_UNIX datagram socket standing in for systemd's
// $NOTIFY_SOCKET: what arrives, byte for byte, and in which order.
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "common/sd_notify.h"

namespace spacesfs {
namespace {

class NotifySocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/spacesfs-notify-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/notify.sock";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path_.size(), sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    ASSERT_EQ(setenv("NOTIFY_SOCKET", path_.c_str(), 1), 0);
  }

  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    if (fd_ >= 0) close(fd_);
    std::filesystem::remove_all(dir_);
  }

  // The next datagram, or nullopt if none arrives within timeout_ms.
  std::optional<std::string> Receive(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

uint64_t MonotonicUsec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

TEST_F(NotifySocket, LifecycleMessagesArriveExactlyAndInOrder) {
  ASSERT_TRUE(NotifyStatus("mounting photos on /mnt/photos").ok());
  ASSERT_TRUE(NotifyReady().ok());
  ASSERT_TRUE(NotifyStatus("mounted photos on /mnt/photos").ok());
  ASSERT_TRUE(NotifyStopping().ok());
  ASSERT_TRUE(NotifyStatus("finishing 2 uploads").ok());

  EXPECT_EQ(Receive(), "STATUS=mounting photos on /mnt/photos");
  EXPECT_EQ(Receive(), "READY=1");
  EXPECT_EQ(Receive(), "STATUS=mounted photos on /mnt/photos");
  EXPECT_EQ(Receive(), "STOPPING=1");
  EXPECT_EQ(Receive(), "STATUS=finishing 2 uploads");
  EXPECT_EQ(Receive(100), std::nullopt) << "no message beyond the five sent";
}

TEST_F(NotifySocket, EnvironmentIsKeptForLaterCalls) {
  ASSERT_TRUE(NotifyReady().ok());
  const char* still = getenv("NOTIFY_SOCKET");
  ASSERT_NE(still, nullptr);
  EXPECT_EQ(std::string(still), path_);
  ASSERT_TRUE(NotifyStopping().ok());
  EXPECT_EQ(Receive(), "READY=1");
  EXPECT_EQ(Receive(), "STOPPING=1");
}

TEST_F(NotifySocket, StatusCannotInjectOtherAssignments) {
  ASSERT_TRUE(NotifyStatus("bad\nREADY=1\r\tdone").ok());
  EXPECT_EQ(Receive(), "STATUS=bad READY=1  done");
}

TEST_F(NotifySocket, ReloadingCarriesTheMonotonicClock) {
  uint64_t before = MonotonicUsec();
  ASSERT_TRUE(NotifyReloading().ok());
  uint64_t after = MonotonicUsec();
  ASSERT_TRUE(NotifyReady().ok());

  std::optional<std::string> reloading = Receive();
  ASSERT_TRUE(reloading.has_value());
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(reloading->substr(0, prefix.size()), prefix) << *reloading;
  std::string digits = reloading->substr(prefix.size());
  ASSERT_FALSE(digits.empty());
  ASSERT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << digits;
  uint64_t usec = std::stoull(digits);
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
  EXPECT_EQ(Receive(), "READY=1");
}

TEST_F(NotifySocket, WithoutNotifySocketEverythingIsAQuietNoOp) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(NotifyReady().ok());
  EXPECT_TRUE(NotifyStatus("nobody listens").ok());
  EXPECT_TRUE(NotifyReloading().ok());
  EXPECT_TRUE(NotifyStopping().ok());
  EXPECT_EQ(Receive(200), std::nullopt);
}

// systemd may hand over an abstract socket: NOTIFY_SOCKET=@name.
TEST(NotifyAbstractSocket, ReachesAnAbstractNamespaceSocket) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  std::string name = "spacesfs-notify-test-" + std::to_string(getpid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] == '\0': abstract
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
  ASSERT_EQ(setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1), 0);

  Status s = NotifyReady();
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(s.ok()) << s.ToString();
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  char buffer[256];
  ssize_t n = recv(fd, buffer, sizeof buffer, 0);
  close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "READY=1");
}

TEST_F(NotifySocket, UnreachableSocketIsAnIoError) {
  std::string gone = dir_ + "/nobody.sock";
  ASSERT_EQ(setenv("NOTIFY_SOCKET", gone.c_str(), 1), 0);
  Status s = NotifyReady();
  EXPECT_EQ(s.code(), ErrorCode::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("NOTIFY_SOCKET"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace spacesfs

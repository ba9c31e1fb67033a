#include "common/sd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstring>
#include <string>

namespace spacesfs {
namespace {

Status Send(const std::string& message) {
  int r = sd_notify(/*unset_environment=*/0, message.c_str());
  if (r < 0) {
    return Status(ErrorCode::kIoError,
                  "sd_notify to $NOTIFY_SOCKET failed: " + std::string(std::strerror(-r)));
  }
  return Status::Ok();  // r == 0: NOTIFY_SOCKET unset, nothing to do
}

}  // namespace

Status NotifyReady() { return Send("READY=1"); }

Status NotifyStatus(const std::string& status) {
  std::string line = status;
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return Send("STATUS=" + line);
}

Status NotifyStopping() { return Send("STOPPING=1"); }

Status NotifyReloading() {
  struct timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  unsigned long long usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ull +
                            static_cast<unsigned long long>(now.tv_nsec) / 1000ull;
  return Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace spacesfs

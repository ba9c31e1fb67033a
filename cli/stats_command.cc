#include "cli/stats_command.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "fs/fuse/stats_report.h"

namespace spacesfs::cli {
namespace {

// Where daemons of spacesfs before the stats ioctl answered the counters.
constexpr char kLegacyStatsXattr[] = "user.spacesfs.stats";

int Fail(const std::string& line) {
  std::fprintf(stderr, "spacesfs: %s\n", line.c_str());
  return 1;
}

// One line for what open(2) or the stats ioctl failed with.
int FailFor(int err, const std::string& mountpoint) {
  switch (err) {
    case EACCES:
    case EPERM:
      return Fail("the stats of " + mountpoint +
                  " are shown only to the user who mounted it and to root");
    case ENOTDIR:
    case ENOTTY:
    case EINVAL:
    case ENOSYS:
    case EOPNOTSUPP:
      return Fail(mountpoint + " is not a spacesfs mount point (give the directory a Space is "
                               "mounted on)");
    case ENOTCONN:
      return Fail(mountpoint + " is a dead spacesfs mount (its daemon is gone): run fusermount3 -u " +
                  mountpoint);
    default:
      return Fail("cannot read the stats of " + mountpoint + ": " + std::strerror(err));
  }
}

}  // namespace

int RunStats(const std::string& mountpoint) {
  int fd = open(mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailFor(errno, mountpoint);
  std::vector<char> buf(fuse::kStatsMaxBytes);
  int n = ioctl(fd, fuse::kStatsIoctl, buf.data());
  int saved_errno = errno;
  close(fd);
  if (n < 0 && (saved_errno == ENOTTY || saved_errno == ENOSYS)) {
    // A daemon started before spacesfs answered this ioctl (a mount made before an upgrade)
    // answers the same text as the attribute kLegacyStatsXattr of the mount point.
    ssize_t got = getxattr(mountpoint.c_str(), kLegacyStatsXattr, buf.data(), buf.size());
    if (got >= 0) {
      n = static_cast<int>(got);
    } else if (errno == EACCES || errno == EPERM) {
      saved_errno = errno;
    }
  }
  if (n < 0) return FailFor(saved_errno, mountpoint);
  std::string_view text(buf.data(), std::min(static_cast<size_t>(n), buf.size()));
  // An answer without the first field comes from some other filesystem's ioctl.
  if (!text.starts_with(fuse::kStatsFirstField)) return FailFor(ENOTTY, mountpoint);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace spacesfs::cli

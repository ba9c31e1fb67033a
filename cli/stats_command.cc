#include "cli/stats_command.h"

#include <sys/xattr.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "fs/fuse/stats_xattr.h"

namespace spacesfs::cli {
namespace {

int Fail(const std::string& line) {
  std::fprintf(stderr, "spacesfs: %s\n", line.c_str());
  return 1;
}

}  // namespace

int RunStats(const std::string& mountpoint) {
  std::vector<char> buf(4096);
  ssize_t n;
  while ((n = getxattr(mountpoint.c_str(), fuse::kStatsXattrName, buf.data(), buf.size())) < 0 &&
         errno == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (n >= 0) {
    std::fwrite(buf.data(), 1, static_cast<size_t>(n), stdout);
    return 0;
  }
  switch (errno) {
    case EACCES:
    case EPERM:
      return Fail("the stats of " + mountpoint +
                  " are shown only to the user who mounted it and to root");
    case ENOTSUP:
    case ENODATA:
      return Fail(mountpoint + " is not a spacesfs mount point (give the directory a Space is "
                               "mounted on)");
    case ENOTCONN:
      return Fail(mountpoint + " is a dead spacesfs mount (its daemon is gone): run fusermount3 -u " +
                  mountpoint);
    default:
      return Fail("cannot read the stats of " + mountpoint + ": " + std::strerror(errno));
  }
}

}  // namespace spacesfs::cli

// `spacesfs stats MOUNTPOINT`: the counters of the daemon serving a mount (requests, failed
// requests, bytes each way, denials, files open for writing, the daemon's pid), one "name value"
// line each.
//
// Reads them through the ioctl(2) fuse::kStatsIoctl on the mount point (fs/fuse/stats_report.h).
// A daemon too old to answer it (a mount made before an upgrade) is asked for the extended
// attribute user.spacesfs.stats instead, as it answered then.
// Only the user who made the mount and root are answered; anyone else gets one line saying so.
//
// Exit status: 0 with the counters on standard output; 1 with one line on standard error (not a
// spacesfs mount point, refused, a dead mount, missing path).
// Threading: single-threaded.
#pragma once

#include <string>

namespace spacesfs::cli {

int RunStats(const std::string& mountpoint);

}  // namespace spacesfs::cli

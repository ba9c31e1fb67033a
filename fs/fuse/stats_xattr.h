// The mount's counters as text, for `spacesfs stats MOUNTPOINT` (and the STATUS= line under
// systemd).
//
// The daemon answers getxattr(2) of the reserved name kStatsXattrName on the root directory of the
// mount with FormatStats(): one "name value" line per counter. It answers only the user who made
// the mount and root (anyone else gets EACCES); the kernel itself keeps other users out of a mount
// without allow_other (and root out without allow_root). The name is not listed by listxattr and
// cannot be set or removed; every other extended attribute stays unsupported (docs/SEMANTICS.md).
//
// Pure functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "fs/filesystem.h"

namespace spacesfs::fuse {

inline constexpr char kStatsXattrName[] = "user.spacesfs.stats";

// "pid N\nrequests N\nrequest_errors N\nbytes_downloaded N\nbytes_uploaded N\n"
// "denials_scope N\ndenials_server N\nfiles_open_for_writing N\n"
std::string FormatStats(const fs::Counters& counters, pid_t pid, uint64_t files_open_for_writing);

// One line for STATUS=: "42 requests (0 failed), 1.5 MiB down, 12 KiB up, 0 denials".
std::string FormatStatsLine(const fs::Counters& counters);

}  // namespace spacesfs::fuse

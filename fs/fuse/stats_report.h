// The mount's counters as text, for `spacesfs stats MOUNTPOINT` (and the STATUS= line under
// systemd).
//
// The daemon answers the ioctl(2) kStatsIoctl on its root directory (an fd opened with
// O_RDONLY | O_DIRECTORY) with FormatStats(): one "name value" line per counter, the ioctl's
// return value being the text's length. It answers only the user who made the mount and root
// (anyone else gets EACCES); the kernel itself keeps other users out of a mount without
// allow_other (and root out without allow_root). On any other inode the ioctl is ENOTTY.
//
// An ioctl rather than an extended attribute: a filesystem that answers getxattr(2) at all is
// asked for "security.capability" before every write(2) (a FUSE round trip each), while one that
// leaves getxattr unimplemented is never asked again (docs/SEMANTICS.md, Extended attributes).
//
// Pure functions; thread-safe.
#pragma once

#include <sys/ioctl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fs/filesystem.h"

namespace spacesfs::fuse {

// The most the stats text may take; the ioctl's argument is a buffer of this size.
inline constexpr size_t kStatsMaxBytes = 4096;
// _IOR('S', 0x73, char[kStatsMaxBytes]): read-only, so the kernel copies out, never in.
inline constexpr unsigned long kStatsIoctl = _IOR('S', 0x73, char[kStatsMaxBytes]);
// What every stats text starts with; a reply without it is not spacesfs's.
inline constexpr char kStatsFirstField[] = "pid ";

// "pid N\nrequests N\nrequest_errors N\nbytes_downloaded N\nbytes_uploaded N\n"
// "denials_scope N\ndenials_server N\nfiles_open_for_writing N\n"
std::string FormatStats(const fs::Counters& counters, pid_t pid, uint64_t files_open_for_writing);

// One line for STATUS=: "42 requests (0 failed), 1.5 MiB down, 12 KiB up, 0 denials".
std::string FormatStatsLine(const fs::Counters& counters);

}  // namespace spacesfs::fuse

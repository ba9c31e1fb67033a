// The libfuse low-level operation table for spacesfs: each callback takes the fs::Filesystem from
// fuse_req_userdata, calls one method, and replies. Nothing else happens here but translating
// types and mapping ErrorCode to errno (errno_map.h). No exception crosses into libfuse.
//
// Two things the adapter adds to the Filesystem:
//   - the mount's counters as an ioctl of the root directory (stats_report.h), answered to
//     owner_uid and root only (EACCES for anyone else);
//   - the count of files open for writing (WriteTracker): while the mount is stopping, opening a
//     file for writing and creating one are refused with EROFS.
//
// Threading: callbacks run on libfuse's worker threads concurrently; the adapter keeps no state of
// its own besides what FuseUserdata holds.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <atomic>

#include "fs/filesystem.h"
#include "fs/fuse/write_tracker.h"

namespace spacesfs::fuse {

// What fuse_session_new is given as userdata. fs is set before the session loop starts.
struct FuseUserdata {
  std::atomic<fs::Filesystem*> fs{nullptr};
  // Largest write the kernel may send (conn->max_write); also the read-ahead hint.
  unsigned max_write = 1u << 20;
  // The user who made the mount: may read the stats (so may root).
  uid_t owner_uid = 0;
  WriteTracker writers;
};

const fuse_lowlevel_ops& SpacesfsOperations();

}  // namespace spacesfs::fuse

// The libfuse low-level operation table for spacesfs: each callback takes the fs::Filesystem from
// fuse_req_userdata, calls one method, and replies. Nothing else happens here but translating
// types and mapping ErrorCode to errno (errno_map.h). No exception crosses into libfuse.
//
// Threading: callbacks run on libfuse's worker threads concurrently; the adapter keeps no state of
// its own besides what FuseUserdata holds.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>

#include "fs/filesystem.h"

namespace spacesfs::fuse {

// What fuse_session_new is given as userdata. fs is set before the session loop starts.
struct FuseUserdata {
  std::atomic<fs::Filesystem*> fs{nullptr};
  // Largest write the kernel may send (conn->max_write); also the read-ahead hint.
  unsigned max_write = 1u << 20;
};

const fuse_lowlevel_ops& SpacesfsOperations();

}  // namespace spacesfs::fuse

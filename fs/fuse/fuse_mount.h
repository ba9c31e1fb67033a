// FuseMount: one libfuse low-level session mounted on a directory, serving an fs::Filesystem
// with the multi-threaded loop.
//
// Lifecycle: Mount() checks the mount point (exists, is a directory, is not already a mount) and
// mounts; the caller may then daemonize (before any thread exists), build the Filesystem, and call
// Serve(), which returns when the file system is unmounted or a SIGTERM/SIGINT arrives. The
// destructor unmounts if still mounted and destroys the session, which runs Filesystem::Destroy()
// (pending uploads) through the FUSE destroy callback.
//
// Errors: kConfig with one line naming the mount point and the problem ("... is busy: already a
// mount point", "... does not exist"); kIoError when the kernel refuses the mount.
// Threading: Mount/Serve/destructor on the main thread. Signals: SIGTERM, SIGINT end Serve();
// SIGHUP calls the on_reload callback from a dedicated thread (never from the signal handler).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "fs/filesystem.h"
#include "fs/fuse/fuse_operations.h"

struct fuse_session;

namespace spacesfs::fuse {

struct MountConfig {
  std::string mountpoint;
  std::string fsname;          // first field of /proc/mounts, e.g. "spacesfs:photos"
  bool allow_other = false;
  bool allow_root = false;
  bool default_permissions = false;
  bool read_only = false;
  bool debug = false;          // libfuse request tracing
  unsigned max_threads = 16;
  unsigned max_write = 1u << 20;
};

class FuseMount {
 public:
  static Result<std::unique_ptr<FuseMount>> Mount(const MountConfig& config);
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Serves requests until unmounted or signalled. on_reload runs (on a helper thread) for SIGHUP.
  Status Serve(fs::Filesystem& filesystem, std::function<void()> on_reload);

  // Unmounts and destroys the session now (runs Filesystem::Destroy). Idempotent.
  void Close();

  const std::string& mountpoint() const { return config_.mountpoint; }

 private:
  explicit FuseMount(MountConfig config) : config_(std::move(config)) {}

  MountConfig config_;
  FuseUserdata userdata_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
};

// One line if path cannot be a mount point (missing, not a directory, already mounted), else OK.
Status CheckMountPoint(const std::string& path);

}  // namespace spacesfs::fuse

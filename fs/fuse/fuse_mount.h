// FuseMount: one libfuse low-level session mounted on a directory, serving an fs::Filesystem
// with the multi-threaded loop.
//
// Lifecycle: Mount() checks the mount point (exists, is a directory, is not already a mount) and,
// for a user other than root, what fusermount3 would refuse (/dev/fuse not usable, allow_other or
// allow_root without user_allow_other in /etc/fuse.conf), then mounts; the caller may then
// daemonize (before any thread exists), build the Filesystem, and call Serve(), which returns when
// the file system is unmounted or stopped by SIGTERM/SIGINT. Close() (or the destructor) unmounts
// if still mounted and destroys the session, which runs Filesystem::Destroy() (pending uploads)
// through the FUSE destroy callback.
//
// Stopping (SIGTERM, SIGINT): on_stopping runs, new writes are refused (EROFS for opening a file
// for writing or creating one), and the files already open for writing are served until they are
// all released, so their objects are complete; after stop_timeout the session ends anyway. A
// second SIGTERM/SIGINT ends the wait at once. Reads go on being served meanwhile.
//
// Errors: kConfig with one line naming the mount point and the problem ("... is busy: already a
// mount point", "... does not exist", "... needs 'user_allow_other' in /etc/fuse.conf"); kIoError
// when the kernel refuses the mount.
// Threading: Mount/Serve/Close/destructor on the main thread. Signals are turned into work on one
// control thread (never done in the signal handler): SIGHUP runs on_reload, SIGTERM/SIGINT the
// stop above; on_tick runs there every tick_interval while serving.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
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
  std::string fsname;          // first field of /proc/mounts, e.g. "photos" or "photos:/2024"
  bool allow_other = false;
  bool allow_root = false;
  bool default_permissions = false;
  bool read_only = false;
  bool no_exec = false;        // MS_NOEXEC (spacesfs mounts are always nosuid, nodev)
  bool debug = false;          // libfuse request tracing
  unsigned max_threads = 16;
  unsigned max_write = 1u << 20;
  // How long a stop waits for files open for writing to be closed.
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds tick_interval = std::chrono::seconds(10);
};

// What Serve() calls, each on the control thread; any may be empty.
struct ServeCallbacks {
  std::function<void()> on_reload;    // SIGHUP
  std::function<void()> on_stopping;  // SIGTERM/SIGINT, before waiting for open files
  std::function<void()> on_tick;      // every tick_interval while serving (not while stopping)
};

class FuseMount {
 public:
  static Result<std::unique_ptr<FuseMount>> Mount(const MountConfig& config);
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Serves requests until unmounted, or stopped by SIGTERM/SIGINT (see the top of this file).
  Status Serve(fs::Filesystem& filesystem, ServeCallbacks callbacks);

  // Files open for writing right now.
  uint64_t FilesOpenForWriting() const { return userdata_.writers.Open(); }

  // Unmounts and destroys the session now (runs Filesystem::Destroy). Idempotent.
  void Close();

  const std::string& mountpoint() const { return config_.mountpoint; }

 private:
  explicit FuseMount(MountConfig config) : config_(std::move(config)) {}
  // The control thread: reads the signal pipe, runs the callbacks, stops the session.
  void ControlLoop(int signal_fd, const ServeCallbacks& callbacks, pthread_t main_thread,
                   const std::atomic<bool>& loop_done);

  MountConfig config_;
  FuseUserdata userdata_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
};

// One line if path cannot be a mount point (missing, not a directory, already mounted), else OK.
Status CheckMountPoint(const std::string& path);

}  // namespace spacesfs::fuse

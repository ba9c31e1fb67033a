// Parsing of what a mount is given: the target "SPACE[:/PREFIX]" and the "-o" option list,
// whether it comes from the spacesfs command line, mount(8) through mount.spacesfs, or an fstab line.
//
// Unknown options are an error naming each of them. Secrets are never accepted as options (they would
// show in `ps` and /etc/fstab): an option that carries one is refused with a message saying where the
// secret goes instead. Options that only mean something to mount(8) or systemd (_netdev, nofail,
// noauto, user, x-systemd.*, ...) are accepted and ignored, and so are suid/dev (a spacesfs mount is
// always nosuid,nodev); noexec is honoured (fstab's `user` and `users` imply it).
//
// Pure functions; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace spacesfs::cli {

struct MountTarget {
  std::string space;   // bucket name
  std::string prefix;  // "" or a key prefix ending in '/'
};

// "photos" or "photos:/2024/trips" (prefix stored as "2024/trips/").
Result<MountTarget> ParseMountTarget(std::string_view text);

struct MountOptions {
  std::string profile = "default";
  std::string credentials_file;            // "" = the caller's default credential file
  std::optional<uid_t> uid;                // owner of objects without x-amz-meta-uid
  std::optional<gid_t> gid;
  mode_t umask = 0022;
  std::optional<mode_t> file_mode;         // mode of files without x-amz-meta-mode
  std::optional<mode_t> dir_mode;
  bool allow_other = false;
  bool allow_root = false;
  std::optional<bool> default_permissions; // unset: on with allow_other/allow_root
  bool read_only = false;
  bool no_exec = false;                    // noexec: programs on the mount cannot be executed
  double stop_timeout = 30.0;              // seconds SIGTERM waits for files open for writing
  double connect_timeout = 10.0;           // seconds to connect to the server
  double request_timeout = 30.0;           // seconds a request may move under 1 KiB/s (stalled)
  int retries = 4;                         // attempts after the first, for retryable failures
  bool sign_payload_over_tls = false;      // sign_payload=always: digest bodies over https too
  std::string staging_dir;                 // "" = $TMPDIR or /var/tmp
  uint64_t memory_budget = 128ull << 20;   // the daemon's memory in all (see DataPathBudget)
  uint64_t part_size = 8ull << 20;         // multipart part size
  uint64_t max_read_ahead = 64ull << 20;   // per open file
  bool verify_reads = true;                // check sequential reads against the ETag's MD5
  std::string cache_dir;                   // "" = no disk cache of read data
  uint64_t cache_size = 1ull << 30;        // bound of the disk cache
  size_t upload_parallel = 8;              // parts of one file in flight
  std::string state_dir;                   // "" = DefaultStateDir() (cli/state_dir.h)
  double attr_timeout = 1.0;               // seconds
  double entry_timeout = 1.0;
  double negative_timeout = 1.0;
  double metadata_flush_delay = 1.0;       // seconds chmod/chown/utimens wait before their COPY
  std::string log_level = "info";
  std::string log_file;                    // "" = stderr (or the journal under systemd)
  std::string fsname;                      // shown in /proc/mounts; default SPACE[:/PREFIX] as given
  bool foreground = false;
  bool debug = false;

  // With allow_other/allow_root the kernel checks mode bits unless explicitly turned off.
  bool EffectiveDefaultPermissions() const {
    return default_permissions.value_or(allow_other || allow_root);
  }
};

// Parses each "-o" argument (comma-separated key[=value] items) into options, in order; a later
// item overrides an earlier one. Errors are kConfig with one line naming the offending option(s).
Result<MountOptions> ParseMountOptions(const std::vector<std::string>& option_lists);

// The share of memory_budget that read-ahead chunks and upload part buffers may hold together.
// The rest is the daemon's own: code, FUSE request and reply buffers of its threads, connections,
// the inode table. That takes about 25 MiB at the peak of 8 parallel readers, so 32 MiB is kept
// for it (half the budget, for budgets under 64 MiB).
uint64_t DataPathBudget(uint64_t memory_budget);

}  // namespace spacesfs::cli

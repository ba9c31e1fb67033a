// `spacesfs SPACE[:/PREFIX] MOUNTPOINT [-o OPTIONS] [-f] [-d]` (also reached as mount.spacesfs).
//
// Order of work, so every failure is reported by the command the user ran, within seconds, as one
// line and a non-zero exit: options, credential profile and scope, a first request to the Space
// (bucket exists, key accepted, endpoint reachable), mount point checks, mount; only then does the
// daemon detach (unless -f) and start serving. Exit status 0 after a clean unmount or SIGTERM.
#pragma once

#include <string>
#include <vector>

namespace spacesfs::cli {

// args excludes the program name. Returns the process exit status. as_mount_helper: invoked as
// mount.spacesfs by mount(8), where -f means "fake" (check everything, do not mount).
int RunMount(const std::vector<std::string>& args, bool as_mount_helper = false);

}  // namespace spacesfs::cli

// Where spacesfs keeps what must outlive a daemon (the journals of multipart uploads in progress,
// so that the next mount aborts the ones a killed daemon left): the default of the mount option
// state_dir=.
//
//   root            /var/lib/spacesfs (created by systemd's StateDirectory=spacesfs in the unit)
//   anyone else     $XDG_STATE_HOME/spacesfs, or ~/.local/state/spacesfs when XDG_STATE_HOME is
//                   unset, empty or not an absolute path (as the XDG Base Directory spec says)
//
// Nothing is created here. Thread-safe (DefaultStateDir reads the environment; call it before
// starting threads that change it).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace spacesfs::cli {

// For getuid(), $XDG_STATE_HOME, and $HOME (the password database when HOME is unset or empty).
// "" when a user's home directory cannot be found.
std::string DefaultStateDir();

// The same from given values: a pure function.
std::string DefaultStateDirFor(uid_t uid, std::string_view xdg_state_home, std::string_view home);

}  // namespace spacesfs::cli

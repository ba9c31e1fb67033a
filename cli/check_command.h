// `spacesfs check PROFILE [SPACE]`: what a credential profile's key can really do on the server,
// next to what its scope (grant lines) allows.
//
// Reads the credential file (any problem is reported as one line and exit status 1; so is a SPACE
// the profile has no grant for), then for each Space the profile grants (or only SPACE) probes the
// server (cli/key_probe.h: list, write a temporary object under ".spacesfs-check/", read, delete
// it). Prints one line per Space and a warning when the key can do more than the scope (a broad
// key: the scope is the only guard) or less (operations the scope allows will fail with
// "Permission denied").
//
// Exit status: 0 when every probe ran (whatever it found), 1 on a credential or connection error.
// Threading: single-threaded; does network requests.
#pragma once

#include <string>

namespace spacesfs::cli {

// space "" checks every Space the profile grants; credentials_file "" is the caller's default.
int RunCheck(const std::string& profile, const std::string& space,
             const std::string& credentials_file);

}  // namespace spacesfs::cli

// `spacesfs keys`: mint keys limited to the Spaces and permissions asked for and store them as
// profiles (see docs/KEYS.md).
//
//   spacesfs keys create --name NAME --grant SPACE[/PREFIX]:PERMISSION [--grant ...]
//                        [--profile PROFILE] [--provider digitalocean|rgw] [--credentials FILE]
//                        [--region REGION] [--endpoint URL] [--token-file FILE]
//                        [--admin-profile PROFILE] [--force]
//   spacesfs keys list   [--provider ...]
//   spacesfs keys revoke NAME|ACCESS_KEY [--provider ...]
//   spacesfs keys rotate PROFILE [--provider ...]
//
// argv[0] is the program, argv[1] is "keys". Returns the exit status: 0 success, 1 failure (one
// line on stderr), 2 usage error. Secrets never reach stdout or stderr.
// Not thread-safe (writes to stdout/stderr).
#pragma once

namespace spacesfs::cli {

int RunKeys(int argc, char** argv);

}  // namespace spacesfs::cli

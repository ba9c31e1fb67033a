// Object-level subcommands that use a Space without mounting it:
//   spacesfs ls [-p PROFILE] [-c FILE] [-r] SPACE[:/PREFIX]
//   spacesfs cp [-p PROFILE] [-c FILE] SRC DST      (one side SPACE:/KEY, the other a local path)
// They use the same credential store and scope rules as a mount. One line on stderr and exit 1 on
// failure.
#pragma once

#include <string>

namespace spacesfs::cli {

struct SpaceCommandOptions {
  std::string profile = "default";
  std::string credentials_file;
};

int RunList(const SpaceCommandOptions& options, const std::string& target, bool recursive);
int RunCopy(const SpaceCommandOptions& options, const std::string& source,
            const std::string& destination);

}  // namespace spacesfs::cli

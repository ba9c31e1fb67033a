// spacesfs: mount a Space with a scoped credential, or use it without mounting.
//
//   spacesfs SPACE[:/PREFIX] MOUNTPOINT [-o OPTIONS] [-f] [-d]   mount (also as mount.spacesfs)
//   spacesfs ls [-p PROFILE] [-c FILE] [-r] SPACE[:/PREFIX]       list objects
//   spacesfs cp [-p PROFILE] [-c FILE] SRC DST                    copy a file in or out
//   spacesfs check [-c FILE] PROFILE [SPACE]                      key's real rights vs the scope
//   spacesfs stats MOUNTPOINT                                     the counters of a mount's daemon
//   spacesfs keys create|list|revoke|rotate ...                   mint per-Space keys (docs/KEYS.md)
//   spacesfs version
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/check_command.h"
#include "cli/keys_command.h"
#include "cli/mount_command.h"
#include "cli/object_commands.h"
#include "cli/space_client.h"
#include "cli/stats_command.h"
#include "cli/usage_error.h"

namespace {

bool IsSubcommand(const std::string& word) {
  return word == "ls" || word == "cp" || word == "keys" || word == "check" || word == "stats" ||
         word == "version" || word == "--version" || word == "help" || word == "--help";
}

int RunSubcommand(int argc, char** argv) {
  CLI::App app{"spacesfs: S3-compatible Spaces as directories, with a scoped credential per mount"};
  app.require_subcommand(1);
  spacesfs::cli::SpaceCommandOptions options;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("-p,--profile", options.profile, "credential profile (default: default)");
    sub->add_option("-c,--credentials", options.credentials_file,
                    "credential file (default: /etc/spacesfs/credentials for root, "
                    "~/.config/spacesfs/credentials otherwise)");
  };
  std::string target, source, destination;
  bool recursive = false;
  CLI::App* ls = app.add_subcommand("ls", "list the objects of a Space");
  add_common(ls);
  ls->add_flag("-r,--recursive", recursive, "list every key below the prefix");
  ls->add_option("target", target, "SPACE[:/PREFIX]")->required();
  CLI::App* cp = app.add_subcommand("cp", "copy a local file to SPACE:/KEY or back");
  add_common(cp);
  cp->add_option("source", source)->required();
  cp->add_option("destination", destination)->required();
  std::string check_profile, check_space;
  CLI::App* check = app.add_subcommand(
      "check", "compare what a profile's key can really do on the server with its scope");
  check->add_option("-c,--credentials", options.credentials_file, "credential file");
  check->add_option("profile", check_profile, "credential profile")->required();
  check->add_option("space", check_space, "one Space (default: every Space the profile grants)");
  std::string stats_mountpoint;
  CLI::App* stats = app.add_subcommand(
      "stats", "the counters of the daemon serving a mount (its owner and root only)");
  stats->add_option("mountpoint", stats_mountpoint, "the directory the Space is mounted on")
      ->required();
  CLI::App* version = app.add_subcommand("version", "print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const std::string credentials = options.credentials_file.empty()
                                        ? spacesfs::cli::DefaultCredentialFileFor(getuid())
                                        : options.credentials_file;
    return spacesfs::cli::ReportUsageError(app, e, argv[1],
                                           std::vector<std::string>(argv + 2, argv + argc),
                                           credentials);
  }
  if (ls->parsed()) return spacesfs::cli::RunList(options, target, recursive);
  if (cp->parsed()) return spacesfs::cli::RunCopy(options, source, destination);
  if (check->parsed()) {
    return spacesfs::cli::RunCheck(check_profile, check_space, options.credentials_file);
  }
  if (stats->parsed()) return spacesfs::cli::RunStats(stats_mountpoint);
  if (version->parsed()) {
    std::printf("spacesfs 0.1.0\n");
    return 0;
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Secrets live in this process's memory: no core dumps, no ptrace by other users.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Part buffers and read-ahead chunks (megabytes each) are mapped and unmapped, not kept in
  // malloc's arenas after use, so the daemon's memory follows its budget.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_ARENA_MAX, 4);
  if (argc > 1 && std::string(argv[1]) == "keys") return spacesfs::cli::RunKeys(argc, argv);
  if (argc > 1 && IsSubcommand(argv[1])) {
    if (std::string(argv[1]) == "--version") {
      std::printf("spacesfs 0.1.0\n");
      return 0;
    }
    return RunSubcommand(argc, argv);
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string program = argv[0];
  bool as_mount_helper = program.substr(program.find_last_of('/') + 1) == "mount.spacesfs";
  return spacesfs::cli::RunMount(args, as_mount_helper);
}

// Reporting a command-line parse failure without repeating a secret. CLI11's usage errors quote
// the arguments they could not place ("The following argument was not expected: ..."), so a
// secret typed on the command line would be echoed to the terminal and to any log of it.
//
// ReportUsageError, in order:
//   - an argument that would carry a secret (auth::RefuseSecretInArgs: an option named for one, a
//     value shaped like one) is refused by position, with where secrets belong;
//   - --help (CLI11's exit code 0) prints the help and returns 0;
//   - otherwise CLI11's message is printed with every argument that could be a secret by its
//     alphabet and length (auth::MayBeSecret) replaced by "(N characters, not shown)", plus where
//     secrets belong when one was; messages that quote nothing of the kind are CLI11's own.
// Returns the exit status: 0 for --help, 2 (a usage error) otherwise. Single-threaded.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace spacesfs::cli {

// `command` names the command in the message ("ls", "keys create"); `args` are the arguments
// after it; `credential_path` is where the message says secrets belong.
int ReportUsageError(const CLI::App& app, const CLI::ParseError& error, const std::string& command,
                     const std::vector<std::string>& args, const std::string& credential_path);

}  // namespace spacesfs::cli

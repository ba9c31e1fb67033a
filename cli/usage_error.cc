#include "cli/usage_error.h"

#include <cstdio>

#include "auth/secret_options.h"

namespace spacesfs::cli {

int ReportUsageError(const CLI::App& app, const CLI::ParseError& error, const std::string& command,
                     const std::vector<std::string>& args, const std::string& credential_path) {
  if (Status refused = auth::RefuseSecretInArgs(args, credential_path); !refused.ok()) {
    std::fprintf(stderr, "spacesfs %s: %s\n", command.c_str(), refused.ToString().c_str());
    return 2;
  }
  if (error.get_exit_code() == 0) return app.exit(error);  // --help
  bool redacted = false;
  const std::string message = auth::RedactPossibleSecrets(error.what(), args, &redacted);
  if (!redacted) {
    app.exit(error);
    return 2;
  }
  std::fprintf(stderr, "spacesfs %s: %s; %s\n", command.c_str(), message.c_str(),
               auth::SecretAdvice(credential_path).c_str());
  return 2;
}

}  // namespace spacesfs::cli

#include "cli/keys_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "auth/credentials.h"
#include "auth/secret_options.h"
#include "cli/usage_error.h"
#include "keys/digitalocean_provider.h"
#include "keys/key_workflow.h"
#include "keys/rgw_provider.h"

namespace spacesfs::cli {
namespace {

struct KeysOptions {
  std::string provider = "digitalocean";
  std::string credentials;
  std::string region;
  std::string endpoint;
  std::string token_file;
  std::string admin_profile;
  std::string admin_credentials;
};

int Fail(const Status& status) {
  std::fprintf(stderr, "spacesfs keys: %s\n", status.ToString().c_str());
  return 1;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::string CredentialsPath(const KeysOptions& options) {
  if (!options.credentials.empty()) return options.credentials;
  const char* home = std::getenv("HOME");
  return auth::DefaultCredentialPath(::getuid(), home != nullptr ? home : "");
}

Result<std::unique_ptr<keys::KeyProvider>> MakeProvider(const KeysOptions& options,
                                                        bool needs_region) {
  if (options.provider == "digitalocean") {
    Result<Secret> token = keys::LoadDigitalOceanToken(options.token_file, ::getuid());
    if (!token.ok()) return token.status();
    keys::DigitalOceanConfig config;
    const char* url = std::getenv("DIGITALOCEAN_API_URL");
    if (url != nullptr && *url != '\0') config.api_url = url;
    while (!config.api_url.empty() && config.api_url.back() == '/') config.api_url.pop_back();
    config.token = std::move(*token);
    config.region = options.region;
    config.endpoint = options.endpoint;
    if (needs_region && config.region.empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "--region is required with --provider digitalocean (e.g. --region nyc3)");
    }
    if (config.endpoint.empty() && !config.region.empty()) {
      config.endpoint = "https://" + config.region + ".digitaloceanspaces.com";
    }
    return std::unique_ptr<keys::KeyProvider>(new keys::DigitalOceanProvider(std::move(config)));
  }
  if (options.provider == "rgw") {
    if (options.admin_profile.empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "--admin-profile PROFILE is required with --provider rgw (a profile whose key "
                    "has the RGW caps users=*, metadata=read and user-policy=*)");
    }
    const std::string path =
        options.admin_credentials.empty() ? CredentialsPath(options) : options.admin_credentials;
    Result<auth::Profile> admin = auth::LoadProfile(path, options.admin_profile, ::getuid());
    if (!admin.ok()) return admin.status();
    keys::RgwConfig config;
    config.endpoint = admin->endpoint;
    config.region = admin->region;
    config.ca_bundle = admin->ca_bundle;
    config.admin = s3::SigningKey{admin->access_key_id, admin->secret_access_key,
                                  std::string(admin->session_token.reveal())};
    return std::unique_ptr<keys::KeyProvider>(new keys::RgwProvider(std::move(config)));
  }
  return Status(ErrorCode::kInvalidArgument,
                "unknown --provider '" + options.provider + "' (use digitalocean or rgw)");
}

void Say(const std::string& line) { std::printf("%s\n", line.c_str()); }

// Refuses an API token among the arguments, naming only its position: an option named for a token
// (--token, --api-token=...; --token-file is fine) or a value shaped like a DigitalOcean token.
// Runs before CLI11 sees the arguments, since its usage errors quote them.
Status RefuseTokenInArgs(const std::vector<std::string>& args) {
  const std::string advice =
      "; API tokens are never taken from the command line (ps and /proc show every argument): "
      "set DIGITALOCEAN_TOKEN or pass --token-file FILE (mode 0600)";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() > 1 && arg[0] == '-') {
      const std::string name = arg.substr(0, arg.find('='));
      if (auth::IsSecretOptionName(name) && name.find("token") != std::string::npos) {
        return Status(ErrorCode::kInvalidArgument,
                      "option '" + name + "' would carry an API token" + advice);
      }
    }
    if (keys::LooksLikeDigitalOceanToken(arg)) {
      return Status(
          ErrorCode::kInvalidArgument,
          "argument " + std::to_string(i + 1) + " looks like a DigitalOcean API token" + advice);
    }
  }
  return Status::Ok();
}

}  // namespace

int RunKeys(int argc, char** argv) {
  CLI::App app{"spacesfs keys: mint scoped keys and store them as credential profiles"};
  app.require_subcommand(1);
  KeysOptions options;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--provider", options.provider, "digitalocean (default) or rgw")
        ->check(CLI::IsMember({"digitalocean", "rgw"}));
    sub->add_option("-c,--credentials", options.credentials,
                    "credential file (default: /etc/spacesfs/credentials for root, "
                    "~/.config/spacesfs/credentials otherwise)");
    sub->add_option(
        "--token-file", options.token_file,
        "file holding the DigitalOcean API token (mode 0600); wins over $DIGITALOCEAN_TOKEN");
    sub->add_option("--admin-profile", options.admin_profile, "rgw: profile of the RGW admin key");
    sub->add_option("--admin-credentials", options.admin_credentials,
                    "rgw: credential file holding --admin-profile (default: --credentials)");
  };
  std::string name, profile, target;
  std::vector<std::string> grant_texts;
  bool force = false;
  CLI::App* create = app.add_subcommand("create", "create a key and store it as a profile");
  add_common(create);
  create->add_option("--name", name, "name of the key")->required();
  create->add_option("--grant", grant_texts, "SPACE[/PREFIX]:PERMISSION (repeatable)")->required();
  create->add_option("--profile", profile, "profile to write (default: the key name)");
  create->add_option("--region", options.region, "digitalocean: region of the Spaces (nyc3, ...)");
  create->add_option("--endpoint", options.endpoint, "profile endpoint (default: from the region)");
  create->add_flag("--force", force, "replace an existing profile");
  CLI::App* list = app.add_subcommand("list", "list the keys of the provider");
  add_common(list);
  CLI::App* revoke = app.add_subcommand("revoke", "revoke a key");
  add_common(revoke);
  revoke->add_option("key", target, "NAME or ACCESS_KEY")->required();
  CLI::App* rotate = app.add_subcommand("rotate", "replace a profile's key with a new one");
  add_common(rotate);
  rotate->add_option("profile", target, "PROFILE")->required();
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (Status refused = RefuseTokenInArgs(args); !refused.ok()) return Fail(refused);
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return ReportUsageError(app, e, "keys", args, CredentialsPath(options));
  }

  const uid_t owner = ::getuid();
  if (Status refused = auth::RefuseSecretInArgs(args, CredentialsPath(options)); !refused.ok()) {
    return Fail(refused);
  }
  if (create->parsed()) {
    if (!ValidName(name)) {
      return Fail(Status(ErrorCode::kInvalidArgument,
                         "--name '" + name + "': use 1-64 letters, digits, '.', '_', '-', "
                                             "starting with a letter or digit"));
    }
    keys::CreateRequest request;
    request.key_name = name;
    request.profile = profile.empty() ? name : profile;
    if (!ValidName(request.profile)) {
      return Fail(Status(ErrorCode::kInvalidArgument, "--profile '" + request.profile +
                                                          "' is not a valid profile name"));
    }
    for (const std::string& text : grant_texts) {
      Result<auth::Grant> grant = auth::ParseGrant(text);
      if (!grant.ok()) return Fail(grant.status());
      if (!grant->who.empty()) {
        return Fail(Status(ErrorCode::kInvalidArgument,
                           "--grant '" + text + "': a key grant has no WHO part; add user or group "
                           "limits to the profile by hand"));
      }
      request.grants.push_back(*grant);
    }
    request.credentials_path = CredentialsPath(options);
    request.force = force;
    request.owner = owner;
    request.endpoint = options.endpoint;
    request.region = options.region;
    Result<std::unique_ptr<keys::KeyProvider>> provider = MakeProvider(options, true);
    if (!provider.ok()) return Fail(provider.status());
    Status status = keys::CreateAndStore(**provider, request, Say);
    std::fflush(stdout);
    return status.ok() ? 0 : Fail(status);
  }
  Result<std::unique_ptr<keys::KeyProvider>> provider = MakeProvider(options, false);
  if (!provider.ok()) return Fail(provider.status());
  if (list->parsed()) {
    Result<std::vector<keys::KeyInfo>> all = (*provider)->List();
    if (!all.ok()) return Fail(all.status());
    for (const keys::KeyInfo& key : *all) {
      std::string grants;
      for (const std::string& grant : key.grants) grants += (grants.empty() ? "" : ",") + grant;
      std::printf("%s\t%s\t%s\t%s\n", key.name.c_str(), key.access_key.c_str(),
                  grants.empty() ? "-" : grants.c_str(),
                  key.created_at.empty() ? "-" : key.created_at.c_str());
    }
    std::fflush(stdout);
    return 0;
  }
  if (revoke->parsed()) {
    Status status = (*provider)->Revoke(target);
    if (!status.ok()) return Fail(status);
    std::printf("revoked %s\n", target.c_str());
    std::fflush(stdout);
    return 0;
  }
  if (rotate->parsed()) {
    keys::RotateRequest request;
    request.profile = target;
    request.credentials_path = CredentialsPath(options);
    request.owner = owner;
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", std::gmtime(&now));
    request.new_key_name = target + "-" + stamp;
    if (const char* attempts = std::getenv("SPACESFS_KEYS_VERIFY_ATTEMPTS")) {
      request.verify_attempts = std::atoi(attempts);
    }
    Status status = keys::Rotate(**provider, request, Say);
    std::fflush(stdout);
    return status.ok() ? 0 : Fail(status);
  }
  return 2;
}

}  // namespace spacesfs::cli

#include "cli/check_command.h"

#include <cstdio>
#include <set>
#include <vector>

#include "auth/grant.h"
#include "auth/permission.h"
#include "cli/key_probe.h"
#include "cli/space_client.h"

namespace spacesfs::cli {
namespace {

const char* YesNo(bool b) { return b ? "yes" : "no"; }

}  // namespace

int RunCheck(const std::string& profile_name, const std::string& space,
             const std::string& credentials_file) {
  Result<auth::Profile> profile = LoadCallerProfile(credentials_file, profile_name);
  if (!profile.ok()) {
    std::fprintf(stderr, "spacesfs check: %s\n", profile.status().message().c_str());
    return 1;
  }
  std::vector<std::string> spaces;
  std::set<std::string> seen;
  for (const auth::Grant& grant : profile->grants) {
    if ((space.empty() || grant.space == space) && seen.insert(grant.space).second) {
      spaces.push_back(grant.space);
    }
  }
  if (spaces.empty()) {
    std::string granted;
    for (const auth::Grant& grant : profile->grants) {
      granted += (granted.empty() ? "" : ", ") + auth::FormatGrant(grant);
    }
    std::fprintf(stderr,
                 "spacesfs check: profile '%s' has no grant for Space '%s' (its grants: %s); add "
                 "a 'grant = %s:PERMISSION' line to it\n",
                 profile->name.c_str(), space.c_str(), granted.empty() ? "none" : granted.c_str(),
                 space.c_str());
    return 1;
  }
  std::printf("profile '%s' at %s\n", profile->name.c_str(), profile->endpoint.c_str());
  int status = 0;
  for (const std::string& name : spaces) {
    // What the scope allows at best (any grant, any user): the largest permission.
    std::string grants;
    auth::Permission best = auth::Permission::kRead;
    for (const auth::Grant& grant : profile->grants) {
      if (grant.space != name) continue;
      if (!grants.empty()) grants += ", ";
      grants += auth::FormatGrant(grant);
      if (grant.permission > best) best = grant.permission;
    }
    Result<std::unique_ptr<s3::CurlObjectClient>> client = OpenSpace(*profile, name);
    if (!client.ok()) {
      std::fprintf(stderr, "spacesfs check: %s\n", client.status().message().c_str());
      status = 1;
      continue;
    }
    KeyRights rights = ProbeKey(**client);
    std::printf("Space '%s': key can list %s, read %s, write %s, delete %s; scope: %s\n",
                name.c_str(), YesNo(rights.list), YesNo(rights.read), YesNo(rights.write),
                YesNo(rights.del), grants.c_str());
    if (!rights.problem.empty()) {
      std::printf("  error: %s\n", rights.problem.c_str());
      status = 1;
      continue;
    }
    for (const std::string& warning : RightsWarnings(rights, best)) {
      std::printf("  %s\n", warning.c_str());
    }
  }
  return status;
}

}  // namespace spacesfs::cli

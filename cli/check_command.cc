#include "cli/check_command.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <set>
#include <vector>

#include "auth/grant.h"
#include "auth/permission.h"
#include "cli/space_client.h"

namespace spacesfs::cli {
namespace {

constexpr const char* kReservedPrefix = ".spacesfs-check/";

struct Probe {
  bool list = false;
  bool read = false;
  bool write = false;
  bool del = false;
  std::string problem;  // a failure that is not a refusal (network, missing Space)
};

bool Refused(const Status& s) {
  return s.code() == ErrorCode::kAccessDenied || s.code() == ErrorCode::kAuthFailed;
}

Probe ProbeSpace(s3::ObjectClient& client) {
  Probe probe;
  s3::ListObjectsRequest list;
  list.prefix = kReservedPrefix;
  list.max_keys = 1;
  Result<s3::ListObjectsPage> page = client.ListObjects(list);
  probe.list = page.ok();
  if (!page.ok() && !Refused(page.status())) probe.problem = page.status().ToString();

  std::string key = std::string(kReservedPrefix) + std::to_string(getpid()) + "-" +
                    std::to_string(time(nullptr));
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView("spacesfs check");
  Result<std::string> etag = client.PutObject(put);
  probe.write = etag.ok();
  if (!etag.ok() && !Refused(etag.status()) && probe.problem.empty()) {
    probe.problem = etag.status().ToString();
  }

  // Read: the probe object, else the first object a listing shows.
  std::string read_key = key;
  if (!probe.write) {
    s3::ListObjectsRequest any;
    any.max_keys = 1;
    Result<s3::ListObjectsPage> first = client.ListObjects(any);
    read_key = first.ok() && !first->objects.empty() ? first->objects[0].key : "";
  }
  if (!read_key.empty()) {
    s3::GetObjectRequest get;
    get.key = read_key;
    get.range = s3::ByteRange{0, 0};
    Result<s3::ObjectInfo> got =
        client.GetObject(get, [](std::string_view) { return Status::Ok(); });
    probe.read = got.ok();
  }

  if (probe.write) {
    Status deleted = client.DeleteObject(key);
    probe.del = deleted.ok();
    if (!deleted.ok()) {
      std::fprintf(stderr, "spacesfs check: could not remove the probe object '%s': %s\n",
                   key.c_str(), deleted.ToString().c_str());
    }
  }
  return probe;
}

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
    std::fprintf(stderr, "spacesfs check: profile '%s' has no grant for Space '%s'\n",
                 profile->name.c_str(), space.c_str());
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
    bool scope_writes = best >= auth::Permission::kAppendOnly;
    bool scope_deletes = best >= auth::Permission::kReadWrite;

    Result<std::unique_ptr<s3::CurlObjectClient>> client = OpenSpace(*profile, name);
    if (!client.ok()) {
      std::fprintf(stderr, "spacesfs check: %s\n", client.status().message().c_str());
      status = 1;
      continue;
    }
    Probe probe = ProbeSpace(**client);
    std::printf("Space '%s': key can list %s, read %s, write %s, delete %s; scope: %s\n",
                name.c_str(), YesNo(probe.list), YesNo(probe.read), YesNo(probe.write),
                YesNo(probe.del), grants.c_str());
    if (!probe.problem.empty()) {
      std::printf("  error: %s\n", probe.problem.c_str());
      status = 1;
      continue;
    }
    if ((probe.write && !scope_writes) || (probe.del && !scope_deletes)) {
      std::printf("  warning: the key can do more than the scope allows (a broad key): the scope "
                  "is the only guard; prefer a key limited to what the grants allow\n");
    }
    if ((!probe.write && scope_writes) || (probe.write && !probe.del && scope_deletes) ||
        !probe.list) {
      std::printf("  warning: the key can do less than the scope allows: those operations will "
                  "fail with \"Permission denied\" on the mount\n");
    }
  }
  return status;
}

}  // namespace spacesfs::cli

#include "cli/key_probe.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace spacesfs::cli {
namespace {

bool Refused(const Status& s) {
  return s.code() == ErrorCode::kAccessDenied || s.code() == ErrorCode::kAuthFailed;
}

void KeepFirstProblem(KeyRights& rights, const Status& s) {
  if (!s.ok() && !Refused(s) && rights.problem.empty()) rights.problem = s.ToString();
}

// GETs the first byte of key: whether the key may read. 404 counts as "may read" (see the header),
// also for an object another client deleted since it was listed.
bool MayRead(s3::ObjectClient& client, const std::string& key, KeyRights& rights) {
  s3::GetObjectRequest get;
  get.key = key;
  get.range = s3::ByteRange{0, 0};
  Result<s3::ObjectInfo> got = client.GetObject(get, [](std::string_view) { return Status::Ok(); });
  if (got.ok()) return true;
  if (got.status().code() == ErrorCode::kNotFound) return true;
  // An empty object (a directory marker) has no byte 0: the server checked the key may read it.
  if (got.status().http_status() == 416) return true;
  KeepFirstProblem(rights, got.status());
  return false;
}

}  // namespace

KeyRights ProbeKey(s3::ObjectClient& client) {
  KeyRights rights;
  s3::ListObjectsRequest list;
  list.prefix = kCheckReservedPrefix;
  list.max_keys = 1;
  Result<s3::ListObjectsPage> page = client.ListObjects(list);
  rights.list = page.ok();
  KeepFirstProblem(rights, page.status());

  std::string key = std::string(kCheckReservedPrefix) + std::to_string(getpid()) + "-" +
                    std::to_string(time(nullptr));
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView("spacesfs check");
  Result<std::string> etag = client.PutObject(put);
  rights.write = etag.ok();
  KeepFirstProblem(rights, etag.status());

  if (rights.write) {
    rights.read = MayRead(client, key, rights);
  } else {
    std::string existing;
    if (rights.list) {
      s3::ListObjectsRequest any;
      any.max_keys = 1;
      Result<s3::ListObjectsPage> first = client.ListObjects(any);
      if (first.ok() && !first->objects.empty()) existing = first->objects[0].key;
    }
    // A key under the reserved prefix that nothing writes: certainly missing.
    rights.read = MayRead(client, existing.empty() ? key + "-never-written" : existing, rights);
  }

  if (rights.write) {
    Status deleted = client.DeleteObject(key);
    rights.del = deleted.ok();
    if (!deleted.ok()) {
      std::fprintf(stderr, "spacesfs check: could not remove the probe object '%s': %s\n",
                   key.c_str(), deleted.ToString().c_str());
    }
  }
  return rights;
}

std::vector<std::string> RightsWarnings(const KeyRights& rights, auth::Permission best) {
  bool scope_writes = best >= auth::Permission::kAppendOnly;
  bool scope_deletes = best >= auth::Permission::kReadWrite;
  std::vector<std::string> warnings;
  if ((rights.write && !scope_writes) || (rights.del && !scope_deletes)) {
    warnings.push_back(
        "warning: the key can do more than the scope allows (a broad key): the scope is the only "
        "guard; prefer a key limited to what the grants allow");
  }
  // Every permission allows list and read.
  if (!rights.list || !rights.read || (!rights.write && scope_writes) ||
      (rights.write && !rights.del && scope_deletes)) {
    warnings.push_back(
        "warning: the key can do less than the scope allows: those operations will fail with "
        "\"Permission denied\" on the mount");
  }
  return warnings;
}

}  // namespace spacesfs::cli

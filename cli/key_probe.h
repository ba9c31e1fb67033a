// What a key can really do on one Space, found by trying, and how that compares with a scope.
//
// ProbeKey lists, writes a temporary object under the reserved prefix ".spacesfs-check/", reads,
// and deletes that object. Read is probed on the probe object when the key could write it, else on
// the first object a listing shows, else (a key that cannot write, on an empty or unlistable
// Space) with a GET of a key that does not exist: S3 decides whether the key may read before it
// looks for the object, so 404 NoSuchKey (or 416 for an empty object) means "may read" and 403
// "may not". (A key that may GET but not list gets 403 for a missing key from AWS-like servers
// too: it shows as "read no" next to "list no", and both are reported as less than the scope.)
//
// Errors: refusals (403) are answers, not errors; anything else (network, missing Space) is kept in
// KeyRights::problem. Threading: single-threaded; does network requests.
#pragma once

#include <string>
#include <vector>

#include "auth/permission.h"
#include "s3/object_client.h"

namespace spacesfs::cli {

inline constexpr const char* kCheckReservedPrefix = ".spacesfs-check/";

struct KeyRights {
  bool list = false;
  bool read = false;
  bool write = false;
  bool del = false;
  std::string problem;  // a failure that is not a refusal; empty when every probe was answered
};

KeyRights ProbeKey(s3::ObjectClient& client);

// The warnings (one line each, no newline) for a key with these rights used under a scope whose
// most permissive grant on the Space is best: more than the scope (a broad key), less (operations
// the scope allows will be refused by the server). Empty when they match.
std::vector<std::string> RightsWarnings(const KeyRights& rights, auth::Permission best);

}  // namespace spacesfs::cli

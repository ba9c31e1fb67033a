// KeyProvider: where scoped keys are minted, listed and revoked (the DigitalOcean Spaces keys API,
// or a Ceph RADOS Gateway through its admin API), and the mapping from spacesfs grants to what a
// provider can express.
//
// A provider answers one call at a time with one request (or a short fixed sequence); it never
// retries. Every failure is one line naming the API, the method and path and what the server said:
//   "DigitalOcean API: POST /v2/spaces/keys: HTTP 401: Unable to authenticate you (check the token)"
// Codes: 401 kAuthFailed, 403 kAccessDenied, 404 kNotFound, 409 kExists, 422 and other 4xx
// kBadRequest, 429 kThrottled (the message carries Retry-After), 5xx kServerError; kTimeout and
// kNetwork from the transport; kCorrupt for a reply that does not parse.
// Messages never contain a secret key or an API token.
//
// Threading: a provider is used from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/grant.h"
#include "common/result.h"
#include "common/secret.h"
#include "common/status.h"

namespace spacesfs::keys {

// A key just created. The secret is shown by the provider once and lives only here and in the
// credential file it is written to.
struct MintedKey {
  std::string name;
  std::string access_key;
  Secret secret_key;
  std::string created_at;  // as the provider wrote it ("" when it does not say)
};

// A key as listed (never with its secret).
struct KeyInfo {
  std::string name;
  std::string access_key;
  std::vector<std::string> grants;  // "bucket:permission" as the provider reports them
  std::string created_at;
};

// What a provider will actually enforce for a set of spacesfs grants.
struct MintPlan {
  // One line per grant the provider cannot express exactly, e.g.
  // "team-a/db/:append-only is minted as team-a:readwrite (DigitalOcean keys cannot express prefixes
  //  or append-only); spacesfs enforces the narrower scope on the mount".
  std::vector<std::string> narrowed;
};

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;

  // "digitalocean" or "rgw".
  virtual std::string_view kind() const = 0;
  // How the grants will be minted (pure; no request).
  virtual MintPlan Plan(const std::vector<auth::Grant>& grants) const = 0;
  // Creates a key named `name` limited to `grants` (mapped as Plan describes).
  virtual Result<MintedKey> Create(const std::string& name,
                                   const std::vector<auth::Grant>& grants) = 0;
  // Every key this provider manages.
  virtual Result<std::vector<KeyInfo>> List() = 0;
  // Revokes a key given its name or its access key. kNotFound when neither matches.
  virtual Status Revoke(const std::string& name_or_access_key) = 0;
  // The endpoint and region a profile using keys from this provider should name ("" endpoint:
  // derived from the region).
  virtual std::string ProfileEndpoint() const = 0;
  virtual std::string ProfileRegion() const = 0;
  // The ca_bundle such a profile should name ("" = the system's authorities).
  virtual std::string ProfileCaBundle() const { return ""; }
};

}  // namespace spacesfs::keys

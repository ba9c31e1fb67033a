// The key workflows behind `spacesfs keys`: create a key and store it as a profile, rotate a
// profile's key, revoke. Each either completes or leaves nothing half-done: a key created remotely
// that cannot be stored (or, when rotating, does not work) is revoked again, and a rotated profile
// that fails verification is put back as it was.
//
// Output: `say` receives one line at a time for the user (never a secret).
// Errors: the Status of the step that failed (see keys/key_provider.h, keys/credential_store.h),
// with a note when cleaning up failed too.
// Threading: one call at a time per provider.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "auth/grant.h"
#include "common/status.h"
#include "keys/key_provider.h"

namespace spacesfs::keys {

using Say = std::function<void(const std::string& line)>;

struct CreateRequest {
  std::string key_name;
  std::vector<auth::Grant> grants;
  std::string profile;           // the profile to write
  std::string credentials_path;
  bool force = false;            // replace an existing profile
  uid_t owner = 0;               // expected owner of the credential file
  std::string endpoint;          // profile endpoint; "" = the provider's
  std::string region;            // profile region; "" = the provider's
  std::string ca_bundle;         // profile ca_bundle; "" = the provider's
};

// Creates the key and writes the profile. On success *access_key (if not null) is the new key.
Status CreateAndStore(KeyProvider& provider, const CreateRequest& request, const Say& say,
                      std::string* access_key = nullptr);

// Checks that `profile` (as stored in the file) works: ListObjectsV2 max-keys=1 on each granted
// Space (with the grant's prefix), retried up to `attempts` times one second apart (new keys can
// take a moment to reach every server).
Status VerifyProfile(const std::string& credentials_path, const std::string& profile, uid_t owner,
                     int attempts);

struct RotateRequest {
  std::string profile;
  std::string credentials_path;
  uid_t owner = 0;
  std::string new_key_name;      // name of the replacement key
  int verify_attempts = 10;
};

// Creates a replacement key with the profile's grants, writes it over the profile, verifies it,
// then revokes the old key. On a verification failure the old profile is put back and the new key
// revoked. When only revoking the old key fails, the new key stays in the profile and the error
// (the revoke's code) names the old access key to revoke by hand.
Status Rotate(KeyProvider& provider, const RotateRequest& request, const Say& say);

}  // namespace spacesfs::keys

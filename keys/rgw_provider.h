// RgwProvider: scoped keys on a self-hosted Ceph RADOS Gateway, one RGW user per key.
//
// Create(NAME): the admin ops API (SigV4, service "s3") creates user "spacesfs-NAME" (display name
// "spacesfs key NAME") with max-buckets=-1, so it cannot create buckets, and an S3 key; then the
// IAM API at the same endpoint (POST / Action=PutUserPolicy, SigV4 service "iam") attaches a user
// policy allowing only the granted buckets. If the policy cannot be attached the user is removed
// again (the error says so; if even that fails, it names the radosgw-admin command that removes
// it). Revoke removes the user (and with it its keys). List shows the users whose display name
// starts with "spacesfs key ".
//
// The admin key needs caps "users=*" (user create/info/remove), "metadata=read" (list) and
// "user-policy=*" (PutUserPolicy); a 403 from either API names these caps.
//
// What a policy expresses: read = GetObject, ListBucket, GetBucketLocation; readwrite-nodelete adds
// PutObject and the multipart actions; readwrite adds DeleteObject; fullaccess is s3:* on the
// bucket. append-only is minted as readwrite-nodelete (a PutObject may overwrite); a prefix limits
// object actions to the prefix but listing covers the whole bucket. Plan() says which grants are
// narrowed.
//
// Errors and threading: see keys/key_provider.h.
#pragma once

#include <chrono>
#include <string>

#include "keys/key_provider.h"
#include "s3/http_transport.h"
#include "s3/sigv4.h"

namespace spacesfs::keys {

struct RgwConfig {
  std::string endpoint;  // http(s)://host[:port], no path
  std::string region = "us-east-1";
  s3::SigningKey admin;
  std::chrono::seconds timeout{30};
  std::string ca_bundle;  // authorities to trust for an https endpoint; "" = the system's
};

// The IAM policy document for a set of grants (exposed for tests).
std::string RgwPolicyDocument(const std::vector<auth::Grant>& grants);

class RgwProvider : public KeyProvider {
 public:
  explicit RgwProvider(RgwConfig config);

  std::string_view kind() const override { return "rgw"; }
  MintPlan Plan(const std::vector<auth::Grant>& grants) const override;
  Result<MintedKey> Create(const std::string& name,
                           const std::vector<auth::Grant>& grants) override;
  Result<std::vector<KeyInfo>> List() override;
  Status Revoke(const std::string& name_or_access_key) override;
  std::string ProfileEndpoint() const override { return config_.endpoint; }
  std::string ProfileRegion() const override { return config_.region; }
  std::string ProfileCaBundle() const override { return config_.ca_bundle; }

 private:
  // A signed request; the body (form-encoded for IAM) may be empty. `note` is added to the
  // request's name in error messages.
  Status Send(const std::string& method, const std::string& path, const s3::HeaderList& query,
              const std::string& body, const std::string& service, s3::HttpResponse* response,
              const std::string& note = "");
  Status DeleteUser(const std::string& uid);

  const RgwConfig config_;
  std::string host_;  // Host header: the endpoint without scheme
  s3::HttpTransport transport_;
};

}  // namespace spacesfs::keys

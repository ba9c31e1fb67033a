// DigitalOceanProvider: Spaces access keys through the DigitalOcean API v2.
//
//   POST   /v2/spaces/keys                {"name": ..., "grants": [{"bucket": ..., "permission": ...}]}
//   GET    /v2/spaces/keys?page=N&per_page=200   (follows links.pages.next)
//   DELETE /v2/spaces/keys/{access_key}
//
// Every request carries "Authorization: Bearer TOKEN"; requests with a body carry
// "Content-Type: application/json". DigitalOcean grants are per bucket with permission read or
// readwrite; its fullaccess exists only with "bucket": "" (every bucket of the account) and alone,
// so it is never sent. A prefix grant is minted for its whole bucket; readwrite-nodelete,
// append-only and fullaccess as readwrite (Plan() says which); several grants on one bucket as the
// largest. spacesfs's fullaccess adds only chmod/chown/utimens over readwrite, which are object
// copies a readwrite key may make.
//
// Errors and threading: see keys/key_provider.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "auth/secret_options.h"
#include "common/secret.h"
#include "keys/key_provider.h"
#include "s3/http_transport.h"

namespace spacesfs::keys {

inline constexpr std::string_view kDefaultDigitalOceanApiUrl = "https://api.digitalocean.com";

struct DigitalOceanConfig {
  std::string api_url = std::string(kDefaultDigitalOceanApiUrl);  // no trailing '/'
  Secret token;
  std::string region;    // for the profile: nyc3, ams3, ...
  std::string endpoint;  // for the profile; "" = https://REGION.digitaloceanspaces.com
  std::chrono::seconds timeout{30};
};

// The per-bucket DigitalOcean permission covering `permission`: "read" or "readwrite".
std::string_view DigitalOceanPermission(auth::Permission permission);

// Reads the API token: from `token_file` when one is named (checked like a credential file, owned
// by expected_owner, mode 0600; it wins over the environment), else $DIGITALOCEAN_TOKEN; trailing
// whitespace dropped. kConfig when neither is given.
Result<Secret> LoadDigitalOceanToken(const std::string& token_file, uid_t expected_owner);

// What looks like an API token (argv checks, logs): auth/secret_options.h.
using auth::LooksLikeDigitalOceanToken;

class DigitalOceanProvider : public KeyProvider {
 public:
  explicit DigitalOceanProvider(DigitalOceanConfig config);

  std::string_view kind() const override { return "digitalocean"; }
  MintPlan Plan(const std::vector<auth::Grant>& grants) const override;
  Result<MintedKey> Create(const std::string& name,
                           const std::vector<auth::Grant>& grants) override;
  Result<std::vector<KeyInfo>> List() override;
  Status Revoke(const std::string& name_or_access_key) override;
  std::string ProfileEndpoint() const override { return config_.endpoint; }
  std::string ProfileRegion() const override { return config_.region; }

  // The JSON body Create sends (exposed for tests).
  static std::string CreateBody(const std::string& name, const std::vector<auth::Grant>& grants);

 private:
  Status Send(const std::string& method, const std::string& path, const std::string& body,
              s3::HttpResponse* response);

  const DigitalOceanConfig config_;
  s3::HttpTransport transport_;
};

}  // namespace spacesfs::keys

// From a credential profile to a working client for one Space: which credential file a command
// reads, loading the profile from it, and building the S3 client with the profile's key.
//
// Errors: kConfig / kNotFound from the credential store (one line naming file and line);
// OpenSpace itself does no request.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "auth/credentials.h"
#include "common/result.h"
#include "s3/client_config.h"
#include "s3/curl_object_client.h"

namespace spacesfs::cli {

// The credential file a command run by `uid` reads when none is named: /etc/spacesfs/credentials
// for root, ~/.config/spacesfs/credentials (home from the password database) for anyone else.
std::string DefaultCredentialFileFor(uid_t uid);

// Loads `profile` from `file` ("" = DefaultCredentialFileFor(getuid())), owned by the caller.
Result<auth::Profile> LoadCallerProfile(const std::string& file, const std::string& profile);

// How long a request may wait on the server, how often a retryable failure is retried, and
// whether bodies sent over https are signed by content (s3::ClientConfig::sign_payload_over_tls).
struct RequestLimits {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::seconds stall_timeout{30};  // under 1 KiB/s for this long: abandoned (kTimeout)
  int max_attempts = 5;                    // the first and the retries
  bool sign_payload_over_tls = false;
};

// The limits of the request(s) made at mount time, before anything is mounted: each is the smaller
// of the configured one and kFirstRequestLimits, so an endpoint that does not answer (a black hole,
// a server that accepts and stays silent) fails the mount in about 20 s at most, well inside a
// service manager's start timeout, while the mounted filesystem keeps the configured limits.
inline constexpr RequestLimits kFirstRequestLimits{std::chrono::milliseconds(5'000),
                                                   std::chrono::seconds(10), 2};
RequestLimits FirstRequestLimits(const RequestLimits& configured);

// A client for `space` with the profile's key, region and endpoint.
Result<std::unique_ptr<s3::CurlObjectClient>> OpenSpace(const auth::Profile& profile,
                                                        const std::string& space,
                                                        const RequestLimits& limits = {});

// The profile's key in the form the S3 client signs with.
s3::SigningKey SigningKeyOf(const auth::Profile& profile);

// Whether the profile grants anything on `space` (a mount of an ungranted Space is refused).
bool ProfileGrantsSpace(const auth::Profile& profile, const std::string& space);

}  // namespace spacesfs::cli

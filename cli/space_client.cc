#include "cli/space_client.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace spacesfs::cli {

std::string DefaultCredentialFileFor(uid_t uid) {
  std::string home;
  if (uid != 0) {
    if (const passwd* pw = getpwuid(uid); pw != nullptr && pw->pw_dir != nullptr) home = pw->pw_dir;
  }
  return auth::DefaultCredentialPath(uid, home);
}

Result<auth::Profile> LoadCallerProfile(const std::string& file, const std::string& profile) {
  std::string path = file.empty() ? DefaultCredentialFileFor(getuid()) : file;
  return auth::LoadProfile(path, profile, getuid());
}

s3::SigningKey SigningKeyOf(const auth::Profile& profile) {
  s3::SigningKey key;
  key.access_key_id = profile.access_key_id;
  key.secret_access_key = profile.secret_access_key;
  key.session_token = std::string(profile.session_token.reveal());
  return key;
}

Result<std::unique_ptr<s3::CurlObjectClient>> OpenSpace(const auth::Profile& profile,
                                                        const std::string& space,
                                                        const RequestLimits& limits) {
  s3::ClientConfig config;
  config.endpoint = profile.endpoint;
  config.region = profile.region;
  config.bucket = space;
  config.key = SigningKeyOf(profile);
  config.addressing = profile.path_style ? s3::Addressing::kPath : s3::Addressing::kAuto;
  if (!profile.ca_bundle.empty()) {
    // Read here, so that a missing or unreadable file is named before any request.
    if (access(profile.ca_bundle.c_str(), R_OK) != 0) {
      return Status(ErrorCode::kConfig, "ca_bundle " + profile.ca_bundle + " of profile [" +
                                            profile.name + "] cannot be read: " +
                                            std::strerror(errno));
    }
    config.ca_bundle_path = profile.ca_bundle;
  }
  config.connect_timeout = limits.connect_timeout;
  config.low_speed_time = limits.stall_timeout;
  config.max_attempts = limits.max_attempts;
  config.sign_payload_over_tls = limits.sign_payload_over_tls;
  return s3::CurlObjectClient::Create(std::move(config));
}

RequestLimits FirstRequestLimits(const RequestLimits& configured) {
  RequestLimits limits;
  limits.connect_timeout = std::min(configured.connect_timeout, kFirstRequestLimits.connect_timeout);
  limits.stall_timeout = std::min(configured.stall_timeout, kFirstRequestLimits.stall_timeout);
  limits.max_attempts = std::min(configured.max_attempts, kFirstRequestLimits.max_attempts);
  limits.sign_payload_over_tls = configured.sign_payload_over_tls;
  return limits;
}

bool ProfileGrantsSpace(const auth::Profile& profile, const std::string& space) {
  for (const auth::Grant& g : profile.grants) {
    if (g.space == space) return true;
  }
  return false;
}

}  // namespace spacesfs::cli

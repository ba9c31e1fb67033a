#include "keys/key_workflow.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "auth/credentials.h"
#include "keys/credential_store.h"
#include "s3/curl_object_client.h"

namespace spacesfs::keys {
namespace {

std::string GrantList(const std::vector<auth::Grant>& grants) {
  std::string out;
  for (const auth::Grant& grant : grants) out += (out.empty() ? "" : ", ") + auth::FormatGrant(grant);
  return out;
}

// Revokes a key that must not survive; returns `cause` with a note on how the cleanup went.
Status Undo(KeyProvider& provider, const std::string& access_key, const Status& cause,
            const Say& say) {
  Status revoked = provider.Revoke(access_key);
  if (revoked.ok()) {
    say("revoked the new key " + access_key + " again, since it could not be put to use");
    return cause;
  }
  return cause.WithContext("the new key " + access_key + " could NOT be revoked (" +
                           revoked.ToString() + "); revoke it by hand: spacesfs keys revoke " +
                           access_key);
}

}  // namespace

Status CreateAndStore(KeyProvider& provider, const CreateRequest& request, const Say& say,
                      std::string* access_key) {
  if (!request.force) {
    Result<bool> exists = HasProfile(request.credentials_path, request.profile, request.owner);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      return Status(ErrorCode::kExists, request.credentials_path + ": profile [" + request.profile +
                                            "] already exists; pass --force to replace it");
    }
  } else {
    Result<Secret> readable = ReadExisting(request.credentials_path, request.owner);
    if (!readable.ok()) return readable.status();
  }
  Result<MintedKey> minted = provider.Create(request.key_name, request.grants);
  if (!minted.ok()) return minted.status();

  NewProfile profile;
  profile.name = request.profile;
  profile.access_key_id = minted->access_key;
  profile.secret_access_key = minted->secret_key;
  profile.region = request.region.empty() ? provider.ProfileRegion() : request.region;
  profile.endpoint = request.endpoint.empty() ? provider.ProfileEndpoint() : request.endpoint;
  profile.ca_bundle = request.ca_bundle.empty() ? provider.ProfileCaBundle() : request.ca_bundle;
  if (!profile.endpoint.starts_with("https://")) profile.ca_bundle.clear();  // TLS only
  profile.grants = request.grants;
  profile.comment = "key '" + minted->name + "' from spacesfs keys (" +
                    std::string(provider.kind()) + ")" +
                    (minted->created_at.empty() ? "" : ", created " + minted->created_at);
  Status written = WriteProfile(request.credentials_path, profile, request.force, request.owner);
  minted->secret_key.Wipe();
  if (!written.ok()) return Undo(provider, minted->access_key, written, say);
  if (access_key != nullptr) *access_key = minted->access_key;
  say("created " + std::string(provider.kind()) + " key '" + minted->name + "' (access key " +
      minted->access_key + ") for " + GrantList(request.grants) + "; stored as profile [" +
      request.profile + "] in " + request.credentials_path);
  for (const std::string& line : provider.Plan(request.grants).narrowed) say("note: " + line);
  return Status::Ok();
}

Status VerifyProfile(const std::string& credentials_path, const std::string& profile_name,
                     uid_t owner, int attempts) {
  Result<auth::Profile> profile = auth::LoadProfile(credentials_path, profile_name, owner);
  if (!profile.ok()) return profile.status();
  for (const auth::Grant& grant : profile->grants) {
    s3::ClientConfig config;
    config.endpoint = profile->endpoint;
    config.ca_bundle_path = profile->ca_bundle;
    config.region = profile->region;
    config.bucket = grant.space;
    config.key = s3::SigningKey{profile->access_key_id, profile->secret_access_key,
                                std::string(profile->session_token.reveal())};
    config.max_attempts = 2;
    Result<std::unique_ptr<s3::CurlObjectClient>> client = s3::CurlObjectClient::Create(config);
    if (!client.ok()) return client.status();
    s3::ListObjectsRequest list;
    list.prefix = grant.prefix;
    list.max_keys = 1;
    Status last;
    for (int i = 0; i < std::max(attempts, 1); ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
      Result<s3::ListObjectsPage> page = (*client)->ListObjects(list);
      last = page.status();
      if (last.ok()) break;
    }
    if (!last.ok()) {
      return last.WithContext("the new key of [" + profile_name + "] does not work on " +
                              grant.space);
    }
  }
  return Status::Ok();
}

Status Rotate(KeyProvider& provider, const RotateRequest& request, const Say& say) {
  Result<auth::Profile> old = auth::LoadProfile(request.credentials_path, request.profile,
                                                request.owner);
  if (!old.ok()) return old.status();
  Result<Secret> old_text = ReadExisting(request.credentials_path, request.owner);
  if (!old_text.ok()) return old_text.status();
  const std::string old_access_key = old->access_key_id;

  CreateRequest create;
  create.key_name = request.new_key_name;
  create.grants = old->grants;
  create.profile = request.profile;
  create.credentials_path = request.credentials_path;
  create.force = true;
  create.owner = request.owner;
  create.endpoint = old->endpoint;
  create.region = old->region;
  create.ca_bundle = old->ca_bundle;
  std::string new_access_key;
  SPACESFS_RETURN_IF_ERROR(CreateAndStore(provider, create, say, &new_access_key));

  Status works = VerifyProfile(request.credentials_path, request.profile, request.owner,
                               request.verify_attempts);
  if (!works.ok()) {
    Status restored = RestoreSection(request.credentials_path, request.profile, old_text->reveal(),
                                     request.owner);
    if (!restored.ok()) {
      works = works.WithContext("putting the old profile back failed (" + restored.ToString() + ")");
    } else {
      say("put the old key " + old_access_key + " back into [" + request.profile + "]");
    }
    return Undo(provider, new_access_key, works, say);
  }
  say("verified the new key on " + GrantList(old->grants));
  Status revoked = provider.Revoke(old_access_key);
  if (!revoked.ok()) {
    return Status(revoked.code(),
                  "the new key " + new_access_key + " is stored in [" + request.profile +
                      "] and works, but revoking the old key failed (" + revoked.message() +
                      "); the old key still works until you revoke it by hand: spacesfs keys "
                      "revoke " +
                      old_access_key);
  }
  say("revoked the old key " + old_access_key +
      "; running mounts of this profile pick up the new key on SIGHUP (systemctl reload)");
  return Status::Ok();
}

}  // namespace spacesfs::keys

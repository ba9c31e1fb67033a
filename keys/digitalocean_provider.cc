#include "keys/digitalocean_provider.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "auth/credentials.h"
#include "keys/api_error.h"

namespace spacesfs::keys {
namespace {

constexpr std::string_view kApi = "DigitalOcean API";
using nlohmann::json;

s3::TransportOptions Options(std::chrono::seconds timeout) {
  s3::TransportOptions options;
  options.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  options.low_speed_bytes_per_second = 1;
  options.low_speed_time = timeout;
  options.max_idle_handles = 2;
  return options;
}

std::string JsonString(const json& object, const char* name) {
  if (!object.is_object()) return "";
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The "message" of a DigitalOcean error body, or "".
std::string ErrorDetail(const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  return JsonString(parsed, "message");
}

KeyInfo ToKeyInfo(const json& key) {
  KeyInfo info;
  info.name = JsonString(key, "name");
  info.access_key = JsonString(key, "access_key");
  info.created_at = JsonString(key, "created_at");
  auto grants = key.find("grants");
  if (grants != key.end() && grants->is_array()) {
    for (const json& grant : *grants) {
      std::string bucket = JsonString(grant, "bucket");
      info.grants.push_back((bucket.empty() ? "*" : bucket) + ":" + JsonString(grant, "permission"));
    }
  }
  return info;
}

// The path of a URL ("https://host/v2/x?page=2" -> "/v2/x?page=2"), for following links.pages.next.
std::string PathOf(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t slash = url.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

}  // namespace

std::string_view DigitalOceanPermission(auth::Permission permission) {
  switch (permission) {
    case auth::Permission::kRead:
      return "read";
    case auth::Permission::kAppendOnly:
    case auth::Permission::kReadWriteNoDelete:
    case auth::Permission::kReadWrite:
    case auth::Permission::kFullAccess:
      return "readwrite";
  }
  return "read";
}

Result<Secret> LoadDigitalOceanToken(const std::string& token_file, uid_t expected_owner) {
  const char* env = std::getenv("DIGITALOCEAN_TOKEN");
  std::string token;
  if (!token_file.empty()) {
    Result<Secret> content = auth::ReadCredentialFile(token_file, expected_owner);
    if (!content.ok()) return content.status();
    token = std::string(content->reveal());
  } else if (env != nullptr && *env != '\0') {
    token = env;
  } else {
    return Status(ErrorCode::kConfig,
                  "no DigitalOcean API token: set DIGITALOCEAN_TOKEN or pass --token-file FILE "
                  "(mode 0600); tokens are never taken from the command line");
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  for (char c : token) {
    if (c <= 0x20 || c == 0x7f) {
      WipeString(token);
      return Status(ErrorCode::kConfig, "the DigitalOcean API token contains spaces or control "
                                        "characters");
    }
  }
  if (token.empty()) return Status(ErrorCode::kConfig, "the DigitalOcean API token is empty");
  return Secret(std::move(token));
}

DigitalOceanProvider::DigitalOceanProvider(DigitalOceanConfig config)
    : config_(std::move(config)), transport_(Options(config_.timeout)) {}

MintPlan DigitalOceanProvider::Plan(const std::vector<auth::Grant>& grants) const {
  MintPlan plan;
  for (const auth::Grant& grant : grants) {
    std::vector<std::string> reasons;
    if (!grant.prefix.empty()) {
      reasons.emplace_back("DigitalOcean keys cannot be limited to a prefix");
    }
    switch (grant.permission) {
      case auth::Permission::kAppendOnly:
      case auth::Permission::kReadWriteNoDelete:
        reasons.push_back("DigitalOcean keys have no " +
                          std::string(auth::PermissionName(grant.permission)) + " permission");
        break;
      case auth::Permission::kFullAccess:
        reasons.push_back("a DigitalOcean fullaccess key opens every bucket of the account and "
                          "cannot be limited to one; readwrite on " + grant.space +
                          " allows every request spacesfs makes for fullaccess (its chmod, chown "
                          "and utimens are object copies)");
        break;
      case auth::Permission::kRead:
      case auth::Permission::kReadWrite:
        break;
    }
    if (reasons.empty()) continue;
    std::string why;
    for (const std::string& reason : reasons) why += (why.empty() ? "" : "; ") + reason;
    plan.narrowed.push_back(auth::FormatGrant(grant) + " is minted as " + grant.space + ":" +
                            std::string(DigitalOceanPermission(grant.permission)) + " (" + why +
                            "); the profile records " + auth::FormatGrant(grant) +
                            ", which spacesfs enforces on the mount");
  }
  return plan;
}

std::string DigitalOceanProvider::CreateBody(const std::string& name,
                                             const std::vector<auth::Grant>& grants) {
  // One grant per bucket, the largest permission asked for it, in first-seen order.
  std::vector<std::string> order;
  std::map<std::string, auth::Permission> largest;
  for (const auth::Grant& grant : grants) {
    auto [it, inserted] = largest.emplace(grant.space, grant.permission);
    if (inserted) {
      order.push_back(grant.space);
    } else if (!auth::Includes(it->second, grant.permission)) {
      it->second = grant.permission;
    }
  }
  json body = json::object();
  body["name"] = name;
  body["grants"] = json::array();
  for (const std::string& bucket : order) {
    body["grants"].push_back(
        {{"bucket", bucket}, {"permission", std::string(DigitalOceanPermission(largest[bucket]))}});
  }
  return body.dump();
}

Status DigitalOceanProvider::Send(const std::string& method, const std::string& path,
                                  const std::string& body, s3::HttpResponse* response) {
  s3::HttpRequest request;
  request.method = method;
  request.url = config_.api_url + path;
  std::string bearer = "Bearer " + std::string(config_.token.reveal());
  request.headers.emplace_back("Authorization", bearer);
  WipeString(bearer);
  request.headers.emplace_back("Accept", "application/json");
  s3::BodySource source = s3::BodySource::FromView(body);
  if (method == "POST" || method == "PUT" || method == "PATCH") {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = &source;
  }
  request.max_collected_body = 16u << 20;
  Status status = transport_.Perform(request, response);
  WipeString(request.headers.front().second);
  std::string what = method + " " + path;
  if (!status.ok()) return TransportError(kApi, what, status);
  if (!response->success()) return ApiError(kApi, what, *response, ErrorDetail(response->body));
  return Status::Ok();
}

Result<MintedKey> DigitalOceanProvider::Create(const std::string& name,
                                               const std::vector<auth::Grant>& grants) {
  s3::HttpResponse response;
  SPACESFS_RETURN_IF_ERROR(Send("POST", "/v2/spaces/keys", CreateBody(name, grants), &response));
  json parsed = json::parse(response.body, nullptr, false);
  WipeString(response.body);
  const json& key = parsed.is_object() && parsed.contains("key") ? parsed["key"] : parsed;
  MintedKey minted;
  minted.name = JsonString(key, "name");
  minted.access_key = JsonString(key, "access_key");
  minted.created_at = JsonString(key, "created_at");
  std::string secret = JsonString(key, "secret_key");
  if (parsed.is_object() && parsed.contains("key") && parsed["key"].is_object()) {
    auto it = parsed["key"].find("secret_key");
    if (it != parsed["key"].end() && it->is_string()) WipeString(it->get_ref<std::string&>());
  }
  if (minted.access_key.empty() || secret.empty()) {
    WipeString(secret);
    Status problem(ErrorCode::kCorrupt, std::string(kApi) +
                                            ": POST /v2/spaces/keys: the reply has no access_key "
                                            "or secret_key");
    if (!minted.access_key.empty()) {
      Status revoked = Revoke(minted.access_key);
      if (!revoked.ok()) return problem.WithContext("(revoking it failed too: " + revoked.ToString() + ")");
    }
    return problem;
  }
  minted.secret_key = Secret(std::move(secret));
  if (minted.name.empty()) minted.name = name;
  return minted;
}

Result<std::vector<KeyInfo>> DigitalOceanProvider::List() {
  std::vector<KeyInfo> keys;
  std::string path = "/v2/spaces/keys?page=1&per_page=200";
  for (int page = 0; page < 1000; ++page) {
    s3::HttpResponse response;
    SPACESFS_RETURN_IF_ERROR(Send("GET", path, "", &response));
    json parsed = json::parse(response.body, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("keys") || !parsed["keys"].is_array()) {
      return Status(ErrorCode::kCorrupt,
                    std::string(kApi) + ": GET " + path + ": the reply has no \"keys\" list");
    }
    for (const json& key : parsed["keys"]) keys.push_back(ToKeyInfo(key));
    std::string next;
    if (parsed.contains("links") && parsed["links"].is_object() &&
        parsed["links"].contains("pages") && parsed["links"]["pages"].is_object()) {
      next = JsonString(parsed["links"]["pages"], "next");
    }
    if (next.empty() || parsed["keys"].empty()) return keys;
    path = PathOf(next);
  }
  return keys;
}

Status DigitalOceanProvider::Revoke(const std::string& name_or_access_key) {
  std::string access_key = name_or_access_key;
  Result<std::vector<KeyInfo>> keys = List();
  if (keys.ok()) {
    int matches = 0;
    for (const KeyInfo& key : *keys) {
      if (key.access_key == name_or_access_key) {
        access_key = key.access_key;
        matches = 1;
        break;
      }
      if (key.name == name_or_access_key) {
        access_key = key.access_key;
        ++matches;
      }
    }
    if (matches > 1) {
      return Status(ErrorCode::kInvalidArgument,
                    "more than one DigitalOcean key is named '" + name_or_access_key +
                        "'; revoke it by its access key (see: spacesfs keys list)");
    }
  }
  for (char c : access_key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return Status(ErrorCode::kInvalidArgument, "'" + access_key + "' is not an access key");
    }
  }
  s3::HttpResponse response;
  return Send("DELETE", "/v2/spaces/keys/" + access_key, "", &response);
}

}  // namespace spacesfs::keys

#include "keys/rgw_provider.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "keys/api_error.h"

namespace spacesfs::keys {
namespace {

constexpr std::string_view kApi = "RGW admin API";
constexpr std::string_view kUidPrefix = "spacesfs-";
constexpr std::string_view kDisplayPrefix = "spacesfs key ";
constexpr std::string_view kAdminCaps = "users=*, metadata=read and user-policy=*";
using nlohmann::json;

s3::TransportOptions Options(std::chrono::seconds timeout, const std::string& ca_bundle) {
  s3::TransportOptions options;
  options.ca_bundle_path = ca_bundle;
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

// "<Code>X</Code>" or the JSON {"Code": ...} of an RGW error body.
std::string ErrorDetail(const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  std::string code = JsonString(parsed, "Code");
  if (!code.empty()) return code;
  size_t begin = body.find("<Code>");
  size_t end = body.find("</Code>");
  if (begin != std::string::npos && end != std::string::npos && end > begin + 6) {
    return body.substr(begin + 6, end - begin - 6);
  }
  return "";
}

std::string FormEncode(const s3::HeaderList& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += s3::UriEncode(name, false) + "=" + s3::UriEncode(value, false);
  }
  return out;
}

std::vector<std::string> Actions(auth::Permission permission) {
  std::vector<std::string> actions = {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"};
  if (auth::Includes(permission, auth::Permission::kAppendOnly)) {
    for (const char* action : {"s3:PutObject", "s3:AbortMultipartUpload",
                               "s3:ListMultipartUploadParts", "s3:ListBucketMultipartUploads"}) {
      actions.push_back(action);
    }
  }
  if (auth::Includes(permission, auth::Permission::kReadWrite)) actions.push_back("s3:DeleteObject");
  return actions;
}

bool IsBucketAction(const std::string& action) {
  return action == "s3:ListBucket" || action == "s3:GetBucketLocation" ||
         action == "s3:ListBucketMultipartUploads";
}

}  // namespace

std::string RgwPolicyDocument(const std::vector<auth::Grant>& grants) {
  json statements = json::array();
  int n = 0;
  for (const auth::Grant& grant : grants) {
    const std::string bucket_arn = "arn:aws:s3:::" + grant.space;
    const std::string objects_arn = bucket_arn + "/" + grant.prefix + "*";
    ++n;
    if (grant.permission == auth::Permission::kFullAccess) {
      json resources = json::array({objects_arn});
      if (grant.prefix.empty()) resources.push_back(bucket_arn);
      statements.push_back({{"Sid", "Grant" + std::to_string(n)}, {"Effect", "Allow"},
                            {"Action", json::array({"s3:*"})}, {"Resource", resources}});
      if (!grant.prefix.empty()) {
        statements.push_back({{"Sid", "Grant" + std::to_string(n) + "List"},
                              {"Effect", "Allow"},
                              {"Action", json::array({"s3:ListBucket", "s3:GetBucketLocation",
                                                      "s3:ListBucketMultipartUploads"})},
                              {"Resource", json::array({bucket_arn})}});
      }
      continue;
    }
    json bucket_actions = json::array(), object_actions = json::array();
    for (const std::string& action : Actions(grant.permission)) {
      (IsBucketAction(action) ? bucket_actions : object_actions).push_back(action);
    }
    statements.push_back({{"Sid", "Grant" + std::to_string(n) + "Bucket"}, {"Effect", "Allow"},
                          {"Action", bucket_actions}, {"Resource", json::array({bucket_arn})}});
    statements.push_back({{"Sid", "Grant" + std::to_string(n) + "Objects"}, {"Effect", "Allow"},
                          {"Action", object_actions}, {"Resource", json::array({objects_arn})}});
  }
  json policy = {{"Version", "2012-10-17"}, {"Statement", statements}};
  return policy.dump();
}

RgwProvider::RgwProvider(RgwConfig config)
    : config_(std::move(config)), transport_(Options(config_.timeout, config_.ca_bundle)) {
  host_ = config_.endpoint;
  size_t scheme = host_.find("://");
  if (scheme != std::string::npos) host_ = host_.substr(scheme + 3);
  while (!host_.empty() && host_.back() == '/') host_.pop_back();
}

MintPlan RgwProvider::Plan(const std::vector<auth::Grant>& grants) const {
  MintPlan plan;
  for (const auth::Grant& grant : grants) {
    std::string why;
    if (grant.permission == auth::Permission::kAppendOnly) {
      why = "append-only is minted as readwrite-nodelete (an RGW policy cannot forbid overwrites)";
    }
    if (!grant.prefix.empty()) {
      why += std::string(why.empty() ? "" : "; ") + "the key may list all of " + grant.space +
             " (object access is limited to the prefix)";
    }
    if (!why.empty()) {
      plan.narrowed.push_back(auth::FormatGrant(grant) + ": " + why +
                              "; the profile records the narrower scope, which spacesfs enforces "
                              "on the mount");
    }
  }
  return plan;
}

Status RgwProvider::Send(const std::string& method, const std::string& path,
                         const s3::HeaderList& query, const std::string& body,
                         const std::string& service, s3::HttpResponse* response,
                         const std::string& note) {
  s3::RequestToSign to_sign;
  to_sign.method = method;
  to_sign.host = host_;
  to_sign.raw_path = path;
  to_sign.query = query;
  to_sign.payload_hash = s3::Sha256Hex(body);
  if (!body.empty()) {
    to_sign.headers.emplace_back("content-type", "application/x-www-form-urlencoded; charset=utf-8");
  }
  s3::HttpRequest request;
  request.method = method;
  std::string query_string = s3::CanonicalQueryString(query);
  std::string scheme_end = config_.endpoint.substr(0, config_.endpoint.find("://") + 3);
  request.url = scheme_end + host_ + s3::CanonicalUri(path) +
                (query_string.empty() ? "" : "?" + query_string);
  request.headers = to_sign.headers;
  for (auto& header : s3::SignRequest(to_sign, config_.admin, config_.region, std::time(nullptr),
                                      service)) {
    request.headers.push_back(std::move(header));
  }
  s3::BodySource source = s3::BodySource::FromView(body);
  if (!body.empty() || method == "POST" || method == "PUT") request.body = &source;
  Status status = transport_.Perform(request, response);
  std::string what = method + " " + path;
  for (const auto& [name, value] : query) {
    if (name == "uid") what += " (uid " + value + ")";
  }
  if (service == "iam") what = "IAM " + what;
  what += note;
  if (!status.ok()) return TransportError(kApi, what, status);
  if (!response->success()) {
    Status error = ApiError(kApi, what, *response, ErrorDetail(response->body));
    if (error.code() != ErrorCode::kAccessDenied) return error;
    return Status(error.code(), error.message() + "; the admin key needs the RGW caps " +
                                    std::string(kAdminCaps));
  }
  return Status::Ok();
}

Status RgwProvider::DeleteUser(const std::string& uid) {
  s3::HttpResponse response;
  return Send("DELETE", "/admin/user", {{"uid", uid}, {"purge-data", "true"}}, "", "s3", &response);
}

Result<MintedKey> RgwProvider::Create(const std::string& name,
                                      const std::vector<auth::Grant>& grants) {
  const std::string uid = std::string(kUidPrefix) + name;
  {
    s3::HttpResponse response;
    Status info = Send("GET", "/admin/user", {{"uid", uid}, {"format", "json"}}, "", "s3", &response);
    if (info.ok()) {
      return Status(ErrorCode::kExists, std::string(kApi) + ": an RGW user " + uid +
                                            " already exists; choose another --name or revoke it");
    }
    if (info.code() != ErrorCode::kNotFound) return info;
  }
  s3::HttpResponse created;
  SPACESFS_RETURN_IF_ERROR(Send("PUT", "/admin/user",
                                {{"uid", uid},
                                 {"display-name", std::string(kDisplayPrefix) + name},
                                 {"max-buckets", "-1"},
                                 {"key-type", "s3"},
                                 {"generate-key", "true"},
                                 {"format", "json"}},
                                "", "s3", &created));
  json parsed = json::parse(created.body, nullptr, false);
  WipeString(created.body);
  MintedKey minted;
  minted.name = name;
  std::string secret;
  if (parsed.is_object() && parsed.contains("keys") && parsed["keys"].is_array()) {
    for (json& key : parsed["keys"]) {
      if (JsonString(key, "user") != uid && !JsonString(key, "user").empty()) continue;
      minted.access_key = JsonString(key, "access_key");
      secret = JsonString(key, "secret_key");
      if (key.contains("secret_key") && key["secret_key"].is_string()) {
        WipeString(key["secret_key"].get_ref<std::string&>());
      }
      break;
    }
  }
  Status problem;
  if (minted.access_key.empty() || secret.empty()) {
    problem = Status(ErrorCode::kCorrupt,
                     std::string(kApi) + ": PUT /admin/user (uid " + uid + "): the reply has no S3 key");
  } else {
    s3::HttpResponse policy;
    const std::string form = FormEncode({{"Action", "PutUserPolicy"},
                                         {"Version", "2010-05-08"},
                                         {"UserName", uid},
                                         {"PolicyName", "spacesfs-grants"},
                                         {"PolicyDocument", RgwPolicyDocument(grants)}});
    problem = Send("POST", "/", {}, form, "iam", &policy, " (PutUserPolicy for " + uid + ")");
  }
  if (!problem.ok()) {
    WipeString(secret);
    Status removed = DeleteUser(uid);
    if (!removed.ok()) {
      return problem.WithContext(
          "user " + uid + " was created but could not be removed again (" + removed.ToString() +
          "); remove it by hand: radosgw-admin user rm --purge-data --uid=" + uid);
    }
    return Status(problem.code(),
                  problem.message() + "; no key was made (user " + uid + " was removed again)");
  }
  minted.secret_key = Secret(std::move(secret));
  return minted;
}

Result<std::vector<KeyInfo>> RgwProvider::List() {
  s3::HttpResponse response;
  SPACESFS_RETURN_IF_ERROR(Send("GET", "/admin/metadata/user", {{"format", "json"}}, "", "s3",
                                &response));
  json uids = json::parse(response.body, nullptr, false);
  if (!uids.is_array()) {
    return Status(ErrorCode::kCorrupt,
                  std::string(kApi) + ": GET /admin/metadata/user: the reply is not a list");
  }
  std::vector<KeyInfo> keys;
  for (const json& uid_json : uids) {
    if (!uid_json.is_string()) continue;
    const std::string uid = uid_json.get<std::string>();
    if (uid.rfind(kUidPrefix, 0) != 0) continue;
    s3::HttpResponse info;
    Status status = Send("GET", "/admin/user", {{"uid", uid}, {"format", "json"}}, "", "s3", &info);
    if (status.code() == ErrorCode::kNotFound) continue;
    SPACESFS_RETURN_IF_ERROR(status);
    json user = json::parse(info.body, nullptr, false);
    WipeString(info.body);
    const std::string display = JsonString(user, "display_name");
    if (display.rfind(kDisplayPrefix, 0) != 0) continue;
    KeyInfo key;
    key.name = display.substr(kDisplayPrefix.size());
    if (user.contains("keys") && user["keys"].is_array()) {
      for (json& k : user["keys"]) {
        if (k.contains("secret_key") && k["secret_key"].is_string()) {
          WipeString(k["secret_key"].get_ref<std::string&>());
        }
        if (key.access_key.empty()) key.access_key = JsonString(k, "access_key");
      }
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

Status RgwProvider::Revoke(const std::string& name_or_access_key) {
  Result<std::vector<KeyInfo>> keys = List();
  if (!keys.ok()) return keys.status();
  for (const KeyInfo& key : *keys) {
    if (key.name == name_or_access_key || key.access_key == name_or_access_key) {
      return DeleteUser(std::string(kUidPrefix) + key.name);
    }
  }
  return Status(ErrorCode::kNotFound, std::string(kApi) + ": no spacesfs key named or with access key '" +
                                          name_or_access_key + "'");
}

}  // namespace spacesfs::keys

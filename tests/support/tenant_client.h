// Direct S3 access for end-to-end tests: a client with a test tenant's own key (the tenants the
// test command created: OWNER, SCOPED, READER, BROAD), and small helpers to check the server's
// state after a shell command ran on a mount.
//
// Threading: single-threaded test code; each client may be shared across threads.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "s3/client_config.h"
#include "s3/curl_object_client.h"
#include "support/e2e.h"

namespace spacesfs::testing {

inline std::unique_ptr<s3::ObjectClient> TenantClient(const std::string& who,
                                                      const std::string& bucket) {
  s3::ClientConfig config;
  config.endpoint = RequireEnv("SPACESFS_TEST_ENDPOINT");
  config.region = RequireEnv("SPACESFS_TEST_REGION");
  config.bucket = bucket;
  config.key.access_key_id = RequireEnv(("SPACESFS_TEST_" + who + "_ACCESS_KEY").c_str());
  config.key.secret_access_key = Secret(RequireEnv(("SPACESFS_TEST_" + who + "_SECRET_KEY").c_str()));
  auto client = s3::CurlObjectClient::Create(std::move(config));
  if (!client.ok()) std::abort();
  return std::move(*client);
}

// The object's bytes; "<missing>" when it does not exist, "<error ...>" for any other failure.
inline std::string GetBody(s3::ObjectClient& client, const std::string& key) {
  std::string body;
  s3::GetObjectRequest get;
  get.key = key;
  Result<s3::ObjectInfo> r = client.GetObject(get, [&](std::string_view chunk) {
    body.append(chunk);
    return Status::Ok();
  });
  if (r.ok()) return body;
  if (r.status().code() == ErrorCode::kNotFound) return "<missing>";
  return "<error " + r.status().ToString() + ">";
}

// Every key under prefix (all pages).
inline std::vector<std::string> KeysUnder(s3::ObjectClient& client, const std::string& prefix) {
  std::vector<std::string> keys;
  s3::ListObjectsRequest list;
  list.prefix = prefix;
  for (;;) {
    Result<s3::ListObjectsPage> page = client.ListObjects(list);
    if (!page.ok()) return {"<" + page.status().ToString() + ">"};
    for (const auto& o : page->objects) keys.push_back(o.key);
    if (!page->is_truncated) break;
    list.continuation_token = page->next_continuation_token;
  }
  return keys;
}

}  // namespace spacesfs::testing

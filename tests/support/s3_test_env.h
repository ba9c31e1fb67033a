// The local S3 server the s3/ and e2e/ tests run against, read from the environment:
//
//   SPACESFS_TEST_ENDPOINT                       http://127.0.0.1:PORT
//   SPACESFS_TEST_REGION                         us-east-1
//   SPACESFS_TEST_{OWNER,SCOPED,READER,BROAD}_{ACCESS,SECRET}_KEY
//
// Users: owner owns buckets team-a, team-b and photos; scoped is limited to team-b by an IAM user
// policy; reader has read-only access to team-a by bucket policy; broad has full access to team-a by
// bucket policy. tests/server/rgw-tenants writes these variables.
//
// LoadS3TestEnv fails (kConfig) naming every missing variable; tests ASSERT on it so a missing
// server is a failure, never a silent skip.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "common/result.h"
#include "s3/curl_object_client.h"

namespace spacesfs::testing {

enum class TestUser { kOwner, kScoped, kReader, kBroad };

struct S3TestEnv {
  std::string endpoint;
  std::string region;
  s3::SigningKey owner;
  s3::SigningKey scoped;
  s3::SigningKey reader;
  s3::SigningKey broad;

  const s3::SigningKey& Key(TestUser user) const {
    switch (user) {
      case TestUser::kOwner:
        return owner;
      case TestUser::kScoped:
        return scoped;
      case TestUser::kReader:
        return reader;
      case TestUser::kBroad:
        return broad;
    }
    return owner;
  }
};

inline Result<S3TestEnv> LoadS3TestEnv() {
  std::string missing;
  auto get = [&missing](const char* name) -> std::string {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
      missing += missing.empty() ? "" : ", ";
      missing += name;
      return "";
    }
    return value;
  };
  S3TestEnv env;
  env.endpoint = get("SPACESFS_TEST_ENDPOINT");
  env.region = get("SPACESFS_TEST_REGION");
  auto key = [&get](const std::string& user) {
    s3::SigningKey k;
    k.access_key_id = get(("SPACESFS_TEST_" + user + "_ACCESS_KEY").c_str());
    k.secret_access_key = Secret(get(("SPACESFS_TEST_" + user + "_SECRET_KEY").c_str()));
    return k;
  };
  env.owner = key("OWNER");
  env.scoped = key("SCOPED");
  env.reader = key("READER");
  env.broad = key("BROAD");
  if (!missing.empty()) {
    return Status(ErrorCode::kConfig,
                  "the S3 tests need a running local radosgw and its users: " + missing +
                      " not set (start tests/server/rgw-start, then source the tenants.env that "
                      "tests/server/rgw-tenants writes)");
  }
  return env;
}

inline s3::ClientConfig TestClientConfig(const S3TestEnv& env, const s3::SigningKey& key,
                                         const std::string& bucket) {
  s3::ClientConfig config;
  config.endpoint = env.endpoint;
  config.region = env.region;
  config.bucket = bucket;
  config.key = key;
  config.max_attempts = 3;
  config.retry_base_delay = std::chrono::milliseconds(20);
  return config;
}

inline Result<std::unique_ptr<s3::CurlObjectClient>> MakeTestClient(const S3TestEnv& env,
                                                                    TestUser user,
                                                                    const std::string& bucket) {
  return s3::CurlObjectClient::Create(TestClientConfig(env, env.Key(user), bucket));
}

// "spacesfs-test/NAME-PID-MICROS-RANDOM/": a key prefix no other run or test shares.
inline std::string UniqueTestPrefix(std::string_view name) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::random_device random;
  return "spacesfs-test/" + std::string(name) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(micros) + "-" + std::to_string(random() % 100000) + "/";
}

// Deletes every object and aborts every multipart upload under prefix; returns the first failure.
inline Status DeleteAllUnder(s3::ObjectClient& client, const std::string& prefix) {
  s3::ListMultipartUploadsRequest uploads;
  uploads.prefix = prefix;
  for (;;) {
    Result<s3::ListMultipartUploadsPage> page = client.ListMultipartUploads(uploads);
    if (!page.ok()) return page.status();
    for (const s3::MultipartUpload& upload : page->uploads) {
      Status status = client.AbortMultipartUpload(upload.key, upload.upload_id);
      if (!status.ok() && status.code() != ErrorCode::kNotFound) return status;
    }
    if (!page->is_truncated) break;
    uploads.key_marker = page->next_key_marker;
    uploads.upload_id_marker = page->next_upload_id_marker;
  }
  s3::ListObjectsRequest list;
  list.prefix = prefix;
  for (;;) {
    Result<s3::ListObjectsPage> page = client.ListObjects(list);
    if (!page.ok()) return page.status();
    std::vector<std::string> keys;
    for (const s3::ObjectInfo& object : page->objects) keys.push_back(object.key);
    if (!keys.empty()) {
      Result<std::vector<s3::DeleteError>> errors = client.DeleteObjects(keys);
      if (!errors.ok()) return errors.status();
      if (!errors->empty()) return errors->front().status;
    }
    if (!page->is_truncated) break;
    list.continuation_token = page->next_continuation_token;
  }
  return Status::Ok();
}

}  // namespace spacesfs::testing

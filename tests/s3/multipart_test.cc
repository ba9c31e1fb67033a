// CurlObjectClient against the local radosgw: multipart uploads, part copies, upload listing.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "s3/curl_object_client.h"
#include "support/s3_test_env.h"

namespace spacesfs::s3 {
namespace {

using testing::TestUser;

constexpr uint64_t kMiB = 1024 * 1024;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Pseudo-random bytes defined by (seed, absolute offset): any slice can be produced without
// holding the whole object in memory.
void FillPattern(uint64_t seed, uint64_t offset, char* out, size_t n) {
  for (size_t i = 0; i < n;) {
    uint64_t position = offset + i;
    uint64_t word = SplitMix(seed ^ (position / 8));
    size_t within = position % 8;
    size_t take = std::min<size_t>(8 - within, n - i);
    std::memcpy(out + i, reinterpret_cast<const char*>(&word) + within, take);
    i += take;
  }
}

// The bytes [begin, begin + size) of the pattern, as a request body.
BodySource PatternBody(uint64_t seed, uint64_t begin, uint64_t size) {
  BodySource body;
  body.size = size;
  body.read = [seed, begin, size](uint64_t offset, std::span<char> out) -> Result<size_t> {
    if (offset >= size) return size_t{0};
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size - offset));
    FillPattern(seed, begin + offset, out.data(), n);
    return n;
  };
  return body;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string Hex() {
    unsigned char out[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, out, &n);
    std::string hex;
    for (unsigned i = 0; i < n; ++i) {
      hex += "0123456789abcdef"[out[i] >> 4];
      hex += "0123456789abcdef"[out[i] & 15];
    }
    return hex;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string PatternSha256(uint64_t seed, uint64_t begin, uint64_t size) {
  Sha256 sha;
  std::string buffer(kMiB, '\0');
  for (uint64_t done = 0; done < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - done));
    FillPattern(seed, begin + done, buffer.data(), n);
    sha.Update(std::string_view(buffer.data(), n));
    done += n;
  }
  return sha.Hex();
}

class MultipartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<testing::S3TestEnv> env = testing::LoadS3TestEnv();
    ASSERT_TRUE(env.ok()) << env.status().ToString();
    auto client = testing::MakeTestClient(*env, TestUser::kOwner, "team-a");
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
    prefix_ = testing::UniqueTestPrefix(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void TearDown() override {
    if (client_ != nullptr) {
      Status cleaned = testing::DeleteAllUnder(*client_, prefix_);
      EXPECT_TRUE(cleaned.ok()) << cleaned.ToString();
    }
  }

  // Streams the object through SHA-256; returns the hex digest and the byte count.
  std::pair<std::string, uint64_t> GetSha256(const std::string& key, ObjectInfo* info = nullptr) {
    Sha256 sha;
    uint64_t bytes = 0;
    Result<ObjectInfo> got = client_->GetObject({key, std::nullopt, ""}, [&](std::string_view c) {
      sha.Update(c);
      bytes += c.size();
      return Status::Ok();
    });
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (got.ok() && info != nullptr) *info = *got;
    return {sha.Hex(), bytes};
  }

  std::unique_ptr<CurlObjectClient> client_;
  std::string prefix_;
};

TEST_F(MultipartTest, SixtyFourMiBRoundTripsByteForByte) {
  const std::string key = prefix_ + "big object";
  const uint64_t kSize = 64 * kMiB;
  const uint64_t kPart = 6 * kMiB;  // 10 full parts and a 4 MiB last one
  const uint64_t kSeed = 42;
  Result<std::string> upload_id =
      client_->CreateMultipartUpload(key, {{"purpose", "multipart-test"}}, "application/x-test");
  ASSERT_TRUE(upload_id.ok()) << upload_id.status().ToString();

  const int parts = static_cast<int>((kSize + kPart - 1) / kPart);
  std::vector<CompletedPart> completed(parts);
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < parts; i = next++) {
        uint64_t begin = static_cast<uint64_t>(i) * kPart;
        BodySource body = PatternBody(kSeed, begin, std::min(kPart, kSize - begin));
        Result<std::string> etag = client_->UploadPart(key, *upload_id, i + 1, body);
        std::lock_guard<std::mutex> lock(mu);
        if (!etag.ok()) {
          failures.push_back(etag.status().ToString());
        } else {
          completed[i] = CompletedPart{i + 1, *etag};
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  ASSERT_TRUE(failures.empty()) << failures.front();

  Result<std::string> etag = client_->CompleteMultipartUpload(key, *upload_id, completed);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_TRUE(etag->ends_with("-" + std::to_string(parts) + "\"")) << *etag;

  Result<ObjectInfo> head = client_->HeadObject(key);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, kSize);
  EXPECT_EQ(head->etag, *etag);
  EXPECT_EQ(head->content_type, "application/x-test");
  EXPECT_EQ(head->metadata, (UserMetadata{{"purpose", "multipart-test"}}));

  ObjectInfo info;
  auto [sha, bytes] = GetSha256(key, &info);
  EXPECT_EQ(bytes, kSize);
  EXPECT_EQ(sha, PatternSha256(kSeed, 0, kSize));
  EXPECT_EQ(info.size, kSize);

  // A range across a part boundary.
  std::string range;
  Result<ObjectInfo> ranged =
      client_->GetObject({key, ByteRange{kPart - 100, kPart + 99}, *etag}, [&](std::string_view c) {
        range.append(c);
        return Status::Ok();
      });
  ASSERT_TRUE(ranged.ok()) << ranged.status().ToString();
  std::string want(200, '\0');
  FillPattern(kSeed, kPart - 100, want.data(), want.size());
  EXPECT_TRUE(range == want);
  EXPECT_TRUE(client_->DeleteObject(key).ok());
}

TEST_F(MultipartTest, UploadPartCopyOfRanges) {
  const std::string source = prefix_ + "source";
  const uint64_t kSize = 11 * kMiB + 5;
  const uint64_t kSeed = 7;
  PutObjectRequest put;
  put.key = source;
  put.body = PatternBody(kSeed, 0, kSize);
  Result<std::string> source_etag = client_->PutObject(put);
  ASSERT_TRUE(source_etag.ok()) << source_etag.status().ToString();

  const std::string key = prefix_ + "assembled";
  Result<std::string> upload_id = client_->CreateMultipartUpload(key, {}, "");
  ASSERT_TRUE(upload_id.ok()) << upload_id.status().ToString();
  // Part 1: bytes [3 MiB, 9 MiB) of the source; part 2: uploaded data; part 3: the source's tail.
  UploadPartCopyRequest copy;
  copy.source_key = source;
  copy.destination_key = key;
  copy.upload_id = *upload_id;
  copy.part_number = 1;
  copy.source_range = ByteRange{3 * kMiB, 9 * kMiB - 1};
  copy.if_match = *source_etag;
  Result<std::string> part1 = client_->UploadPartCopy(copy);
  ASSERT_TRUE(part1.ok()) << part1.status().ToString();
  Result<std::string> part2 = client_->UploadPart(key, *upload_id, 2, PatternBody(99, 0, 5 * kMiB));
  ASSERT_TRUE(part2.ok()) << part2.status().ToString();
  copy.part_number = 3;
  copy.source_range = ByteRange{kSize - 1000, kSize - 1};
  Result<std::string> part3 = client_->UploadPartCopy(copy);
  ASSERT_TRUE(part3.ok()) << part3.status().ToString();

  Result<std::string> etag = client_->CompleteMultipartUpload(
      key, *upload_id, {{1, *part1}, {2, *part2}, {3, *part3}});
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();

  Sha256 want;
  want.Update("");
  std::string buffer;
  auto add = [&](uint64_t seed, uint64_t begin, uint64_t size) {
    buffer.resize(size);
    FillPattern(seed, begin, buffer.data(), size);
    want.Update(buffer);
  };
  add(kSeed, 3 * kMiB, 6 * kMiB);
  add(99, 0, 5 * kMiB);
  add(kSeed, kSize - 1000, 1000);
  auto [sha, bytes] = GetSha256(key);
  EXPECT_EQ(bytes, 11 * kMiB + 1000);
  EXPECT_EQ(sha, want.Hex());
}

TEST_F(MultipartTest, ListSeesUploadAndAbortRemovesIt) {
  const std::string key = prefix_ + "pending upload ü+%";
  Result<std::string> upload_id = client_->CreateMultipartUpload(key, {}, "");
  ASSERT_TRUE(upload_id.ok()) << upload_id.status().ToString();
  ASSERT_TRUE(client_->UploadPart(key, *upload_id, 1, BodySource::FromView("some bytes")).ok());

  ListMultipartUploadsRequest request;
  request.prefix = prefix_;
  Result<ListMultipartUploadsPage> page = client_->ListMultipartUploads(request);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->uploads.size(), 1u);
  EXPECT_EQ(page->uploads[0].key, key);
  EXPECT_EQ(page->uploads[0].upload_id, *upload_id);

  Status aborted = client_->AbortMultipartUpload(key, *upload_id);
  ASSERT_TRUE(aborted.ok()) << aborted.ToString();
  page = client_->ListMultipartUploads(request);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->uploads.empty());

  Result<std::string> late = client_->UploadPart(key, *upload_id, 2, BodySource::FromView("x"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), ErrorCode::kNotFound) << late.status().ToString();
  EXPECT_EQ(client_->HeadObject(key).status().code(), ErrorCode::kNotFound);
}

TEST_F(MultipartTest, CompleteWithAWrongPartEtagFails) {
  const std::string key = prefix_ + "bad-complete";
  Result<std::string> upload_id = client_->CreateMultipartUpload(key, {}, "");
  ASSERT_TRUE(upload_id.ok());
  Result<std::string> part = client_->UploadPart(key, *upload_id, 1, BodySource::FromView("abc"));
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  Result<std::string> etag = client_->CompleteMultipartUpload(
      key, *upload_id, {{1, "\"0123456789abcdef0123456789abcdef\""}});
  ASSERT_FALSE(etag.ok());
  EXPECT_EQ(etag.status().code(), ErrorCode::kBadRequest) << etag.status().ToString();
  EXPECT_EQ(etag.status().s3_code(), "InvalidPart");
  EXPECT_TRUE(client_->AbortMultipartUpload(key, *upload_id).ok());
}

}  // namespace
}  // namespace spacesfs::s3

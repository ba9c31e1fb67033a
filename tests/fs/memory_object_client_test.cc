// MemoryObjectClient behaves as S3 does where the fs tests rely on it.
#include "s3/memory_object_client.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace spacesfs::s3 {
namespace {

using Op = MemoryObjectClient::Operation;

Result<std::string> Put(MemoryObjectClient& c, const std::string& key, std::string_view data,
                        UserMetadata metadata = {}) {
  PutObjectRequest req;
  req.key = key;
  req.body = BodySource::FromView(data);
  req.metadata = std::move(metadata);
  return c.PutObject(req);
}

Result<std::string> Get(MemoryObjectClient& c, const std::string& key,
                        std::optional<ByteRange> range = std::nullopt, std::string if_match = "") {
  GetObjectRequest req;
  req.key = key;
  req.range = range;
  req.if_match = std::move(if_match);
  std::string out;
  Result<ObjectInfo> info = c.GetObject(req, [&](std::string_view chunk) {
    out.append(chunk);
    return Status::Ok();
  });
  if (!info.ok()) return info.status();
  return out;
}

TEST(MemoryObjectClientTest, PutHeadGetWithMd5Etag) {
  MemoryObjectClient c;
  Result<std::string> etag = Put(c, "a/b.txt", "hello", {{"mode", "33188"}});
  ASSERT_TRUE(etag.ok());
  EXPECT_EQ(*etag, "\"5d41402abc4b2a76b9719d911017c592\"");  // md5("hello")
  Result<ObjectInfo> info = c.HeadObject("a/b.txt");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 5u);
  EXPECT_EQ(info->etag, *etag);
  EXPECT_EQ(info->metadata.at("mode"), "33188");
  EXPECT_EQ(info->last_modified_ns % 1'000'000'000, 0);
  EXPECT_GT(info->last_modified_ns, 0);
  EXPECT_EQ(*Get(c, "a/b.txt"), "hello");
  EXPECT_EQ(*Get(c, "a/b.txt", ByteRange{1, 3}), "ell");
  EXPECT_EQ(*Get(c, "a/b.txt", ByteRange{3, 100}), "lo");
  EXPECT_EQ(Get(c, "a/b.txt", ByteRange{5, 9}).status().code(), ErrorCode::kBadRequest);
}

TEST(MemoryObjectClientTest, MissingKeysAreNotFound) {
  MemoryObjectClient c;
  EXPECT_EQ(c.HeadObject("nope").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(c.HeadObject("nope").status().http_status(), 404);
  EXPECT_EQ(c.HeadObject("nope").status().s3_code(), "NoSuchKey");
  EXPECT_EQ(Get(c, "nope").status().code(), ErrorCode::kNotFound);
  CopyObjectRequest copy{"nope", "dst", MetadataDirective::kCopy, {}, "", ""};
  EXPECT_EQ(c.CopyObject(copy).status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(c.DeleteObject("nope").ok());  // S3 semantics
}

TEST(MemoryObjectClientTest, Preconditions) {
  MemoryObjectClient c;
  std::string etag = *Put(c, "k", "v1");
  EXPECT_EQ(*Get(c, "k", std::nullopt, etag), "v1");
  ASSERT_TRUE(Put(c, "k", "v2").ok());
  Result<std::string> stale = Get(c, "k", std::nullopt, etag);
  EXPECT_EQ(stale.status().code(), ErrorCode::kPreconditionFailed);
  EXPECT_EQ(stale.status().http_status(), 412);

  PutObjectRequest req;
  req.key = "k";
  req.body = BodySource::FromView("v3");
  req.if_none_match = true;
  EXPECT_EQ(c.PutObject(req).status().code(), ErrorCode::kPreconditionFailed);
  EXPECT_EQ(*c.Data("k"), "v2");
  req.key = "new";
  EXPECT_TRUE(c.PutObject(req).ok());

  CopyObjectRequest copy{"k", "k2", MetadataDirective::kCopy, {}, "", etag};
  EXPECT_EQ(c.CopyObject(copy).status().code(), ErrorCode::kPreconditionFailed);
}

TEST(MemoryObjectClientTest, ListWithDelimiterPrefixAndPages) {
  MemoryObjectClient c;
  for (std::string k : {"a", "a/", "a/1", "a/2", "a/sub/x", "a/sub/y", "a-b", "b/c", "c"}) {
    ASSERT_TRUE(Put(c, k, k).ok());
  }
  ListObjectsRequest req;
  req.delimiter = "/";
  Result<ListObjectsPage> page = c.ListObjects(req);
  ASSERT_TRUE(page.ok());
  std::vector<std::string> keys;
  for (const auto& o : page->objects) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "a-b", "c"}));
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/", "b/"}));
  EXPECT_FALSE(page->is_truncated);

  req.prefix = "a/";
  page = c.ListObjects(req);
  keys.clear();
  for (const auto& o : page->objects) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a/", "a/1", "a/2"}));
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/sub/"}));
  EXPECT_EQ(page->objects[1].size, 3u);
  EXPECT_EQ(page->objects[1].etag, MemoryObjectClient::EtagOf("a/1"));

  // Pages of 1 across objects and prefixes, no duplicates.
  ListObjectsRequest paged;
  paged.delimiter = "/";
  paged.max_keys = 1;
  std::vector<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    Result<ListObjectsPage> p = c.ListObjects(paged);
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->objects.size() + p->common_prefixes.size(), 1u);
    for (const auto& o : p->objects) seen.push_back(o.key);
    for (const auto& cp : p->common_prefixes) seen.push_back(cp);
    if (!p->is_truncated) break;
    paged.continuation_token = p->next_continuation_token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "a-b", "a/", "b/", "c"}));

  ListObjectsRequest after;
  after.start_after = "a/2";
  page = c.ListObjects(after);
  keys.clear();
  for (const auto& o : page->objects) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a/sub/x", "a/sub/y", "b/c", "c"}));
  EXPECT_EQ(c.RequestCount(Op::kListObjects), 8u);
}

TEST(MemoryObjectClientTest, ListMaxKeysThousand) {
  MemoryObjectClient c;
  for (int i = 0; i < 1500; ++i) ASSERT_TRUE(Put(c, "d/" + std::to_string(10000 + i), "").ok());
  ListObjectsRequest req;
  req.prefix = "d/";
  req.max_keys = 5000;
  Result<ListObjectsPage> page = c.ListObjects(req);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 1000u);
  EXPECT_TRUE(page->is_truncated);
  req.continuation_token = page->next_continuation_token;
  page = c.ListObjects(req);
  EXPECT_EQ(page->objects.size(), 500u);
  EXPECT_FALSE(page->is_truncated);
  EXPECT_EQ(page->objects.front().key, "d/11000");
}

TEST(MemoryObjectClientTest, MultipartEtagAndPartSizes) {
  MemoryObjectClient c;
  std::string part1(5 << 20, 'x'), part2 = "tail";
  Result<std::string> id = c.CreateMultipartUpload("big", {{"mode", "33188"}}, "");
  ASSERT_TRUE(id.ok());
  std::string e1 = *c.UploadPart("big", *id, 1, BodySource::FromView(part1));
  std::string e2 = *c.UploadPart("big", *id, 2, BodySource::FromView(part2));
  EXPECT_EQ(e1, MemoryObjectClient::EtagOf(part1));
  ListMultipartUploadsRequest lreq;
  EXPECT_EQ(c.ListMultipartUploads(lreq)->uploads.size(), 1u);
  // Wrong order is refused.
  EXPECT_EQ(c.CompleteMultipartUpload("big", *id, {{2, e2}, {1, e1}}).status().code(),
            ErrorCode::kBadRequest);
  Result<std::string> etag = c.CompleteMultipartUpload("big", *id, {{1, e1}, {2, e2}});
  ASSERT_TRUE(etag.ok());
  EXPECT_EQ(etag->size(), 2u + 32u + 2u);
  EXPECT_EQ(etag->substr(etag->size() - 3), "-2\"");
  EXPECT_EQ(*c.Data("big"), part1 + part2);
  EXPECT_EQ(c.Info("big")->metadata.at("mode"), "33188");
  EXPECT_EQ(c.ListMultipartUploads(lreq)->uploads.size(), 0u);
  EXPECT_EQ(c.UploadPart("big", *id, 3, BodySource::FromView("x")).status().code(),
            ErrorCode::kNotFound);

  // A small non-last part is refused.
  std::string id2 = *c.CreateMultipartUpload("small", {}, "");
  std::string s1 = *c.UploadPart("small", id2, 1, BodySource::FromView("a"));
  std::string s2 = *c.UploadPart("small", id2, 2, BodySource::FromView("b"));
  EXPECT_EQ(c.CompleteMultipartUpload("small", id2, {{1, s1}, {2, s2}}).status().s3_code(),
            "EntityTooSmall");
  EXPECT_TRUE(c.AbortMultipartUpload("small", id2).ok());
  EXPECT_EQ(c.AbortMultipartUpload("small", id2).code(), ErrorCode::kNotFound);
}

TEST(MemoryObjectClientTest, CopyDirectivesAndPartCopy) {
  MemoryObjectClient c;
  ASSERT_TRUE(Put(c, "src", "data", {{"mode", "1"}}).ok());
  CopyObjectRequest copy{"src", "dst", MetadataDirective::kCopy, {{"mode", "2"}}, "", ""};
  ASSERT_TRUE(c.CopyObject(copy).ok());
  EXPECT_EQ(c.Info("dst")->metadata.at("mode"), "1");
  copy.directive = MetadataDirective::kReplace;
  ASSERT_TRUE(c.CopyObject(copy).ok());
  EXPECT_EQ(c.Info("dst")->metadata.at("mode"), "2");
  EXPECT_EQ(*c.Data("dst"), "data");
  // Onto itself: only with REPLACE.
  CopyObjectRequest self{"src", "src", MetadataDirective::kCopy, {}, "", ""};
  EXPECT_EQ(c.CopyObject(self).status().code(), ErrorCode::kBadRequest);
  self.directive = MetadataDirective::kReplace;
  self.metadata = {{"uid", "7"}};
  ASSERT_TRUE(c.CopyObject(self).ok());
  EXPECT_EQ(c.Info("src")->metadata, (UserMetadata{{"uid", "7"}}));

  std::string id = *c.CreateMultipartUpload("pc", {}, "");
  UploadPartCopyRequest upc{"src", "pc", id, 1, ByteRange{1, 2}, ""};
  std::string e = *c.UploadPartCopy(upc);
  ASSERT_TRUE(c.CompleteMultipartUpload("pc", id, {{1, e}}).ok());
  EXPECT_EQ(*c.Data("pc"), "at");
}

TEST(MemoryObjectClientTest, DeleteObjectsAndCounters) {
  MemoryObjectClient c;
  ASSERT_TRUE(Put(c, "x", "1").ok());
  ASSERT_TRUE(Put(c, "y", "2").ok());
  EXPECT_TRUE(c.DeleteObjects({"x", "y", "z"})->empty());
  EXPECT_TRUE(c.Keys().empty());
  EXPECT_EQ(c.DeleteObjects(std::vector<std::string>(1001, "k")).status().code(),
            ErrorCode::kBadRequest);
  EXPECT_EQ(c.RequestCount(Op::kPutObject), 2u);
  EXPECT_EQ(c.RequestCount(Op::kDeleteObjects), 2u);
  EXPECT_EQ(c.TotalRequests(), 4u);
  c.ResetRequestCounts();
  EXPECT_EQ(c.TotalRequests(), 0u);
}

TEST(MemoryObjectClientTest, ConcurrentPutsAndLists) {
  MemoryObjectClient c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(Put(c, "t" + std::to_string(t) + "/" + std::to_string(i), "x").ok());
        ASSERT_TRUE(c.ListObjects(ListObjectsRequest{}).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.Keys().size(), 800u);
  EXPECT_EQ(c.RequestCount(Op::kPutObject), 800u);
}

}  // namespace
}  // namespace spacesfs::s3

#include "s3/metadata_headers.h"

#include <gtest/gtest.h>

#include "s3/body_digest.h"

namespace spacesfs::s3 {
namespace {

TEST(MetadataHeadersTest, AppendsPrefixedHeaders) {
  HeaderList headers;
  ASSERT_TRUE(AppendMetadataHeaders({{"mode", "0644"}, {"x-y", "a b"}}, &headers).ok());
  EXPECT_EQ(headers, (HeaderList{{"x-amz-meta-mode", "0644"}, {"x-amz-meta-x-y", "a b"}}));
}

TEST(MetadataHeadersTest, RefusesNamesAndValuesHttpCannotCarry) {
  HeaderList headers;
  EXPECT_EQ(AppendMetadataHeaders({{"Upper", "v"}}, &headers).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AppendMetadataHeaders({{"a b", "v"}}, &headers).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AppendMetadataHeaders({{"", "v"}}, &headers).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AppendMetadataHeaders({{"k", "a\r\nx-amz-acl: public"}}, &headers).code(),
            ErrorCode::kInvalidArgument);
}

TEST(MetadataHeadersTest, ObjectInfoFromHeaders) {
  HeaderList headers = {{"content-length", "1234"},
                        {"etag", "\"abc\""},
                        {"last-modified", "Sat, 28 Nov 2026 17:36:17 GMT"},
                        {"content-type", "text/plain"},
                        {"x-amz-meta-mode", "0644"},
                        {"x-amz-meta-", "ignored"},
                        {"x-amz-request-id", "tx1"}};
  Result<ObjectInfo> info = ObjectInfoFromHeaders("k", headers);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->key, "k");
  EXPECT_EQ(info->size, 1234u);
  EXPECT_EQ(info->etag, "\"abc\"");
  EXPECT_EQ(info->last_modified_ns, int64_t{1795887377} * 1'000'000'000);
  EXPECT_EQ(info->content_type, "text/plain");
  EXPECT_EQ(info->metadata, (UserMetadata{{"mode", "0644"}}));
}

TEST(MetadataHeadersTest, RangeResponsesReportTheWholeSize) {
  Result<ObjectInfo> info = ObjectInfoFromHeaders(
      "k", {{"content-length", "10"}, {"content-range", "bytes 10-19/1000"}});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 1000u);
  info = ObjectInfoFromHeaders("k", {{"content-range", "bytes 0-9/50"}, {"content-length", "10"}});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 50u);
}

TEST(MetadataHeadersTest, MalformedHeadersAreCorrupt) {
  EXPECT_EQ(ObjectInfoFromHeaders("k", {{"content-length", "12x"}}).status().code(),
            ErrorCode::kCorrupt);
  EXPECT_EQ(ObjectInfoFromHeaders("k", {{"content-length", "-1"}}).status().code(),
            ErrorCode::kCorrupt);
  EXPECT_EQ(ObjectInfoFromHeaders("k", {{"last-modified", "yesterday"}}).status().code(),
            ErrorCode::kCorrupt);
}

TEST(MetadataHeadersTest, SizesThatCannotBeAFileSizeAreCorrupt) {
  Result<ObjectInfo> largest = ObjectInfoFromHeaders("k", {{"content-length", "9223372036854775807"}});
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(largest->size, kMaxObjectSize);
  for (const char* length : {"9223372036854775808", "18446744073709551615", "18446744073709551616"}) {
    EXPECT_EQ(ObjectInfoFromHeaders("k", {{"content-length", length}}).status().code(),
              ErrorCode::kCorrupt) << length;
  }
  EXPECT_EQ(ObjectInfoFromHeaders("k", {{"content-range", "bytes 0-9/9223372036854775808"}})
                .status()
                .code(),
            ErrorCode::kCorrupt);
  EXPECT_TRUE(ParseContentRange("bytes 0-9/9223372036854775807").ok());
}

TEST(MetadataHeadersTest, ParseContentRange) {
  Result<ContentRange> r = ParseContentRange("bytes 0-0/1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 0u);
  EXPECT_EQ(r->total, 1u);
  r = ParseContentRange("bytes 5-9/*");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->total.has_value());
  for (std::string_view bad : {"bytes 9-5/10", "bytes 0-9/9", "items 0-1/2", "bytes 0-/2",
                               "bytes -1/2", "bytes 0-1", "bytes 0-1/x"}) {
    EXPECT_EQ(ParseContentRange(bad).status().code(), ErrorCode::kCorrupt) << bad;
  }
}

TEST(BodyDigestTest, Md5AndSha256InOnePass) {
  std::string data(3 * 1024 * 1024 + 5, 'a');
  Result<BodyDigest> digest = DigestBody(BodySource::FromView(data), true);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(HexEncode(digest->md5), HexEncode(Md5(data)));
  EXPECT_EQ(digest->sha256_hex, Sha256Hex(data));
  Result<BodyDigest> md5_only = DigestBody(BodySource::FromView("abc"), false);
  ASSERT_TRUE(md5_only.ok());
  EXPECT_EQ(HexEncode(md5_only->md5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_only->sha256_hex, "");
  EXPECT_EQ(QuotedMd5Etag(md5_only->md5), "\"900150983cd24fb0d6963f7d28e17f72\"");
  Result<BodyDigest> sha_only = DigestBody(BodySource::FromView("abc"), true, false);
  ASSERT_TRUE(sha_only.ok());
  EXPECT_EQ(sha_only->md5, "");
  EXPECT_EQ(sha_only->sha256_hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(BodyDigestTest, BodiesReadInPiecesAndBodiesInMemoryGiveTheSameDigests) {
  std::string data(3 * 1024 * 1024 + 5, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  BodySource in_memory = BodySource::FromView(data);
  BodySource in_pieces = in_memory;
  in_pieces.in_memory = {};  // digested through read(), a megabyte at a time
  Result<BodyDigest> a = DigestBody(in_memory, true);
  Result<BodyDigest> b = DigestBody(in_pieces, true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(HexEncode(a->md5), HexEncode(Md5(data)));
  EXPECT_EQ(a->md5, b->md5);
  EXPECT_EQ(a->sha256_hex, Sha256Hex(data));
  EXPECT_EQ(a->sha256_hex, b->sha256_hex);
}

TEST(BodyDigestTest, ShortSourceIsAnError) {
  BodySource lying;
  lying.size = 10;
  lying.read = [](uint64_t, std::span<char>) -> Result<size_t> { return size_t{0}; };
  EXPECT_FALSE(DigestBody(lying, true).ok());
}

TEST(BodyDigestTest, MultipartEtagIsMd5OfPartMd5s) {
  // Two parts "abc" and "def": md5(md5("abc") || md5("def")) with "-2".
  std::string abc = HexEncode(Md5("abc"));
  std::string def = HexEncode(Md5("def"));
  Result<std::string> etag = MultipartEtag({{1, "\"" + abc + "\""}, {2, def}});
  ASSERT_TRUE(etag.ok());
  EXPECT_EQ(*etag, "\"" + HexEncode(Md5(Md5("abc") + Md5("def"))) + "-2\"");
  EXPECT_EQ(MultipartEtag({{1, "\"abc-2\""}}).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(UnquoteEtag("&quot;x&quot;"), "x");
  EXPECT_EQ(QuotedEtag("x"), "\"x\"");
  EXPECT_EQ(QuotedEtag("\"x\""), "\"x\"");
}

}  // namespace
}  // namespace spacesfs::s3

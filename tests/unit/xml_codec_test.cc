#include "s3/xml_codec.h"

#include <gtest/gtest.h>
#include <tinyxml2.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace spacesfs::s3 {
namespace {

constexpr int64_t kNs = 1'000'000'000;

std::string ReadData(const std::string& relative) {
  std::string path = std::string(SPACESFS_TESTDATA_DIR) + "/xml/" + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Asserts a kCorrupt result whose message contains `needle`.
template <typename T>
void ExpectCorrupt(const Result<T>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "expected kCorrupt containing \"" << needle << "\"";
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << "message: " << r.status().message() << "\nexpected to contain: " << needle;
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "message is not one line";
}

// A ListObjectsV2 body with the given root contents.
std::string ListBody(const std::string& inner) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
         "<Name>b</Name>" +
         inner + "</ListBucketResult>";
}

std::string Contents(const std::string& key, const std::string& size = "1",
                     const std::string& modified = "2026-11-28T17:36:17.000Z",
                     const std::string& extra = "") {
  return "<Contents><Key>" + key + "</Key><LastModified>" + modified +
         "</LastModified><ETag>\"e\"</ETag><Size>" + size + "</Size>" + extra + "</Contents>";
}

// ---------------------------------------------------------------- ListObjectsV2

TEST(ListObjectsV2Test, ParsesAwsExample) {
  Result<ListObjectsPage> page = ParseListObjectsV2(ReadData("list_objects_v2.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_FALSE(page->is_truncated);
  EXPECT_TRUE(page->next_continuation_token.empty());
  EXPECT_TRUE(page->common_prefixes.empty());
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "my-image.jpg");
  EXPECT_EQ(page->objects[0].size, 434234u);
  EXPECT_EQ(page->objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
  EXPECT_EQ(page->objects[0].last_modified_ns, 1255369830 * kNs);
  EXPECT_EQ(page->objects[1].key, "photos/2006/January/sample.jpg");
  EXPECT_EQ(page->objects[1].size, 142863u);
  EXPECT_EQ(page->objects[1].last_modified_ns, 1298685380 * kNs + 123'000'000);
}

TEST(ListObjectsV2Test, ParsesDelimiterAndContinuation) {
  Result<ListObjectsPage> page =
      ParseListObjectsV2(ReadData("list_objects_v2_delimiter_truncated.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token,
            "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=ZXhhbXBsZQ==");
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "photos/2006/index.html");
  EXPECT_EQ(page->objects[0].size, 0u);
  EXPECT_EQ(page->common_prefixes,
            (std::vector<std::string>{"photos/2006/February/", "photos/2006/January/"}));
}

TEST(ListObjectsV2Test, UrlDecodesKeysAndPrefixes) {
  Result<ListObjectsPage> page = ParseListObjectsV2(ReadData("list_objects_v2_url_encoded.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 5u);
  EXPECT_EQ(page->objects[0].key, "dir one/a b+c.txt");
  EXPECT_EQ(page->objects[1].key, "dir one/100% done");
  EXPECT_EQ(page->objects[2].key, "dir one/caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(page->objects[3].key, std::string("dir one/line\nbreak\r\x01"
                                              "ctl"));
  EXPECT_EQ(page->objects[3].size, 5368709120u);
  EXPECT_EQ(page->objects[3].etag, "\"9b2cf535f27731c974343645a398532b-2\"");
  EXPECT_EQ(page->objects[4].key, "dir one/test_file(3).png");
  EXPECT_EQ(page->common_prefixes,
            (std::vector<std::string>{"dir one/sub dir/", "dir one/&amp;/"}));
}

TEST(ListObjectsV2Test, KeysAreNotDecodedWithoutEncodingType) {
  Result<ListObjectsPage> page = ParseListObjectsV2(
      ListBody("<IsTruncated>false</IsTruncated>" + Contents("a+b%2B c &amp; &lt;d&gt; &#x263A;") +
               "<CommonPrefixes><Prefix>x%y+/</Prefix></CommonPrefixes>"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a+b%2B c & <d> \xE2\x98\xBA");
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"x%y+/"});
}

TEST(ListObjectsV2Test, KeepsSurroundingWhitespaceOfKeysButTrimsNumbers) {
  Result<ListObjectsPage> page = ParseListObjectsV2(
      ListBody("<IsTruncated>\n false \n</IsTruncated>" +
               Contents("  two leading, one trailing ", "\n  42\n", " 2026-11-28T17:36:17Z ")));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "  two leading, one trailing ");
  EXPECT_EQ(page->objects[0].size, 42u);
  EXPECT_EQ(page->objects[0].last_modified_ns, 1795887377 * kNs);
}

TEST(ListObjectsV2Test, AcceptsCdataAndComments) {
  Result<ListObjectsPage> page =
      ParseListObjectsV2(ListBody("<!-- a comment --><IsTruncated>false</IsTruncated>" +
                                  Contents("<![CDATA[a<b]]><!-- mid -->&amp;c")));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.at(0).key, "a<b&c");
}

TEST(ListObjectsV2Test, RadosgwLayoutQuirksAreTolerated) {
  // radosgw echoes StartAfter and Prefix without encoding them, puts <KeyCount> and <StartAfter>
  // inside <CommonPrefixes>, and sends the next key's raw name as the continuation token.
  Result<ListObjectsPage> page = ParseListObjectsV2(ListBody(
      "<Prefix>100%</Prefix><StartAfter>a%+b</StartAfter><EncodingType>url</EncodingType>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>next 100%+key</NextContinuationToken>"
      "<KeyCount>2</KeyCount>" +
      Contents("100%25/a%2Bb") +
      "<CommonPrefixes><Prefix>100%25/d%20/</Prefix><KeyCount>1</KeyCount>"
      "<StartAfter>a%+b</StartAfter></CommonPrefixes>"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.at(0).key, "100%/a+b");
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"100%/d /"});
  EXPECT_EQ(page->next_continuation_token, "next 100%+key");
}

TEST(ListObjectsV2Test, BareEtagsAreQuoted) {
  Result<ListObjectsPage> page = ParseListObjectsV2(
      ListBody("<IsTruncated>false</IsTruncated><Contents><Key>k</Key><LastModified>"
               "2026-11-28T17:36:17Z</LastModified><ETag>abc-2</ETag><Size>1</Size></Contents>"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.at(0).etag, "\"abc-2\"");
}

TEST(ListObjectsV2Test, LargestSizeAccepted) {
  Result<ListObjectsPage> page = ParseListObjectsV2(
      ListBody("<IsTruncated>false</IsTruncated>" + Contents("k", "9223372036854775807")));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.at(0).size, 9223372036854775807u);
}

struct MalformedCase {
  const char* name;
  std::string body;
  const char* needle;
};

TEST(ListObjectsV2Test, MalformedBodiesAreCorruptWithOneClearLine) {
  const std::string ok_head = "<IsTruncated>false</IsTruncated>";
  std::vector<MalformedCase> cases = {
      {"empty", "", "empty body"},
      {"whitespace only", "  \n", "empty body"},
      {"not xml", "Service Unavailable", "not XML"},
      {"html", "<html><body>502 Bad Gateway</body></html>", "unexpected root element <html>"},
      {"wrong root", "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>",
       "unexpected root element <ListAllMyBucketsResult>"},
      {"v1 listing is fine but v2 root is required", "<ListBucketResultV1/>",
       "unexpected root element <ListBucketResultV1>"},
      {"two roots", ListBody(ok_head) + "<ListBucketResult/>", "more than one root element"},
      {"trailing text", ListBody(ok_head) + "garbage", "not XML"},
      {"unclosed", "<ListBucketResult><IsTruncated>false</IsTruncated>", "not XML"},
      {"mismatched tags", ListBody("<IsTruncated>false</Truncated>"), "not XML"},
      {"nul byte", ListBody(ok_head + std::string("<Name>a\0b</Name>", 16)), "NUL byte"},
      {"missing key",
       ListBody(ok_head + "<Contents><LastModified>2026-11-28T17:36:17Z"
                          "</LastModified><ETag>e</ETag><Size>1</Size></Contents>"),
       "missing <Key> in <Contents>"},
      {"empty key", ListBody(ok_head + Contents("")), "empty <Key> in <Contents>"},
      {"whitespace-only key", ListBody(ok_head + Contents("   ")), "empty <Key> in <Contents>"},
      {"missing size",
       ListBody(ok_head + "<Contents><Key>k</Key><LastModified>2026-11-28T17:36:17Z"
                          "</LastModified><ETag>e</ETag></Contents>"),
       "missing <Size> in <Contents>"},
      {"missing etag",
       ListBody(ok_head + "<Contents><Key>k</Key><LastModified>2026-11-28T17:36:17Z"
                          "</LastModified><Size>1</Size></Contents>"),
       "missing <ETag> in <Contents>"},
      {"missing last modified",
       ListBody(ok_head + "<Contents><Key>k</Key><ETag>e</ETag><Size>1</Size></Contents>"),
       "missing <LastModified> in <Contents>"},
      {"non-numeric size", ListBody(ok_head + Contents("k", "12abc")),
       "<Size> in <Contents> is not a non-negative integer: \"12abc\""},
      {"empty size", ListBody(ok_head + Contents("k", "")), "empty <Size> in <Contents>"},
      {"negative size", ListBody(ok_head + Contents("k", "-1")),
       "<Size> in <Contents> is not a non-negative integer"},
      {"plus sign size", ListBody(ok_head + Contents("k", "+1")),
       "<Size> in <Contents> is not a non-negative integer"},
      {"hex size", ListBody(ok_head + Contents("k", "0x10")), "not a non-negative integer"},
      {"float size", ListBody(ok_head + Contents("k", "1.5e3")), "not a non-negative integer"},
      {"size above int64", ListBody(ok_head + Contents("k", "9223372036854775808")),
       "<Size> in <Contents> is out of range"},
      {"size above uint64", ListBody(ok_head + Contents("k", "18446744073709551616")),
       "<Size> in <Contents> is out of range"},
      {"huge size", ListBody(ok_head + Contents("k", std::string(5000, '9'))),
       "<Size> in <Contents> is out of range"},
      {"duplicate size",
       ListBody(ok_head + Contents("k", "1", "2026-11-28T17:36:17Z", "<Size>2</Size>")),
       "duplicate <Size> in <Contents>"},
      {"duplicate key",
       ListBody(ok_head + Contents("k", "1", "2026-11-28T17:36:17Z", "<Key>k2</Key>")),
       "duplicate <Key> in <Contents>"},
      {"element inside key", ListBody(ok_head + Contents("a<b>c</b>")),
       "unexpected <b> inside <Key> in <Contents>"},
      {"bad date", ListBody(ok_head + Contents("k", "1", "yesterday")),
       "<LastModified> in <Contents>: bad timestamp \"yesterday\""},
      {"impossible date", ListBody(ok_head + Contents("k", "1", "2026-02-30T00:00:00Z")),
       "day out of range"},
      {"missing IsTruncated", ListBody(Contents("k")),
       "missing <IsTruncated> in <ListBucketResult>"},
      {"duplicate IsTruncated", ListBody(ok_head + ok_head),
       "duplicate <IsTruncated> in <ListBucketResult>"},
      {"bad IsTruncated", ListBody("<IsTruncated>yes</IsTruncated>"),
       "<IsTruncated> in <ListBucketResult> is not true/false: \"yes\""},
      {"truncated without token", ListBody("<IsTruncated>true</IsTruncated>" + Contents("k")),
       "<IsTruncated> is true without a <NextContinuationToken>"},
      {"duplicate token",
       ListBody("<IsTruncated>true</IsTruncated><NextContinuationToken>a"
                "</NextContinuationToken><NextContinuationToken>b</NextContinuationToken>"),
       "duplicate <NextContinuationToken> in <ListBucketResult>"},
      {"bad escape in key",
       ListBody("<EncodingType>url</EncodingType>" + ok_head + Contents("a%G1")),
       "<Key> in <Contents>: malformed %-escape at offset 1"},
      {"short escape in key",
       ListBody("<EncodingType>url</EncodingType>" + ok_head + Contents("ab%4")),
       "<Key> in <Contents>: malformed %-escape at offset 2"},
      {"bad escape in prefix",
       ListBody("<EncodingType>url</EncodingType>" + ok_head +
                "<CommonPrefixes><Prefix>%%/</Prefix></CommonPrefixes>"),
       "<Prefix> in <CommonPrefixes>: malformed %-escape"},
      {"empty common prefix",
       ListBody(ok_head + "<CommonPrefixes><Prefix></Prefix></CommonPrefixes>"),
       "empty <Prefix> in <CommonPrefixes>"},
      {"common prefix without prefix", ListBody(ok_head + "<CommonPrefixes/>"),
       "missing <Prefix> in <CommonPrefixes>"},
      {"unknown encoding", ListBody("<EncodingType>base64</EncodingType>" + ok_head),
       "unsupported <EncodingType> \"base64\""},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectCorrupt(ParseListObjectsV2(c.body), c.needle);
  }
}

TEST(ListObjectsV2Test, EveryTruncationOfARealBodyIsCorrupt) {
  const std::string body = ReadData("list_objects_v2_url_encoded.xml");
  const size_t end = body.rfind('>') + 1;  // the document is complete only from here on
  ASSERT_TRUE(ParseListObjectsV2(body.substr(0, end)).ok());
  for (size_t n = 0; n < end; ++n) {
    Result<ListObjectsPage> r = ParseListObjectsV2(std::string_view(body).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    ASSERT_EQ(r.status().code(), ErrorCode::kCorrupt) << n;
  }
}

TEST(ListObjectsV2Test, EveryByteFlipIsHandledWithoutCrashing) {
  // Each single-byte corruption either still parses or is kCorrupt; nothing else, no crash.
  const std::string body = ReadData("list_objects_v2_delimiter_truncated.xml");
  for (size_t i = 0; i < body.size(); ++i) {
    for (char replacement : {'<', '>', '&', '\0', '/', 'x', '"', '%'}) {
      std::string mutated = body;
      mutated[i] = replacement;
      Result<ListObjectsPage> r = ParseListObjectsV2(mutated);
      if (!r.ok()) {
        ASSERT_EQ(r.status().code(), ErrorCode::kCorrupt) << i << ": " << r.status().ToString();
      }
    }
  }
}

TEST(ListObjectsV2Test, OversizedBodyIsRefusedBeforeParsing) {
  std::string body = ListBody("<IsTruncated>false</IsTruncated>");
  body.append(kMaxXmlBodyBytes, ' ');
  ExpectCorrupt(ParseListObjectsV2(body), "exceeds the 16777216-byte limit");
}

TEST(ListObjectsV2Test, TooManyTagsAreRefusedBeforeParsing) {
  std::string inner = "<IsTruncated>false</IsTruncated>";
  for (size_t i = 0; i < kMaxXmlMarkup; ++i) inner += "<a/>";
  std::string body = ListBody(inner);
  ASSERT_LT(body.size(), kMaxXmlBodyBytes);
  ExpectCorrupt(ParseListObjectsV2(body), "ListBucketResult: too many elements");
}

TEST(ListObjectsV2Test, DeepNestingIsCorruptNotAStackOverflow) {
  std::string body = "<ListBucketResult>";
  for (int i = 0; i < 100000; ++i) body += "<a>";  // below kMaxXmlMarkup, far beyond depth 100
  ExpectCorrupt(ParseListObjectsV2(body), "not XML: XML_ELEMENT_DEPTH_EXCEEDED");
}

TEST(ListObjectsV2Test, ManyEntriesWithinTheLimitParse) {
  std::string inner = "<IsTruncated>false</IsTruncated>";
  constexpr int kEntries = 19000;  // 10 tags each: 190,000 of kMaxXmlMarkup
  for (int i = 0; i < kEntries; ++i) inner += Contents("k" + std::to_string(i), std::to_string(i));
  std::string body = ListBody(inner);
  ASSERT_LT(body.size(), kMaxXmlBodyBytes);
  Result<ListObjectsPage> page = ParseListObjectsV2(body);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), static_cast<size_t>(kEntries));
  EXPECT_EQ(page->objects.back().key, "k18999");
  EXPECT_EQ(page->objects.back().size, 18999u);
}

TEST(ListObjectsV2Test, ByteOrderMarkIsAccepted) {
  Result<ListObjectsPage> page =
      ParseListObjectsV2("\xEF\xBB\xBF" + ReadData("list_objects_v2.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.size(), 2u);
}

TEST(ListObjectsV2Test, EntityDeclarationsAreNotExpanded) {
  // "Billion laughs": tinyxml2 does not process DTD entities, so nothing grows.
  std::string body =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>" +
      ListBody("<IsTruncated>false</IsTruncated>" + Contents("&lol3;"))
          .substr(std::string_view("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").size());
  Result<ListObjectsPage> page = ParseListObjectsV2(body);
  if (page.ok()) {
    ASSERT_EQ(page->objects.size(), 1u);
    EXPECT_LE(page->objects[0].key.size(), 16u) << page->objects[0].key;
  } else {
    EXPECT_EQ(page.status().code(), ErrorCode::kCorrupt);
  }
}

TEST(ListObjectsV2Test, ErrorDocumentIsTheServerError) {
  Result<ListObjectsPage> page = ParseListObjectsV2(ReadData("error_no_such_key.xml"));
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(page.status().s3_code(), "NoSuchKey");
  EXPECT_EQ(page.status().request_id(), "4442587FB7D0A2F9");
}

// ---------------------------------------------------------------- ListMultipartUploads

TEST(ListMultipartUploadsTest, ParsesAwsExample) {
  Result<ListMultipartUploadsPage> page =
      ParseListMultipartUploads(ReadData("list_multipart_uploads.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_key_marker, "my-movie.m2ts");
  EXPECT_EQ(page->next_upload_id_marker, "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
  ASSERT_EQ(page->uploads.size(), 3u);
  EXPECT_EQ(page->uploads[0].key, "my-divisor");
  EXPECT_EQ(page->uploads[0].upload_id, "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
  EXPECT_EQ(page->uploads[0].initiated_ns, 1289422113 * kNs);
  EXPECT_EQ(page->uploads[2].key, "my-movie.m2ts");
  EXPECT_EQ(page->uploads[2].initiated_ns, 1289422173 * kNs);
}

TEST(ListMultipartUploadsTest, UrlDecodesKeysAndKeyMarkerButNotUploadIds) {
  Result<ListMultipartUploadsPage> page =
      ParseListMultipartUploads(ReadData("list_multipart_uploads_url_encoded.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->next_key_marker, "videos/big file+1.bin");
  EXPECT_EQ(page->next_upload_id_marker, "2~Zm9vYmFy+%2B");
  ASSERT_EQ(page->uploads.size(), 1u);
  EXPECT_EQ(page->uploads[0].key, "videos/big file+1.bin");
  EXPECT_EQ(page->uploads[0].upload_id, "2~Zm9vYmFy+%2B");
  EXPECT_EQ(page->uploads[0].initiated_ns, 1795887377 * kNs + 250'000'000);
  // Asking for encoding changes nothing when the response says <EncodingType>url</EncodingType>.
  Result<ListMultipartUploadsPage> requested =
      ParseListMultipartUploads(ReadData("list_multipart_uploads_url_encoded.xml"), true);
  ASSERT_TRUE(requested.ok()) << requested.status().ToString();
  EXPECT_EQ(requested->next_key_marker, "videos/big file+1.bin");
  EXPECT_EQ(requested->uploads.at(0).key, "videos/big file+1.bin");
}

TEST(ListMultipartUploadsTest, EmptyListing) {
  Result<ListMultipartUploadsPage> page = ParseListMultipartUploads(
      "<ListMultipartUploadsResult><Bucket>b</Bucket><NextKeyMarker/><NextUploadIdMarker/>"
      "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->uploads.empty());
  EXPECT_FALSE(page->is_truncated);
}

TEST(ListMultipartUploadsTest, IgnoresCommonPrefixesItDoesNotCarry) {
  Result<ListMultipartUploadsPage> page = ParseListMultipartUploads(
      "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
      "<CommonPrefixes><CommonPrefixes.Prefix>a/</CommonPrefixes.Prefix></CommonPrefixes>"
      "</ListMultipartUploadsResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->uploads.empty());
}

TEST(ListMultipartUploadsTest, MalformedBodies) {
  auto body = [](const std::string& inner) {
    return "<ListMultipartUploadsResult>" + inner + "</ListMultipartUploadsResult>";
  };
  const std::string ok = "<IsTruncated>false</IsTruncated>";
  std::vector<MalformedCase> cases = {
      {"wrong root", "<ListBucketResult/>", "unexpected root element <ListBucketResult>"},
      {"missing upload id",
       body(ok + "<Upload><Key>k</Key><Initiated>2026-11-28T17:36:17Z</Initiated></Upload>"),
       "missing <UploadId> in <Upload>"},
      {"missing key",
       body(ok + "<Upload><UploadId>u</UploadId><Initiated>2026-11-28T17:36:17Z</Initiated>"
                 "</Upload>"),
       "missing <Key> in <Upload>"},
      {"bad initiated",
       body(ok + "<Upload><Key>k</Key><UploadId>u</UploadId><Initiated>2026-13-01T00:00:00Z"
                 "</Initiated></Upload>"),
       "<Initiated> in <Upload>: bad timestamp"},
      {"truncated without marker", body("<IsTruncated>true</IsTruncated>"),
       "<IsTruncated> is true without a <NextKeyMarker>"},
      {"duplicate upload id",
       body(ok + "<Upload><Key>k</Key><UploadId>u</UploadId><UploadId>v</UploadId>"
                 "<Initiated>2026-11-28T17:36:17Z</Initiated></Upload>"),
       "duplicate <UploadId> in <Upload>"},
      {"bad escape in key marker",
       body("<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
            "<NextKeyMarker>a%</NextKeyMarker>"),
       "<NextKeyMarker> in <ListMultipartUploadsResult>: malformed %-escape"},
      {"truncated", body(ok).substr(0, 40), "not XML"},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectCorrupt(ParseListMultipartUploads(c.body), c.needle);
  }
}

// ---------------------------------------------------------------- multipart and copy

TEST(InitiateMultipartUploadTest, ParsesAwsExample) {
  Result<std::string> id = ParseInitiateMultipartUpload(ReadData("initiate_multipart_upload.xml"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
}

TEST(InitiateMultipartUploadTest, Malformed) {
  ExpectCorrupt(ParseInitiateMultipartUpload(
                    "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>"),
                "InitiateMultipartUploadResult: missing <UploadId> in "
                "<InitiateMultipartUploadResult>");
  ExpectCorrupt(ParseInitiateMultipartUpload("<InitiateMultipartUploadResult><UploadId/>"
                                             "</InitiateMultipartUploadResult>"),
                "empty <UploadId>");
  ExpectCorrupt(ParseInitiateMultipartUpload("<InitiateMultipartUploadResult><UploadId>a"
                                             "</UploadId><UploadId>b</UploadId>"
                                             "</InitiateMultipartUploadResult>"),
                "duplicate <UploadId>");
  ExpectCorrupt(ParseInitiateMultipartUpload(ReadData("copy_object_result.xml")),
                "unexpected root element <CopyObjectResult>");
}

TEST(CompleteMultipartUploadTest, ParsesAwsExample) {
  Result<std::string> etag =
      ParseCompleteMultipartUpload(ReadData("complete_multipart_upload.xml"));
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
}

TEST(CompleteMultipartUploadTest, ErrorInsideA200IsTheServerError) {
  Result<std::string> etag =
      ParseCompleteMultipartUpload(ReadData("complete_multipart_upload_error_200.xml"));
  ASSERT_FALSE(etag.ok());
  EXPECT_EQ(etag.status().code(), ErrorCode::kServerError);
  EXPECT_EQ(etag.status().http_status(), 200);
  EXPECT_EQ(etag.status().s3_code(), "InternalError");
  EXPECT_EQ(etag.status().message(), "We encountered an internal error. Please try again.");
  EXPECT_EQ(etag.status().request_id(), "656c76696e6727732072657175657374");
}

TEST(CompleteMultipartUploadTest, ErrorCodesInsideA200AreClassifiedByCode) {
  auto complete = [](const std::string& code) {
    return ParseCompleteMultipartUpload("<Error><Code>" + code + "</Code></Error>").status();
  };
  EXPECT_EQ(complete("InvalidPart").code(), ErrorCode::kBadRequest);
  EXPECT_EQ(complete("NoSuchUpload").code(), ErrorCode::kNotFound);
  EXPECT_EQ(complete("SlowDown").code(), ErrorCode::kThrottled);
  EXPECT_EQ(complete("SomethingNew").code(), ErrorCode::kServerError);
  EXPECT_EQ(complete("InvalidPart").message(), "InvalidPart");  // no <Message>: the code
}

TEST(CompleteMultipartUploadTest, Malformed) {
  ExpectCorrupt(ParseCompleteMultipartUpload("<CompleteMultipartUploadResult><Key>k</Key>"
                                             "</CompleteMultipartUploadResult>"),
                "missing <ETag> in <CompleteMultipartUploadResult>");
  ExpectCorrupt(ParseCompleteMultipartUpload("<CompleteMultipartUploadResult><ETag>\"ab"),
                "not XML");
  ExpectCorrupt(ParseCompleteMultipartUpload(""), "CompleteMultipartUploadResult: not XML: empty");
  ExpectCorrupt(ParseCompleteMultipartUpload("<CopyObjectResult><ETag>e</ETag></CopyObjectResult>"),
                "unexpected root element <CopyObjectResult>");
}

TEST(CopyResultTest, ParsesObjectAndPartResults) {
  Result<std::string> object = ParseCopyResult(ReadData("copy_object_result.xml"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(*object, "\"9b2cf535f27731c974343645a3985328\"");
  Result<std::string> part = ParseCopyResult(ReadData("copy_part_result.xml"));
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(*part, "\"9b2cf535f27731c974343645a3985328\"");
}

TEST(CopyResultTest, ErrorInsideA200AndMalformed) {
  Result<std::string> r = ParseCopyResult(
      "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce your request rate."
      "</Message><RequestId>r1</RequestId></Error>");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kThrottled);
  EXPECT_EQ(r.status().s3_code(), "SlowDown");
  EXPECT_EQ(r.status().request_id(), "r1");
  ExpectCorrupt(ParseCopyResult("<CopyObjectResult><LastModified>2026-11-28T17:36:17Z"
                                "</LastModified></CopyObjectResult>"),
                "missing <ETag> in <CopyObjectResult>");
  ExpectCorrupt(ParseCopyResult("<CopyPartResult><ETag><x/></ETag></CopyPartResult>"),
                "unexpected <x> inside <ETag> in <CopyPartResult>");
  ExpectCorrupt(ParseCopyResult("<CopyObjectResult>"), "not XML");
}

// ---------------------------------------------------------------- DeleteObjects

TEST(DeleteResultTest, ParsesErrorsAndIgnoresDeleted) {
  Result<std::vector<DeleteError>> errors = ParseDeleteResult(ReadData("delete_result.xml"));
  ASSERT_TRUE(errors.ok()) << errors.status().ToString();
  ASSERT_EQ(errors->size(), 2u);
  EXPECT_EQ((*errors)[0].key, "sample2.txt");
  EXPECT_EQ((*errors)[0].status.code(), ErrorCode::kAccessDenied);
  EXPECT_EQ((*errors)[0].status.s3_code(), "AccessDenied");
  EXPECT_EQ((*errors)[0].status.message(), "Access Denied");
  EXPECT_EQ((*errors)[1].key, "a & b <c>.txt");
  EXPECT_EQ((*errors)[1].status.code(), ErrorCode::kServerError);
}

TEST(DeleteResultTest, QuietSuccessIsEmpty) {
  Result<std::vector<DeleteError>> errors = ParseDeleteResult(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></DeleteResult>");
  ASSERT_TRUE(errors.ok()) << errors.status().ToString();
  EXPECT_TRUE(errors->empty());
}

TEST(DeleteResultTest, Malformed) {
  ExpectCorrupt(ParseDeleteResult("<DeleteResult><Error><Code>AccessDenied</Code></Error>"
                                  "</DeleteResult>"),
                "DeleteResult: missing <Key> in <Error>");
  ExpectCorrupt(ParseDeleteResult("<DeleteResult><Error><Key>k</Key></Error></DeleteResult>"),
                "missing <Code> in <Error>");
  ExpectCorrupt(ParseDeleteResult("<DeleteResult><Error><Key>k</Key><Key>j</Key><Code>X</Code>"
                                  "</Error></DeleteResult>"),
                "duplicate <Key> in <Error>");
  ExpectCorrupt(ParseDeleteResult("<Delete><Object><Key>k</Key></Object></Delete>"),
                "unexpected root element <Delete>");
  ExpectCorrupt(ParseDeleteResult("<DeleteResult><Error><Key>k</Key>"), "not XML");
  // A whole-request failure sent as an <Error> document is the server's error, not a per-key one.
  Result<std::vector<DeleteError>> r =
      ParseDeleteResult("<Error><Code>MalformedXML</Code><Message>bad</Message></Error>");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kBadRequest);
}

// ---------------------------------------------------------------- errors

TEST(ErrorBodyTest, ParsesAwsAndRadosgwBodies) {
  std::optional<S3ErrorBody> aws = ParseErrorBody(ReadData("error_no_such_key.xml"));
  ASSERT_TRUE(aws.has_value());
  EXPECT_EQ(aws->code, "NoSuchKey");
  EXPECT_EQ(aws->message, "The resource you requested does not exist");
  EXPECT_EQ(aws->request_id, "4442587FB7D0A2F9");
  EXPECT_EQ(aws->host_id, "");
  std::optional<S3ErrorBody> rgw = ParseErrorBody(ReadData("error_signature_rgw.xml"));
  ASSERT_TRUE(rgw.has_value());
  EXPECT_EQ(rgw->code, "SignatureDoesNotMatch");
  EXPECT_EQ(rgw->message, "");
  EXPECT_EQ(rgw->request_id, "tx00000a1b2c3d4e5f60718-0065a1b2c3-1014-default");
  EXPECT_EQ(rgw->host_id, "1014-default-default");
}

TEST(ErrorBodyTest, NotAnErrorDocument) {
  EXPECT_FALSE(ParseErrorBody("").has_value());
  EXPECT_FALSE(ParseErrorBody("<html><body>Bad Gateway</body></html>").has_value());
  EXPECT_FALSE(ParseErrorBody("<Error><Code>NoSuchKey</Code>").has_value());
  EXPECT_FALSE(ParseErrorBody(ReadData("list_objects_v2.xml")).has_value());
  EXPECT_FALSE(ParseErrorBody("Internal Server Error").has_value());
  std::optional<S3ErrorBody> no_code = ParseErrorBody("<Error><Message>m</Message></Error>");
  ASSERT_TRUE(no_code.has_value());
  EXPECT_EQ(no_code->code, "");
  EXPECT_EQ(no_code->message, "m");
}

TEST(ClassifyServerErrorTest, FollowsTheDocumentedTable) {
  EXPECT_EQ(ClassifyServerError(403, "SignatureDoesNotMatch"), ErrorCode::kAuthFailed);
  EXPECT_EQ(ClassifyServerError(403, "InvalidAccessKeyId"), ErrorCode::kAuthFailed);
  EXPECT_EQ(ClassifyServerError(403, "RequestTimeTooSkewed"), ErrorCode::kAuthFailed);
  EXPECT_EQ(ClassifyServerError(400, "ExpiredToken"), ErrorCode::kAuthFailed);
  EXPECT_EQ(ClassifyServerError(400, "AuthorizationHeaderMalformed"), ErrorCode::kAuthFailed);
  EXPECT_EQ(ClassifyServerError(401, ""), ErrorCode::kAuthFailed);
  EXPECT_EQ(ClassifyServerError(403, "AccessDenied"), ErrorCode::kAccessDenied);
  EXPECT_EQ(ClassifyServerError(403, ""), ErrorCode::kAccessDenied);
  EXPECT_EQ(ClassifyServerError(403, "QuotaExceeded"), ErrorCode::kAccessDenied);
  EXPECT_EQ(ClassifyServerError(404, "NoSuchKey"), ErrorCode::kNotFound);
  EXPECT_EQ(ClassifyServerError(404, "NoSuchBucket"), ErrorCode::kNotFound);
  EXPECT_EQ(ClassifyServerError(404, ""), ErrorCode::kNotFound);
  EXPECT_EQ(ClassifyServerError(412, "PreconditionFailed"), ErrorCode::kPreconditionFailed);
  EXPECT_EQ(ClassifyServerError(503, "SlowDown"), ErrorCode::kThrottled);
  EXPECT_EQ(ClassifyServerError(429, ""), ErrorCode::kThrottled);
  EXPECT_EQ(ClassifyServerError(503, "ServiceUnavailable"), ErrorCode::kServerError);
  EXPECT_EQ(ClassifyServerError(500, "InternalError"), ErrorCode::kServerError);
  EXPECT_EQ(ClassifyServerError(502, ""), ErrorCode::kServerError);
  EXPECT_EQ(ClassifyServerError(400, "InvalidArgument"), ErrorCode::kBadRequest);
  EXPECT_EQ(ClassifyServerError(400, "SignatureDoesNotMatchX"), ErrorCode::kBadRequest);
  EXPECT_EQ(ClassifyServerError(409, "BucketNotEmpty"), ErrorCode::kBadRequest);
  EXPECT_EQ(ClassifyServerError(416, "InvalidRange"), ErrorCode::kBadRequest);
  EXPECT_EQ(ClassifyServerError(200, "InternalError"), ErrorCode::kServerError);
  EXPECT_EQ(ClassifyServerError(200, "AccessDenied"), ErrorCode::kAccessDenied);
  EXPECT_EQ(ClassifyServerError(200, "PreconditionFailed"), ErrorCode::kPreconditionFailed);
  EXPECT_EQ(ClassifyServerError(200, "SignatureDoesNotMatch"), ErrorCode::kAuthFailed);
}

TEST(StatusFromErrorResponseTest, UsesTheBodyWhenThereIsOne) {
  Status s = StatusFromErrorResponse(404, ReadData("error_no_such_key.xml"));
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.http_status(), 404);
  EXPECT_EQ(s.s3_code(), "NoSuchKey");
  EXPECT_EQ(s.request_id(), "4442587FB7D0A2F9");
  EXPECT_EQ(s.ToString(),
            "not_found: The resource you requested does not exist (HTTP 404 NoSuchKey, request id "
            "4442587FB7D0A2F9)");
  Status sig = StatusFromErrorResponse(403, ReadData("error_signature_rgw.xml"));
  EXPECT_EQ(sig.code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(sig.message(), "SignatureDoesNotMatch");
}

TEST(StatusFromErrorResponseTest, FallsBackToTheHttpStatus) {
  Status head = StatusFromErrorResponse(403, "");
  EXPECT_EQ(head.code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(head.http_status(), 403);
  EXPECT_EQ(head.s3_code(), "");
  EXPECT_EQ(head.message(), "HTTP 403 without an S3 error body");
  EXPECT_EQ(StatusFromErrorResponse(502, "<html>Bad Gateway</html>").code(),
            ErrorCode::kServerError);
  EXPECT_EQ(StatusFromErrorResponse(404, "").code(), ErrorCode::kNotFound);
}

// ---------------------------------------------------------------- builders

TEST(BuildDeleteObjectsXmlTest, ExactBodyForPlainKeys) {
  EXPECT_EQ(BuildDeleteObjectsXml({"a.txt", "dir/b c.txt"}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            "<Object><Key>a.txt</Key></Object><Object><Key>dir/b c.txt</Key></Object></Delete>");
}

TEST(BuildDeleteObjectsXmlTest, EscapesMarkupAndLineEnds) {
  std::string xml = BuildDeleteObjectsXml({"a&b<c>]]>\"'", "cr\rlf\ntab\t"});
  EXPECT_NE(xml.find("<Key>a&amp;b&lt;c&gt;]]&gt;\"'</Key>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<Key>cr&#13;lf&#10;tab&#9;</Key>"), std::string::npos) << xml;
}

TEST(BuildDeleteObjectsXmlTest, RoundTripsThroughAnXmlParser) {
  const std::vector<std::string> keys = {"plain",    "a & b",      "<tag>", "caf\xC3\xA9",
                                         "cr\r\nlf", "  spaces  ", "x]]>y", "%2B+"};
  std::string xml = BuildDeleteObjectsXml(keys);
  tinyxml2::XMLDocument doc;
  ASSERT_EQ(doc.Parse(xml.data(), xml.size()), tinyxml2::XML_SUCCESS) << xml;
  const tinyxml2::XMLElement* root = doc.RootElement();
  ASSERT_NE(root, nullptr);
  EXPECT_STREQ(root->Name(), "Delete");
  EXPECT_STREQ(root->FirstChildElement("Quiet")->GetText(), "true");
  std::vector<std::string> parsed;
  for (auto* o = root->FirstChildElement("Object"); o; o = o->NextSiblingElement("Object")) {
    parsed.push_back(o->FirstChildElement("Key")->GetText());
  }
  EXPECT_EQ(parsed, keys);
}

TEST(BuildDeleteObjectsXmlTest, ControlCharactersAreWrittenSoTheServerRefusesTheBody) {
  // XML 1.0 cannot carry U+0001; the reference makes a conforming server answer MalformedXML
  // instead of deleting some other key.
  std::string xml =
      BuildDeleteObjectsXml({std::string("a\x01"
                                         "b")});
  EXPECT_NE(xml.find("<Key>a&#1;b</Key>"), std::string::npos) << xml;
  EXPECT_FALSE(
      FitsXmlRequest(std::string("a\x01"
                                 "b")));
}

TEST(FitsXmlRequestTest, AcceptsWhatXml10CanCarry) {
  EXPECT_TRUE(FitsXmlRequest("photos/2026/a b+c.jpg"));
  EXPECT_TRUE(FitsXmlRequest("tab\tnewline\ncr\r"));
  EXPECT_TRUE(FitsXmlRequest("del\x7f"));
  EXPECT_TRUE(FitsXmlRequest("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_TRUE(FitsXmlRequest("\xC2\x85"));          // U+0085 (C1 control) is allowed in 1.0
  EXPECT_TRUE(FitsXmlRequest("\xEF\xBF\xBD"));      // U+FFFD
  EXPECT_TRUE(FitsXmlRequest("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(FitsXmlRequest(""));
}

TEST(FitsXmlRequestTest, RefusesControlsAndInvalidUtf8) {
  EXPECT_FALSE(FitsXmlRequest(std::string("nul\0", 4)));
  EXPECT_FALSE(FitsXmlRequest("bell\x07"));
  EXPECT_FALSE(FitsXmlRequest("vt\x0b"));
  EXPECT_FALSE(FitsXmlRequest("esc\x1b[0m"));
  EXPECT_FALSE(FitsXmlRequest("\xC3"));              // truncated sequence
  EXPECT_FALSE(FitsXmlRequest("\xC3("));             // bad continuation
  EXPECT_FALSE(FitsXmlRequest("\x80"));              // lone continuation byte
  EXPECT_FALSE(FitsXmlRequest("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(FitsXmlRequest("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(FitsXmlRequest("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(FitsXmlRequest("\xEF\xBF\xBE"));      // U+FFFE
  EXPECT_FALSE(FitsXmlRequest("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_FALSE(FitsXmlRequest("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(FitsXmlRequest("\xFF"));
}

TEST(BuildCompleteMultipartXmlTest, ExactBody) {
  EXPECT_EQ(BuildCompleteMultipartXml({{1, "\"a54357aff0632cce46d942af68356b38\""},
                                       {2, "\"0c78aef83f66abc1fa1e8477f296d394\""},
                                       {10000, "\"acbd18db4cc2f85cedef654fccc4a4d8\""}}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag>"
            "</Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag>"
            "</Part>"
            "<Part><PartNumber>10000</PartNumber><ETag>\"acbd18db4cc2f85cedef654fccc4a4d8\"</ETag>"
            "</Part></CompleteMultipartUpload>");
  EXPECT_NE(BuildCompleteMultipartXml({{1, "a<&>"}}).find("<ETag>a&lt;&amp;&gt;</ETag>"),
            std::string::npos);
}

// ---------------------------------------------------------------- dates and URL decoding

TEST(ParseIso8601Test, ValidTimestamps) {
  EXPECT_EQ(*ParseIso8601("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseIso8601("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(*ParseIso8601("2026-11-28T17:36:17.000Z"), 1795887377 * kNs);
  EXPECT_EQ(*ParseIso8601("2026-11-28T17:36:17.5Z"), 1795887377 * kNs + 500'000'000);
  EXPECT_EQ(*ParseIso8601("2026-11-28T17:36:17.123456789Z"), 1795887377 * kNs + 123456789);
  EXPECT_EQ(*ParseIso8601("2026-11-28T19:36:17+02:00"), 1795887377 * kNs);
  EXPECT_EQ(*ParseIso8601("2026-11-28T12:06:17-05:30"), 1795887377 * kNs);
  EXPECT_EQ(*ParseIso8601("1969-12-31T23:59:59Z"), -kNs);
  EXPECT_EQ(*ParseIso8601("2024-02-29T12:00:00Z"), 1709208000 * kNs);
  EXPECT_TRUE(ParseIso8601("2000-02-29T00:00:00Z").ok());
  EXPECT_EQ(*ParseIso8601("1678-01-01T00:00:00Z"), -9214560000 * kNs);
  EXPECT_EQ(*ParseIso8601("2261-12-31T23:59:59.999999999Z"), 9214646399 * kNs + 999999999);
}

TEST(ParseIso8601Test, MalformedTimestamps) {
  for (const char* bad : {"",
                          "2026-11-28",
                          "2026-11-28T17:36:17",
                          "2026-11-28 17:36:17Z",
                          "2026-11-28T17:36Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-01T00:00:00Z",
                          "2026-11-31T00:00:00Z",
                          "2023-02-29T00:00:00Z",
                          "1900-02-29T00:00:00Z",
                          "2026-11-28T24:00:00Z",
                          "2026-11-28T23:60:00Z",
                          "2026-11-28T17:36:17.Z",
                          "2026-11-28T17:36:17.1234567890Z",
                          "2026-11-28T17:36:17ZZ",
                          "2026-11-28T17:36:17+0200",
                          "2026-11-28T17:36:17+24:00",
                          "1600-01-01T00:00:00Z",
                          "9999-12-31T23:59:59Z",
                          "+2026-11-28T17:36:17Z",
                          "2026-1-28T17:36:17Z",
                          "2026-11-28t17:36:17z",
                          "２026-11-28T17:36:17Z"}) {
    SCOPED_TRACE(bad);
    ExpectCorrupt(ParseIso8601(bad), "bad timestamp");
  }
}

TEST(ParseHttpDateTest, ImfFixdate) {
  EXPECT_EQ(*ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777 * kNs);
  EXPECT_EQ(*ParseHttpDate("Sat, 28 Nov 2026 17:36:17 GMT"), *ParseIso8601("2026-11-28T17:36:17Z"));
  EXPECT_EQ(*ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(*ParseHttpDate("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000 * kNs);
}

TEST(ParseHttpDateTest, MalformedDates) {
  for (const char* bad : {"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 +0000",
                          "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
                          "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
                          "Sun,06 Nov 1994 08:49:37 GMT ", "1795887377"}) {
    SCOPED_TRACE(bad);
    ExpectCorrupt(ParseHttpDate(bad), "bad HTTP date");
  }
}

TEST(UrlDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(*UrlDecode(""), "");
  EXPECT_EQ(*UrlDecode("plain/key.txt"), "plain/key.txt");
  EXPECT_EQ(*UrlDecode("a%20b"), "a b");
  EXPECT_EQ(*UrlDecode("a+b"), "a b");
  EXPECT_EQ(*UrlDecode("a%2Bb%2bc"), "a+b+c");
  EXPECT_EQ(*UrlDecode("100%25"), "100%");
  EXPECT_EQ(*UrlDecode("caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(*UrlDecode("%00"), std::string("\0", 1));
  EXPECT_EQ(*UrlDecode("%0A%0d%7F%ff"), "\n\r\x7f\xff");
  EXPECT_EQ(*UrlDecode("%2525"), "%25");  // decoded once only
}

TEST(UrlDecodeTest, MalformedEscapes) {
  for (const char* bad : {"%", "%4", "abc%", "%G0", "%0G", "%%", "a%-1", "% 1"}) {
    SCOPED_TRACE(bad);
    ExpectCorrupt(UrlDecode(bad), "malformed %-escape");
  }
}

// ---------------------------------------------------------------- recorded radosgw bodies
// tests/data/xml/rgw/ (see its README.md): real radosgw 16.2 responses.

std::string Rgw(const std::string& name) { return ReadData("rgw/" + name); }

std::vector<std::string> Keys(const ListObjectsPage& page) {
  std::vector<std::string> keys;
  for (const ObjectInfo& o : page.objects) keys.push_back(o.key);
  return keys;
}

const std::vector<std::string> kRgwAllKeys = {
    "100%/y.txt",    "dir/a.txt",
    "dir/sub/b.txt", "new\nline.txt",
    "other/c.txt",   "percent%41.txt",
    "plain.txt",     "plus+sign.txt",
    "sp ace+/x.txt", "unicode-\xC3\xA9-\xE6\xBC\xA2\xE5\xAD\x97.txt",
    "with space.txt"};

TEST(RadosgwRecordingsTest, UrlEncodedListingDecodesEveryKey) {
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-url-encoded.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_FALSE(page->is_truncated);
  EXPECT_EQ(Keys(*page), kRgwAllKeys);
  for (const ObjectInfo& o : page->objects) {
    EXPECT_EQ(o.size, 23u) << o.key;
    EXPECT_EQ(o.etag, "\"a9944b1e3f83535417885ef429c6603a\"") << o.key;
  }
  EXPECT_EQ(page->objects[0].last_modified_ns, *ParseIso8601("2026-11-28T17:53:05.419Z"));
  EXPECT_EQ(page->objects[0].last_modified_ns % kNs, 419'000'000);
}

TEST(RadosgwRecordingsTest, PlainListingGivesTheSameKeys) {
  // Without encoding-type the keys arrive raw, the newline literally inside <Key>.
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-plain.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(*page), kRgwAllKeys);
}

TEST(RadosgwRecordingsTest, DelimiterListing) {
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-delimiter.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->common_prefixes,
            (std::vector<std::string>{"100%/", "dir/", "other/", "sp ace+/"}));
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{
                             "new\nline.txt", "percent%41.txt", "plain.txt", "plus+sign.txt",
                             "unicode-\xC3\xA9-\xE6\xBC\xA2\xE5\xAD\x97.txt", "with space.txt"}));
}

TEST(RadosgwRecordingsTest, DelimiterWithPrefix) {
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-delimiter-prefix.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"dir/sub/"});
  EXPECT_EQ(Keys(*page), std::vector<std::string>{"dir/a.txt"});
}

TEST(RadosgwRecordingsTest, PrefixWithSpaceAndPlus) {
  // The echoed <Prefix>sp ace+/</Prefix> is raw; only the key is encoded.
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-prefix-special.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(*page), std::vector<std::string>{"sp ace+/x.txt"});
  EXPECT_TRUE(page->common_prefixes.empty());
}

TEST(RadosgwRecordingsTest, StartAfterAndRawContinuationToken) {
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-start-after.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(*page), std::vector<std::string>{"100%/y.txt"});
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "100%/y.txt");  // raw: not decoded
}

TEST(RadosgwRecordingsTest, ContinuationTokenWithANewline) {
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-token-with-newline.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(*page), std::vector<std::string>{"new\nline.txt"});
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "new\nline.txt");
}

TEST(RadosgwRecordingsTest, TruncatedPages) {
  Result<ListObjectsPage> page1 = ParseListObjectsV2(Rgw("list-v2-truncated-page1.xml"));
  ASSERT_TRUE(page1.ok()) << page1.status().ToString();
  EXPECT_EQ(Keys(*page1), (std::vector<std::string>{"100%/y.txt", "dir/a.txt"}));
  EXPECT_TRUE(page1->is_truncated);
  EXPECT_EQ(page1->next_continuation_token, "dir/a.txt");
  Result<ListObjectsPage> page2 = ParseListObjectsV2(Rgw("list-v2-truncated-page2.xml"));
  ASSERT_TRUE(page2.ok()) << page2.status().ToString();
  EXPECT_EQ(Keys(*page2), (std::vector<std::string>{"dir/sub/b.txt", "new\nline.txt"}));
  EXPECT_TRUE(page2->is_truncated);
  EXPECT_EQ(page2->next_continuation_token, "new\nline.txt");
}

TEST(RadosgwRecordingsTest, EmptyListing) {
  Result<ListObjectsPage> page = ParseListObjectsV2(Rgw("list-v2-empty.xml"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->objects.empty());
  EXPECT_TRUE(page->common_prefixes.empty());
  EXPECT_FALSE(page->is_truncated);
}

TEST(RadosgwRecordingsTest, EveryTruncationOfARecordedListingIsCorrupt) {
  const std::string body = Rgw("list-v2-url-encoded.xml");
  for (size_t n = 0; n < body.size(); ++n) {
    Result<ListObjectsPage> r = ParseListObjectsV2(std::string_view(body).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    ASSERT_EQ(r.status().code(), ErrorCode::kCorrupt) << n;
  }
}

TEST(RadosgwRecordingsTest, MultipartListingEncodesKeysWithoutSayingSo) {
  // radosgw answers encoding-type=url with encoded Upload/Key, a raw NextKeyMarker and no
  // <EncodingType> element.
  const std::string body = Rgw("list-multipart-uploads.xml");
  Result<ListMultipartUploadsPage> page = ParseListMultipartUploads(body, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_FALSE(page->is_truncated);
  ASSERT_EQ(page->uploads.size(), 2u);
  EXPECT_EQ(page->uploads[0].key, "big file.bin");
  EXPECT_EQ(page->uploads[0].upload_id, "2~FmR3L1ZUt2-b61G1IeRhvyjazapWZb3");
  EXPECT_EQ(page->uploads[0].initiated_ns, *ParseIso8601("2026-11-28T17:53:09.811Z"));
  EXPECT_EQ(page->uploads[1].key, "second+upload \xC3\xA9.bin");
  EXPECT_EQ(page->uploads[1].upload_id, "2~UeHg5FrcPwxfLesQ0THesqtN07wszlo");
  EXPECT_EQ(page->next_key_marker, "second+upload \xC3\xA9.bin");  // raw, so not decoded
  EXPECT_EQ(page->next_upload_id_marker, "2~UeHg5FrcPwxfLesQ0THesqtN07wszlo");

  // The one-argument form trusts the (absent) <EncodingType> and leaves the keys encoded.
  Result<ListMultipartUploadsPage> literal = ParseListMultipartUploads(body);
  ASSERT_TRUE(literal.ok()) << literal.status().ToString();
  EXPECT_EQ(literal->uploads.at(0).key, "big%20file.bin");
}

TEST(RadosgwRecordingsTest, InitiateMultipartUpload) {
  Result<std::string> id = ParseInitiateMultipartUpload(Rgw("initiate-multipart-upload.xml"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "2~FmR3L1ZUt2-b61G1IeRhvyjazapWZb3");
}

TEST(RadosgwRecordingsTest, CompleteMultipartUploadWithEmptyEtag) {
  Result<std::string> etag = ParseCompleteMultipartUpload(Rgw("complete-multipart-upload.xml"));
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, "");
}

TEST(RadosgwRecordingsTest, CopyResultsGetTheirQuotes) {
  Result<std::string> object = ParseCopyResult(Rgw("copy-object.xml"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(*object, "\"a9944b1e3f83535417885ef429c6603a\"");
  Result<std::string> part = ParseCopyResult(Rgw("upload-part-copy.xml"));
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(*part, "\"a9944b1e3f83535417885ef429c6603a\"");
}

TEST(RadosgwRecordingsTest, DeleteResults) {
  Result<std::vector<DeleteError>> quiet =
      ParseDeleteResult(Rgw("delete-objects-quiet-with-error.xml"));
  ASSERT_TRUE(quiet.ok()) << quiet.status().ToString();
  ASSERT_EQ(quiet->size(), 1u);
  EXPECT_EQ((*quiet)[0].key, "plain.txt");
  EXPECT_EQ((*quiet)[0].status.code(), ErrorCode::kAccessDenied);
  EXPECT_EQ((*quiet)[0].status.s3_code(), "AccessDenied");
  EXPECT_EQ((*quiet)[0].status.message(), "AccessDenied");
  Result<std::vector<DeleteError>> verbose = ParseDeleteResult(Rgw("delete-objects-verbose.xml"));
  ASSERT_TRUE(verbose.ok()) << verbose.status().ToString();
  EXPECT_TRUE(verbose->empty());
}

TEST(RadosgwRecordingsTest, ErrorBodiesAndTheirClassification) {
  struct Case {
    const char* file;
    int http_status;
    const char* code;
    ErrorCode expected;
  };
  for (const Case& c : std::vector<Case>{
           {"error-access-denied.xml", 403, "AccessDenied", ErrorCode::kAccessDenied},
           {"error-access-denied-list.xml", 403, "AccessDenied", ErrorCode::kAccessDenied},
           {"error-signature-does-not-match.xml", 403, "SignatureDoesNotMatch",
            ErrorCode::kAuthFailed},
           {"error-no-such-key.xml", 404, "NoSuchKey", ErrorCode::kNotFound},
           {"error-no-such-bucket.xml", 404, "NoSuchBucket", ErrorCode::kNotFound},
           {"error-precondition-failed.xml", 412, "PreconditionFailed",
            ErrorCode::kPreconditionFailed},
           {"error-invalid-range.xml", 416, "InvalidRange", ErrorCode::kBadRequest},
           {"error-invalid-part.xml", 400, "InvalidPart", ErrorCode::kBadRequest},
           {"error-list-parts-after-abort.xml", 404, "NoSuchKey", ErrorCode::kNotFound},
       }) {
    SCOPED_TRACE(c.file);
    const std::string body = Rgw(c.file);
    std::optional<S3ErrorBody> parsed = ParseErrorBody(body);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->code, c.code);
    EXPECT_EQ(parsed->message, "");
    EXPECT_EQ(parsed->request_id.rfind("tx", 0), 0u) << parsed->request_id;
    EXPECT_EQ(parsed->host_id, "100e-default-default");
    Status s = StatusFromErrorResponse(c.http_status, body);
    EXPECT_EQ(s.code(), c.expected) << s.ToString();
    EXPECT_EQ(s.s3_code(), c.code);
    EXPECT_EQ(s.request_id(), parsed->request_id);
    EXPECT_EQ(s.message(), c.code);  // radosgw sends an empty <Message>
  }
}

TEST(RadosgwRecordingsTest, InvalidPartInsideA200WouldBeABadRequest) {
  Result<std::string> r = ParseCompleteMultipartUpload(Rgw("error-invalid-part.xml"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kBadRequest);
  EXPECT_EQ(r.status().http_status(), 200);
  EXPECT_EQ(r.status().s3_code(), "InvalidPart");
}

TEST(RadosgwRecordingsTest, BodiesOfOtherOperationsAreRefusedByEachParser) {
  // ListParts has no parser; every parser names the unexpected root instead of misreading it.
  const std::string parts = Rgw("list-parts.xml");
  ExpectCorrupt(ParseListObjectsV2(parts), "unexpected root element <ListPartsResult>");
  ExpectCorrupt(ParseListMultipartUploads(parts), "unexpected root element <ListPartsResult>");
  ExpectCorrupt(ParseCompleteMultipartUpload(parts), "unexpected root element <ListPartsResult>");
  ExpectCorrupt(ParseCopyResult(parts), "unexpected root element <ListPartsResult>");
  ExpectCorrupt(ParseDeleteResult(parts), "unexpected root element <ListPartsResult>");
  ExpectCorrupt(ParseInitiateMultipartUpload(parts), "unexpected root element <ListPartsResult>");
  EXPECT_FALSE(ParseErrorBody(parts).has_value());
}

TEST(RadosgwRecordingsTest, EveryRecordedBodyParsesOrIsAnErrorDocument) {
  // Guards against a recording being added that no test reads.
  const std::vector<std::string> files = {"complete-multipart-upload.xml",
                                          "copy-object.xml",
                                          "delete-objects-quiet-with-error.xml",
                                          "delete-objects-verbose.xml",
                                          "error-access-denied-list.xml",
                                          "error-access-denied.xml",
                                          "error-invalid-part.xml",
                                          "error-invalid-range.xml",
                                          "error-list-parts-after-abort.xml",
                                          "error-no-such-bucket.xml",
                                          "error-no-such-key.xml",
                                          "error-precondition-failed.xml",
                                          "error-signature-does-not-match.xml",
                                          "initiate-multipart-upload.xml",
                                          "list-multipart-uploads.xml",
                                          "list-parts.xml",
                                          "list-v2-delimiter-prefix.xml",
                                          "list-v2-delimiter.xml",
                                          "list-v2-empty.xml",
                                          "list-v2-plain.xml",
                                          "list-v2-prefix-special.xml",
                                          "list-v2-start-after.xml",
                                          "list-v2-token-with-newline.xml",
                                          "list-v2-truncated-page1.xml",
                                          "list-v2-truncated-page2.xml",
                                          "list-v2-url-encoded.xml",
                                          "upload-part-copy.xml"};
  std::vector<std::string> on_disk;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SPACESFS_TESTDATA_DIR) + "/xml/rgw")) {
    if (entry.path().extension() == ".xml") on_disk.push_back(entry.path().filename().string());
  }
  std::sort(on_disk.begin(), on_disk.end());
  EXPECT_EQ(on_disk, files);
}

}  // namespace
}  // namespace spacesfs::s3

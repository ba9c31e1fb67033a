// SigV4 against the worked examples of Amazon's S3 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk"), plus the encoding rules.
#include "s3/sigv4.h"

#include <gtest/gtest.h>

#include <string>

namespace spacesfs::s3 {
namespace {

constexpr std::time_t k20130524 = 1369353600;  // 2013-05-24T00:00:00Z
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";
constexpr char kScope[] = "20130524/us-east-1/s3/aws4_request";

SigningKey ExampleKey() {
  return SigningKey{"AKIAIOSFODNN7EXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""};
}

std::string Find(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<missing " + std::string(name) + ">";
}

std::string Expected(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" + std::string(kScope) +
         ", SignedHeaders=" + std::string(signed_headers) + ", Signature=" + std::string(signature);
}

// Runs the three documented steps and checks each against the documentation, then SignRequest.
void CheckExample(const RequestToSign& request, const HeaderList& all_signed,
                  std::string_view signed_names, std::string_view canonical,
                  std::string_view canonical_hash, std::string_view signature) {
  const std::string cr = CanonicalRequest(request, all_signed, signed_names);
  EXPECT_EQ(cr, canonical);
  EXPECT_EQ(CanonicalRequest(request, all_signed, ""), canonical) << "signed names computed";
  EXPECT_EQ(Sha256Hex(cr), canonical_hash);
  const std::string sts = StringToSign("20130524T000000Z", "us-east-1", cr);
  EXPECT_EQ(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n" + std::string(kScope) + "\n" +
                     std::string(canonical_hash));
  EXPECT_EQ(SignatureHex(ExampleKey().secret_access_key, "20130524T000000Z", "us-east-1", sts),
            signature);

  const HeaderList added = SignRequest(request, ExampleKey(), "us-east-1", k20130524);
  EXPECT_EQ(Find(added, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(Find(added, "x-amz-content-sha256"), request.payload_hash);
  EXPECT_EQ(Find(added, "Authorization"), Expected(signed_names, signature));
  EXPECT_EQ(added.size(), 3u) << "no session token, no x-amz-security-token";
}

TEST(SigV4AwsExamples, GetObjectWithRange) {
  RequestToSign request{"GET", kHost, "/test.txt", {}, {{"Range", "bytes=0-9"}},
                        std::string(kEmptyPayloadSha256)};
  HeaderList all = {{"Host", kHost},
                    {"Range", "bytes=0-9"},
                    {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                    {"x-amz-date", "20130524T000000Z"}};
  CheckExample(request, all, "host;range;x-amz-content-sha256;x-amz-date",
               "GET\n"
               "/test.txt\n"
               "\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "range:bytes=0-9\n"
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;range;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
               "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4AwsExamples, PutObjectWithDollarInKeyAndSignedBody) {
  const std::string body_hash = Sha256Hex("Welcome to Amazon S3.");
  ASSERT_EQ(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  RequestToSign request{"PUT",
                        kHost,
                        "/test$file.text",
                        {},
                        {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                         {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                        body_hash};
  HeaderList all = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                    {"Host", kHost},
                    {"x-amz-content-sha256", body_hash},
                    {"x-amz-date", "20130524T000000Z"},
                    {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  CheckExample(request, all, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
               "PUT\n"
               "/test%24file.text\n"
               "\n"
               "date:Fri, 24 May 2013 00:00:00 GMT\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
               "x-amz-date:20130524T000000Z\n"
               "x-amz-storage-class:REDUCED_REDUNDANCY\n"
               "\n"
               "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
               "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
               "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
               "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4AwsExamples, GetBucketLifecycleSubResource) {
  RequestToSign request{"GET", kHost, "/", {{"lifecycle", ""}}, {},
                        std::string(kEmptyPayloadSha256)};
  HeaderList all = {{"Host", kHost},
                    {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                    {"x-amz-date", "20130524T000000Z"}};
  CheckExample(request, all, "host;x-amz-content-sha256;x-amz-date",
               "GET\n"
               "/\n"
               "lifecycle=\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
               "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4AwsExamples, ListObjectsQuerySorted) {
  // Given in the opposite order on purpose: the canonical form sorts them.
  RequestToSign request{"GET", kHost, "/", {{"prefix", "J"}, {"max-keys", "2"}}, {},
                        std::string(kEmptyPayloadSha256)};
  HeaderList all = {{"Host", kHost},
                    {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                    {"x-amz-date", "20130524T000000Z"}};
  CheckExample(request, all, "host;x-amz-content-sha256;x-amz-date",
               "GET\n"
               "/\n"
               "max-keys=2&prefix=J\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
               "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4AwsExamples, WrongEncodingOfTheKeyChangesTheSignature) {
  // The documented PUT signature only holds when '$' is encoded: not encoding it must not match.
  const std::string body_hash = Sha256Hex("Welcome to Amazon S3.");
  RequestToSign request{"PUT", kHost, "/test$file.text", {},
                        {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                         {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                        body_hash};
  RequestToSign already_encoded = request;
  already_encoded.raw_path = "/test%24file.text";  // would be encoded twice
  EXPECT_NE(Find(SignRequest(already_encoded, ExampleKey(), "us-east-1", k20130524), "Authorization"),
            Find(SignRequest(request, ExampleKey(), "us-east-1", k20130524), "Authorization"));
}

TEST(SigV4UriEncode, UnreservedKeptEverythingElseUpperHex) {
  EXPECT_EQ(UriEncode("AZaz09-_.~", false), "AZaz09-_.~");
  EXPECT_EQ(UriEncode("a b", false), "a%20b");
  EXPECT_EQ(UriEncode("a+b=c&d", false), "a%2Bb%3Dc%26d");
  EXPECT_EQ(UriEncode("100%", false), "100%25");
  EXPECT_EQ(UriEncode("!'()*", false), "%21%27%28%29%2A");
  EXPECT_EQ(UriEncode("$@:;,?#[]", false), "%24%40%3A%3B%2C%3F%23%5B%5D");
  EXPECT_EQ(UriEncode("\x7f\x01", false), "%7F%01");
  EXPECT_EQ(UriEncode(std::string("a\0b", 3), false), "a%00b");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");                  // é, UTF-8
  EXPECT_EQ(UriEncode("\xe9\x9b\xaa", false), "%E9%9B%AA");           // 雪
  EXPECT_EQ(UriEncode("\xf0\x9f\x98\x80", false), "%F0%9F%98%80");    // U+1F600
  EXPECT_EQ(UriEncode("", false), "");
}

TEST(SigV4UriEncode, SlashKeptOnlyWhenAsked) {
  EXPECT_EQ(UriEncode("a/b", true), "a/b");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
}

TEST(SigV4CanonicalUri, EncodedOnceAndNeverNormalised) {
  EXPECT_EQ(CanonicalUri("/"), "/");
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("/bucket/photos/a b.jpg"), "/bucket/photos/a%20b.jpg");
  EXPECT_EQ(CanonicalUri("/bucket//double"), "/bucket//double");
  EXPECT_EQ(CanonicalUri("/bucket/./a/../b"), "/bucket/./a/../b");
  EXPECT_EQ(CanonicalUri("/bucket/.."), "/bucket/..");
  EXPECT_EQ(CanonicalUri("/bucket/dir/"), "/bucket/dir/");
  EXPECT_EQ(CanonicalUri("/b/a%2Fb"), "/b/a%252Fb");  // a literal '%' in a key is data
  EXPECT_EQ(CanonicalUri("/b/~user/x+y=z&w"), "/b/~user/x%2By%3Dz%26w");
  EXPECT_EQ(CanonicalUri("/b/caf\xc3\xa9"), "/b/caf%C3%A9");
}

TEST(SigV4CanonicalQuery, SortedByEncodedNameThenValue) {
  EXPECT_EQ(CanonicalQueryString({}), "");
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQueryString({{"delete", ""}}), "delete=");
  EXPECT_EQ(CanonicalQueryString({{"prefix", "J"}, {"max-keys", "2"}}), "max-keys=2&prefix=J");
  EXPECT_EQ(CanonicalQueryString({{"b", "2"}, {"a", "z"}, {"a", "y"}, {"A", "x"}}),
            "A=x&a=y&a=z&b=2");  // upper case sorts before lower case (byte order)
  EXPECT_EQ(CanonicalQueryString({{"list-type", "2"}, {"prefix", "dir/sub dir/"}, {"delimiter", "/"}}),
            "delimiter=%2F&list-type=2&prefix=dir%2Fsub%20dir%2F");
  EXPECT_EQ(CanonicalQueryString({{"k", "a+b=c&d%e"}}), "k=a%2Bb%3Dc%26d%25e");
  EXPECT_EQ(CanonicalQueryString({{"a b", "1"}, {"a", "2"}, {"a-b", "3"}}),
            "a=2&a%20b=1&a-b=3");  // sorted after encoding: '%' (0x25) < '-' (0x2D)
  EXPECT_EQ(CanonicalQueryString({{"partNumber", "1"}, {"uploadId", "x~y"}}),
            "partNumber=1&uploadId=x~y");
}

TEST(SigV4Headers, ValuesTrimmedAndSpacesCollapsed) {
  EXPECT_EQ(TrimHeaderValue("  a   b  "), "a b");
  EXPECT_EQ(TrimHeaderValue("\ta \t b\t"), "a b");
  EXPECT_EQ(TrimHeaderValue("plain"), "plain");
  EXPECT_EQ(TrimHeaderValue("   "), "");
  EXPECT_EQ(TrimHeaderValue(""), "");
  EXPECT_EQ(TrimHeaderValue("\"a  quoted   string\""), "\"a quoted string\"");
}

TEST(SigV4Headers, LowerCasedSortedRepeatedNamesJoined) {
  CanonicalHeaderBlock block = CanonicalHeaders({{"X-Amz-Meta-B", "  two  words "},
                                                 {"Host", "h"},
                                                 {"x-amz-meta-a", "1"},
                                                 {"X-AMZ-META-A", "2"},
                                                 {"Content-Type", "text/plain"}});
  EXPECT_EQ(block.text,
            "content-type:text/plain\nhost:h\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n");
  EXPECT_EQ(block.signed_names, "content-type;host;x-amz-meta-a;x-amz-meta-b");
}

TEST(SigV4SignRequest, SessionTokenIsSentAndSigned) {
  SigningKey key = ExampleKey();
  key.session_token = "FQoGZXIvYXdzEXAMPLE/token+with=chars";
  RequestToSign request{"GET", kHost, "/test.txt", {}, {}, std::string(kEmptyPayloadSha256)};
  const HeaderList added = SignRequest(request, key, "us-east-1", k20130524);
  ASSERT_EQ(added.size(), 4u);
  EXPECT_EQ(Find(added, "x-amz-security-token"), key.session_token);

  HeaderList all = {{"host", kHost},
                    {"x-amz-content-sha256", std::string(kEmptyPayloadSha256)},
                    {"x-amz-date", "20130524T000000Z"},
                    {"x-amz-security-token", key.session_token}};
  const std::string names = "host;x-amz-content-sha256;x-amz-date;x-amz-security-token";
  const std::string cr = CanonicalRequest(request, all, names);
  EXPECT_NE(cr.find("\nx-amz-security-token:FQoGZXIvYXdzEXAMPLE/token+with=chars\n"),
            std::string::npos);
  const std::string signature = SignatureHex(
      key.secret_access_key, "20130524T000000Z", "us-east-1",
      StringToSign("20130524T000000Z", "us-east-1", cr));
  EXPECT_EQ(Find(added, "Authorization"), Expected(names, signature));

  // The token changes the signature.
  SigningKey other = key;
  other.session_token += "x";
  EXPECT_NE(Find(SignRequest(request, other, "us-east-1", k20130524), "Authorization"),
            Find(added, "Authorization"));
}

TEST(SigV4SignRequest, CallerCannotOverrideSignerHeaders) {
  RequestToSign plain{"GET", kHost, "/test.txt", {}, {{"Range", "bytes=0-9"}},
                      std::string(kEmptyPayloadSha256)};
  RequestToSign noisy = plain;
  noisy.headers.push_back({"X-Amz-Date", "19990101T000000Z"});
  noisy.headers.push_back({"HOST", "evil.example"});
  noisy.headers.push_back({"Authorization", "AWS old"});
  noisy.headers.push_back({"x-amz-content-sha256", "UNSIGNED-PAYLOAD"});
  EXPECT_EQ(SignRequest(noisy, ExampleKey(), "us-east-1", k20130524),
            SignRequest(plain, ExampleKey(), "us-east-1", k20130524));
  EXPECT_EQ(Find(SignRequest(plain, ExampleKey(), "us-east-1", k20130524), "Authorization"),
            Expected("host;range;x-amz-content-sha256;x-amz-date",
                     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
}

TEST(SigV4SignRequest, UnsignedPayloadRegionAndServiceInScope) {
  RequestToSign request{"PUT", "nyc3.digitaloceanspaces.com", "/space/a b", {}, {},
                        std::string(kUnsignedPayload)};
  const HeaderList added = SignRequest(request, ExampleKey(), "nyc3", k20130524);
  EXPECT_EQ(Find(added, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  const std::string auth = Find(added, "Authorization");
  EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/nyc3/s3/"
                       "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                       "Signature=", 0),
            0u)
      << auth;
  EXPECT_NE(auth, Find(SignRequest(request, ExampleKey(), "ams3", k20130524), "Authorization"));
  // An empty payload hash means an empty body.
  RequestToSign empty_hash = request;
  empty_hash.payload_hash.clear();
  EXPECT_EQ(Find(SignRequest(empty_hash, ExampleKey(), "nyc3", k20130524), "x-amz-content-sha256"),
            kEmptyPayloadSha256);
}

TEST(SigV4Helpers, DigestsAndEncodings) {
  EXPECT_EQ(Sha256Hex(""), kEmptyPayloadSha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(HexDecode("00ff10"), std::string("\x00\xff\x10", 3));
  EXPECT_EQ(HexDecode("00FF1a"), std::string("\x00\xff\x1a", 3));
  EXPECT_EQ(HexDecode(""), std::string());
  EXPECT_EQ(HexDecode("0"), std::nullopt);
  EXPECT_EQ(HexDecode("0g"), std::nullopt);
  EXPECT_EQ(HexDecode(" 0"), std::nullopt);
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(AmzDate(k20130524), "20130524T000000Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
  EXPECT_EQ(AmzDate(1700000000), "20231114T221320Z");
}

}  // namespace
}  // namespace spacesfs::s3

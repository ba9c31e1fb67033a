// What protects a request body on the way, by transport (s3::ClientConfig::sign_payload_over_tls):
// over plain http a part is signed with its SHA-256; over https it goes as UNSIGNED-PAYLOAD with
// no digest at all (the body is read once, to send it), unless asked to sign there too; a single
// PUT over https carries the Content-MD5 its ETag is checked against, and no SHA-256.
//
// The servers are tests/support/tls_server.h and tests/support/scripted_http_server.h; the test
// reads the heads of the requests they received.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "s3/body_digest.h"
#include "s3/curl_object_client.h"
#include "s3/sigv4.h"
#include "support/scripted_http_server.h"
#include "support/tls_server.h"

namespace spacesfs {
namespace {

using testing::ScriptedHttpServer;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The value of header `name` (lower case) in a request head, "" without it.
std::string HeaderOf(const std::string& head, const std::string& name) {
  const std::string lower = Lower(head);
  const size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t start = at + 3 + name.size();
  while (start < head.size() && head[start] == ' ') ++start;
  return head.substr(start, head.find("\r\n", start) - start);
}

std::string Sha256Hex(const std::string& bytes) {
  Result<s3::BodyDigest> digest = s3::DigestBody(s3::BodySource::FromView(bytes), true, false);
  return digest.ok() ? digest->sha256_hex : "";
}

// A body of `bytes` that counts the bytes read from it.
s3::BodySource CountingBody(const std::string& bytes, std::atomic<uint64_t>* read) {
  s3::BodySource body;
  body.size = bytes.size();
  body.read = [&bytes, read](uint64_t offset, std::span<char> out) -> Result<size_t> {
    const size_t n = std::min<size_t>(out.size(), bytes.size() - offset);
    std::copy_n(bytes.data() + offset, n, out.data());
    *read += n;
    return n;
  };
  return body;
}

class PayloadSigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/spacesfs-payload-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    certs_ = std::make_unique<testing::TestCertificates>(dir_);
    ASSERT_TRUE(certs_->ok()) << "openssl could not make the test certificates in " << dir_;
    for (size_t i = 0; i < body_.size(); ++i) body_[i] = static_cast<char>(i * 131 + i / 977);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<s3::CurlObjectClient> Client(const std::string& endpoint, bool sign_over_tls) {
    s3::ClientConfig config;
    config.endpoint = endpoint;
    config.region = "us-east-1";
    config.bucket = "bucket";
    config.key =
        s3::SigningKey{"AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""};
    config.ca_bundle_path = certs_->Path("ca.pem");
    config.max_attempts = 1;
    config.connect_timeout = std::chrono::milliseconds(3000);
    config.sign_payload_over_tls = sign_over_tls;
    auto client = s3::CurlObjectClient::Create(std::move(config));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::string dir_;
  std::unique_ptr<testing::TestCertificates> certs_;
  std::string body_ = std::string((512 << 10) + 3, '\0');  // under Expect: 100-continue's 1 MiB
};

TEST_F(PayloadSigningTest, OverHttpsAPartCarriesNoDigestAndIsReadOnce) {
  testing::TlsServer server(certs_->Path("localhost.pem"), certs_->Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  auto client = Client("https://localhost:" + std::to_string(server.port()), false);
  ASSERT_NE(client, nullptr);
  std::atomic<uint64_t> read{0};
  Result<std::string> etag = client->UploadPart("k", "upload-1", 1, CountingBody(body_, &read));
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, "\"5d41402abc4b2a76b9719d911017c592\"");  // the server's, taken as it is
  EXPECT_EQ(read.load(), body_.size()) << "no digest pass before the send";
  ASSERT_EQ(server.heads().size(), 1u);
  const std::string head = server.heads()[0];
  EXPECT_EQ(HeaderOf(head, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD") << head;
  EXPECT_EQ(HeaderOf(head, "content-md5"), "") << head;
  EXPECT_EQ(HeaderOf(head, "content-length"), std::to_string(body_.size())) << head;
}

TEST_F(PayloadSigningTest, OverHttpsASinglePutCarriesContentMd5ButNoSha256) {
  testing::TlsServer server(certs_->Path("localhost.pem"), certs_->Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  auto client = Client("https://localhost:" + std::to_string(server.port()), false);
  ASSERT_NE(client, nullptr);
  s3::PutObjectRequest put;
  put.key = "k";
  put.body = s3::BodySource::FromView(body_);
  // The server answers with the ETag of "hello": the check against the MD5 sent fails.
  Result<std::string> result = client->PutObject(put);
  EXPECT_EQ(result.status().code(), ErrorCode::kCorrupt) << result.status().ToString();
  ASSERT_GE(server.heads().size(), 1u);
  const std::string head = server.heads()[0];
  EXPECT_EQ(HeaderOf(head, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD") << head;
  EXPECT_EQ(HeaderOf(head, "content-md5"), s3::Base64Encode(s3::Md5(body_))) << head;
}

TEST_F(PayloadSigningTest, SignPayloadAlwaysSignsPartsOverHttpsToo) {
  testing::TlsServer server(certs_->Path("localhost.pem"), certs_->Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  auto client = Client("https://localhost:" + std::to_string(server.port()), true);
  ASSERT_NE(client, nullptr);
  Result<std::string> etag = client->UploadPart("k", "upload-1", 1, s3::BodySource::FromView(body_));
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  ASSERT_EQ(server.heads().size(), 1u);
  EXPECT_EQ(HeaderOf(server.heads()[0], "x-amz-content-sha256"), Sha256Hex(body_));
}

TEST_F(PayloadSigningTest, OverPlainHttpAPartIsAlwaysSigned) {
  std::mutex mu;
  std::string seen;
  ScriptedHttpServer server([&](const ScriptedHttpServer::Request& r, ScriptedHttpServer::Conn& c) {
    {
      std::lock_guard lock(mu);
      seen = r.head;
    }
    return c.Write("HTTP/1.1 200 OK\r\nETag: \"5d41402abc4b2a76b9719d911017c592\"\r\n"
                   "Content-Length: 0\r\n\r\n");
  });
  for (bool sign_over_tls : {false, true}) {
    auto client = Client(server.endpoint(), sign_over_tls);
    ASSERT_NE(client, nullptr);
    Result<std::string> etag =
        client->UploadPart("k", "upload-1", 1, s3::BodySource::FromView(body_));
    ASSERT_TRUE(etag.ok()) << etag.status().ToString();
    std::lock_guard lock(mu);
    EXPECT_EQ(HeaderOf(seen, "x-amz-content-sha256"), Sha256Hex(body_)) << seen;
  }
}

}  // namespace
}  // namespace spacesfs

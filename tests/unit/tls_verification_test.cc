// CurlObjectClient over HTTPS verifies the server: a certificate from an authority it does not
// trust, or one made out for another host name, is refused at once with one line that names the
// certificate problem (no retries: it is a configuration problem, not a passing fault), and no
// request reaches the server. A certificate the client trusts, for the host it dialled, is
// accepted (the control that shows the server and the client can speak TLS at all).
//
// The certificates and the server are tests/support/tls_server.h.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>

#include "s3/curl_object_client.h"
#include "support/tls_server.h"

namespace spacesfs {
namespace {

using Clock = std::chrono::steady_clock;

class TlsVerificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The server writes to connections the client may already have dropped.
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/spacesfs-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    certs_ = std::make_unique<testing::TestCertificates>(dir_);
    ASSERT_TRUE(certs_->ok()) << "openssl could not make the test certificates in " << dir_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // HEAD of one key over https://HOST:PORT, trusting ca_bundle ("" = the system's authorities).
  Result<s3::ObjectInfo> Head(const std::string& host, int port, const std::string& ca_bundle) {
    s3::ClientConfig config;
    config.endpoint = "https://" + host + ":" + std::to_string(port);
    config.region = "us-east-1";
    config.bucket = "bucket";
    config.key = s3::SigningKey{"AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""};
    config.ca_bundle_path = ca_bundle;
    config.max_attempts = 3;
    config.retry_base_delay = std::chrono::milliseconds(200);
    config.connect_timeout = std::chrono::milliseconds(3000);
    auto client = s3::CurlObjectClient::Create(std::move(config));
    if (!client.ok()) return client.status();
    return (*client)->HeadObject("hello.txt");
  }

  // Refused once, at once, in one line naming the certificate, with no request served.
  void ExpectRefused(const Result<s3::ObjectInfo>& head, const testing::TlsServer& server,
                     Clock::duration took, const std::string& words) {
    ASSERT_FALSE(head.ok());
    const std::string text = head.status().ToString();
    EXPECT_EQ(head.status().code(), ErrorCode::kConfig) << text;
    EXPECT_NE(text.find(words), std::string::npos) << text;
    EXPECT_NE(text.find("HeadObject"), std::string::npos) << text;
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    EXPECT_EQ(text.find("wJalrXUtnFEMI"), std::string::npos) << text;
    EXPECT_EQ(server.requests(), 0);
    EXPECT_EQ(server.connections(), 1) << "a certificate problem is not retried";
    EXPECT_LT(took, std::chrono::milliseconds(1500));
  }

  std::string dir_;
  std::unique_ptr<testing::TestCertificates> certs_;
};

TEST_F(TlsVerificationTest, ACertificateFromATrustedAuthorityForTheHostIsAccepted) {
  testing::TlsServer server(certs_->Path("localhost.pem"), certs_->Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  for (const char* host : {"127.0.0.1", "localhost"}) {
    Result<s3::ObjectInfo> head = Head(host, server.port(), certs_->Path("ca.pem"));
    ASSERT_TRUE(head.ok()) << host << ": " << head.status().ToString();
    EXPECT_EQ(head->size, 5u);
  }
  EXPECT_EQ(server.requests(), 2);
}

TEST_F(TlsVerificationTest, ACertificateFromAnUnknownAuthorityIsRefused) {
  testing::TlsServer server(certs_->Path("localhost.pem"), certs_->Path("localhost.key"));
  ASSERT_TRUE(server.ok());
  Clock::time_point start = Clock::now();
  Result<s3::ObjectInfo> head = Head("localhost", server.port(), "");  // the system's authorities
  ExpectRefused(head, server, Clock::now() - start, "certificate");
}

TEST_F(TlsVerificationTest, ACertificateForAnotherHostNameIsRefused) {
  testing::TlsServer server(certs_->Path("other.pem"), certs_->Path("other.key"));
  ASSERT_TRUE(server.ok());
  Clock::time_point start = Clock::now();
  Result<s3::ObjectInfo> head = Head("localhost", server.port(), certs_->Path("ca.pem"));
  ExpectRefused(head, server, Clock::now() - start, "localhost");
}

}  // namespace
}  // namespace spacesfs

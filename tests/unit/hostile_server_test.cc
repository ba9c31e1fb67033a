// CurlObjectClient against a hostile or broken server (tests/support/scripted_http_server.h on
// 127.0.0.1): invalid and truncated XML, missing fields, huge values, a Content-Length that lies
// either way, endless bodies and headers, a server that stalls and one that is gone. Every call ends
// with one clear Status line (never success with wrong data, never a hang past the configured
// timeouts), and memory stays bounded: the client stops reading an endless answer long before the
// server has sent much of it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "s3/curl_object_client.h"
#include "support/scripted_http_server.h"

namespace spacesfs {
namespace {

using testing::ScriptedHttpServer;
using Clock = std::chrono::steady_clock;

constexpr char kLastModified[] = "Last-Modified: Wed, 01 Mar 2023 12:00:00 GMT\r\n";
// What the client may buffer of an answer (its collected-body bound, 16 MiB) plus the socket
// buffers of both ends; an endless answer that got further than this was read without bound.
constexpr uint64_t kBoundedBytes = uint64_t{16 + 16} << 20;

std::unique_ptr<s3::CurlObjectClient> Client(const std::string& endpoint, int attempts = 2) {
  s3::ClientConfig config;
  config.endpoint = endpoint;
  config.region = "us-east-1";
  config.bucket = "bucket";
  config.key = s3::SigningKey{"AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ""};
  config.max_attempts = attempts;
  config.retry_base_delay = std::chrono::milliseconds(1);
  config.retry_max_delay = std::chrono::milliseconds(5);
  config.connect_timeout = std::chrono::milliseconds(2000);
  config.low_speed_time = std::chrono::seconds(2);
  auto client = s3::CurlObjectClient::Create(std::move(config));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

// A 200 answer with this body and a correct Content-Length.
ScriptedHttpServer::Handler Answer(std::string head_lines, std::string body) {
  return [head_lines, body](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    return c.Write("HTTP/1.1 200 OK\r\n" + head_lines + "Content-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
  };
}

// The Status is one clear line that names the operation.
void ExpectClearError(const Status& status, ErrorCode code, const std::string& operation,
                      const std::string& words) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  std::string text = status.ToString();
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_NE(text.find(operation), std::string::npos) << text;
  EXPECT_NE(text.find(words), std::string::npos) << text;
}

Status List(s3::CurlObjectClient& client) {
  s3::ListObjectsRequest request;
  request.delimiter = "/";
  return client.ListObjects(request).status();
}

Result<std::string> Get(s3::CurlObjectClient& client, std::optional<s3::ByteRange> range = {}) {
  s3::GetObjectRequest request;
  request.key = "k";
  request.range = range;
  std::string got;
  Result<s3::ObjectInfo> info = client.GetObject(request, [&got](std::string_view chunk) {
    got.append(chunk);
    return Status::Ok();
  });
  if (!info.ok()) return info.status();
  return got;
}

constexpr char kListHead[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name>"
    "<Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>"
    "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>";

std::string ListBody(const std::string& contents) {
  return kListHead + contents + "</ListBucketResult>";
}

// One <Contents> entry with every field ListObjectsV2 needs.
std::string Entry(const std::string& key, const std::string& size) {
  return "<Contents><Key>" + key + "</Key><LastModified>2023-03-01T12:00:00.000Z</LastModified>"
         "<ETag>&quot;e&quot;</ETag><Size>" + size + "</Size><StorageClass>STANDARD</StorageClass>"
         "</Contents>";
}

TEST(HostileServerTest, ListingThatIsNotXmlIsCorrupt) {
  ScriptedHttpServer server(Answer("Content-Type: application/xml\r\n", "<html>oops</body>"));
  auto client = Client(server.endpoint());
  ExpectClearError(List(*client), ErrorCode::kCorrupt, "ListObjectsV2", "XML");
}

TEST(HostileServerTest, TruncatedListingIsCorrupt) {
  std::string whole = ListBody(Entry("a", "1"));
  ScriptedHttpServer server(Answer("", whole.substr(0, whole.size() - 30)));
  auto client = Client(server.endpoint());
  ExpectClearError(List(*client), ErrorCode::kCorrupt, "ListObjectsV2", "ListBucketResult");
}

TEST(HostileServerTest, ListingWithAMissingFieldIsCorrupt) {
  std::string entry = Entry("a", "1");
  entry.erase(entry.find("<Key>a</Key>"), 12);
  ScriptedHttpServer server(Answer("", ListBody(entry)));
  auto client = Client(server.endpoint());
  ExpectClearError(List(*client), ErrorCode::kCorrupt, "ListObjectsV2", "<Key>");
}

TEST(HostileServerTest, ListingWithAHugeSizeIsCorrupt) {
  ScriptedHttpServer server(
      Answer("", ListBody(Entry("a", "99999999999999999999999"))));
  auto client = Client(server.endpoint());
  ExpectClearError(List(*client), ErrorCode::kCorrupt, "ListObjectsV2", "Size");
}

TEST(HostileServerTest, HeadWithAHugeContentLengthIsCorrupt) {
  for (const char* length : {"18446744073709551615", "9223372036854775808", "99999999999999999999999"}) {
    SCOPED_TRACE(length);
    ScriptedHttpServer server([length](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
      return c.Write(std::string("HTTP/1.1 200 OK\r\nETag: \"abc\"\r\n") + kLastModified +
                     "Content-Length: " + length + "\r\n\r\n");
    });
    auto client = Client(server.endpoint());
    Result<s3::ObjectInfo> head = client->HeadObject("k");
    ASSERT_FALSE(head.ok()) << "size " << head->size << " accepted: no file can be that large";
    ExpectClearError(head.status(), ErrorCode::kCorrupt, "HeadObject", "Content-Length");
  }
}

TEST(HostileServerTest, HeadWithAMalformedDateIsCorrupt) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    return c.Write("HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nLast-Modified: yesterday\r\n"
                   "Content-Length: 5\r\n\r\n");
  });
  auto client = Client(server.endpoint());
  ExpectClearError(client->HeadObject("k").status(), ErrorCode::kCorrupt, "HeadObject", "");
}

// A refusal without an error body (a HEAD's always is) says the status once, with its reason.
TEST(HostileServerTest, ARefusalWithoutABodyNamesItsStatusOnce) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    return c.Write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  });
  auto client = Client(server.endpoint());
  Status status = client->HeadObject("k").status();
  EXPECT_EQ(status.code(), ErrorCode::kAccessDenied) << status.ToString();
  EXPECT_EQ(status.ToString(),
            "access_denied: HeadObject bucket/k (key AKID...): Forbidden (HTTP 403)");
}

TEST(HostileServerTest, BodyShorterThanItsContentLengthIsNeverSuccess) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    c.Write(std::string("HTTP/1.1 200 OK\r\nETag: \"0123456789abcdef0123456789abcdef\"\r\n") +
            kLastModified + "Content-Length: 100\r\n\r\n0123456789");
    return false;  // close after 10 of the 100 bytes
  });
  auto client = Client(server.endpoint());
  Result<std::string> got = Get(*client);
  ASSERT_FALSE(got.ok()) << "a cut body was returned as the object: " << *got;
  EXPECT_TRUE(got.status().code() == ErrorCode::kNetwork || got.status().code() == ErrorCode::kCorrupt)
      << got.status().ToString();
  EXPECT_EQ(got.status().ToString().find('\n'), std::string::npos);
  EXPECT_EQ(server.requests(), 2);  // retried once (max_attempts 2), then given up
}

TEST(HostileServerTest, BytesPastTheContentLengthAreNotReadAsTheNextAnswer) {
  // The first answer carries more bytes than it announces, shaped like an answer of their own;
  // they must not be taken for the answer to the next request on a reused connection.
  ScriptedHttpServer server([](const ScriptedHttpServer::Request& r, ScriptedHttpServer::Conn& c) {
    if (r.target.find("first") != std::string::npos) {
      return c.Write(std::string("HTTP/1.1 200 OK\r\nETag: \"841a2d689ad86bd1611447453c22c6fc\"\r\n") +
                     kLastModified + "Content-Length: 4\r\n\r\nbody" +
                     "HTTP/1.1 200 OK\r\nETag: \"781e5e245d69b566979b86e28d23f2c7\"\r\n" +
                     kLastModified + "Content-Length: 10\r\n\r\n0123456789");
    }
    return c.Write(std::string("HTTP/1.1 200 OK\r\nETag: \"a9f0e61a137d86aa9db53465e0801612\"\r\n") +
                   kLastModified + "Content-Length: 6\r\n\r\nsecond");
  });
  auto client = Client(server.endpoint());
  for (const std::string key : {"first", "second"}) {
    s3::GetObjectRequest request;
    request.key = key;
    std::string got;
    Result<s3::ObjectInfo> info = client->GetObject(request, [&got](std::string_view chunk) {
      got.append(chunk);
      return Status::Ok();
    });
    ASSERT_TRUE(info.ok()) << key << ": " << info.status().ToString();
    EXPECT_EQ(got, key == "first" ? "body" : "second");
  }
}

TEST(HostileServerTest, EndlessGetBodyWithoutContentLengthIsRefusedBounded) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    if (!c.Write(std::string("HTTP/1.1 200 OK\r\nETag: \"e\"\r\n") + kLastModified +
                 "Connection: close\r\n\r\n")) {
      return false;
    }
    c.WriteForever(std::string(65536, 'x'));
    return false;
  });
  auto client = Client(server.endpoint());
  Result<std::string> got = Get(*client);
  ASSERT_FALSE(got.ok());
  ExpectClearError(got.status(), ErrorCode::kCorrupt, "GetObject", "Content-Length");
  EXPECT_LT(server.bytes_sent(), kBoundedBytes);
}

TEST(HostileServerTest, EndlessChunkedGetBodyIsRefusedBounded) {
  // Announces a 1 KiB object in Content-Range but streams chunks for ever.
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    if (!c.Write(std::string("HTTP/1.1 206 Partial Content\r\nETag: \"e\"\r\n") + kLastModified +
                 "Content-Range: bytes 0-1023/1024\r\nTransfer-Encoding: chunked\r\n\r\n")) {
      return false;
    }
    c.WriteForever("10000\r\n" + std::string(65536, 'x') + "\r\n");
    return false;
  });
  auto client = Client(server.endpoint());
  Result<std::string> got = Get(*client, s3::ByteRange{0, 1023});
  ASSERT_FALSE(got.ok()) << got->size() << " bytes returned for a 1 KiB range";
  ExpectClearError(got.status(), ErrorCode::kCorrupt, "GetObject", "");
  EXPECT_LT(server.bytes_sent(), kBoundedBytes);
}

TEST(HostileServerTest, EndlessListingIsRefusedBounded) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    if (!c.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return false;
    std::string piece = Entry("a", "1");
    std::string chunk;
    while (chunk.size() < 60000) chunk += piece;
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    c.Write(std::string(size) + chunk + "\r\n");  // (the head of the listing is left out)
    c.WriteForever(std::string(size) + chunk + "\r\n");
    return false;
  });
  auto client = Client(server.endpoint());
  ExpectClearError(List(*client), ErrorCode::kCorrupt, "ListObjectsV2", "bytes");
  EXPECT_LT(server.bytes_sent(), kBoundedBytes);
}

TEST(HostileServerTest, EndlessErrorBodyIsRefusedBounded) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    if (!c.Write("HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n<Error><Message>")) {
      return false;
    }
    c.WriteForever(std::string(65536, 'e'));
    return false;
  });
  auto client = Client(server.endpoint(), 1);
  Status status = client->HeadObject("k").status();
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.ToString().find('\n'), std::string::npos);
  status = List(*client);
  ExpectClearError(status, ErrorCode::kCorrupt, "ListObjectsV2", "bytes");
  EXPECT_LT(server.bytes_sent(), 2 * kBoundedBytes);
}

TEST(HostileServerTest, EndlessResponseHeadersAreRefusedBounded) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    if (!c.Write("HTTP/1.1 200 OK\r\n")) return false;
    c.WriteForever("x-amz-meta-junk: " + std::string(100, 'j') + "\r\n");
    return false;
  });
  auto client = Client(server.endpoint(), 1);
  Result<s3::ObjectInfo> head = client->HeadObject("k");
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().ToString().find('\n'), std::string::npos);
  EXPECT_LT(server.bytes_sent(), kBoundedBytes);
}

TEST(HostileServerTest, GarbageInsteadOfAnHttpAnswerIsAnError) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    c.Write("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    return false;
  });
  auto client = Client(server.endpoint());
  Result<s3::ObjectInfo> head = client->HeadObject("k");
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), ErrorCode::kNetwork) << head.status().ToString();
  EXPECT_NE(head.status().ToString().find("HeadObject"), std::string::npos);
}

TEST(HostileServerTest, ServerThatNeverAnswersTimesOutWithinTheConfiguredBound) {
  ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn& c) {
    c.WaitForClose();
    return false;
  });
  auto client = Client(server.endpoint(), 2);  // 2 attempts of low_speed_time 2 s each
  auto start = Clock::now();
  Status status = client->HeadObject("k").status();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ExpectClearError(status, ErrorCode::kTimeout, "HeadObject", "");
  EXPECT_EQ(server.requests(), 2);
  EXPECT_GE(seconds, 2 * 2 - 0.5);
  EXPECT_LT(seconds, 2 * (2 + 1) + 2) << "waited past the configured timeouts";
}

TEST(HostileServerTest, ServerThatIsGoneFailsFast) {
  std::string endpoint;
  {
    ScriptedHttpServer server([](const ScriptedHttpServer::Request&, ScriptedHttpServer::Conn&) {
      return false;
    });
    endpoint = server.endpoint();
  }  // nothing listens on that port any more
  auto client = Client(endpoint, 3);
  auto start = Clock::now();
  Status status = client->HeadObject("k").status();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ExpectClearError(status, ErrorCode::kNetwork, "HeadObject", "");
  EXPECT_LT(seconds, 5);
}

}  // namespace
}  // namespace spacesfs

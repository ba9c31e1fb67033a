#include "s3/endpoint.h"

#include <gtest/gtest.h>

namespace spacesfs::s3 {
namespace {

Endpoint Parse(std::string_view text, std::string_view region = "nyc3") {
  Result<Endpoint> endpoint = ParseEndpoint(text, region);
  EXPECT_TRUE(endpoint.ok()) << text << ": " << endpoint.status().ToString();
  return endpoint.ok() ? *endpoint : Endpoint{};
}

TEST(EndpointTest, ParsesSchemeHostAndPort) {
  Endpoint e = Parse("http://127.0.0.1:7480");
  EXPECT_EQ(e.scheme, "http");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 7480);
  EXPECT_EQ(e.authority(), "127.0.0.1:7480");

  e = Parse("HTTPS://AMS3.DigitalOceanSpaces.com/");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.host, "ams3.digitaloceanspaces.com");
  EXPECT_EQ(e.port, 0);
  EXPECT_EQ(e.authority(), "ams3.digitaloceanspaces.com");

  e = Parse("http://[::1]:9000");
  EXPECT_EQ(e.host, "[::1]");
  EXPECT_EQ(e.authority(), "[::1]:9000");
}

TEST(EndpointTest, DefaultPortsAreDropped) {
  EXPECT_EQ(Parse("https://example.com:443").authority(), "example.com");
  EXPECT_EQ(Parse("http://example.com:80").authority(), "example.com");
  EXPECT_EQ(Parse("https://example.com:80").authority(), "example.com:80");
}

TEST(EndpointTest, EmptyEndpointIsTheRegionsSpacesHost) {
  Endpoint e = Parse("", "fra1");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.host, "fra1.digitaloceanspaces.com");
  EXPECT_EQ(ParseEndpoint("", "").status().code(), ErrorCode::kConfig);
}

TEST(EndpointTest, RejectsWhatIsNotSchemeHostPort) {
  for (std::string_view bad :
       {"127.0.0.1:7480", "ftp://example.com", "http://", "http://host:0", "http://host:65536",
        "http://host:12ab", "http://host/path", "http://user@host", "http://host?x=1",
        "http://[::1", "http://[::1]x", "http://host:"}) {
    Result<Endpoint> e = ParseEndpoint(bad, "nyc3");
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), ErrorCode::kConfig) << bad;
  }
}

TEST(EndpointTest, AutoAddressingUsesPathStyleForIpAndLocalhost) {
  EXPECT_TRUE(UsePathStyle(Parse("http://127.0.0.1:7480"), "team-a", Addressing::kAuto));
  EXPECT_TRUE(UsePathStyle(Parse("http://[::1]:7480"), "team-a", Addressing::kAuto));
  EXPECT_TRUE(UsePathStyle(Parse("http://localhost:7480"), "team-a", Addressing::kAuto));
  EXPECT_FALSE(UsePathStyle(Parse("https://nyc3.digitaloceanspaces.com"), "team-a",
                            Addressing::kAuto));
  // Dotted bucket names do not match a wildcard certificate; odd names are not host names.
  EXPECT_TRUE(UsePathStyle(Parse("https://nyc3.digitaloceanspaces.com"), "my.bucket",
                           Addressing::kAuto));
  EXPECT_FALSE(UsePathStyle(Parse("http://s3.internal"), "my.bucket", Addressing::kAuto));
  EXPECT_TRUE(UsePathStyle(Parse("https://s3.internal"), "Upper_Case", Addressing::kAuto));
}

TEST(EndpointTest, AddressingCanBeForced) {
  EXPECT_FALSE(UsePathStyle(Parse("http://localhost:7480"), "team-a", Addressing::kVirtualHosted));
  EXPECT_TRUE(UsePathStyle(Parse("https://nyc3.digitaloceanspaces.com"), "team-a",
                           Addressing::kPath));
}

TEST(EndpointTest, PathStyleTarget) {
  RequestTarget t = MakeTarget(Parse("http://127.0.0.1:7480"), true, "team-a", "dir/a b+c.txt",
                               {{"uploadId", "x/y"}, {"partNumber", "3"}});
  EXPECT_EQ(t.host, "127.0.0.1:7480");
  EXPECT_EQ(t.raw_path, "/team-a/dir/a b+c.txt");
  EXPECT_EQ(t.url, "http://127.0.0.1:7480/team-a/dir/a%20b%2Bc.txt?partNumber=3&uploadId=x%2Fy");
}

TEST(EndpointTest, VirtualHostedTarget) {
  RequestTarget t = MakeTarget(Parse("https://nyc3.digitaloceanspaces.com"), false, "photos",
                               "ü/../x", {});
  EXPECT_EQ(t.host, "photos.nyc3.digitaloceanspaces.com");
  EXPECT_EQ(t.raw_path, "/ü/../x");
  EXPECT_EQ(t.url, "https://photos.nyc3.digitaloceanspaces.com/%C3%BC/../x");
}

TEST(EndpointTest, BucketTargets) {
  HeaderList query = {{"list-type", "2"}, {"prefix", "a b"}};
  RequestTarget path = MakeTarget(Parse("http://127.0.0.1:7480"), true, "team-a", "", query);
  EXPECT_EQ(path.raw_path, "/team-a");
  EXPECT_EQ(path.url, "http://127.0.0.1:7480/team-a?list-type=2&prefix=a%20b");
  RequestTarget vhost =
      MakeTarget(Parse("https://nyc3.digitaloceanspaces.com"), false, "team-a", "", {{"delete", ""}});
  EXPECT_EQ(vhost.raw_path, "/");
  EXPECT_EQ(vhost.url, "https://team-a.nyc3.digitaloceanspaces.com/?delete=");
}

}  // namespace
}  // namespace spacesfs::s3

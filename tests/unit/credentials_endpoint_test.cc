// Endpoint rules: the default DigitalOcean endpoint, accepted shapes, path-style detection.
#include <gtest/gtest.h>

#include "auth/endpoint.h"

namespace spacesfs::auth {
namespace {

TEST(EndpointTest, DefaultForRegion) {
  EXPECT_EQ(EndpointForRegion("nyc3"), "https://nyc3.digitaloceanspaces.com");
  EXPECT_EQ(EndpointForRegion("ams3"), "https://ams3.digitaloceanspaces.com");
  EXPECT_TRUE(IsValidRegion("nyc3"));
  EXPECT_TRUE(IsValidRegion("us-east-1"));
  EXPECT_FALSE(IsValidRegion(""));
  EXPECT_FALSE(IsValidRegion("NYC3"));
  EXPECT_FALSE(IsValidRegion("3nyc"));
  EXPECT_FALSE(IsValidRegion("nyc3.evil.com"));
  EXPECT_FALSE(IsValidRegion("nyc 3"));
}

TEST(EndpointTest, AcceptedShapes) {
  for (const char* good :
       {"https://nyc3.digitaloceanspaces.com", "https://nyc3.digitaloceanspaces.com/",
        "http://127.0.0.1:7480", "http://127.0.0.1:7480/", "http://localhost:7480",
        "http://[::1]:7480", "https://[2001:db8::1]", "https://s3.example-host.net:443",
        "http://rgw", "http://256.1.1.1x"}) {
    EXPECT_TRUE(ValidateEndpoint(good).ok()) << good;
  }
  for (const char* bad :
       {"", "nyc3.digitaloceanspaces.com", "ftp://host", "https://", "https:///x",
        "https://host/path", "https://host?x=1", "https://host#f", "https://key:secret@host",
        "https://user@host", "http://host:", "http://host:0", "http://host:65536",
        "http://host:80a", "http://-host", "http://ho st", "http://host..com",
        "http://256.1.1.1", "http://1.2.3", "http://[zz::1]", "HTTPS://host"}) {
    Status s = ValidateEndpoint(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), ErrorCode::kConfig);
    // The message never quotes the endpoint (it could carry user:password@).
    if (std::string(bad).size() > 8) {
      EXPECT_EQ(s.message().find(bad), std::string::npos) << bad;
    }
  }
  EXPECT_EQ(ValidateEndpoint("https://key:secret@host").message().find("secret@"),
            std::string::npos);
}

TEST(EndpointTest, PathStyleForAddressesAndLocalhost) {
  EXPECT_TRUE(UsesPathStyle("http://127.0.0.1:7480"));
  EXPECT_TRUE(UsesPathStyle("http://10.0.0.5"));
  EXPECT_TRUE(UsesPathStyle("http://[::1]:7480"));
  EXPECT_TRUE(UsesPathStyle("http://localhost:7480/"));
  EXPECT_TRUE(UsesPathStyle("http://LocalHost"));
  EXPECT_FALSE(UsesPathStyle("https://nyc3.digitaloceanspaces.com"));
  EXPECT_FALSE(UsesPathStyle("http://127.0.0.1.nip.io:7480"));
  EXPECT_FALSE(UsesPathStyle("http://localhost.example.com"));
  EXPECT_FALSE(UsesPathStyle("http://rgw:7480"));
}

TEST(EndpointTest, AuthorityAndNormalisation) {
  EXPECT_EQ(EndpointAuthority("http://127.0.0.1:7480/"), "127.0.0.1:7480");
  EXPECT_EQ(EndpointAuthority("https://nyc3.digitaloceanspaces.com"),
            "nyc3.digitaloceanspaces.com");
  EXPECT_EQ(EndpointAuthority("http://[::1]:7480"), "[::1]:7480");
  EXPECT_EQ(NormalizeEndpoint("http://h:1/"), "http://h:1");
  EXPECT_EQ(NormalizeEndpoint("http://h:1"), "http://h:1");
}

}  // namespace
}  // namespace spacesfs::auth

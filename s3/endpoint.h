// Endpoint: parsing "scheme://host[:port]" and building the URL, Host header and path for a
// bucket and key under path-style or virtual-hosted addressing.
//
// Pure functions and values; thread-safe.
// Errors: ParseEndpoint returns kConfig for anything that is not scheme://host[:port].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "s3/client_config.h"
#include "s3/sigv4.h"

namespace spacesfs::s3 {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // "127.0.0.1", "nyc3.digitaloceanspaces.com", "[::1]"
  int port = 0;        // 0 = the scheme's default
  bool default_port() const { return port == 0; }
  // "host" or "host:port" (the Host header value).
  std::string authority() const;
  // True for IPv4/IPv6 literals and "localhost".
  bool IsIpOrLocalhost() const;
};

// `endpoint` empty means https://REGION.digitaloceanspaces.com.
Result<Endpoint> ParseEndpoint(std::string_view endpoint, std::string_view region);

// Whether requests for `bucket` use path-style addressing.
bool UsePathStyle(const Endpoint& endpoint, std::string_view bucket, Addressing addressing);

// Where one request goes.
struct RequestTarget {
  std::string host;      // Host header value (with :port when not default)
  std::string raw_path;  // unencoded, for signing: "/bucket/key" or "/key"
  std::string url;       // full URL with the encoded path and the canonical query string
};

// key "" addresses the bucket itself (ListObjectsV2, ?uploads, ?delete).
RequestTarget MakeTarget(const Endpoint& endpoint, bool path_style, std::string_view bucket,
                         std::string_view key, const HeaderList& query);

}  // namespace spacesfs::s3

// Endpoint rules for credential profiles: the default DigitalOcean Spaces endpoint of a region,
// the accepted endpoint shape, and when path-style URLs must be used.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace spacesfs::auth {

// The region used to sign requests when a profile gives an endpoint but no region.
inline constexpr std::string_view kDefaultSigningRegion = "us-east-1";

// "nyc3" -> "https://nyc3.digitaloceanspaces.com".
std::string EndpointForRegion(std::string_view region);

// A region name: 1-32 characters of a-z 0-9 '-', starting with a letter.
bool IsValidRegion(std::string_view region);

// Accepts "http://host[:port]" or "https://host[:port]" with an optional trailing '/', where host
// is a DNS name, an IPv4 address or a bracketed IPv6 address. Refuses paths, queries, fragments and
// "user:password@" (so a secret can never hide in an endpoint). On error the message does not
// quote the endpoint.
Status ValidateEndpoint(std::string_view endpoint);

// The endpoint without a trailing '/'.
std::string NormalizeEndpoint(std::string_view endpoint);

// True when requests must use path-style URLs (http://host/SPACE/key) rather than virtual-hosted
// style (http://SPACE.host/key): the host is an IPv4 address, a bracketed IPv6 address or
// "localhost". Expects an endpoint that passed ValidateEndpoint.
bool UsesPathStyle(std::string_view endpoint);

// "host[:port]" of a valid endpoint ("127.0.0.1:7480", "nyc3.digitaloceanspaces.com").
std::string EndpointAuthority(std::string_view endpoint);

}  // namespace spacesfs::auth

#include "s3/endpoint.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

namespace spacesfs::s3 {
namespace {

Status Bad(std::string_view endpoint, std::string_view why) {
  return Status(ErrorCode::kConfig,
                "endpoint \"" + std::string(endpoint) + "\": " + std::string(why) +
                    " (expected scheme://host[:port])");
}

bool IsDnsCompatibleBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

}  // namespace

std::string Endpoint::authority() const {
  if (port == 0) return host;
  return host + ":" + std::to_string(port);
}

bool Endpoint::IsIpOrLocalhost() const {
  if (!host.empty() && host.front() == '[') return true;  // IPv6 literal
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1;
}

Result<Endpoint> ParseEndpoint(std::string_view endpoint, std::string_view region) {
  std::string owned;
  if (endpoint.empty()) {
    if (region.empty()) return Status(ErrorCode::kConfig, "neither endpoint nor region is set");
    owned = "https://" + std::string(region) + ".digitaloceanspaces.com";
    endpoint = owned;
  }
  Endpoint out;
  size_t sep = endpoint.find("://");
  if (sep == std::string_view::npos) return Bad(endpoint, "no scheme");
  for (char c : endpoint.substr(0, sep)) out.scheme.push_back(static_cast<char>(std::tolower(c)));
  if (out.scheme != "http" && out.scheme != "https") return Bad(endpoint, "scheme is not http(s)");
  std::string_view rest = endpoint.substr(sep + 3);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty()) return Bad(endpoint, "no host");
  if (rest.find_first_of("/?#@ \t\r\n") != std::string_view::npos) {
    return Bad(endpoint, "path, query, user info or spaces are not allowed");
  }
  std::string_view host = rest;
  std::string_view port;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Bad(endpoint, "unterminated IPv6 literal");
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Bad(endpoint, "junk after IPv6 literal");
      port = after.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
  }
  if (host.empty()) return Bad(endpoint, "no host");
  for (char c : host) out.host.push_back(static_cast<char>(std::tolower(c)));
  if (!port.empty() || rest.ends_with(':')) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
      return Bad(endpoint, "bad port");
    }
    bool is_default = (out.scheme == "http" && value == 80) || (out.scheme == "https" && value == 443);
    out.port = is_default ? 0 : value;
  }
  return out;
}

bool UsePathStyle(const Endpoint& endpoint, std::string_view bucket, Addressing addressing) {
  switch (addressing) {
    case Addressing::kPath:
      return true;
    case Addressing::kVirtualHosted:
      return false;
    case Addressing::kAuto:
      break;
  }
  if (endpoint.IsIpOrLocalhost()) return true;
  if (!IsDnsCompatibleBucket(bucket)) return true;
  return endpoint.scheme == "https" && bucket.find('.') != std::string_view::npos;
}

RequestTarget MakeTarget(const Endpoint& endpoint, bool path_style, std::string_view bucket,
                         std::string_view key, const HeaderList& query) {
  RequestTarget target;
  if (path_style) {
    target.host = endpoint.authority();
    target.raw_path = "/" + std::string(bucket);
    if (!key.empty()) target.raw_path += "/" + std::string(key);
  } else {
    target.host = std::string(bucket) + "." + endpoint.authority();
    target.raw_path = "/" + std::string(key);
  }
  target.url = endpoint.scheme + "://" + target.host + CanonicalUri(target.raw_path);
  if (!query.empty()) target.url += "?" + CanonicalQueryString(query);
  return target;
}

}  // namespace spacesfs::s3

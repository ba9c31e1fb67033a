#include "auth/endpoint.h"

#include <algorithm>
#include <cctype>

namespace spacesfs::auth {
namespace {

std::string_view StripScheme(std::string_view endpoint) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (endpoint.substr(0, scheme.size()) == scheme) return endpoint.substr(scheme.size());
  }
  return {};
}

// Splits "host[:port]" into host (brackets kept for IPv6) and port text.
void SplitAuthority(std::string_view authority, std::string_view* host, std::string_view* port) {
  size_t colon = authority.npos;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close != authority.npos && close + 1 < authority.size() && authority[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    colon = authority.find(':');
  }
  *host = authority.substr(0, colon);
  *port = colon == authority.npos ? std::string_view() : authority.substr(colon + 1);
}

bool IsIpv4(std::string_view s) {
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == s.npos ? s.npos : dot - start);
    if (part.empty() || part.size() > 3) return false;
    int value = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    ++parts;
    if (dot == s.npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

bool IsBracketedIpv6(std::string_view s) {
  if (s.size() < 4 || s.front() != '[' || s.back() != ']') return false;
  for (char c : s.substr(1, s.size() - 2)) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == s.npos ? s.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == s.npos) {
      // A numeric last label would make "256.1.1.1" a name; only real IPv4 addresses are numeric.
      return !std::all_of(label.begin(), label.end(),
                          [](char c) { return c >= '0' && c <= '9'; });
    }
    start = dot + 1;
  }
}

}  // namespace

std::string EndpointForRegion(std::string_view region) {
  return "https://" + std::string(region) + ".digitaloceanspaces.com";
}

bool IsValidRegion(std::string_view region) {
  if (region.empty() || region.size() > 32 || region.front() < 'a' || region.front() > 'z') {
    return false;
  }
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Status ValidateEndpoint(std::string_view endpoint) {
  const Status bad(ErrorCode::kConfig,
                   "endpoint must look like https://host[:port] or http://host[:port] "
                   "(no path, query or user:password@)");
  std::string_view authority = StripScheme(endpoint);
  if (authority.empty()) return bad;
  if (authority.back() == '/') authority.remove_suffix(1);
  std::string_view host, port;
  SplitAuthority(authority, &host, &port);
  if (!IsIpv4(host) && !IsBracketedIpv6(host) && !IsDnsName(host)) return bad;
  if (authority.size() != host.size()) {
    if (port.empty() || port.size() > 5) return bad;
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return bad;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return bad;
  }
  return Status::Ok();
}

std::string NormalizeEndpoint(std::string_view endpoint) {
  if (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  return std::string(endpoint);
}

std::string EndpointAuthority(std::string_view endpoint) {
  std::string_view authority = StripScheme(endpoint);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  return std::string(authority);
}

bool UsesPathStyle(std::string_view endpoint) {
  std::string authority = EndpointAuthority(endpoint);
  std::string_view host, port;
  SplitAuthority(authority, &host, &port);
  std::string lower;
  for (char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return IsIpv4(lower) || IsBracketedIpv6(lower) || lower == "localhost";
}

}  // namespace spacesfs::auth

#include "s3/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace spacesfs::s3 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool IsHeaderSpace(char c) { return c == ' ' || c == '\t'; }

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// OpenSSL's SHA-256/HMAC only fail on allocation failure; there is no sensible signature to
// return then, so this is fatal like any other out-of-memory condition.
[[noreturn]] void CryptoFailure(const char* what) {
  std::fprintf(stderr, "spacesfs: OpenSSL %s failed\n", what);
  std::abort();
}

// Names the signer sets itself; callers' entries with these names are dropped.
bool IsSignerOwnedHeader(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-content-sha256" || lower_name == "x-amz-security-token" ||
         lower_name == "authorization";
}

std::string_view PayloadHashOrEmpty(const std::string& payload_hash) {
  return payload_hash.empty() ? kEmptyPayloadSha256 : std::string_view(payload_hash);
}

}  // namespace

std::string UriEncode(std::string_view raw, bool keep_slash) {
  std::string out;
  out.reserve(raw.size() * 3);
  for (char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0x0F]);
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') return "/" + UriEncode(raw_path, true);
  return UriEncode(raw_path, true);
}

std::string CanonicalQueryString(const HeaderList& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string TrimHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsHeaderSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

CanonicalHeaderBlock CanonicalHeaders(const HeaderList& headers) {
  std::vector<std::pair<std::string, std::string>> lowered;
  lowered.reserve(headers.size());
  for (const auto& [name, value] : headers) lowered.emplace_back(Lower(name), TrimHeaderValue(value));
  // Stable: repeated names keep the order their values were given in.
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaderBlock block;
  for (size_t i = 0; i < lowered.size();) {
    const std::string& name = lowered[i].first;
    block.text += name;
    block.text.push_back(':');
    block.text += lowered[i].second;
    size_t j = i + 1;
    for (; j < lowered.size() && lowered[j].first == name; ++j) {
      block.text.push_back(',');
      block.text += lowered[j].second;
    }
    block.text.push_back('\n');
    if (!block.signed_names.empty()) block.signed_names.push_back(';');
    block.signed_names += name;
    i = j;
  }
  return block;
}

std::string CanonicalRequest(const RequestToSign& request, const HeaderList& all_signed_headers,
                             std::string_view signed_header_names) {
  const CanonicalHeaderBlock headers = CanonicalHeaders(all_signed_headers);
  std::string out;
  out += request.method;
  out.push_back('\n');
  out += CanonicalUri(request.raw_path);
  out.push_back('\n');
  out += CanonicalQueryString(request.query);
  out.push_back('\n');
  out += headers.text;
  out.push_back('\n');
  out += signed_header_names.empty() ? std::string_view(headers.signed_names) : signed_header_names;
  out.push_back('\n');
  out += PayloadHashOrEmpty(request.payload_hash);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view region,
                         std::string_view canonical_request, std::string_view service) {
  std::string out;
  out += kAlgorithm;
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += amz_date.substr(0, 8);
  out.push_back('/');
  out += region;
  out.push_back('/');
  out += service;
  out += "/aws4_request\n";
  out += Sha256Hex(canonical_request);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &mac_len) == nullptr) {
    CryptoFailure("HMAC-SHA256");
  }
  std::string out(reinterpret_cast<const char*>(mac), mac_len);
  OPENSSL_cleanse(mac, sizeof(mac));
  return out;
}

std::string SignatureHex(const Secret& secret_access_key, std::string_view amz_date,
                         std::string_view region, std::string_view string_to_sign,
                         std::string_view service) {
  std::string key = "AWS4";
  key += secret_access_key.reveal();
  std::string k_date = HmacSha256(key, amz_date.substr(0, 8));
  std::string k_region = HmacSha256(k_date, region);
  std::string k_service = HmacSha256(k_region, service);
  std::string k_signing = HmacSha256(k_service, "aws4_request");
  std::string signature = HexEncode(HmacSha256(k_signing, string_to_sign));
  for (std::string* s : {&key, &k_date, &k_region, &k_service, &k_signing}) WipeString(*s);
  return signature;
}

HeaderList SignRequest(const RequestToSign& request, const SigningKey& key, std::string_view region,
                       std::time_t now, std::string_view service) {
  const std::string amz_date = AmzDate(now);
  const std::string payload_hash(PayloadHashOrEmpty(request.payload_hash));

  HeaderList added;
  added.emplace_back("x-amz-date", amz_date);
  added.emplace_back("x-amz-content-sha256", payload_hash);
  if (!key.session_token.empty()) added.emplace_back("x-amz-security-token", key.session_token);

  HeaderList to_sign;
  to_sign.reserve(request.headers.size() + 4);
  for (const auto& header : request.headers) {
    if (!IsSignerOwnedHeader(Lower(header.first))) to_sign.push_back(header);
  }
  to_sign.emplace_back("host", request.host);
  to_sign.insert(to_sign.end(), added.begin(), added.end());

  const CanonicalHeaderBlock block = CanonicalHeaders(to_sign);
  const std::string canonical = CanonicalRequest(request, to_sign, block.signed_names);
  const std::string string_to_sign = StringToSign(amz_date, region, canonical, service);
  const std::string signature =
      SignatureHex(key.secret_access_key, amz_date, region, string_to_sign, service);

  std::string authorization;
  authorization += kAlgorithm;
  authorization += " Credential=";
  authorization += key.access_key_id;
  authorization.push_back('/');
  authorization += std::string_view(amz_date).substr(0, 8);
  authorization.push_back('/');
  authorization += region;
  authorization.push_back('/');
  authorization += service;
  authorization += "/aws4_request, SignedHeaders=";
  authorization += block.signed_names;
  authorization += ", Signature=";
  authorization += signature;
  added.emplace_back("Authorization", std::move(authorization));
  return added;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &digest_len, EVP_sha256(), nullptr) != 1) {
    CryptoFailure("SHA-256");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kHexLower[c >> 4]);
    out.push_back(kHexLower[c & 0x0F]);
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  auto value = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = value(hex[i]);
    int lo = value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  if (n < 0) CryptoFailure("base64");
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string AmzDate(std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

}  // namespace spacesfs::s3

// Fuzzes the SigV4 signer (s3/sigv4.h) with arbitrary paths, query parameters, headers, hosts,
// regions, key ids, session tokens and times, taken from the input with FuzzedDataProvider.
//
// Invariants (beyond "no crash, no sanitizer report"):
//   - UriEncode output holds only unreserved characters, upper-case %XX and ('/' when kept);
//   - CanonicalUri starts with '/' and URL-decodes back to the raw path ('/' prepended if absent);
//   - CanonicalQueryString has one "name=value" per parameter, sorted, decoding to the input;
//   - TrimHeaderValue leaves no leading/trailing/doubled blank and is idempotent;
//   - CanonicalHeaders lists each lower-cased (token) name once, sorted, one line per name;
//   - SignRequest returns x-amz-date, x-amz-content-sha256, [x-amz-security-token],
//     Authorization, in that order, with the documented Authorization shape; the signature is the
//     one the documented pieces (CanonicalRequest -> StringToSign -> SignatureHex) give; caller
//     headers named like the signer's own (any case) change nothing; the secret never appears in
//     what is returned; signing is deterministic.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "s3/sigv4.h"
#include "s3/xml_codec.h"

namespace spacesfs::s3 {
namespace {

// The planted secret. It is not taken from the input, but libFuzzer picks up the strings the
// harness compares against and can put it into any input field.
constexpr std::string_view kSecret = "fUzZsEcReT/K7MDENG+bPxRfiCYEXAMPLEKEY/0xS3cr";

bool IsUnreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '~';
}
bool IsUpperHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// RFC 9110 token characters: what an HTTP header name is made of.
bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.emplace_back(s.substr(start, at == s.npos ? s.npos : at - start));
    if (at == s.npos) return out;
    start = at + 1;
  }
}

void CheckEncoded(std::string_view raw, std::string_view encoded, bool keep_slash) {
  size_t raw_index = 0;
  for (size_t i = 0; i < encoded.size(); ++raw_index) {
    char c = encoded[i];
    if (c == '%') {
      FUZZ_CHECK(i + 2 < encoded.size() && IsUpperHex(encoded[i + 1]) &&
                     IsUpperHex(encoded[i + 2]),
                 "UriEncode: bad escape in " + std::string(encoded));
      i += 3;
    } else {
      FUZZ_CHECK(IsUnreserved(c) || (keep_slash && c == '/'),
                 "UriEncode: raw '" + std::string(1, c) + "' in " + std::string(encoded));
      ++i;
    }
  }
  FUZZ_CHECK(raw_index == raw.size(), "UriEncode: not one unit per input byte");
  Result<std::string> decoded = UrlDecode(encoded);
  FUZZ_CHECK(decoded.ok() && *decoded == raw, "UriEncode does not decode back");
}

void CheckUri(std::string_view raw_path) {
  CheckEncoded(raw_path, UriEncode(raw_path, false), false);
  CheckEncoded(raw_path, UriEncode(raw_path, true), true);
  std::string uri = CanonicalUri(raw_path);
  FUZZ_CHECK(!uri.empty() && uri.front() == '/', "CanonicalUri: no leading '/': " + uri);
  std::string expected = !raw_path.empty() && raw_path.front() == '/'
                             ? std::string(raw_path)
                             : "/" + std::string(raw_path);
  CheckEncoded(expected, uri, true);
}

void CheckQuery(const HeaderList& query) {
  std::string qs = CanonicalQueryString(query);
  if (query.empty()) {
    FUZZ_CHECK(qs.empty(), "CanonicalQueryString of nothing: " + qs);
    return;
  }
  std::vector<std::string> parts = Split(qs, '&');
  FUZZ_CHECK(parts.size() == query.size(), "CanonicalQueryString: wrong count: " + qs);
  FUZZ_CHECK(std::is_sorted(parts.begin(), parts.end(),
                            [](const std::string& a, const std::string& b) {
                              std::string_view an = std::string_view(a).substr(0, a.find('='));
                              std::string_view bn = std::string_view(b).substr(0, b.find('='));
                              return an != bn ? an < bn : a < b;
                            }),
             "CanonicalQueryString: not sorted: " + qs);
  std::multiset<std::pair<std::string, std::string>> got, want(query.begin(), query.end());
  for (const std::string& part : parts) {
    size_t eq = part.find('=');
    FUZZ_CHECK(eq != std::string::npos && part.find('=', eq + 1) == std::string::npos,
               "CanonicalQueryString: parameter without exactly one '=': " + qs);
    Result<std::string> name = UrlDecode(part.substr(0, eq));
    Result<std::string> value = UrlDecode(part.substr(eq + 1));
    FUZZ_CHECK(name.ok() && value.ok(), "CanonicalQueryString: bad escape: " + qs);
    CheckEncoded(*name, part.substr(0, eq), false);
    CheckEncoded(*value, part.substr(eq + 1), false);
    got.emplace(std::move(*name), std::move(*value));
  }
  FUZZ_CHECK(got == want, "CanonicalQueryString does not decode to its parameters: " + qs);
}

void CheckHeaders(const HeaderList& headers) {
  for (const auto& [name, value] : headers) {
    std::string trimmed = TrimHeaderValue(value);
    FUZZ_CHECK(trimmed.find('\t') == std::string::npos, "TrimHeaderValue kept a tab");
    FUZZ_CHECK(trimmed.find("  ") == std::string::npos, "TrimHeaderValue kept a double space");
    FUZZ_CHECK(trimmed.empty() || (trimmed.front() != ' ' && trimmed.back() != ' '),
               "TrimHeaderValue kept an outer space: [" + trimmed + "]");
    FUZZ_CHECK(TrimHeaderValue(trimmed) == trimmed, "TrimHeaderValue is not idempotent");
  }
  CanonicalHeaderBlock block = CanonicalHeaders(headers);
  bool tokens = std::all_of(headers.begin(), headers.end(), [](const auto& h) {
    return IsToken(h.first) && h.second.find('\n') == std::string::npos;
  });
  if (!tokens) return;  // names with ';' or ':', values with LF cannot be told apart; not HTTP
  std::set<std::string> names;
  for (const auto& h : headers) names.insert(Lower(h.first));
  std::vector<std::string> signed_names = Split(block.signed_names, ';');
  if (headers.empty()) {
    FUZZ_CHECK(block.signed_names.empty() && block.text.empty(), "CanonicalHeaders of nothing");
    return;
  }
  FUZZ_CHECK(std::vector<std::string>(names.begin(), names.end()) == signed_names,
             "CanonicalHeaders: signed names " + block.signed_names);
  std::vector<std::string> lines = Split(block.text, '\n');
  FUZZ_CHECK(lines.size() == names.size() + 1 && lines.back().empty(),
             "CanonicalHeaders: not one line per name: " + block.text);
  size_t i = 0;
  for (const std::string& name : names) {
    FUZZ_CHECK(lines[i].substr(0, name.size() + 1) == name + ":",
               "CanonicalHeaders: line " + lines[i] + " for " + name);
    ++i;
  }
}

bool IsSignerOwned(std::string_view name) {
  std::string lower = Lower(name);
  return lower == "host" || lower == "x-amz-date" || lower == "x-amz-content-sha256" ||
         lower == "x-amz-security-token" || lower == "authorization";
}

void CheckSign(const RequestToSign& request, const SigningKey& key, const std::string& region,
               std::time_t now, std::string_view extra_value) {
  HeaderList out = SignRequest(request, key, region, now);
  const std::string amz_date = AmzDate(now);
  const std::string payload_hash = request.payload_hash.empty()
                                       ? std::string(kEmptyPayloadSha256)
                                       : request.payload_hash;
  size_t expected = key.session_token.empty() ? 3 : 4;
  FUZZ_CHECK(out.size() == expected, "SignRequest: wrong number of headers");
  FUZZ_CHECK(out[0].first == "x-amz-date" && out[0].second == amz_date, "x-amz-date");
  FUZZ_CHECK(out[1].first == "x-amz-content-sha256" && out[1].second == payload_hash,
             "x-amz-content-sha256");
  if (!key.session_token.empty()) {
    FUZZ_CHECK(out[2].first == "x-amz-security-token" && out[2].second == key.session_token,
               "x-amz-security-token");
  }
  const std::string& authorization = out.back().second;
  FUZZ_CHECK(out.back().first == "Authorization", "no Authorization last");
  // Inputs are sent as given: the session token in x-amz-security-token, the payload hash in
  // x-amz-content-sha256, the key id and region in Authorization. The fuzzer learns the secret's
  // text from the comparisons below and may put it in any of them; that echo is no leak.
  auto holds_secret = [](std::string_view s) { return s.find(kSecret) != std::string::npos; };
  for (const auto& [name, value] : out) {
    bool echoed = (name == "x-amz-security-token" && holds_secret(key.session_token)) ||
                  (name == "x-amz-content-sha256" && holds_secret(payload_hash)) ||
                  (name == "Authorization" &&
                   (holds_secret(key.access_key_id) || holds_secret(region)));
    FUZZ_CHECK(echoed || !holds_secret(value), "the secret is in header " + name);
    FUZZ_CHECK(name.find(kSecret) == std::string::npos, "the secret is in a header name");
  }

  // The documented composition.
  HeaderList to_sign;
  for (const auto& h : request.headers) {
    if (!IsSignerOwned(h.first)) to_sign.push_back(h);
  }
  to_sign.emplace_back("host", request.host);
  to_sign.emplace_back("x-amz-date", amz_date);
  to_sign.emplace_back("x-amz-content-sha256", payload_hash);
  if (!key.session_token.empty()) to_sign.emplace_back("x-amz-security-token", key.session_token);
  CanonicalHeaderBlock block = CanonicalHeaders(to_sign);
  std::string canonical = CanonicalRequest(request, to_sign, "");
  FUZZ_CHECK(canonical == CanonicalRequest(request, to_sign, block.signed_names),
             "CanonicalRequest: computed signed names differ from CanonicalHeaders'");
  std::string signature = SignatureHex(key.secret_access_key, amz_date, region,
                                       StringToSign(amz_date, region, canonical));
  std::string want = "AWS4-HMAC-SHA256 Credential=" + key.access_key_id + "/" +
                     amz_date.substr(0, 8) + "/" + region +
                     "/s3/aws4_request, SignedHeaders=" + block.signed_names +
                     ", Signature=" + signature;
  FUZZ_CHECK(authorization == want, "Authorization: " + authorization + "\nwant: " + want);
  FUZZ_CHECK(signature.size() == 64 &&
                 std::all_of(signature.begin(), signature.end(),
                             [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }),
             "signature is not 64 lower-case hex digits");
  for (std::string_view name : {"host", "x-amz-date", "x-amz-content-sha256"}) {
    std::vector<std::string> names = Split(block.signed_names, ';');
    FUZZ_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
               "SignedHeaders lacks " + std::string(name));
  }
  if (now >= 0 && now <= 253402300799) {  // years 1970..9999
    FUZZ_CHECK(amz_date.size() == 16 && amz_date[8] == 'T' && amz_date[15] == 'Z',
               "AmzDate: " + amz_date);
  }

  // Deterministic, and the caller cannot override the signer's own headers.
  FUZZ_CHECK(SignRequest(request, key, region, now) == out, "SignRequest is not deterministic");
  RequestToSign overridden = request;
  for (std::string name : {"Host", "X-AMZ-DATE", "x-amz-content-SHA256", "authorization",
                           "X-Amz-Security-Token"}) {
    overridden.headers.emplace_back(name, std::string(extra_value));
  }
  FUZZ_CHECK(SignRequest(overridden, key, region, now) == out,
             "a caller header named like a signer header changed the signature");
}

}  // namespace
}  // namespace spacesfs::s3

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spacesfs::s3;
  FuzzedDataProvider in(data, size);
  RequestToSign request;
  request.method = in.PickValueInArray({"GET", "PUT", "HEAD", "POST", "DELETE", ""});
  request.raw_path = in.ConsumeRandomLengthString(1024);
  request.host = in.ConsumeRandomLengthString(128);
  for (int n = in.ConsumeIntegralInRange(0, 8); n > 0; --n) {
    std::string name = in.ConsumeRandomLengthString(64);
    request.query.emplace_back(std::move(name), in.ConsumeRandomLengthString(128));
  }
  for (int n = in.ConsumeIntegralInRange(0, 8); n > 0; --n) {
    std::string name = in.ConsumeRandomLengthString(64);
    request.headers.emplace_back(std::move(name), in.ConsumeRandomLengthString(128));
  }
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: request.payload_hash = ""; break;
    case 1: request.payload_hash = std::string(kUnsignedPayload); break;
    case 2: request.payload_hash = Sha256Hex(request.raw_path); break;
    default: request.payload_hash = in.ConsumeRandomLengthString(80);
  }
  SigningKey key;
  key.access_key_id = in.ConsumeRandomLengthString(64);
  key.session_token = in.ConsumeBool() ? in.ConsumeRandomLengthString(256) : "";
  key.secret_access_key = spacesfs::Secret(std::string(kSecret));
  std::string region = in.ConsumeRandomLengthString(32);
  std::time_t now = in.ConsumeBool() ? static_cast<std::time_t>(in.ConsumeIntegral<int64_t>())
                                     : static_cast<std::time_t>(in.ConsumeIntegralInRange<int64_t>(
                                           0, 253402300799));
  std::string extra = in.ConsumeRandomLengthString(32);

  CheckUri(request.raw_path);
  CheckQuery(request.query);
  CheckHeaders(request.headers);
  CheckSign(request, key, region, now, extra);

  std::string rest = in.ConsumeRemainingBytesAsString();
  FUZZ_CHECK(HexEncode(rest).size() == 2 * rest.size(), "HexEncode length");
  FUZZ_CHECK(Base64Encode(rest).size() == 4 * ((rest.size() + 2) / 3), "Base64Encode length");
  FUZZ_CHECK(Sha256Hex(rest).size() == 64, "Sha256Hex length");
  return 0;
}

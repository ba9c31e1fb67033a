// AWS Signature Version 4 for S3, header-based ("Authorization: AWS4-HMAC-SHA256 ..."), with OpenSSL.
//
// S3's canonical URI rules: each path segment is URI-encoded once (RFC 3986 unreserved characters
// kept, everything else %XX upper-case), '/' kept, and no normalisation: "//", "." and ".." stay.
// Query parameters are sorted by encoded name then value; a sub-resource without a value is "name=".
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"

namespace spacesfs::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SigningKey {
  std::string access_key_id;
  Secret secret_access_key;
  std::string session_token;  // "" when not using temporary credentials
};

struct RequestToSign {
  std::string method;          // "GET", "PUT", ...
  std::string host;            // Host header value, with ":port" when not the scheme's default
  std::string raw_path;        // unencoded, starting with '/': "/bucket/photos/a b.jpg"
  HeaderList query;            // unencoded name/value pairs; value "" for "?uploads"
  HeaderList headers;          // headers to sign besides host/x-amz-date/x-amz-content-sha256
  std::string payload_hash;    // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// "UNSIGNED-PAYLOAD", and the SHA-256 of the empty string.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// URI-encodes per SigV4: unreserved characters A-Z a-z 0-9 - _ . ~ are kept; '/' is kept when
// keep_slash is true; every other byte becomes %XX.
std::string UriEncode(std::string_view raw, bool keep_slash);

// The path as sent on the wire and signed: UriEncode(raw_path, keep_slash=true).
std::string CanonicalUri(std::string_view raw_path);
// "a=1&b=&c=x%20y": sorted, encoded, ready for both the URL and the canonical request.
std::string CanonicalQueryString(const HeaderList& query);

// The exact canonical request, string to sign and signature (for tests and debugging).
// CanonicalRequest: all_signed_headers is every signed header (host, x-amz-date, ... included),
// canonicalised by CanonicalHeaders; signed_header_names is used as given ("" = computed from
// all_signed_headers). payload_hash "" is taken as kEmptyPayloadSha256.
// StringToSign: "AWS4-HMAC-SHA256\n<amz_date>\n<yyyymmdd>/<region>/<service>/aws4_request\n<hex sha256>".
std::string CanonicalRequest(const RequestToSign& request, const HeaderList& all_signed_headers,
                             std::string_view signed_header_names);
std::string StringToSign(std::string_view amz_date, std::string_view region,
                         std::string_view canonical_request, std::string_view service = "s3");

// Returns the headers to add to the request: x-amz-date, x-amz-content-sha256,
// x-amz-security-token (if any) and Authorization. `now` is a Unix time.
// Signed: host, x-amz-date, x-amz-content-sha256, x-amz-security-token (with a session token) and
// every header of request.headers. Entries of request.headers named host, x-amz-date,
// x-amz-content-sha256, x-amz-security-token or authorization (any case) are ignored: the signer's
// own values are the ones sent. An empty payload_hash is taken as kEmptyPayloadSha256.
// Authorization: "AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=<names>, Signature=<hex>".
HeaderList SignRequest(const RequestToSign& request, const SigningKey& key, std::string_view region,
                       std::time_t now, std::string_view service = "s3");

// --- Additions: the pieces SignRequest is built from, exposed for tests and for callers that need
// one step (all pure, thread-safe). ---

// A header value as signed: leading/trailing spaces and tabs removed, every inner run of spaces and
// tabs collapsed to one space ("  a   b " -> "a b").
std::string TrimHeaderValue(std::string_view value);

// The canonical headers of a request: names lower-cased, values trimmed (TrimHeaderValue), sorted
// by name; a name given more than once is listed once with its values joined by ',' in the order
// given. `text` is "name:value\n" per header (the block of the canonical request, without the blank
// line after it); `signed_names` is "host;range;x-amz-date".
struct CanonicalHeaderBlock {
  std::string text;
  std::string signed_names;
};
CanonicalHeaderBlock CanonicalHeaders(const HeaderList& headers);

// Raw (32-byte) HMAC-SHA256 of data under key.
std::string HmacSha256(std::string_view key, std::string_view data);

// Lower-case hex signature of a string to sign: HMAC chain "AWS4"+secret -> date (first 8 characters
// of amz_date) -> region -> service -> "aws4_request", then HMAC of string_to_sign.
std::string SignatureHex(const Secret& secret_access_key, std::string_view amz_date,
                         std::string_view region, std::string_view string_to_sign,
                         std::string_view service = "s3");

// Hex helpers over OpenSSL, used by the client for payload hashes and Content-MD5.
std::string Sha256Hex(std::string_view data);
std::string HexEncode(std::string_view bytes);
// The bytes of hex digits (either case); empty for an odd length or a non-hex character.
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// "20130524T000000Z"
std::string AmzDate(std::time_t now);

}  // namespace spacesfs::s3

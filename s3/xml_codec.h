// Parsing of S3 XML responses and building of XML request bodies, over tinyxml2.
//
// Every parser returns kCorrupt with a one-line message naming what was wrong ("ListBucketResult:
// missing <Key> in <Contents>", "not XML: ...") for malformed, truncated or unexpected input, and
// never crashes or allocates without bound beyond the input size. Keys and prefixes of
// ListObjectsV2 / ListMultipartUploads are URL-decoded when the response says
// <EncodingType>url</EncodingType>.
//
// Input limits and strictness (all violations are kCorrupt):
//   - bodies over kMaxXmlBodyBytes or with more than kMaxXmlMarkup '<', bodies containing a NUL
//     byte, more than one root element, elements nested deeper than tinyxml2's limit (100);
//   - a field read by a parser that appears twice in its parent ("duplicate <Size> in <Contents>");
//   - a field that holds child elements where text is expected;
//   - numbers with a sign, non-digits or a value above INT64_MAX (sizes fit off_t);
//   - booleans other than "true"/"false"; timestamps that ParseIso8601 refuses;
//   - an empty <Key> / <Prefix> (S3 keys are never empty; tinyxml2 drops whitespace-only text,
//     so a whitespace-only key sent without encoding-type=url arrives empty and is refused
//     rather than silently renamed);
//   - IsTruncated true without the marker needed to continue (NextContinuationToken,
//     NextKeyMarker), which would otherwise loop or end a listing early.
// Leading/trailing XML whitespace is trimmed from numbers, booleans, timestamps and the
// EncodingType value, never from keys, prefixes, ETags or tokens. Unknown elements are ignored.
// Any parser given an <Error> document (S3 may answer 200 with one) returns that server error as
// a Status (see StatusFromErrorBody), not kCorrupt.
//
// URL decoding (encoding-type=url). When the response carries <EncodingType>url</EncodingType>,
// these fields are decoded (the ones AWS encodes; botocore decodes the same):
//   ListObjectsV2:        Contents/Key, CommonPrefixes/Prefix.
//   ListMultipartUploads: Upload/Key, NextKeyMarker (but see the two-argument overload below).
// NextContinuationToken and NextUploadIdMarker are opaque and never decoded. The echoed request
// values (Prefix, Delimiter, StartAfter, KeyMarker) are not read. Recorded radosgw 16.2 bodies
// (tests/data/xml/rgw/) show why: with encoding-type=url it encodes Key (including '/') and
// CommonPrefixes/Prefix (keeping '/'), but echoes Prefix, Delimiter and StartAfter raw, and its
// NextContinuationToken is the raw name of the last key returned (a newline included), which the
// caller must percent-encode when sending it back.
// '+' decodes to a space: AWS S3 encodes a space as '+' (botocore decodes with unquote_plus),
// and radosgw (rgw_common.cc url_encode) writes every byte <= 0x20 or >= 0x7f and each of
// " # % & + , : ; < = > ? @ [ \ ] ^ ` { } (and sometimes '/') as %XX, so neither server emits a
// literal '+' for a '+' in a key, and reading '+' as a space is right for both (the recordings
// show "plus%2Bsign.txt" and "with%20space.txt").
//
// Request bodies and control characters. XML 1.0 cannot carry U+0000-U+0008, U+000B, U+000C,
// U+000E-U+001F, U+FFFE, U+FFFF (not even as &#N; references) nor invalid UTF-8. The builders
// escape & < > as entities and TAB, LF, CR as &#9; &#10; &#13; (so CR survives end-of-line
// normalisation). A key that fails FitsXmlRequest is still written (as a &#N; reference or the
// raw byte), which makes a conforming server refuse the whole body with 400 MalformedXML: the
// request fails loudly (kBadRequest) and never deletes a different key. Callers of DeleteObjects
// must therefore send such keys with single DeleteObject requests (the key then travels
// percent-encoded in the URL): check each key with FitsXmlRequest first.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "s3/object_client.h"

namespace spacesfs::s3 {

// Largest response body any parser accepts. A 1,000-entry ListObjectsV2 page of 1,024-byte keys
// that are fully %XX-encoded is about 3.5 MiB; bodies above this limit are kCorrupt. HTTP code
// may use it to stop buffering early.
inline constexpr size_t kMaxXmlBodyBytes = size_t{16} << 20;
// Most '<' characters (tags, comments, CDATA starts) a body may hold; more is kCorrupt before
// any tree is built. A 1,000-entry radosgw listing page has about 30,000. With this cap a
// hostile body costs at most about 50 MB of tinyxml2 nodes (measured) plus two copies of the
// body, and well under a second to parse.
inline constexpr size_t kMaxXmlMarkup = 200'000;

// The <Error> body S3 sends with a failure status (and sometimes with 200 on Complete/Copy).
struct S3ErrorBody {
  std::string code;  // "NoSuchKey"
  std::string message;
  std::string request_id;
  std::string host_id;  // radosgw and AWS both send <HostId>; "" when absent
};

// nullopt when the body is not an S3 <Error> document (not XML, another root, over the size
// limit). An <Error> without <Code> gives an empty code.
std::optional<S3ErrorBody> ParseErrorBody(std::string_view xml);

// Maps an HTTP status and S3 error code to an ErrorCode (403 SignatureDoesNotMatch -> kAuthFailed,
// 403 AccessDenied -> kAccessDenied, 404 -> kNotFound, 412 -> kPreconditionFailed,
// 503 SlowDown / 429 -> kThrottled, other 5xx -> kServerError, other 4xx -> kBadRequest).
// Details: the credential codes SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed,
// ExpiredToken, InvalidToken, TokenRefreshRequired, AuthorizationHeaderMalformed,
// InvalidSecurity are kAuthFailed with 400 or 403, and 401 is kAuthFailed; 503 SlowDown and
// any status with code SlowDown are kThrottled. A status below 400 (an <Error> inside a 200
// answer, or a per-key <Error> of DeleteObjects) is classified by the code alone: NoSuchKey,
// NoSuchUpload, NoSuchBucket -> kNotFound; AccessDenied -> kAccessDenied; PreconditionFailed ->
// kPreconditionFailed; SlowDown -> kThrottled; credential codes -> kAuthFailed; InvalidPart,
// InvalidPartOrder, EntityTooSmall, EntityTooLarge, InvalidArgument, InvalidRequest,
// MalformedXML, InvalidDigest, BadDigest, KeyTooLongError -> kBadRequest; anything else
// (InternalError, ServiceUnavailable, unknown codes) -> kServerError.
ErrorCode ClassifyServerError(int http_status, std::string_view s3_code);

// The Status for an S3 <Error> document received with http_status (200 for an error inside a
// successful answer): Status::FromServer(ClassifyServerError(...), http_status, code, message,
// request_id). An empty message becomes the code.
Status StatusFromErrorBody(int http_status, const S3ErrorBody& body);
// The Status for a failed HTTP response (status >= 300) and its body. When the body is not an
// <Error> document (HEAD has none; proxies send HTML) the status is classified with an empty
// code and the message says "HTTP <status> without an S3 error body".
Status StatusFromErrorResponse(int http_status, std::string_view body);

Result<ListObjectsPage> ParseListObjectsV2(std::string_view xml);
Result<ListMultipartUploadsPage> ParseListMultipartUploads(std::string_view xml);
// For a response to a request that asked for encoding-type=url: Upload/Key is decoded even when
// the response does not say <EncodingType>url</EncodingType>, because radosgw (16.2) encodes the
// keys without saying so (and leaves NextKeyMarker raw, so NextKeyMarker is still decoded only
// when the response says so). Use this overload whenever the request carried encoding-type=url.
Result<ListMultipartUploadsPage> ParseListMultipartUploads(std::string_view xml,
                                                           bool requested_url_encoding);
// <InitiateMultipartUploadResult><UploadId>
Result<std::string> ParseInitiateMultipartUpload(std::string_view xml);
// <CompleteMultipartUploadResult><ETag>; an <Error> body (S3 may send one with 200) is an error.
// radosgw (16.2) sends <ETag></ETag>: the result is then "" (the upload did complete; HEAD the
// object if its ETag is needed). A missing <ETag> element is kCorrupt.
Result<std::string> ParseCompleteMultipartUpload(std::string_view xml);
// <CopyObjectResult> or <CopyPartResult><ETag>; an <Error> body with 200 is an error.
// radosgw sends this ETag without its double quotes; it is returned quoted, like every ETag
// these parsers return (ObjectInfo::etag included), so ETags from any source compare equal.
Result<std::string> ParseCopyResult(std::string_view xml);
// <DeleteResult>: the <Error> entries (deleted keys are not reported: Quiet mode). Each entry's
// status is StatusFromErrorBody(200, {Code, Message}); <Deleted> entries, if a server sends
// them anyway, are ignored.
Result<std::vector<DeleteError>> ParseDeleteResult(std::string_view xml);

// True when key can travel in an XML 1.0 request body: valid UTF-8 (no overlong forms, no
// surrogates) without the characters XML 1.0 forbids (see the top of this file).
bool FitsXmlRequest(std::string_view key);

std::string BuildDeleteObjectsXml(const std::vector<std::string>& keys);  // <Quiet>true</Quiet>
std::string BuildCompleteMultipartXml(const std::vector<CompletedPart>& parts);

// "2026-11-28T17:36:17.000Z" -> Unix ns; kCorrupt if malformed.
// Accepts YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, and "Z" or a +HH:MM /
// -HH:MM offset. Years 1678..2261 (what int64 nanoseconds hold).
Result<int64_t> ParseIso8601(std::string_view text);
// "Sat, 28 Nov 2026 17:36:17 GMT" (Last-Modified header) -> Unix ns; kCorrupt if malformed.
// IMF-fixdate only (RFC 9110 5.6.7; the obsolete RFC 850 and asctime forms are refused).
Result<int64_t> ParseHttpDate(std::string_view text);
// Decodes %XX and '+' as produced by encoding-type=url; kCorrupt on a malformed escape.
// '+' is a space (see the top of this file); hex digits may be either case.
Result<std::string> UrlDecode(std::string_view text);

}  // namespace spacesfs::s3

// Parsing of S3 XML responses and building of XML request bodies, over tinyxml2.
//
// Every parser returns kCorrupt with a one-line message naming what was wrong ("ListBucketResult:
// missing <Key> in <Contents>", "not XML: ...") for malformed, truncated or unexpected input, and
// never crashes or allocates without bound beyond the input size. Keys and prefixes of
// ListObjectsV2 / ListMultipartUploads are URL-decoded when the response says
// <EncodingType>url</EncodingType>.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "s3/object_client.h"

namespace spacesfs::s3 {

// The <Error> body S3 sends with a failure status (and sometimes with 200 on Complete/Copy).
struct S3ErrorBody {
  std::string code;        // "NoSuchKey"
  std::string message;
  std::string request_id;
};

// nullopt when the body is not an S3 <Error> document.
std::optional<S3ErrorBody> ParseErrorBody(std::string_view xml);

// Maps an HTTP status and S3 error code to an ErrorCode (403 SignatureDoesNotMatch -> kAuthFailed,
// 403 AccessDenied -> kAccessDenied, 404 -> kNotFound, 412 -> kPreconditionFailed,
// 503 SlowDown / 429 -> kThrottled, other 5xx -> kServerError, other 4xx -> kBadRequest).
ErrorCode ClassifyServerError(int http_status, std::string_view s3_code);

Result<ListObjectsPage> ParseListObjectsV2(std::string_view xml);
Result<ListMultipartUploadsPage> ParseListMultipartUploads(std::string_view xml);
// <InitiateMultipartUploadResult><UploadId>
Result<std::string> ParseInitiateMultipartUpload(std::string_view xml);
// <CompleteMultipartUploadResult><ETag>; an <Error> body (S3 may send one with 200) is an error
Result<std::string> ParseCompleteMultipartUpload(std::string_view xml);
// <CopyObjectResult> or <CopyPartResult><ETag>; an <Error> body with 200 is an error
Result<std::string> ParseCopyResult(std::string_view xml);
// <DeleteResult>: the <Error> entries (deleted keys are not reported: Quiet mode)
Result<std::vector<DeleteError>> ParseDeleteResult(std::string_view xml);

std::string BuildDeleteObjectsXml(const std::vector<std::string>& keys);  // <Quiet>true</Quiet>
std::string BuildCompleteMultipartXml(const std::vector<CompletedPart>& parts);

// "2026-11-28T17:36:17.000Z" -> Unix ns; kCorrupt if malformed.
Result<int64_t> ParseIso8601(std::string_view text);
// "Sat, 28 Nov 2026 17:36:17 GMT" (Last-Modified header) -> Unix ns; kCorrupt if malformed.
Result<int64_t> ParseHttpDate(std::string_view text);
// Decodes %XX and '+' as produced by encoding-type=url; kCorrupt on a malformed escape.
Result<std::string> UrlDecode(std::string_view text);

}  // namespace spacesfs::s3

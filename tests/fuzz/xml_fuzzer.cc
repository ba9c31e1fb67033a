// Fuzzes every parser of s3/xml_codec.h with the same input (an S3 response body as a hostile or
// broken server could send it), and the scalar parsers and UrlDecode with the raw bytes.
//
// Invariants (beyond "no crash, no sanitizer report, no unbounded allocation"):
//   - a failure is never kOk, and a kCorrupt message is non-empty and one line;
//   - a successful ListObjectsV2 page has no empty key or common prefix, quoted or empty ETags,
//     sizes that fit off_t, and a continuation token whenever it is truncated;
//   - a successful ListMultipartUploads page (both overloads) has non-empty keys and upload ids,
//     and a key marker whenever it is truncated;
//   - an <Error> document (ParseErrorBody succeeds) makes every result parser fail with that
//     server error (HTTP status 200, the same S3 code), and StatusFromErrorResponse carries it;
//   - Initiate returns a non-empty upload id, Copy a non-empty quoted ETag, Complete "" or a
//     quoted ETag, DeleteResult entries with a key and a failed status;
//   - ParseIso8601: "Z" and "+00:00" give the same instant; ParseHttpDate: the instant formats
//     back to the same IMF-fixdate (date part);
//   - UrlDecode(UriEncode(x)) == x for any bytes x, UrlDecode never lengthens its input;
//   - a key that FitsXmlRequest survives BuildDeleteObjectsXml -> XML parser unchanged.
#include <tinyxml2.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "s3/sigv4.h"
#include "s3/xml_codec.h"

namespace spacesfs::s3 {
namespace {

using fuzz::IsOneLine;

bool IsQuotedOrEmpty(std::string_view etag) {
  return etag.empty() || (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"');
}

// Common to every failed result: a real failure with a usable message, on one line for the
// document parsers (the scalar parsers quote their input, which the document parsers trim).
void CheckFailure(const Status& status, std::string_view what, bool one_line = true) {
  FUZZ_CHECK(!status.ok(), what);
  if (status.code() == ErrorCode::kCorrupt && one_line) {
    FUZZ_CHECK(!status.message().empty(), what);
    FUZZ_CHECK(IsOneLine(status.message()), std::string(what) + ": " + status.message());
  }
}

// When the body is an <Error> document, every result parser must return that error.
void CheckServerError(const Status& status, const std::optional<S3ErrorBody>& error,
                      std::string_view what) {
  if (!error.has_value()) return;
  FUZZ_CHECK(!status.ok(), what);
  FUZZ_CHECK(status.code() != ErrorCode::kCorrupt, std::string(what) + ": " + status.message());
  FUZZ_CHECK(status.http_status() == 200, what);
  FUZZ_CHECK(status.s3_code() == EscapeControlCharacters(error->code), what);
}

void CheckListObjects(std::string_view xml, const std::optional<S3ErrorBody>& error) {
  Result<ListObjectsPage> page = ParseListObjectsV2(xml);
  if (!page.ok()) {
    CheckFailure(page.status(), "ParseListObjectsV2");
    CheckServerError(page.status(), error, "ParseListObjectsV2");
    return;
  }
  FUZZ_CHECK(!error.has_value(), "ParseListObjectsV2 accepted an <Error> document");
  for (const ObjectInfo& o : page->objects) {
    FUZZ_CHECK(!o.key.empty(), "ParseListObjectsV2: empty key");
    FUZZ_CHECK(IsQuotedOrEmpty(o.etag), "ParseListObjectsV2: unquoted ETag " + o.etag);
    FUZZ_CHECK(o.size <= static_cast<uint64_t>(INT64_MAX), "ParseListObjectsV2: size > off_t");
  }
  for (const std::string& p : page->common_prefixes) {
    FUZZ_CHECK(!p.empty(), "ParseListObjectsV2: empty common prefix");
  }
  FUZZ_CHECK(!page->is_truncated || !page->next_continuation_token.empty(),
             "ParseListObjectsV2: truncated without a continuation token");
}

void CheckUploadsPage(const Result<ListMultipartUploadsPage>& page,
                      const std::optional<S3ErrorBody>& error, std::string_view what) {
  if (!page.ok()) {
    CheckFailure(page.status(), what);
    CheckServerError(page.status(), error, what);
    return;
  }
  FUZZ_CHECK(!error.has_value(), std::string(what) + " accepted an <Error> document");
  for (const MultipartUpload& u : page->uploads) {
    FUZZ_CHECK(!u.key.empty(), std::string(what) + ": empty key");
    FUZZ_CHECK(!u.upload_id.empty(), std::string(what) + ": empty upload id");
  }
  FUZZ_CHECK(!page->is_truncated || !page->next_key_marker.empty(),
             std::string(what) + ": truncated without a key marker");
}

void CheckListUploads(std::string_view xml, const std::optional<S3ErrorBody>& error) {
  Result<ListMultipartUploadsPage> plain = ParseListMultipartUploads(xml);
  Result<ListMultipartUploadsPage> plain_again = ParseListMultipartUploads(xml, false);
  Result<ListMultipartUploadsPage> requested = ParseListMultipartUploads(xml, true);
  CheckUploadsPage(plain, error, "ParseListMultipartUploads(xml)");
  CheckUploadsPage(requested, error, "ParseListMultipartUploads(xml, true)");
  // The one-argument overload is the two-argument one with false.
  FUZZ_CHECK(plain.ok() == plain_again.ok(), "ParseListMultipartUploads overloads disagree");
  if (plain.ok() && requested.ok()) {
    FUZZ_CHECK(plain->uploads.size() == requested->uploads.size(),
               "ParseListMultipartUploads: decoding changed the number of uploads");
    FUZZ_CHECK(plain->next_upload_id_marker == requested->next_upload_id_marker,
               "ParseListMultipartUploads: upload id marker depends on requested decoding");
  }
}

void CheckEtagResults(std::string_view xml, const std::optional<S3ErrorBody>& error) {
  Result<std::string> initiate = ParseInitiateMultipartUpload(xml);
  if (initiate.ok()) {
    FUZZ_CHECK(!initiate->empty(), "ParseInitiateMultipartUpload: empty upload id");
  } else {
    CheckFailure(initiate.status(), "ParseInitiateMultipartUpload");
    CheckServerError(initiate.status(), error, "ParseInitiateMultipartUpload");
  }
  Result<std::string> complete = ParseCompleteMultipartUpload(xml);
  if (complete.ok()) {
    FUZZ_CHECK(IsQuotedOrEmpty(*complete), "ParseCompleteMultipartUpload: " + *complete);
  } else {
    CheckFailure(complete.status(), "ParseCompleteMultipartUpload");
    CheckServerError(complete.status(), error, "ParseCompleteMultipartUpload");
  }
  Result<std::string> copy = ParseCopyResult(xml);
  if (copy.ok()) {
    FUZZ_CHECK(!copy->empty() && IsQuotedOrEmpty(*copy), "ParseCopyResult: " + *copy);
  } else {
    CheckFailure(copy.status(), "ParseCopyResult");
    CheckServerError(copy.status(), error, "ParseCopyResult");
  }
  Result<std::vector<DeleteError>> deleted = ParseDeleteResult(xml);
  if (deleted.ok()) {
    for (const DeleteError& e : *deleted) {
      FUZZ_CHECK(!e.key.empty(), "ParseDeleteResult: empty key");
      FUZZ_CHECK(!e.status.ok(), "ParseDeleteResult: an error entry with an OK status");
      FUZZ_CHECK(!e.status.s3_code().empty(), "ParseDeleteResult: error entry without a code");
    }
  } else {
    CheckFailure(deleted.status(), "ParseDeleteResult");
    CheckServerError(deleted.status(), error, "ParseDeleteResult");
  }
}

void CheckErrorResponse(std::string_view xml, const std::optional<S3ErrorBody>& error) {
  // A failure status chosen by the input, so every classification branch is reached.
  const int http_status = 300 + static_cast<int>(xml.size() % 300);
  Status status = StatusFromErrorResponse(http_status, xml);
  FUZZ_CHECK(!status.ok(), "StatusFromErrorResponse returned OK");
  FUZZ_CHECK(status.http_status() == http_status, "StatusFromErrorResponse: HTTP status lost");
  FUZZ_CHECK(status.code() == ClassifyServerError(http_status, status.s3_code()),
             "StatusFromErrorResponse: classification differs from ClassifyServerError");
  if (error.has_value()) {
    // Status escapes control characters, so compare with the escaped fields.
    FUZZ_CHECK(status.s3_code() == EscapeControlCharacters(error->code),
               "StatusFromErrorResponse: S3 code lost");
    FUZZ_CHECK(status.request_id() == EscapeControlCharacters(error->request_id),
               "StatusFromErrorResponse: request id");
  } else {
    FUZZ_CHECK(status.s3_code().empty(), "StatusFromErrorResponse: code without an <Error>");
    FUZZ_CHECK(IsOneLine(status.message()), status.message());
  }
  FUZZ_CHECK(ClassifyServerError(http_status, xml.substr(0, 40)) != ErrorCode::kOk,
             "ClassifyServerError returned kOk");
  FUZZ_CHECK(ClassifyServerError(static_cast<int>(xml.size() % 400), xml.substr(0, 40)) !=
                 ErrorCode::kOk,
             "ClassifyServerError returned kOk for a status below 400");
}

void CheckDates(std::string_view text) {
  Result<int64_t> iso = ParseIso8601(text);
  if (iso.ok()) {
    if (!text.empty() && text.back() == 'Z') {
      std::string offset(text.substr(0, text.size() - 1));
      offset += "+00:00";
      Result<int64_t> same = ParseIso8601(offset);
      FUZZ_CHECK(same.ok() && *same == *iso, "ParseIso8601: Z and +00:00 differ for " + offset);
    }
  } else {
    CheckFailure(iso.status(), "ParseIso8601", /*one_line=*/false);
    FUZZ_CHECK(iso.status().code() == ErrorCode::kCorrupt, "ParseIso8601: not kCorrupt");
  }

  Result<int64_t> http = ParseHttpDate(text);
  if (http.ok()) {
    FUZZ_CHECK(text.size() == 29, "ParseHttpDate accepted a non-IMF-fixdate length");
    FUZZ_CHECK(*http % 1'000'000'000 == 0, "ParseHttpDate: fraction of a second");
    if (text.substr(23, 2) != "60") {  // a leap second moves to the next minute
      std::time_t seconds = static_cast<std::time_t>(*http / 1'000'000'000);
      std::tm tm{};
      FUZZ_CHECK(gmtime_r(&seconds, &tm) != nullptr, "gmtime_r");
      char buf[64];
      size_t n = std::strftime(buf, sizeof(buf), "%d %b %Y %H:%M:%S GMT", &tm);
      FUZZ_CHECK(std::string_view(buf, n) == text.substr(5),
                 "ParseHttpDate: " + std::string(text) + " -> " + std::string(buf, n));
    }
  } else {
    CheckFailure(http.status(), "ParseHttpDate", /*one_line=*/false);
    FUZZ_CHECK(http.status().code() == ErrorCode::kCorrupt, "ParseHttpDate: not kCorrupt");
  }
}

void CheckUrlCoding(std::string_view bytes) {
  Result<std::string> decoded = UrlDecode(bytes);
  if (decoded.ok()) {
    FUZZ_CHECK(decoded->size() <= bytes.size(), "UrlDecode made its input longer");
  } else {
    CheckFailure(decoded.status(), "UrlDecode", /*one_line=*/false);
    FUZZ_CHECK(bytes.find('%') != std::string_view::npos, "UrlDecode failed without a '%'");
  }
  for (bool keep_slash : {false, true}) {
    Result<std::string> round = UrlDecode(UriEncode(bytes, keep_slash));
    FUZZ_CHECK(round.ok() && *round == bytes,
               "UrlDecode(UriEncode(x)) != x for x = " + std::string(bytes));
  }
}

// A key that FitsXmlRequest must come back unchanged from an XML parser reading the
// DeleteObjects body (what the server does with it).
void CheckDeleteObjectsBody(std::string_view key) {
  if (key.empty() || !FitsXmlRequest(key)) return;
  std::string xml = BuildDeleteObjectsXml({std::string(key), "second"});
  tinyxml2::XMLDocument doc(/*processEntities=*/true, tinyxml2::PRESERVE_WHITESPACE);
  FUZZ_CHECK(doc.Parse(xml.data(), xml.size()) == tinyxml2::XML_SUCCESS,
             "BuildDeleteObjectsXml produced unparseable XML: " + xml);
  const tinyxml2::XMLElement* object =
      doc.RootElement() ? doc.RootElement()->FirstChildElement("Object") : nullptr;
  FUZZ_CHECK(object != nullptr, "BuildDeleteObjectsXml: no <Object>: " + xml);
  const tinyxml2::XMLElement* k = object->FirstChildElement("Key");
  FUZZ_CHECK(k != nullptr, "BuildDeleteObjectsXml: no <Key>: " + xml);
  std::string text;
  for (const tinyxml2::XMLNode* n = k->FirstChild(); n; n = n->NextSibling()) {
    if (n->ToText()) text += n->Value();
  }
  // tinyxml2 drops a text node made only of raw whitespace (a space-only key); the builder writes
  // TAB, LF and CR as references, so only spaces can be affected.
  if (key.find_first_not_of(' ') == std::string_view::npos) return;
  FUZZ_CHECK(text == key, "DeleteObjects key changed: " + std::string(key) + " -> " + text);
}

}  // namespace
}  // namespace spacesfs::s3

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spacesfs::s3;
  std::string_view xml(reinterpret_cast<const char*>(data), size);
  std::optional<S3ErrorBody> error = ParseErrorBody(xml);
  CheckListObjects(xml, error);
  CheckListUploads(xml, error);
  CheckEtagResults(xml, error);
  CheckErrorResponse(xml, error);
  CheckDates(xml);
  CheckUrlCoding(xml);
  CheckDeleteObjectsBody(xml.substr(0, 1024));
  return 0;
}

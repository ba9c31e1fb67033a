#include "s3/xml_codec.h"

#include <tinyxml2.h>

#include <array>
#include <initializer_list>
#include <limits>
#include <memory>
#include <utility>

namespace spacesfs::s3 {
namespace {

using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;
using tinyxml2::XMLNode;

Status Corrupt(std::string message) { return Status(ErrorCode::kCorrupt, std::move(message)); }

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsXmlSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsXmlSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Element name without a namespace prefix ("s3:Key" -> "Key").
std::string_view LocalName(const XMLElement* e) {
  std::string_view name = e->Name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// "<Name>" for messages; names from the input are cut to a readable length.
std::string Tag(std::string_view name) {
  constexpr size_t kMaxName = 64;
  if (name.size() <= kMaxName) return "<" + std::string(name) + ">";
  return "<" + std::string(name.substr(0, kMaxName)) + "...>";
}

// A parsed document whose root element has been identified.
struct Parsed {
  std::unique_ptr<XMLDocument> doc;
  const XMLElement* root = nullptr;
};

// Parses xml and checks the size limit, NUL bytes and that there is exactly one root element.
// `what` names the expected document in messages.
Result<Parsed> ParseDocument(std::string_view xml, std::string_view what) {
  if (xml.size() > kMaxXmlBodyBytes) {
    return Corrupt(std::string(what) + ": body of " + std::to_string(xml.size()) +
                   " bytes exceeds the " + std::to_string(kMaxXmlBodyBytes) + "-byte limit");
  }
  size_t markup = 0;
  for (char c : xml) {
    if (c == '\0') return Corrupt(std::string(what) + ": not XML: body contains a NUL byte");
    if (c == '<') ++markup;
  }
  if (markup > kMaxXmlMarkup) {
    return Corrupt(std::string(what) + ": too many elements (" + std::to_string(markup) +
                   " tags, limit " + std::to_string(kMaxXmlMarkup) + ")");
  }
  if (Trim(xml).empty()) return Corrupt(std::string(what) + ": not XML: empty body");
  Parsed parsed;
  parsed.doc =
      std::make_unique<XMLDocument>(/*processEntities=*/true, tinyxml2::PRESERVE_WHITESPACE);
  if (parsed.doc->Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return Corrupt(std::string(what) +
                   ": not XML: " + XMLDocument::ErrorIDToName(parsed.doc->ErrorID()) + " at line " +
                   std::to_string(parsed.doc->ErrorLineNum()));
  }
  parsed.root = parsed.doc->RootElement();
  if (parsed.root == nullptr) return Corrupt(std::string(what) + ": not XML: no root element");
  if (parsed.root->NextSiblingElement() != nullptr) {
    return Corrupt(std::string(what) + ": not XML: more than one root element (" +
                   Tag(LocalName(parsed.root)) + " then " +
                   Tag(LocalName(parsed.root->NextSiblingElement())) + ")");
  }
  return parsed;
}

// Reads fields of one element, building kCorrupt messages that name the document and parent.
class Fields {
 public:
  Fields(std::string_view doc, const XMLElement* parent) : doc_(doc), parent_(parent) {}

  // The only child named `name`; nullptr when absent. Duplicates are an error.
  Result<const XMLElement*> Find(std::string_view name) const {
    const XMLElement* found = nullptr;
    for (const XMLElement* e = parent_->FirstChildElement(); e; e = e->NextSiblingElement()) {
      if (LocalName(e) != name) continue;
      if (found != nullptr) return Error("duplicate " + Tag(name) + " in " + ParentTag());
      found = e;
    }
    return found;
  }

  // Text of the only child `name`; nullopt when absent.
  Result<std::optional<std::string>> OptionalText(std::string_view name) const {
    Result<const XMLElement*> e = Find(name);
    if (!e.ok()) return e.status();
    if (*e == nullptr) return std::optional<std::string>();
    Result<std::string> text = TextOf(*e, name);
    if (!text.ok()) return text.status();
    return std::optional<std::string>(std::move(*text));
  }

  Result<std::string> RequiredText(std::string_view name) const {
    Result<std::optional<std::string>> text = OptionalText(name);
    if (!text.ok()) return text.status();
    if (!text->has_value()) return Error("missing " + Tag(name) + " in " + ParentTag());
    return std::move(**text);
  }

  Result<std::string> RequiredNonEmpty(std::string_view name) const {
    Result<std::string> text = RequiredText(name);
    if (text.ok() && text->empty()) return Error("empty " + Tag(name) + " in " + ParentTag());
    return text;
  }

  // Non-negative integer up to INT64_MAX.
  Result<uint64_t> RequiredUint(std::string_view name) const {
    Result<std::string> text = RequiredText(name);
    if (!text.ok()) return text.status();
    std::string_view digits = Trim(*text);
    if (digits.empty()) return Error("empty " + Tag(name) + " in " + ParentTag());
    uint64_t value = 0;
    constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return Error(Tag(name) + " in " + ParentTag() + " is not a non-negative integer: \"" +
                     Excerpt(*text) + "\"");
      }
      unsigned d = static_cast<unsigned>(c - '0');
      if (value > (kMax - d) / 10) {
        return Error(Tag(name) + " in " + ParentTag() + " is out of range: \"" + Excerpt(*text) +
                     "\"");
      }
      value = value * 10 + d;
    }
    return value;
  }

  Result<bool> Bool(std::string_view name, bool required) const {
    Result<std::optional<std::string>> text = OptionalText(name);
    if (!text.ok()) return text.status();
    if (!text->has_value()) {
      if (required) return Error("missing " + Tag(name) + " in " + ParentTag());
      return false;
    }
    std::string_view v = Trim(**text);
    if (v == "true") return true;
    if (v == "false") return false;
    return Error(Tag(name) + " in " + ParentTag() + " is not true/false: \"" + Excerpt(**text) +
                 "\"");
  }

  Result<int64_t> RequiredTime(std::string_view name) const {
    Result<std::string> text = RequiredText(name);
    if (!text.ok()) return text.status();
    Result<int64_t> ns = ParseIso8601(Trim(*text));
    if (!ns.ok()) return Error(Tag(name) + " in " + ParentTag() + ": " + ns.status().message());
    return ns;
  }

  // A field that is URL-decoded when `decode` is set.
  Result<std::string> Decoded(std::string text, std::string_view name, bool decode) const {
    if (!decode) return text;
    Result<std::string> out = UrlDecode(text);
    if (!out.ok()) return Error(Tag(name) + " in " + ParentTag() + ": " + out.status().message());
    return out;
  }

  Status Error(const std::string& message) const {
    return Corrupt(std::string(doc_) + ": " + message);
  }
  std::string ParentTag() const { return Tag(LocalName(parent_)); }

 private:
  // Concatenated text and CDATA children; comments are skipped; child elements are an error.
  Result<std::string> TextOf(const XMLElement* e, std::string_view name) const {
    std::string out;
    for (const XMLNode* n = e->FirstChild(); n; n = n->NextSibling()) {
      if (n->ToText() != nullptr) {
        out += n->Value();
      } else if (const XMLElement* child = n->ToElement()) {
        return Error("unexpected " + Tag(LocalName(child)) + " inside " + Tag(name) + " in " +
                     ParentTag());
      }
    }
    return out;
  }

  static std::string Excerpt(std::string_view s) {
    constexpr size_t kMax = 40;
    std::string out;
    for (char c : s.substr(0, kMax)) {
      unsigned char u = static_cast<unsigned char>(c);
      out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (s.size() > kMax) out += "...";
    return out;
  }

  std::string_view doc_;
  const XMLElement* parent_;
};

// The fields of an <Error> element. A malformed field (a duplicate, markup inside) is left empty:
// the document still says the request failed.
S3ErrorBody ErrorBodyFrom(const XMLElement* root) {
  Fields f("Error", root);
  S3ErrorBody body;
  auto read = [&f](std::string_view name, std::string& out) {
    Result<std::optional<std::string>> v = f.OptionalText(name);
    if (v.ok() && v->has_value()) out = std::move(**v);
  };
  read("Code", body.code);
  read("Message", body.message);
  read("RequestId", body.request_id);
  read("HostId", body.host_id);
  return body;
}

// Parses xml, turning an <Error> root into the server's error and any root other than one of
// `roots` into kCorrupt.
Result<Parsed> ParseExpecting(std::string_view xml, std::string_view what,
                              std::initializer_list<std::string_view> roots) {
  Result<Parsed> parsed = ParseDocument(xml, what);
  if (!parsed.ok()) return parsed;
  std::string_view name = LocalName(parsed->root);
  for (std::string_view r : roots) {
    if (name == r) return parsed;
  }
  if (name == "Error") return StatusFromErrorBody(200, ErrorBodyFrom(parsed->root));
  return Corrupt(std::string(what) + ": unexpected root element " + Tag(name));
}

// Whether the document's <EncodingType> asks for URL decoding.
Result<bool> UrlEncoded(const Fields& f) {
  Result<std::optional<std::string>> enc = f.OptionalText("EncodingType");
  if (!enc.ok()) return enc.status();
  if (!enc->has_value()) return false;
  std::string_view v = Trim(**enc);
  if (v == "url") return true;
  if (v.empty()) return false;
  return f.Error("unsupported <EncodingType> \"" + std::string(v.substr(0, 40)) + "\"");
}

// An ETag in its quoted form: radosgw's CopyObjectResult / CopyPartResult send it bare while
// listings, HEAD and AWS quote it. "" stays "".
std::string QuotedEtag(std::string etag) {
  if (etag.empty() || (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')) {
    return etag;
  }
  return '"' + etag + '"';
}

// <CommonPrefixes> of ListObjectsV2 (radosgw also puts <KeyCount> and <StartAfter> in it).
Result<std::string> ParseCommonPrefix(const XMLElement* e, bool decode) {
  Fields f("ListBucketResult", e);
  Result<std::string> prefix = f.RequiredNonEmpty("Prefix");
  if (!prefix.ok()) return prefix;
  return f.Decoded(std::move(*prefix), "Prefix", decode);
}

Result<ObjectInfo> ParseContents(const XMLElement* e, bool decode) {
  Fields f("ListBucketResult", e);
  ObjectInfo info;
  Result<std::string> key = f.RequiredNonEmpty("Key");
  if (!key.ok()) return key.status();
  Result<std::string> decoded = f.Decoded(std::move(*key), "Key", decode);
  if (!decoded.ok()) return decoded.status();
  if (decoded->empty()) return f.Error("empty <Key> in <Contents>");
  info.key = std::move(*decoded);
  Result<int64_t> modified = f.RequiredTime("LastModified");
  if (!modified.ok()) return modified.status();
  info.last_modified_ns = *modified;
  Result<std::string> etag = f.RequiredText("ETag");
  if (!etag.ok()) return etag.status();
  info.etag = QuotedEtag(std::move(*etag));
  Result<uint64_t> size = f.RequiredUint("Size");
  if (!size.ok()) return size.status();
  info.size = *size;
  return info;
}

Result<MultipartUpload> ParseUpload(const XMLElement* e, bool decode) {
  Fields f("ListMultipartUploadsResult", e);
  MultipartUpload upload;
  Result<std::string> key = f.RequiredNonEmpty("Key");
  if (!key.ok()) return key.status();
  Result<std::string> decoded = f.Decoded(std::move(*key), "Key", decode);
  if (!decoded.ok()) return decoded.status();
  if (decoded->empty()) return f.Error("empty <Key> in <Upload>");
  upload.key = std::move(*decoded);
  Result<std::string> id = f.RequiredNonEmpty("UploadId");
  if (!id.ok()) return id.status();
  upload.upload_id = std::move(*id);
  Result<int64_t> initiated = f.RequiredTime("Initiated");
  if (!initiated.ok()) return initiated.status();
  upload.initiated_ns = *initiated;
  return upload;
}

// The ETag of a Complete or Copy result document; `allow_empty` for radosgw's empty
// CompleteMultipartUploadResult/ETag.
Result<std::string> ParseEtagResult(std::string_view xml, std::string_view what,
                                    std::initializer_list<std::string_view> roots,
                                    bool allow_empty) {
  Result<Parsed> parsed = ParseExpecting(xml, what, roots);
  if (!parsed.ok()) return parsed.status();
  Fields f(LocalName(parsed->root), parsed->root);
  Result<std::string> etag = allow_empty ? f.RequiredText("ETag") : f.RequiredNonEmpty("ETag");
  if (!etag.ok()) return etag;
  return QuotedEtag(std::move(*etag));
}

// ---- dates ----

// Days since 1970-01-01 of a proleptic Gregorian date: counts from 0000-03-01 in 400-year eras
// (146097 days each) so that February, the irregular month, ends each counted year.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  if (m <= 2) y -= 1;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t year_of_era = y - era * 400;                             // [0, 399]
  const int64_t month_from_march = m > 2 ? m - 3 : m + 9;                // [0, 11]
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;  // [0, 365]
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;  // 719468: days from 0000-03-01 to 1970-01-01
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at s[pos]; advances pos.
bool Digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// Unix ns of a validated UTC date and time, or kCorrupt when out of int64 range.
// `kind` names the format in messages ("timestamp", "HTTP date").
Result<int64_t> ToUnixNs(std::string_view kind, std::string_view text, int year, int month, int day,
                         int hour, int minute, int second, int64_t nanos, int64_t offset_seconds) {
  auto bad = [&](const char* why) {
    return Corrupt("bad " + std::string(kind) + " \"" + std::string(text.substr(0, 64)) +
                   "\": " + why);
  };
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month))) {
    return bad("day out of range");
  }
  if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");
  // int64 nanoseconds cover 1677-09-21 .. 2262-04-11; accept whole years inside that span.
  if (year < 1678 || year > 2261) return bad("year out of range");
  int64_t days = DaysFromCivil(year, month, day);
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return seconds * 1'000'000'000 + nanos;
}

// ---- XML writing ----

// Appends text escaped for XML element content (see the header on control characters).
void AppendEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        if (u < 0x20) {
          out += "&#" + std::to_string(u) + ";";
        } else {
          out += c;
        }
    }
  }
}

constexpr std::string_view kXmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsAuthCode(std::string_view code) {
  static constexpr std::array<std::string_view, 8> kCodes = {"SignatureDoesNotMatch",
                                                             "InvalidAccessKeyId",
                                                             "RequestTimeTooSkewed",
                                                             "ExpiredToken",
                                                             "InvalidToken",
                                                             "TokenRefreshRequired",
                                                             "AuthorizationHeaderMalformed",
                                                             "InvalidSecurity"};
  for (std::string_view c : kCodes) {
    if (code == c) return true;
  }
  return false;
}

// Classification of an error code that came without a failure status.
ErrorCode ClassifyByCode(std::string_view code) {
  if (IsAuthCode(code)) return ErrorCode::kAuthFailed;
  if (code == "NoSuchKey" || code == "NoSuchUpload" || code == "NoSuchBucket") {
    return ErrorCode::kNotFound;
  }
  if (code == "AccessDenied") return ErrorCode::kAccessDenied;
  if (code == "PreconditionFailed") return ErrorCode::kPreconditionFailed;
  if (code == "SlowDown") return ErrorCode::kThrottled;
  static constexpr std::array<std::string_view, 10> kBadRequest = {
      "InvalidPart",    "InvalidPartOrder", "EntityTooSmall", "EntityTooLarge", "InvalidArgument",
      "InvalidRequest", "MalformedXML",     "InvalidDigest",  "BadDigest",      "KeyTooLongError"};
  for (std::string_view c : kBadRequest) {
    if (code == c) return ErrorCode::kBadRequest;
  }
  return ErrorCode::kServerError;
}

}  // namespace

// ---- errors ----

std::optional<S3ErrorBody> ParseErrorBody(std::string_view xml) {
  Result<Parsed> parsed = ParseDocument(xml, "Error");
  if (!parsed.ok() || LocalName(parsed->root) != "Error") return std::nullopt;
  return ErrorBodyFrom(parsed->root);
}

ErrorCode ClassifyServerError(int http_status, std::string_view s3_code) {
  if (http_status < 400) return ClassifyByCode(s3_code);
  if (s3_code == "SlowDown" || http_status == 429) return ErrorCode::kThrottled;
  if (http_status == 401) return ErrorCode::kAuthFailed;
  if ((http_status == 400 || http_status == 403) && IsAuthCode(s3_code)) {
    return ErrorCode::kAuthFailed;
  }
  if (http_status == 403) return ErrorCode::kAccessDenied;
  if (http_status == 404) return ErrorCode::kNotFound;
  if (http_status == 412) return ErrorCode::kPreconditionFailed;
  if (http_status >= 500) return ErrorCode::kServerError;
  return ErrorCode::kBadRequest;
}

Status StatusFromErrorBody(int http_status, const S3ErrorBody& body) {
  std::string message = body.message.empty() ? body.code : body.message;
  return Status::FromServer(ClassifyServerError(http_status, body.code), http_status, body.code,
                            std::move(message), body.request_id);
}

Status StatusFromErrorResponse(int http_status, std::string_view body) {
  std::optional<S3ErrorBody> parsed = ParseErrorBody(body);
  if (parsed.has_value()) return StatusFromErrorBody(http_status, *parsed);
  return Status::FromServer(ClassifyServerError(http_status, ""), http_status, "",
                            "HTTP " + std::to_string(http_status) + " without an S3 error body",
                            "");
}

// ---- responses ----

Result<ListObjectsPage> ParseListObjectsV2(std::string_view xml) {
  Result<Parsed> parsed = ParseExpecting(xml, "ListBucketResult", {"ListBucketResult"});
  if (!parsed.ok()) return parsed.status();
  Fields f("ListBucketResult", parsed->root);
  Result<bool> decode = UrlEncoded(f);
  if (!decode.ok()) return decode.status();

  ListObjectsPage page;
  Result<bool> truncated = f.Bool("IsTruncated", /*required=*/true);
  if (!truncated.ok()) return truncated.status();
  page.is_truncated = *truncated;
  Result<std::optional<std::string>> token = f.OptionalText("NextContinuationToken");
  if (!token.ok()) return token.status();
  if (token->has_value()) page.next_continuation_token = std::move(**token);
  if (page.is_truncated && page.next_continuation_token.empty()) {
    return f.Error("<IsTruncated> is true without a <NextContinuationToken>");
  }

  for (const XMLElement* e = parsed->root->FirstChildElement(); e; e = e->NextSiblingElement()) {
    std::string_view name = LocalName(e);
    if (name == "Contents") {
      Result<ObjectInfo> info = ParseContents(e, *decode);
      if (!info.ok()) return info.status();
      page.objects.push_back(std::move(*info));
    } else if (name == "CommonPrefixes") {
      Result<std::string> prefix = ParseCommonPrefix(e, *decode);
      if (!prefix.ok()) return prefix.status();
      page.common_prefixes.push_back(std::move(*prefix));
    }
  }
  return page;
}

Result<ListMultipartUploadsPage> ParseListMultipartUploads(std::string_view xml) {
  return ParseListMultipartUploads(xml, /*requested_url_encoding=*/false);
}

Result<ListMultipartUploadsPage> ParseListMultipartUploads(std::string_view xml,
                                                           bool requested_url_encoding) {
  constexpr std::string_view kWhat = "ListMultipartUploadsResult";
  Result<Parsed> parsed = ParseExpecting(xml, kWhat, {kWhat});
  if (!parsed.ok()) return parsed.status();
  Fields f(kWhat, parsed->root);
  Result<bool> decode = UrlEncoded(f);
  if (!decode.ok()) return decode.status();

  ListMultipartUploadsPage page;
  Result<bool> truncated = f.Bool("IsTruncated", /*required=*/true);
  if (!truncated.ok()) return truncated.status();
  page.is_truncated = *truncated;
  Result<std::optional<std::string>> key_marker = f.OptionalText("NextKeyMarker");
  if (!key_marker.ok()) return key_marker.status();
  if (key_marker->has_value()) {
    Result<std::string> d = f.Decoded(std::move(**key_marker), "NextKeyMarker", *decode);
    if (!d.ok()) return d.status();
    page.next_key_marker = std::move(*d);
  }
  Result<std::optional<std::string>> id_marker = f.OptionalText("NextUploadIdMarker");
  if (!id_marker.ok()) return id_marker.status();
  if (id_marker->has_value()) page.next_upload_id_marker = std::move(**id_marker);
  if (page.is_truncated && page.next_key_marker.empty()) {
    return f.Error("<IsTruncated> is true without a <NextKeyMarker>");
  }

  for (const XMLElement* e = parsed->root->FirstChildElement(); e; e = e->NextSiblingElement()) {
    if (LocalName(e) != "Upload") continue;
    Result<MultipartUpload> upload = ParseUpload(e, *decode || requested_url_encoding);
    if (!upload.ok()) return upload.status();
    page.uploads.push_back(std::move(*upload));
  }
  return page;
}

Result<std::string> ParseInitiateMultipartUpload(std::string_view xml) {
  constexpr std::string_view kWhat = "InitiateMultipartUploadResult";
  Result<Parsed> parsed = ParseExpecting(xml, kWhat, {kWhat});
  if (!parsed.ok()) return parsed.status();
  return Fields(kWhat, parsed->root).RequiredNonEmpty("UploadId");
}

Result<std::string> ParseCompleteMultipartUpload(std::string_view xml) {
  return ParseEtagResult(xml, "CompleteMultipartUploadResult", {"CompleteMultipartUploadResult"},
                         /*allow_empty=*/true);
}

Result<std::string> ParseCopyResult(std::string_view xml) {
  return ParseEtagResult(xml, "CopyObjectResult", {"CopyObjectResult", "CopyPartResult"},
                         /*allow_empty=*/false);
}

Result<std::vector<DeleteError>> ParseDeleteResult(std::string_view xml) {
  Result<Parsed> parsed = ParseExpecting(xml, "DeleteResult", {"DeleteResult"});
  if (!parsed.ok()) return parsed.status();
  std::vector<DeleteError> errors;
  for (const XMLElement* e = parsed->root->FirstChildElement(); e; e = e->NextSiblingElement()) {
    if (LocalName(e) != "Error") continue;
    Fields f("DeleteResult", e);
    Result<std::string> key = f.RequiredNonEmpty("Key");
    if (!key.ok()) return key.status();
    S3ErrorBody body;
    Result<std::string> code = f.RequiredNonEmpty("Code");
    if (!code.ok()) return code.status();
    body.code = std::move(*code);
    Result<std::optional<std::string>> message = f.OptionalText("Message");
    if (!message.ok()) return message.status();
    if (message->has_value()) body.message = std::move(**message);
    errors.push_back(DeleteError{std::move(*key), StatusFromErrorBody(200, body)});
  }
  return errors;
}

// ---- requests ----

bool FitsXmlRequest(std::string_view key) {
  size_t i = 0;
  while (i < key.size()) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte first, overlong lead (C0/C1) or F5..FF
    }
    if (i + n > key.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(key[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp == 0xFFFE || cp == 0xFFFF) return false;
    i += n;
  }
  return true;
}

std::string BuildDeleteObjectsXml(const std::vector<std::string>& keys) {
  std::string out(kXmlDeclaration);
  out += "<Delete xmlns=\"";
  out += kS3Namespace;
  out += "\"><Quiet>true</Quiet>";
  for (const std::string& key : keys) {
    out += "<Object><Key>";
    AppendEscaped(out, key);
    out += "</Key></Object>";
  }
  out += "</Delete>";
  return out;
}

std::string BuildCompleteMultipartXml(const std::vector<CompletedPart>& parts) {
  std::string out(kXmlDeclaration);
  out += "<CompleteMultipartUpload xmlns=\"";
  out += kS3Namespace;
  out += "\">";
  for (const CompletedPart& part : parts) {
    out += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber><ETag>";
    AppendEscaped(out, part.etag);
    out += "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

// ---- scalars ----

Result<int64_t> ParseIso8601(std::string_view text) {
  auto bad = [&](const char* why) {
    return Corrupt("bad timestamp \"" + std::string(text.substr(0, 64)) + "\": " + why);
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(text, pos, 4, year) || !Expect(text, pos, '-') || !Digits(text, pos, 2, month) ||
      !Expect(text, pos, '-') || !Digits(text, pos, 2, day) || !Expect(text, pos, 'T') ||
      !Digits(text, pos, 2, hour) || !Expect(text, pos, ':') || !Digits(text, pos, 2, minute) ||
      !Expect(text, pos, ':') || !Digits(text, pos, 2, second)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100'000'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start >= 9) return bad("more than 9 fraction digits");
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad("empty fraction");
  }
  int64_t offset = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!Digits(text, pos, 2, oh) || !Expect(text, pos, ':') || !Digits(text, pos, 2, om) ||
        oh > 23 || om > 59) {
      return bad("bad UTC offset");
    }
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return bad("missing time zone (Z or +HH:MM)");
  }
  if (pos != text.size()) return bad("trailing characters");
  return ToUnixNs("timestamp", text, year, month, day, hour, minute, second, nanos, offset);
}

Result<int64_t> ParseHttpDate(std::string_view text) {
  auto bad = [&](const char* why) {
    return Corrupt("bad HTTP date \"" + std::string(text.substr(0, 64)) + "\": " + why);
  };
  // "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 characters.
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29) return bad("expected IMF-fixdate \"Sun, 06 Nov 1994 08:49:37 GMT\"");
  bool day_ok = false;
  for (std::string_view d : kDays) day_ok = day_ok || text.substr(0, 3) == d;
  if (!day_ok) return bad("bad day name");
  size_t pos = 3;
  int day, year, hour, minute, second;
  if (!Expect(text, pos, ',') || !Expect(text, pos, ' ') || !Digits(text, pos, 2, day) ||
      !Expect(text, pos, ' ')) {
    return bad("expected \", DD \"");
  }
  int month = 0;
  for (size_t m = 0; m < kMonths.size(); ++m) {
    if (text.substr(pos, 3) == kMonths[m]) month = static_cast<int>(m) + 1;
  }
  if (month == 0) return bad("bad month name");
  pos += 3;
  if (!Expect(text, pos, ' ') || !Digits(text, pos, 4, year) || !Expect(text, pos, ' ') ||
      !Digits(text, pos, 2, hour) || !Expect(text, pos, ':') || !Digits(text, pos, 2, minute) ||
      !Expect(text, pos, ':') || !Digits(text, pos, 2, second) || text.substr(pos) != " GMT") {
    return bad("expected \"YYYY HH:MM:SS GMT\"");
  }
  return ToUnixNs("HTTP date", text, year, month, day, hour, minute, second, 0, 0);
}

Result<std::string> UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Corrupt("malformed %-escape at offset " + std::to_string(i) + " of a URL-encoded " +
                       "value");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

}  // namespace spacesfs::s3

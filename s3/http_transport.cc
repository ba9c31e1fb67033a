#include "s3/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>

#include "s3/http_handle_pool.h"

namespace spacesfs::s3 {
namespace {

// libcurl allocates its receive and send buffers for each transfer and frees them at its end. Both
// stay below malloc's mmap threshold (256 KiB, cli/main.cc), so they come from malloc's arenas and
// are reused, instead of being mapped, faulted in page by page and unmapped per transfer (the
// faults are the dearest part of a transfer on a virtual machine). Measured on a 1 GiB read
// through a mount, daemon CPU without the ETag check: 2.2 s with a 512 KiB receive buffer, 1.5-1.9
// s with 255 KiB, 1.25-1.5 s with 64 KiB, at the same speed. Bulk uploads get the largest send
// buffer under the threshold (fewer send calls); 1 GiB written cost 2.2-2.7 s of CPU with it,
// 2.4-2.5 s with 64 KiB, and 2.8-2.9 s with 512 KiB.
constexpr long kReceiveBufferSize = 64 * 1024;
constexpr long kSmallSendBufferSize = 64 * 1024;
constexpr long kLargeSendBufferSize = 255 * 1024;  // malloc'd as this + 1 byte
constexpr uint64_t kLargeTransferBytes = 1 << 20;
// Bodies below this go without "Expect: 100-continue" (one round trip less, and some S3 operations,
// radosgw's ?delete among them, never answer 100 so libcurl would wait its full second).
constexpr uint64_t kExpectContinueMinBytes = 1 << 20;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

// State of one exchange, shared with the libcurl callbacks.
struct Exchange {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  bool body_started = false;      // headers of the final response seen, on_headers called
  Status abort_status;            // why a callback aborted the transfer
  uint64_t read_offset = 0;
  std::optional<uint64_t> content_length;
};

Status BeginBody(Exchange* ex) {
  ex->body_started = true;
  HttpResponse* response = ex->response;
  if (const std::string* length = response->Header("content-length")) {
    ex->content_length = ParseUint(*length);
    if (!ex->content_length) {
      return Status(ErrorCode::kCorrupt, "bad Content-Length \"" + *length + "\"");
    }
  }
  if (response->success() && ex->request->on_headers) return ex->request->on_headers(*response);
  return Status::Ok();
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new response (after 100 Continue or a redirect): start over.
    ex->response->headers.clear();
    ex->response->status = 0;
    size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      std::string_view code = line.substr(space + 1, 3);
      if (auto value = ParseUint(code)) ex->response->status = static_cast<int>(*value);
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;  // the blank line ending the block
  std::string name(Trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ex->response->headers.emplace_back(std::move(name), std::string(Trim(line.substr(colon + 1))));
  return n;
}

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * count;
  HttpResponse* response = ex->response;
  if (!ex->body_started) {
    Status status = BeginBody(ex);
    if (!status.ok()) {
      ex->abort_status = status;
      return 0;
    }
  }
  if (ex->content_length && response->body_bytes + n > *ex->content_length) {
    ex->abort_status = Status(ErrorCode::kCorrupt,
                              "body longer than Content-Length " +
                                  std::to_string(*ex->content_length));
    return 0;
  }
  if (response->success() && ex->request->sink != nullptr) {
    Status status = (*ex->request->sink)(std::string_view(data, n));
    if (!status.ok()) {
      ex->abort_status = status;
      return 0;
    }
  } else {
    if (response->body.size() + n > ex->request->max_collected_body) {
      ex->abort_status = Status(ErrorCode::kCorrupt,
                                "response body over " +
                                    std::to_string(ex->request->max_collected_body) + " bytes");
      return 0;
    }
    response->body.append(data, n);
  }
  response->body_bytes += n;
  return n;
}

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const BodySource* body = ex->request->body;
  uint64_t left = body->size - std::min(body->size, ex->read_offset);
  if (left == 0) return 0;
  size_t want = static_cast<size_t>(std::min<uint64_t>(size * count, left));
  Result<size_t> got = body->read(ex->read_offset, std::span<char>(buffer, want));
  if (!got.ok()) {
    ex->abort_status = got.status();
    return CURL_READFUNC_ABORT;
  }
  if (*got == 0 || *got > want) {
    ex->abort_status = Status(ErrorCode::kInternal,
                              "request body source returned " + std::to_string(*got) +
                                  " bytes at offset " + std::to_string(ex->read_offset) + " of " +
                                  std::to_string(body->size));
    return CURL_READFUNC_ABORT;
  }
  ex->read_offset += *got;
  return *got;
}

int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* ex = static_cast<Exchange*>(user);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<uint64_t>(offset) > ex->request->body->size) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  ex->read_offset = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

ErrorCode CurlErrorCode(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCode::kTimeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return ErrorCode::kInvalidArgument;
    // Not CURLE_UNSUPPORTED_PROTOCOL: URLs are always http(s) here, so curl reports it only for an
    // answer that is not HTTP/1.x ("Received HTTP/0.9"), a server fault like any other (kNetwork).
    case CURLE_OUT_OF_MEMORY:
      return ErrorCode::kInternal;
    // The server's certificate is not trusted (unknown authority, expired, another host name)
    // or the CA bundle cannot be read: a setting to fix, not a fault to retry.
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return ErrorCode::kConfig;
    default:
      return ErrorCode::kNetwork;
  }
}

// Owns the header list for one request.
class SList {
 public:
  ~SList() { curl_slist_free_all(list_); }
  void Append(const std::string& line) { list_ = curl_slist_append(list_, line.c_str()); }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

}  // namespace

const std::string* HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

HttpTransport::HttpTransport(TransportOptions options)
    : options_(std::move(options)),
      pool_(std::make_unique<CurlHandlePool>(options_.max_idle_handles)) {}

HttpTransport::~HttpTransport() = default;

Status HttpTransport::Perform(const HttpRequest& request, HttpResponse* response) {
  *response = HttpResponse();
  CURL* curl = pool_->Acquire();
  if (curl == nullptr) return Status(ErrorCode::kInternal, "curl_easy_init failed");

  Exchange ex;
  ex.request = &request;
  ex.response = response;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  SList headers;
  for (const auto& [name, value] : request.headers) {
    headers.Append(value.empty() ? name + ";" : name + ": " + value);
  }
  if (request.body != nullptr && request.body->size < kExpectContinueMinBytes) {
    headers.Append("Expect:");  // removes the header
  }

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // keys may contain "/./" or "//"
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  // The limit of the shared connection cache comes from the handle that returns a connection;
  // libcurl's default (5) would close connections as soon as more threads than that are busy.
  curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, static_cast<long>(options_.max_idle_handles));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes_per_second);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time.count()));
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReceiveBufferSize);
  const bool large_upload = request.body != nullptr && request.body->size >= kLargeTransferBytes;
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE,
                   large_upload ? kLargeSendBufferSize : kSmallSendBufferSize);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_bundle_path.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle_path.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ex);

  bool head = request.method == "HEAD";
  if (head) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body->size));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &ex);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &OnSeek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &ex);
    if (request.method != "PUT") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  long http_code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
  long new_connections = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
  if (new_connections > 0) connections_opened_ += static_cast<uint64_t>(new_connections);
  // Detach everything pointing into this stack frame before the handle goes back to the pool.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  pool_->Release(curl);

  if (http_code != 0) response->status = static_cast<int>(http_code);
  if (rc != CURLE_OK) {
    if (!ex.abort_status.ok()) return ex.abort_status;
    std::string message = "curl: ";
    if (rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CRL_BADFILE) {
      message = "the TLS CA bundle or CRL file cannot be used: " + message;
    } else if (CurlErrorCode(rc) == ErrorCode::kConfig) {
      message = "the server's TLS certificate is refused: " + message;
    }
    message += curl_easy_strerror(rc);
    if (error_buffer[0] != '\0') message += std::string(" (") + error_buffer + ")";
    if (rc == CURLE_PARTIAL_FILE && ex.content_length) {
      message += ": body ended after " + std::to_string(response->body_bytes) + " of " +
                 std::to_string(*ex.content_length) + " bytes";
    }
    return Status(CurlErrorCode(rc), message);
  }
  if (response->status == 0) return Status(ErrorCode::kNetwork, "no HTTP status in response");
  if (!ex.body_started) {
    Status status = BeginBody(&ex);
    if (!status.ok()) return status;
  }
  if (!head && ex.content_length && response->body_bytes != *ex.content_length) {
    return Status(ErrorCode::kCorrupt, "body has " + std::to_string(response->body_bytes) +
                                           " bytes, Content-Length says " +
                                           std::to_string(*ex.content_length));
  }
  return Status::Ok();
}

}  // namespace spacesfs::s3

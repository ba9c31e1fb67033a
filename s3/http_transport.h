// HttpTransport: one HTTP exchange over libcurl with pooled, kept-alive connections.
//
// The request body is streamed from a BodySource (read positionally, so a rewind is just a new
// offset); a 2xx response body is streamed into a BodySink, anything else (error documents, small
// XML replies) is collected in memory up to a bound. No retries here: see s3/retry_policy.h.
//
// Threading: Perform may be called concurrently from any number of threads.
// Errors: Perform returns OK whenever a complete response arrived, whatever its HTTP status.
// Otherwise: kTimeout (connect or low-speed timeout), kNetwork (DNS, refused, reset, TLS, a body cut
// short), kCorrupt (a body longer than announced, or a collected body over its bound), or the Status
// returned by the sink, the on_headers hook or the body source, unchanged.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "s3/object_client.h"
#include "s3/sigv4.h"

namespace spacesfs::s3 {

class CurlHandlePool;

struct TransportOptions {
  std::string ca_bundle_path;  // "" = system default
  bool verify_tls = true;
  std::chrono::milliseconds connect_timeout{10'000};
  long low_speed_bytes_per_second = 1024;
  std::chrono::seconds low_speed_time{30};
  size_t max_idle_handles = 64;
};

struct HttpResponse {
  int status = 0;
  HeaderList headers;        // names lower-cased, values trimmed, in arrival order
  std::string body;          // the collected body (non-2xx, or 2xx without a sink)
  uint64_t body_bytes = 0;   // body bytes received so far (delivered to the sink or collected)

  // The first header with this lower-case name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
  bool success() const { return status >= 200 && status < 300; }
};

struct HttpRequest {
  std::string method;       // GET, HEAD, PUT, POST, DELETE
  std::string url;
  HeaderList headers;       // sent as given (already signed)
  const BodySource* body = nullptr;  // nullptr: no request body
  // Called once the headers of a 2xx response are in, before any body byte reaches the sink; a
  // non-OK Status aborts the transfer and is returned by Perform.
  std::function<Status(const HttpResponse&)> on_headers;
  // Where a 2xx body goes; nullptr collects it into HttpResponse::body.
  const BodySink* sink = nullptr;
  // The largest collected body: the largest XML answer s3/xml_codec.h parses (kMaxXmlBodyBytes).
  size_t max_collected_body = 16u << 20;
};

class HttpTransport {
 public:
  explicit HttpTransport(TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Fills *response as far as the exchange got (also on failure: status, headers, body_bytes).
  Status Perform(const HttpRequest& request, HttpResponse* response);

  // Connections opened so far (a measure of keep-alive reuse).
  uint64_t connections_opened() const { return connections_opened_.load(); }

 private:
  const TransportOptions options_;
  std::unique_ptr<CurlHandlePool> pool_;
  std::atomic<uint64_t> connections_opened_{0};
};

}  // namespace spacesfs::s3

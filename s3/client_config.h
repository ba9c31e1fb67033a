// ClientConfig: everything CurlObjectClient needs to reach one bucket.
//
// A plain value; copy it freely. The secret lives in `key.secret_access_key` (a Secret, wiped on
// destruction) and is never logged or put into an error message.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "s3/sigv4.h"

namespace spacesfs::s3 {

// How the bucket appears in the URL.
enum class Addressing {
  kAuto,           // path-style for IP-address and localhost endpoints and for bucket names with
                   // dots over https (certificates do not cover them); virtual-hosted otherwise
  kPath,           // scheme://host/bucket/key
  kVirtualHosted,  // scheme://bucket.host/key
};

struct ClientConfig {
  // "scheme://host[:port]" with no path; "" means https://REGION.digitaloceanspaces.com.
  std::string endpoint;
  std::string region = "us-east-1";  // any name: nyc3, ams3, us-east-1...
  std::string bucket;
  SigningKey key;
  Addressing addressing = Addressing::kAuto;

  // TLS. Verification is on unless explicitly turned off (tests against self-signed servers).
  std::string ca_bundle_path;  // "" = the system default
  bool verify_tls = true;

  // Transport.
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than low_speed_bytes_per_second for low_speed_time is abandoned (kTimeout).
  long low_speed_bytes_per_second = 1024;
  std::chrono::seconds low_speed_time{30};
  size_t max_idle_handles = 64;  // easy handles kept for reuse

  // Retries (see s3/retry_policy.h).
  int max_attempts = 5;
  std::chrono::milliseconds retry_base_delay{100};
  std::chrono::milliseconds retry_max_delay{10'000};

  // Bodies up to this size are signed with their real SHA-256; larger ones are sent as
  // UNSIGNED-PAYLOAD and protected by Content-MD5. Digests come from one read pass made before
  // sending. A signed part skips the MD5: with SHA-NI the SHA-256 costs less than half of it
  // (openssl speed on the test machine: MD5 0.70 GB/s, SHA-256 1.6 GB/s), and the server checks
  // either. The default signs every part up to 16 MiB and leaves only large single PUTs unsigned.
  uint64_t signed_payload_max_bytes = 16ull << 20;

  // Over https the TLS record checks already refuse a body changed on the way, so by default a
  // part goes there as UNSIGNED-PAYLOAD with no digest of its own: no SHA-256 or MD5 pass over
  // its bytes, the largest CPU cost of a write (as the AWS SDKs do over https). Requests that need
  // an MD5 anyway (single PUTs, whose ETag is checked against it; Complete; DeleteObjects) carry
  // Content-MD5 and skip only the SHA-256. true: sign and check bodies over https as over http.
  // Over plain http bodies are always signed or carry Content-MD5, as above.
  bool sign_payload_over_tls = false;
};

}  // namespace spacesfs::s3

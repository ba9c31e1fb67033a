// ApiError: one line for a failed HTTP exchange with a key-management API (see keys/key_provider.h
// for the codes). Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"
#include "s3/http_transport.h"

namespace spacesfs::keys {

// `api` is "DigitalOcean API" or "RGW admin API"; `what` is "POST /v2/spaces/keys". `detail` is the
// server's own message (from its JSON or XML error body) or "".
Status ApiError(std::string_view api, std::string_view what, const s3::HttpResponse& response,
                std::string_view detail);

// Context for a transport failure (timeout, refused connection): "DigitalOcean API: POST ...: ".
Status TransportError(std::string_view api, std::string_view what, const Status& status);

}  // namespace spacesfs::keys

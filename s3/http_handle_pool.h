// CurlHandlePool: reusable libcurl easy handles that share one DNS cache, TLS session cache and
// connection cache through a CURLSH share handle, so consecutive requests from any thread reuse
// kept-alive connections.
//
// Threading: Acquire/Release may be called from any thread; a handle is used by one thread at a
// time (between Acquire and Release). The share handle is guarded by one mutex per curl_lock_data,
// taken through libcurl's lock callbacks. Every handle must be released before the pool is destroyed.
#pragma once

#include <curl/curl.h>

#include <array>
#include <mutex>
#include <vector>

namespace spacesfs::s3 {

class CurlHandlePool {
 public:
  explicit CurlHandlePool(size_t max_idle);
  ~CurlHandlePool();
  CurlHandlePool(const CurlHandlePool&) = delete;
  CurlHandlePool& operator=(const CurlHandlePool&) = delete;

  // A handle with default options (curl_easy_reset) attached to the share; nullptr only when
  // libcurl cannot allocate one.
  CURL* Acquire();
  // Returns a handle for reuse (it keeps no request state: it is reset on the next Acquire).
  void Release(CURL* handle);

 private:
  static void LockShare(CURL* handle, curl_lock_data data, curl_lock_access access, void* user);
  static void UnlockShare(CURL* handle, curl_lock_data data, void* user);

  // Constant after construction.
  const size_t max_idle_;
  CURLSH* share_ = nullptr;
  // One lock per kind of shared data; taken only inside libcurl calls.
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks_;

  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_
};

}  // namespace spacesfs::s3

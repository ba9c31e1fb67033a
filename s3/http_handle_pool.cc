#include "s3/http_handle_pool.h"

namespace spacesfs::s3 {
namespace {

std::once_flag global_init_once;

}  // namespace

CurlHandlePool::CurlHandlePool(size_t max_idle) : max_idle_(max_idle) {
  std::call_once(global_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  share_ = curl_share_init();
  if (share_ != nullptr) {
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlHandlePool::LockShare);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlHandlePool::UnlockShare);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
}

CurlHandlePool::~CurlHandlePool() {
  std::lock_guard<std::mutex> lock(mu_);
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
  idle_.clear();
  if (share_ != nullptr) curl_share_cleanup(share_);
}

CURL* CurlHandlePool::Acquire() {
  CURL* handle = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      handle = idle_.back();
      idle_.pop_back();
    }
  }
  if (handle == nullptr) {
    handle = curl_easy_init();
    if (handle == nullptr) return nullptr;
  } else {
    curl_easy_reset(handle);
  }
  if (share_ != nullptr) curl_easy_setopt(handle, CURLOPT_SHARE, share_);
  return handle;
}

void CurlHandlePool::Release(CURL* handle) {
  if (handle == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

void CurlHandlePool::LockShare(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/,
                               void* user) {
  auto* pool = static_cast<CurlHandlePool*>(user);
  pool->share_locks_[static_cast<size_t>(data) % pool->share_locks_.size()].lock();
}

void CurlHandlePool::UnlockShare(CURL* /*handle*/, curl_lock_data data, void* user) {
  auto* pool = static_cast<CurlHandlePool*>(user);
  pool->share_locks_[static_cast<size_t>(data) % pool->share_locks_.size()].unlock();
}

}  // namespace spacesfs::s3

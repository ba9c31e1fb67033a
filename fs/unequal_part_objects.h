// UnequalPartObjects: object versions (key and ETag) whose multipart ETag fits one uniform part
// size but whose bytes, read twice alike, do not match it under that size: another client cut
// them into unequal parts. For each, the ETag the agreeing reads made under the derived size is
// kept, and later readers of the version check their bytes against it (see ReadAhead), so they
// neither read the object twice again nor go unchecked.
//
// At most `capacity` versions are kept; the oldest is forgotten first (forgetting one only costs
// its next reader a second read).
//
// Threading: thread-safe (one internal mutex, a leaf lock).
// Errors: none.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace spacesfs::fs {

class UnequalPartObjects {
 public:
  explicit UnequalPartObjects(size_t capacity = 4096) : capacity_(capacity) {}
  UnequalPartObjects(const UnequalPartObjects&) = delete;
  UnequalPartObjects& operator=(const UnequalPartObjects&) = delete;

  // Records the ETag two reads of version (key, etag) agreed on under the derived part size.
  void Add(const std::string& key, const std::string& etag, const std::string& agreed_etag) {
    std::lock_guard lock(mu_);
    if (capacity_ == 0 || !agreed_.emplace(std::make_pair(key, etag), agreed_etag).second) return;
    order_.emplace_back(key, etag);
    if (order_.size() > capacity_) {
      agreed_.erase(order_.front());
      order_.pop_front();
    }
  }

  // What Add recorded for the version, if it is still kept.
  std::optional<std::string> AgreedEtag(const std::string& key, const std::string& etag) const {
    std::lock_guard lock(mu_);
    auto it = agreed_.find({key, etag});
    if (it == agreed_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string> agreed_;  // guarded by mu_
  std::deque<std::pair<std::string, std::string>> order_;  // guarded by mu_; oldest first
};

}  // namespace spacesfs::fs

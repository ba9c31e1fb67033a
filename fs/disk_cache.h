// DiskCache: a bounded cache of object bytes in local files, shared by every open file of a mount,
// so data read once is read again from disk instead of the server (mount option cache=DIR).
//
// An entry is the bytes [offset, offset + length) of one version of an object, keyed by (object
// key, ETag, offset, length). Get is a hit only when exactly that entry is stored and intact.
// Each file holds a header (offset, length, key, ETag) and the bytes, under a SHA-256 checked on
// every Get: a corrupt or truncated file is a miss and is removed.
//
// Bounded: the entries' files together stay within max_bytes; the least recently used entries are
// removed first. Versions: a Put for a key under a new ETag removes the key's entries of other
// ETags (an ETag names one content of a key, so entries never need any other invalidation).
// Invalidate removes all entries of a key.
//
// Layout: DIR (created 0700; an existing DIR must be a directory owned by the effective user with
// no group or other permission bits) holds `lock` and `blocks/`, one file (0600) per entry named
// from SHA-256 hashes of the key and of the ETag, never from the key's text. While a DiskCache is
// open it holds an exclusive flock on DIR/lock: a second opener (another daemon) is refused.
// Entries left by an earlier run are kept: Open indexes them again, least recently used first by
// their mtimes (a hit updates the mtime), and removes leftover temporary files.
//
// Errors: Open fails with one line naming DIR (kConfig for what the user must fix, kIoError for a
// failing system call). After Open nothing fails: Get misses, Put does nothing. An I/O error (a
// failed write, rename, read, unlink; a full disk) is logged once and turns the cache off for the
// rest of its life; the caller reads from the server as if there were no cache.
//
// Threading: every method may be called concurrently from any thread. File contents are read and
// written without the lock held; the index lock is held across renames and unlinks only.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace spacesfs::fs {

class DiskCache {
 public:
  static Result<std::unique_ptr<DiskCache>> Open(const std::string& dir, uint64_t max_bytes);
  ~DiskCache();  // releases the lock; the entries stay for the next Open
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // The bytes of the entry (key, etag, offset, length), or nothing.
  std::optional<std::string> Get(const std::string& key, const std::string& etag, uint64_t offset,
                                 uint64_t length);
  // Whether the entry is stored (a Get may still miss: it checks the bytes).
  bool Contains(const std::string& key, const std::string& etag, uint64_t offset,
                uint64_t length) const;
  // Stores data as the entry (key, etag, offset, data.size()), evicting as needed. Data larger
  // than the whole cache is not stored.
  void Put(const std::string& key, const std::string& etag, uint64_t offset,
           std::string_view data);
  // Removes every entry of key (its bytes were found not to match its ETag).
  void Invalidate(const std::string& key);

  // False once an I/O error turned the cache off.
  bool enabled() const { return enabled_.load(); }
  const std::string& dir() const { return dir_; }
  uint64_t max_bytes() const { return max_bytes_; }
  // Bytes of the entries' files, and their number, now.
  uint64_t bytes() const;
  size_t entries() const;

 private:
  struct Entry {
    uint64_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  struct KeyEntries {
    std::string etag_hash;
    std::set<std::string> names;
  };

  DiskCache(std::string dir, uint64_t max_bytes, int dir_fd, int lock_fd, int blocks_fd);
  Status LoadIndex();
  void Disable(std::string_view what, int error);
  // All below REQUIRE mu_.
  void Insert(const std::string& name, uint64_t bytes);
  void Remove(std::string name);
  void RemoveKey(std::string key_hash);
  void EvictTo(uint64_t limit);

  // Constant after construction.
  const std::string dir_;
  const uint64_t max_bytes_;
  const int dir_fd_;
  const int lock_fd_;    // holds the flock
  const int blocks_fd_;  // DIR/blocks

  std::atomic<bool> enabled_{true};
  std::atomic<uint64_t> next_temp_{0};

  mutable std::mutex mu_;  // a leaf lock
  // Guarded by mu_.
  std::unordered_map<std::string, Entry> entries_;     // by file name
  std::list<std::string> lru_;                         // file names, most recently used first
  std::unordered_map<std::string, KeyEntries> keys_;  // by key hash
  uint64_t bytes_ = 0;
};

}  // namespace spacesfs::fs

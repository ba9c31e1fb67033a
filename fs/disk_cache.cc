#include "fs/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace spacesfs::fs {
namespace {

// File layout: magic, offset, length, key length, ETag length (little-endian), the SHA-256 of
// everything else in the file, then the key, the ETag and the bytes.
constexpr std::string_view kMagic = "SPFSBLK1";
constexpr size_t kDigestBytes = 32;
constexpr size_t kHeaderBytes = 8 + 8 + 8 + 4 + 4 + kDigestBytes;
constexpr size_t kKeyHashHex = 32;
constexpr size_t kEtagHashHex = 16;
constexpr std::string_view kTempPrefix = "tmp-";

std::string ErrorText(int error) { return std::error_code(error, std::generic_category()).message(); }

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

std::string HashHex(std::string_view domain, std::string_view text, size_t hex_chars) {
  std::array<unsigned char, kDigestBytes> digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, domain.data(), domain.size());
  EVP_DigestUpdate(ctx, "\0", 1);
  EVP_DigestUpdate(ctx, text.data(), text.size());
  EVP_DigestFinal_ex(ctx, digest.data(), nullptr);
  EVP_MD_CTX_free(ctx);
  return Hex(digest.data(), hex_chars / 2);
}

std::string KeyHash(const std::string& key) { return HashHex("key", key, kKeyHashHex); }

std::string U64Hex(uint64_t v) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (56 - 8 * i));
  return Hex(bytes, 8);
}

// "<key hash>-<ETag hash>-<offset>-<length>", all lowercase hex.
std::string EntryName(const std::string& key, const std::string& etag, uint64_t offset,
                      uint64_t length) {
  return KeyHash(key) + "-" + HashHex("etag", etag, kEtagHashHex) + "-" + U64Hex(offset) + "-" +
         U64Hex(length);
}

constexpr size_t kNameLength = kKeyHashHex + 1 + kEtagHashHex + 1 + 16 + 1 + 16;

bool IsEntryName(std::string_view name) {
  if (name.size() != kNameLength) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    bool dash = i == kKeyHashHex || i == kKeyHashHex + 1 + kEtagHashHex ||
                i == kKeyHashHex + 1 + kEtagHashHex + 1 + 16;
    char c = name[i];
    if (dash != (c == '-')) return false;
    if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string NameKeyHash(const std::string& name) { return name.substr(0, kKeyHashHex); }
std::string NameEtagHash(const std::string& name) {
  return name.substr(kKeyHashHex + 1, kEtagHashHex);
}

void PutLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// The header with its digest over the header's other fields, key, ETag and data.
std::string MakeHeader(const std::string& key, const std::string& etag, uint64_t offset,
                       std::string_view data) {
  std::string fields(kMagic);
  PutLe(&fields, offset, 8);
  PutLe(&fields, data.size(), 8);
  PutLe(&fields, key.size(), 4);
  PutLe(&fields, etag.size(), 4);
  std::array<unsigned char, kDigestBytes> digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, fields.data(), fields.size());
  EVP_DigestUpdate(ctx, key.data(), key.size());
  EVP_DigestUpdate(ctx, etag.data(), etag.size());
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, digest.data(), nullptr);
  EVP_MD_CTX_free(ctx);
  fields.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return fields;
}

// 0, or the errno of a failed write.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// Bytes read (fewer at end of file), or -errno.
ssize_t ReadAll(int fd, char* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, out + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

Status ConfigError(std::string message) { return Status(ErrorCode::kConfig, std::move(message)); }

}  // namespace

Result<std::unique_ptr<DiskCache>> DiskCache::Open(const std::string& dir, uint64_t max_bytes) {
  if (dir.empty()) return ConfigError("the cache directory is empty");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ConfigError("cannot create cache directory " + dir + ": " + ErrorText(errno));
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    return ConfigError("cannot open cache directory " + dir + ": " + ErrorText(errno));
  }
  struct stat st {};
  if (::fstat(dir_fd.get(), &st) != 0) {
    return Status(ErrorCode::kIoError, "cannot stat cache directory " + dir + ": " + ErrorText(errno));
  }
  if (st.st_uid != ::geteuid()) {
    return ConfigError("cache directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                       ", not to the user running spacesfs (uid " + std::to_string(::geteuid()) +
                       ")");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return ConfigError("cache directory " + dir + " is open to other users (mode " + mode +
                       "); it holds file contents: chmod 700 " + dir);
  }
  Fd lock_fd(::openat(dir_fd.get(), "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock_fd.get() < 0) {
    return ConfigError("cannot open " + dir + "/lock: " + ErrorText(errno));
  }
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return ConfigError("cache directory " + dir +
                         " is in use by another spacesfs mount (its lock file is held): give each "
                         "mount its own cache directory");
    }
    return Status(ErrorCode::kIoError, "cannot lock " + dir + "/lock: " + ErrorText(errno));
  }
  if (::mkdirat(dir_fd.get(), "blocks", 0700) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIoError, "cannot create " + dir + "/blocks: " + ErrorText(errno));
  }
  Fd blocks_fd(::openat(dir_fd.get(), "blocks", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (blocks_fd.get() < 0) {
    return Status(ErrorCode::kIoError, "cannot open " + dir + "/blocks: " + ErrorText(errno));
  }
  std::unique_ptr<DiskCache> cache(new DiskCache(dir, max_bytes, dir_fd.release(),
                                                 lock_fd.release(), blocks_fd.release()));
  SPACESFS_RETURN_IF_ERROR(cache->LoadIndex());
  return cache;
}

DiskCache::DiskCache(std::string dir, uint64_t max_bytes, int dir_fd, int lock_fd, int blocks_fd)
    : dir_(std::move(dir)),
      max_bytes_(max_bytes),
      dir_fd_(dir_fd),
      lock_fd_(lock_fd),
      blocks_fd_(blocks_fd) {}

DiskCache::~DiskCache() {
  ::close(blocks_fd_);
  ::close(lock_fd_);  // releases the flock
  ::close(dir_fd_);
}

Status DiskCache::LoadIndex() {
  int fd = ::dup(blocks_fd_);
  DIR* d = fd < 0 ? nullptr : ::fdopendir(fd);
  if (d == nullptr) {
    int error = errno;
    if (fd >= 0) ::close(fd);
    return Status(ErrorCode::kIoError, "cannot list " + dir_ + "/blocks: " + ErrorText(error));
  }
  ::rewinddir(d);
  std::vector<std::tuple<int64_t, std::string, uint64_t>> found;  // (mtime ns, name, bytes)
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.starts_with(kTempPrefix)) {
      (void)::unlinkat(blocks_fd_, name.c_str(), 0);  // from a write interrupted by a crash
      continue;
    }
    if (!IsEntryName(name)) continue;
    struct stat st {};
    if (::fstatat(blocks_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    found.emplace_back(mtime, std::move(name), static_cast<uint64_t>(st.st_size));
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  std::lock_guard lock(mu_);
  for (const auto& [mtime, name, bytes] : found) {
    auto key = keys_.find(NameKeyHash(name));
    if (key != keys_.end() && key->second.etag_hash != NameEtagHash(name)) {
      RemoveKey(key->first);  // an older version of the key
    }
    Insert(name, bytes);
  }
  EvictTo(max_bytes_);
  if (!found.empty()) {
    spdlog::info("disk cache {}: {} entries ({} bytes) kept from before", dir_, entries_.size(),
                 bytes_);
  }
  return Status::Ok();
}

void DiskCache::Disable(std::string_view what, int error) {
  if (enabled_.exchange(false)) {
    spdlog::error("disk cache {}: {}: {}; the cache is off until the next mount", dir_, what,
                  ErrorText(error));
  }
}

std::optional<std::string> DiskCache::Get(const std::string& key, const std::string& etag,
                                          uint64_t offset, uint64_t length) {
  if (!enabled()) return std::nullopt;
  const std::string name = EntryName(key, etag, offset, length);
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Fd fd(::openat(blocks_fd_, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno != ENOENT) {
      Disable("open of an entry failed", errno);
      return std::nullopt;
    }
    std::lock_guard lock(mu_);
    if (entries_.count(name) != 0) Remove(name);  // removed behind the cache's back
    return std::nullopt;
  }
  const size_t header_size = kHeaderBytes + key.size() + etag.size();
  std::string header(header_size, '\0');
  std::string data(length, '\0');
  std::string tail(1, '\0');
  ssize_t h = ReadAll(fd.get(), header.data(), header.size());
  ssize_t n = h < 0 ? 0 : ReadAll(fd.get(), data.data(), data.size());
  ssize_t t = n < 0 ? 0 : ReadAll(fd.get(), tail.data(), tail.size());
  if (h < 0 || n < 0 || t < 0) {
    Disable("read of an entry failed", static_cast<int>(-std::min({h, n, t})));
    return std::nullopt;
  }
  bool intact = static_cast<size_t>(h) == header.size() && static_cast<size_t>(n) == length &&
                t == 0 &&
                header == MakeHeader(key, etag, offset, data) + key + etag;
  if (!intact) {
    spdlog::warn("disk cache {}: entry {} is damaged (truncated or checksum mismatch); removed",
                 dir_, name);
    std::lock_guard lock(mu_);
    if (entries_.count(name) != 0) Remove(name);
    return std::nullopt;
  }
  (void)::futimens(fd.get(), nullptr);  // its place in the LRU order for the next Open
  return data;
}

bool DiskCache::Contains(const std::string& key, const std::string& etag, uint64_t offset,
                         uint64_t length) const {
  if (!enabled()) return false;
  const std::string name = EntryName(key, etag, offset, length);
  std::lock_guard lock(mu_);
  return entries_.count(name) != 0;
}

void DiskCache::Put(const std::string& key, const std::string& etag, uint64_t offset,
                    std::string_view data) {
  if (!enabled()) return;
  const std::string header = MakeHeader(key, etag, offset, data) + key + etag;
  const uint64_t bytes = header.size() + data.size();
  if (bytes > max_bytes_) return;
  const std::string name = EntryName(key, etag, offset, data.size());
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(name); it != entries_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return;
    }
  }
  // Written under a temporary name, then renamed: a reader sees a whole entry or none.
  const std::string temp = std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                           std::to_string(next_temp_.fetch_add(1));
  int error = 0;
  {
    Fd fd(::openat(blocks_fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   0600));
    if (fd.get() < 0) {
      Disable("creating an entry failed", errno);
      return;
    }
    error = WriteAll(fd.get(), header);
    if (error == 0) error = WriteAll(fd.get(), data);
    if (error == 0 && ::close(fd.release()) != 0) error = errno;
  }
  if (error != 0) {
    (void)::unlinkat(blocks_fd_, temp.c_str(), 0);
    Disable("writing an entry failed", error);
    return;
  }
  std::lock_guard lock(mu_);
  if (!enabled()) {
    (void)::unlinkat(blocks_fd_, temp.c_str(), 0);
    return;
  }
  const std::string key_hash = NameKeyHash(name);
  if (auto k = keys_.find(key_hash); k != keys_.end() && k->second.etag_hash != NameEtagHash(name)) {
    RemoveKey(key_hash);  // a new version of the key: the old one's entries are stale
  }
  if (::renameat(blocks_fd_, temp.c_str(), blocks_fd_, name.c_str()) != 0) {
    int rename_error = errno;
    (void)::unlinkat(blocks_fd_, temp.c_str(), 0);
    Disable("renaming an entry failed", rename_error);
    return;
  }
  Insert(name, bytes);
  EvictTo(max_bytes_);
}

void DiskCache::Invalidate(const std::string& key) {
  std::lock_guard lock(mu_);
  RemoveKey(KeyHash(key));
}

uint64_t DiskCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t DiskCache::entries() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void DiskCache::Insert(const std::string& name, uint64_t bytes) {
  if (auto it = entries_.find(name); it != entries_.end()) {
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  lru_.push_front(name);
  entries_[name] = Entry{bytes, lru_.begin()};
  KeyEntries& k = keys_[NameKeyHash(name)];
  k.etag_hash = NameEtagHash(name);
  k.names.insert(name);
  bytes_ += bytes;
}

void DiskCache::Remove(std::string name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  if (::unlinkat(blocks_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
    Disable("removing an entry failed", errno);
  }
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  entries_.erase(it);
  auto k = keys_.find(NameKeyHash(name));
  if (k != keys_.end()) {
    k->second.names.erase(name);
    if (k->second.names.empty()) keys_.erase(k);
  }
}

void DiskCache::RemoveKey(std::string key_hash) {
  auto k = keys_.find(key_hash);
  if (k == keys_.end()) return;
  std::set<std::string> names = k->second.names;  // Remove erases from the set and the map
  for (const std::string& name : names) Remove(name);
}

void DiskCache::EvictTo(uint64_t limit) {
  while (bytes_ > limit && !lru_.empty()) Remove(lru_.back());
}

}  // namespace spacesfs::fs

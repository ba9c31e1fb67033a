// Test support for the data path over any ObjectClient: deterministic bytes, a plain PUT, a client
// that flips a byte of GET bodies as a broken proxy would, and reading a whole file through a
// Filesystem as `cat` does.
//
// Threading: FlippingClient may be called from any number of threads; the rest is test-thread code
// (gtest assertions inside).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <string_view>

#include "fs/counting_client.h"
#include "fs/filesystem.h"
#include "s3/object_client.h"

namespace spacesfs::testing {

// n pseudo-random bytes, the same for the same seed.
inline std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

inline void PutObject(s3::ObjectClient& client, const std::string& key, std::string_view data) {
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView(data);
  ASSERT_TRUE(client.PutObject(put).ok());
}

// Flips one byte of every ranged GET body that covers flip_at (with once: of the first only).
class FlippingClient : public fs::CountingClient {
 public:
  FlippingClient(s3::ObjectClient& inner, uint64_t flip_at, bool once = false)
      : CountingClient(inner), at_(flip_at), once_(once) {}
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    uint64_t pos = request.range ? request.range->first : 0;
    return CountingClient::GetObject(request, [&](std::string_view chunk) {
      std::string copy(chunk);
      if (request.range && at_ >= pos && at_ < pos + copy.size() &&
          !(once_ && flipped_.exchange(true))) {
        copy[at_ - pos] ^= 0x20;
      }
      pos += chunk.size();
      return sink(copy);
    });
  }

 private:
  const uint64_t at_;
  const bool once_;
  std::atomic<bool> flipped_{false};
};

// Looks name up in the root, opens it read-only and reads it front to back in 128 KiB reads.
inline std::string ReadWhole(fs::Filesystem& fs, const fs::Caller& caller, const std::string& name) {
  Result<fs::Entry> e = fs.Lookup(caller, fs::kRootInode, name);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (!e.ok()) return "";
  Result<fs::OpenReply> o = fs.Open(caller, e->ino, O_RDONLY);
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  if (!o.ok()) return "";
  std::string out;
  for (;;) {
    Result<std::string> r = fs.Read(o->fh, out.size(), 128 << 10);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->empty()) break;
    out += *r;
  }
  EXPECT_TRUE(fs.Release(o->fh).ok());
  return out;
}

}  // namespace spacesfs::testing

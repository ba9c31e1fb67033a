// Secret: a string holding key material (an S3 secret key, a token). Its memory is wiped
// (OPENSSL_cleanse) when it is destroyed or reassigned, it is never formatted into logs, and
// it has no operator<<: the only way to the bytes is reveal(), which makes every use visible.
//
// Thread safety: a value type; not synchronised.
#pragma once

#include <string>
#include <string_view>

namespace spacesfs {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret& other) : value_(other.value_) {}
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  ~Secret() { Wipe(); }

  std::string_view reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  void Wipe();

 private:
  std::string value_;
};

// Overwrites the characters of s with zeros in a way the compiler cannot elide.
void WipeString(std::string& s);

}  // namespace spacesfs

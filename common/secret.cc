#include "common/secret.h"

#include <openssl/crypto.h>

namespace spacesfs {

void WipeString(std::string& s) {
  // Wipe the whole capacity: earlier, longer contents may linger behind the terminator.
  s.resize(s.capacity());
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void Secret::Wipe() { WipeString(value_); }

Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    Wipe();
    value_ = other.value_;
  }
  return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    Wipe();
    value_ = std::move(other.value_);
    other.Wipe();
  }
  return *this;
}

}  // namespace spacesfs

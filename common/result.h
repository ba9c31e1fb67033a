// Result<T>: a value or a failed Status (GCC 12 has no std::expected).
//
//   Result<int> r = Parse(...);
//   if (!r.ok()) return r.status();
//   use(*r);
//
// Accessing the value of a failed Result aborts (a programming error, not a runtime condition).
#pragma once

#include <cstdlib>
#include <utility>
#include <variant>

#include "common/status.h"

namespace spacesfs {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {      // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) std::abort();       // an OK status carries no value
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  T& value() & { return Checked(); }
  const T& value() const& { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return Checked(); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &Checked(); }

 private:
  T& Checked() {
    if (!ok()) std::abort();
    return std::get<T>(v_);
  }
  const T& Checked() const {
    if (!ok()) std::abort();
    return std::get<T>(v_);
  }
  std::variant<T, Status> v_;
};

// Early return helpers.
#define SPACESFS_RETURN_IF_ERROR(expr)      \
  do {                                      \
    ::spacesfs::Status _st = (expr);        \
    if (!_st.ok()) return _st;              \
  } while (0)

}  // namespace spacesfs

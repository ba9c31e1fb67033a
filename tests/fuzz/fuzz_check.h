// Invariant checks for the libFuzzer targets in tests/fuzz/: FUZZ_CHECK(cond, what) prints the
// failed condition, the file and line and `what`, then aborts, which libFuzzer reports as a crash
// and saves the input for.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                                 \
  do {                                                                                         \
    if (!(cond)) ::spacesfs::fuzz::Fail(#cond, __FILE__, __LINE__, (what));                   \
  } while (0)

namespace spacesfs::fuzz {

// Printable form of a byte string for failure messages: control bytes and non-ASCII as \xNN.
inline std::string Printable(std::string_view s, size_t max = 300) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s.substr(0, max)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && u != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

[[noreturn]] inline void Fail(const char* cond, const char* file, int line, std::string_view what) {
  std::fprintf(stderr, "\n=== invariant failed at %s:%d: %s\n=== %s\n", file, line, cond,
               Printable(what, 2000).c_str());
  std::fflush(stderr);
  std::abort();
}

// True if s holds no line break: one log line.
inline bool IsOneLine(std::string_view s) {
  return s.find('\n') == std::string_view::npos && s.find('\r') == std::string_view::npos;
}

}  // namespace spacesfs::fuzz

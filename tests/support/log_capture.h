// LogCapture: while it lives, spdlog's default logger writes into memory instead of stderr.
//
//   testing::LogCapture log;            // or LogCapture log("%l %v"): "warning <text>" lines
//   ... code that logs ...
//   std::vector<std::string> lines = log.Lines();   // oldest first, each ending in '\n'
//
// Keeps the last 1000 lines. The previous default logger is restored on destruction.
// Threading: the capture itself is thread-safe; create and destroy it on one thread.
#pragma once

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

namespace spacesfs::testing {

class LogCapture {
 public:
  // pattern: an spdlog pattern for the captured lines; "" keeps spdlog's default.
  explicit LogCapture(const std::string& pattern = "")
      : ring_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)),
        previous_(spdlog::default_logger()) {
    if (!pattern.empty()) ring_->set_pattern(pattern);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", ring_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> Lines() const { return ring_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace spacesfs::testing

#include "common/logging.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string_view>

namespace spacesfs {
namespace {

std::mutex g_mu;
LogOptions g_options;  // guarded by g_mu

}  // namespace

bool IsJournalStream(const char* journal_stream, const struct stat& stderr_stat) {
  if (journal_stream == nullptr) return false;
  std::string_view text(journal_stream);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  auto number = [](std::string_view digits, unsigned long long* out) {
    if (digits.empty()) return false;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
    return ec == std::errc() && end == digits.data() + digits.size();
  };
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (!number(text.substr(0, colon), &dev) || !number(text.substr(colon + 1), &ino)) return false;
  return dev == static_cast<unsigned long long>(stderr_stat.st_dev) &&
         ino == static_cast<unsigned long long>(stderr_stat.st_ino);
}

LogTarget DefaultLogTarget(const std::string& file) {
  if (!file.empty()) return LogTarget::kFile;
  struct stat st{};
  if (fstat(STDERR_FILENO, &st) == 0 && IsJournalStream(std::getenv("JOURNAL_STREAM"), st)) {
    return LogTarget::kJournal;
  }
  return LogTarget::kStderr;
}

Status SetupLogging(const LogOptions& options) {
  spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return Status(ErrorCode::kConfig, "unknown log level '" + options.level + "'");
  }
  spdlog::sink_ptr sink;
  try {
    switch (options.target) {
      case LogTarget::kStderr:
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        break;
      case LogTarget::kFile:
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
        break;
      case LogTarget::kJournal:
        sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("spacesfs");
        break;
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Status(ErrorCode::kConfig, "cannot open log file '" + options.file + "': " + e.what());
  }
  auto logger = std::make_shared<spdlog::logger>("spacesfs", sink);
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  if (options.target == LogTarget::kJournal) {
    logger->set_pattern("%v");
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_default_logger(logger);
  std::lock_guard<std::mutex> lock(g_mu);
  g_options = options;
  return Status::Ok();
}

Status ReopenLogFile() {
  LogOptions options;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    options = g_options;
  }
  if (options.target != LogTarget::kFile) return Status::Ok();
  return SetupLogging(options);
}

std::string RedactKeyId(std::string_view access_key_id) {
  return std::string(access_key_id.substr(0, 4)) + "…";
}

}  // namespace spacesfs

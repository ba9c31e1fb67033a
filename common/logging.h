// Process-wide logging through spdlog: to stderr, to a file, or to the systemd journal.
//
// SetupLogging replaces spdlog's default logger; every module then logs with spdlog::info(...) etc.
// Nothing logged may contain a secret: code formats access key ids with RedactKeyId().
// ReopenLogFile() (called on SIGHUP from a normal thread, never from a signal handler) reopens a
// rotated log file.
//
// Threading: SetupLogging/ReopenLogFile are called from the main thread; logging itself is
// thread-safe (spdlog's _mt sinks).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace spacesfs {

enum class LogTarget { kStderr, kFile, kJournal };

struct LogOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // used with kFile
  LogTarget target = LogTarget::kStderr;
};

// Chooses the journal when running under systemd (JOURNAL_STREAM set) and no file was asked for.
LogTarget DefaultLogTarget(const std::string& file);

Status SetupLogging(const LogOptions& options);
Status ReopenLogFile();

// "AKIA…" — an access key id shortened to its first 4 characters, for log lines.
std::string RedactKeyId(std::string_view access_key_id);

}  // namespace spacesfs

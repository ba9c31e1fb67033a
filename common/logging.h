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

#include <sys/stat.h>

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

// kFile when a file was asked for; else the journal when stderr is the journal's stream (see
// IsJournalStream, with $JOURNAL_STREAM and fstat(2) of stderr); else stderr.
LogTarget DefaultLogTarget(const std::string& file);

// systemd's rule for "is stderr connected to the journal": journal_stream (the value of
// $JOURNAL_STREAM, "DEVICE:INODE" in decimal) names the device and inode of stderr_stat. A null,
// malformed or different value is false: stderr was redirected after systemd set the variable (or
// the variable was inherited), so logging goes to stderr.
bool IsJournalStream(const char* journal_stream, const struct stat& stderr_stat);

Status SetupLogging(const LogOptions& options);
Status ReopenLogFile();

// "AKIA…" — an access key id shortened to its first 4 characters, for log lines.
std::string RedactKeyId(std::string_view access_key_id);

}  // namespace spacesfs

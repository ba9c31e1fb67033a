#include "fs/fuse/stats_report.h"

#include <cstdio>

namespace spacesfs::fuse {
namespace {

std::string Bytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

}  // namespace

std::string FormatStats(const fs::Counters& c, pid_t pid, uint64_t files_open_for_writing) {
  std::string out;
  auto line = [&](const char* name, uint64_t value) {
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  };
  line("pid", static_cast<uint64_t>(pid));
  line("requests", c.requests);
  line("request_errors", c.request_errors);
  line("bytes_downloaded", c.bytes_downloaded);
  line("bytes_uploaded", c.bytes_uploaded);
  line("denials_scope", c.denials_local);
  line("denials_server", c.denials_server);
  line("files_open_for_writing", files_open_for_writing);
  line("memory_in_use", c.memory_in_use);
  line("memory_idle", c.memory_idle);
  line("memory_peak", c.memory_peak);
  line("read_buffers_new", c.read_buffers_new);
  line("verify_lane_bytes", c.verify_lane_bytes);
  line("verify_serial_bytes", c.verify_serial_bytes);
  return out;
}

std::string FormatStatsLine(const fs::Counters& c) {
  return std::to_string(c.requests) + " requests (" + std::to_string(c.request_errors) +
         " failed), " + Bytes(c.bytes_downloaded) + " down, " + Bytes(c.bytes_uploaded) + " up, " +
         std::to_string(c.denials_local + c.denials_server) + " denials";
}

}  // namespace spacesfs::fuse

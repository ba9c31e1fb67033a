// The counters as the daemon shows them: the STATUS= line (systemctl status) and the
// `spacesfs stats` text, exactly.
#include <gtest/gtest.h>

#include "fs/fuse/stats_report.h"

namespace spacesfs::fuse {
namespace {

TEST(FormatStatsLine, ZeroCounters) {
  EXPECT_EQ(FormatStatsLine(fs::Counters{}), "0 requests (0 failed), 0 B down, 0 B up, 0 denials");
}

TEST(FormatStatsLine, UnitsAndDenialsAddedUp) {
  fs::Counters c;
  c.requests = 42;
  c.request_errors = 3;
  c.bytes_downloaded = 1536 * 1024;  // 1.5 MiB
  c.bytes_uploaded = 12 * 1024;
  c.denials_local = 2;
  c.denials_server = 5;
  c.memory_in_use = 99;  // not part of the line
  EXPECT_EQ(FormatStatsLine(c), "42 requests (3 failed), 1.5 MiB down, 12.0 KiB up, 7 denials");
}

TEST(FormatStatsLine, BytesBelowOneKibAndLargeValues) {
  fs::Counters c;
  c.bytes_downloaded = 1023;
  c.bytes_uploaded = 5ull << 40;
  EXPECT_EQ(FormatStatsLine(c), "0 requests (0 failed), 1023 B down, 5.0 TiB up, 0 denials");
}

TEST(FormatStats, OneLinePerCounter) {
  fs::Counters c;
  c.requests = 7;
  c.request_errors = 1;
  c.bytes_downloaded = 100;
  c.bytes_uploaded = 200;
  c.denials_local = 2;
  c.denials_server = 3;
  c.memory_in_use = 4096;
  c.memory_idle = 1024;
  c.memory_peak = 8192;
  c.read_buffers_new = 6;
  c.verify_lane_bytes = 640;
  c.verify_serial_bytes = 64;
  EXPECT_EQ(FormatStats(c, 1234, 5),
            "pid 1234\nrequests 7\nrequest_errors 1\nbytes_downloaded 100\nbytes_uploaded 200\n"
            "denials_scope 2\ndenials_server 3\nfiles_open_for_writing 5\nmemory_in_use 4096\n"
            "memory_idle 1024\nmemory_peak 8192\nread_buffers_new 6\nverify_lane_bytes 640\n"
            "verify_serial_bytes 64\n");
}

}  // namespace
}  // namespace spacesfs::fuse

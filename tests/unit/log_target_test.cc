// Where the daemon logs when no file is named: the journal only when stderr is the stream systemd
// connected (JOURNAL_STREAM names stderr's device and inode), stderr otherwise.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "common/logging.h"

namespace spacesfs {
namespace {

struct stat StatOf(dev_t dev, ino_t ino) {
  struct stat st{};
  st.st_dev = dev;
  st.st_ino = ino;
  return st;
}

TEST(IsJournalStream, MatchingDeviceAndInode) {
  EXPECT_TRUE(IsJournalStream("8:12345", StatOf(8, 12345)));
  EXPECT_TRUE(IsJournalStream("64768:18446744073709551615",
                              StatOf(64768, static_cast<ino_t>(18446744073709551615ull))));
}

TEST(IsJournalStream, DifferentDeviceOrInode) {
  EXPECT_FALSE(IsJournalStream("8:12345", StatOf(8, 12346)));
  EXPECT_FALSE(IsJournalStream("9:12345", StatOf(8, 12345)));
}

TEST(IsJournalStream, MalformedValues) {
  const struct stat st = StatOf(8, 12345);
  for (const char* bad : {"", "8", "8:", ":12345", "8:12345:", "8:12345x", " 8:12345", "8: 12345",
                          "+8:12345", "-8:12345", "8;12345", "x:y", "8:99999999999999999999999"}) {
    EXPECT_FALSE(IsJournalStream(bad, st)) << "'" << bad << "'";
  }
}

TEST(IsJournalStream, Unset) { EXPECT_FALSE(IsJournalStream(nullptr, StatOf(8, 12345))); }

class DefaultLogTargetTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("JOURNAL_STREAM"); }

  static std::string StderrStream(ino_t inode_delta) {
    struct stat st{};
    EXPECT_EQ(fstat(STDERR_FILENO, &st), 0);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + inode_delta);
  }
};

TEST_F(DefaultLogTargetTest, JournalOnlyWhenStderrIsTheStreamNamed) {
  setenv("JOURNAL_STREAM", StderrStream(0).c_str(), 1);
  EXPECT_EQ(DefaultLogTarget(""), LogTarget::kJournal);
  EXPECT_EQ(DefaultLogTarget("/var/log/x.log"), LogTarget::kFile);

  setenv("JOURNAL_STREAM", StderrStream(1).c_str(), 1);
  EXPECT_EQ(DefaultLogTarget(""), LogTarget::kStderr);

  setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_EQ(DefaultLogTarget(""), LogTarget::kStderr);

  unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(DefaultLogTarget(""), LogTarget::kStderr);
}

}  // namespace
}  // namespace spacesfs

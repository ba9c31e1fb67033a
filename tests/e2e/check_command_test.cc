// End to end: the `spacesfs check` binary on the local radosgw. A credential file it cannot use
// (open to others, malformed) and a Space the profile does not grant each give one line naming
// the problem and exit status 1; a read-only key whose profile claims readwrite is reported as
// reading but not writing, with the "less than the scope" warning. The secret never appears.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>

#include "support/e2e.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

class CheckCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = std::make_unique<testing::TempDir>(); }

  testing::CommandResult Check(const std::string& file, const std::string& args) {
    return RunShell(std::string(SPACESFS_BINARY) + " check -c " + ShellQuote(file) + " " + args);
  }
  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }
  static size_t Lines(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  static void ExpectNoSecret(const std::string& output) {
    EXPECT_EQ(output.find(testing::RequireEnv("SPACESFS_TEST_READER_SECRET_KEY")),
              std::string::npos);
  }

  std::unique_ptr<testing::TempDir> dir_;
};

TEST_F(CheckCommandTest, ACredentialFileOthersMayReadIsRefused) {
  std::string file = testing::WriteCredentialFile(
      Path("open"), testing::ProfileSection("p", "READER", {"team-a:read"}));
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  testing::CommandResult r = Check(file, "p team-a");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "spacesfs check: " + file +
                          ": mode 0644 lets group/others read secrets; run: chmod 600 " + file +
                          "\n");
  ExpectNoSecret(r.output);
}

TEST_F(CheckCommandTest, AMalformedFileIsNamedWithItsLine) {
  std::string file = testing::WriteCredentialFile(Path("malformed"),
                                                  "[p]\naccess_key_id = X\nthis line is wrong\n");
  testing::CommandResult r = Check(file, "p");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(Lines(r.output), 1u) << r.output;
  EXPECT_EQ(r.output.rfind("spacesfs check: " + file + ":3: ", 0), 0u) << r.output;
}

TEST_F(CheckCommandTest, ASpaceWithoutAGrantIsNamed) {
  std::string file = testing::WriteCredentialFile(
      Path("credentials"), testing::ProfileSection("p", "READER", {"team-a:read"}));
  testing::CommandResult r = Check(file, "p team-b");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(Lines(r.output), 1u) << r.output;
  EXPECT_EQ(r.output.rfind("spacesfs check: profile 'p' has no grant for Space 'team-b' (its "
                           "grants: team-a:read)",
                           0),
            0u)
      << r.output;
  ExpectNoSecret(r.output);
}

// The reader key (s3:GetObject and s3:ListBucket on team-a by bucket policy) under a profile that
// claims readwrite.
TEST_F(CheckCommandTest, AReadOnlyKeyClaimedReadWriteIsLessThanItsScope) {
  std::string file = testing::WriteCredentialFile(
      Path("credentials"), testing::ProfileSection("p", "READER", {"team-a:readwrite"}));
  testing::CommandResult r = Check(file, "p team-a");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Space 'team-a': key can list yes, read yes, write no, delete no; "
                          "scope: team-a:readwrite\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("warning: the key can do less than the scope allows"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("more than the scope"), std::string::npos) << r.output;
  ExpectNoSecret(r.output);
}

}  // namespace
}  // namespace spacesfs

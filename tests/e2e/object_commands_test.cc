// End to end: `spacesfs cp` up and back down, and `spacesfs ls`, on the local radosgw, with a
// credential file of the test's own.
#include <gtest/gtest.h>

#include "support/e2e.h"
#include "support/system_files.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::RunShell;
using testing::ShellQuote;

TEST(ObjectCommandsTest, CopyUpListAndCopyBack) {
  testing::TempDir dir;
  const std::string credentials = testing::WriteCredentialFile(
      dir.path() + "/credentials", testing::ProfileSection("p", "OWNER", {"team-a:readwrite"}));
  const std::string prefix = testing::UniquePrefix("object-commands");
  const std::string cli = std::string(SPACESFS_BINARY) + " ";
  const std::string common = " -c " + ShellQuote(credentials) + " -p p ";
  std::string body;
  for (int i = 0; i < 20000; ++i) body += std::to_string(i) + "\n";  // one part, MD5-checked
  testing::WriteWholeFile(dir.path() + "/up.txt", body);

  testing::CommandResult r =
      RunShell(cli + "cp" + common + ShellQuote(dir.path() + "/up.txt") + " team-a:/" + prefix);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunShell(cli + "ls" + common + "team-a:/" + prefix);
  EXPECT_NE(r.output.find("up.txt"), std::string::npos) << r.output;
  r = RunShell(cli + "cp" + common + "team-a:/" + prefix + "up.txt " +
               ShellQuote(dir.path() + "/down.txt"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::ReadWholeFile(dir.path() + "/down.txt").value_or("<none>"), body);

  std::unique_ptr<s3::ObjectClient> owner = testing::TenantClient("OWNER", "team-a");
  (void)owner->DeleteObject(prefix + "up.txt");
}

}  // namespace
}  // namespace spacesfs

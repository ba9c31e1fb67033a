#include "common/status.h"

#include <gtest/gtest.h>

#include "common/result.h"
#include "common/secret.h"

namespace spacesfs {
namespace {

TEST(StatusTest, ServerStatusFormatsOneLine) {
  Status s = Status::FromServer(ErrorCode::kAccessDenied, 403, "AccessDenied", "Access Denied",
                                "tx000-abc");
  Status c = s.WithContext("GET team-a/a.txt");
  EXPECT_EQ(c.ToString(),
            "access_denied: GET team-a/a.txt: Access Denied (HTTP 403 AccessDenied, request id "
            "tx000-abc)");
  EXPECT_EQ(c.s3_code(), "AccessDenied");
  EXPECT_FALSE(c.ok());
}

TEST(StatusTest, MessagesAreAlwaysOneLine) {
  Status s(ErrorCode::kCorrupt, "bad timestamp \"2011\nX-Injected: yes\r\"");
  EXPECT_EQ(s.message(), "bad timestamp \"2011\\x0aX-Injected: yes\\x0d\"");
  Status c = Status::FromServer(ErrorCode::kServerError, 500, "Oops\n", "m", "id\n")
                 .WithContext("GET a\nb");
  EXPECT_EQ(c.ToString().find('\n'), std::string::npos) << c.ToString();
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 7;
  Result<int> bad = Status(ErrorCode::kNotFound, "nope");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(good.status().ok());
}

TEST(SecretTest, WipeClearsBytes) {
  Secret s(std::string("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
  EXPECT_EQ(s.reveal().size(), 40u);
  Secret moved(std::move(s));
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move): moved-from is wiped by contract
  EXPECT_EQ(moved.reveal().substr(0, 7), "wJalrXU");
  moved.Wipe();
  EXPECT_TRUE(moved.empty());
}

}  // namespace
}  // namespace spacesfs

// ParseGrant, Space name and prefix rules.
#include <gtest/gtest.h>

#include <string>

#include "auth/grant.h"

namespace spacesfs::auth {
namespace {

Grant Ok(const std::string& text) {
  Result<Grant> g = ParseGrant(text);
  EXPECT_TRUE(g.ok()) << text << ": " << g.status().ToString();
  return g.ok() ? *g : Grant{};
}

std::string Error(const std::string& text) {
  Result<Grant> g = ParseGrant(text);
  EXPECT_FALSE(g.ok()) << text;
  if (g.ok()) return "(parsed)";
  EXPECT_EQ(g.status().code(), ErrorCode::kConfig);
  return g.status().message();
}

TEST(GrantParseTest, Forms) {
  EXPECT_EQ(Ok("photos:read"), (Grant{"photos", "", Permission::kRead, "", false}));
  EXPECT_EQ(Ok("photos/:read"), (Grant{"photos", "", Permission::kRead, "", false}));
  EXPECT_EQ(Ok("backups/db/:readwrite-nodelete"),
            (Grant{"backups", "db/", Permission::kReadWriteNoDelete, "", false}));
  EXPECT_EQ(Ok("backups/db:readwrite"), (Grant{"backups", "db/", Permission::kReadWrite, "", false}));
  EXPECT_EQ(Ok("logs/a/b/c/:append-only @ops"),
            (Grant{"logs", "a/b/c/", Permission::kAppendOnly, "ops", true}));
  EXPECT_EQ(Ok("  team/My Album/:fullaccess   alice  "),
            (Grant{"team", "My Album/", Permission::kFullAccess, "alice", false}));
  EXPECT_EQ(Ok("team/a:b/:read"), (Grant{"team", "a:b/", Permission::kRead, "", false}));
  EXPECT_EQ(Ok("my.space-1/x:read www-data"),
            (Grant{"my.space-1", "x/", Permission::kRead, "www-data", false}));
  EXPECT_EQ(Ok("abc:read machine$"), (Grant{"abc", "", Permission::kRead, "machine$", false}));
}

TEST(GrantParseTest, EveryPermission) {
  for (Permission p : {Permission::kRead, Permission::kAppendOnly, Permission::kReadWriteNoDelete,
                       Permission::kReadWrite, Permission::kFullAccess}) {
    EXPECT_EQ(Ok("abc:" + std::string(PermissionName(p))).permission, p);
    EXPECT_EQ(ParsePermission(PermissionName(p)), p);
  }
  EXPECT_EQ(ParsePermission("READ"), std::nullopt);
  EXPECT_EQ(ParsePermission("write"), std::nullopt);
  EXPECT_TRUE(Includes(Permission::kFullAccess, Permission::kRead));
  EXPECT_TRUE(Includes(Permission::kReadWrite, Permission::kReadWriteNoDelete));
  EXPECT_TRUE(Includes(Permission::kReadWriteNoDelete, Permission::kAppendOnly));
  EXPECT_FALSE(Includes(Permission::kAppendOnly, Permission::kReadWriteNoDelete));
}

TEST(GrantParseTest, FormatRoundTrips) {
  for (const char* text : {"photos:read", "backups/db/:readwrite-nodelete", "logs/app/:append-only @ops",
                           "team/My Album/:fullaccess alice"}) {
    EXPECT_EQ(FormatGrant(Ok(text)), text);
    EXPECT_EQ(Ok(FormatGrant(Ok(text))), Ok(text));
  }
}

TEST(GrantParseTest, SpaceNames) {
  for (const std::string& good :
       {std::string("abc"), std::string("my-space"), std::string("my.space"), std::string("a1b"),
        std::string("123"), std::string(63, 'a')}) {
    EXPECT_TRUE(ValidateSpaceName(good).ok()) << good;
  }
  EXPECT_EQ(ValidateSpaceName("ab").message(), "Space name 'ab' must be 3 to 63 characters long");
  EXPECT_EQ(ValidateSpaceName(std::string(64, 'a')).message(),
            "Space name '" + std::string(64, 'a') + "' must be 3 to 63 characters long");
  EXPECT_EQ(ValidateSpaceName("My-Space").message(),
            "Space name 'My-Space' may only contain lower-case letters, digits, '.' and '-'");
  EXPECT_EQ(ValidateSpaceName("my_space").message(),
            "Space name 'my_space' may only contain lower-case letters, digits, '.' and '-'");
  EXPECT_EQ(ValidateSpaceName("-abc").message(),
            "Space name '-abc' must start and end with a letter or digit");
  EXPECT_EQ(ValidateSpaceName("abc.").message(),
            "Space name 'abc.' must start and end with a letter or digit");
  for (const char* bad : {"a..b", "a.-b", "a-.b"}) {
    EXPECT_EQ(ValidateSpaceName(bad).message(),
              "Space name '" + std::string(bad) + "' must not contain '..', '.-' or '-.'");
  }
  EXPECT_EQ(ValidateSpaceName("192.168.1.1").message(),
            "Space name '192.168.1.1' must not look like an IP address");
  EXPECT_EQ(ValidateSpaceName("xn--abc").message(), "Space name 'xn--abc' must not start with 'xn--'");
}

TEST(GrantParseTest, Prefixes) {
  EXPECT_EQ(*NormalizeGrantPrefix(""), "");
  EXPECT_EQ(*NormalizeGrantPrefix("a"), "a/");
  EXPECT_EQ(*NormalizeGrantPrefix("a/b/"), "a/b/");
  EXPECT_EQ(*NormalizeGrantPrefix("..a/b..c/"), "..a/b..c/");  // dots inside names are fine
  EXPECT_EQ(NormalizeGrantPrefix("/a").status().message(), "prefix must not start with '/'");
  EXPECT_EQ(NormalizeGrantPrefix("a//b").status().message(),
            "prefix must not contain an empty component ('//')");
  EXPECT_EQ(NormalizeGrantPrefix("a//").status().message(),
            "prefix must not contain an empty component ('//')");
  EXPECT_EQ(NormalizeGrantPrefix("a/../b").status().message(),
            "prefix must not contain a '..' component");
  EXPECT_EQ(NormalizeGrantPrefix("..").status().message(), "prefix must not contain a '..' component");
  EXPECT_EQ(NormalizeGrantPrefix("a/./b").status().message(),
            "prefix must not contain a '.' component");
  EXPECT_EQ(NormalizeGrantPrefix(std::string("a\0b", 3)).status().message(),
            "prefix must not contain NUL or control characters");
  EXPECT_EQ(NormalizeGrantPrefix("a\nb").status().message(),
            "prefix must not contain NUL or control characters");
}

TEST(GrantParseTest, Errors) {
  const std::string shape = " (expected SPACE[/PREFIX]:PERMISSION [USER|@GROUP])";
  EXPECT_EQ(Error("photos"), "grant 'photos' has no ':PERMISSION'" + shape);
  EXPECT_EQ(Error(":read"), "grant ':read' names no Space" + shape);
  EXPECT_EQ(Error("photos :read"), "grant 'photos :read' has a space before ':'" + shape);
  EXPECT_EQ(Error("photos:"), "grant 'photos:': unknown permission '' (use read, readwrite, "
                              "fullaccess, readwrite-nodelete or append-only)");
  EXPECT_EQ(Error("photos:read-write"),
            "grant 'photos:read-write': unknown permission 'read-write' (use read, readwrite, "
            "fullaccess, readwrite-nodelete or append-only)");
  EXPECT_EQ(Error("photos:read alice bob"),
            "grant 'photos:read alice bob' names more than one user or group" + shape);
  EXPECT_EQ(Error("photos:read @"), "grant 'photos:read @': '' is not a valid group name");
  EXPECT_EQ(Error("photos:read al/ice"), "grant 'photos:read al/ice': 'al/ice' is not a valid user name");
  EXPECT_EQ(Error("photos:read -x"), "grant 'photos:read -x': '-x' is not a valid user name");
  EXPECT_EQ(Error("Photos:read"), "grant 'Photos:read': Space name 'Photos' may only contain "
                                  "lower-case letters, digits, '.' and '-'");
  EXPECT_EQ(Error("photos/../etc:read"),
            "grant 'photos/../etc:read': prefix must not contain a '..' component");
  EXPECT_EQ(Error("photos//:read"), "grant 'photos//:read': prefix must not start with '/'");
  EXPECT_EQ(Error("photos/a//b:read"),
            "grant 'photos/a//b:read': prefix must not contain an empty component ('//')");
}

}  // namespace
}  // namespace spacesfs::auth

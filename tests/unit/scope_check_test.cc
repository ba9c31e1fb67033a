// The scope engine's decisions: every permission x every operation, prefixes, tricky keys,
// precedence, users and groups.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "auth/scope.h"

namespace spacesfs::auth {
namespace {

constexpr uid_t kAlice = 1000, kBob = 1001, kCarol = 1002;
constexpr gid_t kStaff = 50, kOps = 60, kAliceGroup = 1000;

NameLookup TestLookup() {
  static const std::map<std::string, uid_t, std::less<>> users = {
      {"alice", kAlice}, {"bob", kBob}, {"carol", kCarol}};
  static const std::map<std::string, gid_t, std::less<>> groups = {{"staff", kStaff},
                                                                   {"ops", kOps}};
  NameLookup lookup;
  lookup.user_id = [](std::string_view name) -> std::optional<uid_t> {
    auto it = users.find(name);
    return it == users.end() ? std::nullopt : std::optional<uid_t>(it->second);
  };
  lookup.group_id = [](std::string_view name) -> std::optional<gid_t> {
    auto it = groups.find(name);
    return it == groups.end() ? std::nullopt : std::optional<gid_t>(it->second);
  };
  return lookup;
}

const Caller kAliceCaller{kAlice, kAliceGroup, {kStaff}};
const Caller kBobCaller{kBob, kOps, {}};
const Caller kCarolCaller{kCarol, 1002, {}};

std::vector<Grant> Grants(const std::vector<std::string>& lines) {
  std::vector<Grant> out;
  for (const std::string& line : lines) {
    Result<Grant> g = ParseGrant(line);
    EXPECT_TRUE(g.ok()) << line;
    if (g.ok()) out.push_back(*g);
  }
  return out;
}

ScopeChecker Checker(const std::vector<std::string>& lines, const std::string& space = "photos") {
  Result<ScopeChecker> c = ScopeChecker::Create(space, Grants(lines), TestLookup());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) std::abort();
  return std::move(c).value();
}

char Letter(Decision d) {
  switch (d) {
    case Decision::kAllowed: return 'A';
    case Decision::kReadOnly: return 'R';
    case Decision::kDenied: return 'D';
  }
  return '?';
}

// One row per permission, one column per operation in kAllOperations order:
// list read create overwrite append delete rename-from rename-to mkdir rmdir setattr.
// A = allowed, R = read-only (EROFS), D = denied (EACCES).
std::string Row(const ScopeChecker& checker, std::string_view key, const Caller& who) {
  std::string got;
  for (Operation op : kAllOperations) got += Letter(checker.Check(op, key, who));
  return got;
}

// The permission is the only grant: a `read` scope is read-only as a whole, so every refused
// modification is EROFS; any other scope lets someone write, so a refusal is EACCES.
TEST(ScopeCheckTest, EveryPermissionTimesEveryOperation) {
  const std::map<std::string, std::string> expected = {
      {"read",               "AARRRRRRRRR"},
      {"append-only",        "AAADDDDAADD"},
      {"readwrite-nodelete", "AAAAADDAADD"},
      {"readwrite",          "AAAAAAAAAAD"},
      {"fullaccess",         "AAAAAAAAAAA"},
  };
  for (const auto& [permission, row] : expected) {
    ScopeChecker checker = Checker({"photos/albums/:" + permission});
    EXPECT_EQ(checker.read_only(), permission == "read") << permission;
    EXPECT_EQ(Row(checker, "albums/2024/a.jpg", kBobCaller), row) << permission;
    // PermissionAllows is the same table.
    std::string table;
    for (Operation op : kAllOperations) {
      table += PermissionAllows(*ParsePermission(permission), op) ? 'A' : '-';
    }
    for (size_t i = 0; i < row.size(); ++i) EXPECT_EQ(table[i] == 'A', row[i] == 'A') << permission;
  }
}

// The same permission for bob on a mount where a grant for someone else (alice) allows writing:
// the scope is not read-only as a whole, so bob's refused modifications are EACCES, never EROFS,
// whatever his own permission is. alice's grant changes nothing for bob.
TEST(ScopeCheckTest, EveryPermissionTimesEveryOperationBesideAWritableGrant) {
  const std::map<std::string, std::string> expected = {
      {"read",               "AADDDDDDDDD"},
      {"append-only",        "AAADDDDAADD"},
      {"readwrite-nodelete", "AAAAADDAADD"},
      {"readwrite",          "AAAAAAAAAAD"},
      {"fullaccess",         "AAAAAAAAAAA"},
  };
  for (const std::string alices : {"photos/albums/:append-only alice", "photos:fullaccess alice",
                                    "photos/elsewhere/:readwrite @staff"}) {
    for (const auto& [permission, row] : expected) {
      ScopeChecker checker = Checker({"photos/albums/:" + permission, alices});
      EXPECT_FALSE(checker.read_only());
      EXPECT_EQ(Row(checker, "albums/2024/a.jpg", kBobCaller), row) << permission << " + " << alices;
    }
  }
}

// Keys the caller cannot see are EACCES for every operation, read-only scope or not; directories
// on the way to a grant can be listed, and a modification there is EROFS only on a read-only
// scope.
TEST(ScopeCheckTest, InvisibleKeysAndTheWayToAGrant) {
  ScopeChecker ro = Checker({"photos/a/b/:read"});
  ScopeChecker rw = Checker({"photos/a/b/:read", "photos/z/:readwrite alice"});
  for (const std::string key : {"a", "a/b", ""}) {
    EXPECT_EQ(Row(ro, key, kBobCaller), "ADRRRRRRRRR") << key;
    EXPECT_EQ(Row(rw, key, kBobCaller), "ADDDDDDDDDD") << key;
  }
  for (const std::string key : {"a/c", "a/bx", "top", "z/f", "a/readme"}) {
    EXPECT_EQ(Row(ro, key, kBobCaller), "DDDDDDDDDDD") << key;
    EXPECT_EQ(Row(rw, key, kBobCaller), "DDDDDDDDDDD") << key;
  }
  // A caller with no grant at all sees nothing, not even the root.
  ScopeChecker bobs = Checker({"photos:read bob"});
  EXPECT_TRUE(bobs.read_only());
  EXPECT_EQ(Row(bobs, "", kCarolCaller), "DDDDDDDDDDD");
  EXPECT_EQ(Row(bobs, "f", kCarolCaller), "DDDDDDDDDDD");
  EXPECT_EQ(Row(bobs, "f", kBobCaller), "AARRRRRRRRR");
}

TEST(ScopeCheckTest, OperationNames) {
  std::string names;
  for (Operation op : kAllOperations) names += std::string(OperationName(op)) + " ";
  EXPECT_EQ(names,
            "list read create overwrite append delete rename-from rename-to mkdir rmdir setattr ");
  EXPECT_FALSE(IsModifying(Operation::kList));
  EXPECT_FALSE(IsModifying(Operation::kRead));
  EXPECT_TRUE(IsModifying(Operation::kSetattr));
}

TEST(ScopeCheckTest, PrefixIsADirectoryNotAStringPrefix) {
  ScopeChecker c = Checker({"photos/db/:readwrite"});
  const Caller& who = kBobCaller;
  EXPECT_EQ(c.Check(Operation::kRead, "db/x", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kDelete, "db/x/y/z", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kRead, "dbx", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRead, "dbx/y", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kCreate, "db.x", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRead, "d", who), Decision::kDenied);
  // "db" itself is the grant's directory: listable, not itself modifiable or readable as a file.
  EXPECT_EQ(c.Check(Operation::kList, "db", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kRead, "db", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRmdir, "db", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRenameFrom, "db", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kList, "", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kCreate, "x", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kList, "other", who), Decision::kDenied);
}

TEST(ScopeCheckTest, NonNormalisedKeysAreRefused) {
  ScopeChecker c = Checker({"photos:fullaccess"});
  for (const std::string& key :
       {std::string("a/../b"), std::string("db/../../etc"), std::string(".."), std::string("."),
        std::string("a/./b"), std::string("a//b"), std::string("//a"), std::string("/a"),
        std::string("a/"), std::string("a/b/"), std::string("/"), std::string("a\0b", 3),
        std::string("db/.."), std::string("./db")}) {
    for (Operation op : kAllOperations) {
      EXPECT_EQ(c.Check(op, key, kBobCaller), Decision::kDenied) << key << " " << OperationName(op);
    }
    EXPECT_FALSE(ValidateKey(key).ok()) << key;
    EXPECT_EQ(c.EffectivePermission(key, kBobCaller), std::nullopt);
    EXPECT_FALSE(c.IsVisible(key, true, kBobCaller));
  }
  // Dots inside names are fine.
  EXPECT_EQ(c.Check(Operation::kRead, "a/..b/c..", kBobCaller), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kRead, ".hidden", kBobCaller), Decision::kAllowed);
  EXPECT_EQ(ValidateKey("a//b").message(), "key 'a//b' has an empty component ('//')");
  EXPECT_EQ(ValidateKey("a/../b").message(), "key 'a/../b' has a '..' component");
  EXPECT_EQ(ValidateKey("/a").message(), "key '/a' starts with '/'");
  EXPECT_EQ(ValidateKey("a/").message(), "key 'a/' ends with '/'");
}

TEST(ScopeCheckTest, DotDotCannotEscapeAGrant) {
  ScopeChecker c = Checker({"photos/public/:readwrite"});
  EXPECT_EQ(c.Check(Operation::kRead, "public/../private/x", kBobCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kDelete, "public/../private", kBobCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRead, "public//x", kBobCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRead, "private/x", kBobCaller), Decision::kDenied);
}

TEST(ScopeCheckTest, MostPermissiveMatchingGrantWins) {
  ScopeChecker c = Checker({"photos:read", "photos/a/:readwrite", "photos/a/b/:append-only",
                            "photos/a/b/c/:fullaccess", "photos/x/:append-only",
                            "photos/x/:readwrite-nodelete"});
  const Caller& who = kBobCaller;
  EXPECT_EQ(c.EffectivePermission("top.txt", who), Permission::kRead);
  EXPECT_EQ(c.EffectivePermission("a/f", who), Permission::kReadWrite);
  // A narrower, less permissive grant does not reduce a wider one.
  EXPECT_EQ(c.EffectivePermission("a/b/f", who), Permission::kReadWrite);
  EXPECT_EQ(c.EffectivePermission("a/b/c/f", who), Permission::kFullAccess);
  EXPECT_EQ(c.EffectivePermission("x/f", who), Permission::kReadWriteNoDelete);
  EXPECT_EQ(c.Check(Operation::kDelete, "a/b/f", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kSetattr, "a/b/f", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kSetattr, "a/b/c/f", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kDelete, "top.txt", who), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kOverwrite, "x/f", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kDelete, "x/f", who), Decision::kDenied);
  // Whole-Space read grant: the root and "a" are covered, so listing is allowed everywhere.
  EXPECT_EQ(c.Check(Operation::kList, "", who), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kCreate, "new.txt", who), Decision::kDenied);
}

TEST(ScopeCheckTest, EffectivePermissionNeverDecreasesWithDepth) {
  ScopeChecker c = Checker({"photos/a/:append-only", "photos/a/b/:read", "photos/a/b/c/:readwrite",
                            "photos/z:fullaccess @staff"});
  const std::vector<std::string> chain = {"a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e"};
  for (const Caller& who : {kAliceCaller, kBobCaller}) {
    std::optional<Permission> previous;
    for (const std::string& key : chain) {
      std::optional<Permission> p = c.EffectivePermission(key, who);
      if (previous) {
        ASSERT_TRUE(p.has_value()) << key;
        EXPECT_TRUE(Includes(*p, *previous)) << key;
      }
      previous = p;
    }
  }
}

TEST(ScopeCheckTest, ReadOnlyVersusDenied) {
  // Only read grants: every refused modification of a visible key is read-only, even above the
  // prefixes.
  ScopeChecker ro = Checker({"photos/2024/:read", "photos/2025/:read @staff"});
  EXPECT_TRUE(ro.read_only());
  EXPECT_EQ(ro.Check(Operation::kCreate, "2024/a.jpg", kBobCaller), Decision::kReadOnly);
  EXPECT_EQ(ro.Check(Operation::kCreate, "new.jpg", kBobCaller), Decision::kDenied);  // invisible
  EXPECT_EQ(ro.Check(Operation::kMkdir, "2024", kBobCaller), Decision::kReadOnly);
  EXPECT_EQ(ro.Check(Operation::kSetattr, "", kBobCaller), Decision::kReadOnly);
  EXPECT_EQ(ro.Check(Operation::kRead, "2024", kBobCaller), Decision::kDenied);
  EXPECT_EQ(ro.Check(Operation::kDelete, "2025/x", kBobCaller), Decision::kDenied);  // not his
  EXPECT_EQ(ro.Check(Operation::kDelete, "2025/x", kAliceCaller), Decision::kReadOnly);
  // With a writable grant anywhere in the Space, for anyone, refusals are plain denials.
  ScopeChecker rw = Checker({"photos/2024/:read", "photos/inbox/:append-only"});
  EXPECT_FALSE(rw.read_only());
  EXPECT_EQ(rw.Check(Operation::kCreate, "2024/a.jpg", kBobCaller), Decision::kDenied);
  EXPECT_EQ(rw.Check(Operation::kSetattr, "", kBobCaller), Decision::kDenied);
  EXPECT_EQ(rw.Check(Operation::kRmdir, "inbox", kBobCaller), Decision::kDenied);
  EXPECT_EQ(rw.Check(Operation::kDelete, "inbox/f", kBobCaller), Decision::kDenied);
  ScopeChecker others = Checker({"photos:read", "photos/x/:readwrite-nodelete @ops"});
  EXPECT_FALSE(others.read_only());
  EXPECT_EQ(others.Check(Operation::kOverwrite, "f", kAliceCaller), Decision::kDenied);
  EXPECT_EQ(others.Check(Operation::kCreate, "x/f", kBobCaller), Decision::kAllowed);
  // Grants for other Spaces do not count.
  ScopeChecker elsewhere = Checker({"photos:read", "videos:fullaccess"});
  EXPECT_TRUE(elsewhere.read_only());
  EXPECT_EQ(elsewhere.Check(Operation::kDelete, "f", kBobCaller), Decision::kReadOnly);
}

TEST(ScopeCheckTest, UsersAndGroups) {
  ScopeChecker c = Checker({"photos/alice/:fullaccess alice", "photos/staff/:readwrite @staff",
                            "photos/ops/:append-only @ops", "photos/shared/:read"});
  // alice: her own prefix, staff through a supplementary group, shared for everyone.
  EXPECT_EQ(c.Check(Operation::kSetattr, "alice/f", kAliceCaller), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kDelete, "staff/f", kAliceCaller), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kCreate, "ops/f", kAliceCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRead, "shared/f", kAliceCaller), Decision::kAllowed);
  // bob: ops through his primary group; not alice's or staff's.
  EXPECT_EQ(c.Check(Operation::kCreate, "ops/f", kBobCaller), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kRead, "alice/f", kBobCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kList, "alice", kBobCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kRead, "staff/f", kBobCaller), Decision::kDenied);
  // carol: only the grant for everyone, read; others may write in this Space, so a refused write
  // is denied, not read-only.
  EXPECT_EQ(c.Check(Operation::kRead, "shared/f", kCarolCaller), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kCreate, "shared/f", kCarolCaller), Decision::kDenied);
  EXPECT_EQ(c.Check(Operation::kCreate, "ops/f", kCarolCaller), Decision::kDenied);
  // The same uid with a different name does not matter: matching is by id.
  Caller alice_elsewhere{kAlice, 9999, {}};
  EXPECT_EQ(c.Check(Operation::kSetattr, "alice/f", alice_elsewhere), Decision::kAllowed);
  EXPECT_EQ(c.Check(Operation::kDelete, "staff/f", alice_elsewhere), Decision::kDenied);
  // A group grant matches the primary gid too.
  Caller staff_primary{4242, kStaff, {}};
  EXPECT_EQ(c.Check(Operation::kDelete, "staff/f", staff_primary), Decision::kAllowed);
  // Root gets nothing extra.
  Caller root{0, 0, {}};
  EXPECT_EQ(c.Check(Operation::kRead, "alice/f", root), Decision::kDenied);
}

// Supplementary groups are read for each request only when they can decide something.
TEST(ScopeCheckTest, GroupsMatterOnlyWhenAGrantNamesAGroup) {
  EXPECT_FALSE(Checker({"photos/alice/:fullaccess alice", "photos/shared/:read"}).uses_groups());
  EXPECT_TRUE(Checker({"photos/alice/:fullaccess alice", "photos/staff/:readwrite @staff"})
                  .uses_groups());
  // Grants of other Spaces are not kept, so their groups do not count.
  EXPECT_FALSE(Checker({"photos:read", "other:read @staff"}).uses_groups());
}

TEST(ScopeCheckTest, CreateRefusesUnknownNamesAndForeignSpaces) {
  Result<ScopeChecker> user = ScopeChecker::Create("photos", Grants({"photos:read dave"}), TestLookup());
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.status().code(), ErrorCode::kConfig);
  EXPECT_EQ(user.status().message(), "grant 'photos:read dave' names unknown user 'dave'");
  Result<ScopeChecker> group =
      ScopeChecker::Create("photos", Grants({"photos/x/:read @wheel"}), TestLookup());
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().message(), "grant 'photos/x/:read @wheel' names unknown group 'wheel'");
  Result<ScopeChecker> none =
      ScopeChecker::Create("videos", Grants({"photos:read", "photos-b:read"}), TestLookup());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "no grant names Space 'videos'");
  // Grants for other Spaces are ignored, including ones naming unknown users.
  ScopeChecker c = Checker({"videos:fullaccess", "photos/p/:read", "other:read nobody-here"});
  EXPECT_EQ(c.Check(Operation::kDelete, "p/x", kBobCaller), Decision::kReadOnly);
  EXPECT_EQ(c.Check(Operation::kRead, "x", kBobCaller), Decision::kDenied);
  EXPECT_EQ(c.space(), "photos");
}

// The example table in docs/SCOPES.md.
TEST(ScopeCheckTest, DocsExample) {
  NameLookup lookup;
  lookup.user_id = [](std::string_view name) -> std::optional<uid_t> {
    return name == "alice" ? std::optional<uid_t>(kAlice) : std::nullopt;
  };
  lookup.group_id = [](std::string_view name) -> std::optional<gid_t> {
    if (name == "team-a") return 700;
    if (name == "archivists") return 701;
    return std::nullopt;
  };
  Result<ScopeChecker> c = ScopeChecker::Create(
      "team-a",
      Grants({"team-a:read", "team-a/shared/:readwrite @team-a",
              "team-a/home/alice/:fullaccess alice", "team-a/inbox/:append-only",
              "team-a/archive/:readwrite-nodelete @archivists"}),
      lookup);
  ASSERT_TRUE(c.ok());
  const Caller alice{kAlice, kAliceGroup, {700}};
  const Caller bob{kBob, kBob, {}};
  auto row = [&](const Caller& who) {
    std::string out;
    out += Letter(c->Check(Operation::kDelete, "shared/x", who));
    out += Letter(c->Check(Operation::kAppend, "inbox/report", who));
    out += Letter(c->Check(Operation::kCreate, "inbox/new", who));
    out += Letter(c->Check(Operation::kSetattr, "home/alice/f", who));
    out += Letter(c->Check(Operation::kCreate, "notes", who));
    return out;
  };
  EXPECT_EQ(row(alice), "ADAAD");
  EXPECT_EQ(row(bob), "DDADD");
}

TEST(ScopeCheckTest, StatusMessages) {
  ScopeChecker c = Checker({"photos/ro/:read", "photos/box/:append-only"});
  EXPECT_TRUE(c.CheckStatus(Operation::kCreate, "box/new", kBobCaller).ok());
  Status ro = Checker({"photos/ro/:read"}).CheckStatus(Operation::kDelete, "ro/a.jpg", kBobCaller);
  EXPECT_EQ(ro.code(), ErrorCode::kReadOnly);
  EXPECT_EQ(ro.message(), "scope: delete 'ro/a.jpg' in photos: read-only (every grant is read)");
  Status read = c.CheckStatus(Operation::kDelete, "ro/a.jpg", kBobCaller);
  EXPECT_EQ(read.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(read.message(), "scope: delete 'ro/a.jpg' in photos: not allowed (read)");
  Status denied = c.CheckStatus(Operation::kOverwrite, "box/old", kBobCaller);
  EXPECT_EQ(denied.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "scope: overwrite 'box/old' in photos: not allowed (append-only)");
  EXPECT_EQ(c.CheckStatus(Operation::kRmdir, "box", kBobCaller).message(),
            "scope: rmdir 'box' in photos: not allowed above the granted prefixes");
  EXPECT_EQ(c.CheckStatus(Operation::kCreate, "x", kBobCaller).message(),
            "scope: create 'x' in photos: no grant covers this key for uid 1001");
  EXPECT_EQ(c.CheckStatus(Operation::kRead, "secret/x", kBobCaller).message(),
            "scope: read 'secret/x' in photos: no grant covers this key for uid 1001");
  Status bad = c.CheckStatus(Operation::kRead, "ro/../x", kBobCaller);
  EXPECT_EQ(bad.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(bad.message(), "scope: read 'ro/../x' in photos: key 'ro/../x' has a '..' component");
}

}  // namespace
}  // namespace spacesfs::auth

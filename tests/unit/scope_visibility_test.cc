// Which entries listings and lookups show: only what the caller's grants cover, and the
// directories leading to them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/scope.h"

namespace spacesfs::auth {
namespace {

constexpr uid_t kAlice = 1000, kBob = 1001;

ScopeChecker Checker(const std::vector<std::string>& lines) {
  std::vector<Grant> grants;
  for (const std::string& line : lines) grants.push_back(*ParseGrant(line));
  NameLookup lookup;
  lookup.user_id = [](std::string_view name) -> std::optional<uid_t> {
    if (name == "alice") return kAlice;
    if (name == "bob") return kBob;
    return std::nullopt;
  };
  lookup.group_id = [](std::string_view) -> std::optional<gid_t> { return std::nullopt; };
  Result<ScopeChecker> c = ScopeChecker::Create("backups", grants, lookup);
  if (!c.ok()) std::abort();
  return std::move(c).value();
}

const Caller kAliceCaller{kAlice, kAlice, {}};
const Caller kBobCaller{kBob, kBob, {}};

TEST(ScopeVisibilityTest, OnlyDirectoriesLeadingToGrantsShow) {
  ScopeChecker c = Checker({"backups/db/daily/:read", "backups/web/:readwrite"});
  const Caller& who = kBobCaller;
  EXPECT_TRUE(c.IsVisible("", true, who));
  EXPECT_TRUE(c.IsVisible("db", true, who));
  EXPECT_TRUE(c.IsVisible("db/daily", true, who));
  EXPECT_TRUE(c.IsVisible("db/daily/x.sql", false, who));
  EXPECT_TRUE(c.IsVisible("db/daily/deep/dir", true, who));
  EXPECT_TRUE(c.IsVisible("web/index.html", false, who));
  // Files at ancestor levels and siblings are hidden.
  EXPECT_FALSE(c.IsVisible("db", false, who));
  EXPECT_FALSE(c.IsVisible("README", false, who));
  EXPECT_FALSE(c.IsVisible("db/weekly", true, who));
  EXPECT_FALSE(c.IsVisible("db/notes.txt", false, who));
  EXPECT_FALSE(c.IsVisible("dbx", true, who));
  EXPECT_FALSE(c.IsVisible("db/dailyx", true, who));
  EXPECT_FALSE(c.IsVisible("db/daily.old", true, who));
  EXPECT_FALSE(c.IsVisible("webx", true, who));
}

TEST(ScopeVisibilityTest, PlanList) {
  ScopeChecker c = Checker({"backups/db/daily/:read", "backups/db/weekly/:read",
                            "backups/web/:readwrite", "backups/home/alice/:fullaccess alice"});
  ListPlan root = c.PlanList("", kBobCaller);
  EXPECT_EQ(root.kind, ListPlan::Kind::kOnly);
  EXPECT_EQ(root.directories, (std::vector<std::string>{"db", "web"}));
  ListPlan root_alice = c.PlanList("", kAliceCaller);
  EXPECT_EQ(root_alice.directories, (std::vector<std::string>{"db", "home", "web"}));
  ListPlan db = c.PlanList("db", kBobCaller);
  EXPECT_EQ(db.kind, ListPlan::Kind::kOnly);
  EXPECT_EQ(db.directories, (std::vector<std::string>{"daily", "weekly"}));
  EXPECT_EQ(c.PlanList("db/daily", kBobCaller).kind, ListPlan::Kind::kAll);
  EXPECT_EQ(c.PlanList("db/daily/2024", kBobCaller).kind, ListPlan::Kind::kAll);
  EXPECT_EQ(c.PlanList("web", kBobCaller).kind, ListPlan::Kind::kAll);
  EXPECT_EQ(c.PlanList("home", kBobCaller).kind, ListPlan::Kind::kHidden);
  EXPECT_EQ(c.PlanList("home", kAliceCaller).directories, (std::vector<std::string>{"alice"}));
  EXPECT_EQ(c.PlanList("home/alice", kAliceCaller).kind, ListPlan::Kind::kAll);
  EXPECT_EQ(c.PlanList("other", kBobCaller).kind, ListPlan::Kind::kHidden);
  EXPECT_EQ(c.PlanList("db/../web", kBobCaller).kind, ListPlan::Kind::kHidden);
  EXPECT_TRUE(c.PlanList("other", kBobCaller).directories.empty());
}

TEST(ScopeVisibilityTest, WholeSpaceGrantShowsEverything) {
  ScopeChecker c = Checker({"backups:read"});
  EXPECT_EQ(c.PlanList("", kBobCaller).kind, ListPlan::Kind::kAll);
  EXPECT_TRUE(c.IsVisible("anything", false, kBobCaller));
  EXPECT_TRUE(c.IsVisible("a/b/c", true, kBobCaller));
}

TEST(ScopeVisibilityTest, CallerWithoutGrantsSeesNothing) {
  ScopeChecker c = Checker({"backups/alice/:readwrite alice"});
  EXPECT_FALSE(c.IsVisible("", true, kBobCaller));
  EXPECT_FALSE(c.IsVisible("alice", true, kBobCaller));
  EXPECT_EQ(c.PlanList("", kBobCaller).kind, ListPlan::Kind::kHidden);
  EXPECT_EQ(c.Check(Operation::kList, "", kBobCaller), Decision::kDenied);
  EXPECT_TRUE(c.IsVisible("alice", true, kAliceCaller));
}

}  // namespace
}  // namespace spacesfs::auth

// Filesystem over MemoryObjectClient with hostile keys planted behind its back, including the ones
// radosgw refuses to store (invalid UTF-8), so the end-to-end test cannot plant them: names that
// are valid path components show exactly as stored, whatever bytes they hold; keys that cannot be
// paths are hidden; a symlink's target is only text, never resolved inside the Space.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <string>

#include "fs/filesystem.h"
#include "s3/memory_object_client.h"

namespace spacesfs::fs {
namespace {

class HostileNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.uid = 500;
    o.gid = 600;
    o.staging_dir = ::testing::TempDir();
    fs_ = std::make_unique<Filesystem>(client_, std::move(o));
  }

  void Plant(const std::string& key, std::string_view data, s3::UserMetadata meta = {}) {
    s3::PutObjectRequest req;
    req.key = key;
    req.body = s3::BodySource::FromView(data);
    req.metadata = std::move(meta);
    ASSERT_TRUE(client_.PutObject(req).ok()) << key;
  }

  std::set<std::string> Names(InodeId dir) {
    std::set<std::string> names;
    Result<DirHandle> dh = fs_->OpenDir(caller_, dir);
    EXPECT_TRUE(dh.ok()) << dh.status().ToString();
    if (!dh.ok()) return names;
    Status s = fs_->ReadDir(*dh, 0, [&](const DirEntry& e) {
      if (e.name != "." && e.name != "..") {
        EXPECT_TRUE(names.insert(e.name).second) << e.name;
      }
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(fs_->ReleaseDir(*dh).ok());
    return names;
  }

  s3::MemoryObjectClient client_;
  Caller caller_{1000, 1001, 42, {}};
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(HostileNamesTest, OddButValidNamesShowAsStored) {
  const std::string newline = "new\nline";
  const std::string control = std::string("ctl\x01\x1b[31m\x7f") + "end";
  const std::string bad_utf8 = "bad\xff\xfe\xc0utf8";
  const std::string overlong_slash = "over\xc0\xaflong";  // an overlong '/' is just two bytes
  const std::string tab_and_space = " lead\ttab trail ";
  for (const std::string& name : {newline, control, bad_utf8, overlong_slash, tab_and_space}) {
    Plant(name, "body of " + name);
  }
  Plant("dir/" + bad_utf8, "inner");
  EXPECT_EQ(Names(kRootInode),
            (std::set<std::string>{newline, control, bad_utf8, overlong_slash, tab_and_space, "dir"}));
  for (const std::string& name : {newline, control, bad_utf8, overlong_slash, tab_and_space}) {
    Result<Entry> e = fs_->Lookup(caller_, kRootInode, name);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->attr.type, FileType::kRegular);
    EXPECT_EQ(e->attr.size, ("body of " + name).size());
  }
  Result<Entry> dir = fs_->Lookup(caller_, kRootInode, "dir");
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(Names(dir->ino), (std::set<std::string>{bad_utf8}));
}

TEST_F(HostileNamesTest, KeysThatCannotBePathsAreHiddenAndUnreachable) {
  Plant("../x", "1");
  Plant("a//b", "2");
  Plant("a/./b", "3");
  Plant("a/../b", "4");
  Plant("/abs", "5");
  Plant("c/" + std::string(256, 'l'), "6");
  Plant("ok", "7");
  EXPECT_EQ(Names(kRootInode), (std::set<std::string>{"a", "c", "ok"}));
  Result<Entry> a = fs_->Lookup(caller_, kRootInode, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(Names(a->ino).empty());
  for (const char* name : {"..", ".", "x", "b", "abs", ""}) {
    Result<Entry> e = fs_->Lookup(caller_, kRootInode, name);
    EXPECT_FALSE(e.ok() && e->ino != kRootInode) << "\"" << name << "\" resolved to a planted key";
  }
  Result<Entry> b = fs_->Lookup(caller_, a->ino, "b");
  EXPECT_FALSE(b.ok()) << "a/b resolved to a//b, a/./b or a/../b";
}

TEST_F(HostileNamesTest, FileAndDirectoryOfTheSameNameShowTheDirectory) {
  Plant("same", "file body");
  Plant("same/", "");
  Plant("same/inner", "inner body");
  EXPECT_EQ(Names(kRootInode), (std::set<std::string>{"same"}));
  Result<Entry> e = fs_->Lookup(caller_, kRootInode, "same");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->attr.type, FileType::kDirectory);
  EXPECT_EQ(Names(e->ino), (std::set<std::string>{"inner"}));
}

TEST_F(HostileNamesTest, SymlinkTargetsOutsideTheSpaceAreOnlyText) {
  const s3::UserMetadata link_mode = {{"mode", std::to_string(S_IFLNK | 0777)}};
  Plant("abs-link", "/etc/passwd", link_mode);
  Plant("up-link", "../../../../etc/shadow", link_mode);
  Plant("nl-link", "target\nwith newline", link_mode);
  for (const auto& [name, target] : {std::pair{"abs-link", "/etc/passwd"},
                                     std::pair{"up-link", "../../../../etc/shadow"},
                                     std::pair{"nl-link", "target\nwith newline"}}) {
    Result<Entry> e = fs_->Lookup(caller_, kRootInode, name);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->attr.type, FileType::kSymlink);
    Result<std::string> text = fs_->ReadLink(caller_, e->ino);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_EQ(*text, target);
  }
  // Nothing was read or written outside the Space on the way.
  EXPECT_FALSE(client_.Info("etc/passwd").has_value());
}

}  // namespace
}  // namespace spacesfs::fs

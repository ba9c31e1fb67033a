// Filesystem over MemoryObjectClient: every operation, its error codes and its requests.
#include "fs/filesystem.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "fs/object_metadata.h"
#include "s3/memory_object_client.h"

namespace spacesfs::fs {
namespace {

using Op = s3::MemoryObjectClient::Operation;
using std::chrono::milliseconds;
using std::chrono::seconds;

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override { Mount(); }

  Options DefaultOptions() {
    Options o;
    o.uid = 500;
    o.gid = 600;
    o.staging_dir = ::testing::TempDir();
    o.attr_ttl = seconds(1);
    o.entry_ttl = seconds(1);
    o.negative_ttl = seconds(1);
    o.metadata_flush_delay = seconds(60);  // tests call SyncMetadata
    o.clock = [this] { return now_.load(); };
    return o;
  }
  void Mount() { Mount(DefaultOptions()); }
  void Mount(Options o) {
    fs_.reset();
    fs_ = std::make_unique<Filesystem>(client_, std::move(o));
  }
  void Advance(std::chrono::nanoseconds d) { now_ = now_.load() + d; }

  void PutRaw(const std::string& key, std::string_view data, s3::UserMetadata meta = {}) {
    s3::PutObjectRequest req;
    req.key = key;
    req.body = s3::BodySource::FromView(data);
    req.metadata = std::move(meta);
    ASSERT_TRUE(client_.PutObject(req).ok());
  }

  Result<Entry> Lookup(InodeId parent, std::string_view name) {
    return fs_->Lookup(caller_, parent, name);
  }
  InodeId Ino(InodeId parent, std::string_view name) {
    Result<Entry> e = Lookup(parent, name);
    EXPECT_TRUE(e.ok()) << name << ": " << e.status().ToString();
    return e.ok() ? e->ino : 0;
  }
  Status WriteFile(InodeId parent, std::string_view name, std::string_view data) {
    Result<CreateReply> c = fs_->Create(caller_, parent, name, 0644, O_WRONLY | O_CREAT | O_TRUNC);
    if (!c.ok()) return c.status();
    Result<size_t> n = fs_->Write(c->open.fh, 0, data);
    if (!n.ok()) return n.status();
    return fs_->Release(c->open.fh);
  }
  Result<std::string> ReadFile(InodeId ino) {
    Result<OpenReply> o = fs_->Open(caller_, ino, O_RDONLY);
    if (!o.ok()) return o.status();
    std::string out;
    for (;;) {
      Result<std::string> chunk = fs_->Read(o->fh, out.size(), 65536);
      if (!chunk.ok()) {
        (void)fs_->Release(o->fh);
        return chunk.status();
      }
      if (chunk->empty()) break;
      out += *chunk;
    }
    SPACESFS_RETURN_IF_ERROR(fs_->Release(o->fh));
    return out;
  }
  std::vector<std::pair<std::string, FileType>> List(InodeId dir, bool plus = false) {
    std::vector<std::pair<std::string, FileType>> out;
    Result<DirHandle> dh = fs_->OpenDir(caller_, dir);
    EXPECT_TRUE(dh.ok());
    if (!dh.ok()) return out;
    Status s;
    if (plus) {
      s = fs_->ReadDirPlus(*dh, 0, [&](const DirEntry& e, const Entry& a) {
        EXPECT_EQ(e.ino, a.ino);
        if (e.name != "." && e.name != "..") out.emplace_back(e.name, e.type);
        return true;
      });
    } else {
      s = fs_->ReadDir(*dh, 0, [&](const DirEntry& e) {
        if (e.name != "." && e.name != "..") out.emplace_back(e.name, e.type);
        return true;
      });
    }
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(fs_->ReleaseDir(*dh).ok());
    return out;
  }
  std::vector<std::string> Names(InodeId dir) {
    std::vector<std::string> names;
    for (auto& [n, t] : List(dir)) names.push_back(n);
    return names;
  }

  s3::MemoryObjectClient client_;
  std::atomic<std::chrono::steady_clock::time_point> now_{std::chrono::steady_clock::now()};
  Caller caller_{1000, 1001, 42, {}};
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(FilesystemTest, LookupGetAttrAndErrors) {
  PutRaw("a.txt", "hello");
  PutRaw("dir/b.txt", "bb");
  Result<Entry> a = Lookup(kRootInode, "a.txt");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attr.type, FileType::kRegular);
  EXPECT_EQ(a->attr.size, 5u);
  EXPECT_EQ(a->attr.mode, S_IFREG | 0644u);
  EXPECT_EQ(a->attr.uid, 500u);
  EXPECT_EQ(a->attr.gid, 600u);
  EXPECT_EQ(a->attr.mtime_ns, client_.Info("a.txt")->last_modified_ns);
  EXPECT_GT(a->attr_timeout_s, 0.9);
  Result<Entry> dir = Lookup(kRootInode, "dir");
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->attr.type, FileType::kDirectory);
  EXPECT_EQ(dir->attr.mode, S_IFDIR | 0755u);
  EXPECT_EQ(Lookup(dir->ino, "b.txt")->attr.size, 2u);
  EXPECT_EQ(Lookup(kRootInode, "missing").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Lookup(a->ino, "x").status().code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(Lookup(kRootInode, std::string(256, 'n')).status().code(), ErrorCode::kNameTooLong);
  EXPECT_EQ(Lookup(999999, "x").status().code(), ErrorCode::kNotFound);
  Result<AttrReply> attr = fs_->GetAttr(caller_, a->ino, std::nullopt);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(attr->attr.ino, a->ino);
  EXPECT_EQ(fs_->GetAttr(caller_, kRootInode, std::nullopt)->attr.type, FileType::kDirectory);
  EXPECT_EQ(fs_->GetAttr(caller_, 999999, std::nullopt).status().code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, ForgetDropsTheInode) {
  PutRaw("f", "x");
  InodeId ino = Ino(kRootInode, "f");
  EXPECT_EQ(Ino(kRootInode, "f"), ino);  // same path, same inode
  fs_->Forget(ino, 1);
  EXPECT_TRUE(fs_->GetAttr(caller_, ino, std::nullopt).ok());  // one lookup left
  std::pair<InodeId, uint64_t> items[] = {{ino, 1}};
  fs_->ForgetMulti(items);
  EXPECT_EQ(fs_->GetAttr(caller_, ino, std::nullopt).status().code(), ErrorCode::kNotFound);
  EXPECT_NE(Ino(kRootInode, "f"), ino);  // ids are not reused
}

// The kernel forgets a nodeid at any time, also while another lookup of the same name is under
// way (a dentry revalidation that got a new nodeid forgets it at once, then looks the name up
// again). A lookup that found the inode must still answer it: the inode is held from the moment
// it is found, never erased under a lookup that is about to return it (ENOENT before).
TEST_F(FilesystemTest, ALookupIsNotLostToAForgetOfTheSameInodeRacingIt) {
  PutRaw("f", "x");
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lost{0}, done{0};
  auto look_and_forget = [&] {
    while (!stop.load()) {
      Result<Entry> e = fs_->Lookup(caller_, kRootInode, "f");
      if (!e.ok()) {
        lost++;
        continue;
      }
      fs_->Forget(e->attr.ino, 1);
      done++;
    }
  };
  std::thread a(look_and_forget), b(look_and_forget);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline && lost.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(lost.load(), 0u) << "lookups that found the file but answered ENOENT, of "
                             << done.load() + lost.load();
  EXPECT_GT(done.load(), 1000u);
}

TEST_F(FilesystemTest, MetadataRoundTripInS3fsFormat) {
  Result<CreateReply> c = fs_->Create(caller_, kRootInode, "f", 0640, O_WRONLY | O_CREAT);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->entry.attr.mode, S_IFREG | 0640u);
  EXPECT_EQ(c->entry.attr.uid, 1000u);
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "data").ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  s3::UserMetadata meta = client_.Info("f")->metadata;
  EXPECT_EQ(meta.at("mode"), std::to_string(S_IFREG | 0640));  // "33184"
  EXPECT_EQ(meta.at("uid"), "1000");
  EXPECT_EQ(meta.at("gid"), "1001");
  EXPECT_FALSE(meta.at("mtime").empty());

  SetAttrRequest chmod;
  chmod.mode = 0600;
  chmod.uid = 7;
  chmod.gid = 8;
  chmod.mtime_ns = 1700000000123456789LL;
  chmod.atime_ns = 1700000000000000000LL;
  Result<AttrReply> r = fs_->SetAttr(caller_, c->entry.ino, chmod, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attr.mode, S_IFREG | 0600u);
  ASSERT_TRUE(fs_->SyncMetadata().ok());
  meta = client_.Info("f")->metadata;
  EXPECT_EQ(meta.at("mode"), std::to_string(S_IFREG | 0600));
  EXPECT_EQ(meta.at("uid"), "7");
  EXPECT_EQ(meta.at("gid"), "8");
  EXPECT_EQ(meta.at("mtime"), "1700000000.123456789");
  EXPECT_EQ(meta.at("atime"), "1700000000");
  EXPECT_EQ(*client_.Data("f"), "data");

  // A fresh mount reads them back.
  Mount();
  Result<Entry> e = Lookup(kRootInode, "f");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->attr.mode, S_IFREG | 0600u);
  EXPECT_EQ(e->attr.uid, 7u);
  EXPECT_EQ(e->attr.gid, 8u);
  EXPECT_EQ(e->attr.mtime_ns, 1700000000123456789LL);

  // What s3fs writes (whole seconds) is read too.
  PutRaw("s3fs", "x", {{"mode", "33261"}, {"uid", "33"}, {"gid", "44"}, {"mtime", "1600000000"}});
  e = Lookup(kRootInode, "s3fs");
  EXPECT_EQ(e->attr.mode, S_IFREG | 0755u);
  EXPECT_EQ(e->attr.uid, 33u);
  EXPECT_EQ(e->attr.gid, 44u);
  EXPECT_EQ(e->attr.mtime_ns, 1600000000LL * 1000000000LL);
}

TEST_F(FilesystemTest, DefaultsFromOptionsWithUmask) {
  Options o = DefaultOptions();
  o.umask = 0027;
  o.file_mode = 0666;
  o.dir_mode = 0777;
  Mount(o);
  PutRaw("f", "x");
  PutRaw("d/", "");
  EXPECT_EQ(Lookup(kRootInode, "f")->attr.mode, S_IFREG | 0640u);
  EXPECT_EQ(Lookup(kRootInode, "d")->attr.mode, S_IFDIR | 0750u);
}

TEST_F(FilesystemTest, AttributeChangesAreCoalesced) {
  ASSERT_TRUE(WriteFile(kRootInode, "f", "x").ok());
  InodeId ino = Ino(kRootInode, "f");
  client_.ResetRequestCounts();
  SetAttrRequest a, b, c;
  a.mode = 0600;
  b.uid = 9;
  c.mtime_ns = 1234567890LL * 1000000000LL;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, a, std::nullopt).ok());
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, b, std::nullopt).ok());
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, c, std::nullopt).ok());
  EXPECT_EQ(client_.RequestCount(Op::kCopyObject), 0u);
  // Pending changes win over what the server still says.
  Advance(seconds(5));
  EXPECT_EQ(fs_->GetAttr(caller_, ino, std::nullopt)->attr.uid, 9u);
  ASSERT_TRUE(fs_->SyncMetadata().ok());
  EXPECT_EQ(client_.RequestCount(Op::kCopyObject), 1u);
  EXPECT_EQ(client_.Info("f")->metadata.at("uid"), "9");
  EXPECT_EQ(client_.Info("f")->metadata.at("mode"), std::to_string(S_IFREG | 0600));
  ASSERT_TRUE(fs_->SyncMetadata().ok());
  EXPECT_EQ(client_.RequestCount(Op::kCopyObject), 1u);
}

// A server copies at most 5 GiB with one CopyObject (here: 10 MiB, and the mount knows it). A
// chmod of a larger file copies the object onto itself in parts, with the layout of those parts
// recorded; a rename of one copies it in parts too. Neither sends a CopyObject the server refuses.
TEST_F(FilesystemTest, AttributesAndRenameOfAnObjectOverTheCopyLimitGoInParts) {
  client_.set_max_copy_bytes(10 << 20);
  Options o = DefaultOptions();
  o.max_single_copy = 10 << 20;
  o.copy_part_size = 5 << 20;
  Mount(o);
  std::string data(12 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + i / 4099);
  ASSERT_TRUE(WriteFile(kRootInode, "big", data).ok());
  InodeId ino = Ino(kRootInode, "big");
  client_.ResetRequestCounts();
  SetAttrRequest chmod;
  chmod.mode = 0600;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, chmod, std::nullopt).ok());
  Status synced = fs_->SyncMetadata();
  ASSERT_TRUE(synced.ok()) << synced.ToString();
  EXPECT_EQ(client_.RequestCount(Op::kCopyObject), 0u);
  EXPECT_EQ(client_.RequestCount(Op::kUploadPartCopy), 3u);
  std::optional<s3::ObjectInfo> info = client_.Info("big");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->metadata.at("mode"), std::to_string(S_IFREG | 0600));
  EXPECT_TRUE(info->etag.ends_with("-3\"")) << info->etag;
  EXPECT_EQ(PartLayoutFromMetadata(info->metadata), (s3::PartLayout{5 << 20, 0}));
  EXPECT_TRUE(*client_.Data("big") == data);
  Result<std::string> back = ReadFile(ino);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == data);

  client_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Rename(caller_, kRootInode, "big", kRootInode, "moved", 0).ok());
  EXPECT_EQ(client_.RequestCount(Op::kCopyObject), 0u);
  EXPECT_EQ(client_.RequestCount(Op::kUploadPartCopy), 3u);
  EXPECT_TRUE(*client_.Data("moved") == data);
  EXPECT_EQ(client_.Info("moved")->metadata.at("mode"), std::to_string(S_IFREG | 0600));
  EXPECT_FALSE(client_.Info("big").has_value());
}

TEST_F(FilesystemTest, BackgroundFlusherWritesAttributesAfterTheDelay) {
  Options o = DefaultOptions();
  o.metadata_flush_delay = milliseconds(100);
  Mount(o);
  ASSERT_TRUE(WriteFile(kRootInode, "f", "x").ok());
  InodeId ino = Ino(kRootInode, "f");
  client_.ResetRequestCounts();
  SetAttrRequest a, b;
  a.mode = 0611;
  b.mode = 0612;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, a, std::nullopt).ok());
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, b, std::nullopt).ok());
  for (int i = 0; i < 50 && client_.RequestCount(Op::kCopyObject) == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(client_.RequestCount(Op::kCopyObject), 1u);
  EXPECT_EQ(client_.Info("f")->metadata.at("mode"), std::to_string(S_IFREG | 0612));
}

TEST_F(FilesystemTest, DirectoryAttributesPersistOnTheMarker) {
  PutRaw("implicit/child", "x");
  InodeId dir = Ino(kRootInode, "implicit");
  SetAttrRequest a;
  a.mode = 0700;
  ASSERT_TRUE(fs_->SetAttr(caller_, dir, a, std::nullopt).ok());
  ASSERT_TRUE(fs_->SyncMetadata().ok());
  ASSERT_TRUE(client_.Info("implicit/").has_value());
  EXPECT_EQ(client_.Info("implicit/")->metadata.at("mode"), std::to_string(S_IFDIR | 0700));
  Mount();
  EXPECT_EQ(Lookup(kRootInode, "implicit")->attr.mode, S_IFDIR | 0700u);
  SetAttrRequest size;
  size.size = 0;
  EXPECT_EQ(fs_->SetAttr(caller_, Ino(kRootInode, "implicit"), size, std::nullopt).status().code(),
            ErrorCode::kIsDirectory);
}

TEST_F(FilesystemTest, HiddenKeys) {
  PutRaw("ok", "1");
  PutRaw("a//b", "2");
  PutRaw("x/./y", "3");
  PutRaw("x/../y", "4");
  PutRaw("x/" + std::string(256, 'l'), "5");
  PutRaw(std::string("nul\0name", 8), "6");
  PutRaw("x/fine", "7");
  std::vector<std::string> root = Names(kRootInode);
  EXPECT_EQ(root, (std::vector<std::string>{"a", "ok", "x"}));  // "nul\0name" is hidden
  InodeId x = Ino(kRootInode, "x");
  EXPECT_EQ(Names(x), (std::vector<std::string>{"fine"}));
  InodeId a = Ino(kRootInode, "a");
  EXPECT_TRUE(Names(a).empty());
  // Creating such names is refused.
  EXPECT_EQ(fs_->MkDir(caller_, kRootInode, std::string(256, 'd'), 0755).status().code(),
            ErrorCode::kNameTooLong);
  EXPECT_EQ(fs_->MkDir(caller_, kRootInode, "..", 0755).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(fs_->Create(caller_, kRootInode, std::string("a\0b", 3), 0644, O_CREAT | O_WRONLY)
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  // A key over 1024 bytes.
  InodeId dir = kRootInode;
  for (int i = 0; i < 4; ++i) {
    Result<Entry> e = fs_->MkDir(caller_, dir, std::string(250, 'a' + i), 0755);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    dir = e->ino;
  }
  EXPECT_EQ(fs_->Create(caller_, dir, std::string(30, 'z'), 0644, O_CREAT | O_WRONLY)
                .status()
                .code(),
            ErrorCode::kNameTooLong);
}

TEST_F(FilesystemTest, DirectoryWinsOverFileOfTheSameName) {
  PutRaw("same", "file body");
  PutRaw("same/child", "c");
  Result<Entry> e = Lookup(kRootInode, "same");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->attr.type, FileType::kDirectory);
  auto entries = List(kRootInode);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "same");
  EXPECT_EQ(entries[0].second, FileType::kDirectory);
  EXPECT_EQ(Names(e->ino), (std::vector<std::string>{"child"}));
}

TEST_F(FilesystemTest, MkDirRmDir) {
  Result<Entry> d = fs_->MkDir(caller_, kRootInode, "d", 0750);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->attr.mode, S_IFDIR | 0750u);
  EXPECT_EQ(d->attr.uid, 1000u);
  ASSERT_TRUE(client_.Info("d/").has_value());
  EXPECT_EQ(client_.Info("d/")->content_type, "application/x-directory");
  EXPECT_EQ(client_.Info("d/")->metadata.at("mode"), std::to_string(S_IFDIR | 0750));
  EXPECT_EQ(fs_->MkDir(caller_, kRootInode, "d", 0755).status().code(), ErrorCode::kExists);
  ASSERT_TRUE(WriteFile(d->ino, "f", "x").ok());
  EXPECT_EQ(fs_->MkDir(caller_, kRootInode, "d", 0755).status().code(), ErrorCode::kExists);
  EXPECT_EQ(fs_->MkDir(caller_, Ino(d->ino, "f"), "sub", 0755).status().code(),
            ErrorCode::kNotDirectory);
  EXPECT_EQ(fs_->RmDir(caller_, kRootInode, "d").code(), ErrorCode::kNotEmpty);
  EXPECT_EQ(fs_->RmDir(caller_, d->ino, "f").code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(fs_->Unlink(caller_, kRootInode, "d").code(), ErrorCode::kIsDirectory);
  EXPECT_EQ(fs_->RmDir(caller_, kRootInode, "nope").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(fs_->Unlink(caller_, d->ino, "f").ok());
  ASSERT_TRUE(fs_->RmDir(caller_, kRootInode, "d").ok());
  EXPECT_TRUE(client_.Keys().empty());
  EXPECT_EQ(Lookup(kRootInode, "d").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(fs_->OpenDir(caller_, d->ino).status().code(), ErrorCode::kOk);  // inode still looked up
}

TEST_F(FilesystemTest, SymlinksInS3fsFormat) {
  Result<Entry> l = fs_->Symlink(caller_, "../target/path", kRootInode, "link");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->attr.type, FileType::kSymlink);
  EXPECT_EQ(l->attr.mode, S_IFLNK | 0777u);
  EXPECT_EQ(l->attr.size, 14u);
  EXPECT_EQ(*client_.Data("link"), "../target/path");
  EXPECT_EQ(client_.Info("link")->metadata.at("mode"), std::to_string(S_IFLNK | 0777));
  EXPECT_EQ(*fs_->ReadLink(caller_, l->ino), "../target/path");
  EXPECT_EQ(fs_->Symlink(caller_, "x", kRootInode, "link").status().code(), ErrorCode::kExists);
  Mount();
  Result<Entry> again = Lookup(kRootInode, "link");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->attr.type, FileType::kSymlink);
  EXPECT_EQ(*fs_->ReadLink(caller_, again->ino), "../target/path");
  ASSERT_TRUE(WriteFile(kRootInode, "file", "x").ok());
  EXPECT_EQ(fs_->ReadLink(caller_, Ino(kRootInode, "file")).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(fs_->Link(caller_, Ino(kRootInode, "file"), kRootInode, "hard").status().code(),
            ErrorCode::kNotPermitted);
}

TEST_F(FilesystemTest, CreateExclusiveAndTruncate) {
  ASSERT_TRUE(WriteFile(kRootInode, "f", "contents").ok());
  EXPECT_EQ(fs_->Create(caller_, kRootInode, "f", 0644, O_CREAT | O_EXCL | O_WRONLY)
                .status()
                .code(),
            ErrorCode::kExists);
  Result<CreateReply> c = fs_->Create(caller_, kRootInode, "f", 0644, O_CREAT | O_RDWR);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*fs_->Read(c->open.fh, 0, 100), "contents");
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  c = fs_->Create(caller_, kRootInode, "f", 0644, O_CREAT | O_TRUNC | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(*client_.Data("f"), "");
  // Created behind the mount's back while a negative entry is cached: the create is trusted
  // here, and the server refuses its upload (If-None-Match) at close; the other object stays.
  EXPECT_EQ(Lookup(kRootInode, "g").status().code(), ErrorCode::kNotFound);
  PutRaw("g", "other");
  c = fs_->Create(caller_, kRootInode, "g", 0644, O_CREAT | O_EXCL | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "mine").ok());
  EXPECT_EQ(fs_->Flush(c->open.fh).code(), ErrorCode::kExists);
  EXPECT_TRUE(fs_->Release(c->open.fh).ok());  // the bytes were dropped at the refusal
  EXPECT_EQ(*client_.Data("g"), "other");
  EXPECT_EQ(*ReadFile(Ino(kRootInode, "g")), "other");
  EXPECT_EQ(fs_->Create(caller_, 999, "h", 0644, O_CREAT).status().code(), ErrorCode::kNotFound);
  Result<Entry> n = fs_->MkNod(caller_, kRootInode, "node", S_IFREG | 0600);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*client_.Data("node"), "");
  EXPECT_EQ(fs_->MkNod(caller_, kRootInode, "fifo", S_IFIFO | 0600).status().code(),
            ErrorCode::kNotSupported);
}

TEST_F(FilesystemTest, TruncateThenSize) {
  ASSERT_TRUE(WriteFile(kRootInode, "f", "0123456789").ok());
  InodeId ino = Ino(kRootInode, "f");
  SetAttrRequest t;
  t.size = 4;
  Result<AttrReply> r = fs_->SetAttr(caller_, ino, t, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attr.size, 4u);
  EXPECT_EQ(*client_.Data("f"), "0123");
  t.size = 8;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, t, std::nullopt).ok());
  EXPECT_EQ(*client_.Data("f"), std::string("0123\0\0\0\0", 8));
  EXPECT_EQ(fs_->GetAttr(caller_, ino, std::nullopt)->attr.size, 8u);
  // ftruncate through a handle: uploaded on release.
  Result<OpenReply> o = fs_->Open(caller_, ino, O_RDWR);
  ASSERT_TRUE(o.ok());
  t.size = 2;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, t, o->fh).ok());
  EXPECT_EQ(fs_->GetAttr(caller_, ino, o->fh)->attr.size, 2u);
  EXPECT_EQ(*fs_->Read(o->fh, 0, 100), "01");
  ASSERT_TRUE(fs_->Release(o->fh).ok());
  EXPECT_EQ(*client_.Data("f"), "01");
  t.size = 0;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, t, std::nullopt).ok());
  EXPECT_EQ(*client_.Data("f"), "");
}

TEST_F(FilesystemTest, AppendRandomWritesAndOverwrites) {
  ASSERT_TRUE(WriteFile(kRootInode, "f", "hello").ok());
  InodeId ino = Ino(kRootInode, "f");
  Result<OpenReply> o = fs_->Open(caller_, ino, O_WRONLY | O_APPEND);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(fs_->Write(o->fh, 0, " world").ok());  // offset ignored with O_APPEND
  ASSERT_TRUE(fs_->Release(o->fh).ok());
  EXPECT_EQ(*client_.Data("f"), "hello world");
  o = fs_->Open(caller_, ino, O_RDWR);
  ASSERT_TRUE(fs_->Write(o->fh, 2, "XY").ok());
  ASSERT_TRUE(fs_->Write(o->fh, 13, "!").ok());  // past the end: a hole of zeros
  EXPECT_EQ(*fs_->Read(o->fh, 0, 100), std::string("heXYo world\0\0!", 14));
  ASSERT_TRUE(fs_->Release(o->fh).ok());
  EXPECT_EQ(*client_.Data("f"), std::string("heXYo world\0\0!", 14));
  EXPECT_EQ(*ReadFile(ino), std::string("heXYo world\0\0!", 14));
  // Writing through a read-only handle is refused.
  o = fs_->Open(caller_, ino, O_RDONLY);
  EXPECT_EQ(fs_->Write(o->fh, 0, "x").status().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(fs_->Release(o->fh).ok());
  EXPECT_EQ(fs_->Read(12345, 0, 1).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(fs_->Release(12345).code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, FlushAndFsyncPutDataOnTheServer) {
  Result<CreateReply> c = fs_->Create(caller_, kRootInode, "f", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*client_.Data("f"), "");  // the first file made in a directory: stored at once
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "abc").ok());
  EXPECT_EQ(*client_.Data("f"), "");
  ASSERT_TRUE(fs_->Flush(c->open.fh).ok());
  EXPECT_EQ(*client_.Data("f"), "abc");
  ASSERT_TRUE(fs_->Write(c->open.fh, 3, "def").ok());
  ASSERT_TRUE(fs_->Fsync(c->open.fh, false).ok());
  EXPECT_EQ(*client_.Data("f"), "abcdef");
  client_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Flush(c->open.fh).ok());  // nothing dirty: no request
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_.TotalRequests(), 0u);
}

TEST_F(FilesystemTest, LargeFilesUseMultipart) {
  Options o = DefaultOptions();
  o.multipart_threshold = 8 << 20;
  o.part_size = 8 << 20;
  Mount(o);
  std::string data(20 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 251);
  Result<CreateReply> c = fs_->Create(caller_, kRootInode, "big", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  client_.ResetRequestCounts();
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    ASSERT_TRUE(fs_->Write(c->open.fh, off, std::string_view(data).substr(off, 1 << 20)).ok());
  }
  // Written front to back: the full parts went up while writing, nothing is complete yet.
  EXPECT_EQ(client_.RequestCount(Op::kCreateMultipartUpload), 1u);
  EXPECT_EQ(client_.RequestCount(Op::kCompleteMultipartUpload), 0u);
  EXPECT_EQ(client_.Info("big")->size, 0u);
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_.RequestCount(Op::kCreateMultipartUpload), 1u);
  EXPECT_EQ(client_.RequestCount(Op::kUploadPart), 3u);
  EXPECT_EQ(client_.RequestCount(Op::kCompleteMultipartUpload), 1u);
  EXPECT_EQ(client_.RequestCount(Op::kPutObject), 0u);
  EXPECT_TRUE(client_.Info("big")->etag.ends_with("-3\""));
  EXPECT_TRUE(*client_.Data("big") == data);
  // Sequential reads are fetched ahead, in a bounded number of requests.
  Mount(o);
  client_.ResetRequestCounts();
  Result<std::string> back = ReadFile(Ino(kRootInode, "big"));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == data);
  EXPECT_LE(client_.RequestCount(Op::kGetObject), 12u);
  EXPECT_GE(client_.RequestCount(Op::kGetObject), 3u);
}

TEST_F(FilesystemTest, UnlinkOfAnOpenFile) {
  PutRaw("f", "the contents of f");
  InodeId ino = Ino(kRootInode, "f");
  Result<OpenReply> r = fs_->Open(caller_, ino, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*fs_->Read(r->fh, 0, 3), "the");
  Result<OpenReply> w = fs_->Open(caller_, ino, O_RDWR);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(fs_->Unlink(caller_, kRootInode, "f").ok());
  EXPECT_FALSE(client_.Info("f").has_value());
  EXPECT_EQ(Lookup(kRootInode, "f").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(*fs_->Read(r->fh, 4, 100), "contents of f");
  ASSERT_TRUE(fs_->Write(w->fh, 0, "THE").ok());
  EXPECT_EQ(*fs_->Read(r->fh, 0, 3), "THE");
  EXPECT_TRUE(fs_->Flush(w->fh).ok());
  EXPECT_TRUE(fs_->Release(w->fh).ok());
  EXPECT_TRUE(fs_->Release(r->fh).ok());
  EXPECT_TRUE(client_.Keys().empty());  // not recreated
  EXPECT_EQ(fs_->Unlink(caller_, kRootInode, "f").code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, RenameFiles) {
  ASSERT_TRUE(WriteFile(kRootInode, "a", "AAA").ok());
  ASSERT_TRUE(WriteFile(kRootInode, "b", "BBB").ok());
  InodeId a = Ino(kRootInode, "a");
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "a", kRootInode, "b", kRenameNoReplace).code(),
            ErrorCode::kExists);
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "a", kRootInode, "b", kRenameExchange).code(),
            ErrorCode::kNotSupported);
  EXPECT_EQ(*client_.Data("b"), "BBB");
  ASSERT_TRUE(fs_->Rename(caller_, kRootInode, "a", kRootInode, "b", 0).ok());
  EXPECT_EQ(*client_.Data("b"), "AAA");
  EXPECT_FALSE(client_.Info("a").has_value());
  EXPECT_EQ(Ino(kRootInode, "b"), a);  // the inode moved
  EXPECT_EQ(Lookup(kRootInode, "a").status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(fs_->Rename(caller_, kRootInode, "b", kRootInode, "c", kRenameNoReplace).ok());
  EXPECT_EQ(*ReadFile(Ino(kRootInode, "c")), "AAA");
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "zz", kRootInode, "c", 0).code(),
            ErrorCode::kNotFound);
  // Types: a directory over a file, a file over a directory, over a non-empty directory.
  ASSERT_TRUE(fs_->MkDir(caller_, kRootInode, "d", 0755).ok());
  ASSERT_TRUE(fs_->MkDir(caller_, kRootInode, "full", 0755).ok());
  ASSERT_TRUE(WriteFile(Ino(kRootInode, "full"), "x", "x").ok());
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "d", kRootInode, "c", 0).code(),
            ErrorCode::kNotDirectory);
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "c", kRootInode, "d", 0).code(),
            ErrorCode::kIsDirectory);
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "d", kRootInode, "full", 0).code(),
            ErrorCode::kNotEmpty);
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "full", Ino(kRootInode, "full"), "in", 0).code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(fs_->Rename(caller_, kRootInode, "full", kRootInode, "d", 0).ok());
  EXPECT_EQ(Names(Ino(kRootInode, "d")), (std::vector<std::string>{"x"}));
  EXPECT_EQ(Lookup(kRootInode, "full").status().code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, RenameOfADirectoryOf100Files) {
  Result<Entry> src = fs_->MkDir(caller_, kRootInode, "src", 0755);
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(fs_->MkDir(caller_, src->ino, "sub", 0755).ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(WriteFile(src->ino, "file" + std::to_string(i), "data" + std::to_string(i)).ok());
  }
  InodeId sub = Ino(src->ino, "sub");
  ASSERT_TRUE(WriteFile(sub, "deep", "deep data").ok());
  ASSERT_TRUE(fs_->Rename(caller_, kRootInode, "src", kRootInode, "dst", 0).ok());
  for (const std::string& key : client_.Keys()) EXPECT_EQ(key.substr(0, 4), "dst/") << key;
  EXPECT_EQ(client_.Keys().size(), 103u);  // 2 markers + 100 files + deep
  EXPECT_EQ(Lookup(kRootInode, "src").status().code(), ErrorCode::kNotFound);
  InodeId dst = Ino(kRootInode, "dst");
  EXPECT_EQ(dst, src->ino);
  EXPECT_EQ(List(dst).size(), 101u);
  EXPECT_EQ(*ReadFile(Ino(dst, "file42")), "data42");
  EXPECT_EQ(*ReadFile(Ino(sub, "deep")), "deep data");  // inodes below moved along
}

TEST_F(FilesystemTest, ReadDirPlusOf1000EntriesIsOneListAndNoHead) {
  for (int i = 0; i < 1000; ++i) PutRaw("big/" + std::to_string(100000 + i), std::string(i % 7, 'x'));
  InodeId big = Ino(kRootInode, "big");
  client_.ResetRequestCounts();
  Result<DirHandle> dh = fs_->OpenDir(caller_, big);
  ASSERT_TRUE(dh.ok());
  size_t n = 0;
  std::set<InodeId> inos;
  ASSERT_TRUE(fs_->ReadDirPlus(*dh, 0, [&](const DirEntry& e, const Entry& a) {
                    if (e.name != "." && e.name != "..") {
                      EXPECT_EQ(a.attr.size, (std::stoul(e.name) - 100000) % 7) << e.name;
                      EXPECT_EQ(a.attr.type, FileType::kRegular);
                      inos.insert(a.ino);
                    }
                    ++n;
                    return true;
                  })
                  .ok());
  ASSERT_TRUE(fs_->ReleaseDir(*dh).ok());
  EXPECT_EQ(n, 1002u);
  EXPECT_EQ(inos.size(), 1000u);
  EXPECT_EQ(client_.RequestCount(Op::kListObjects), 1u);
  EXPECT_EQ(client_.RequestCount(Op::kHeadObject), 0u);
  // The entries are cached: lookups and getattr cost nothing within the TTL.
  Result<Entry> e = Lookup(big, "100500");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(inos.count(e->ino));
  EXPECT_TRUE(fs_->GetAttr(caller_, e->ino, std::nullopt).ok());
  EXPECT_EQ(client_.TotalRequests(), 1u);
}

TEST_F(FilesystemTest, ReadDirResumesAtOffsets) {
  for (int i = 0; i < 10; ++i) PutRaw("d/f" + std::to_string(i), "x");
  InodeId d = Ino(kRootInode, "d");
  Result<DirHandle> dh = fs_->OpenDir(caller_, d);
  std::vector<std::string> seen;
  uint64_t offset = 0;
  for (int round = 0; round < 20; ++round) {
    int room = 3;
    size_t before = seen.size();
    ASSERT_TRUE(fs_->ReadDirPlus(*dh, offset, [&](const DirEntry& e, const Entry&) {
                      if (room-- == 0) return false;
                      seen.push_back(e.name);
                      offset = e.offset;
                      return true;
                    })
                    .ok());
    if (seen.size() == before) break;
  }
  ASSERT_TRUE(fs_->ReleaseDir(*dh).ok());
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen[0], ".");
  EXPECT_EQ(seen[1], "..");
  EXPECT_EQ(seen[11], "f9");
  EXPECT_EQ(fs_->OpenDir(caller_, Ino(d, "f1")).status().code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(fs_->ReadDir(424242, 0, [](const DirEntry&) { return true; }).code(),
            ErrorCode::kNotFound);
}

// A directory this mount just made is empty: names looked up in it (tar, cp -r) are missing
// without a LIST, for negative_ttl; after that, or once a child is forgotten, the server is asked.
TEST_F(FilesystemTest, LookupsInADirectoryJustMadeNeedNoRequest) {
  using Op = s3::MemoryObjectClient::Operation;
  Result<Entry> d = fs_->MkDir(caller_, kRootInode, "new", 0755);
  ASSERT_TRUE(d.ok());
  client_.ResetRequestCounts();
  EXPECT_EQ(Lookup(d->ino, "a").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Lookup(d->ino, "b").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(client_.TotalRequests(), 0u);
  // Made here, found here, without a request either.
  ASSERT_TRUE(WriteFile(d->ino, "a", "aa").ok());
  client_.ResetRequestCounts();
  EXPECT_EQ(Lookup(d->ino, "a")->attr.size, 2u);
  EXPECT_EQ(client_.RequestCount(Op::kListObjects), 0u);
  // The kernel forgets "a": the directory is no longer known whole; "a" is still found.
  InodeId a = Ino(d->ino, "a");
  fs_->Forget(a, 3);
  PutRaw("new/c", "behind the back");
  client_.ResetRequestCounts();
  Result<Entry> again = Lookup(d->ino, "a");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->attr.size, 2u);
  EXPECT_GE(client_.RequestCount(Op::kListObjects), 1u);
  Result<Entry> c = Lookup(d->ino, "c");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->attr.size, 15u);
}

// A name known as a file is revalidated with one HEAD (existence, ETag and metadata at once; a
// GET for a small file);
// only when it is gone does a LIST tell what is there now.
// A long sequential read takes its chunk buffers from the ones the reader has passed: with the
// budget a default mount gives the data path (96 MiB, read-ahead 48 MiB, 8 MiB chunks), fresh
// buffers are about a window's worth, not one per chunk (fresh memory costs page faults).
TEST_F(FilesystemTest, ALongSequentialReadReusesItsChunkBuffers) {
  Options o = DefaultOptions();
  o.memory_budget = 96ull << 20;
  o.max_read_ahead = 48ull << 20;
  Mount(o);
  std::string data(128ull << 20, '\0');
  for (size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(i / 4096);
  s3::PutObjectRequest put;
  put.key = "long";
  put.body = s3::BodySource::FromView(data);
  ASSERT_TRUE(client_.PutObject(put).ok());
  Result<Entry> e = fs_->Lookup(caller_, kRootInode, "long");
  ASSERT_TRUE(e.ok());
  Result<OpenReply> o2 = fs_->Open(caller_, e->ino, O_RDONLY);
  ASSERT_TRUE(o2.ok());
  uint64_t offset = 0;
  bool same = true;
  for (;;) {
    Result<std::string> got = fs_->Read(o2->fh, offset, 128 << 10);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (got->empty()) break;
    same = same && data.compare(offset, got->size(), *got) == 0;
    offset += got->size();
  }
  EXPECT_EQ(offset, data.size());
  EXPECT_TRUE(same);
  ASSERT_TRUE(fs_->Release(o2->fh).ok());
  // 16 chunks of 8 MiB after the growing ones; a 48 MiB window holds 6 of them.
  EXPECT_LE(fs_->GetCounters().read_buffers_new, 13u);  // 9 here; 19 when each chunk was new
}

TEST_F(FilesystemTest, AKnownFileIsRevalidatedWithOneRequest) {
  using Op = s3::MemoryObjectClient::Operation;
  PutRaw("f", "one");
  PutRaw("g", "gee");
  ASSERT_EQ(Names(kRootInode), (std::vector<std::string>{"f", "g"}));
  Advance(milliseconds(1100));
  PutRaw("f", "changed");
  client_.ResetRequestCounts();
  Result<Entry> f = Lookup(kRootInode, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->attr.size, 7u);
  EXPECT_EQ(client_.RequestCount(Op::kGetObject), 1u);  // small: the GET brings the content too
  EXPECT_EQ(client_.TotalRequests(), 1u);
  // Replaced by a directory behind the mount's back: HEAD says gone, a LIST finds the directory.
  ASSERT_TRUE(client_.DeleteObject("g").ok());
  PutRaw("g/inside", "x");
  Advance(milliseconds(1100));
  client_.ResetRequestCounts();
  Result<Entry> g = Lookup(kRootInode, "g");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->attr.type, FileType::kDirectory);
  EXPECT_GE(client_.RequestCount(Op::kListObjects), 1u);
}

// A new file is stored by its first upload: a small file made in a directory just made (tar,
// cp -r) costs one PUT and no other request.
TEST_F(FilesystemTest, ASmallNewFileIsOnePut) {
  using Op = s3::MemoryObjectClient::Operation;
  Result<Entry> d = fs_->MkDir(caller_, kRootInode, "new", 0755);
  ASSERT_TRUE(d.ok());
  client_.ResetRequestCounts();
  EXPECT_EQ(Lookup(d->ino, "a").status().code(), ErrorCode::kNotFound);
  Result<CreateReply> c =
      fs_->Create(caller_, d->ino, "a", 0640, O_CREAT | O_EXCL | O_WRONLY);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(client_.TotalRequests(), 0u);
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "four").ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_.RequestCount(Op::kPutObject), 1u);
  EXPECT_EQ(client_.TotalRequests(), 1u);
  EXPECT_EQ(*client_.Data("new/a"), "four");
  // Created and closed without a write (touch): an empty object, at release. A flush before
  // the first write (a shell's `> file` closes a duplicate descriptor first) sends nothing.
  c = fs_->Create(caller_, d->ino, "touched", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  client_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Flush(c->open.fh).ok());
  EXPECT_EQ(client_.TotalRequests(), 0u);
  EXPECT_FALSE(client_.Data("new/touched").has_value());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(*client_.Data("new/touched"), "");
  c = fs_->Create(caller_, d->ino, "echoed", 0644, O_CREAT | O_TRUNC | O_WRONLY);
  ASSERT_TRUE(c.ok());
  client_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Flush(c->open.fh).ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "hi\n").ok());
  ASSERT_TRUE(fs_->Flush(c->open.fh).ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_.RequestCount(Op::kPutObject), 1u);
  EXPECT_EQ(*client_.Data("new/echoed"), "hi\n");
  // The mode and owner went up with the bytes.
  Mount();
  Result<Entry> a = Lookup(Ino(kRootInode, "new"), "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attr.mode & 07777, 0640u);
  EXPECT_EQ(a->attr.uid, caller_.uid);
  // In a directory where this mount has not stored anything yet, the first new file is stored
  // at once (a key the server refuses fails the open); the next ones at their first upload.
  InodeId known = Ino(kRootInode, "new");
  c = fs_->Create(caller_, known, "first", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(client_.Data("new/first").has_value());
  EXPECT_EQ(*client_.Data("new/first"), "");
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  c = fs_->Create(caller_, known, "second", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(client_.Data("new/second").has_value());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(*client_.Data("new/second"), "");
}

// Until it is stored, a new file is known to this mount only: listed, not empty for rmdir,
// exclusive for a second create; unlinked, it is never stored and costs no request.
TEST_F(FilesystemTest, ANewFileNotStoredYetIsSeenByThisMount) {
  using Op = s3::MemoryObjectClient::Operation;
  Result<Entry> d = fs_->MkDir(caller_, kRootInode, "dir", 0755);
  ASSERT_TRUE(d.ok());
  Result<CreateReply> c = fs_->Create(caller_, d->ino, "open", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "pending").ok());
  EXPECT_FALSE(client_.Data("dir/open").has_value());
  EXPECT_EQ(Names(d->ino), std::vector<std::string>{"open"});
  EXPECT_EQ(fs_->GetAttr(caller_, c->entry.ino, std::nullopt)->attr.size, 7u);
  EXPECT_EQ(fs_->RmDir(caller_, kRootInode, "dir").code(), ErrorCode::kNotEmpty);
  EXPECT_EQ(fs_->Create(caller_, d->ino, "open", 0644, O_CREAT | O_EXCL | O_WRONLY)
                .status()
                .code(),
            ErrorCode::kExists);
  client_.ResetRequestCounts();
  ASSERT_TRUE(fs_->Unlink(caller_, d->ino, "open").ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_.RequestCount(Op::kDeleteObject), 0u);
  EXPECT_EQ(client_.RequestCount(Op::kPutObject), 0u);
  EXPECT_FALSE(client_.Data("dir/open").has_value());
  EXPECT_TRUE(Names(d->ino).empty());
  ASSERT_TRUE(fs_->RmDir(caller_, kRootInode, "dir").ok());
  // A second handle reads what was written so far.
  c = fs_->Create(caller_, kRootInode, "read", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "so far").ok());
  Result<OpenReply> r = fs_->Open(caller_, c->entry.ino, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*fs_->Read(r->fh, 0, 100), "so far");
  ASSERT_TRUE(fs_->Release(r->fh).ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(*client_.Data("read"), "so far");
  // Renamed while open and not stored: stored at the old name first, so the rename is a copy,
  // and the bytes end at the new name.
  c = fs_->Create(caller_, kRootInode, "tmp", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "renamed").ok());
  ASSERT_TRUE(fs_->Rename(caller_, kRootInode, "tmp", kRootInode, "final", 0).ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 7, "+more").ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_FALSE(client_.Data("tmp").has_value());
  EXPECT_EQ(*client_.Data("final"), "renamed+more");
}

// O_EXCL holds against other clients: a file that outgrows one PUT takes its name with an
// If-None-Match PUT before its parts go up, and loses it cleanly if another client was first.
TEST_F(FilesystemTest, AnExclusiveCreateThatOutgrowsOnePutTakesItsNameFirst) {
  using Op = s3::MemoryObjectClient::Operation;
  Options o = DefaultOptions();
  o.multipart_threshold = 8 << 20;
  o.part_size = 8 << 20;
  Mount(o);
  std::string mib(1 << 20, 'x');
  ASSERT_TRUE(fs_->MkDir(caller_, kRootInode, "d", 0755).ok());
  InodeId d = Ino(kRootInode, "d");
  Result<CreateReply> c = fs_->Create(caller_, d, "big", 0644, O_CREAT | O_EXCL | O_WRONLY);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(fs_->Write(c->open.fh, i * mib.size(), mib).ok());
  EXPECT_FALSE(client_.Data("d/big").has_value());
  PutRaw("d/big", "someone else");
  EXPECT_EQ(fs_->Write(c->open.fh, 7 * mib.size(), mib).status().code(), ErrorCode::kExists);
  EXPECT_EQ(client_.RequestCount(Op::kCreateMultipartUpload), 0u);
  fs_->Release(c->open.fh);
  EXPECT_EQ(*client_.Data("d/big"), "someone else");
  // Without a rival, the name is taken at 8 MiB and the parts follow.
  c = fs_->Create(caller_, d, "big2", 0644, O_CREAT | O_EXCL | O_WRONLY);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(fs_->Write(c->open.fh, i * mib.size(), mib).ok());
  EXPECT_FALSE(client_.Data("d/big2").has_value());
  ASSERT_TRUE(fs_->Write(c->open.fh, 7 * mib.size(), mib).ok());
  ASSERT_TRUE(client_.Data("d/big2").has_value());
  EXPECT_EQ(*client_.Data("d/big2"), "");
  for (int i = 8; i < 20; ++i) ASSERT_TRUE(fs_->Write(c->open.fh, i * mib.size(), mib).ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_.Info("d/big2")->size, 20u << 20);
}

TEST_F(FilesystemTest, AnEmptyDirectoryIsAskedAgainAfterTheNegativeTtl) {
  Result<Entry> d = fs_->MkDir(caller_, kRootInode, "new", 0755);
  ASSERT_TRUE(d.ok());
  PutRaw("new/x", "made by another client");
  EXPECT_EQ(Lookup(d->ino, "x").status().code(), ErrorCode::kNotFound);
  Advance(milliseconds(1100));
  client_.ResetRequestCounts();
  ASSERT_TRUE(Lookup(d->ino, "x").ok());
  EXPECT_GE(client_.TotalRequests(), 1u);
}

TEST_F(FilesystemTest, ChangesBehindTheMountsBackAppearAfterTtl) {
  EXPECT_EQ(Lookup(kRootInode, "new").status().code(), ErrorCode::kNotFound);
  PutRaw("new", "v1");
  EXPECT_EQ(Lookup(kRootInode, "new").status().code(), ErrorCode::kNotFound);  // negative cache
  Advance(milliseconds(1100));
  Result<Entry> e = Lookup(kRootInode, "new");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->attr.size, 2u);
  EXPECT_EQ(Names(kRootInode), (std::vector<std::string>{"new"}));

  // Close-to-open: an open handle sees its version or kStale; a new open sees the new one.
  Result<OpenReply> o = fs_->Open(caller_, e->ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  PutRaw("new", "version 2");
  EXPECT_EQ(fs_->Read(o->fh, 0, 100).status().code(), ErrorCode::kStale);
  ASSERT_TRUE(fs_->Release(o->fh).ok());
  EXPECT_EQ(fs_->GetAttr(caller_, e->ino, std::nullopt)->attr.size, 2u);  // cached
  Advance(milliseconds(1100));
  EXPECT_EQ(fs_->GetAttr(caller_, e->ino, std::nullopt)->attr.size, 9u);
  EXPECT_EQ(*ReadFile(e->ino), "version 2");

  // Deleted behind the back: gone after the TTL.
  ASSERT_TRUE(client_.DeleteObject("new").ok());
  Advance(milliseconds(1100));
  EXPECT_EQ(fs_->GetAttr(caller_, e->ino, std::nullopt).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Lookup(kRootInode, "new").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Names(kRootInode).empty());
}

TEST_F(FilesystemTest, OpenRevalidatesAfterTheTtl) {
  PutRaw("f", "one");
  InodeId ino = Ino(kRootInode, "f");
  client_.ResetRequestCounts();
  EXPECT_EQ(*ReadFile(ino), "one");
  EXPECT_EQ(client_.RequestCount(Op::kHeadObject), 0u);  // fresh from the lookup
  PutRaw("f", "two!");
  Advance(seconds(2));
  client_.ResetRequestCounts();
  EXPECT_EQ(*ReadFile(ino), "two!");
  // A small file: one GET revalidates it and brings the content the read is served from.
  EXPECT_EQ(client_.RequestCount(Op::kGetObject), 1u);
  EXPECT_EQ(client_.TotalRequests(), 1u);
  // Larger than kSmallBodyBytes (16 KiB): a HEAD, then the read's GET.
  const std::string large(20 << 10, 'L'), larger(24 << 10, 'M');
  PutRaw("f", large);
  Advance(seconds(2));
  EXPECT_EQ(*ReadFile(ino), large);
  PutRaw("f", larger);
  Advance(seconds(2));
  client_.ResetRequestCounts();
  EXPECT_EQ(*ReadFile(ino), larger);
  EXPECT_EQ(client_.RequestCount(Op::kHeadObject), 1u);
  EXPECT_EQ(client_.RequestCount(Op::kGetObject), 1u);
}

TEST_F(FilesystemTest, PrefixMountsSeeOnlyTheirPrefix) {
  PutRaw("other/x", "no");
  PutRaw("home/alice/notes", "yes");
  Options o = DefaultOptions();
  o.prefix = "home/alice/";
  Mount(o);
  EXPECT_EQ(Names(kRootInode), (std::vector<std::string>{"notes"}));
  ASSERT_TRUE(WriteFile(kRootInode, "new", "n").ok());
  EXPECT_EQ(*client_.Data("home/alice/new"), "n");
  ASSERT_TRUE(fs_->MkDir(caller_, kRootInode, "d", 0755).ok());
  EXPECT_TRUE(client_.Info("home/alice/d/").has_value());
}

TEST_F(FilesystemTest, ReadOnlyMountAndScopeChecks) {
  PutRaw("f", "x");
  Options o = DefaultOptions();
  o.read_only = true;
  Mount(o);
  InodeId f = Ino(kRootInode, "f");
  EXPECT_EQ(fs_->Open(caller_, f, O_WRONLY).status().code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Create(caller_, kRootInode, "g", 0644, O_CREAT).status().code(),
            ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->MkDir(caller_, kRootInode, "g", 0755).status().code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Unlink(caller_, kRootInode, "f").code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Rename(caller_, kRootInode, "f", kRootInode, "g", 0).code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->SetAttr(caller_, f, SetAttrRequest{}, std::nullopt).status().code(),
            ErrorCode::kReadOnly);
  EXPECT_EQ(*ReadFile(f), "x");

  o.read_only = false;
  // An append-only scope (tests/fs/scope_*_test.cc cover scopes fully): creating is allowed,
  // deleting is refused before any request.
  Result<auth::ScopeChecker> scope =
      auth::ScopeChecker::Create("test-bucket", {*auth::ParseGrant("test-bucket:append-only")}, {});
  ASSERT_TRUE(scope.ok()) << scope.status().ToString();
  o.scope = std::make_shared<const auth::ScopeChecker>(std::move(*scope));
  Mount(o);
  EXPECT_EQ(fs_->Unlink(caller_, kRootInode, "f").code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(client_.Data("f").has_value());
  EXPECT_TRUE(WriteFile(kRootInode, "open-file", "ok").ok());
}

TEST_F(FilesystemTest, ServerRefusalsSurface) {
  // A 403 from the server is kAccessDenied, not an I/O error.
  class Denying : public s3::MemoryObjectClient {
   public:
    Result<s3::ObjectInfo> HeadObject(const std::string& key) override {
      if (key == "secret") {
        return Status::FromServer(ErrorCode::kAccessDenied, 403, "AccessDenied", "no", "id");
      }
      return MemoryObjectClient::HeadObject(key);
    }
  } denying;
  s3::PutObjectRequest put;
  put.key = "secret";
  put.body = s3::BodySource::FromView("x");
  ASSERT_TRUE(denying.PutObject(put).ok());  // listed, but its HEAD is refused
  Options o = DefaultOptions();
  Filesystem fs(denying, o);
  EXPECT_EQ(fs.Lookup(caller_, kRootInode, "secret").status().code(), ErrorCode::kAccessDenied);
}

TEST_F(FilesystemTest, StatFsReportsALargeFreeFilesystem) {
  Result<StatFsReply> st = fs_->StatFs(kRootInode);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->name_max, 255u);
  EXPECT_GT(st->blocks_available, 0u);
  EXPECT_TRUE(fs_->Destroy().ok());
}

TEST_F(FilesystemTest, ConcurrentWritersOnDistinctFiles) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!WriteFile(kRootInode, name, name).ok()) failures++;
        Result<Entry> e = fs_->Lookup(caller_, kRootInode, name);
        if (!e.ok() || e->attr.size != name.size()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(client_.Keys().size(), 100u);
  EXPECT_EQ(Names(kRootInode).size(), 100u);
}

// Fails chosen operations of a MemoryObjectClient.
class FlakyClient : public s3::MemoryObjectClient {
 public:
  std::atomic<int> fail_puts{0};
  std::atomic<int> fail_parts{0};
  std::atomic<int> fail_from_part{1};  // parts numbered below this are never failed
  Result<std::string> PutObject(const s3::PutObjectRequest& request) override {
    if (fail_puts > 0) {
      fail_puts--;
      return Status::FromServer(ErrorCode::kServerError, 500, "InternalError", "boom", "r1");
    }
    return MemoryObjectClient::PutObject(request);
  }
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id, int part,
                                 const s3::BodySource& body) override {
    if (fail_parts > 0 && part >= fail_from_part) {
      fail_parts--;
      return Status(ErrorCode::kNetwork, "connection reset");
    }
    return MemoryObjectClient::UploadPart(key, upload_id, part, body);
  }
};

// A client whose next GETs deliver one byte changed (as a faulty network would).
class FlippingClient : public s3::MemoryObjectClient {
 public:
  std::atomic<int> flip_gets{0};
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    bool flip = flip_gets > 0 && flip_gets-- > 0;
    return MemoryObjectClient::GetObject(request, [&](std::string_view chunk) {
      if (!flip || chunk.empty()) return sink(chunk);
      std::string changed(chunk);
      changed[0] ^= 1;
      flip = false;
      return sink(changed);
    });
  }
};

// Content a revalidating GET brought is served only when its ETag verifies it.
TEST_F(FilesystemTest, ContentThatFailsItsEtagIsNotServedFromTheLookup) {
  FlippingClient flipping;
  Filesystem fs(flipping, DefaultOptions());
  s3::PutObjectRequest put;
  put.key = "g";
  put.body = s3::BodySource::FromView("good");
  ASSERT_TRUE(flipping.PutObject(put).ok());
  Result<Entry> g = fs.Lookup(caller_, kRootInode, "g");
  ASSERT_TRUE(g.ok());
  Advance(seconds(2));
  flipping.flip_gets = 1;
  flipping.ResetRequestCounts();
  ASSERT_TRUE(fs.Lookup(caller_, kRootInode, "g").ok());  // the revalidating GET, flipped
  Result<OpenReply> open = fs.Open(caller_, g->ino, O_RDONLY);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(*fs.Read(open->fh, 0, 100), "good");
  ASSERT_TRUE(fs.Release(open->fh).ok());
  EXPECT_EQ(flipping.RequestCount(Op::kGetObject), 2u);
}

// A client that can be told to refuse every GET (to show what is served without one).
class GetGateClient : public s3::MemoryObjectClient {
 public:
  std::atomic<bool> refuse_gets{false};
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    if (refuse_gets) return Status(ErrorCode::kNetwork, "GET refused by the test");
    return MemoryObjectClient::GetObject(request, sink);
  }
};

// Reading a small file fetches the next small files of its directory in the background, so a
// program reading them one after another (cat *, grep -r) finds each one here.
TEST_F(FilesystemTest, ReadingASmallFileFetchesTheNextOnesOfItsDirectory) {
  GetGateClient gate;
  Filesystem fs(gate, DefaultOptions());
  for (int i = 0; i < 12; ++i) {
    s3::PutObjectRequest put;
    put.key = "d/f" + std::to_string(10 + i);
    std::string body = "content " + std::to_string(i);
    put.body = s3::BodySource::FromView(body);
    ASSERT_TRUE(gate.PutObject(put).ok());
  }
  Result<Entry> d = fs.Lookup(caller_, kRootInode, "d");
  ASSERT_TRUE(d.ok());
  Result<DirHandle> dh = fs.OpenDir(caller_, d->ino);
  ASSERT_TRUE(dh.ok());
  std::map<std::string, InodeId> inos;
  ASSERT_TRUE(fs.ReadDirPlus(*dh, 0, [&](const DirEntry& e, const Entry& a) {
                  inos[e.name] = a.ino;
                  return true;
                }).ok());
  ASSERT_TRUE(fs.ReleaseDir(*dh).ok());
  ASSERT_EQ(inos.size(), 14u);  // with . and ..
  auto read = [&](const std::string& name) -> Result<std::string> {
    Result<OpenReply> o = fs.Open(caller_, inos[name], O_RDONLY);
    if (!o.ok()) return o.status();
    Result<std::string> bytes = fs.Read(o->fh, 0, 65536);
    (void)fs.Release(o->fh);
    return bytes;
  };
  gate.ResetRequestCounts();
  EXPECT_EQ(*read("f10"), "content 0");
  // f11..f18 come in the background: 1 + 8 GETs.
  for (int i = 0; i < 500 && gate.RequestCount(Op::kGetObject) < 9; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Each answer is taken in after its GET returns: give the last ones time (no request needed).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(gate.RequestCount(Op::kGetObject), 9u);
  gate.refuse_gets = true;
  for (int i = 1; i <= 8; ++i) {
    Result<std::string> got = read("f" + std::to_string(10 + i));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_EQ(*got, "content " + std::to_string(i));
  }
  EXPECT_FALSE(read("f20").ok());  // nine ahead of the first: not fetched
  gate.refuse_gets = false;
  EXPECT_EQ(*read("f20"), "content 10");
}

// A client that holds the answer of a GET of one key until the test lets it go.
class HeldGetClient : public s3::MemoryObjectClient {
 public:
  std::string hold_key;
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    Result<s3::ObjectInfo> info = MemoryObjectClient::GetObject(request, sink);
    if (request.key == hold_key) {
      std::unique_lock lock(mu_);
      holding_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return released_; });
    }
    return info;
  }
  bool WaitUntilHolding() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [this] { return holding_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  bool released_ = false;
};

// Puts d/a and d/b ("content of d/a", "content of d/b") and looks both up through fs.
void PutAndLookUpAAndB(s3::MemoryObjectClient& client, Filesystem& fs, const Caller& caller,
                       Entry* a, Entry* b) {
  for (const char* key : {"d/a", "d/b"}) {
    s3::PutObjectRequest put;
    put.key = key;
    std::string body = std::string("content of ") + key;
    put.body = s3::BodySource::FromView(body);
    ASSERT_TRUE(client.PutObject(put).ok());
  }
  Result<Entry> d = fs.Lookup(caller, kRootInode, "d");
  ASSERT_TRUE(d.ok());
  Result<Entry> found_a = fs.Lookup(caller, d->ino, "a");
  Result<Entry> found_b = fs.Lookup(caller, d->ino, "b");
  ASSERT_TRUE(found_a.ok() && found_b.ok());
  *a = *found_a;
  *b = *found_b;
}

// Reads d/a through fs, which starts the background GET of d/b, and waits until held holds it.
void ReadAStartingTheGetOfB(Filesystem& fs, HeldGetClient& held, const Caller& caller,
                            const Entry& a) {
  Result<OpenReply> o = fs.Open(caller, a.ino, O_RDONLY);
  ASSERT_TRUE(o.ok());
  Result<std::string> got = fs.Read(o->fh, 0, 4096);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "content of d/a");
  ASSERT_TRUE(fs.Release(o->fh).ok());
  ASSERT_TRUE(held.WaitUntilHolding());
}

// A background GET that answers after the file was changed here brings back nothing of the
// version it fetched: the truncate stays.
TEST_F(FilesystemTest, APrefetchAnsweredAfterATruncateDoesNotBringTheOldSizeBack) {
  HeldGetClient held;
  held.hold_key = "d/b";
  Filesystem fs(held, DefaultOptions());
  Entry a, b;
  ASSERT_NO_FATAL_FAILURE(PutAndLookUpAAndB(held, fs, caller_, &a, &b));
  ASSERT_NO_FATAL_FAILURE(ReadAStartingTheGetOfB(fs, held, caller_, a));
  SetAttrRequest truncate;
  truncate.size = 0;
  ASSERT_TRUE(fs.SetAttr(caller_, b.ino, truncate, std::nullopt).ok());
  held.Release();
  ASSERT_TRUE(fs.Destroy().ok());  // waits for the background GET
  Result<AttrReply> attr = fs.GetAttr(caller_, b.ino, std::nullopt);
  ASSERT_TRUE(attr.ok());
  EXPECT_EQ(attr->attr.size, 0u);
  Result<s3::ObjectInfo> stored = held.HeadObject("d/b");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size, 0u);
}

// A reader that opens a file whose background GET is still on its way waits for that answer
// instead of asking the server a second time (cat * catching up with the prefetch).
TEST_F(FilesystemTest, AReaderWaitsForTheBackgroundGetOfItsFileInsteadOfAskingAgain) {
  HeldGetClient held;
  held.hold_key = "d/b";
  Filesystem fs(held, DefaultOptions());
  Entry a, b;
  ASSERT_NO_FATAL_FAILURE(PutAndLookUpAAndB(held, fs, caller_, &a, &b));
  held.ResetRequestCounts();
  ASSERT_NO_FATAL_FAILURE(ReadAStartingTheGetOfB(fs, held, caller_, a));
  Result<OpenReply> ob = fs.Open(caller_, b.ino, O_RDONLY);
  ASSERT_TRUE(ob.ok());
  std::atomic<bool> done{false};
  Result<std::string> got = Status(ErrorCode::kIoError, "not read");
  std::thread reader([&] {
    got = fs.Read(ob->fh, 0, 4096);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(done.load());  // waiting for the held answer, not asking again
  held.Release();
  reader.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "content of d/b");
  ASSERT_TRUE(fs.Release(ob->fh).ok());
  EXPECT_EQ(held.RequestCount(Op::kGetObject), 2u);  // d/a's own, and d/b's in the background
}

// Opening a file whose attributes expired while its background GET is on its way waits for that
// GET (which revalidates it) instead of sending a HEAD or GET of its own.
TEST_F(FilesystemTest, OpeningAFileWhoseBackgroundGetIsOnItsWayWaitsForIt) {
  HeldGetClient held;
  held.hold_key = "d/b";
  Filesystem fs(held, DefaultOptions());
  Entry a, b;
  ASSERT_NO_FATAL_FAILURE(PutAndLookUpAAndB(held, fs, caller_, &a, &b));
  Advance(seconds(5));  // every attribute has expired
  held.ResetRequestCounts();
  ASSERT_NO_FATAL_FAILURE(ReadAStartingTheGetOfB(fs, held, caller_, a));
  std::atomic<bool> done{false};
  Result<OpenReply> ob = Status(ErrorCode::kIoError, "not opened");
  std::thread opener([&] {
    ob = fs.Open(caller_, b.ino, O_RDONLY);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(done.load());
  EXPECT_EQ(held.RequestCount(Op::kHeadObject), 0u);
  held.Release();
  opener.join();
  ASSERT_TRUE(ob.ok()) << ob.status().ToString();
  EXPECT_EQ(*fs.Read(ob->fh, 0, 4096), "content of d/b");
  ASSERT_TRUE(fs.Release(ob->fh).ok());
  EXPECT_EQ(held.RequestCount(Op::kGetObject), 2u);  // d/a's, and d/b's in the background
  EXPECT_EQ(held.RequestCount(Op::kHeadObject), 0u);
}

// A new file whose upload fails at close is not left behind as a name that holds nothing.
TEST_F(FilesystemTest, ANewFileWhoseUploadFailsIsGoneAfterClose) {
  FlakyClient flaky;
  Filesystem fs(flaky, DefaultOptions());
  Result<Entry> d = fs.MkDir(caller_, kRootInode, "d", 0755);
  ASSERT_TRUE(d.ok());
  Result<CreateReply> c = fs.Create(caller_, d->ino, "lost", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs.Write(c->open.fh, 0, "bytes").ok());
  flaky.fail_puts = 1;
  EXPECT_EQ(fs.Release(c->open.fh).code(), ErrorCode::kIoError);
  EXPECT_FALSE(flaky.Data("d/lost").has_value());
  EXPECT_EQ(fs.Lookup(caller_, d->ino, "lost").status().code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, FailedUploadsAreReportedAndRetried) {
  FlakyClient flaky;
  Options o = DefaultOptions();
  o.multipart_threshold = 5 << 20;
  o.part_size = 5 << 20;
  Filesystem fs(flaky, o);
  Result<CreateReply> c = fs.Create(caller_, kRootInode, "f", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs.Write(c->open.fh, 0, "payload").ok());
  flaky.fail_puts = 1;
  Status s = fs.Flush(c->open.fh);
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_NE(s.message().find("InternalError"), std::string::npos) << s.ToString();
  EXPECT_EQ(*flaky.Data("f"), "");
  ASSERT_TRUE(fs.Flush(c->open.fh).ok());  // still staged: the retry uploads it
  EXPECT_EQ(*flaky.Data("f"), "payload");
  ASSERT_TRUE(fs.Release(c->open.fh).ok());

  // A part that fails is kept and sent again: a failed flush loses nothing and exposes nothing,
  // the release after it completes the object.
  c = fs.Create(caller_, kRootInode, "big", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs.Write(c->open.fh, 0, std::string(11 << 20, 'b')).ok());
  flaky.fail_from_part = 3;
  flaky.fail_parts = 2;  // the last part, and its second try
  EXPECT_EQ(fs.Flush(c->open.fh).code(), ErrorCode::kIoError);
  EXPECT_EQ(flaky.Data("big")->size(), 0u);
  ASSERT_TRUE(fs.Release(c->open.fh).ok());
  EXPECT_EQ(flaky.Data("big")->size(), 11u << 20);
  EXPECT_TRUE(flaky.ListMultipartUploads(s3::ListMultipartUploadsRequest{})->uploads.empty());

  // Failing for good: the release reports it and the multipart upload is aborted.
  c = fs.Create(caller_, kRootInode, "lost", 0644, O_CREAT | O_WRONLY);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(fs.Write(c->open.fh, 0, std::string(11 << 20, 'l')).ok());
  flaky.fail_parts = 1000;
  EXPECT_EQ(fs.Release(c->open.fh).code(), ErrorCode::kIoError);
  EXPECT_EQ(flaky.Data("lost")->size(), 0u);
  EXPECT_TRUE(flaky.ListMultipartUploads(s3::ListMultipartUploadsRequest{})->uploads.empty());
}

TEST_F(FilesystemTest, ConcurrentWritersOnOneFile) {
  ASSERT_TRUE(WriteFile(kRootInode, "shared", "").ok());
  InodeId ino = Ino(kRootInode, "shared");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Result<OpenReply> o = fs_->Open(caller_, ino, O_RDWR);
      if (!o.ok()) {
        failures++;
        return;
      }
      for (int i = 0; i < 50; ++i) {
        std::string block(100, static_cast<char>('A' + t));
        if (!fs_->Write(o->fh, (i * 4 + t) * 100, block).ok()) failures++;
        if (!fs_->Read(o->fh, 0, 4096).ok()) failures++;
        if (!fs_->GetAttr(caller_, ino, o->fh).ok()) failures++;
      }
      if (!fs_->Release(o->fh).ok()) failures++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::string data = *client_.Data("shared");
  ASSERT_EQ(data.size(), 20000u);
  for (int block = 0; block < 200; ++block) {
    EXPECT_EQ(data.substr(block * 100, 100), std::string(100, static_cast<char>('A' + block % 4)));
  }
}

}  // namespace
}  // namespace spacesfs::fs

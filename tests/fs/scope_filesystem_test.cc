// Scopes enforced by the Filesystem (fs/filesystem.h over s3/memory_object_client.h): every
// permission x operation, visibility, renames across prefixes, handles kept across a rename,
// per-user grants, server refusals, and the one-line denial log.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "auth/grant.h"
#include "auth/scope.h"
#include "fs/filesystem.h"
#include "s3/memory_object_client.h"
#include "support/log_capture.h"

namespace spacesfs::fs {
namespace {

using auth::Permission;
using testing::LogCapture;

const Caller kAlice{1001, 1001, 0, {}};
const Caller kBob{1002, 1002, 0, {2000}};  // in editors
const Caller kCarol{1003, 1003, 0, {}};

std::shared_ptr<const auth::ScopeChecker> MakeScope(const std::vector<std::string>& grants) {
  std::vector<auth::Grant> parsed;
  for (const std::string& g : grants) {
    Result<auth::Grant> grant = auth::ParseGrant(g);
    EXPECT_TRUE(grant.ok()) << g << ": " << grant.status().ToString();
    if (grant.ok()) parsed.push_back(*grant);
  }
  auth::NameLookup lookup;
  lookup.user_id = [](std::string_view name) -> std::optional<uid_t> {
    if (name == "alice") return 1001;
    if (name == "bob") return 1002;
    return std::nullopt;
  };
  lookup.group_id = [](std::string_view name) -> std::optional<gid_t> {
    if (name == "editors") return 2000;
    return std::nullopt;
  };
  Result<auth::ScopeChecker> scope = auth::ScopeChecker::Create("photos", parsed, lookup);
  EXPECT_TRUE(scope.ok()) << scope.status().ToString();
  if (!scope.ok()) return nullptr;
  return std::make_shared<const auth::ScopeChecker>(std::move(*scope));
}

// A server whose key may not touch keys under "locked": the operations in `denied` answer 403
// AccessDenied for them, as a narrow key's server does.
class DenyingClient : public s3::MemoryObjectClient {
 public:
  using Op = s3::MemoryObjectClient::Operation;
  DenyingClient() : MemoryObjectClient("photos") {}

  std::set<Op> denied;

  Result<s3::ObjectInfo> HeadObject(const std::string& key) override {
    if (Denies(Op::kHeadObject, key)) return Refusal();
    return MemoryObjectClient::HeadObject(key);
  }
  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    if (Denies(Op::kGetObject, request.key)) return Refusal();
    return MemoryObjectClient::GetObject(request, sink);
  }
  Result<s3::ListObjectsPage> ListObjects(const s3::ListObjectsRequest& request) override {
    if (Denies(Op::kListObjects, request.prefix)) return Refusal();
    return MemoryObjectClient::ListObjects(request);
  }
  Result<std::string> PutObject(const s3::PutObjectRequest& request) override {
    if (Denies(Op::kPutObject, request.key)) return Refusal();
    return MemoryObjectClient::PutObject(request);
  }
  Result<std::string> CreateMultipartUpload(const std::string& key,
                                            const s3::UserMetadata& metadata,
                                            const std::string& content_type) override {
    if (Denies(Op::kCreateMultipartUpload, key)) return Refusal();
    return MemoryObjectClient::CreateMultipartUpload(key, metadata, content_type);
  }
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id,
                                 int part_number, const s3::BodySource& body) override {
    if (Denies(Op::kUploadPart, key)) return Refusal();
    return MemoryObjectClient::UploadPart(key, upload_id, part_number, body);
  }
  Result<std::string> CompleteMultipartUpload(
      const std::string& key, const std::string& upload_id,
      const std::vector<s3::CompletedPart>& parts) override {
    if (Denies(Op::kCompleteMultipartUpload, key)) return Refusal();
    return MemoryObjectClient::CompleteMultipartUpload(key, upload_id, parts);
  }
  Result<std::string> CopyObject(const s3::CopyObjectRequest& request) override {
    if (Denies(Op::kCopyObject, request.source_key) ||
        Denies(Op::kCopyObject, request.destination_key)) {
      return Refusal();
    }
    return MemoryObjectClient::CopyObject(request);
  }
  Status DeleteObject(const std::string& key) override {
    if (Denies(Op::kDeleteObject, key)) return Refusal();
    return MemoryObjectClient::DeleteObject(key);
  }
  Result<std::vector<s3::DeleteError>> DeleteObjects(
      const std::vector<std::string>& keys) override {
    for (const std::string& key : keys) {
      if (Denies(Op::kDeleteObjects, key)) return Refusal();
    }
    return MemoryObjectClient::DeleteObjects(keys);
  }

 private:
  bool Denies(Op op, const std::string& key) const {
    return denied.count(op) > 0 && key.starts_with("locked");
  }
  static Status Refusal() {
    return Status::FromServer(ErrorCode::kAccessDenied, 403, "AccessDenied", "denied", "id");
  }
};

class ScopeTest : public ::testing::Test {
 protected:
  ScopeTest() : client_(std::make_unique<s3::MemoryObjectClient>("photos")) {}

  // An empty Space and no mount.
  void Fresh() {
    fs_.reset();
    client_ = std::make_unique<s3::MemoryObjectClient>("photos");
  }

  void Mount(const std::vector<std::string>& grants) {
    fs_.reset();
    Options o;
    o.staging_dir = ::testing::TempDir();
    o.attr_ttl = std::chrono::seconds(0);  // every check below sees the server
    o.entry_ttl = std::chrono::seconds(0);
    o.negative_ttl = std::chrono::seconds(0);
    o.metadata_flush_delay = std::chrono::seconds(60);
    o.scope = MakeScope(grants);
    o.profile_name = "photos-test";
    o.space_name = "photos";
    o.user_name = [](uint32_t uid) { return uid == 1001 ? std::string("alice") : std::string(); };
    fs_ = std::make_unique<Filesystem>(*client_, std::move(o));
  }

  void Put(const std::string& key, std::string_view data) {
    s3::PutObjectRequest req;
    req.key = key;
    req.body = s3::BodySource::FromView(data);
    ASSERT_TRUE(client_->PutObject(req).ok());
  }

  // The inode of a path ("a/b"), looked up as caller.
  Result<InodeId> Resolve(const Caller& caller, const std::string& path) {
    InodeId ino = kRootInode;
    size_t start = 0;
    while (start < path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      Result<Entry> e = fs_->Lookup(caller, ino, path.substr(start, end - start));
      if (!e.ok()) return e.status();
      ino = e->ino;
      start = end + 1;
    }
    return ino;
  }
  InodeId Ino(const Caller& caller, const std::string& path) {
    Result<InodeId> ino = Resolve(caller, path);
    EXPECT_TRUE(ino.ok()) << path << ": " << ino.status().ToString();
    return ino.ok() ? *ino : 0;
  }

  Result<std::vector<std::string>> List(const Caller& caller, InodeId dir) {
    Result<DirHandle> dh = fs_->OpenDir(caller, dir);
    if (!dh.ok()) return dh.status();
    std::vector<std::string> names;
    Status s = fs_->ReadDir(*dh, 0, [&](const DirEntry& e) {
      if (e.name != "." && e.name != "..") names.push_back(e.name);
      return true;
    });
    (void)fs_->ReleaseDir(*dh);
    if (!s.ok()) return s;
    return names;
  }

  Status WriteNew(const Caller& caller, InodeId parent, const std::string& name,
                  std::string_view data) {
    Result<CreateReply> c = fs_->Create(caller, parent, name, 0644, O_WRONLY | O_CREAT | O_EXCL);
    if (!c.ok()) return c.status();
    Result<size_t> n = fs_->Write(c->open.fh, 0, data);
    if (!n.ok()) {
      (void)fs_->Release(c->open.fh);
      return n.status();
    }
    return fs_->Release(c->open.fh);
  }

  Status OpenWriteRelease(const Caller& caller, InodeId ino, int flags, std::string_view data) {
    Result<OpenReply> o = fs_->Open(caller, ino, flags);
    if (!o.ok()) return o.status();
    Result<size_t> n = fs_->Write(o->fh, 0, data);
    if (!n.ok()) {
      (void)fs_->Release(o->fh);
      return n.status();
    }
    return fs_->Release(o->fh);
  }

  // Every key on the server and its bytes.
  std::map<std::string, std::string> ServerState() const {
    std::map<std::string, std::string> state;
    for (const std::string& key : client_->Keys()) state[key] = client_->Data(key).value_or("?");
    return state;
  }

  std::unique_ptr<s3::MemoryObjectClient> client_;
  std::unique_ptr<Filesystem> fs_;
};

// ---------------------------------------------------------------------------------------------
// Every permission x operation on a prefix grant photos/p/.

struct Cell {
  const char* operation;
  Permission minimum;  // the least permission allowing it (docs/SCOPES.md)
};

const Cell kCells[] = {
    {"list", Permission::kRead},
    {"read", Permission::kRead},
    {"create", Permission::kAppendOnly},
    {"mkdir", Permission::kAppendOnly},
    {"overwrite", Permission::kReadWriteNoDelete},
    {"append", Permission::kReadWriteNoDelete},
    {"truncate", Permission::kReadWriteNoDelete},
    {"delete", Permission::kReadWrite},
    {"rename", Permission::kReadWrite},
    {"rmdir", Permission::kReadWrite},
    {"chmod", Permission::kFullAccess},
    {"utimens", Permission::kFullAccess},
};

const Permission kPermissions[] = {Permission::kRead, Permission::kAppendOnly,
                                   Permission::kReadWriteNoDelete, Permission::kReadWrite,
                                   Permission::kFullAccess};

// Alone, a `read` grant makes the scope read-only as a whole (kReadOnly, EROFS); beside a grant
// that lets someone else (bob) write, the same refusals are kPermissionDenied (EACCES).
TEST_F(ScopeTest, EveryPermissionTimesEveryOperation) {
  for (bool beside_a_writer : {false, true}) {
    for (Permission permission : kPermissions) {
      for (const Cell& cell : kCells) {
        SCOPED_TRACE(std::string(auth::PermissionName(permission)) + " x " + cell.operation +
                     (beside_a_writer ? " beside bob's fullaccess" : ""));
        Fresh();
        Put("p/existing", "old");
        Put("p/emptydir/", "");
        Put("outside", "x");
        std::vector<std::string> grants = {"photos/p/:" +
                                           std::string(auth::PermissionName(permission))};
        if (beside_a_writer) grants.push_back("photos:fullaccess bob");
        Mount(grants);
        InodeId p = Ino(kAlice, "p");
        InodeId existing = Ino(kAlice, "p/existing");
        InodeId emptydir = Ino(kAlice, "p/emptydir");
        ASSERT_NE(existing, 0u);
        client_->ResetRequestCounts();
        uint64_t denials_before = fs_->GetCounters().denials_local;

        std::string op = cell.operation;
        Status result;
        if (op == "list") {
          result = List(kAlice, p).status();
        } else if (op == "read") {
          Result<OpenReply> o = fs_->Open(kAlice, existing, O_RDONLY);
          result = o.status();
          if (o.ok()) {
            Result<std::string> data = fs_->Read(o->fh, 0, 100);
            result = data.status();
            if (data.ok()) {
              EXPECT_EQ(*data, "old");
            }
            (void)fs_->Release(o->fh);
          }
        } else if (op == "create") {
          result = WriteNew(kAlice, p, "new", "fresh");
        } else if (op == "mkdir") {
          result = fs_->MkDir(kAlice, p, "sub", 0755).status();
        } else if (op == "overwrite") {
          result = OpenWriteRelease(kAlice, existing, O_WRONLY | O_TRUNC, "NEW");
        } else if (op == "append") {
          result = OpenWriteRelease(kAlice, existing, O_WRONLY | O_APPEND, "more");
        } else if (op == "truncate") {
          SetAttrRequest r;
          r.size = 1;
          result = fs_->SetAttr(kAlice, existing, r, std::nullopt).status();
        } else if (op == "delete") {
          result = fs_->Unlink(kAlice, p, "existing");
        } else if (op == "rename") {
          result = fs_->Rename(kAlice, p, "existing", p, "renamed", 0);
        } else if (op == "rmdir") {
          result = fs_->RmDir(kAlice, p, "emptydir");
        } else if (op == "chmod" || op == "utimens") {
          SetAttrRequest r;
          if (op == "chmod") {
            r.mode = 0600;
          } else {
            r.mtime_ns = 1;
          }
          result = fs_->SetAttr(kAlice, existing, r, std::nullopt).status();
          if (result.ok()) result = fs_->SyncMetadata();
        }
        (void)emptydir;

        bool allowed = permission >= cell.minimum;
        if (allowed) {
          EXPECT_TRUE(result.ok()) << result.ToString();
          EXPECT_EQ(fs_->GetCounters().denials_local, denials_before);
          // The server holds exactly the operation's change.
          std::map<std::string, std::string> expected = {
              {"outside", "x"}, {"p/emptydir/", ""}, {"p/existing", "old"}};
          if (op == "create") expected["p/new"] = "fresh";
          if (op == "mkdir") expected["p/sub/"] = "";
          if (op == "overwrite") expected["p/existing"] = "NEW";
          if (op == "append") expected["p/existing"] = "oldmore";
          if (op == "truncate") expected["p/existing"] = "o";
          if (op == "delete") expected.erase("p/existing");
          if (op == "rename") {
            expected.erase("p/existing");
            expected["p/renamed"] = "old";
          }
          if (op == "rmdir") expected.erase("p/emptydir/");
          EXPECT_EQ(ServerState(), expected);
          if (op == "chmod" || op == "utimens") {
            Result<s3::ObjectInfo> head = client_->HeadObject("p/existing");
            ASSERT_TRUE(head.ok());
            if (op == "chmod") {
              EXPECT_EQ(head->metadata["mode"], std::to_string(S_IFREG | 0600));
            } else {
              EXPECT_EQ(head->metadata["mtime"], "0.000000001");
            }
          }
          continue;
        }
        ErrorCode expected = permission == Permission::kRead && !beside_a_writer
                                 ? ErrorCode::kReadOnly
                                 : ErrorCode::kPermissionDenied;
        EXPECT_EQ(result.code(), expected) << result.ToString();
        // Refused locally: no request at all, the server state is untouched.
        EXPECT_EQ(client_->TotalRequests(), 0u);
        EXPECT_EQ(fs_->GetCounters().denials_local, denials_before + 1);
        EXPECT_EQ(client_->Data("p/existing"), std::optional<std::string>("old"));
        EXPECT_TRUE(client_->Data("p/emptydir/").has_value());
        EXPECT_FALSE(client_->Data("p/new").has_value());
        EXPECT_FALSE(client_->Data("p/sub/").has_value());
        EXPECT_FALSE(client_->Data("p/renamed").has_value());
      }
    }
  }
}

TEST_F(ScopeTest, AppendOnlyIsADropBox) {
  Mount({"photos/box/:append-only"});
  Put("box/old", "o");
  InodeId box = Ino(kAlice, "box");
  // A new file: several writes and an fsync through the creating handle.
  Result<CreateReply> c = fs_->Create(kAlice, box, "report", 0644, O_WRONLY | O_CREAT | O_EXCL);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(fs_->Write(c->open.fh, 0, "part1,").ok());
  ASSERT_TRUE(fs_->Fsync(c->open.fh, false).ok());
  ASSERT_TRUE(fs_->Write(c->open.fh, 6, "part2").ok());
  SetAttrRequest times;  // touch of the new file
  times.mtime_ns = 5;
  EXPECT_TRUE(fs_->SetAttr(kAlice, c->entry.ino, times, std::nullopt).ok());
  ASSERT_TRUE(fs_->Release(c->open.fh).ok());
  EXPECT_EQ(client_->Data("box/report"), std::optional<std::string>("part1,part2"));
  // Closed: never changed again.
  client_->ResetRequestCounts();
  EXPECT_EQ(fs_->Open(kAlice, c->entry.ino, O_WRONLY | O_APPEND).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->SetAttr(kAlice, c->entry.ino, times, std::nullopt).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Unlink(kAlice, box, "report").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->TotalRequests(), 0u);
  EXPECT_EQ(client_->Data("box/report"), std::optional<std::string>("part1,part2"));
}

// ---------------------------------------------------------------------------------------------
// Visibility.

TEST_F(ScopeTest, PathsOutsideGrantsAreInvisibleAndRefused) {
  Put("a/b/x", "x");
  Put("a/c/y", "y");
  Put("a/readme", "r");
  Put("top", "t");
  Mount({"photos/a/b/:read"});
  client_->ResetRequestCounts();
  // The root and "a" lead to the grant: they list exactly the way to it, with no LIST.
  EXPECT_EQ(*List(kAlice, kRootInode), std::vector<std::string>{"a"});
  InodeId a = Ino(kAlice, "a");
  EXPECT_EQ(*List(kAlice, a), std::vector<std::string>{"b"});
  EXPECT_EQ(client_->RequestCount(s3::MemoryObjectClient::Operation::kListObjects), 1u)
      << "only the lookup of 'a' may list";
  client_->ResetRequestCounts();
  EXPECT_EQ(fs_->Lookup(kAlice, kRootInode, "top").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Lookup(kAlice, a, "c").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Lookup(kAlice, a, "readme").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Lookup(kAlice, kRootInode, "nothing").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->TotalRequests(), 0u);
  // Inside the grant: everything the server holds.
  EXPECT_EQ(*List(kAlice, Ino(kAlice, "a/b")), std::vector<std::string>{"x"});
}

// Names that are not the granted directory "b" but look like it, each an object on the server
// that a mount granting the whole Space finds: only the scope refuses them.
TEST_F(ScopeTest, NamesResemblingAGrantAreRefusedByTheScopeAlone) {
  const std::vector<std::string> lookalikes = {
      "bb",             // "a/bb/" starts with the string "a/b" but is not below "a/b/"
      "b ",             // trailing space
      "B",              // another case
      "b.",             // trailing dot
      "\xef\xbd\x82",   // FULLWIDTH LATIN SMALL LETTER B, which NFKC folds to "b"
      "b\xe2\x80\x8b",  // "b" and a ZERO WIDTH SPACE
      "b\\x",           // a backslash is no separator
  };
  Put("a/b/x", "x");
  for (const std::string& name : lookalikes) Put("a/" + name + "/inside", "secret");
  Put("a/bfile", "f");  // a file whose key starts with the grant's key without its '/'

  Mount({"photos:read"});  // the whole Space: every name resolves
  InodeId a = Ino(kAlice, "a");
  for (const std::string& name : lookalikes) {
    EXPECT_TRUE(fs_->Lookup(kAlice, a, name).ok()) << name;
  }
  EXPECT_TRUE(fs_->Lookup(kAlice, a, "bfile").ok());

  Mount({"photos/a/b/:readwrite"});
  a = Ino(kAlice, "a");
  client_->ResetRequestCounts();
  for (const std::string& name : lookalikes) {
    SCOPED_TRACE(name);
    EXPECT_EQ(fs_->Lookup(kAlice, a, name).status().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(WriteNew(kAlice, a, name, "w").code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(fs_->MkDir(kAlice, a, name + "2", 0755).status().code(),
              ErrorCode::kPermissionDenied);
  }
  EXPECT_EQ(fs_->Lookup(kAlice, a, "bfile").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->TotalRequests(), 0u);
  EXPECT_EQ(*List(kAlice, a), std::vector<std::string>{"b"});
  EXPECT_EQ(client_->Keys().size(), lookalikes.size() + 2);  // nothing was written
  // The grant itself works.
  EXPECT_TRUE(WriteNew(kAlice, Ino(kAlice, "a/b"), "y", "y").ok());
  EXPECT_EQ(client_->Data("a/b/y"), std::optional<std::string>("y"));
}

TEST_F(ScopeTest, ADirectoryLeadingToAGrantExistsWithoutObjects) {
  Mount({"photos/new/dir/:readwrite"});
  EXPECT_EQ(*List(kAlice, kRootInode), std::vector<std::string>{"new"});
  InodeId dir = Ino(kAlice, "new/dir");
  ASSERT_NE(dir, 0u);
  EXPECT_TRUE(fs_->GetAttr(kAlice, dir, std::nullopt).ok());
  ASSERT_TRUE(WriteNew(kAlice, dir, "f", "data").ok());
  EXPECT_EQ(client_->Data("new/dir/f"), std::optional<std::string>("data"));
  // The way to the grant itself cannot be changed.
  EXPECT_EQ(WriteNew(kAlice, Ino(kAlice, "new"), "g", "x").code(), ErrorCode::kPermissionDenied);
}

// ---------------------------------------------------------------------------------------------
// Rename and open handles.

TEST_F(ScopeTest, RenameCannotMoveAcrossAForbiddenPrefix) {
  Put("rw/f", "f");
  Put("rw/d/inner", "i");
  Put("ro/g", "g");
  Mount({"photos/rw/:readwrite", "photos/ro/:read"});
  InodeId rw = Ino(kAlice, "rw"), ro = Ino(kAlice, "ro");
  client_->ResetRequestCounts();
  // rw/ is writable, so the scope is not read-only: refusals are kPermissionDenied.
  EXPECT_EQ(fs_->Rename(kAlice, rw, "f", ro, "f", 0).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Rename(kAlice, rw, "d", ro, "d", 0).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Rename(kAlice, ro, "g", rw, "g", 0).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Rename(kAlice, rw, "f", kRootInode, "f", 0).code(),
            ErrorCode::kPermissionDenied);  // out of every grant
  EXPECT_EQ(client_->TotalRequests(), 0u);
  EXPECT_EQ(client_->Keys(), (std::vector<std::string>{"ro/g", "rw/d/inner", "rw/f"}));
  // Within the writable prefix it works.
  EXPECT_TRUE(fs_->Rename(kAlice, rw, "f", rw, "f2", 0).ok());
  EXPECT_EQ(client_->Data("rw/f2"), std::optional<std::string>("f"));
}

TEST_F(ScopeTest, RenameOverAnExistingFileNeedsOverwrite) {
  Put("box/a", "a");
  Put("box/b", "b");
  Put("rw/c", "c");
  Mount({"photos/box/:append-only", "photos/rw/:readwrite"});
  InodeId box = Ino(kAlice, "box"), rw = Ino(kAlice, "rw");
  ASSERT_NE(Ino(kAlice, "box/b"), 0u);
  EXPECT_EQ(fs_->Rename(kAlice, rw, "c", box, "b", 0).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->Data("box/b"), std::optional<std::string>("b"));
  EXPECT_TRUE(fs_->Rename(kAlice, rw, "c", box, "c", 0).ok());  // publish into the drop box
  EXPECT_EQ(client_->Data("box/c"), std::optional<std::string>("c"));
}

TEST_F(ScopeTest, AnOpenHandleFollowsItsFileIntoAReadOnlyPrefix) {
  Put("rw/f", "original");
  Put("ro/keep", "k");
  // alice may write rw/ only; bob may do anything.
  Mount({"photos/rw/:readwrite alice", "photos/ro/:read alice", "photos:fullaccess bob"});
  InodeId f = Ino(kAlice, "rw/f");
  Result<OpenReply> h = fs_->Open(kAlice, f, O_WRONLY);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_TRUE(fs_->Write(h->fh, 0, "before").ok());
  // bob moves the file into ro/ (the handle follows the inode).
  ASSERT_TRUE(fs_->Rename(kBob, Ino(kBob, "rw"), "f", Ino(kBob, "ro"), "f", 0).ok());
  // The rename uploaded what was written while the file was in rw/ ("before" over "original").
  EXPECT_EQ(client_->Data("ro/f"), std::optional<std::string>("beforeal"));
  client_->ResetRequestCounts();
  EXPECT_EQ(fs_->Write(h->fh, 0, "after").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(fs_->Flush(h->fh).ok());  // nothing pending
  EXPECT_TRUE(fs_->Release(h->fh).ok());
  EXPECT_EQ(client_->Data("ro/f"), std::optional<std::string>("beforeal"));
  EXPECT_EQ(client_->RequestCount(s3::MemoryObjectClient::Operation::kPutObject), 0u);
  // A new handle is refused at open.
  EXPECT_EQ(fs_->Open(kAlice, f, O_WRONLY).status().code(), ErrorCode::kPermissionDenied);
}

// The same through the handle's directory: a path kept by an open handle changes with every
// rename above it, and each write is decided under the path it has then.
TEST_F(ScopeTest, AnOpenHandleFollowsItsDirectoryIntoAReadOnlyPrefix) {
  Put("rw/dir/f", "original");
  Put("ro/keep", "k");
  Mount({"photos/rw/:readwrite alice", "photos/ro/:read alice", "photos:fullaccess bob"});
  InodeId f = Ino(kAlice, "rw/dir/f");
  Result<OpenReply> h = fs_->Open(kAlice, f, O_WRONLY);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_TRUE(fs_->Write(h->fh, 0, "before").ok());
  // bob moves the directory holding the file into ro/.
  ASSERT_TRUE(fs_->Rename(kBob, Ino(kBob, "rw"), "dir", Ino(kBob, "ro"), "dir", 0).ok());
  EXPECT_EQ(client_->Data("ro/dir/f"), std::optional<std::string>("beforeal"));
  EXPECT_FALSE(client_->Data("rw/dir/f").has_value());
  client_->ResetRequestCounts();
  uint64_t denials = fs_->GetCounters().denials_local;
  EXPECT_EQ(fs_->Write(h->fh, 0, "after").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Write(h->fh, 8, "more").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(fs_->Flush(h->fh).ok());  // nothing pending
  EXPECT_TRUE(fs_->Release(h->fh).ok());
  EXPECT_EQ(fs_->GetCounters().denials_local, denials + 2);
  EXPECT_EQ(client_->TotalRequests(), 0u);
  EXPECT_EQ(client_->Data("ro/dir/f"), std::optional<std::string>("beforeal"));
  EXPECT_EQ(fs_->Open(kAlice, f, O_WRONLY).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Unlink(kAlice, Ino(kAlice, "ro/dir"), "f").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->Data("ro/dir/f"), std::optional<std::string>("beforeal"));
}

// ---------------------------------------------------------------------------------------------
// Per-user grants.

TEST_F(ScopeTest, GrantsNameWhoTheyAreFor) {
  Put("doc", "d");
  Put("alice/notes", "n");
  Mount({"photos:readwrite @editors", "photos:read", "photos/alice/:fullaccess alice"});
  // bob (editors) writes; carol (nobody named) only reads. The mount is writable (for bob), so
  // carol's writes are denied (kPermissionDenied, EACCES), not read-only.
  EXPECT_TRUE(WriteNew(kBob, kRootInode, "by-bob", "b").ok());
  client_->ResetRequestCounts();
  EXPECT_EQ(WriteNew(kCarol, kRootInode, "by-carol", "c").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Unlink(kCarol, kRootInode, "doc").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->TotalRequests(), 0u);
  EXPECT_EQ(client_->Data("doc"), std::optional<std::string>("d"));
  Result<OpenReply> r = fs_->Open(kCarol, Ino(kCarol, "doc"), O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*fs_->Read(r->fh, 0, 10), "d");
  (void)fs_->Release(r->fh);
  // alice may chmod under alice/, bob (readwrite) may not.
  InodeId notes = Ino(kAlice, "alice/notes");
  SetAttrRequest chmod;
  chmod.mode = 0600;
  EXPECT_TRUE(fs_->SetAttr(kAlice, notes, chmod, std::nullopt).ok());
  EXPECT_EQ(fs_->SetAttr(kBob, notes, chmod, std::nullopt).status().code(),
            ErrorCode::kPermissionDenied);
  // The same write the group may make is refused to an outsider through the same inode.
  Result<OpenReply> w = fs_->Open(kCarol, notes, O_WRONLY | O_TRUNC);
  EXPECT_EQ(w.status().code(), ErrorCode::kPermissionDenied);
}

// ---------------------------------------------------------------------------------------------
// Replacing the scope (a reloaded profile).

// The requests that change the server (what a refused write must never send).
uint64_t Writes(const s3::MemoryObjectClient& client) {
  using Op = s3::MemoryObjectClient::Operation;
  uint64_t n = 0;
  for (Op op : {Op::kPutObject, Op::kCreateMultipartUpload, Op::kUploadPart,
                Op::kCompleteMultipartUpload, Op::kCopyObject, Op::kUploadPartCopy,
                Op::kDeleteObject, Op::kDeleteObjects}) {
    n += client.RequestCount(op);
  }
  return n;
}

TEST_F(ScopeTest, SetScopeDecidesEveryOperationThatStartsAfterwards) {
  Put("doc", "original");
  Put("sub/f", "f");
  Mount({"photos:readwrite"});
  InodeId doc = Ino(kAlice, "doc");
  // A handle opened and written under the old scope, not yet uploaded.
  Result<OpenReply> h = fs_->Open(kAlice, doc, O_WRONLY);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_TRUE(fs_->Write(h->fh, 0, "changed").ok());

  // Narrowed to read: read-only as a whole, so every refusal is kReadOnly, before any write.
  fs_->SetScope(MakeScope({"photos:read"}));
  client_->ResetRequestCounts();
  EXPECT_EQ(fs_->Write(h->fh, 0, "again").status().code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Flush(h->fh).code(), ErrorCode::kReadOnly);
  (void)fs_->Release(h->fh);
  EXPECT_EQ(WriteNew(kAlice, kRootInode, "new", "n").code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Unlink(kAlice, kRootInode, "doc").code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Rename(kAlice, kRootInode, "doc", kRootInode, "moved", 0).code(),
            ErrorCode::kReadOnly);
  EXPECT_EQ(Writes(*client_), 0u);
  EXPECT_EQ(client_->Data("doc"), std::optional<std::string>("original"));
  Result<OpenReply> r = fs_->Open(kAlice, doc, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*fs_->Read(r->fh, 0, 100), "original");
  (void)fs_->Release(r->fh);

  // Narrowed to editors under sub/, read for everyone: alice is denied (EACCES: bob may write).
  fs_->SetScope(MakeScope({"photos/sub/:readwrite @editors", "photos/sub/:read"}));
  EXPECT_EQ(fs_->Lookup(kAlice, kRootInode, "doc").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(*List(kAlice, kRootInode), std::vector<std::string>{"sub"});
  InodeId sub = Ino(kAlice, "sub");
  EXPECT_EQ(WriteNew(kAlice, sub, "by-alice", "a").code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(WriteNew(kBob, sub, "by-bob", "b").ok());
  EXPECT_EQ(client_->Keys(), (std::vector<std::string>{"doc", "sub/by-bob", "sub/f"}));

  // Widened again: the same calls succeed.
  fs_->SetScope(MakeScope({"photos:readwrite"}));
  EXPECT_TRUE(WriteNew(kAlice, kRootInode, "new", "n").ok());
  EXPECT_TRUE(fs_->Unlink(kAlice, kRootInode, "doc").ok());
  EXPECT_EQ(client_->Data("new"), std::optional<std::string>("n"));
  EXPECT_FALSE(client_->Data("doc").has_value());
}

TEST_F(ScopeTest, DenialsAreLoggedAfreshUnderANewScope) {
  Put("doc", "d");
  Mount({"photos:read"});
  LogCapture log;
  for (int i = 0; i < 2; ++i) (void)fs_->Unlink(kAlice, kRootInode, "doc");
  fs_->SetScope(MakeScope({"photos:read", "photos/x/:readwrite"}));
  for (int i = 0; i < 2; ++i) (void)fs_->Unlink(kAlice, kRootInode, "doc");
  std::vector<std::string> lines = log.Lines();
  EXPECT_EQ(fs_->GetCounters().denials_local, 4u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("may not delete 'doc'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("may not delete 'doc'"), std::string::npos) << lines[1];
}

TEST_F(ScopeTest, ACallerWithoutAnyGrantSeesNothing) {
  Put("doc", "d");
  Mount({"photos:readwrite @editors"});
  client_->ResetRequestCounts();
  EXPECT_EQ(List(kCarol, kRootInode).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Lookup(kCarol, kRootInode, "doc").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(client_->TotalRequests(), 0u);
  EXPECT_EQ(*List(kBob, kRootInode), std::vector<std::string>{"doc"});
  // An inode bob looked up is still refused to carol.
  InodeId doc = Ino(kBob, "doc");
  EXPECT_EQ(fs_->GetAttr(kCarol, doc, std::nullopt).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(fs_->Open(kCarol, doc, O_RDONLY).status().code(), ErrorCode::kPermissionDenied);
}

// ---------------------------------------------------------------------------------------------
// Server refusals and logging.

TEST_F(ScopeTest, AServerRefusalIsAccessDeniedAndCounted) {
  auto denying = std::make_unique<DenyingClient>();
  denying->denied = {DenyingClient::Op::kPutObject};
  client_ = std::move(denying);
  LogCapture log("%l %v");
  Mount({"photos:readwrite"});
  // The first file made in a directory is stored at once: the refusal fails the create.
  Result<CreateReply> c = fs_->Create(kAlice, kRootInode, "locked", 0644, O_WRONLY | O_CREAT);
  EXPECT_EQ(c.status().code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(fs_->GetCounters().denials_server, 1u);
  EXPECT_EQ(fs_->GetCounters().denials_local, 0u);
  EXPECT_GT(fs_->GetCounters().requests, 0u);
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("profile 'photos-test'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("Space 'photos'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("'locked'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("AccessDenied"), std::string::npos) << lines[0];
}

// A server refusal is logged once per key, operation and user, and names the user; every refusal
// is counted.
TEST_F(ScopeTest, AServerRefusalIsLoggedOncePerKeyOperationAndUser) {
  auto denying = std::make_unique<DenyingClient>();
  denying->denied = {DenyingClient::Op::kPutObject};
  client_ = std::move(denying);
  LogCapture log("%l %v");
  Mount({"photos:readwrite"});
  auto create_and_close = [&](const Caller& who) {
    Result<CreateReply> c = fs_->Create(who, kRootInode, "locked", 0644, O_WRONLY | O_CREAT);
    if (!c.ok()) return c.status().code();
    EXPECT_TRUE(fs_->Write(c->open.fh, 0, "bytes").ok());
    return fs_->Release(c->open.fh).code();
  };
  for (int i = 0; i < 2; ++i) EXPECT_EQ(create_and_close(kAlice), ErrorCode::kAccessDenied);
  EXPECT_EQ(fs_->GetCounters().denials_server, 2u);
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "warning server refused: user alice (uid 1001): PUT 'locked' in Space 'photos' with "
            "profile 'photos-test': AccessDenied (HTTP 403)\n");
  // Another user, the same key and operation: a line of its own.
  EXPECT_EQ(create_and_close(kCarol), ErrorCode::kAccessDenied);
  EXPECT_EQ(fs_->GetCounters().denials_server, 3u);
  lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("warning server refused: user uid 1003: PUT 'locked'"), std::string::npos)
      << lines[1];
  EXPECT_FALSE(client_->Data("locked").has_value());
}

// A refused read names the reader, like any other refusal.
TEST_F(ScopeTest, AServerRefusalOfAReadNamesTheReader) {
  auto denying = std::make_unique<DenyingClient>();
  denying->denied = {DenyingClient::Op::kGetObject};
  client_ = std::move(denying);
  Put("locked", std::string(20 << 10, 'd'));  // too large to come with a lookup's GET
  Mount({"photos:read"});
  LogCapture log("%l %v");
  InodeId ino = Ino(kAlice, "locked");
  ASSERT_NE(ino, 0u);
  Result<OpenReply> o = fs_->Open(kAlice, ino, O_RDONLY);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(fs_->Read(o->fh, 0, 4).status().code(), ErrorCode::kAccessDenied);
  (void)fs_->Release(o->fh);
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "warning server refused: user alice (uid 1001): GET 'locked' in Space 'photos' with "
            "profile 'photos-test': AccessDenied (HTTP 403)\n");
}

// Whatever request the server refuses, the operation fails with kAccessDenied (EACCES), never
// kIoError, and the server is unchanged.
TEST_F(ScopeTest, EveryKindOfServerRefusalIsAccessDenied) {
  using Op = DenyingClient::Op;
  auto owned = std::make_unique<DenyingClient>();
  DenyingClient& denying = *owned;
  client_ = std::move(owned);
  Put("locked/f", "data");
  Put("locked/d/g", "g");
  Mount({"photos:fullaccess"});
  const std::map<std::string, std::string> before = ServerState();
  InodeId locked = Ino(kAlice, "locked");
  InodeId f = Ino(kAlice, "locked/f");
  ASSERT_NE(f, 0u);
  const std::string large(9u << 20, 'L');  // over multipart_threshold (8 MiB)
  auto expect_refused = [&](const std::string& what, std::set<Op> ops,
                            const std::function<Status()>& run) {
    SCOPED_TRACE(what);
    denying.denied = std::move(ops);
    uint64_t refused_before = fs_->GetCounters().denials_server;
    Status s = run();
    denying.denied.clear();
    EXPECT_EQ(s.code(), ErrorCode::kAccessDenied) << s.ToString();
    EXPECT_GT(fs_->GetCounters().denials_server, refused_before);
    // Unchanged, but for the empty object a new file starts as.
    std::map<std::string, std::string> after = ServerState();
    std::erase_if(after, [](const auto& kv) {
      return kv.first.starts_with("locked/new-") && kv.second.empty();
    });
    EXPECT_EQ(after, before);
  };
  expect_refused("lookup", {Op::kListObjects, Op::kHeadObject, Op::kGetObject},
                 [&] { return fs_->Lookup(kAlice, kRootInode, "locked").status(); });
  // A small file is revalidated with a GET that brings its content.
  expect_refused("stat", {Op::kListObjects, Op::kHeadObject, Op::kGetObject},
                 [&] { return fs_->GetAttr(kAlice, f, std::nullopt).status(); });
  expect_refused("readdir", {Op::kListObjects}, [&] { return List(kAlice, locked).status(); });
  expect_refused("read", {Op::kGetObject}, [&]() -> Status {
    Result<OpenReply> o = fs_->Open(kAlice, f, O_RDONLY);
    if (!o.ok()) return o.status();
    Status s = fs_->Read(o->fh, 0, 100).status();
    (void)fs_->Release(o->fh);
    return s;
  });
  expect_refused("unlink", {Op::kDeleteObject}, [&] { return fs_->Unlink(kAlice, locked, "f"); });
  expect_refused("rename a file", {Op::kCopyObject},
                 [&] { return fs_->Rename(kAlice, locked, "f", locked, "f2", 0); });
  expect_refused("rename a directory", {Op::kCopyObject},
                 [&] { return fs_->Rename(kAlice, locked, "d", locked, "d2", 0); });
  expect_refused("chmod", {Op::kCopyObject}, [&]() -> Status {
    SetAttrRequest r;
    r.mode = 0600;
    Result<AttrReply> a = fs_->SetAttr(kAlice, f, r, std::nullopt);
    if (!a.ok()) return a.status();
    return fs_->SyncMetadata();
  });
  // A large new file streams up in parts; a large overwrite goes up from staging in parts.
  for (Op op : {Op::kCreateMultipartUpload, Op::kUploadPart, Op::kCompleteMultipartUpload}) {
    for (bool overwrite : {false, true}) {
      expect_refused(std::string(overwrite ? "large overwrite, " : "large write, ") +
                         "refused request " + std::to_string(static_cast<int>(op)),
                     {op}, [&]() -> Status {
                       if (!overwrite) {
                         return WriteNew(kAlice, locked,
                                         "new-" + std::to_string(static_cast<int>(op)), large);
                       }
                       return OpenWriteRelease(kAlice, f, O_WRONLY, large);
                     });
    }
  }
  EXPECT_EQ(fs_->GetCounters().denials_local, 0u);
}

TEST_F(ScopeTest, EachDenialIsLoggedOncePerKeyOperationAndUser) {
  Put("p/a.jpg", "a");
  Mount({"photos:read"});
  InodeId p = Ino(kAlice, "p");
  LogCapture log;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fs_->Unlink(kAlice, p, "a.jpg").code(), ErrorCode::kReadOnly);
  EXPECT_EQ(fs_->Unlink(kCarol, p, "a.jpg").code(), ErrorCode::kReadOnly);
  std::vector<std::string> lines = log.Lines();
  EXPECT_EQ(fs_->GetCounters().denials_local, 4u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("denied: user alice (uid 1001) may not delete 'p/a.jpg' in Space "
                          "'photos' (profile 'photos-test', grant read)"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("user uid 1003"), std::string::npos) << lines[1];
}

TEST_F(ScopeTest, AMountPrefixIsPartOfTheKey) {
  Put("team/shared/f", "f");
  Put("team/private/g", "g");
  fs_.reset();
  Options o;
  o.staging_dir = ::testing::TempDir();
  o.prefix = "team/";
  o.scope = MakeScope({"photos/team/shared/:readwrite"});
  o.space_name = "photos";
  fs_ = std::make_unique<Filesystem>(*client_, std::move(o));
  EXPECT_EQ(*List(kAlice, kRootInode), std::vector<std::string>{"shared"});
  EXPECT_EQ(fs_->Lookup(kAlice, kRootInode, "private").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(WriteNew(kAlice, Ino(kAlice, "shared"), "new", "n").ok());
  EXPECT_EQ(client_->Data("team/shared/new"), std::optional<std::string>("n"));
}

}  // namespace
}  // namespace spacesfs::fs

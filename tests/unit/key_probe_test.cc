// cli/key_probe.h: what `spacesfs check` finds a key can do, over an in-memory server whose key is
// refused (403) the operations a test names, and the warnings it derives against a scope.
#include "cli/key_probe.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "s3/memory_object_client.h"

namespace spacesfs::cli {
namespace {

using Op = s3::MemoryObjectClient::Operation;

class RefusingClient : public s3::MemoryObjectClient {
 public:
  explicit RefusingClient(std::set<Op> refused) : refused_(std::move(refused)) {}

  Result<s3::ObjectInfo> GetObject(const s3::GetObjectRequest& request,
                                   const s3::BodySink& sink) override {
    if (refused_.count(Op::kGetObject)) return Refusal();
    return MemoryObjectClient::GetObject(request, sink);
  }
  Result<s3::ListObjectsPage> ListObjects(const s3::ListObjectsRequest& request) override {
    if (refused_.count(Op::kListObjects)) return Refusal();
    return MemoryObjectClient::ListObjects(request);
  }
  Result<std::string> PutObject(const s3::PutObjectRequest& request) override {
    if (refused_.count(Op::kPutObject)) return Refusal();
    return MemoryObjectClient::PutObject(request);
  }
  Status DeleteObject(const std::string& key) override {
    if (refused_.count(Op::kDeleteObject)) return Refusal();
    return MemoryObjectClient::DeleteObject(key);
  }
  // As the owner (no refusal): fills the Space.
  void Add(const std::string& key, std::string_view body = "x") {
    s3::PutObjectRequest put;
    put.key = key;
    put.body = s3::BodySource::FromView(body);
    ASSERT_TRUE(MemoryObjectClient::PutObject(put).ok());
  }

 private:
  static Status Refusal() {
    return Status::FromServer(ErrorCode::kAccessDenied, 403, "AccessDenied", "denied", "id");
  }
  std::set<Op> refused_;
};

std::string Rights(const KeyRights& r) {
  return std::string(r.list ? "L" : "-") + (r.read ? "R" : "-") + (r.write ? "W" : "-") +
         (r.del ? "D" : "-");
}

TEST(KeyProbeTest, AKeyThatMayDoEverything) {
  RefusingClient client({});
  KeyRights rights = ProbeKey(client);
  EXPECT_EQ(Rights(rights), "LRWD");
  EXPECT_EQ(rights.problem, "");
  EXPECT_TRUE(client.Keys().empty()) << "the probe object is removed";
}

// A read-only key learns it may read from an object it lists, or, on an empty Space, from the
// server's 404 for a missing key.
TEST(KeyProbeTest, AReadOnlyKeyReadsOnAnEmptySpace) {
  RefusingClient empty({Op::kPutObject, Op::kDeleteObject});
  EXPECT_EQ(Rights(ProbeKey(empty)), "LR--");
  RefusingClient unlistable({Op::kPutObject, Op::kDeleteObject, Op::kListObjects});
  unlistable.Add("photo");
  EXPECT_EQ(Rights(ProbeKey(unlistable)), "-R--");
  RefusingClient full({Op::kPutObject, Op::kDeleteObject});
  full.Add("photo");
  EXPECT_EQ(Rights(ProbeKey(full)), "LR--");
  EXPECT_EQ(full.Keys(), std::vector<std::string>{"photo"});
}

// The first object listed may be empty (a directory marker): its one-byte ranged GET is answered
// 416, which the server sends only to a key that may read.
TEST(KeyProbeTest, AReadOnlyKeyReadsWhenTheFirstObjectIsEmpty) {
  RefusingClient client({Op::kPutObject, Op::kDeleteObject});
  client.Add("a-dir/", "");
  client.Add("photo");
  KeyRights rights = ProbeKey(client);
  EXPECT_EQ(Rights(rights), "LR--");
  EXPECT_EQ(rights.problem, "");
}

TEST(KeyProbeTest, AKeyThatMayNotReadIsToldSo) {
  RefusingClient writer({Op::kGetObject});  // write-only (a log shipper's key)
  EXPECT_EQ(Rights(ProbeKey(writer)), "L-WD");
  RefusingClient nothing({Op::kGetObject, Op::kPutObject, Op::kListObjects, Op::kDeleteObject});
  KeyRights rights = ProbeKey(nothing);
  EXPECT_EQ(Rights(rights), "----");
  EXPECT_EQ(rights.problem, "") << "refusals are answers, not problems";
  RefusingClient listed({Op::kGetObject, Op::kPutObject});
  listed.Add("photo");
  EXPECT_EQ(Rights(ProbeKey(listed)), "L---");
}

bool WarnsMore(const KeyRights& r, auth::Permission best) {
  for (const std::string& w : RightsWarnings(r, best)) {
    if (w.find("more than the scope") != std::string::npos) return true;
  }
  return false;
}
bool WarnsLess(const KeyRights& r, auth::Permission best) {
  for (const std::string& w : RightsWarnings(r, best)) {
    if (w.find("less than the scope") != std::string::npos) return true;
  }
  return false;
}

TEST(KeyProbeTest, WarningsCompareTheKeyWithTheScope) {
  using auth::Permission;
  KeyRights all{true, true, true, true, ""};
  KeyRights read_only{true, true, false, false, ""};
  KeyRights no_delete{true, true, true, false, ""};
  KeyRights write_only{true, false, true, true, ""};
  EXPECT_TRUE(RightsWarnings(all, Permission::kReadWrite).empty());
  EXPECT_TRUE(RightsWarnings(all, Permission::kFullAccess).empty());
  EXPECT_TRUE(RightsWarnings(read_only, Permission::kRead).empty());
  EXPECT_TRUE(RightsWarnings(no_delete, Permission::kReadWriteNoDelete).empty());
  EXPECT_TRUE(WarnsMore(all, Permission::kRead));
  EXPECT_TRUE(WarnsMore(all, Permission::kReadWriteNoDelete));
  EXPECT_FALSE(WarnsLess(all, Permission::kRead));
  EXPECT_TRUE(WarnsLess(read_only, Permission::kReadWrite));
  EXPECT_TRUE(WarnsLess(no_delete, Permission::kReadWrite));
  // A key that cannot read is less than any scope, even one it exceeds otherwise.
  EXPECT_TRUE(WarnsLess(write_only, Permission::kReadWrite));
  EXPECT_TRUE(WarnsLess(write_only, Permission::kRead));
  EXPECT_TRUE(WarnsMore(write_only, Permission::kRead));
  EXPECT_TRUE(WarnsLess(KeyRights{false, true, false, false, ""}, Permission::kRead));
}

}  // namespace
}  // namespace spacesfs::cli

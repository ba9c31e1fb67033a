// CountingClient: every request counted, failures other than "not found", preconditions and
// refusals counted as errors, and object bytes counted each way.
#include "fs/counting_client.h"

#include <gtest/gtest.h>

#include <string>

#include "s3/fault_injecting_client.h"
#include "s3/memory_object_client.h"

namespace spacesfs::fs {
namespace {

s3::PutObjectRequest Put(const std::string& key, std::string_view body) {
  s3::PutObjectRequest r;
  r.key = key;
  r.body = s3::BodySource::FromView(body);
  return r;
}

TEST(CountingClientTest, CountsRequestsErrorsAndBytes) {
  s3::MemoryObjectClient memory("photos");
  s3::FaultInjectingClient faulty(memory, /*seed=*/1);
  faulty.AddRule(s3::FaultRule::FailNth(
      s3::Operation::kPutObject, 2,
      Status::FromServer(ErrorCode::kServerError, 500, "InternalError", "boom", "tx1")));
  CountingClient counting(faulty);

  const std::string body(1000, 'x');
  ASSERT_TRUE(counting.PutObject(Put("a", body)).ok());
  EXPECT_FALSE(counting.PutObject(Put("b", body)).ok());  // injected 500: an error, no bytes
  std::string got;
  s3::GetObjectRequest get;
  get.key = "a";
  get.range = s3::ByteRange{100, 399};
  ASSERT_TRUE(counting.GetObject(get, [&](std::string_view c) {
                        got.append(c);
                        return Status::Ok();
                      }).ok());
  EXPECT_EQ(got.size(), 300u);
  EXPECT_EQ(counting.HeadObject("missing").status().code(), ErrorCode::kNotFound);  // not an error
  s3::PutObjectRequest exclusive = Put("a", body);
  exclusive.if_none_match = true;
  EXPECT_EQ(counting.PutObject(exclusive).status().code(), ErrorCode::kPreconditionFailed);

  EXPECT_EQ(counting.requests(), 5u);
  EXPECT_EQ(counting.errors(), 1u);
  EXPECT_EQ(counting.bytes_uploaded(), 1000u);
  EXPECT_EQ(counting.bytes_downloaded(), 300u);
}

}  // namespace
}  // namespace spacesfs::fs

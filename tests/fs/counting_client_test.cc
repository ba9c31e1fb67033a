// CountingClient: every request counted, failures other than "not found", preconditions and
// refusals counted as errors, and object bytes counted each way.
#include "fs/counting_client.h"

#include <gtest/gtest.h>

#include <string>

#include "s3/fault_injecting_client.h"
#include "s3/memory_object_client.h"
#include "support/log_capture.h"

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

TEST(CountingClientTest, DebugLinesNameEachRequestAndAGetsRange) {
  // log_level=debug: one line per request, a ranged GET with the bytes it asked for (what a
  // read-ahead fetched, and in what sizes, can be read off the log).
  s3::MemoryObjectClient memory("photos");
  CountingClient counting(memory);
  ASSERT_TRUE(counting.PutObject(Put("a", std::string(1000, 'x'))).ok());
  testing::LogCapture log("%l %v");
  spdlog::set_level(spdlog::level::debug);
  s3::GetObjectRequest get;
  get.key = "a";
  auto ignore = [](std::string_view) { return Status::Ok(); };
  ASSERT_TRUE(counting.GetObject(get, ignore).ok());
  get.range = s3::ByteRange{100, 399};
  ASSERT_TRUE(counting.GetObject(get, ignore).ok());
  spdlog::set_level(spdlog::level::info);
  ASSERT_TRUE(counting.GetObject(get, ignore).ok());  // not at info
  std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("debug GET 'a' in 'photos': ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("debug GET bytes=100-399 'a' in 'photos': ", 0), 0u) << lines[1];
}

}  // namespace
}  // namespace spacesfs::fs

// ObjectVerifier: whole-object bytes fed in order are checked against plain and multipart ETags;
// every flipped byte is a mismatch, every gap or unknown ETag is unverifiable, never a mismatch.
#include "s3/object_verifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "s3/body_digest.h"
#include "s3/sigv4.h"

namespace spacesfs::s3 {
namespace {

using Outcome = ObjectVerifier::Outcome;
constexpr uint64_t kMiB = 1ull << 20;

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 4) {
    uint32_t word = rng();
    std::memcpy(out.data() + i, &word, std::min<size_t>(4, size - i));
  }
  return out;
}

std::string PlainEtag(std::string_view data) { return QuotedMd5Etag(Md5(data)); }

// The ETag S3 gives data uploaded in parts of part_size, built from the parts' real MD5s.
PartLayout Uniform(uint64_t part_size) { return PartLayout{part_size, 0}; }

std::string MultipartEtagOf(std::string_view data, PartLayout layout) {
  std::vector<CompletedPart> parts;
  uint64_t offset = 0;
  do {
    uint64_t part_size = layout.PartSize(parts.size());
    std::string_view part = data.substr(offset, part_size);
    parts.push_back(CompletedPart{static_cast<int>(parts.size() + 1), PlainEtag(part)});
    offset += part_size;
  } while (offset < data.size());
  Result<std::string> etag = MultipartEtag(parts);
  EXPECT_TRUE(etag.ok()) << etag.status().ToString();
  return etag.ok() ? *etag : "";
}

std::string MultipartEtagOf(std::string_view data, uint64_t part_size) {
  return MultipartEtagOf(data, Uniform(part_size));
}

// Feeds all of data in pieces of random sizes (0 to max_piece bytes) and finishes.
Outcome FeedInPieces(ObjectVerifier& v, std::string_view data, std::mt19937& rng,
                     size_t max_piece) {
  const bool verifiable = v.verifiable();
  uint64_t offset = 0;
  while (offset < data.size()) {
    size_t piece = std::uniform_int_distribution<size_t>(0, max_piece)(rng);
    std::string_view chunk = data.substr(offset, piece);
    EXPECT_EQ(v.Feed(offset, chunk), verifiable);
    offset += chunk.size();
    EXPECT_EQ(v.fed(), verifiable ? offset : 0);
  }
  return v.Finish();
}

Outcome Verify(const std::string& etag, std::string_view data,
               std::optional<PartLayout> hint = std::nullopt, size_t max_piece = 1 << 20,
               uint32_t seed = 1) {
  ObjectVerifier v(etag, data.size(), hint);
  std::mt19937 rng(seed);
  return FeedInPieces(v, data, rng, max_piece);
}

std::string Flipped(std::string data, uint64_t at) {
  data[at] = static_cast<char>(data[at] ^ 0x01);
  return data;
}

TEST(ObjectVerifierTest, PlainEtagMatchesWhenFedInRandomPieces) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::string data = RandomBytes(100'000 + seed, seed);
    EXPECT_EQ(Verify(PlainEtag(data), data, std::nullopt, 300, seed), Outcome::kMatch)
        << "seed " << seed;
  }
}

TEST(ObjectVerifierTest, PlainEtagMismatchesOnOneFlippedByteAnywhere) {
  std::string data = RandomBytes(200'003, 7);
  std::string etag = PlainEtag(data);
  std::mt19937 rng(99);
  std::vector<uint64_t> positions = {0, 1, data.size() / 2, data.size() - 1};
  for (int i = 0; i < 20; ++i) {
    positions.push_back(std::uniform_int_distribution<uint64_t>(0, data.size() - 1)(rng));
  }
  for (uint64_t at : positions) {
    EXPECT_EQ(Verify(etag, Flipped(data, at), std::nullopt, 5000, static_cast<uint32_t>(at)),
              Outcome::kMismatch)
        << "byte " << at << " flipped";
  }
}

TEST(ObjectVerifierTest, MultipartEtagWithPartSizeHint) {
  // Three 8 MiB parts, the last 4 MiB + 7 bytes.
  std::string data = RandomBytes(20 * kMiB + 7, 3);
  std::string etag = MultipartEtagOf(data, 8 * kMiB);
  ASSERT_TRUE(etag.ends_with("-3\"")) << etag;
  EXPECT_EQ(Verify(etag, data, Uniform(8 * kMiB)), Outcome::kMatch);
  for (uint64_t at : {uint64_t{0}, 8 * kMiB - 1, 8 * kMiB, 12 * kMiB, 16 * kMiB, data.size() - 1}) {
    EXPECT_EQ(Verify(etag, Flipped(data, at), Uniform(8 * kMiB)), Outcome::kMismatch)
        << "byte " << at << " (part " << at / (8 * kMiB) + 1 << ") flipped";
  }
}

TEST(ObjectVerifierTest, MultipartEtagWithFewPartsIsAmbiguousWithoutHint) {
  // 3 parts of 20 MiB + 7 bytes fit 7, 8, 9 and 10 MiB parts.
  std::string data = RandomBytes(20 * kMiB + 7, 3);
  std::string etag = MultipartEtagOf(data, 8 * kMiB);
  ObjectVerifier v(etag, data.size());
  EXPECT_FALSE(v.verifiable());
  EXPECT_FALSE(v.Feed(0, data));
  EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
  // And so is a flipped byte: without a part size nothing can be said.
  EXPECT_EQ(Verify(etag, Flipped(data, 5)), Outcome::kUnverifiable);
}

TEST(ObjectVerifierTest, MultipartPartSizeDerivedWhenOnlyOneFits) {
  // 6 parts of 25 MiB + 7 bytes: only 5 MiB parts fit ((6-1)*P < size <= 6*P, P whole MiB >= 5).
  std::string data = RandomBytes(25 * kMiB + 7, 11);
  std::string etag = MultipartEtagOf(data, 5 * kMiB);
  ASSERT_TRUE(etag.ends_with("-6\"")) << etag;
  ObjectVerifier probe(etag, data.size());
  ASSERT_TRUE(probe.verifiable());
  EXPECT_EQ(probe.layout(), Uniform(5 * kMiB));
  EXPECT_EQ(Verify(etag, data), Outcome::kMatch);
  for (uint64_t part = 0; part < 6; ++part) {
    uint64_t at = part * 5 * kMiB + (part * 1'234'567) % (part == 5 ? 7 : 5 * kMiB);
    EXPECT_EQ(Verify(etag, Flipped(data, at)), Outcome::kMismatch) << "byte " << at << " flipped";
  }
}

TEST(ObjectVerifierTest, AmbiguousTwoPartsNeedTheHint) {
  // 2 parts of 12 MiB: 6..11 MiB parts all fit.
  std::string data = RandomBytes(12 * kMiB, 5);
  std::string etag = MultipartEtagOf(data, 6 * kMiB);
  ASSERT_TRUE(etag.ends_with("-2\"")) << etag;
  EXPECT_FALSE(ObjectVerifier(etag, data.size()).verifiable());
  EXPECT_EQ(Verify(etag, data), Outcome::kUnverifiable);
  EXPECT_EQ(Verify(etag, data, Uniform(6 * kMiB)), Outcome::kMatch);
  EXPECT_EQ(Verify(etag, Flipped(data, 6 * kMiB + 1), Uniform(6 * kMiB)), Outcome::kMismatch);
}

TEST(ObjectVerifierTest, HintThatCannotMakeTheSizeIsIgnored) {
  std::string data = RandomBytes(25 * kMiB + 7, 11);
  std::string etag = MultipartEtagOf(data, 5 * kMiB);
  // 6 parts of 4 MiB are only 24 MiB: the hint is ignored and the derived 5 MiB is used.
  ObjectVerifier v(etag, data.size(), Uniform(4 * kMiB));
  EXPECT_EQ(v.layout(), Uniform(5 * kMiB));
  EXPECT_EQ(Verify(etag, data, Uniform(4 * kMiB)), Outcome::kMatch);
  // Ambiguous and a useless hint: unverifiable.
  std::string small = RandomBytes(12 * kMiB, 5);
  EXPECT_FALSE(
      ObjectVerifier(MultipartEtagOf(small, 6 * kMiB), small.size(), Uniform(13 * kMiB)).verifiable());
}

TEST(ObjectVerifierTest, SinglePartMultipartEtag) {
  std::string data = RandomBytes(3 * kMiB + 1, 8);
  std::string etag = MultipartEtagOf(data, 8 * kMiB);
  ASSERT_TRUE(etag.ends_with("-1\"")) << etag;
  EXPECT_EQ(Verify(etag, data, std::nullopt, 4096), Outcome::kMatch);
  EXPECT_EQ(Verify(etag, Flipped(data, 3 * kMiB)), Outcome::kMismatch);
}

TEST(ObjectVerifierTest, OutOfOrderFeedIsUnverifiable) {
  std::string data = RandomBytes(10'000, 2);
  std::string etag = PlainEtag(data);
  std::string_view all = data;
  {  // a gap
    ObjectVerifier v(etag, data.size());
    EXPECT_TRUE(v.Feed(0, all.substr(0, 4000)));
    EXPECT_FALSE(v.Feed(5000, all.substr(5000)));
    EXPECT_FALSE(v.verifiable());
    EXPECT_FALSE(v.Feed(4000, all.substr(4000)));  // no way back
    EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
  }
  {  // an overlap
    ObjectVerifier v(etag, data.size());
    EXPECT_TRUE(v.Feed(0, all.substr(0, 4000)));
    EXPECT_FALSE(v.Feed(3000, all.substr(3000)));
    EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
  }
  {  // a later range first
    ObjectVerifier v(etag, data.size());
    EXPECT_FALSE(v.Feed(4000, all.substr(4000)));
    EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
  }
  {  // bytes past the size
    ObjectVerifier v(etag, data.size());
    EXPECT_FALSE(v.Feed(0, data + "x"));
    EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
  }
}

TEST(ObjectVerifierTest, FinishBeforeTheEndIsUnverifiableAndFeedingGoesOn) {
  std::string data = RandomBytes(10'000, 4);
  std::string_view all = data;
  ObjectVerifier v(PlainEtag(data), data.size());
  EXPECT_TRUE(v.Feed(0, all.substr(0, 9999)));
  EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
  EXPECT_TRUE(v.Feed(9999, all.substr(9999)));
  EXPECT_EQ(v.Finish(), Outcome::kMatch);
  EXPECT_EQ(v.Finish(), Outcome::kMatch);  // again: same outcome
  EXPECT_TRUE(v.Feed(10'000, ""));
  EXPECT_FALSE(v.Feed(10'000, "x"));
  EXPECT_EQ(v.Finish(), Outcome::kUnverifiable);
}

TEST(ObjectVerifierTest, EmptyObject) {
  ObjectVerifier plain("\"d41d8cd98f00b204e9800998ecf8427e\"", 0);
  EXPECT_TRUE(plain.verifiable());
  EXPECT_TRUE(plain.Feed(0, ""));
  EXPECT_EQ(plain.Finish(), Outcome::kMatch);
  EXPECT_EQ(ObjectVerifier(PlainEtag("x"), 0).Finish(), Outcome::kMismatch);
  // A multipart upload of one empty part.
  EXPECT_EQ(ObjectVerifier(MultipartEtagOf("", 8 * kMiB), 0).Finish(), Outcome::kMatch);
  // Two or more parts cannot make 0 bytes.
  EXPECT_FALSE(ObjectVerifier("\"d41d8cd98f00b204e9800998ecf8427e-2\"", 0).verifiable());
}

TEST(ObjectVerifierTest, QuotedUnquotedAndUppercaseEtags) {
  std::string data = RandomBytes(5000, 6);
  std::string hex = HexEncode(Md5(data));
  std::string upper = hex;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const std::string& etag :
       {hex, "\"" + hex + "\"", upper, "\"" + upper + "\"", "&quot;" + hex + "&quot;"}) {
    EXPECT_EQ(Verify(etag, data), Outcome::kMatch) << etag;
    EXPECT_EQ(Verify(etag, Flipped(data, 4999)), Outcome::kMismatch) << etag;
  }
  std::string big = RandomBytes(25 * kMiB + 7, 11);
  std::string multipart(UnquoteEtag(MultipartEtagOf(big, 5 * kMiB)));
  std::transform(multipart.begin(), multipart.end(), multipart.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_EQ(Verify(multipart, big), Outcome::kMatch) << multipart;
}

TEST(ObjectVerifierTest, OtherEtagFormsAreUnverifiable) {
  const std::string hex = "0123456789abcdef0123456789abcdef";
  for (const std::string& etag :
       {std::string(""), std::string("\"\""), hex.substr(1), hex + "0", hex + "-", hex + "-0",
        hex + "-01", hex + "-10001", hex + "-1x", hex + "--1", "W/\"" + hex + "\"",
        std::string("0123456789abcdefg123456789abcdef"), std::string("not-an-etag")}) {
    ObjectVerifier v(etag, 10);
    EXPECT_FALSE(v.verifiable()) << etag;
    EXPECT_FALSE(v.Feed(0, "0123456789")) << etag;
    EXPECT_EQ(v.fed(), 0u);
    EXPECT_EQ(v.Finish(), Outcome::kUnverifiable) << etag;
  }
  // The largest part count S3 allows is accepted with the uploader's layout.
  EXPECT_TRUE(ObjectVerifier(hex + "-10000", 10000 * 5 * kMiB, Uniform(5 * kMiB)).verifiable());
}

TEST(ObjectVerifierTest, PartLayoutCountsUniformAndDoublingParts) {
  EXPECT_EQ(Uniform(8 * kMiB).PartCount(0), 0u);
  EXPECT_EQ(Uniform(8 * kMiB).PartCount(1), 1u);
  EXPECT_EQ(Uniform(8 * kMiB).PartCount(16 * kMiB), 2u);
  EXPECT_EQ(Uniform(8 * kMiB).PartCount(16 * kMiB + 1), 3u);
  // spacesfs streams: 8 MiB parts, doubling after every 1,000.
  const PartLayout stream{8 * kMiB, 1000};
  EXPECT_EQ(stream.PartSize(999), 8 * kMiB);
  EXPECT_EQ(stream.PartSize(1000), 16 * kMiB);
  EXPECT_EQ(stream.PartSize(2000), 32 * kMiB);
  EXPECT_EQ(stream.PartCount(1000 * 8 * kMiB), 1000u);
  EXPECT_EQ(stream.PartCount(1000 * 8 * kMiB + 1), 1001u);
  EXPECT_EQ(stream.PartCount(10240 * kMiB), 1140u);  // 1,000 x 8 MiB + 140 x 16 MiB
  EXPECT_EQ(stream.PartCount(1000 * 8 * kMiB + 1000 * 16 * kMiB), 2000u);
  EXPECT_EQ(stream.PartCount(1000 * 8 * kMiB + 1000 * 16 * kMiB + 1), 2001u);
  // Doubling stops after 40 doublings (1 TiB parts from 1 byte): no overflow, no endless loop.
  EXPECT_EQ((PartLayout{1, 1}).PartCount(UINT64_MAX), 40u + (1u << 24) - 1);
  EXPECT_EQ((PartLayout{0, 1000}).PartCount(5), 0u);
}

TEST(ObjectVerifierTest, DoublingLayoutIsCheckedPartByPart) {
  // 5 MiB parts doubling after every 2: 5, 5, 10, 10, then 20 MiB parts.
  const PartLayout growing{5 * kMiB, 2};
  std::string data = RandomBytes(45 * kMiB + 7, 12);
  std::string etag = MultipartEtagOf(data, growing);
  ASSERT_TRUE(etag.ends_with("-5\"")) << etag;
  EXPECT_EQ(Verify(etag, data, growing), Outcome::kMatch);
  for (uint64_t at : {uint64_t{1}, 5 * kMiB, 10 * kMiB + 3, 29 * kMiB, 30 * kMiB, data.size() - 1}) {
    EXPECT_EQ(Verify(etag, Flipped(data, at), growing), Outcome::kMismatch) << "byte " << at;
  }
  // Declared uniform when it was not: every byte is right, and the parts disagree.
  EXPECT_EQ(Verify(etag, data, Uniform(10 * kMiB)), Outcome::kMismatch);
}

TEST(ObjectVerifierTest, NoUniformPartSizeIsDerivedAboveAThousandParts) {
  const std::string hex = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(ObjectVerifier(hex + "-1000", 1000 * 5 * kMiB).verifiable());
  // 10,272 MiB in 1,142 parts: 9 MiB is the one uniform size that fits, but spacesfs (and goofys)
  // cut those as 1,000 small parts and then larger ones. Without the layout: unverifiable.
  const uint64_t size = 10272 * kMiB;
  const PartLayout stream{8 * kMiB, 1000};
  ASSERT_EQ(stream.PartCount(size), 1142u);
  EXPECT_FALSE(ObjectVerifier(hex + "-1142", size).verifiable());
  ObjectVerifier declared(hex + "-1142", size, stream);
  EXPECT_TRUE(declared.verifiable());
  EXPECT_EQ(declared.layout(), stream);
}

// Feeds data in batches of 1 to 6 consecutive pieces (each up to max_piece bytes) with
// FeedMany, as a read-ahead hands over the chunks it holds, and finishes.
Outcome FeedInBatches(ObjectVerifier& v, std::string_view data, std::mt19937& rng,
                      size_t max_piece) {
  const bool verifiable = v.verifiable();
  uint64_t offset = 0;
  while (offset < data.size()) {
    std::vector<std::string_view> batch(1 + rng() % 6);
    uint64_t at = offset;
    for (std::string_view& piece : batch) {
      piece = data.substr(at, std::uniform_int_distribution<size_t>(0, max_piece)(rng));
      at += piece.size();
    }
    EXPECT_EQ(v.FeedMany(offset, batch), verifiable);
    offset = at;
    EXPECT_EQ(v.fed(), verifiable ? offset : 0);
  }
  return v.Finish();
}

TEST(ObjectVerifierTest, FeedManyHashesPartsSideBySideWithTheSameOutcome) {
  // 37 parts of 1 MiB (a layout the uploader declared) and a plain ETag, fed in batches that
  // cover many parts at once (the lanes), one part (one stream), or pieces ending mid-part.
  std::string data = RandomBytes(36 * kMiB + 12345, 21);
  const PartLayout layout = Uniform(1 * kMiB);
  const std::string multipart = MultipartEtagOf(data, layout);
  ASSERT_TRUE(multipart.ends_with("-37\"")) << multipart;
  for (size_t max_piece : {size_t{4000}, size_t{700'000}, size_t{9 * kMiB}}) {
    std::mt19937 rng(static_cast<uint32_t>(max_piece));
    ObjectVerifier parts(multipart, data.size(), layout);
    EXPECT_EQ(FeedInBatches(parts, data, rng, max_piece), Outcome::kMatch) << max_piece;
    ObjectVerifier plain(PlainEtag(data), data.size());
    EXPECT_EQ(FeedInBatches(plain, data, rng, max_piece), Outcome::kMatch) << max_piece;
  }
  // One flipped byte in any part, in the first or last block of a part, is still a mismatch.
  for (uint64_t at : {uint64_t{0}, 1 * kMiB - 1, 1 * kMiB, 17 * kMiB + 64, data.size() - 1}) {
    std::mt19937 rng(static_cast<uint32_t>(at));
    ObjectVerifier parts(multipart, data.size(), layout);
    EXPECT_EQ(FeedInBatches(parts, Flipped(data, at), rng, 9 * kMiB), Outcome::kMismatch) << at;
  }
}

TEST(ObjectVerifierTest, FeedAndFeedManyMixAndKeepTheirRules) {
  std::string data = RandomBytes(12 * kMiB + 5, 22);
  const PartLayout growing{1 * kMiB, 3};  // 1, 1, 1, 2, 2, 2, 4 MiB...: parts of unequal size
  ObjectVerifier v(MultipartEtagOf(data, growing), data.size(), growing);
  ASSERT_TRUE(v.verifiable());
  std::string_view all(data);
  EXPECT_TRUE(v.Feed(0, all.substr(0, 1000)));
  std::vector<std::string_view> batch = {all.substr(1000, 3 * kMiB), all.substr(1000 + 3 * kMiB, 10)};
  EXPECT_TRUE(v.FeedMany(1000, batch));
  EXPECT_TRUE(v.Feed(v.fed(), all.substr(v.fed(), 5 * kMiB)));
  std::vector<std::string_view> rest = {all.substr(v.fed())};
  EXPECT_TRUE(v.FeedMany(v.fed(), rest));
  EXPECT_EQ(v.Finish(), Outcome::kMatch);
  // A gap makes it unverifiable, never a mismatch; so do bytes past the end.
  ObjectVerifier gap(MultipartEtagOf(data, growing), data.size(), growing);
  std::vector<std::string_view> after_gap = {all.substr(10, 100)};
  EXPECT_FALSE(gap.FeedMany(10, after_gap));
  EXPECT_EQ(gap.Finish(), Outcome::kUnverifiable);
  ObjectVerifier too_long(PlainEtag(data), data.size() - 1);
  std::vector<std::string_view> whole = {all};
  EXPECT_FALSE(too_long.FeedMany(0, whole));
  EXPECT_EQ(too_long.Finish(), Outcome::kUnverifiable);
}

}  // namespace
}  // namespace spacesfs::s3

// Md5UpdateMany: streams advanced side by side (16 vector lanes where the CPU has AVX-512F, one
// by one otherwise) give exactly OpenSSL's one-shot MD5 of each stream, however the bytes are cut
// into pieces: pieces shorter than a block, pieces that end mid-block, streams of unequal length
// that leave lanes idle or make them take a new stream, more streams than lanes.
#include "s3/md5_lanes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "s3/body_digest.h"
#include "s3/sigv4.h"

namespace spacesfs::s3 {
namespace {

std::string RandomBytes(size_t size, std::mt19937& rng) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 4) {
    uint32_t word = rng();
    std::memcpy(out.data() + i, &word, std::min<size_t>(4, size - i));
  }
  return out;
}

// Feeds each stream in rounds of random piece sizes (one piece per stream per round, as a reader
// feeding several parts does) and compares every digest with OpenSSL's one-shot MD5.
void ExpectDigestsMatch(const std::vector<std::string>& streams, std::mt19937& rng,
                        size_t max_piece, bool allow_vector) {
  std::vector<Md5Lane> lanes(streams.size());
  std::vector<size_t> fed(streams.size(), 0);
  bool more = true;
  while (more) {
    more = false;
    std::vector<Md5Piece> round;
    for (size_t i = 0; i < streams.size(); ++i) {
      size_t left = streams[i].size() - fed[i];
      if (left == 0) continue;
      size_t n = std::min<size_t>(left, 1 + rng() % max_piece);
      round.push_back({&lanes[i], std::string_view(streams[i]).substr(fed[i], n)});
      fed[i] += n;
      more = more || fed[i] < streams[i].size();
    }
    Md5UpdateMany(round, allow_vector);
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    EXPECT_EQ(HexEncode(lanes[i].FinalRaw()), HexEncode(Md5(streams[i])))
        << "stream " << i << " of " << streams.size() << ", " << streams[i].size() << " bytes";
  }
}

TEST(Md5LanesTest, KnownDigestsComeOutOfEveryLane) {
  // RFC 1321's test suite, in 17 streams at once (more than the 16 lanes).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (bool allow_vector : {true, false}) {
    std::vector<std::string> expected;
    std::vector<Md5Lane> lanes(17);
    std::vector<Md5Piece> pieces;
    std::vector<std::string> inputs;
    for (size_t i = 0; i < lanes.size(); ++i) {
      const auto& c = cases[i % cases.size()];
      // Each input repeated so that every stream has whole blocks for the lanes.
      std::string input;
      for (int r = 0; r < 20; ++r) input += c.first;
      inputs.push_back(input);
      expected.push_back(HexEncode(Md5(input)));
    }
    for (size_t i = 0; i < lanes.size(); ++i) pieces.push_back({&lanes[i], inputs[i]});
    Md5UpdateMany(pieces, allow_vector);
    for (size_t i = 0; i < lanes.size(); ++i) {
      EXPECT_EQ(HexEncode(lanes[i].FinalRaw()), expected[i]) << "lane " << i;
    }
  }
  Md5Lane abc;
  abc.Update("abc");
  EXPECT_EQ(HexEncode(abc.FinalRaw()), "900150983cd24fb0d6963f7d28e17f72");
  abc.Update("a");  // FinalRaw started the lane over
  EXPECT_EQ(HexEncode(abc.FinalRaw()), "0cc175b9c0f1b6a831c399e269772661");
}

TEST(Md5LanesTest, StreamsOfEqualLengthInWholeBlocks) {
  std::mt19937 rng(1);
  for (size_t count : {3u, 8u, 16u, 33u}) {
    std::vector<std::string> streams;
    for (size_t i = 0; i < count; ++i) streams.push_back(RandomBytes(64 * 1024, rng));
    ExpectDigestsMatch(streams, rng, 64 * 1024, true);
  }
}

TEST(Md5LanesTest, StreamsOfUnequalLengthCutAnywhere) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 40; ++trial) {
    size_t count = rng() % 24;
    std::vector<std::string> streams;
    for (size_t i = 0; i < count; ++i) streams.push_back(RandomBytes(rng() % 20000, rng));
    size_t max_piece = trial % 2 == 0 ? 100 : 9000;
    ExpectDigestsMatch(streams, rng, max_piece, true);
    ExpectDigestsMatch(streams, rng, max_piece, false);
  }
}

TEST(Md5LanesTest, AStreamStartedByUpdateGoesOnInTheLanes) {
  // Lanes continue from the chaining state (and any partial block) Update left behind.
  std::mt19937 rng(3);
  std::vector<std::string> streams;
  std::vector<Md5Lane> lanes(5);
  std::vector<Md5Piece> pieces;
  for (size_t i = 0; i < lanes.size(); ++i) {
    streams.push_back(RandomBytes(5000 + 37 * i, rng));
    lanes[i].Update(std::string_view(streams[i]).substr(0, 100 + 13 * i));
  }
  for (size_t i = 0; i < lanes.size(); ++i) {
    pieces.push_back({&lanes[i], std::string_view(streams[i]).substr(100 + 13 * i)});
  }
  Md5UpdateMany(pieces);
  for (size_t i = 0; i < lanes.size(); ++i) {
    EXPECT_EQ(HexEncode(lanes[i].FinalRaw()), HexEncode(Md5(streams[i]))) << "lane " << i;
  }
}

TEST(Md5LanesTest, ThreadsJoiningTheirPiecesEachGetTheirOwnDigests) {
  // Six threads, each hashing its own three streams in rounds, at the same time: passes mix
  // the pieces of several threads (in the vector lanes where there are any).
  constexpr int kThreads = 6;
  std::vector<std::vector<std::string>> streams(kThreads);
  std::mt19937 seed_rng(5);
  for (auto& mine : streams) {
    for (int s = 0; s < 3; ++s) mine.push_back(RandomBytes(200'000 + seed_rng() % 50'000, seed_rng));
  }
  std::vector<std::vector<std::string>> digests(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      std::vector<Md5Lane> lanes(3);
      std::vector<size_t> fed(3, 0);
      for (bool more = true; more;) {
        more = false;
        std::vector<Md5Piece> round;
        for (size_t i = 0; i < 3; ++i) {
          size_t n = std::min<size_t>(streams[t][i].size() - fed[i], 1 + rng() % 30'000);
          if (n == 0) continue;
          round.push_back({&lanes[i], std::string_view(streams[t][i]).substr(fed[i], n)});
          fed[i] += n;
          more = true;
        }
        Md5UpdateManyJoined(round);
      }
      for (Md5Lane& lane : lanes) digests[t].push_back(HexEncode(lane.FinalRaw()));
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(digests[t][i], HexEncode(Md5(streams[t][i]))) << "thread " << t << " stream " << i;
    }
  }
}

TEST(Md5LanesTest, LongUnequalStreamsOfManyThreadsShareThePasses) {
  // Pieces of up to 3 MiB, far longer than a pass's slice, of very unequal lengths and some
  // threads with a single stream: passes take in pieces queued meanwhile, hash what is left of
  // one or two long streams slice by slice through OpenSSL, and hand unfinished streams over
  // when their runner's own pieces are done. Every digest must still be OpenSSL's one-shot MD5.
  constexpr int kThreads = 8;
  std::vector<std::vector<std::string>> streams(kThreads);
  std::mt19937 seed_rng(7);
  for (int t = 0; t < kThreads; ++t) {
    const int count = t % 3 == 0 ? 1 : 2;
    for (int s = 0; s < count; ++s) {
      streams[t].push_back(RandomBytes(1'000'000 + seed_rng() % 5'000'000, seed_rng));
    }
  }
  const Md5HashingCounts before = Md5JoinedCounts();
  std::atomic<uint64_t> pieces{0};
  std::vector<std::vector<std::string>> digests(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(200 + t);
      const std::vector<std::string>& mine = streams[t];
      std::vector<Md5Lane> lanes(mine.size());
      std::vector<size_t> fed(mine.size(), 0);
      for (bool more = true; more;) {
        more = false;
        std::vector<Md5Piece> round;
        for (size_t i = 0; i < mine.size(); ++i) {
          const size_t max_piece = rng() % 4 == 0 ? 3'000'000 : 300'000;
          size_t n = std::min<size_t>(mine[i].size() - fed[i], 1 + rng() % max_piece);
          if (n == 0) continue;
          round.push_back({&lanes[i], std::string_view(mine[i]).substr(fed[i], n)});
          fed[i] += n;
          more = true;
        }
        pieces += round.size();
        if (!round.empty()) Md5UpdateManyJoined(round);
      }
      for (Md5Lane& lane : lanes) digests[t].push_back(HexEncode(lane.FinalRaw()));
    });
  }
  for (std::thread& thread : threads) thread.join();
  uint64_t total = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < streams[t].size(); ++i) {
      total += streams[t][i].size();
      EXPECT_EQ(digests[t][i], HexEncode(Md5(streams[t][i]))) << "thread " << t << " stream " << i;
    }
  }
  if (Md5LanesVectorised()) {
    // Every whole block went through a pass, in the lanes or one stream at a time: all but at
    // most two partial blocks a piece (the one it completes, and its tail).
    const Md5HashingCounts after = Md5JoinedCounts();
    const uint64_t hashed = (after.lane_bytes - before.lane_bytes) +
                            (after.serial_bytes - before.serial_bytes);
    EXPECT_GE(hashed, total - 2 * 64 * pieces.load());
    EXPECT_GT(after.lane_bytes, before.lane_bytes);
  }
}

}  // namespace
}  // namespace spacesfs::s3

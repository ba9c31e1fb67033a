// Differential test: SignRequest against botocore's S3SigV4Auth (tests/tools/botocore_sign.py run
// with Debian's /usr/bin/python3 and python3-botocore) over a few hundred generated requests: keys
// with spaces, '+', '%', '=', '&', UTF-8, '//', '.', '..', '~'; query parameters with special
// characters and empty values; untrimmed and repeated headers; regions; session tokens.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "s3/sigv4.h"

namespace spacesfs::s3 {
namespace {

constexpr char kPython[] = "/usr/bin/python3";
constexpr uint32_t kDefaultSeed = 20261128;
constexpr int kCases = 400;

struct Case {
  RequestToSign request;
  SigningKey key;
  std::string region;
  std::time_t time = 0;
  bool unsigned_payload = false;
  std::string body;
};

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }
  bool OneIn(size_t n) { return Below(n) == 0; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }

  std::string Chars(std::string_view alphabet, size_t min_len, size_t max_len) {
    std::string out;
    const size_t n = min_len + Below(max_len - min_len + 1);
    for (size_t i = 0; i < n; ++i) out.push_back(alphabet[Below(alphabet.size())]);
    return out;
  }

  // Pieces of keys and query strings: every character class the encoder distinguishes.
  std::string Atom() {
    static const std::vector<std::string> kAtoms = {
        "photos", "a", "Z9", "2024-01-01", "file.txt", "x_y", "~user", "-", "_", ".", "~",
        " ", "  ", "+", "%", "%20", "%2F", "=", "&", "?", "#", "$", "!", "'", "(", ")", "*", ",",
        ";", ":", "@", "[", "]", "{", "}", "|", "\\", "^", "`", "\"", "<", ">",
        "\xc3\xa9",          // é
        "\xe9\x9b\xaa",      // 雪
        "\xf0\x9f\x98\x80",  // U+1F600
        "\xd0\xb4\xd0\xb0",  // да
        "\x01", "\x7f"};
    return Pick(kAtoms);
  }
  std::string Atoms(size_t max) {
    std::string out;
    const size_t n = 1 + Below(max);
    for (size_t i = 0; i < n; ++i) out += Atom();
    return out;
  }

  std::string Path() {
    std::string path = "/";
    if (OneIn(2)) path += Pick(std::vector<std::string>{"bucket", "my-space", "b.dots"}) + "/";
    const size_t segments = Below(5);
    for (size_t i = 0; i < segments; ++i) {
      if (i > 0) path += "/";
      const size_t kind = Below(10);
      if (kind == 0) {
        path += "";  // "//"
      } else if (kind == 1) {
        path += ".";
      } else if (kind == 2) {
        path += "..";
      } else {
        path += Atoms(4);
      }
    }
    if (OneIn(4)) path += "/";
    return path;
  }

  HeaderList Query() {
    static const std::vector<std::string> kNames = {
        "uploads", "delete", "tagging", "acl", "list-type", "prefix", "delimiter",
        "continuation-token", "start-after", "max-keys", "encoding-type", "uploadId",
        "partNumber", "versionId", "x-id"};
    HeaderList query;
    const size_t n = Below(5);
    for (size_t i = 0; i < n; ++i) {
      std::string name = OneIn(3) ? Atoms(3) : Pick(kNames);
      std::string value;
      if (!OneIn(3)) value = OneIn(2) ? Atoms(4) : Chars("abc/", 1, 6);
      query.emplace_back(name, value);
      if (OneIn(6)) query.emplace_back(name, Atoms(2));  // a repeated name: sorted by value
    }
    return query;
  }

  std::string HeaderValue() {
    static const std::vector<std::string> kPieces = {
        "bytes=0-9", "text/plain", "\"etag-1\"", "max-age=60", "REDUCED_REDUNDANCY", "public-read",
        "a", "b c", " ", "   ", "\t", "=", ",", ";", "/bucket/key%20x", "1234", "\xc3\xa9"};
    std::string out;
    const size_t n = 1 + Below(4);
    for (size_t i = 0; i < n; ++i) out += Pick(kPieces);
    return out;
  }

  HeaderList Headers() {
    static const std::vector<std::string> kNames = {
        "Range", "Content-Type", "Content-MD5", "Content-Length", "Cache-Control", "If-Match",
        "If-None-Match", "x-amz-acl", "X-Amz-Meta-Owner", "x-amz-copy-source",
        "x-amz-metadata-directive", "X-Amz-Storage-Class", "Content-Disposition", "X-AMZ-META-CAPS"};
    HeaderList headers;
    const size_t n = Below(5);
    for (size_t i = 0; i < n; ++i) {
      std::string name =
          OneIn(4) ? "x-amz-meta-" + Chars("abcdefghijklmnopqrstuvwxyz0123456789-", 1, 8)
                   : Pick(kNames);
      headers.emplace_back(name, HeaderValue());
      if (OneIn(8)) headers.emplace_back(name, HeaderValue());  // a repeated header
    }
    return headers;
  }

  Case Next() {
    static const std::vector<std::string> kMethods = {"GET", "PUT", "HEAD", "DELETE", "POST"};
    static const std::vector<std::string> kHosts = {
        "examplebucket.s3.amazonaws.com", "nyc3.digitaloceanspaces.com",
        "my-space.ams3.digitaloceanspaces.com", "localhost:7480", "127.0.0.1:8000",
        "s3.us-west-002.backblazeb2.com"};
    static const std::vector<std::string> kRegions = {
        "us-east-1", "nyc3", "ams3", "sfo3", "sgp1", "eu-west-2", "ap-southeast-1", "default",
        "us-west-002"};
    constexpr std::string_view kKeyChars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    constexpr std::string_view kSecretChars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
    Case c;
    c.request.method = Pick(kMethods);
    c.request.host = Pick(kHosts);
    c.request.raw_path = Path();
    c.request.query = Query();
    c.request.headers = Headers();
    c.key.access_key_id = Chars(kKeyChars, 16, 24);
    c.key.secret_access_key = Secret(Chars(kSecretChars, 40, 40));
    if (OneIn(3)) c.key.session_token = Chars(std::string(kSecretChars) + "=", 16, 300);
    c.region = Pick(kRegions);
    c.time = static_cast<std::time_t>(Below(4102444800));  // 1970 .. 2100
    c.unsigned_payload = OneIn(4);
    if (!c.unsigned_payload) {
      const size_t n = Below(100);
      for (size_t i = 0; i < n; ++i) c.body.push_back(static_cast<char>(Below(256)));
    }
    c.request.payload_hash =
        c.unsigned_payload ? std::string(kUnsignedPayload) : Sha256Hex(c.body);
    return c;
  }

 private:
  std::mt19937 rng_;
};

// JSON string for valid UTF-8 input: bytes >= 0x80 are passed through.
std::string Json(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  return out + "\"";
}

std::string Json(const HeaderList& pairs) {
  std::string out = "[";
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += ",";
    out += "[" + Json(pairs[i].first) + "," + Json(pairs[i].second) + "]";
  }
  return out + "]";
}

// redact_secret: failure messages name the case without its (generated) secret key; the seed
// reproduces it.
std::string Json(const Case& c, bool redact_secret = false) {
  std::ostringstream o;
  o << "{\"method\":" << Json(c.request.method) << ",\"host\":" << Json(c.request.host)
    << ",\"path\":" << Json(c.request.raw_path) << ",\"query\":" << Json(c.request.query)
    << ",\"headers\":" << Json(c.request.headers) << ",\"body_hex\":"
    << (c.unsigned_payload ? std::string("null") : Json(HexEncode(c.body)))
    << ",\"time\":" << static_cast<long long>(c.time)
    << ",\"access_key\":" << Json(c.key.access_key_id)
    << ",\"secret_key\":"
    << (redact_secret ? std::string("\"<redacted>\"") : Json(c.key.secret_access_key.reveal()))
    << ",\"token\":" << Json(c.key.session_token) << ",\"region\":" << Json(c.region) << "}";
  return o.str();
}

std::string Authorization(const Case& c) {
  for (const auto& [name, value] : SignRequest(c.request, c.key, c.region, c.time)) {
    if (name == "Authorization") return value;
  }
  return "";
}

std::string OurCanonicalRequest(const Case& c) {
  HeaderList all = c.request.headers;
  all.emplace_back("host", c.request.host);
  all.emplace_back("x-amz-date", AmzDate(c.time));
  all.emplace_back("x-amz-content-sha256", c.request.payload_hash);
  if (!c.key.session_token.empty()) all.emplace_back("x-amz-security-token", c.key.session_token);
  return CanonicalRequest(c.request, all, "");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

uint32_t Seed() {
  const char* env = std::getenv("SPACESFS_SIGV4_SEED");
  return env != nullptr ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : kDefaultSeed;
}

// Runs botocore over the cases; returns two lines per case (Authorization, canonical request).
std::vector<std::string> RunBotocore(const std::vector<Case>& cases, std::string* error) {
  const std::string dir = testing::TempDir();
  const std::string in_path = dir + "sigv4_botocore_in_" + std::to_string(getpid()) + ".json";
  const std::string out_path = dir + "sigv4_botocore_out_" + std::to_string(getpid()) + ".txt";
  const std::string err_path = dir + "sigv4_botocore_err_" + std::to_string(getpid()) + ".txt";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << "[";
    for (size_t i = 0; i < cases.size(); ++i) in << (i > 0 ? ",\n" : "") << Json(cases[i]);
    in << "]\n";
  }
  const std::string script = std::string(SPACESFS_SOURCE_DIR) + "/tests/tools/botocore_sign.py";
  const std::string command = std::string(kPython) + " '" + script + "' < '" + in_path + "' > '" +
                              out_path + "' 2> '" + err_path + "'";
  const int rc = std::system(command.c_str());
  const std::string output = ReadFile(out_path);
  const std::string stderr_text = ReadFile(err_path);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  if (rc != 0) {
    *error = "botocore_sign.py failed (status " + std::to_string(rc) + "):\n" + stderr_text;
    return {};
  }
  std::vector<std::string> lines;
  std::istringstream s(output);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

class SigV4BotocoreTest : public testing::Test {
 protected:
  void SetUp() override {
    if (access(kPython, X_OK) != 0) {
      GTEST_FAIL() << kPython << " is missing: this test needs Debian's python3 with "
                   << "python3-botocore (apt-get install python3-botocore)";
    }
    const std::string probe = std::string(kPython) + " -c 'import botocore.auth' >/dev/null 2>&1";
    if (std::system(probe.c_str()) != 0) {
      GTEST_FAIL() << "botocore is not importable by " << kPython
                   << ": install python3-botocore (apt-get install python3-botocore)";
    }
  }
};

TEST_F(SigV4BotocoreTest, GeneratedRequestsSignLikeBotocore) {
  const uint32_t seed = Seed();
  Gen gen(seed);
  std::vector<Case> cases;
  for (int i = 0; i < kCases; ++i) cases.push_back(gen.Next());

  std::string error;
  const std::vector<std::string> lines = RunBotocore(cases, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(lines.size(), 2 * cases.size()) << "unexpected output from botocore_sign.py";

  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string ours = Authorization(c);
    const std::string theirs = lines[2 * i];
    if (ours != theirs && ++failures <= 5) {
      ADD_FAILURE() << "case " << i << " (seed " << seed << ") differs from botocore\n"
                    << "case: " << Json(c, /*redact_secret=*/true) << "\n"
                    << "ours:     " << ours << "\n"
                    << "botocore: " << theirs << "\n"
                    << "our canonical request:      " << Json(OurCanonicalRequest(c)) << "\n"
                    << "botocore canonical request: " << lines[2 * i + 1];
    }
  }
  EXPECT_EQ(failures, 0) << failures << " of " << cases.size() << " cases differ (seed " << seed
                         << "; rerun with SPACESFS_SIGV4_SEED=<n> to try others)";
}

TEST_F(SigV4BotocoreTest, HarnessDetectsADifference) {
  // The comparison must be able to fail: botocore signing one request, us another.
  Gen gen(kDefaultSeed);
  Case c = gen.Next();
  std::string error;
  const std::vector<std::string> lines = RunBotocore({c}, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Authorization(c), lines[0]);
  Case altered = c;
  altered.request.raw_path += "x";
  EXPECT_NE(Authorization(altered), lines[0]);
}

}  // namespace
}  // namespace spacesfs::s3

// `spacesfs keys` against tests/tools/do_api_mock.py: the exact requests sent to the DigitalOcean
// Spaces keys API, error handling, where the secret goes, and the atomic credential file write.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/credentials.h"
#include "cli/keys_command.h"
#include "gtest/gtest.h"
#include "keys/credential_store.h"
#include "keys/digitalocean_provider.h"

namespace spacesfs::keys {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class KeysDoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spacesfs-keys-do.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = dir_ + "/requests.log";
    const std::string port_file = dir_ + "/port";
    const std::string script = std::string(SPACESFS_SOURCE_DIR) + "/tests/tools/do_api_mock.py";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::execlp("python3", "python3", script.c_str(), port_file.c_str(), log_.c_str(), nullptr);
      ::_exit(127);
    }
    // Python can take seconds to start on a loaded machine: wait up to 60 s, unless it died.
    for (int i = 0; i < 2400 && !fs::exists(port_file); ++i) {
      int wstatus = 0;
      if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "tests/tools/do_api_mock.py exited with status " << wstatus;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_TRUE(fs::exists(port_file)) << "the mock did not start within 60 s";
    port_ = std::stoi(ReadAll(port_file));
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    ::setenv("DIGITALOCEAN_API_URL", url_.c_str(), 1);
    ::setenv("DIGITALOCEAN_TOKEN", "dop_v1_testtoken123", 1);
    ::setenv("SPACESFS_KEYS_VERIFY_ATTEMPTS", "2", 1);
    creds_ = dir_ + "/credentials";
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unsetenv("DIGITALOCEAN_API_URL");
    ::unsetenv("DIGITALOCEAN_TOKEN");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs RunKeys with stdout and stderr captured.
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"spacesfs", "keys"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    const std::string out_path = dir_ + "/out", err_path = dir_ + "/err";
    int saved_out = ::dup(1), saved_err = ::dup(2);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int rc = cli::RunKeys(static_cast<int>(args.size()), argv.data());
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out, 1);
    ::dup2(saved_err, 2);
    for (int fd : {out, err, saved_out, saved_err}) ::close(fd);
    stdout_ = ReadAll(out_path);
    stderr_ = ReadAll(err_path);
    return rc;
  }

  std::vector<json> Requests() {
    std::vector<json> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

  void FailNext(int status, json extra = json::object()) {
    json rule = extra;
    rule["status"] = status;
    std::string body = rule.dump();
    std::string cmd = "curl -s -o /dev/null -X POST --data '" + body + "' " + url_ + "/_mock/fail";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  // The stdout of a shell command.
  static std::string Capture(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char buffer[256];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    ::pclose(pipe);
    return out;
  }

  void WriteCredentials(const std::string& text) {
    std::ofstream(creds_) << text;
    ::chmod(creds_.c_str(), 0600);
  }

  // Creates profile [app] for photos:read whose endpoint is the mock (so rotate can verify it).
  int CreateAppOnTheMock() {
    return Run({"create", "--name", "app", "--grant", "photos:read", "--region", "nyc3",
                "--endpoint", url_, "--credentials", creds_});
  }

  std::vector<std::string> CreateArgs(const std::string& name) {
    return {"create", "--name", name, "--grant", "photos:read", "--grant",
            "logs/app:append-only", "--region", "nyc3", "--credentials", creds_};
  }

  std::string dir_, log_, url_, creds_, stdout_, stderr_;
  pid_t pid_ = -1;
  int port_ = 0;
};

constexpr char kExisting[] =
    "# my credentials\n"
    "[other]\n"
    "access_key_id = DO00OTHER\n"
    "secret_access_key = otherSecret\n"
    "region = ams3\n"
    "grant = other:read   # keep this comment\n";

TEST_F(KeysDoTest, CreateSendsExactRequestAndStoresNarrowerProfile) {
  WriteCredentials(kExisting);
  ASSERT_EQ(Run(CreateArgs("app")), 0) << stderr_;
  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 1u);
  const json& r = requests[0];
  EXPECT_EQ(r["method"], "POST");
  EXPECT_EQ(r["path"], "/v2/spaces/keys");
  EXPECT_EQ(r["headers"]["authorization"], "Bearer dop_v1_testtoken123");
  EXPECT_EQ(r["headers"]["content-type"], "application/json");
  EXPECT_EQ(json::parse(r["body"].get<std::string>()),
            json::parse(R"({"name":"app","grants":[{"bucket":"photos","permission":"read"},
                            {"bucket":"logs","permission":"readwrite"}]})"));

  // The file: 0600, the other profile and its comments intact, the new profile narrower.
  struct stat st;
  ASSERT_EQ(::stat(creds_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::getuid());
  const std::string text = ReadAll(creds_);
  EXPECT_EQ(text.substr(0, sizeof kExisting - 1), kExisting);
  Result<auth::Profile> profile = auth::LoadProfile(creds_, "app", ::getuid());
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  EXPECT_EQ(profile->access_key_id, "DO00MOCK00000001");
  EXPECT_EQ(profile->endpoint, "https://nyc3.digitaloceanspaces.com");
  ASSERT_EQ(profile->grants.size(), 2u);
  EXPECT_EQ(auth::FormatGrant(profile->grants[1]), "logs/app/:append-only");
  const std::string secret(profile->secret_access_key.reveal());
  EXPECT_EQ(secret, "mockSecret1XyZ9+abcDEF/ghiJKL0123456789");
  EXPECT_TRUE(auth::LoadProfile(creds_, "other", ::getuid()).ok());
  // The secret is in the file only.
  EXPECT_EQ(stdout_.find(secret), std::string::npos);
  EXPECT_EQ(stderr_.find(secret), std::string::npos);
  EXPECT_EQ(stdout_.find("mockSecret"), std::string::npos);
  EXPECT_NE(stdout_.find("DO00MOCK00000001"), std::string::npos);
  // One line says the scope is narrower than what DigitalOcean minted.
  size_t notes = 0;
  for (size_t p = stdout_.find("note: "); p != std::string::npos; p = stdout_.find("note: ", p + 1)) {
    ++notes;
  }
  EXPECT_EQ(notes, 1u) << stdout_;
  EXPECT_NE(stdout_.find("logs/app/:append-only is minted as logs:readwrite"), std::string::npos);
  // No temp files left behind.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("credentials.tmp"), std::string::npos);
  }
}

TEST_F(KeysDoTest, ExistingProfileIsRefusedBeforeAnyRequestUnlessForced) {
  WriteCredentials(kExisting);
  EXPECT_EQ(Run({"create", "--name", "other", "--grant", "photos:read", "--region", "nyc3",
                 "--credentials", creds_}),
            1);
  EXPECT_NE(stderr_.find("already exists; pass --force"), std::string::npos) << stderr_;
  EXPECT_TRUE(Requests().empty());
  EXPECT_EQ(ReadAll(creds_), kExisting);
  EXPECT_EQ(Run({"create", "--name", "other", "--grant", "photos:read", "--region", "nyc3",
                 "--credentials", creds_, "--force"}),
            0)
      << stderr_;
  Result<auth::Profile> profile = auth::LoadProfile(creds_, "other", ::getuid());
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->access_key_id, "DO00MOCK00000001");
  EXPECT_EQ(ReadAll(creds_).find("otherSecret"), std::string::npos);
  EXPECT_EQ(ReadAll(creds_).rfind("# my credentials\n", 0), 0u);
}

TEST_F(KeysDoTest, EachErrorStatusGivesOneClearLineAndWritesNothing) {
  WriteCredentials(kExisting);
  struct Case {
    int status;
    std::string expect;
  } cases[] = {{401, "HTTP 401: mock error 401 (the credential was refused"},
               {403, "HTTP 403: mock error 403"},
               {404, "HTTP 404"},
               {409, "HTTP 409"},
               {422, "HTTP 422: mock error 422"},
               {429, "HTTP 429: mock error 429 (rate limited; retry after 7 s)"},
               {500, "HTTP 500: mock error 500 (server error"},
               {503, "HTTP 503"}};
  for (const Case& c : cases) {
    FailNext(c.status, {{"headers", {{"Retry-After", "7"}}}});
    EXPECT_EQ(Run(CreateArgs("app")), 1) << c.status;
    EXPECT_NE(stderr_.find("DigitalOcean API: POST /v2/spaces/keys: " + c.expect), std::string::npos)
        << c.status << ": " << stderr_;
    EXPECT_EQ(std::count(stderr_.begin(), stderr_.end(), '\n'), 1) << stderr_;
    EXPECT_EQ(stderr_.find("dop_v1_testtoken123"), std::string::npos);
    EXPECT_EQ(ReadAll(creds_), kExisting);
  }
  EXPECT_EQ(Requests().size(), std::size(cases));
}

TEST_F(KeysDoTest, TimeoutIsReported) {
  FailNext(500, {{"delay", 40}});  // curl measures speed over a window of a few seconds
  DigitalOceanConfig config;
  config.api_url = url_;
  config.token = Secret("dop_v1_testtoken123");
  config.region = "nyc3";
  config.timeout = std::chrono::seconds(1);
  DigitalOceanProvider provider(std::move(config));
  Result<MintedKey> minted = provider.Create("slow", {*auth::ParseGrant("photos:read")});
  ASSERT_FALSE(minted.ok());
  EXPECT_EQ(minted.status().code(), ErrorCode::kTimeout) << minted.status().ToString();
  EXPECT_NE(minted.status().message().find("DigitalOcean API: POST /v2/spaces/keys"),
            std::string::npos);
}

TEST_F(KeysDoTest, KeyCreatedButNotStoredIsRevoked) {
  const std::string missing = dir_ + "/no-such-dir/credentials";
  EXPECT_EQ(Run({"create", "--name", "app", "--grant", "photos:read", "--region", "nyc3",
                 "--credentials", missing}),
            1);
  EXPECT_NE(stderr_.find("does not exist"), std::string::npos) << stderr_;
  EXPECT_NE(stdout_.find("revoked the new key DO00MOCK00000001"), std::string::npos) << stdout_;
  EXPECT_EQ(stdout_.find("mockSecret"), std::string::npos);
  EXPECT_EQ(stderr_.find("mockSecret"), std::string::npos);
  std::vector<json> requests = Requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests.front()["method"], "POST");
  EXPECT_EQ(requests.back()["method"], "DELETE");
  EXPECT_EQ(requests.back()["path"], "/v2/spaces/keys/DO00MOCK00000001");
  EXPECT_EQ(requests.back()["headers"]["authorization"], "Bearer dop_v1_testtoken123");
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(KeysDoTest, ListFollowsPagesAndRevokeByNameDeletes) {
  ASSERT_EQ(Run(CreateArgs("one")), 0) << stderr_;
  ASSERT_EQ(Run(CreateArgs("two")), 0) << stderr_;
  ASSERT_EQ(Run({"list"}), 0) << stderr_;
  EXPECT_NE(stdout_.find("one\tDO00MOCK00000001\tphotos:read,logs:readwrite"), std::string::npos)
      << stdout_;
  EXPECT_NE(stdout_.find("two\tDO00MOCK00000002"), std::string::npos) << stdout_;
  std::vector<json> requests = Requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[2]["path"], "/v2/spaces/keys?page=1&per_page=200");
  EXPECT_EQ(requests[3]["path"], "/v2/spaces/keys?page=2&per_page=1");
  EXPECT_EQ(requests[3]["headers"]["authorization"], "Bearer dop_v1_testtoken123");

  ASSERT_EQ(Run({"revoke", "two"}), 0) << stderr_;
  requests = Requests();
  EXPECT_EQ(requests.back()["method"], "DELETE");
  EXPECT_EQ(requests.back()["path"], "/v2/spaces/keys/DO00MOCK00000002");
  EXPECT_EQ(Run({"revoke", "DO00NOSUCHKEY"}), 1);
  EXPECT_NE(stderr_.find("HTTP 404"), std::string::npos) << stderr_;
}

TEST_F(KeysDoTest, RotateReplacesVerifiesAndRevokesTheOldKey) {
  WriteCredentials(kExisting);
  ASSERT_EQ(CreateAppOnTheMock(), 0) << stderr_;
  ASSERT_EQ(Run({"rotate", "app", "--credentials", creds_}), 0) << stderr_ << stdout_;
  Result<auth::Profile> profile = auth::LoadProfile(creds_, "app", ::getuid());
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->access_key_id, "DO00MOCK00000002");
  EXPECT_EQ(profile->endpoint, url_);
  EXPECT_TRUE(auth::LoadProfile(creds_, "other", ::getuid()).ok());
  EXPECT_EQ(stdout_.find("mockSecret"), std::string::npos);
  std::vector<json> requests = Requests();
  bool verified = false;
  for (const json& r : requests) {
    if (r["method"] == "GET" && r["path"].get<std::string>().rfind("/photos?", 0) == 0) verified = true;
  }
  EXPECT_TRUE(verified);
  EXPECT_EQ(requests.back()["method"], "DELETE");
  EXPECT_EQ(requests.back()["path"], "/v2/spaces/keys/DO00MOCK00000001");
  struct stat st;
  ASSERT_EQ(::stat(creds_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(KeysDoTest, TokenIsNeverTakenFromTheCommandLine) {
  ::unsetenv("DIGITALOCEAN_TOKEN");
  EXPECT_EQ(Run(CreateArgs("app")), 1);
  EXPECT_NE(stderr_.find("no DigitalOcean API token"), std::string::npos) << stderr_;
  EXPECT_TRUE(Requests().empty());
  // A token file must be 0600.
  const std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << "dop_v1_fromfile\n";
  ::chmod(token_file.c_str(), 0644);
  std::vector<std::string> args = CreateArgs("app");
  args.insert(args.end(), {"--token-file", token_file});
  EXPECT_EQ(Run(args), 1);
  EXPECT_NE(stderr_.find("chmod 600"), std::string::npos) << stderr_;
  ::chmod(token_file.c_str(), 0600);
  EXPECT_EQ(Run(args), 0) << stderr_;
  EXPECT_EQ(Requests().back()["headers"]["authorization"], "Bearer dop_v1_fromfile");
}

TEST_F(KeysDoTest, FullAccessIsMintedAsReadWriteOnItsSpace) {
  // The mock answers like DigitalOcean: fullaccess only with "bucket": "" (every bucket), alone.
  std::string code = Capture(
      "curl -s -o /dev/null -w '%{http_code}' -X POST -H "
      "'Content-Type: application/json' --data "
      "'{\"name\":\"x\",\"grants\":[{\"bucket\":\"ccc\","
      "\"permission\":\"fullaccess\"}]}' " +
      url_ + "/v2/spaces/keys");
  ASSERT_EQ(code, "422");

  WriteCredentials(kExisting);
  ASSERT_EQ(Run({"create", "--name", "full", "--grant", "ccc:fullaccess", "--grant", "photos:read",
                 "--region", "nyc3", "--credentials", creds_}),
            0)
      << stderr_;
  const json sent = Requests().back();
  EXPECT_EQ(sent["method"], "POST");
  EXPECT_EQ(json::parse(sent["body"].get<std::string>()),
            json::parse(R"({"name":"full","grants":[{"bucket":"ccc","permission":"readwrite"},
                            {"bucket":"photos","permission":"read"}]})"));
  // The profile keeps what was asked for; spacesfs enforces it.
  Result<auth::Profile> profile = auth::LoadProfile(creds_, "full", ::getuid());
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_EQ(profile->grants.size(), 2u);
  EXPECT_EQ(auth::FormatGrant(profile->grants[0]), "ccc:fullaccess");
  EXPECT_EQ(auth::FormatGrant(profile->grants[1]), "photos:read");
  EXPECT_NE(stdout_.find("\nnote: ccc:fullaccess is minted as ccc:readwrite (a DigitalOcean "
                         "fullaccess key opens every bucket"),
            std::string::npos)
      << stdout_;
  EXPECT_EQ(std::count(stdout_.begin(), stdout_.end(), '\n'), 2) << stdout_;
}

TEST_F(KeysDoTest, TokenOnTheCommandLineIsRefusedAndNeverEchoed) {
  const std::string hex64 = "9f3c0a7be41d2c5869f0e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";
  ASSERT_EQ(hex64.size(), 64u);
  const std::string token = "dop_v1_" + hex64;
  WriteCredentials(kExisting);
  std::vector<std::vector<std::string>> cases;
  for (const std::string& t : {token, hex64}) {
    std::vector<std::string> extra = CreateArgs("app");
    extra.push_back(t);  // an argument CLI11 does not expect (its message would quote it)
    cases.push_back(extra);
    std::vector<std::string> option = CreateArgs("app");
    option.push_back("--token=" + t);
    cases.push_back(option);
    std::vector<std::string> separate = CreateArgs("app");
    separate.insert(separate.end(), {"--token", t});
    cases.push_back(separate);
    cases.push_back({"list", t});
    cases.push_back({"revoke", t});
    cases.push_back({"create", "--name", t, "--grant", "photos:read", "--region", "nyc3"});
  }
  for (const std::vector<std::string>& args : cases) {
    std::string shown;
    for (const std::string& a : args)
      shown += (a == token || a.find(hex64) != a.npos ? "TOKEN" : a) + " ";
    EXPECT_NE(Run(args), 0) << shown;
    EXPECT_EQ(std::count(stderr_.begin(), stderr_.end(), '\n'), 1) << shown << ": " << stderr_;
    EXPECT_NE(stderr_.find("never taken from the command line"), std::string::npos)
        << shown << ": " << stderr_;
    EXPECT_EQ(stderr_.find(hex64), std::string::npos) << shown;
    EXPECT_EQ(stdout_.find(hex64), std::string::npos) << shown;
    EXPECT_EQ(stdout_, "") << shown;
  }
  EXPECT_TRUE(Requests().empty());
  EXPECT_EQ(ReadAll(creds_), kExisting);
}

TEST_F(KeysDoTest, TokenFileWinsOverTheEnvironment) {
  // SetUp exported DIGITALOCEAN_TOKEN=dop_v1_testtoken123; the file named explicitly is used.
  const std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << "dop_v1_fromfile\n";
  ::chmod(token_file.c_str(), 0600);
  std::vector<std::string> args = CreateArgs("app");
  args.insert(args.end(), {"--token-file", token_file});
  ASSERT_EQ(Run(args), 0) << stderr_;
  ASSERT_EQ(Requests().size(), 1u);
  EXPECT_EQ(Requests().back()["headers"]["authorization"], "Bearer dop_v1_fromfile");
  // A token file that fails its checks is an error, not a fall back to the environment.
  ::chmod(token_file.c_str(), 0640);
  EXPECT_EQ(Run({"list", "--token-file", token_file}), 1);
  EXPECT_NE(stderr_.find("chmod 600"), std::string::npos) << stderr_;
  EXPECT_EQ(Requests().size(), 1u);
}

TEST_F(KeysDoTest, RotateWhoseNewKeyFailsVerificationPutsTheOldProfileBack) {
  WriteCredentials(kExisting);
  ASSERT_EQ(CreateAppOnTheMock(), 0) << stderr_;
  {
    std::ofstream(creds_, std::ios::app)
        << "\n# after app\n[zzz]\naccess_key_id = DO00ZZZ\n"
           "secret_access_key = zzzSecret\nregion = ams3\ngrant = zzz:read\n";
  }
  const std::string before = ReadAll(creds_);
  FailNext(403, {{"path", "/photos"}, {"count", 1000}});  // the new key's ListObjectsV2 is refused

  EXPECT_EQ(Run({"rotate", "app", "--credentials", creds_}), 1);
  EXPECT_EQ(std::count(stderr_.begin(), stderr_.end(), '\n'), 1) << stderr_;
  EXPECT_NE(stderr_.find("the new key of [app] does not work on photos"), std::string::npos)
      << stderr_;
  EXPECT_NE(stdout_.find("put the old key DO00MOCK00000001 back into [app]"), std::string::npos)
      << stdout_;
  EXPECT_NE(stdout_.find("revoked the new key DO00MOCK00000002 again"), std::string::npos)
      << stdout_;
  EXPECT_EQ((stdout_ + stderr_).find("mockSecret"), std::string::npos);

  // The file is exactly as before, still 0600, with no temporary file beside it.
  EXPECT_EQ(ReadAll(creds_), before);
  struct stat st;
  ASSERT_EQ(::stat(creds_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
  // Remotely: the new key was revoked, the old one was not.
  bool revoked_new = false;
  for (const json& r : Requests()) {
    if (r["method"] != "DELETE") continue;
    EXPECT_EQ(r["path"], "/v2/spaces/keys/DO00MOCK00000002");
    revoked_new = true;
  }
  EXPECT_TRUE(revoked_new);
  ASSERT_EQ(Run({"list"}), 0) << stderr_;
  EXPECT_NE(stdout_.find("\tDO00MOCK00000001\t"), std::string::npos) << stdout_;
  EXPECT_EQ(stdout_.find("DO00MOCK00000002"), std::string::npos) << stdout_;
}

TEST_F(KeysDoTest, RotateWhoseOldKeyCannotBeRevokedKeepsTheNewKeyAndSaysSo) {
  WriteCredentials(kExisting);
  ASSERT_EQ(CreateAppOnTheMock(), 0) << stderr_;
  FailNext(500, {{"method", "DELETE"}});

  EXPECT_EQ(Run({"rotate", "app", "--credentials", creds_}), 1);
  EXPECT_EQ(std::count(stderr_.begin(), stderr_.end(), '\n'), 1) << stderr_;
  EXPECT_NE(stderr_.find("the new key DO00MOCK00000002 is stored in [app] and works, but revoking "
                         "the old key failed (DigitalOcean API: DELETE "
                         "/v2/spaces/keys/DO00MOCK00000001: HTTP 500"),
            std::string::npos)
      << stderr_;
  EXPECT_NE(stderr_.find("revoke it by hand: spacesfs keys revoke DO00MOCK00000001\n"),
            std::string::npos)
      << stderr_;
  EXPECT_EQ((stdout_ + stderr_).find("mockSecret"), std::string::npos);
  EXPECT_EQ(stderr_.find("dop_v1_testtoken123"), std::string::npos);

  // The new key stays in the profile; both keys exist remotely.
  Result<auth::Profile> profile = auth::LoadProfile(creds_, "app", ::getuid());
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  EXPECT_EQ(profile->access_key_id, "DO00MOCK00000002");
  EXPECT_EQ(std::string(profile->secret_access_key.reveal()),
            "mockSecret2XyZ9+abcDEF/ghiJKL0123456789");
  EXPECT_TRUE(auth::LoadProfile(creds_, "other", ::getuid()).ok());
  struct stat st;
  ASSERT_EQ(::stat(creds_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(Run({"list"}), 0) << stderr_;
  EXPECT_NE(stdout_.find("\tDO00MOCK00000001\t"), std::string::npos) << stdout_;
  EXPECT_NE(stdout_.find("\tDO00MOCK00000002\t"), std::string::npos) << stdout_;
  // The command the message names does the job.
  ASSERT_EQ(Run({"revoke", "DO00MOCK00000001"}), 0) << stderr_;
  ASSERT_EQ(Run({"list"}), 0) << stderr_;
  EXPECT_EQ(stdout_.find("DO00MOCK00000001"), std::string::npos) << stdout_;
}

TEST(KeysCommand, UsageErrorsExitWithStatus2) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"create", "--name", "x"},  // no --grant
           {"create", "--name", "x", "--grant", "a:read", "--provider", "nope"},
           {"bogus"},
           {}}) {
    args.insert(args.begin(), {"spacesfs", "keys"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(cli::RunKeys(static_cast<int>(args.size()), argv.data()), 2) << args.size();
  }
}

TEST(KeysCredentialStore, ReplaceSectionKeepsNeighboursAndComments) {
  const std::string text =
      "; top\n[a]\nx = 1\n\n# about b\n[b]\ny = 2\n[c]\nz = 3\n";
  bool found = false;
  EXPECT_EQ(ReplaceSection(text, "b", "[b]\nnew = 1\n", &found),
            "; top\n[a]\nx = 1\n\n# about b\n[b]\nnew = 1\n\n[c]\nz = 3\n");
  EXPECT_TRUE(found);
  EXPECT_EQ(ReplaceSection(text, "a", "[a]\nq = 1\n", &found),
            "; top\n[a]\nq = 1\n\n# about b\n[b]\ny = 2\n[c]\nz = 3\n");
  EXPECT_EQ(ReplaceSection(text, "d", "[d]\n", &found), text + "\n[d]\n");
  EXPECT_FALSE(found);
  EXPECT_EQ(ReplaceSection("", "d", "[d]\n", &found), "[d]\n");
}

TEST(KeysDigitalOcean, CreateBodyMergesGrantsPerBucket) {
  std::vector<auth::Grant> grants = {
      *auth::ParseGrant("bbb/x/:read"), *auth::ParseGrant("bbb:readwrite-nodelete"),
      *auth::ParseGrant("ccc:fullaccess"), *auth::ParseGrant("ccc/x/:read")};
  // DigitalOcean's fullaccess means every bucket ("bucket": ""): a per-Space fullaccess is minted
  // as readwrite on that Space.
  EXPECT_EQ(json::parse(DigitalOceanProvider::CreateBody("k", grants)),
            json::parse(R"({"name":"k","grants":[{"bucket":"bbb","permission":"readwrite"},
                            {"bucket":"ccc","permission":"readwrite"}]})"));
}

TEST(KeysDigitalOcean, TokenShapesAreRecognised) {
  const std::string hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  for (const std::string& token : {"dop_v1_" + hex64, "doo_v1_" + hex64, "dor_v1_" + hex64, hex64,
                                   "--x=dop_v1_" + hex64, "Bearer dop_v1_" + hex64.substr(0, 40)}) {
    EXPECT_TRUE(LooksLikeDigitalOceanToken(token)) << token;
  }
  for (const std::string& other :
       {std::string("photos:read"), std::string("DO00MOCK00000001"), std::string("dop_v1_short"),
        hex64.substr(0, 63), "dop_v1_" + hex64.substr(0, 31), std::string("/tmp/do/v1/x"),
        std::string("laptop-20261129033302")}) {
    EXPECT_FALSE(LooksLikeDigitalOceanToken(other)) << other;
  }
}

}  // namespace
}  // namespace spacesfs::keys

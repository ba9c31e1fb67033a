// Credential files on disk: ownership, mode, symlinks, secret_file, systemd credentials, LoadProfile.
// Runs as root (chown to nobody needs it); skipped otherwise.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "auth/credentials.h"

namespace spacesfs::auth {
namespace {

constexpr uid_t kNobody = 65534;
constexpr char kSecret[] = "Q7vRk2LmZx9TbW4sYp1NcE8uHa3JdF6gKo5iVe0q";

class CredentialsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown test files";
    char tmpl[] = "/tmp/spacesfs-cred-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  // Writes `text` to dir_/name with the given mode and owner; returns the path.
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0600,
                    uid_t owner = 0) {
    std::string path = dir_ + "/" + name;
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << text;
    }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_EQ(::chown(path.c_str(), owner, static_cast<gid_t>(-1)), 0);
    return path;
  }

  std::string Profile1(const std::string& secret_line) {
    return "[photos-ro]\naccess_key_id = DO00EXAMPLE\n" + secret_line +
           "\nregion = nyc3\ngrant = photos:read\n";
  }

  std::string dir_;
};

TEST_F(CredentialsFileTest, LoadsInlineProfile) {
  std::string path =
      Write("credentials", Profile1("secret_access_key = " + std::string(kSecret)) +
                               "[other]\naccess_key_id = X\nsecret_access_key = Y\n"
                               "endpoint = http://localhost:7480\ngrant = abc:readwrite\n");
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "photos-ro");
  EXPECT_EQ(p->access_key_id, "DO00EXAMPLE");
  EXPECT_EQ(p->secret_access_key.reveal(), kSecret);
  EXPECT_EQ(p->source_file, path);
  Result<Profile> other = LoadProfile(path, "other", 0, std::nullopt);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_TRUE(other->path_style);
  EXPECT_EQ(other->region, "us-east-1");
}

TEST_F(CredentialsFileTest, UserOwnedFileForThatUser) {
  std::string path = Write("credentials", Profile1("secret_access_key = S"), 0600, kNobody);
  EXPECT_TRUE(LoadProfile(path, "photos-ro", kNobody, std::nullopt).ok());
  // ... and refused when root is expected.
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kConfig);
  EXPECT_EQ(p.status().message(),
            path + ": owned by uid 65534, expected uid 0; run: chown 0 " + path);
}

TEST_F(CredentialsFileTest, GroupOrOtherBitsRefused) {
  struct Case {
    mode_t mode;
    std::string what;
  };
  for (const Case& c : {Case{0644, "mode 0644 lets group/others read secrets"},
                        Case{0640, "mode 0640 lets group/others read secrets"},
                        Case{0604, "mode 0604 lets group/others read secrets"},
                        Case{0620, "mode 0620 lets group/others modify it"},
                        Case{0602, "mode 0602 lets group/others modify it"},
                        Case{0610, "mode 0610 gives group/others access"},
                        Case{0666, "mode 0666 lets group/others read secrets"}}) {
    std::string path = Write("credentials", Profile1("secret_access_key = S"), c.mode);
    Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), ErrorCode::kConfig);
    EXPECT_EQ(p.status().message(), path + ": " + c.what + "; run: chmod 600 " + path);
  }
  // Owner-only modes other than 0600 are fine.
  for (mode_t mode : {0400, 0600, 0700}) {
    std::string path = Write("credentials", Profile1("secret_access_key = S"), mode);
    EXPECT_TRUE(LoadProfile(path, "photos-ro", 0, std::nullopt).ok()) << std::oct << mode;
  }
}

TEST_F(CredentialsFileTest, WrongOwnerAndModeGivesBothFixesOnOneLine) {
  std::string path = Write("credentials", Profile1("secret_access_key = S"), 0644, kNobody);
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), path + ": owned by uid 65534, expected uid 0; run: chown 0 " +
                                      path + " && chmod 600 " + path);
  EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
}

TEST_F(CredentialsFileTest, SymlinkRefusedEvenToASafeFile) {
  std::string target = Write("real", Profile1("secret_access_key = S"));
  std::string link = dir_ + "/credentials";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  Result<Profile> p = LoadProfile(link, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kConfig);
  EXPECT_EQ(p.status().message(),
            link + ": is a symbolic link, which is refused for credential files; replace it with "
                   "the file itself: run: cp --remove-destination \"$(readlink -f " +
                link + ")\" " + link);
}

TEST_F(CredentialsFileTest, NonRegularFilesRefused) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<Profile> p = LoadProfile(fifo, "x", 0, std::nullopt);  // must not block
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            fifo + ": is a FIFO; credential files must be regular files with mode 0600");
  Result<Profile> d = LoadProfile(dir_, "x", 0, std::nullopt);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            dir_ + ": is a directory; credential files must be regular files with mode 0600");
}

TEST_F(CredentialsFileTest, MissingFileAndMissingProfile) {
  std::string missing = dir_ + "/nope";
  Result<Profile> p = LoadProfile(missing, "x", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(p.status().message(),
            missing + ": no such file; create it: run: install -D -m 600 /dev/null " + missing);

  std::string path = Write("credentials", Profile1("secret_access_key = S"));
  Result<Profile> q = LoadProfile(path, "videos", 0, std::nullopt);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(q.status().message(), path + ": no profile [videos] (profiles: photos-ro)");
}

TEST_F(CredentialsFileTest, PathWithSpacesIsQuotedInTheFix) {
  std::string path = Write("my creds", Profile1("secret_access_key = S"), 0644);
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            path + ": mode 0644 lets group/others read secrets; run: chmod 600 '" + path + "'");
}

TEST_F(CredentialsFileTest, ParseErrorNamesFileAndLine) {
  std::string path =
      Write("credentials", "[photos-ro]\nacess_key_id = DO00EXAMPLE\nsecret_access_key = " +
                               std::string(kSecret) + "\n");
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), path + ":2: unknown key 'acess_key_id' in [photos-ro]");
}

TEST_F(CredentialsFileTest, TooLargeFileRefused) {
  std::string path = Write("credentials", std::string(kMaxCredentialFileSize + 10, '#'));
  Result<Profile> p = LoadProfile(path, "x", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), path + ": larger than 1048576 bytes; not a credential file");
}

TEST_F(CredentialsFileTest, SecretFile) {
  std::string key = Write("key", std::string(kSecret) + "\n");
  std::string path = Write("credentials", Profile1("secret_file = " + key));
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->secret_source, SecretSource::kFile);
  EXPECT_EQ(p->secret_access_key.reveal(), kSecret);  // trailing newline dropped

  // The secret file follows the same rules, and its contents never reach the message.
  Write("key", std::string(kSecret) + "\n", 0644);
  Result<Profile> q = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), path + ":1: [photos-ro]: " + key +
                                      ": mode 0644 lets group/others read secrets; run: chmod "
                                      "600 " + key);

  Write("key", "two words\n");
  Result<Profile> r = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            path + ":1: [photos-ro]: " + key +
                ": secret contains spaces, control characters or more than one line");
  EXPECT_EQ(r.status().message().find("words"), std::string::npos);

  Write("key", "\n");
  Result<Profile> e = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), path + ":1: [photos-ro]: " + key + ": secret is empty");

  std::string link = dir_ + "/keylink";
  Write("key", kSecret);
  ASSERT_EQ(::symlink(key.c_str(), link.c_str()), 0);
  std::string via_link = Write("credentials2", Profile1("secret_file = " + link));
  Result<Profile> l = LoadProfile(via_link, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find(link + ": is a symbolic link"), std::string::npos)
      << l.status().message();
}

TEST_F(CredentialsFileTest, SystemdCredential) {
  ASSERT_EQ(::mkdir((dir_ + "/creds").c_str(), 0500), 0);
  std::string cred_dir = dir_ + "/creds";
  Write("creds/spaces-secret", kSecret, 0400);
  std::string path = Write("credentials", Profile1("secret_credential = spaces-secret"));

  Result<Profile> p = LoadProfile(path, "photos-ro", 0, cred_dir);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->secret_source, SecretSource::kSystemdCredential);
  EXPECT_EQ(p->secret_access_key.reveal(), kSecret);

  // From the environment, as systemd passes it.
  ASSERT_EQ(::setenv("CREDENTIALS_DIRECTORY", cred_dir.c_str(), 1), 0);
  Result<Profile> env = LoadProfile(path, "photos-ro", 0);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->secret_access_key.reveal(), kSecret);
  ASSERT_EQ(::unsetenv("CREDENTIALS_DIRECTORY"), 0);

  Result<Profile> unset = LoadProfile(path, "photos-ro", 0);
  ASSERT_FALSE(unset.ok());
  EXPECT_EQ(unset.status().message(),
            path + ":1: [photos-ro] uses secret_credential = spaces-secret but "
                   "$CREDENTIALS_DIRECTORY is not set (systemd sets it for units with "
                   "LoadCredential=spaces-secret)");

  Result<Profile> missing = LoadProfile(path, "photos-ro", 0, dir_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
}

TEST_F(CredentialsFileTest, SecretNeverInFileErrors) {
  const std::vector<std::string> texts = {
      Profile1("secret_access_key = " + std::string(kSecret)) + "bogus line\n",
      "[photos-ro]\nsecret_access_key = " + std::string(kSecret) + "\n",
      Profile1("secret_access_key = " + std::string(kSecret)) + "secret_access_key = " +
          std::string(kSecret) + "\n",
  };
  for (const std::string& text : texts) {
    std::string path = Write("credentials", text);
    Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().ToString().find(kSecret), std::string::npos) << p.status().ToString();
  }
  std::string path = Write("credentials", Profile1("secret_access_key = " + std::string(kSecret)),
                           0644, kNobody);
  Result<Profile> p = LoadProfile(path, "photos-ro", 0, std::nullopt);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().ToString().find(kSecret), std::string::npos);
}

TEST_F(CredentialsFileTest, CheckSafetyOnAnOpenFd) {
  std::string path = Write("credentials", "x", 0600);
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(CheckCredentialFileSafety(fd, path, 0).ok());
  // The check is on the opened file: changing the mode afterwards is seen through the fd.
  ASSERT_EQ(::fchmod(fd, 0640), 0);
  Status s = CheckCredentialFileSafety(fd, path, 0);
  EXPECT_EQ(s.message(), path + ": mode 0640 lets group/others read secrets; run: chmod 600 " + path);
  EXPECT_EQ(CheckCredentialFileSafety(fd, path, 1000).message(),
            path + ": owned by uid 0, expected uid 1000; run: chown 1000 " + path +
                " && chmod 600 " + path);
  ::close(fd);
}

TEST(CredentialPathTest, DefaultLocations) {
  EXPECT_EQ(DefaultCredentialPath(0, "/root"), "/etc/spacesfs/credentials");
  EXPECT_EQ(DefaultCredentialPath(1000, "/home/alice"),
            "/home/alice/.config/spacesfs/credentials");
  EXPECT_EQ(DefaultCredentialPath(1000, "/home/alice/"),
            "/home/alice/.config/spacesfs/credentials");
}

}  // namespace
}  // namespace spacesfs::auth

// Secrets on the command line or in mount options are refused, without echoing them.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "auth/secret_options.h"

namespace spacesfs::auth {
namespace {

constexpr char kPath[] = "/etc/spacesfs/credentials";
constexpr char kRandom[] = "YR3ycQPtg/qhmoSN86b4yoaNwyN+WfeS9VdlKEcU";  // openssl rand -base64 30
// The shape of a DigitalOcean API token (not a real one): "_" fails LooksLikeSecret's alphabet.
constexpr char kDoToken[] = "dop_v1_3f9a0c6be2d14f7a8b5c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";
constexpr char kAdvice[] =
    "secrets must not be passed as arguments or mount options (they are visible in ps and /proc); "
    "put secret_access_key = ... in the profile's section of /etc/spacesfs/credentials (mode "
    "0600) instead";

TEST(SecretOptionsTest, SecretOptionNames) {
  for (const char* name : {"secret", "secret_key", "secret_access_key", "aws_secret_access_key",
                           "password", "passwd", "token", "session_token", "aws_session_token",
                           "Secret-Access-Key", "--secret-access-key", "my_secret", "dbpassword",
                           "AWS_SESSION_TOKEN"}) {
    EXPECT_TRUE(IsSecretOptionName(name)) << name;
  }
  for (const char* name : {"profile", "credentials", "ro", "allow_other", "secret_file",
                           "secret-credential", "token_path", "access_key_id", "endpoint", ""}) {
    EXPECT_FALSE(IsSecretOptionName(name)) << name;
  }
}

TEST(SecretOptionsTest, LooksLikeSecret) {
  EXPECT_TRUE(LooksLikeSecret(kRandom));
  EXPECT_TRUE(LooksLikeSecret("Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="));
  for (const char* value :
       {"DO00EXAMPLEACCESSKEY", "/home/alice/Photos2024/MyAlbumsBackup1", "photos-ro",
        "mnt/Photos2024/AlbumsNew/Backup1", "https://nyc3.digitaloceanspaces.com",
        "ThisIsAVeryLongCamelCaseWordWithDigits123", "allow_other,default_permissions",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "/srv/Backups/DB2024/Dumps/Nightly3",
        "MyPhotoLibraryArchiveFromHolidays2023"}) {
    EXPECT_FALSE(LooksLikeSecret(value)) << value;
  }
}

TEST(SecretOptionsTest, CatchesAlmostAllRandomSecrets) {
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> pick(0, 63);
  for (size_t length : {40u, 43u}) {  // AWS and DigitalOcean secret key lengths
    int caught = 0;
    for (int i = 0; i < 1000; ++i) {
      std::string s;
      for (size_t j = 0; j < length; ++j) s += alphabet[pick(rng)];
      caught += LooksLikeSecret(s) ? 1 : 0;
    }
    EXPECT_GE(caught, 980) << length;
  }
}

TEST(SecretOptionsTest, MountOptions) {
  EXPECT_TRUE(RefuseSecretInOptions("ro,profile=photos-ro,allow_other", kPath).ok());
  EXPECT_TRUE(RefuseSecretInOptions("", kPath).ok());

  Status s = RefuseSecretInOptions("ro,secret_access_key=" + std::string(kRandom), kPath);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "mount option 'secret_access_key' would carry a secret; " + std::string(kAdvice));

  Status p = RefuseSecretInOptions("password=hunter2", kPath);
  EXPECT_EQ(p.message(), "mount option 'password' would carry a secret; " + std::string(kAdvice));
  EXPECT_EQ(p.message().find("hunter2"), std::string::npos);

  Status v = RefuseSecretInOptions("ro,key=" + std::string(kRandom), kPath);
  EXPECT_EQ(v.message(), "mount option 'key' has a value that looks like a secret key; " +
                             std::string(kAdvice));

  Status bare = RefuseSecretInOptions(std::string("ro,") + kRandom, kPath);
  EXPECT_EQ(bare.message(), "mount option looks like a secret key; " + std::string(kAdvice));
}

TEST(SecretOptionsTest, CommandLine) {
  EXPECT_TRUE(RefuseSecretInArgs({"--profile", "photos-ro", "photos", "/mnt/photos", "-o",
                                  "ro,allow_other", "--foreground"},
                                 kPath)
                  .ok());
  struct Case {
    std::vector<std::string> args;
    std::string what;
  };
  const std::string user_path = "/home/alice/.config/spacesfs/credentials";
  for (const Case& c : {
           Case{{"--secret-access-key", kRandom, "photos", "/mnt"},
                "option '--secret-access-key' would carry a secret"},
           Case{{"--secret-access-key=" + std::string(kRandom), "photos", "/mnt"},
                "option 'secret-access-key' would carry a secret"},
           Case{{"--aws_secret_access_key=x"}, "option 'aws_secret_access_key' would carry a secret"},
           Case{{"--password", "x"}, "option '--password' would carry a secret"},
           Case{{"photos", "/mnt", "-o", "ro,secret=x"},
                "mount option 'secret' would carry a secret"},
           Case{{"photos", "/mnt", "-osecret_key=x"},
                "mount option 'secret_key' would carry a secret"},
           Case{{"--access-key=" + std::string(kRandom)},
                "option 'access-key' has a value that looks like a secret key"},
           Case{{"photos", kRandom, "/mnt"}, "argument 2 looks like a secret key"},
           Case{{"photos", "/mnt", kDoToken}, "argument 3 looks like a DigitalOcean API token"},
           Case{{"photos", "/mnt", "-o", std::string("fsname=") + kDoToken},
                "mount option 'fsname' has a value that looks like a DigitalOcean API token"},
           Case{{"photos", "/mnt", "-o", std::string("ro,") + kDoToken},
                "mount option looks like a DigitalOcean API token"},
           Case{{std::string("--profile=") + kDoToken},
                "option 'profile' has a value that looks like a DigitalOcean API token"},
       }) {
    Status s = RefuseSecretInArgs(c.args, user_path);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.message().substr(0, c.what.size() + 2), c.what + "; ") << s.message();
    EXPECT_NE(s.message().find(user_path), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(kRandom), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(kDoToken), std::string::npos) << s.message();
  }
}

// What LooksLikeSecret lets through (no capitals side by side) is still kept out of a usage error.
TEST(SecretOptionsTest, UsageErrorsDoNotRepeatWhatMayBeASecret) {
  const std::string escaped = "q8x2m4k7a9w1e5r3t6y0u8i2o4p7s1d3f5g7h9j0";
  ASSERT_FALSE(LooksLikeSecret(escaped));
  EXPECT_TRUE(MayBeSecret(escaped));
  EXPECT_TRUE(MayBeSecret(kRandom));
  EXPECT_FALSE(MayBeSecret("team-a"));
  EXPECT_FALSE(MayBeSecret("/home/alice/Photos-2024/MyAlbumsBackup1"));  // '-' is not base64
  EXPECT_FALSE(MayBeSecret("q8x2m4k7a9w1e5r3t6y0u8i2o4p7s"));              // 29 characters

  bool redacted = true;
  EXPECT_EQ(RedactPossibleSecrets("The following argument was not expected: team-b",
                                  {"team-a", "team-b"}, &redacted),
            "The following argument was not expected: team-b");
  EXPECT_FALSE(redacted);

  EXPECT_EQ(RedactPossibleSecrets("The following argument was not expected: " + escaped,
                                  {"team-a", escaped}, &redacted),
            "The following argument was not expected: (40 characters, not shown)");
  EXPECT_TRUE(redacted);

  // A piece of an argument: an option's value, an item of an option list.
  const std::string quoted = "--endpoint: " + escaped + " is not a URL; ro," + escaped;
  const std::string out =
      RedactPossibleSecrets(quoted, {"--endpoint=" + escaped, "-o", "ro," + escaped}, &redacted);
  EXPECT_TRUE(redacted);
  EXPECT_EQ(out.find(escaped), std::string::npos) << out;
  EXPECT_EQ(out, "--endpoint: (40 characters, not shown) is not a URL; ro,(40 characters, not shown)");
}

}  // namespace
}  // namespace spacesfs::auth

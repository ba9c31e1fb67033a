// ParseCredentials: every accepted form, and every kind of malformed file with its exact message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth/credentials.h"

namespace spacesfs::auth {
namespace {

constexpr char kFile[] = "/etc/spacesfs/credentials";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

std::vector<Profile> ParseOk(const std::string& text) {
  Result<std::vector<Profile>> r = ParseCredentials(text, kFile);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return std::move(r).value();
}

std::string ParseError(const std::string& text) {
  Result<std::vector<Profile>> r = ParseCredentials(text, kFile);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "(parsed)";
  EXPECT_EQ(r.status().code(), ErrorCode::kConfig);
  return r.status().message();
}

TEST(CredentialsParseTest, FullFileWithEveryForm) {
  const std::string text =
      "# spacesfs credentials\n"
      "; another comment style\n"
      "\n"
      "[photos-ro]\n"
      "access_key_id = DO00EXAMPLE\n"
      "secret_access_key = " + std::string(kSecret) + "\n"
      "region = nyc3\n"
      "grant = photos:read\n"
      "grant = backups/db/:readwrite-nodelete   # inline hash comment\n"
      "grant = logs/app:append-only @ops ; inline semicolon comment\n"
      "\n"
      "[local]\n"
      "  access_key_id: LOCALKEY\n"          // indented, and ':' as separator
      "\tsecret_file = /run/keys/local.key\n"
      "endpoint = http://127.0.0.1:7480/\n"
      "session_token = FQoGZXIvYXdzEXAMPLETOKEN\n"
      "grant = team/My Album/:fullaccess alice\n"
      "grant = team:read\n"
      "\n"
      "[systemd.cred_1]\n"
      "access_key_id = SYSKEY\n"
      "secret_credential = spaces-secret\n"
      "region = ams3\n"
      "endpoint = https://ams3.example.net\n"
      "grant = data/:readwrite @staff\n";
  std::vector<Profile> profiles = ParseOk(text);
  ASSERT_EQ(profiles.size(), 3u);

  const Profile& a = profiles[0];
  EXPECT_EQ(a.name, "photos-ro");
  EXPECT_EQ(a.line, 4);
  EXPECT_EQ(a.source_file, kFile);
  EXPECT_EQ(a.access_key_id, "DO00EXAMPLE");
  EXPECT_EQ(a.secret_source, SecretSource::kInline);
  EXPECT_EQ(a.secret_access_key.reveal(), kSecret);
  EXPECT_TRUE(a.session_token.empty());
  EXPECT_EQ(a.region, "nyc3");
  EXPECT_EQ(a.endpoint, "https://nyc3.digitaloceanspaces.com");
  EXPECT_FALSE(a.path_style);
  ASSERT_EQ(a.grants.size(), 3u);
  EXPECT_EQ(a.grants[0], (Grant{"photos", "", Permission::kRead, "", false}));
  EXPECT_EQ(a.grants[1], (Grant{"backups", "db/", Permission::kReadWriteNoDelete, "", false}));
  EXPECT_EQ(a.grants[2], (Grant{"logs", "app/", Permission::kAppendOnly, "ops", true}));

  const Profile& b = profiles[1];
  EXPECT_EQ(b.name, "local");
  EXPECT_EQ(b.access_key_id, "LOCALKEY");
  EXPECT_EQ(b.secret_source, SecretSource::kFile);
  EXPECT_EQ(b.secret_reference, "/run/keys/local.key");
  EXPECT_TRUE(b.secret_access_key.empty());
  EXPECT_EQ(b.session_token.reveal(), "FQoGZXIvYXdzEXAMPLETOKEN");
  EXPECT_EQ(b.endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(b.region, "us-east-1");
  EXPECT_TRUE(b.path_style);
  ASSERT_EQ(b.grants.size(), 2u);
  EXPECT_EQ(b.grants[0], (Grant{"team", "My Album/", Permission::kFullAccess, "alice", false}));
  EXPECT_EQ(b.grants[1], (Grant{"team", "", Permission::kRead, "", false}));

  const Profile& c = profiles[2];
  EXPECT_EQ(c.name, "systemd.cred_1");
  EXPECT_EQ(c.secret_source, SecretSource::kSystemdCredential);
  EXPECT_EQ(c.secret_reference, "spaces-secret");
  EXPECT_EQ(c.region, "ams3");
  EXPECT_EQ(c.endpoint, "https://ams3.example.net");
  EXPECT_FALSE(c.path_style);
}

TEST(CredentialsParseTest, CrLfBomAndNoFinalNewline) {
  std::vector<Profile> p = ParseOk(
      "\xEF\xBB\xBF[p]\r\naccess_key_id = K\r\nsecret_access_key = S\r\nregion = sfo3\r\n"
      "grant = space1:read");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].access_key_id, "K");
  EXPECT_EQ(p[0].secret_access_key.reveal(), "S");
  EXPECT_EQ(p[0].region, "sfo3");
  ASSERT_EQ(p[0].grants.size(), 1u);
  EXPECT_EQ(p[0].grants[0].space, "space1");
}

TEST(CredentialsParseTest, EmptyFileHasNoProfiles) {
  EXPECT_TRUE(ParseOk("").empty());
  EXPECT_TRUE(ParseOk("# nothing here\n\n").empty());
}

TEST(CredentialsParseTest, RepeatedGrantLinesAllCount) {
  std::string text = "[p]\naccess_key_id = K\nsecret_access_key = S\nregion = nyc3\n";
  for (int i = 0; i < 20; ++i) text += "grant = space" + std::to_string(100 + i) + ":read\n";
  std::vector<Profile> p = ParseOk(text);
  ASSERT_EQ(p.size(), 1u);
  ASSERT_EQ(p[0].grants.size(), 20u);
  EXPECT_EQ(p[0].grants[19].space, "space119");
}

TEST(CredentialsParseTest, IndentedLineIsAKeyNotAContinuation) {
  // With inih's multi-line mode an indented line would extend the previous value.
  std::vector<Profile> p = ParseOk(
      "[p]\naccess_key_id = K\n    secret_access_key = S\n    region = nyc3\n    grant = abc:read\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].access_key_id, "K");
  EXPECT_EQ(p[0].secret_access_key.reveal(), "S");
  EXPECT_EQ(p[0].region, "nyc3");
}

TEST(CredentialsParseTest, LongValuesAreNotCut) {
  // Longer than inih's 200-byte line buffer.
  const std::string token(1500, 'T');
  const std::string secret = "A1b2" + std::string(300, 'x');
  std::vector<Profile> p =
      ParseOk("[p]\naccess_key_id = K\nsecret_access_key = " + secret + "\nsession_token = " +
              token + "   # comment\nregion = nyc3\ngrant = abc/" + std::string(250, 'd') +
              "/:read\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].session_token.reveal(), token);
  EXPECT_EQ(p[0].secret_access_key.reveal(), secret);
  EXPECT_EQ(p[0].grants[0].prefix, std::string(250, 'd') + "/");
}

TEST(CredentialsParseTest, SemicolonOrHashWithoutSpaceIsPartOfTheValue) {
  std::vector<Profile> p =
      ParseOk("[p]\naccess_key_id = K#1;2\nsecret_access_key = S;x#y\nregion = nyc3\n"
              "grant = abc:read\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].access_key_id, "K#1;2");
  EXPECT_EQ(p[0].secret_access_key.reveal(), "S;x#y");
}

const char kGood[] =
    "[p]\n"                  // 1
    "access_key_id = K\n"    // 2
    "secret_access_key = S\n"  // 3
    "region = nyc3\n"        // 4
    "grant = abc:read\n";    // 5

struct BadCase {
  const char* name;
  std::string text;
  std::string message;
};

class CredentialsParseErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(CredentialsParseErrorTest, ExactMessage) {
  EXPECT_EQ(ParseError(GetParam().text), std::string(kFile) + ":" + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    All, CredentialsParseErrorTest,
    ::testing::Values(
        BadCase{"UnknownKey", "[photos-ro]\naccess_key_id = K\nacess_key_id = K\n",
                "3: unknown key 'acess_key_id' in [photos-ro]"},
        BadCase{"MalformedLine", std::string(kGood) + "this is not a key value line\n",
                "6: malformed line (expected 'key = value', '[profile]' or a comment)"},
        BadCase{"KeyWithSpaces", std::string(kGood) + "access key = K\n",
                "6: malformed line (expected 'key = value', '[profile]' or a comment)"},
        BadCase{"KeyOutsideSection", "region = nyc3\n" + std::string(kGood),
                "1: key 'region' outside any [profile] section"},
        BadCase{"DuplicateKey", std::string(kGood) + "region = ams3\n",
                "6: duplicate key 'region' in [p] (first at line 4)"},
        BadCase{"DuplicateAccessKey", std::string(kGood) + "access_key_id = K2\n",
                "6: duplicate key 'access_key_id' in [p] (first at line 2)"},
        BadCase{"TwoSecretSources", std::string(kGood) + "secret_file = /k\n",
                "6: more than one secret in [p] (secret_file here, secret_access_key at line 3); "
                "keep exactly one of secret_access_key, secret_file, secret_credential"},
        BadCase{"TwoInlineSecrets", std::string(kGood) + "secret_access_key = T\n",
                "6: more than one secret in [p] (secret_access_key here, secret_access_key at "
                "line 3); keep exactly one of secret_access_key, secret_file, secret_credential"},
        BadCase{"NoAccessKey", "[p]\nsecret_access_key = S\nregion = nyc3\ngrant = abc:read\n",
                "1: profile [p] has no access_key_id"},
        BadCase{"NoSecret", "# x\n[p]\naccess_key_id = K\nregion = nyc3\ngrant = abc:read\n",
                "2: profile [p] has no secret; add one of secret_access_key, secret_file, "
                "secret_credential"},
        BadCase{"NoRegionOrEndpoint",
                "[p]\naccess_key_id = K\nsecret_access_key = S\ngrant = abc:read\n",
                "1: profile [p] has neither region nor endpoint"},
        BadCase{"NoGrant", "[p]\naccess_key_id = K\nsecret_access_key = S\nregion = nyc3\n",
                "1: profile [p] has no grant; add e.g. 'grant = SPACE:read'"},
        BadCase{"EmptyProfileSection", std::string(kGood) + "[empty]\n",
                "6: profile [empty] has no access_key_id"},
        BadCase{"BadPermission", std::string(kGood) + "grant = abc:write\n",
                "6: grant 'abc:write': unknown permission 'write' (use read, readwrite, "
                "fullaccess, readwrite-nodelete or append-only) in [p]"},
        BadCase{"GrantWithoutPermission", std::string(kGood) + "grant = abc\n",
                "6: grant 'abc' has no ':PERMISSION' (expected SPACE[/PREFIX]:PERMISSION "
                "[USER|@GROUP]) in [p]"},
        BadCase{"GrantBadSpace", std::string(kGood) + "grant = ABC:read\n",
                "6: grant 'ABC:read': Space name 'ABC' may only contain lower-case letters, "
                "digits, '.' and '-' in [p]"},
        BadCase{"GrantDotDot", std::string(kGood) + "grant = abc/a/../b:read\n",
                "6: grant 'abc/a/../b:read': prefix must not contain a '..' component in [p]"},
        BadCase{"GrantLeadingSlash", std::string(kGood) + "grant = abc//x:read\n",
                "6: grant 'abc//x:read': prefix must not start with '/' in [p]"},
        BadCase{"MalformedSection", "[p\n", "1: malformed section header (expected [profile-name])"},
        BadCase{"TextAfterSection", "[p] x\n", "1: unexpected text after [p]"},
        BadCase{"BadProfileName", "[my profile]\n",
                "1: invalid profile name [my profile] (use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit)"},
        BadCase{"DuplicateProfile", std::string(kGood) + "[p]\n",
                "6: profile [p] defined twice (first at line 1)"},
        BadCase{"BadEndpoint", std::string(kGood) + "endpoint = ftp://x\n",
                "6: endpoint must look like https://host[:port] or http://host[:port] (no path, "
                "query or user:password@) in [p]"},
        BadCase{"EndpointWithPath", std::string(kGood) + "endpoint = https://h.example/x\n",
                "6: endpoint must look like https://host[:port] or http://host[:port] (no path, "
                "query or user:password@) in [p]"},
        BadCase{"EndpointBadPort", std::string(kGood) + "endpoint = http://h:99999\n",
                "6: endpoint must look like https://host[:port] or http://host[:port] (no path, "
                "query or user:password@) in [p]"},
        BadCase{"BadRegion", "[p]\naccess_key_id = K\nregion = NYC 3\n",
                "3: invalid region 'NYC 3' in [p] (expected a name like nyc3 or us-east-1)"},
        BadCase{"EmptyValue", "[p]\naccess_key_id =\n", "2: empty access_key_id in [p]"},
        BadCase{"RelativeSecretFile", "[p]\nsecret_file = keys/k\n",
                "2: secret_file in [p] must be an absolute path"},
        BadCase{"RelativeCaBundle", std::string(kGood) + "ca_bundle = certs/ca.pem\n",
                "6: ca_bundle in [p] must be an absolute path without spaces"},
        BadCase{"CaBundleForAPlainHttpEndpoint",
                "[p]\naccess_key_id = K\nsecret_access_key = S\nendpoint = http://127.0.0.1:7480\n"
                "ca_bundle = /etc/ssl/ca.pem\ngrant = abc:read\n",
                "5: ca_bundle in [p] needs an https endpoint"},
        BadCase{"DuplicateCaBundle",
                std::string(kGood) + "ca_bundle = /a.pem\nca_bundle = /b.pem\n",
                "7: duplicate key 'ca_bundle' in [p] (first at line 6)"},
        BadCase{"CredentialNameWithSlash", "[p]\nsecret_credential = ../x\n",
                "2: secret_credential in [p] must be a credential name without '/'"},
        BadCase{"ControlCharacter", std::string(kGood) + "grant = abc:read\x01\n",
                "6: control character in file"},
        BadCase{"NulByte", std::string(kGood) + std::string("x\0y\n", 4),
                "6: control character in file"},
        BadCase{"FirstErrorByLineWins", "[p]\nbogus\nunknown = 1\n",
                "2: malformed line (expected 'key = value', '[profile]' or a comment)"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(CredentialsParseTest, CaBundleNamesTheAuthoritiesOfAnHttpsEndpoint) {
  std::vector<Profile> profiles = ParseOk(
      "[private]\naccess_key_id = K\nsecret_access_key = S\n"
      "endpoint = https://rgw.internal.example:8443\nca_bundle = /etc/spacesfs/internal-ca.pem\n"
      "grant = abc:read\n"
      "[region-only]\naccess_key_id = K\nsecret_access_key = S\nregion = nyc3\n"
      "ca_bundle = /etc/ssl/extra.pem\ngrant = abc:read\n"
      "[plain]\naccess_key_id = K\nsecret_access_key = S\nregion = nyc3\ngrant = abc:read\n");
  ASSERT_EQ(profiles.size(), 3u);
  EXPECT_EQ(profiles[0].ca_bundle, "/etc/spacesfs/internal-ca.pem");
  EXPECT_EQ(profiles[1].ca_bundle, "/etc/ssl/extra.pem");  // the region's https endpoint
  EXPECT_EQ(profiles[2].ca_bundle, "");
}

TEST(CredentialsParseTest, SecretsNeverAppearInErrors) {
  const std::string s = "Zq9SECRETvalue7Xk2";
  const std::vector<std::string> bad_files = {
      "[p]\nsecret_access_key = " + s + " extra\n",                 // space inside the secret
      "[p]\nsecret_access_key = " + s + "\nsecret_access_key = " + s + "\n",
      "[p]\nsecret_acess_key = " + s + "\n",                         // misspelt key
      "[p]\nsecret_access_key " + s + "\n",                          // no '='
      "[p]\nsecret_access_key = " + s + "\n",                        // missing key id
      "[p]\nsession_token = " + s + " x\n",
      "[p]\nsession_token = " + s + "\nsession_token = " + s + "\n",
      "[p]\naws_secret_access_key = " + s + "\n",
      "secret_access_key = " + s + "\n",                             // outside a section
      "[p]\nsecret_access_key = " + s + std::string(300, 'x') + " y\n",
      "[p]\nsecret_file = " + s + "\n",
      "[p]\nendpoint = https://key:" + s + "@host.example\n",
      "[p]\nsecret_access_key = " + s + "\n[p]\n",
  };
  for (const std::string& text : bad_files) {
    std::string message = ParseError(text);
    EXPECT_EQ(message.find(s), std::string::npos) << message;
    EXPECT_EQ(message.find("SECRET"), std::string::npos) << message;
  }
}

TEST(CredentialsParseTest, SecretIsHeldInSecretType) {
  std::vector<Profile> p = ParseOk(kGood);
  ASSERT_EQ(p.size(), 1u);
  Secret copy = p[0].secret_access_key;
  p[0].secret_access_key.Wipe();
  EXPECT_TRUE(p[0].secret_access_key.empty());
  EXPECT_EQ(copy.reveal(), "S");
}

}  // namespace
}  // namespace spacesfs::auth

// The credential store: profiles read from an INI file, one [section] per profile.
//
//   [photos-ro]
//   access_key_id = DO00EXAMPLE
//   secret_access_key = ...       (or: secret_file = /path, or: secret_credential = NAME)
//   region = nyc3                 (endpoint defaults to https://nyc3.digitaloceanspaces.com)
//   endpoint = http://127.0.0.1:7480
//   ca_bundle = /etc/ssl/private-ca.pem   (authorities trusted for an https endpoint)
//   session_token = ...
//   grant = photos:read           (repeatable; see auth/grant.h)
//
// Locations: system mounts read /etc/spacesfs/credentials (owner root); a user's mounts read
// ~/.config/spacesfs/credentials (owner that user). Either file must be a regular file, not a
// symlink (refused, never followed), owned by the expected uid, with no group/other permission bits.
// The same rules apply to a secret_file and to a systemd credential file.
//
// Errors: Status kConfig (kNotFound for a missing file or profile), one line, naming the file and,
// for content problems, the line: "FILE:LINE: unknown key 'acess_key_id' in [photos-ro]". No message
// ever contains a secret value; errors about secret lines name the key only.
//
// Secrets live in spacesfs::Secret (wiped on destruction); the file's text is wiped after parsing.
// Full format: docs/CREDENTIALS.md.
//
// Thread safety: all functions are reentrant (inih is used with its default stack line buffer and
// its runtime options are only read, never changed).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/grant.h"
#include "common/result.h"
#include "common/secret.h"
#include "common/status.h"

namespace spacesfs::auth {

inline constexpr std::string_view kSystemCredentialPath = "/etc/spacesfs/credentials";
// Relative to the user's home directory.
inline constexpr std::string_view kUserCredentialPath = ".config/spacesfs/credentials";
// Credential and secret files larger than this are refused.
inline constexpr size_t kMaxCredentialFileSize = 1 << 20;

enum class SecretSource {
  kInline,             // secret_access_key = ...
  kFile,               // secret_file = /absolute/path
  kSystemdCredential,  // secret_credential = NAME -> $CREDENTIALS_DIRECTORY/NAME
};

struct Profile {
  std::string name;                // the [section] name
  std::string access_key_id;
  SecretSource secret_source = SecretSource::kInline;
  std::string secret_reference;    // the path (kFile) or credential name (kSystemdCredential)
  Secret secret_access_key;        // set by ParseCredentials for kInline, else by ResolveSecret
  Secret session_token;            // empty when not using temporary credentials
  std::string region;              // as written, or kDefaultSigningRegion for a bare endpoint
  std::string endpoint;            // always set: as written (no trailing '/') or from the region
  bool path_style = false;         // UsesPathStyle(endpoint)
  std::string ca_bundle;           // absolute path of a PEM file of authorities to trust for
                                   // the (https) endpoint instead of the system's; "" = those
  std::vector<Grant> grants;       // at least one, in file order
  std::string source_file;         // the file name used in messages
  int line = 0;                    // line of the [section] header
};

// Parses a whole credential file. Every profile in the file is validated (one bad profile refuses
// the file). Does no I/O: kFile / kSystemdCredential secrets are left for ResolveSecret.
// Errors name `file_name` and the 1-based line.
Result<std::vector<Profile>> ParseCredentials(std::string_view text, std::string_view file_name);

// Checks an open file: a regular file, owned by expected_owner, no group/other permission bits.
// `path` is only used in the message, which is one line ending with the fix:
//   "/etc/spacesfs/credentials: mode 0644 lets group/others read secrets; run: chmod 600 ..."
Status CheckCredentialFileSafety(int fd, std::string_view path, uid_t expected_owner);

// Opens `path` with O_NOFOLLOW (a symlink is refused), checks the opened fd with
// CheckCredentialFileSafety, and reads it (at most kMaxCredentialFileSize bytes).
Result<Secret> ReadCredentialFile(const std::string& path, uid_t expected_owner);

// Fills profile->secret_access_key from its secret_file or systemd credential (read with
// ReadCredentialFile, same ownership rules; one trailing newline is dropped). A no-op for kInline.
// credentials_directory is $CREDENTIALS_DIRECTORY ("" or nullopt when unset).
Status ResolveSecret(Profile* profile, uid_t expected_owner,
                     const std::optional<std::string>& credentials_directory);

// ReadCredentialFile + ParseCredentials + pick `profile_name` + ResolveSecret.
Result<Profile> LoadProfile(const std::string& path, std::string_view profile_name,
                            uid_t expected_owner,
                            const std::optional<std::string>& credentials_directory);
// As above, with credentials_directory taken from the environment ($CREDENTIALS_DIRECTORY).
Result<Profile> LoadProfile(const std::string& path, std::string_view profile_name,
                            uid_t expected_owner);

// "/etc/spacesfs/credentials" for uid 0, else home + "/.config/spacesfs/credentials".
std::string DefaultCredentialPath(uid_t uid, std::string_view home);

}  // namespace spacesfs::auth

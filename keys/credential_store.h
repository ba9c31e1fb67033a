// Writing a profile into a credential file (the INI format of docs/CREDENTIALS.md), atomically.
//
// The new file is written to a temporary file in the same directory (O_CREAT|O_EXCL, mode 0600),
// fsync'd, renamed over the old one and the directory fsync'd, so a reader sees either the old file
// or the new one, never a mix. Other profiles, comments and blank lines are kept byte for byte; the
// profile's own [section] is replaced in place (or appended). The file keeps mode 0600 and its
// owner. The result is parsed with auth::ParseCredentials before it is written: a file that would
// not parse is never written.
//
// Errors: kConfig (the existing file is unsafe or does not parse, the directory is missing or not
// writable, PATH.lock is unusable), kExists (the profile exists and replace is false), kTimeout
// (another writer held the lock for 30 s), kIoError (write/fsync/rename).
// Messages name the file and never contain the secret.
//
// Threading: WriteProfile and RestoreSection hold the file's lock (keys/credential_file_lock.h)
// from reading the file to the rename, so writers in any number of threads and processes each see
// the file as the one before left it and no profile is lost. Other functions take no lock.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "auth/grant.h"
#include "common/result.h"
#include "common/secret.h"

namespace spacesfs::keys {

struct NewProfile {
  std::string name;
  std::string access_key_id;
  Secret secret_access_key;
  std::string region;    // "" = none
  std::string endpoint;  // "" = none (derived from the region)
  std::string ca_bundle;  // "" = none (the system's authorities)
  std::vector<auth::Grant> grants;
  std::string comment;   // one line written as "# ..." inside the section ("" = none)
};

// The [section] text for a profile (ends with '\n').
std::string FormatProfile(const NewProfile& profile);

// Returns `text` with [name]'s section replaced by `section` (or `section` appended after a blank
// line when absent). *found says whether it existed. Pure.
std::string ReplaceSection(std::string_view text, std::string_view name, std::string_view section,
                           bool* found);

// The text of [name]'s section in `text` (without the comments and blank lines that lead into the
// next section), or "" when absent. Pure.
std::string ExtractSection(std::string_view text, std::string_view name);

// The current content of `path`: "" when it does not exist; checked with auth::ReadCredentialFile
// (owner expected_owner, no group/other bits, not a symlink).
Result<Secret> ReadExisting(const std::string& path, uid_t expected_owner);

// Whether `path` already has profile `name` (false when the file does not exist).
Result<bool> HasProfile(const std::string& path, std::string_view name, uid_t expected_owner);

// Writes `profile` into `path` as described above. With replace == false an existing profile of
// that name is refused (kExists).
Status WriteProfile(const std::string& path, const NewProfile& profile, bool replace,
                    uid_t expected_owner);

// Puts profile `name` back as it was in `earlier` (an earlier content of the file), keeping every
// other profile as it is now (written meanwhile by another command, say). kInvalidArgument when
// `earlier` has no such profile.
Status RestoreSection(const std::string& path, const std::string& name, std::string_view earlier,
                      uid_t expected_owner);

// Replaces the whole file content atomically; takes no lock (the callers above hold it).
Status WriteFileAtomically(const std::string& path, std::string_view content, uid_t owner,
                           gid_t group);

}  // namespace spacesfs::keys

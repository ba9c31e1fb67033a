// Grant: one "grant = SPACE[/PREFIX]:PERMISSION [WHO]" line of a credential profile, and the
// validation rules for Space names and key prefixes shared by the credential parser and the scope
// engine.
//
//   photos:read                      the whole Space "photos", read-only, for everyone
//   backups/db/:readwrite-nodelete   keys under "db/" in Space "backups"
//   logs/app:append-only @ops        keys under "app/" in "logs", for members of group "ops"
//   team/My Album/:readwrite alice   prefixes may contain spaces; WHO is the last word
//
// A prefix always names a directory: "db" and "db/" are the same grant, stored as "db/"; the whole
// Space is the empty prefix. The target is everything before the last ':' of the value; after it
// come the permission and an optional WHO (a user name, or @group).
//
// Pure functions; thread-safe. Errors are Status kConfig with a message that quotes the grant.
#pragma once

#include <string>
#include <string_view>

#include "auth/permission.h"
#include "common/result.h"
#include "common/status.h"

namespace spacesfs::auth {

struct Grant {
  std::string space;         // validated Space (bucket) name
  std::string prefix;        // "" (whole Space) or normalised "a/b/" (ends with '/')
  Permission permission = Permission::kRead;
  std::string who;           // "" = everyone; else a user name or a group name (without '@')
  bool who_is_group = false;

  bool operator==(const Grant&) const = default;
};

// Parses the value of a grant line (already stripped of comments and outer whitespace).
Result<Grant> ParseGrant(std::string_view text);

// The grant written back in its canonical form: "backups/db/:readwrite-nodelete @ops".
std::string FormatGrant(const Grant& grant);

// S3/DNS bucket naming rules: 3-63 characters of a-z 0-9 '.' '-', starting and ending with a
// letter or digit, no "..", ".-" or "-.", not shaped like an IPv4 address, no "xn--" prefix.
// Returns OK or kConfig saying which rule failed.
Status ValidateSpaceName(std::string_view name);

// A grant prefix before normalisation: must not start with '/', contain NUL or other control
// characters, an empty component ("a//b") or a "." / ".." component. On success returns the
// normalised prefix ("" or ending with '/').
Result<std::string> NormalizeGrantPrefix(std::string_view prefix);

// A user name or group name as used in WHO: 1-64 characters of A-Z a-z 0-9 '.' '_' '-', not
// starting with '-', optionally ending with '$'.
bool IsValidPrincipalName(std::string_view name);

}  // namespace spacesfs::auth

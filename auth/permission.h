// Permission: what a grant lets its holders do under a Space prefix. The five levels are nested,
// each allowing everything the one before it allows:
//
//   read  <  append-only  <  readwrite-nodelete  <  readwrite  <  fullaccess
//
// so "the most permissive of several grants" is simply the largest. The exact operations each
// level allows are in auth/scope.h and docs/SCOPES.md.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace spacesfs::auth {

enum class Permission {
  kRead = 0,
  kAppendOnly = 1,
  kReadWriteNoDelete = 2,
  kReadWrite = 3,
  kFullAccess = 4,
};

// "read", "append-only", "readwrite-nodelete", "readwrite", "fullaccess".
std::string_view PermissionName(Permission permission);

// The inverse of PermissionName (exact, lower case); nullopt for anything else.
std::optional<Permission> ParsePermission(std::string_view name);

// True when `a` allows everything `b` allows.
inline bool Includes(Permission a, Permission b) { return static_cast<int>(a) >= static_cast<int>(b); }

}  // namespace spacesfs::auth

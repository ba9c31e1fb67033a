// The scope engine: given a profile's grants for the Space being mounted, decides whether a caller
// may perform an operation on a key, and which entries a listing shows.
//
// Keys are paths within the Space, without a leading or trailing '/': "backups/db/dump.sql"; the
// Space root is "". They must be normalised (ValidateKey): no empty, "." or ".." components, no NUL.
// The engine refuses (kDenied) a key that is not normalised rather than normalising it, so
// "a/../b" or "a//b" can never be matched against a grant.
//
// A grant with prefix P ("" or "a/b/") covers the keys strictly inside it: every key starting with
// P ("a/b/x", "a/b/x/y"), never "a/bx" and not "a/b" itself. The caller's effective permission on
// a key is the most permissive (largest, see auth/permission.h) of the grants that cover it and
// whose WHO matches the caller (no WHO: everyone; a user: that uid; @group: that gid as primary or
// supplementary group). Because a grant covering a directory covers everything below it, the
// effective permission never decreases going deeper, so checking a directory's key is enough for
// an operation on its whole subtree (a directory rename).
//
// Decision for an operation on a key:
//   - covered by a grant: kAllowed if PermissionAllows(effective, op);
//   - a directory leading to a grant the caller has (an ancestor of P, or P's own directory, or the
//     root): kList is allowed;
//   - a refused modification of a key the caller can see (covered, or leading to a grant) is
//     kReadOnly when the scope is read-only as a whole (read_only(): every grant for this Space, for
//     whoever it is, is `read`, so nobody may modify anything and the mount is mounted `ro`), and
//     kDenied otherwise: on a mount where some grant lets someone write, a caller who may not is
//     denied, not told the filesystem is read-only;
//   - anything else (invisible, or a refused read of a directory on the way to a grant): kDenied.
//
// Operation meanings for fs/ (docs/SCOPES.md has the table):
//   kList       readdir of a directory key        kRead     reading a file's data
//   kCreate     a new object where none exists    kOverwrite replace or truncate an existing object
//   kAppend     extend an existing object         kDelete   unlink
//   kRenameFrom the source of a rename            kRenameTo the destination of a rename (when an
//   kMkdir / kRmdir                                          object exists there, also kOverwrite)
//   kSetattr    chmod, chown, utimens, xattrs (truncate is kOverwrite)
// Writes made through the handle that created a file, until that handle is released, are part of
// kCreate (so append-only can write a new file in several write() calls and fsync it); after
// release, changing the file is kOverwrite/kAppend. Lookup/getattr of an entry is governed by
// IsVisible, not by Check.
//
// Thread safety: a ScopeChecker is immutable after Create; all methods are const and may be called
// concurrently. Pure: names in WHO are resolved once, in Create, through the supplied lookup.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/grant.h"
#include "auth/permission.h"
#include "common/result.h"
#include "common/status.h"

namespace spacesfs::auth {

enum class Operation {
  kList,
  kRead,
  kCreate,
  kOverwrite,
  kAppend,
  kDelete,
  kRenameFrom,
  kRenameTo,
  kMkdir,
  kRmdir,
  kSetattr,
};
inline constexpr Operation kAllOperations[] = {
    Operation::kList,       Operation::kRead,     Operation::kCreate, Operation::kOverwrite,
    Operation::kAppend,     Operation::kDelete,   Operation::kRenameFrom,
    Operation::kRenameTo,   Operation::kMkdir,    Operation::kRmdir,  Operation::kSetattr};

// "list", "read", "create", "overwrite", "append", "delete", "rename-from", "rename-to", "mkdir",
// "rmdir", "setattr".
std::string_view OperationName(Operation op);

// True for every operation except kList and kRead.
bool IsModifying(Operation op);

// The fixed table: which operations a permission allows.
//   read               list, read
//   append-only        + create, mkdir, rename-to
//   readwrite-nodelete + overwrite, append
//   readwrite          + delete, rename-from, rmdir
//   fullaccess         + setattr
bool PermissionAllows(Permission permission, Operation op);

enum class Decision {
  kAllowed,
  kReadOnly,  // fs/ answers EROFS
  kDenied,    // fs/ answers EACCES
};
std::string_view DecisionName(Decision decision);  // "allowed", "read-only", "denied"

struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> supplementary_gids;
};

// Resolves WHO names; supplied by the caller (getpwnam_r/getgrnam_r in the real program, a table in
// tests). Return nullopt for an unknown name.
struct NameLookup {
  std::function<std::optional<uid_t>(std::string_view user)> user_id;
  std::function<std::optional<gid_t>(std::string_view group)> group_id;
};

// OK for a normalised key ("" is the root); otherwise kInvalidArgument saying what is wrong.
Status ValidateKey(std::string_view key);

// What a listing of a directory shows.
struct ListPlan {
  enum class Kind {
    kHidden,  // the directory is not visible to the caller: show nothing
    kAll,     // inside (or the root of) a grant: show every entry the server lists
    kOnly,    // an ancestor of grants: show exactly `directories` (child directory names that lead
              // to grants), even when the server has no objects under them, and no files
  };
  Kind kind = Kind::kHidden;
  std::vector<std::string> directories;  // for kOnly: sorted, unique child names
};

class ScopeChecker {
 public:
  // Keeps the grants for `space` (others are ignored) and resolves their WHO names.
  // Errors (kConfig): no grant names `space`; a WHO user or group the lookup does not know.
  static Result<ScopeChecker> Create(std::string_view space, const std::vector<Grant>& grants,
                                     const NameLookup& lookup);

  Decision Check(Operation op, std::string_view key, const Caller& caller) const;

  // Check as a Status: OK, kReadOnly or kPermissionDenied, with a one-line message naming the
  // operation, key, Space and why ("scope: delete 'photos/a.jpg' in photos: read-only (read)").
  Status CheckStatus(Operation op, std::string_view key, const Caller& caller) const;

  // Whether an entry appears in listings and lookups: keys covered by a caller's grant, and
  // directories leading to one (the root always, when the caller has any grant here). A file at an
  // ancestor level ("backups/readme" when only "backups/db/" is granted) is not visible.
  bool IsVisible(std::string_view key, bool is_directory, const Caller& caller) const;

  ListPlan PlanList(std::string_view directory_key, const Caller& caller) const;

  // The caller's effective permission on a key, nullopt when no grant covers it (or the key is not
  // normalised).
  std::optional<Permission> EffectivePermission(std::string_view key, const Caller& caller) const;

  // True when every grant for this Space is `read`, whoever it names: nobody may modify anything,
  // the mount is read-only as a whole (mounted `ro`), and refused modifications are kReadOnly.
  bool read_only() const { return read_only_; }

  // True when a grant names a group: only then do a caller's supplementary groups matter.
  bool uses_groups() const { return uses_groups_; }

  const std::string& space() const { return space_; }

 private:
  struct ResolvedGrant {
    std::string prefix;  // "" or "a/b/"
    Permission permission;
    enum class Who { kEveryone, kUser, kGroup } who;
    unsigned id;  // uid or gid
    std::string description;  // the grant as written, for messages
  };

  ScopeChecker() = default;
  bool Applies(const ResolvedGrant& grant, const Caller& caller) const;
  bool LeadsToGrant(std::string_view key, const Caller& caller) const;

  // Constant after construction.
  std::string space_;
  std::vector<ResolvedGrant> grants_;
  bool read_only_ = true;
  bool uses_groups_ = false;
};

}  // namespace spacesfs::auth

#include "auth/scope.h"

#include <algorithm>
#include <set>

namespace spacesfs::auth {
namespace {

// True when `key` is strictly inside the directory `prefix` ("" or ending with '/').
bool Covers(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return !key.empty();
  return key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix;
}

// True when `key` is the root, an ancestor of `prefix`'s directory, or that directory itself:
// "" and "a" and "a/b" for prefix "a/b/".
bool IsOnPathTo(std::string_view key, std::string_view prefix) {
  if (key.empty()) return true;
  return prefix.size() > key.size() && prefix.substr(0, key.size()) == key &&
         prefix[key.size()] == '/';
}

std::string Quote(std::string_view key) { return "'" + std::string(key) + "'"; }

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kList: return "list";
    case Operation::kRead: return "read";
    case Operation::kCreate: return "create";
    case Operation::kOverwrite: return "overwrite";
    case Operation::kAppend: return "append";
    case Operation::kDelete: return "delete";
    case Operation::kRenameFrom: return "rename-from";
    case Operation::kRenameTo: return "rename-to";
    case Operation::kMkdir: return "mkdir";
    case Operation::kRmdir: return "rmdir";
    case Operation::kSetattr: return "setattr";
  }
  return "unknown";
}

bool IsModifying(Operation op) { return op != Operation::kList && op != Operation::kRead; }

bool PermissionAllows(Permission permission, Operation op) {
  // The least permission that allows each operation; the levels are nested.
  Permission needed = Permission::kRead;
  switch (op) {
    case Operation::kList:
    case Operation::kRead:
      needed = Permission::kRead;
      break;
    case Operation::kCreate:
    case Operation::kMkdir:
    case Operation::kRenameTo:
      needed = Permission::kAppendOnly;
      break;
    case Operation::kOverwrite:
    case Operation::kAppend:
      needed = Permission::kReadWriteNoDelete;
      break;
    case Operation::kDelete:
    case Operation::kRenameFrom:
    case Operation::kRmdir:
      needed = Permission::kReadWrite;
      break;
    case Operation::kSetattr:
      needed = Permission::kFullAccess;
      break;
  }
  return Includes(permission, needed);
}

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllowed: return "allowed";
    case Decision::kReadOnly: return "read-only";
    case Decision::kDenied: return "denied";
  }
  return "unknown";
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::Ok();
  auto bad = [&](std::string why) {
    return Status(ErrorCode::kInvalidArgument, "key " + Quote(key) + " " + why);
  };
  if (key.find('\0') != key.npos) return bad("contains NUL");
  if (key.front() == '/') return bad("starts with '/'");
  if (key.back() == '/') return bad("ends with '/'");
  size_t start = 0;
  while (true) {
    size_t slash = key.find('/', start);
    std::string_view part = key.substr(start, slash == key.npos ? key.npos : slash - start);
    if (part.empty()) return bad("has an empty component ('//')");
    if (part == "." || part == "..") return bad("has a '" + std::string(part) + "' component");
    if (slash == key.npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<ScopeChecker> ScopeChecker::Create(std::string_view space, const std::vector<Grant>& grants,
                                          const NameLookup& lookup) {
  ScopeChecker checker;
  checker.space_ = std::string(space);
  for (const Grant& grant : grants) {
    if (grant.space != space) continue;
    ResolvedGrant resolved{grant.prefix, grant.permission, ResolvedGrant::Who::kEveryone, 0,
                           FormatGrant(grant)};
    if (!grant.who.empty()) {
      std::optional<unsigned> id;
      if (grant.who_is_group) {
        resolved.who = ResolvedGrant::Who::kGroup;
        checker.uses_groups_ = true;
        if (lookup.group_id) id = lookup.group_id(grant.who);
      } else {
        resolved.who = ResolvedGrant::Who::kUser;
        if (lookup.user_id) id = lookup.user_id(grant.who);
      }
      if (!id) {
        return Status(ErrorCode::kConfig, "grant '" + resolved.description + "' names unknown " +
                                              (grant.who_is_group ? "group" : "user") + " '" +
                                              grant.who + "'");
      }
      resolved.id = *id;
    }
    if (resolved.permission != Permission::kRead) checker.read_only_ = false;
    checker.grants_.push_back(std::move(resolved));
  }
  if (checker.grants_.empty()) {
    return Status(ErrorCode::kConfig, "no grant names Space '" + std::string(space) + "'");
  }
  return checker;
}

bool ScopeChecker::Applies(const ResolvedGrant& grant, const Caller& caller) const {
  switch (grant.who) {
    case ResolvedGrant::Who::kEveryone:
      return true;
    case ResolvedGrant::Who::kUser:
      return caller.uid == grant.id;
    case ResolvedGrant::Who::kGroup:
      return caller.gid == grant.id ||
             std::find(caller.supplementary_gids.begin(), caller.supplementary_gids.end(),
                       grant.id) != caller.supplementary_gids.end();
  }
  return false;
}

std::optional<Permission> ScopeChecker::EffectivePermission(std::string_view key,
                                                            const Caller& caller) const {
  if (!ValidateKey(key).ok()) return std::nullopt;
  std::optional<Permission> best;
  for (const ResolvedGrant& grant : grants_) {
    if (!Applies(grant, caller) || !Covers(grant.prefix, key)) continue;
    if (!best || Includes(grant.permission, *best)) best = grant.permission;
  }
  return best;
}

bool ScopeChecker::LeadsToGrant(std::string_view key, const Caller& caller) const {
  for (const ResolvedGrant& grant : grants_) {
    if (Applies(grant, caller) && IsOnPathTo(key, grant.prefix)) return true;
  }
  return false;
}

Decision ScopeChecker::Check(Operation op, std::string_view key, const Caller& caller) const {
  if (!ValidateKey(key).ok()) return Decision::kDenied;
  bool visible = false;
  if (std::optional<Permission> effective = EffectivePermission(key, caller)) {
    if (PermissionAllows(*effective, op)) return Decision::kAllowed;
    visible = true;
  } else if (LeadsToGrant(key, caller)) {
    if (op == Operation::kList) return Decision::kAllowed;
    visible = true;
  }
  return visible && read_only_ && IsModifying(op) ? Decision::kReadOnly : Decision::kDenied;
}

Status ScopeChecker::CheckStatus(Operation op, std::string_view key, const Caller& caller) const {
  Decision decision = Check(op, key, caller);
  if (decision == Decision::kAllowed) return Status::Ok();
  std::string head = "scope: " + std::string(OperationName(op)) + " " + Quote(key) + " in " +
                     space_ + ": ";
  Status valid = ValidateKey(key);
  if (!valid.ok()) return Status(ErrorCode::kPermissionDenied, head + valid.message());
  const ErrorCode code =
      decision == Decision::kReadOnly ? ErrorCode::kReadOnly : ErrorCode::kPermissionDenied;
  std::optional<Permission> effective = EffectivePermission(key, caller);
  std::string why;
  if (decision == Decision::kReadOnly) {
    why = "read-only (every grant is read)";
  } else if (effective) {
    why = "not allowed (" + std::string(PermissionName(*effective)) + ")";
  } else if (LeadsToGrant(key, caller)) {
    why = "not allowed above the granted prefixes";
  } else {
    why = "no grant covers this key for uid " + std::to_string(caller.uid);
  }
  return Status(code, head + why);
}

bool ScopeChecker::IsVisible(std::string_view key, bool is_directory, const Caller& caller) const {
  if (!ValidateKey(key).ok()) return false;
  if (EffectivePermission(key, caller)) return true;
  return (is_directory || key.empty()) && LeadsToGrant(key, caller);
}

ListPlan ScopeChecker::PlanList(std::string_view directory_key, const Caller& caller) const {
  ListPlan plan;
  if (!ValidateKey(directory_key).ok()) return plan;
  if (EffectivePermission(directory_key, caller)) {
    plan.kind = ListPlan::Kind::kAll;
    return plan;
  }
  const std::string dir_prefix = directory_key.empty() ? "" : std::string(directory_key) + "/";
  std::set<std::string> names;
  bool leads = false;
  for (const ResolvedGrant& grant : grants_) {
    if (!Applies(grant, caller) || !IsOnPathTo(directory_key, grant.prefix)) continue;
    leads = true;
    if (grant.prefix == dir_prefix) {  // the grant's own directory: everything inside is covered
      plan.kind = ListPlan::Kind::kAll;
      return plan;
    }
    std::string_view rest = std::string_view(grant.prefix).substr(dir_prefix.size());
    names.insert(std::string(rest.substr(0, rest.find('/'))));
  }
  if (!leads) return plan;
  plan.kind = ListPlan::Kind::kOnly;
  plan.directories.assign(names.begin(), names.end());
  return plan;
}

}  // namespace spacesfs::auth

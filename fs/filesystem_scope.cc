// Filesystem::Impl: the scope checks, and how a server refusal is reported and logged.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

std::string Filesystem::Impl::ScopeKey(const std::string& path) const {
  std::string key = options_.prefix + path;
  while (!key.empty() && key.back() == '/') key.pop_back();
  return key;
}

std::shared_ptr<const auth::ScopeChecker> Filesystem::Impl::Scope() const {
  std::lock_guard lock(scope_mu_);
  return scope_;
}

void Filesystem::Impl::SetScope(std::shared_ptr<const auth::ScopeChecker> scope) {
  {
    std::lock_guard lock(scope_mu_);
    scope_ = std::move(scope);
  }
  std::lock_guard lock(log_mu_);
  logged_.clear();  // refusals under the new scope are logged afresh
}

std::string Filesystem::Impl::UserName(uint32_t uid) const {
  std::string name = options_.user_name ? options_.user_name(uid) : std::string();
  return name.empty() ? "uid " + std::to_string(uid) : name + " (uid " + std::to_string(uid) + ")";
}

void Filesystem::Impl::LogDenial(const Caller& caller, std::string_view what,
                                 const std::string& key, const std::string& why) {
  {
    std::lock_guard lock(log_mu_);
    if (!logged_.emplace(key, std::string(what), caller.uid).second) return;
  }
  spdlog::warn("denied: user {} may not {} '{}' in Space '{}' (profile '{}', {})",
               UserName(caller.uid), what, EscapeControlCharacters(key), options_.space_name,
               options_.profile_name, why);
}

Status Filesystem::Impl::Authorize(const auth::ScopeChecker* scope, const Caller& caller,
                                   auth::Operation op, const std::string& path) {
  if (scope == nullptr) return Status::Ok();
  std::string key = ScopeKey(path);
  auth::Caller who = ToAuthCaller(caller);
  Status s = scope->CheckStatus(op, key, who);
  if (s.ok()) return s;
  denials_local_.fetch_add(1, std::memory_order_relaxed);
  std::optional<auth::Permission> effective = scope->EffectivePermission(key, who);
  LogDenial(caller, auth::OperationName(op), key,
            effective ? "grant " + std::string(auth::PermissionName(*effective)) : "no grant");
  return s;
}

Status Filesystem::Impl::AuthorizeVisible(const Caller& caller, const std::string& path,
                                          std::optional<bool> is_directory) {
  std::shared_ptr<const auth::ScopeChecker> scope = Scope();
  if (!scope) return Status::Ok();
  std::string key = ScopeKey(path);
  auth::Caller who = ToAuthCaller(caller);
  bool visible = is_directory ? scope->IsVisible(key, *is_directory, who)
                              : scope->IsVisible(key, true, who) || scope->IsVisible(key, false, who);
  if (visible) return Status::Ok();
  denials_local_.fetch_add(1, std::memory_order_relaxed);
  LogDenial(caller, "look up", key, "not in any grant");
  return Status(ErrorCode::kPermissionDenied,
                "scope: '" + key + "' in " + options_.space_name + " is not visible");
}

bool Filesystem::Impl::LeadsToGrant(const Caller& caller, const std::string& path) const {
  std::shared_ptr<const auth::ScopeChecker> scope = Scope();
  if (!scope) return false;
  std::string key = ScopeKey(path);
  auth::Caller who = ToAuthCaller(caller);
  return scope->IsVisible(key, true, who) && !scope->EffectivePermission(key, who).has_value();
}

auth::Operation Filesystem::Impl::WriteOperation(const Handle& handle) {
  if (handle.created) return auth::Operation::kCreate;
  if (handle.flags & O_APPEND) return auth::Operation::kAppend;
  return auth::Operation::kOverwrite;
}

Status Filesystem::Impl::AuthorizeUpload(const Handle& handle) {
  if (!handle.file->dirty) return Status::Ok();
  if (!Scope()) return Status::Ok();
  std::string path;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(handle.ino);
    if (inode == nullptr) return Status::Ok();
    path = inode->path;
  }
  return Authorize(handle.caller,
                   Writable(handle.flags) ? WriteOperation(handle) : auth::Operation::kOverwrite,
                   path);
}

Status Filesystem::Impl::FromServer(const Status& s, std::string_view what, const std::string& key,
                                    const Caller* who) {
  if (s.code() != ErrorCode::kAccessDenied && s.code() != ErrorCode::kAuthFailed) {
    return FromClient(s, what, key);
  }
  denials_server_.fetch_add(1, std::memory_order_relaxed);
  std::string s3_code = s.s3_code().empty() ? std::string(ErrorCodeName(s.code())) : s.s3_code();
  bool first;
  {
    std::lock_guard lock(log_mu_);
    first = logged_.emplace(key, "server " + std::string(what), who ? who->uid : kNoUser).second;
  }
  if (first) {
    spdlog::warn("server refused: user {}: {} '{}' in Space '{}' with profile '{}': {} (HTTP {})",
                 who ? UserName(who->uid) : "unknown", what,
                 EscapeControlCharacters(key), options_.space_name, options_.profile_name,
                 EscapeControlCharacters(s3_code), s.http_status());
  }
  return Status(ErrorCode::kAccessDenied, "the server refused " + std::string(what) + " '" + key +
                                              "' for profile '" + options_.profile_name +
                                              "': " + s3_code);
}

}  // namespace spacesfs::fs

// Filesystem::Impl: opening and listing directories.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Result<DirHandle> Filesystem::Impl::OpenDir(const Caller& caller, InodeId ino) {
  std::string path;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    if (inode->type != FileType::kDirectory) return Status(ErrorCode::kNotDirectory, inode->path);
    path = inode->path;
  }
  SPACESFS_RETURN_IF_ERROR(Authorize(caller, auth::Operation::kList, path));
  std::lock_guard lock(mu_);
  if (FindInode(ino) == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
  auto state = std::make_shared<DirState>();
  state->ino = ino;
  state->caller = caller;
  DirHandle dh = next_handle_++;
  dirs_[dh] = state;
  return dh;
}

Status Filesystem::Impl::ReleaseDir(DirHandle dh) {
  std::lock_guard lock(mu_);
  if (dirs_.erase(dh) == 0) return Status(ErrorCode::kNotFound, "unknown directory handle");
  return Status::Ok();
}

void Filesystem::Impl::AddUnsavedChildren(InodeId dir, const std::string& path,
                                          const auth::ScopeChecker* scope, const Caller& caller,
                                          std::vector<DirItem>* items) {
  std::vector<std::string> names = UnsavedChildren(dir);
  if (names.empty()) return;
  std::set<std::string> listed;
  for (const DirItem& item : *items) listed.insert(item.name);
  for (std::string& name : names) {
    if (listed.count(name) != 0) continue;
    if (scope != nullptr &&
        !scope->IsVisible(ScopeKey(JoinPath(path, name)), false, ToAuthCaller(caller))) {
      continue;
    }
    DirItem item;
    item.name = std::move(name);
    items->push_back(std::move(item));
  }
}

Status Filesystem::Impl::ReadDirImpl(DirHandle dh, uint64_t offset, bool plus,
                                     const DirFiller& filler, const DirPlusFiller& plus_filler) {
  std::shared_ptr<DirState> state;
  std::string path;
  InodeId parent_ino = kRootInode;
  {
    std::lock_guard lock(mu_);
    auto it = dirs_.find(dh);
    if (it == dirs_.end()) return Status(ErrorCode::kNotFound, "unknown directory handle");
    state = it->second;
    Inode* inode = FindInode(state->ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    path = inode->path;
    if (inode->parent != 0) parent_ino = inode->parent;
  }
  std::lock_guard dlock(state->mu);
  if (offset == 0 || !state->loaded) {
    // Checked on the directory's current path (it may have moved since OpenDir).
    const std::shared_ptr<const auth::ScopeChecker> scope = Scope();
    SPACESFS_RETURN_IF_ERROR(Authorize(scope.get(), state->caller, auth::Operation::kList, path));
    auth::ListPlan plan;
    plan.kind = auth::ListPlan::Kind::kAll;
    if (scope) plan = scope->PlanList(ScopeKey(path), ToAuthCaller(state->caller));
    std::vector<DirItem> listed;
    if (plan.kind == auth::ListPlan::Kind::kOnly) {
      for (const std::string& name : plan.directories) {  // no request: exactly these
        DirItem item;
        item.name = name;
        item.type = FileType::kDirectory;
        listed.push_back(std::move(item));
      }
    } else if (plan.kind == auth::ListPlan::Kind::kAll) {
      Result<std::vector<DirItem>> items = ListDirectory(path, &state->caller);
      if (!items.ok()) return items.status();
      if (scope) {
        auth::Caller who = ToAuthCaller(state->caller);
        for (DirItem& item : *items) {
          if (scope->IsVisible(ScopeKey(JoinPath(path, item.name)),
                                        item.type == FileType::kDirectory, who)) {
            listed.push_back(std::move(item));
          }
        }
      } else {
        listed = std::move(*items);
      }
      AddUnsavedChildren(state->ino, path, scope.get(), state->caller, &listed);
    }
    state->items = std::move(listed);
    state->loaded = true;
  }
  for (uint64_t i = offset; i < state->items.size() + 2; ++i) {
    DirEntry entry;
    entry.offset = i + 1;
    Entry attributes;
    if (i < 2) {
      entry.name = i == 0 ? "." : "..";
      entry.type = FileType::kDirectory;
      entry.ino = i == 0 ? state->ino : parent_ino;
      {
        std::lock_guard lock(mu_);
        if (Inode* inode = FindInode(entry.ino)) {
          attributes = MakeEntry(*inode);
        } else {
          attributes.ino = entry.ino;
          attributes.attr = DefaultDirectoryAttributes(mount_time_ns_, options_);
          attributes.attr.ino = entry.ino;
        }
      }
      bool accepted = plus ? plus_filler(entry, attributes) : filler(entry);
      if (!accepted) break;
      continue;
    }
    const DirItem& item = state->items[i - 2];
    {
      std::lock_guard lock(mu_);
      if (FindInode(state->ino) == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
      Inode& child = AttachListed(state->ino, item);
      entry.name = item.name;
      entry.ino = child.ino;
      entry.type = child.type;
      attributes = MakeEntry(child);
      if (plus) child.lookups++;  // held for the filler; undone if it refuses
    }
    bool accepted = plus ? plus_filler(entry, attributes) : filler(entry);
    if (!accepted) {
      if (plus) Forget(entry.ino, 1);
      break;
    }
  }
  return Status::Ok();
}

}  // namespace spacesfs::fs

// Filesystem::Impl: what the server has at a path (HEAD, small GET, LIST), lookup, forget and
// getattr.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Result<s3::ObjectInfo> Filesystem::Impl::HeadOrSmallGet(const std::string& key,
                                                        uint64_t known_size,
                                                        std::optional<std::string>* body,
                                                        const Caller* who) {
  body->reset();
  if (known_size > 0 && known_size <= kSmallBodyBytes) {
    s3::GetObjectRequest get;
    get.key = key;
    get.range = s3::ByteRange{0, kSmallBodyBytes - 1};
    std::string bytes;
    Result<s3::ObjectInfo> info = client_.GetObject(get, [&](std::string_view chunk) {
      bytes.append(chunk);
      return Status::Ok();
    });
    if (info.ok()) {
      if (bytes.size() == info->size) {
        // What a ranged GET brings is checked here: a plain ETag is the MD5 of these bytes.
        s3::ObjectVerifier verifier(info->etag, info->size);
        verifier.Feed(0, bytes);
        if (verifier.Finish() == s3::ObjectVerifier::Outcome::kMatch) *body = std::move(bytes);
      }
      return info;
    }
    if (info.status().code() == ErrorCode::kNotFound) return info.status();
    if (info.status().code() == ErrorCode::kAccessDenied ||
        info.status().code() == ErrorCode::kAuthFailed) {
      return FromServer(info.status(), "GET", key, who);
    }
    // Anything else (an object emptied since: 416): HEAD answers.
  }
  Result<s3::ObjectInfo> head = client_.HeadObject(key);
  if (!head.ok() && head.status().code() != ErrorCode::kNotFound) {
    return FromServer(head.status(), "HEAD", key, who);
  }
  return head;
}

Result<std::optional<Found>> Filesystem::Impl::RemoteLookup(const std::string& path,
                                                            const Caller* who,
                                                            std::optional<FileType> known_type,
                                                            uint64_t known_size) {
  if (path.empty()) {
    Found root;
    root.type = FileType::kDirectory;
    return std::optional<Found>(root);
  }
  std::string dir_prefix = DirPrefix(path);
  std::string key = Key(path);
  auto as_file = [](s3::ObjectInfo info) {
    Found file;
    file.type = TypeFromMetadata(info.metadata) == FileType::kSymlink ? FileType::kSymlink
                                                                       : FileType::kRegular;
    file.info = std::move(info);
    file.metadata_known = true;
    return std::optional<Found>(std::move(file));
  };
  if (known_type && *known_type != FileType::kDirectory) {
    // Revalidating a file: one HEAD gives its existence, ETag and metadata (a small file's GET
    // gives its content too). (A "name/" prefix made beside it since would not be noticed while
    // the file stays: such a Space shows the directory only to a mount that did not know the
    // file.)
    std::optional<std::string> body;
    Result<s3::ObjectInfo> head = HeadOrSmallGet(key, known_size, &body, who);
    if (head.ok()) {
      std::optional<Found> file = as_file(std::move(*head));
      file->body = std::move(body);
      return file;
    }
    if (head.status().code() != ErrorCode::kNotFound) return head.status();
  }
  // One LIST of the keys that start with the name tells both whether the file "name" and the
  // directory "name/" exist, unless more than a page of siblings ("name.txt", "name-2"...) sort
  // before "name/": then ask for the directory alone.
  s3::ListObjectsRequest around;
  around.prefix = key;
  around.delimiter = "/";
  Result<s3::ListObjectsPage> near = client_.ListObjects(around);
  if (!near.ok()) return FromServer(near.status(), "LIST", key, who);
  bool is_dir = std::find(near->common_prefixes.begin(), near->common_prefixes.end(),
                          dir_prefix) != near->common_prefixes.end();
  bool is_file = std::any_of(near->objects.begin(), near->objects.end(),
                             [&](const s3::ObjectInfo& o) { return o.key == key; });
  // A directory, with its marker's metadata when it has one (probe_marker: ask with HEAD).
  auto directory = [&](bool probe_marker) -> Result<std::optional<Found>> {
    Found dir;
    dir.type = FileType::kDirectory;
    if (!probe_marker) return std::optional<Found>(dir);
    Result<s3::ObjectInfo> marker = client_.HeadObject(dir_prefix);
    if (marker.ok()) {
      dir.has_marker = true;
      dir.metadata_known = true;
      dir.info = *marker;
    } else if (marker.status().code() != ErrorCode::kNotFound) {
      return FromServer(marker.status(), "HEAD", dir_prefix, who);
    }
    return std::optional<Found>(dir);
  };
  if (is_dir) return directory(true);
  if (!is_file && !near->is_truncated) return std::optional<Found>();
  s3::ListObjectsRequest list;
  list.prefix = dir_prefix;
  list.delimiter = "/";
  list.max_keys = 1;
  Result<s3::ListObjectsPage> page =
      is_file ? Result<s3::ListObjectsPage>(s3::ListObjectsPage{}) : client_.ListObjects(list);
  if (!page.ok()) return FromServer(page.status(), "LIST", dir_prefix, who);
  if (!page->objects.empty() || !page->common_prefixes.empty()) {
    return directory(!page->objects.empty() && page->objects[0].key == dir_prefix);
  }
  Result<s3::ObjectInfo> head = client_.HeadObject(key);
  if (!head.ok()) {
    if (head.status().code() == ErrorCode::kNotFound) return std::optional<Found>();
    return FromServer(head.status(), "HEAD", key, who);
  }
  return as_file(std::move(*head));
}

Result<std::vector<DirItem>> Filesystem::Impl::ListDirectory(const std::string& path,
                                                             const Caller* who) {
  std::string prefix = DirPrefix(path);
  std::map<std::string, DirItem> items;
  std::vector<std::string> dirs;
  s3::ListObjectsRequest list;
  list.prefix = prefix;
  list.delimiter = "/";
  list.max_keys = 1000;
  for (;;) {
    Result<s3::ListObjectsPage> page = client_.ListObjects(list);
    if (!page.ok()) return FromServer(page.status(), "LIST", prefix, who);
    for (s3::ObjectInfo& object : page->objects) {
      if (object.key == prefix) continue;  // the directory's own marker
      std::string name = object.key.substr(prefix.size());
      if (!IsValidComponent(name)) {
        WarnHiddenKeyOnce(object.key, "a path component is empty, '.', '..', or too long");
        continue;
      }
      DirItem item;
      item.name = name;
      item.type = FileType::kRegular;
      item.object = std::move(object);
      items[name] = std::move(item);
    }
    for (const std::string& common : page->common_prefixes) {
      std::string name = common.substr(prefix.size(), common.size() - prefix.size() - 1);
      if (!IsValidComponent(name)) {
        WarnHiddenKeyOnce(common, "a path component is empty, '.', '..', or too long");
        continue;
      }
      dirs.push_back(name);
    }
    if (!page->is_truncated) break;
    list.continuation_token = page->next_continuation_token;
  }
  for (const std::string& name : dirs) {  // a directory hides a file of the same name
    DirItem item;
    item.name = name;
    item.type = FileType::kDirectory;
    items[name] = std::move(item);
  }
  std::vector<DirItem> out;
  out.reserve(items.size());
  for (auto& [name, item] : items) out.push_back(std::move(item));
  return out;
}

Result<std::string> Filesystem::Impl::ParentPath(InodeId parent) {
  std::lock_guard lock(mu_);
  Inode* p = FindInode(parent);
  if (p == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
  if (p->type != FileType::kDirectory) return Status(ErrorCode::kNotDirectory, p->path);
  if (p->parent == 0 && parent != kRootInode) {
    return Status(ErrorCode::kNotFound, "directory was removed");
  }
  return p->path;
}

Result<std::string> Filesystem::Impl::ChildPath(InodeId parent, std::string_view name) {
  Result<std::string> parent_path = ParentPath(parent);
  if (!parent_path.ok()) return parent_path.status();
  return JoinPath(*parent_path, name);
}

Result<Filesystem::Impl::Resolved> Filesystem::Impl::ResolveChild(InodeId parent,
                                                                  std::string_view name_view,
                                                                  const Caller* who, bool pin) {
  std::string name(name_view);
  Result<std::string> path = ChildPath(parent, name);
  if (!path.ok()) return path.status();
  Resolved r;
  r.path = std::move(*path);
  std::optional<FileType> known_type;
  uint64_t known_size = 0;
  {
    std::unique_lock lock(mu_);
    auto it = children_.find({parent, name});
    if (it != children_.end()) {
      const InodeId child = it->second;
      Inode* inode = AwaitRevalidatingPrefetch(lock, child);
      it = children_.find({parent, name});  // mu_ may have been released
      if (it == children_.end() || it->second != child) inode = nullptr;
      if (inode != nullptr && (inode->attr_expiry > Now() || inode->local_dirty)) {
        r.exists = true;
        r.ino = inode->ino;
        r.type = inode->type;
        if (pin) inode->lookups++;
        return r;
      }
      if (inode != nullptr) {
        known_type = inode->type;
        known_size = inode->attr.size;
      }
    }
    auto neg = negative_.find({parent, name});
    if (neg != negative_.end()) {
      if (neg->second > Now()) return r;
      negative_.erase(neg);
    }
    if (it == children_.end()) {
      Inode* p = FindInode(parent);
      if (p != nullptr && p->complete_until > Now()) return r;
    }
  }
  // Invalid names, and names whose key would be over 1024 bytes, can have no object: no request.
  if (!IsValidComponent(name) || Key(r.path).size() > kMaxKeyBytes) return r;
  Result<std::optional<Found>> found = RemoteLookup(r.path, who, known_type, known_size);
  if (!found.ok()) return found.status();
  std::lock_guard lock(mu_);
  if (!found->has_value()) {
    auto it = children_.find({parent, name});
    if (it != children_.end()) {
      Inode* inode = FindInode(it->second);
      if (inode != nullptr) Detach(*inode);
    }
    if (options_.negative_ttl.count() > 0) negative_[{parent, name}] = Now() + options_.negative_ttl;
    return r;
  }
  Inode& inode = AttachChild(parent, name, **found);
  r.exists = true;
  r.ino = inode.ino;
  r.type = inode.type;
  if (pin) inode.lookups++;
  return r;
}

Result<Entry> Filesystem::Impl::Lookup(const Caller& caller, InodeId parent,
                                       std::string_view name) {
  if (name.size() > kMaxNameBytes) return Status(ErrorCode::kNameTooLong, "name too long");
  if (Scope()) {
    Result<std::string> path = ChildPath(parent, name);
    if (!path.ok()) return path.status();
    SPACESFS_RETURN_IF_ERROR(AuthorizeVisible(caller, *path, std::nullopt));
  }
  Result<Resolved> r = ResolveChild(parent, name, &caller, /*pin=*/true);
  if (!r.ok()) return r.status();
  if (!r->exists) {
    // A directory on the way to a grant is shown even when no object lies under it yet.
    if (!IsValidComponent(name) || !LeadsToGrant(caller, r->path)) {
      return Status(ErrorCode::kNotFound, std::string(name));
    }
    std::lock_guard lock(mu_);
    Found dir;
    dir.type = FileType::kDirectory;
    Inode& inode = AttachChild(parent, std::string(name), dir);
    inode.lookups++;
    return MakeEntry(inode);
  }
  // Pinned by ResolveChild: the count taken there is the kernel's once the entry is answered.
  if (Status visible = AuthorizeVisible(caller, r->path, r->type == FileType::kDirectory);
      !visible.ok()) {
    Unpin(r->ino);
    return visible;
  }
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(r->ino);
  if (inode == nullptr) return Status(ErrorCode::kNotFound, std::string(name));
  return MakeEntry(*inode);
}

void Filesystem::Impl::Unpin(InodeId ino) {
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(ino);
  if (inode == nullptr) return;
  if (inode->lookups > 0) inode->lookups--;
  // Detached while pinned (replaced by another type, removed): nothing names it any more.
  if (inode->lookups == 0 && inode->parent == 0 && !inode->meta_pending) MaybeErase(ino);
}

void Filesystem::Impl::Forget(InodeId ino, uint64_t nlookup) {
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(ino);
  if (inode == nullptr || ino == kRootInode) return;
  inode->lookups -= std::min(inode->lookups, nlookup);
  if (inode->lookups == 0 && !inode->meta_pending) MaybeErase(ino);
}

Result<AttrReply> Filesystem::Impl::GetAttr(const Caller* caller, InodeId ino) {
  std::string path;
  FileType type;
  uint64_t known_size = 0;
  if (caller != nullptr && ino != kRootInode && Scope()) {
    {
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(ino);
      if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
      path = inode->path;
      type = inode->type;
    }
    SPACESFS_RETURN_IF_ERROR(AuthorizeVisible(*caller, path, type == FileType::kDirectory));
  }
  {
    std::unique_lock lock(mu_);
    Inode* inode = AwaitRevalidatingPrefetch(lock, ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    bool fresh = inode->attr_expiry > Now() || ino == kRootInode || inode->parent == 0 ||
                 inode->local_dirty || inode->meta_pending;
    if (fresh) return AttrReply{inode->attr, Seconds(options_.attr_ttl)};
    path = inode->path;
    type = inode->type;
    known_size = inode->attr.size;
  }
  Result<std::optional<Found>> found = RemoteLookup(path, caller, type, known_size);
  if (!found.ok()) return found.status();
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(ino);
  if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
  if (!found->has_value() && type == FileType::kDirectory && caller != nullptr &&
      LeadsToGrant(*caller, path)) {
    inode->attr_expiry = Now() + options_.attr_ttl;
    return AttrReply{inode->attr, Seconds(options_.attr_ttl)};
  }
  if (!found->has_value() || (*found)->type != type) {
    Detach(*inode);
    return Status(ErrorCode::kNotFound, path + " no longer exists");
  }
  auto child = children_.find({inode->parent, inode->name});
  if (inode->parent == 0 || child == children_.end() || child->second != ino) {
    return AttrReply{inode->attr, Seconds(options_.attr_ttl)};
  }
  Inode& updated = AttachChild(inode->parent, inode->name, **found);
  return AttrReply{updated.attr, Seconds(options_.attr_ttl)};
}

}  // namespace spacesfs::fs

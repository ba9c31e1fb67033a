// Filesystem::Impl: rename (server-side copy, then delete) and what it needs.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Result<std::string> Filesystem::Impl::CopyKey(const std::string& from, const std::string& to,
                                              uint64_t size, bool replace,
                                              const s3::UserMetadata& metadata,
                                              const std::string& content_type, const Caller* who) {
  if (size <= options_.max_single_copy) {
    s3::CopyObjectRequest copy;
    copy.source_key = from;
    copy.destination_key = to;
    copy.directive = replace ? s3::MetadataDirective::kReplace : s3::MetadataDirective::kCopy;
    copy.metadata = metadata;
    copy.content_type = content_type;
    Result<std::string> etag = client_.CopyObject(copy);
    if (!etag.ok()) return FromServer(etag.status(), "COPY", from, who);
    return etag;
  }
  s3::UserMetadata meta = metadata;
  std::string type = content_type;
  if (!replace) {
    Result<s3::ObjectInfo> head = client_.HeadObject(from);
    if (!head.ok()) return FromServer(head.status(), "HEAD", from, who);
    meta = head->metadata;
    type = head->content_type;
  }
  const s3::PartLayout layout = CopyLayout(size);
  const uint64_t part_size = layout.part_size;
  meta[kPartLayoutKey] = FormatPartLayout(layout);
  return UploadInParts(
      to, meta, type, (size + part_size - 1) / part_size, "UPLOAD-PART-COPY",
      [&](const std::string& id, int number) {
        s3::UploadPartCopyRequest part;
        part.source_key = from;
        part.destination_key = to;
        part.upload_id = id;
        part.part_number = number;
        uint64_t off = static_cast<uint64_t>(number - 1) * part_size;
        part.source_range = s3::ByteRange{off, std::min(size, off + part_size) - 1};
        return client_.UploadPartCopy(part);
      },
      who);
}

s3::PartLayout Filesystem::Impl::CopyLayout(uint64_t size) const {
  // Parts small enough for a server to copy well within the client's request timeouts (a server
  // sends nothing until a part is copied), and at most 10,000 of them.
  uint64_t part_size = std::max<uint64_t>(options_.copy_part_size, 5ull << 20);
  while ((size + part_size - 1) / part_size > 10000) part_size *= 2;
  return s3::PartLayout{part_size, 0};
}

// A directory without a marker exists only through the keys below it. When the mount removes
// the last of them, the directory must stay: write its marker.
void Filesystem::Impl::KeepDirectory(InodeId dir, const Caller* who) {
  std::string path;
  s3::UserMetadata metadata;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(dir);
    bool marker_known = inode != nullptr && inode->has_marker && inode->marker_expiry > Now();
    if (inode == nullptr || dir == kRootInode || inode->type != FileType::kDirectory ||
        marker_known || inode->parent == 0) {
      return;
    }
    path = inode->path;
    metadata = MetadataFor(*inode);
  }
  std::string prefix = DirPrefix(path);
  s3::ListObjectsRequest list;
  list.prefix = prefix;
  list.max_keys = 1;
  Result<s3::ListObjectsPage> page = client_.ListObjects(list);
  if (!page.ok()) {
    spdlog::warn("{}", FromServer(page.status(), "LIST", prefix, who).ToString());
    return;
  }
  if (!page->objects.empty() && page->objects[0].key != prefix) return;  // not empty, no marker
  if (page->objects.empty()) {
    Result<std::string> etag = PutEmpty(prefix, metadata, kDirectoryContentType, who);
    if (!etag.ok()) {
      spdlog::warn("{}", etag.status().ToString());
      return;
    }
  }
  std::lock_guard lock(mu_);
  if (Inode* inode = FindInode(dir)) {
    inode->has_marker = true;
    inode->marker_expiry = Now() + options_.attr_ttl;
  }
}

Status Filesystem::Impl::FlushFilesUnder(const std::string& path, const Caller* who) {
  std::vector<std::pair<InodeId, std::shared_ptr<OpenFile>>> files;
  {
    std::lock_guard lock(mu_);
    for (auto& [ino, inode] : inodes_) {
      if (!inode.file) continue;
      if (inode.path == path || inode.path.compare(0, path.size() + 1, path + "/") == 0) {
        files.emplace_back(ino, inode.file);
      }
    }
  }
  for (auto& [ino, file] : files) {
    std::lock_guard flock(file->mu);
    SPACESFS_RETURN_IF_ERROR(UploadLocked(ino, *file, who));
  }
  return Status::Ok();
}

Status Filesystem::Impl::Rename(const Caller& caller, InodeId parent, std::string_view name_view,
                                InodeId new_parent, std::string_view new_name_view,
                                unsigned flags) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  if (flags & kRenameExchange) return Status(ErrorCode::kNotSupported, "RENAME_EXCHANGE");
  std::string name(name_view), new_name(new_name_view);
  Result<std::string> dst_child = ChildPath(new_parent, new_name);
  if (!dst_child.ok()) return dst_child.status();
  const std::string dst_path = std::move(*dst_child);
  const std::shared_ptr<const auth::ScopeChecker> scope = Scope();  // one scope for all checks
  {
    // Before any request. The scope key of a directory is its own key, and the engine's
    // permission never shrinks going down, so checking a directory covers every key below it.
    Result<std::string> src_path = ChildPath(parent, name);
    if (!src_path.ok()) return src_path.status();
    SPACESFS_RETURN_IF_ERROR(
        Authorize(scope.get(), caller, auth::Operation::kRenameFrom, *src_path));
    SPACESFS_RETURN_IF_ERROR(Authorize(scope.get(), caller, auth::Operation::kRenameTo, dst_path));
  }
  Result<Resolved> src = ResolveChild(parent, name, &caller);
  if (!src.ok()) return src.status();
  if (!src->exists) return Status(ErrorCode::kNotFound, name);
  bool is_dir = src->type == FileType::kDirectory;
  SPACESFS_RETURN_IF_ERROR(CheckNewName(new_name, is_dir ? DirPrefix(dst_path) : Key(dst_path)));
  if (dst_path == src->path) return Status::Ok();
  if (is_dir && dst_path.compare(0, src->path.size() + 1, src->path + "/") == 0) {
    return Status(ErrorCode::kInvalidArgument, "cannot move a directory into itself");
  }
  Result<Resolved> dst = ResolveChild(new_parent, new_name, &caller);
  if (!dst.ok()) return dst.status();
  if (dst->exists) {
    if (flags & kRenameNoReplace) return Status(ErrorCode::kExists, dst_path);
    SPACESFS_RETURN_IF_ERROR(
        Authorize(scope.get(), caller, auth::Operation::kOverwrite, dst_path));
    bool dst_dir = dst->type == FileType::kDirectory;
    if (is_dir && !dst_dir) return Status(ErrorCode::kNotDirectory, dst_path);
    if (!is_dir && dst_dir) return Status(ErrorCode::kIsDirectory, dst_path);
    if (dst_dir) {
      if (!UnsavedChildren(dst->ino).empty()) return Status(ErrorCode::kNotEmpty, dst_path);
      s3::ListObjectsRequest list;
      list.prefix = DirPrefix(dst_path);
      list.max_keys = 2;
      Result<s3::ListObjectsPage> page = client_.ListObjects(list);
      if (!page.ok()) return FromServer(page.status(), "LIST", list.prefix, &caller);
      for (const s3::ObjectInfo& object : page->objects) {
        if (object.key != list.prefix) return Status(ErrorCode::kNotEmpty, dst_path);
      }
    }
  }
  SPACESFS_RETURN_IF_ERROR(FlushFilesUnder(src->path, &caller));

  if (!is_dir) {
    std::string from = Key(src->path), to = Key(dst_path);
    uint64_t size = 0;
    bool replace = false;
    s3::UserMetadata metadata;
    std::string content_type;
    {
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(src->ino);
      if (inode == nullptr) return Status(ErrorCode::kNotFound, name);
      size = inode->attr.size;
      inode->attr.ctime_ns = WallNowNs();
      replace = inode->meta_pending;
      metadata = MetadataFor(*inode);
      content_type = inode->content_type;
    }
    // Open handles of a file being replaced keep their bytes, as with unlink.
    std::shared_ptr<OpenFile> replaced;
    if (dst->exists) {
      std::lock_guard lock(mu_);
      if (Inode* old = FindInode(dst->ino); old != nullptr && old->ino != src->ino) {
        replaced = old->file;
      }
    }
    std::unique_lock<std::mutex> replaced_lock;
    if (replaced) {
      replaced_lock = std::unique_lock(replaced->mu);
      Status loaded = EnsureLoaded(dst->ino, *replaced, to, &caller);
      if (!loaded.ok() && loaded.code() != ErrorCode::kStale) return loaded;
    }
    Result<std::string> etag = CopyKey(from, to, size, replace, metadata, content_type, &caller);
    if (!etag.ok()) return etag.status();
    Status del = client_.DeleteObject(from);
    if (!del.ok()) return FromServer(del, "DELETE", from, &caller);
    std::unique_lock lock(mu_);
    if (dst->exists) {
      if (Inode* old = FindInode(dst->ino); old != nullptr && old->ino != src->ino) {
        if (old->file) old->file->unlinked = true;  // its bytes were replaced
        Detach(*old);
      }
    }
    if (Inode* inode = FindInode(src->ino)) {
      MoveSubtree(*inode, new_parent, new_name);
      if (replace) inode->meta_pending = false;
      inode->etag = *etag;
      inode->attr_expiry = Now() + options_.attr_ttl;
    }
    negative_.erase({new_parent, new_name});
    if (options_.negative_ttl.count() > 0) negative_[{parent, name}] = Now() + options_.negative_ttl;
    lock.unlock();
    if (parent != new_parent) KeepDirectory(parent, &caller);
    return Status::Ok();
  }

  // A directory: copy every key below it, then delete the originals.
  std::string from_prefix = DirPrefix(src->path), to_prefix = DirPrefix(dst_path);
  std::vector<std::string> keys;
  s3::ListObjectsRequest list;
  list.prefix = from_prefix;
  list.max_keys = 1000;
  for (;;) {
    Result<s3::ListObjectsPage> page = client_.ListObjects(list);
    if (!page.ok()) return FromServer(page.status(), "LIST", from_prefix, &caller);
    for (const s3::ObjectInfo& object : page->objects) {
      Result<std::string> etag =
          CopyKey(object.key, to_prefix + object.key.substr(from_prefix.size()), object.size, false,
                  {}, "", &caller);
      if (!etag.ok()) return etag.status();
      keys.push_back(object.key);
    }
    if (!page->is_truncated) break;
    list.continuation_token = page->next_continuation_token;
  }
  if (keys.empty()) {  // a directory only this mount knew of: keep it at its new name
    s3::UserMetadata marker_metadata;
    {
      std::lock_guard lock(mu_);
      if (Inode* inode = FindInode(src->ino)) marker_metadata = MetadataFor(*inode);
    }
    Result<std::string> etag = PutEmpty(to_prefix, marker_metadata, kDirectoryContentType, &caller);
    if (!etag.ok()) return etag.status();
  }
  for (size_t i = 0; i < keys.size(); i += 1000) {
    std::vector<std::string> batch(keys.begin() + i,
                                   keys.begin() + std::min(keys.size(), i + 1000));
    Result<std::vector<s3::DeleteError>> failed = client_.DeleteObjects(batch);
    if (!failed.ok()) return FromServer(failed.status(), "DELETE-OBJECTS", from_prefix, &caller);
    if (!failed->empty()) {
      return FromServer(failed->front().status, "DELETE-OBJECTS", failed->front().key, &caller);
    }
  }
  std::unique_lock lock(mu_);
  if (dst->exists) {
    if (Inode* old = FindInode(dst->ino); old != nullptr && old->ino != src->ino) Detach(*old);
  }
  if (Inode* inode = FindInode(src->ino)) {
    MoveSubtree(*inode, new_parent, new_name);
    inode->has_marker = inode->has_marker || keys.empty();
  }
  negative_.erase({new_parent, new_name});
  if (options_.negative_ttl.count() > 0) negative_[{parent, name}] = Now() + options_.negative_ttl;
  lock.unlock();
  if (parent != new_parent) KeepDirectory(parent, &caller);
  return Status::Ok();
}

}  // namespace spacesfs::fs

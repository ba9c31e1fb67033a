// Filesystem::Impl: readlink, and making and removing files, directories and symlinks.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Result<std::string> Filesystem::Impl::ReadLink(const Caller& caller, InodeId ino) {
  std::string key;
  std::string path;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    if (inode->type != FileType::kSymlink) {
      return Status(ErrorCode::kInvalidArgument, "not a symbolic link");
    }
    path = inode->path;
  }
  SPACESFS_RETURN_IF_ERROR(Authorize(caller, auth::Operation::kRead, path));
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    if (inode->link_known) return inode->link_target;
    key = Key(inode->path);
  }
  std::string target;
  s3::GetObjectRequest get;
  get.key = key;
  Result<s3::ObjectInfo> info = client_.GetObject(get, [&](std::string_view chunk) {
    target.append(chunk);
    return Status::Ok();
  });
  if (!info.ok()) return FromServer(info.status(), "GET", key, &caller);
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(ino);
  if (inode != nullptr && info->etag == inode->etag) {
    inode->link_target = target;
    inode->link_known = true;
  }
  return target;
}

Result<Entry> Filesystem::Impl::MakeObject(const Caller& caller, InodeId parent,
                                           std::string_view name_view, FileType type,
                                           uint32_t mode, std::string_view link_target,
                                           bool excl) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  std::string name(name_view);
  Result<std::string> child_path = ChildPath(parent, name);
  if (!child_path.ok()) return child_path.status();
  const std::string& path = *child_path;
  std::string key = type == FileType::kDirectory ? DirPrefix(path) : Key(path);
  SPACESFS_RETURN_IF_ERROR(CheckNewName(name, key));
  SPACESFS_RETURN_IF_ERROR(Authorize(
      caller, type == FileType::kDirectory ? auth::Operation::kMkdir : auth::Operation::kCreate,
      path));
  Result<Resolved> existing = ResolveChild(parent, name, &caller);
  if (!existing.ok()) return existing.status();
  if (existing->exists) return Status(ErrorCode::kExists, path);

  int64_t now = WallNowNs();
  Attributes attr;
  attr.type = type;
  attr.mode = ModeBitsFor(type) | (type == FileType::kSymlink ? 0777 : (mode & 07777));
  attr.uid = caller.uid;
  attr.gid = caller.gid;
  attr.atime_ns = attr.mtime_ns = attr.ctime_ns = now;
  s3::UserMetadata metadata;
  StoreAttributes(attr, &metadata);
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView(link_target);
  put.metadata = metadata;
  put.content_type = type == FileType::kDirectory ? kDirectoryContentType : "";
  put.if_none_match = excl;
  Result<std::string> etag = client_.PutObject(put);
  if (!etag.ok()) {
    if (etag.status().code() == ErrorCode::kPreconditionFailed) {
      return Status(ErrorCode::kExists, path);
    }
    return FromServer(etag.status(), "PUT", key, &caller);
  }
  Found found;
  found.type = type;
  found.has_marker = type == FileType::kDirectory;
  found.metadata_known = true;
  found.info.key = key;
  found.info.size = link_target.size();
  found.info.etag = *etag;
  found.info.last_modified_ns = now;
  found.info.metadata = metadata;
  std::lock_guard lock(mu_);
  if (Inode* p = FindInode(parent)) p->puts_accepted = true;
  Inode& inode = AttachChild(parent, name, found);
  inode.puts_accepted = type == FileType::kDirectory;
  inode.attr = attr;
  inode.attr.size = type == FileType::kDirectory ? 4096 : link_target.size();
  inode.attr.blocks = (inode.attr.size + 511) / 512;
  if (type == FileType::kDirectory) {
    inode.attr.nlink = 2;
    // Nothing was under it a moment ago: what this mount creates in it needs no lookup LIST.
    if (options_.negative_ttl.count() > 0) inode.complete_until = Now() + options_.negative_ttl;
  }
  inode.attr.ino = inode.ino;
  if (type == FileType::kSymlink) {
    inode.link_target = std::string(link_target);
    inode.link_known = true;
  }
  inode.lookups++;
  return MakeEntry(inode);
}

Status Filesystem::Impl::Unlink(const Caller& caller, InodeId parent, std::string_view name) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  Result<std::string> path = ChildPath(parent, name);
  if (!path.ok()) return path.status();
  SPACESFS_RETURN_IF_ERROR(Authorize(caller, auth::Operation::kDelete, *path));
  Result<Resolved> r = ResolveChild(parent, name, &caller);
  if (!r.ok()) return r.status();
  if (!r->exists) return Status(ErrorCode::kNotFound, std::string(name));
  if (r->type == FileType::kDirectory) return Status(ErrorCode::kIsDirectory, r->path);
  std::string key = Key(r->path);
  std::shared_ptr<OpenFile> file;
  {
    std::lock_guard lock(mu_);
    if (Inode* inode = FindInode(r->ino)) file = inode->file;
  }
  std::unique_lock<std::mutex> flock;
  bool unsaved = false;
  if (file) {
    // Open handles keep their bytes: bring them local before the object goes.
    flock = std::unique_lock(file->mu);
    {
      std::lock_guard lock(mu_);
      if (Inode* inode = FindInode(r->ino)) unsaved = inode->unsaved;
    }
    // A file not stored yet has all its bytes here (a stream of one part at most).
    Status loaded = unsaved ? StageStreamedBytes(*file) : EnsureLoaded(r->ino, *file, key, &caller);
    // An object that already changed on the server cannot be kept for the open handles: they
    // get kStale, as they would without the unlink.
    if (!loaded.ok() && loaded.code() != ErrorCode::kStale) return loaded;
    file->unlinked = true;
  }
  Status s = unsaved ? Status::Ok() : client_.DeleteObject(key);
  if (!s.ok()) {
    if (file) file->unlinked = false;
    return FromServer(s, "DELETE", key, &caller);
  }
  {
    std::lock_guard lock(mu_);
    if (Inode* inode = FindInode(r->ino)) {
      inode->meta_pending = false;
      inode->unsaved = false;
      Detach(*inode);
    }
    if (options_.negative_ttl.count() > 0) {
      negative_[{parent, std::string(name)}] = Now() + options_.negative_ttl;
    }
  }
  KeepDirectory(parent, &caller);
  return Status::Ok();
}

Status Filesystem::Impl::RmDir(const Caller& caller, InodeId parent, std::string_view name) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  Result<std::string> path = ChildPath(parent, name);
  if (!path.ok()) return path.status();
  SPACESFS_RETURN_IF_ERROR(Authorize(caller, auth::Operation::kRmdir, *path));
  Result<Resolved> r = ResolveChild(parent, name, &caller);
  if (!r.ok()) return r.status();
  if (!r->exists) return Status(ErrorCode::kNotFound, std::string(name));
  if (r->type != FileType::kDirectory) return Status(ErrorCode::kNotDirectory, r->path);
  if (!UnsavedChildren(r->ino).empty()) return Status(ErrorCode::kNotEmpty, r->path);
  std::string prefix = DirPrefix(r->path);
  s3::ListObjectsRequest list;
  list.prefix = prefix;
  list.max_keys = 2;
  Result<s3::ListObjectsPage> page = client_.ListObjects(list);
  if (!page.ok()) return FromServer(page.status(), "LIST", prefix, &caller);
  for (const s3::ObjectInfo& object : page->objects) {
    if (object.key != prefix) return Status(ErrorCode::kNotEmpty, r->path);
  }
  Status s = client_.DeleteObject(prefix);
  if (!s.ok()) return FromServer(s, "DELETE", prefix, &caller);
  {
    std::lock_guard lock(mu_);
    if (Inode* inode = FindInode(r->ino)) {
      inode->meta_pending = false;
      Detach(*inode);
    }
    if (options_.negative_ttl.count() > 0) {
      negative_[{parent, std::string(name)}] = Now() + options_.negative_ttl;
    }
  }
  KeepDirectory(parent, &caller);
  return Status::Ok();
}

}  // namespace spacesfs::fs

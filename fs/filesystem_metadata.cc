// Filesystem::Impl: setattr (chmod, chown, utimens, truncate) and writing metadata changes to
// the server.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Result<AttrReply> Filesystem::Impl::SetAttr(const Caller& caller, InodeId ino,
                                            const SetAttrRequest& request,
                                            std::optional<FileHandle> fh) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  std::shared_ptr<OpenFile> file;
  std::string key;
  std::string path;
  FileType type;
  bool creating = false;  // the caller holds the handle that created this file
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    type = inode->type;
    path = inode->path;
    key = type == FileType::kDirectory ? DirPrefix(inode->path) : Key(inode->path);
    file = inode->file;
    for (const auto& [id, h] : handles_) {
      if (h->ino != ino || !h->created || h->caller.uid != caller.uid) continue;
      if (!fh || *fh == id) creating = true;
    }
  }
  bool times_only = !request.mode && !request.uid && !request.gid;
  if (request.size) {
    SPACESFS_RETURN_IF_ERROR(Authorize(
        caller, creating ? auth::Operation::kCreate : auth::Operation::kOverwrite, path));
  }
  if (request.mode || request.uid || request.gid || request.atime_ns || request.mtime_ns) {
    // Setting the times of a file one is still creating (touch, cp -p) is part of creating it.
    SPACESFS_RETURN_IF_ERROR(Authorize(
        caller, creating && times_only ? auth::Operation::kCreate : auth::Operation::kSetattr,
        path));
  }
  if (request.size) {
    if (type == FileType::kDirectory) return Status(ErrorCode::kIsDirectory, key);
    if (type == FileType::kSymlink) return Status(ErrorCode::kInvalidArgument, key);
    if (fh) {
      Result<std::shared_ptr<Handle>> h = GetHandle(*fh);
      if (!h.ok()) return h.status();
      file = (*h)->file;
    }
    bool temporary = !file;
    if (temporary) {
      // truncate(2) of a file not open here: stage, truncate, upload now.
      file = std::make_shared<OpenFile>();
      Result<AttrReply> current = GetAttr(nullptr, ino);
      if (!current.ok()) return current.status();
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(ino);
      if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
      file->base_etag = inode->etag;
      file->base_size = inode->attr.size;
    }
    std::lock_guard flock(file->mu);
    if (*request.size == 0) {
      file->DropBytes();
      file->base_size = 0;
      file->dirty = true;
    } else if (!(file->stream && file->stream->size() == *request.size)) {
      SPACESFS_RETURN_IF_ERROR(EnsureLoaded(ino, *file, key, &caller));
      SPACESFS_RETURN_IF_ERROR(file->staging->Truncate(*request.size));
      file->dirty = true;
    }
    {
      std::lock_guard lock(mu_);
      if (Inode* inode = FindInode(ino)) {
        inode->attr.size = *request.size;
        inode->local_dirty = !temporary;
        inode->attr.blocks = (*request.size + 511) / 512;
        inode->attr.mtime_ns = inode->attr.ctime_ns = WallNowNs();
      }
    }
    if (temporary) SPACESFS_RETURN_IF_ERROR(UploadLocked(ino, *file, &caller));
  }
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(ino);
  if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
  bool meta = request.mode || request.uid || request.gid || request.atime_ns || request.mtime_ns;
  if (request.mode) inode->attr.mode = ModeBitsFor(inode->type) | (*request.mode & 07777);
  if (request.uid) inode->attr.uid = *request.uid;
  if (request.gid) inode->attr.gid = *request.gid;
  if (request.atime_ns) inode->attr.atime_ns = *request.atime_ns;
  if (request.mtime_ns) inode->attr.mtime_ns = *request.mtime_ns;
  if (meta) {
    inode->attr.ctime_ns = WallNowNs();
    if (!inode->meta_pending) {
      inode->meta_pending = true;
      inode->meta_since = Clock::now();
    }
  }
  return AttrReply{inode->attr, Seconds(options_.attr_ttl)};
}

Status Filesystem::Impl::FlushMetadata(InodeId ino, const Caller* who) {
  std::string path;
  FileType type;
  bool has_marker = false;
  bool metadata_known = false;
  uint64_t size = 0;
  std::shared_ptr<OpenFile> file;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr || !inode->meta_pending) return Status::Ok();
    if (inode->parent == 0 && ino != kRootInode) {
      inode->meta_pending = false;
      MaybeErase(ino);
      return Status::Ok();
    }
    path = inode->path;
    type = inode->type;
    has_marker = inode->has_marker;
    metadata_known = inode->metadata_known;
    size = inode->attr.size;
    file = inode->file;
  }
  std::unique_lock<std::mutex> flock;
  if (file) {
    flock = std::unique_lock(file->mu);
    if (file->dirty) return UploadLocked(ino, *file, who);  // the upload carries the metadata
  }
  if (type == FileType::kDirectory && path.empty() && options_.prefix.empty()) {
    std::lock_guard lock(mu_);
    if (Inode* inode = FindInode(ino)) inode->meta_pending = false;
    return Status::Ok();  // the bucket root has no object to hold it
  }
  std::string key = type == FileType::kDirectory ? DirPrefix(path) : Key(path);
  if (!metadata_known && (type != FileType::kDirectory || has_marker)) {
    Result<s3::ObjectInfo> head = client_.HeadObject(key);
    if (!head.ok() && head.status().code() != ErrorCode::kNotFound) {
      return FromServer(head.status(), "HEAD", key, who);
    }
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status::Ok();
    if (head.ok()) {
      inode->metadata = head->metadata;
      inode->content_type = head->content_type;
      inode->metadata_known = true;
    } else if (type != FileType::kDirectory) {
      inode->meta_pending = false;
      return Status::Ok();  // gone
    } else {
      has_marker = false;
    }
  }
  s3::UserMetadata metadata;
  std::string content_type;
  std::string old_etag;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status::Ok();
    metadata = MetadataFor(*inode);
    content_type = inode->content_type;
    old_etag = inode->etag;
    inode->meta_pending = false;
  }
  Result<std::string> etag = Status(ErrorCode::kInternal, "unset");
  if (type == FileType::kDirectory && !has_marker) {
    etag = PutEmpty(key, metadata, kDirectoryContentType, who);
  } else if (type != FileType::kDirectory && size > options_.max_single_copy) {
    // More than one CopyObject may copy: the object is copied onto itself in parts (whose
    // layout the recorded metadata then names, for the checks of later reads).
    metadata[kPartLayoutKey] = FormatPartLayout(CopyLayout(size));
    etag = CopyKey(key, key, size, /*replace=*/true, metadata, content_type, who);
    if (!etag.ok() && etag.status().code() == ErrorCode::kNotFound) return Status::Ok();
  } else {
    s3::CopyObjectRequest copy;
    copy.source_key = key;
    copy.destination_key = key;
    copy.directive = s3::MetadataDirective::kReplace;
    copy.metadata = metadata;
    copy.content_type = content_type.empty() && type == FileType::kDirectory
                            ? kDirectoryContentType
                            : content_type;
    etag = client_.CopyObject(copy);
    if (!etag.ok()) {
      if (etag.status().code() == ErrorCode::kNotFound) return Status::Ok();
      etag = FromServer(etag.status(), "COPY", key, who);
    }
  }
  std::vector<std::shared_ptr<Handle>> to_update;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (!etag.ok()) {
      if (inode != nullptr && !inode->meta_pending) {
        inode->meta_pending = true;
        inode->meta_since = Clock::now();
      }
      return etag.status();
    }
    if (inode == nullptr) return Status::Ok();
    inode->metadata = metadata;
    inode->metadata_known = true;
    if (type == FileType::kDirectory) {
      inode->has_marker = true;
    } else {
      inode->etag = *etag;
    }
    if (inode->lookups == 0 && inode->opens == 0) MaybeErase(ino);
    for (auto& [fh, h] : handles_) {
      if (h->ino == ino) to_update.push_back(h);
    }
  }
  if (file && !file->staging && file->base_etag == old_etag) file->base_etag = *etag;
  for (auto& h : to_update) {  // same bytes, new ETag: open handles stay valid
    std::lock_guard hlock(h->mu);
    if (h->etag == old_etag) h->etag = *etag;
  }
  return Status::Ok();
}

Status Filesystem::Impl::SyncMetadata(bool only_due) {
  std::vector<InodeId> due;
  {
    std::lock_guard lock(mu_);
    TimePoint now = Clock::now();
    for (auto& [ino, inode] : inodes_) {
      if (!inode.meta_pending) continue;
      if (only_due && inode.meta_since + options_.metadata_flush_delay > now) continue;
      due.push_back(ino);
    }
  }
  Status first;
  for (InodeId ino : due) {
    Status s = FlushMetadata(ino, nullptr);
    if (!s.ok()) {
      spdlog::warn("writing attributes failed: {}", s.ToString());
      if (first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace spacesfs::fs

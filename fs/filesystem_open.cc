// Filesystem::Impl: open and create.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Result<std::shared_ptr<Handle>> Filesystem::Impl::GetHandle(FileHandle fh) {
  std::lock_guard lock(mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) return Status(ErrorCode::kNotFound, "unknown file handle");
  return it->second;
}

Result<OpenReply> Filesystem::Impl::Open(const Caller& caller, InodeId ino, int flags,
                                         bool created) {
  bool write = Writable(flags);
  if (write && options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  std::string path;
  uint64_t known_size = 0;
  bool fresh = false;
  std::shared_ptr<OpenFile> file;
  {
    std::unique_lock lock(mu_);
    Inode* inode = AwaitRevalidatingPrefetch(lock, ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    if (inode->type == FileType::kDirectory) return Status(ErrorCode::kIsDirectory, inode->path);
    path = inode->path;
    known_size = inode->attr.size;
    fresh = inode->attr_expiry > Now() || inode->parent == 0;
    if (!inode->file) inode->file = std::make_shared<OpenFile>();
    file = inode->file;
    inode->opens++;  // keeps the inode (and its OpenFile) while we work unlocked
  }
  auto undo = [&] {
    std::lock_guard lock(mu_);
    if (Inode* inode = FindInode(ino)) {
      if (--inode->opens == 0) inode->file.reset();
      MaybeErase(ino);
    }
  };
  std::string key = Key(path);
  auto handle = std::make_shared<Handle>();
  handle->ino = ino;
  handle->flags = flags;
  handle->caller = caller;
  handle->created = created;
  handle->file = file;
  Status access = (flags & O_ACCMODE) == O_WRONLY
                      ? Status::Ok()
                      : Authorize(caller, auth::Operation::kRead, path);
  if (access.ok() && write) access = Authorize(caller, WriteOperation(*handle), path);
  if (access.ok() && write && (flags & O_TRUNC) && !created) {
    access = Authorize(caller, auth::Operation::kOverwrite, path);
  }
  if (!access.ok()) {
    undo();
    return access;
  }
  {
    std::lock_guard flock(file->mu);
    if (!file->dirty && (!file->staging || !file->unlinked)) {
      // Close-to-open: the version this open sees. Clean staged bytes of an older version
      // are dropped (handles still reading them then get kStale from the server).
      std::string etag;
      uint64_t size = 0;
      if (fresh) {
        std::lock_guard lock(mu_);
        Inode* inode = FindInode(ino);
        etag = inode->etag;
        size = inode->attr.size;
      } else {
        std::optional<std::string> body;  // a small file's content, when its GET brought it
        Result<s3::ObjectInfo> head = HeadOrSmallGet(key, known_size, &body, &caller);
        if (!head.ok()) {
          undo();
          if (head.status().code() == ErrorCode::kNotFound) {
            std::lock_guard lock(mu_);
            if (Inode* inode = FindInode(ino)) Detach(*inode);
          }
          return head.status().code() == ErrorCode::kNotFound
                     ? head.status().WithContext("HEAD " + key)
                     : head.status();
        }
        etag = head->etag;
        size = head->size;
        std::lock_guard lock(mu_);
        Inode* inode = FindInode(ino);
        if (inode->etag != etag || !inode->metadata_known) {
          inode->attr = AttributesFromObject(*head, inode->type, options_);
          inode->attr.ino = ino;
          inode->link_known = false;
        }
        inode->etag = etag;
        inode->metadata = head->metadata;
        inode->content_type = head->content_type;
        inode->metadata_known = true;
        inode->attr_expiry = Now() + options_.attr_ttl;
        UpdateSmallBody(*inode, std::move(body));
      }
      if (file->staging && etag != file->base_etag) file->staging.reset();
      file->base_etag = etag;
      file->base_size = size;
    }
    handle->etag = file->base_etag;
    handle->size = file->base_size;
    if (write && (flags & O_TRUNC)) {
      // Empty now: a stream or staging file starts with the next write.
      file->DropBytes();
      file->base_size = 0;
      file->dirty = true;
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(ino);
      inode->attr.size = 0;
      inode->local_dirty = true;
      inode->attr.blocks = 0;
      inode->attr.mtime_ns = inode->attr.ctime_ns = WallNowNs();
    }
  }
  std::lock_guard lock(mu_);
  FileHandle fh = next_handle_++;
  handles_[fh] = handle;
  OpenReply reply;
  reply.fh = fh;
  // The kernel keeps the pages it has of this file while the version is the one they came from.
  if (Inode* inode = FindInode(ino)) {
    bool clean = !inode->local_dirty && !handle->etag.empty();
    reply.keep_cache = clean && inode->cached_etag == handle->etag;
    inode->cached_etag = clean ? handle->etag : "";
  }
  return reply;
}

Result<Entry> Filesystem::Impl::CreateLocal(const Caller& caller, InodeId parent,
                                           std::string_view name_view, uint32_t mode, bool excl) {
  std::string name(name_view);
  Result<std::string> child_path = ChildPath(parent, name);
  if (!child_path.ok()) return child_path.status();
  const std::string& path = *child_path;
  std::string key = Key(path);
  SPACESFS_RETURN_IF_ERROR(CheckNewName(name, key));
  Attributes attr;
  attr.type = FileType::kRegular;
  attr.mode = ModeBitsFor(FileType::kRegular) | (mode & 07777);
  attr.uid = caller.uid;
  attr.gid = caller.gid;
  attr.atime_ns = attr.mtime_ns = attr.ctime_ns = WallNowNs();
  Found found;
  found.type = FileType::kRegular;
  found.metadata_known = true;
  found.info.key = key;
  found.info.last_modified_ns = attr.mtime_ns;
  StoreAttributes(attr, &found.info.metadata);
  auto file = std::make_shared<OpenFile>();
  file->dirty = true;  // empty, and stored by its first upload
  file->exclusive = excl;
  std::lock_guard lock(mu_);
  Inode& inode = AttachChild(parent, name, found);
  inode.attr = attr;
  inode.attr.ino = inode.ino;
  inode.unsaved = true;
  inode.local_dirty = true;
  inode.file = std::move(file);
  inode.lookups++;
  return MakeEntry(inode);
}

Result<CreateReply> Filesystem::Impl::Create(const Caller& caller, InodeId parent,
                                             std::string_view name, uint32_t mode, int flags) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  bool excl = (flags & O_EXCL) != 0;
  {
    // Before any request. Every permission that may overwrite may also create, so a caller
    // refused kCreate is refused whatever exists at the name.
    Result<std::string> path = ChildPath(parent, name);
    if (!path.ok()) return path.status();
    SPACESFS_RETURN_IF_ERROR(Authorize(caller, auth::Operation::kCreate, *path));
  }
  Result<Resolved> existing = ResolveChild(parent, name, &caller, /*pin=*/true);
  if (!existing.ok()) return existing.status();
  CreateReply reply;
  if (existing->exists) {
    // Pinned by ResolveChild: the count is the kernel's once the entry is answered.
    if (excl || existing->type == FileType::kDirectory) {
      Unpin(existing->ino);
      if (excl) return Status(ErrorCode::kExists, existing->path);
      return Status(ErrorCode::kIsDirectory, existing->path);
    }
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(existing->ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, existing->path);
    reply.entry = MakeEntry(*inode);
  } else {
    bool accepted = false;
    {
      std::lock_guard lock(mu_);
      if (Inode* p = FindInode(parent)) accepted = p->puts_accepted;
    }
    // The first file made in a directory is stored at once, so a key the server refuses fails
    // the open (which every program checks), not only the close.
    Result<Entry> entry = accepted ? CreateLocal(caller, parent, name, mode, excl)
                                   : MakeObject(caller, parent, name, FileType::kRegular, mode,
                                                "", excl);
    if (!entry.ok()) return entry.status();
    reply.entry = *entry;
  }
  Result<OpenReply> open = Open(caller, reply.entry.ino, flags, !existing->exists);
  if (!open.ok()) {
    {
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(reply.entry.ino);
      if (inode != nullptr && inode->unsaved) {  // never stored: the name holds nothing
        inode->unsaved = false;
        inode->local_dirty = false;
        inode->file.reset();
        Detach(*inode);
      }
    }
    Forget(reply.entry.ino, 1);
    return open.status();
  }
  reply.open = *open;
  std::lock_guard lock(mu_);
  if (Inode* inode = FindInode(reply.entry.ino)) reply.entry = MakeEntry(*inode);
  return reply;
}

}  // namespace spacesfs::fs

// Filesystem::Impl: read, write, flush and release of an open file.

#include "fs/filesystem_impl.h"

#include "s3/md5_lanes.h"

namespace spacesfs::fs {

Status Filesystem::Impl::ReadRemote(Handle& handle, const std::string& key, uint64_t offset,
                                    size_t size, ReadView* view) {
  std::shared_ptr<ReadAhead> reader;
  auto current = [&handle] {  // REQUIRES handle.mu
    return handle.reader && handle.reader->etag() == handle.etag &&
           handle.reader->size() == handle.size;
  };
  {
    std::lock_guard hlock(handle.mu);
    if (current()) reader = handle.reader;
  }
  if (!reader) {
    // A new reader: with the part layout the inode's version declares (read before handle.mu,
    // since mu_ comes first).
    std::string known_etag;
    std::optional<s3::PartLayout> known_layout;
    {
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(handle.ino);
      if (inode != nullptr && inode->metadata_known) {
        known_etag = inode->etag;
        known_layout = PartLayoutFromMetadata(inode->metadata);
      }
    }
    std::lock_guard hlock(handle.mu);
    if (!current()) {
      ReadAheadParams params;
      params.min_window = std::max<uint64_t>(options_.min_read_ahead, 4096);
      params.max_window = std::max(options_.max_read_ahead, params.min_window);
      params.chunk_size = std::max(options_.read_chunk, params.min_window);
      params.verify = options_.verify_reads;
      // Where the CPU hashes parts side by side, let up to eight chunks (a window) gather first.
      if (s3::Md5LanesVectorised()) {
        params.verify_batch = std::min(8 * params.chunk_size, params.max_window);
      }
      params.cache = options_.disk_cache.get();
      params.buffers = &buffers_;
      if (known_etag == handle.etag) params.layout = known_layout;
      params.unequal_parts = &unequal_parts_;
      handle.reader = std::make_shared<ReadAhead>(client_, pool_, budget_, key, handle.etag,
                                                  handle.size, params);
    }
    reader = handle.reader;  // kept alive if a later read replaces it (a new version)
  }
  Status s = reader->ReadViews(offset, size, &view->pieces, &view->keep);
  if (!s.ok()) {
    if (s.code() == ErrorCode::kStale || s.code() == ErrorCode::kCorrupt) {
      spdlog::warn("GET {}: {}", key, s.ToString());
      return s;
    }
    return FromServer(s, "GET", key, &handle.caller);
  }
  return Status::Ok();
}

Status Filesystem::Impl::Read(FileHandle fh, uint64_t offset, size_t size, ReadView* view) {
  view->pieces.clear();
  view->keep.clear();
  // Bytes from here (a stream, staging, a small file's content) are copied into local; bytes
  // from the server stay in the read-ahead chunks (no allocation for them).
  std::string local;
  std::string* out = &local;
  auto give_owned = [&](Status s) {
    if (s.ok() && !local.empty()) {
      auto owned = std::make_shared<const std::string>(std::move(local));
      view->pieces.push_back(*owned);
      view->keep.push_back(std::move(owned));
    }
    return s;
  };
  Result<std::shared_ptr<Handle>> handle = GetHandle(fh);
  if (!handle.ok()) return handle.status();
  Handle& h = **handle;
  std::string key;
  std::string path;
  InodeId parent = 0;
  std::string name;
  bool small = false;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(h.ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    path = inode->path;
    parent = inode->parent;
    name = inode->name;
    small = inode->attr.size <= kSmallBodyBytes;
  }
  SPACESFS_RETURN_IF_ERROR(Authorize(h.caller, auth::Operation::kRead, path));
  if (offset == 0 && small && parent != 0) PrefetchSiblings(parent, name);
  {
    std::lock_guard flock(h.file->mu);
    OpenFile& file = *h.file;
    if (file.stream) {
      uint64_t end = std::min<uint64_t>(file.stream->size(), offset + size);
      if (offset >= end) return Status::Ok();
      if (file.stream->ReadBuffered(offset, end - offset, out)) return give_owned(Status::Ok());
      // Bytes already sent: complete the object, then read it like any other.
      SPACESFS_RETURN_IF_ERROR(UploadLocked(h.ino, file, &h.caller));
    }
    if (file.staging) return give_owned(file.staging->Read(offset, size, out));
    if (file.dirty) return Status::Ok();  // truncated to empty, not written since
    std::string etag;
    {
      std::lock_guard hlock(h.mu);
      etag = h.etag;
    }
    std::unique_lock lock(mu_);
    Inode* inode = FindInode(h.ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    if (!etag.empty() && inode->small_body_etag != etag && inode->prefetching &&
        inode->etag == etag) {
      // A background GET of this very version is on its way: wait for it rather than ask again.
      inode = AwaitPrefetch(lock, h.ino);
      if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    }
    if (!etag.empty() && inode->small_body_etag == etag) {
      // The content came with the lookup or a background GET: no request.
      if (offset < inode->small_body.size()) out->assign(inode->small_body, offset, size);
      if (offset + size >= inode->small_body.size()) DropSmallBody(*inode);  // read to its end
      return give_owned(Status::Ok());
    }
    key = Key(inode->path);
  }
  return ReadRemote(h, key, offset, size, view);
}

uint64_t Filesystem::Impl::OnePutLimit() const {
  return std::min<uint64_t>(options_.multipart_threshold,
                            std::max<uint64_t>(options_.part_size, 5ull << 20));
}

Result<bool> Filesystem::Impl::TryStreamWrite(InodeId ino, OpenFile& file, uint64_t offset,
                                              std::string_view data, const Caller* who) {
  if (file.staging || file.unlinked) return false;
  if (!file.stream) {
    // Only a file that is empty here, written from its start.
    if (file.base_size != 0 || offset != 0) return false;
    WriteStreamParams params;
    {
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(ino);
      if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
      params.key = Key(inode->path);
      params.content_type = inode->content_type;
      params.metadata = WithoutTimesAndLayout(MetadataFor(*inode));
    }
    params.part_size = std::max<uint64_t>(options_.part_size, 5ull << 20);
    params.max_parallel = options_.upload_parallel;
    params.on_upload_started = [this](const std::string& key, const std::string& id) {
      JournalStarted(key, id);
    };
    params.on_upload_ended = [this](const std::string& id) { JournalEnded(id); };
    file.stream = WriteStream::Start(client_, pool_, budget_, std::move(params));
    if (!file.stream) return false;  // no memory left in the budget: stage on disk
  } else if (offset != file.stream->size()) {
    return false;
  }
  Status s = file.stream->Append(data);
  if (!s.ok()) {
    file.stream.reset();
    file.dirty = false;
    std::string key;
    {
      std::lock_guard lock(mu_);
      if (Inode* inode = FindInode(ino)) key = Key(inode->path);
    }
    return FromServer(s, "UPLOAD-PART", key, who);
  }
  file.dirty = true;
  return true;
}

Result<size_t> Filesystem::Impl::Write(FileHandle fh, uint64_t offset, std::string_view data) {
  if (options_.read_only) return Status(ErrorCode::kReadOnly, "read-only mount");
  Result<std::shared_ptr<Handle>> handle = GetHandle(fh);
  if (!handle.ok()) return handle.status();
  Handle& h = **handle;
  if (!Writable(h.flags)) return Status(ErrorCode::kInvalidArgument, "handle not open for writing");
  OpenFile& file = *h.file;
  std::lock_guard flock(file.mu);
  std::string key;
  std::string path;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(h.ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, "unknown inode");
    path = inode->path;
    key = Key(path);
  }
  // The file's current path: a handle kept across a rename is checked where the file is now.
  SPACESFS_RETURN_IF_ERROR(Authorize(h.caller, WriteOperation(h), path));
  if (h.flags & O_APPEND) {
    offset = file.stream    ? file.stream->size()
             : file.staging ? file.staging->size()
             : file.dirty   ? 0
                            : file.base_size;
  }
  if (offset + data.size() > (5ull << 40)) return Status(ErrorCode::kNoSpace, "over 5 TiB");
  if (offset + data.size() >= OnePutLimit()) {
    // Too large for one PUT: the name is taken on the server now, where others can see it
    // while the parts go up.
    SPACESFS_RETURN_IF_ERROR(SaveCreated(h.ino, file, &h.caller));
  }
  Result<bool> streamed = TryStreamWrite(h.ino, file, offset, data, &h.caller);
  if (!streamed.ok()) return streamed.status();
  uint64_t new_size = 0;
  if (*streamed) {
    new_size = file.stream->size();
  } else {
    SPACESFS_RETURN_IF_ERROR(EnsureLoaded(h.ino, file, key, &h.caller));
    SPACESFS_RETURN_IF_ERROR(file.staging->Write(offset, data));
    file.dirty = true;
    new_size = file.staging->size();
  }
  std::lock_guard lock(mu_);
  if (Inode* inode = FindInode(h.ino)) {
    inode->attr.size = new_size;
    inode->local_dirty = true;
    inode->attr.blocks = (inode->attr.size + 511) / 512;
    inode->attr.mtime_ns = inode->attr.ctime_ns = WallNowNs();
  }
  return data.size();
}

Status Filesystem::Impl::Flush(FileHandle fh) {
  Result<std::shared_ptr<Handle>> handle = GetHandle(fh);
  if (!handle.ok()) return handle.status();
  std::lock_guard flock((*handle)->file->mu);
  if (Status allowed = AuthorizeUpload(**handle); !allowed.ok()) {
    // A handle not open for writing does not own the pending bytes: its writer decides.
    return Writable((*handle)->flags) ? allowed : Status::Ok();
  }
  // A reader closing does not cut a writer's stream short (which would make the writer's next
  // bytes go through a download and a staging file).
  OpenFile& file = *(*handle)->file;
  if (!Writable((*handle)->flags) && file.stream) return Status::Ok();
  if (!file.stream && !file.staging) {
    // A new file not written yet: a shell's `> file` closes a duplicate of the descriptor before
    // the command writes. Its release stores it (empty, if nothing comes).
    std::lock_guard lock(mu_);
    Inode* inode = FindInode((*handle)->ino);
    if (inode != nullptr && inode->unsaved) return Status::Ok();
  }
  return UploadLocked((*handle)->ino, file, &(*handle)->caller);
}

Status Filesystem::Impl::Release(FileHandle fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) return Status(ErrorCode::kNotFound, "unknown file handle");
    handle = it->second;
    handles_.erase(it);
  }
  Status s;
  {
    std::lock_guard flock(handle->file->mu);
    s = AuthorizeUpload(*handle);
    if (!s.ok()) {
      if (Writable(handle->flags)) {
        // Refused where the file is now: the pending bytes are never uploaded.
        handle->file->dirty = false;
      } else {
        s = Status::Ok();  // a reader does not own the pending bytes: its writer decides
      }
    } else if (Writable(handle->flags) || !handle->file->stream) {
      s = UploadLocked(handle->ino, *handle->file, &handle->caller);
    }
  }
  std::lock_guard lock(mu_);
  if (Inode* inode = FindInode(handle->ino)) {
    if (--inode->opens == 0) {
      inode->file.reset();
      inode->local_dirty = false;
      if (inode->unsaved) {  // its bytes never reached the server: the name holds nothing
        inode->unsaved = false;
        inode->meta_pending = false;
        Detach(*inode);
      } else if (!inode->meta_pending) {
        MaybeErase(handle->ino);
      }
    }
  }
  return s;
}

}  // namespace spacesfs::fs

// Filesystem::Impl: getting a file's bytes local and uploading them (one PUT, or in parts), and
// the journal of multipart uploads.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

void Filesystem::Impl::JournalStarted(const std::string& key, const std::string& upload_id) {
  if (!journal_) return;
  if (Status s = journal_->Started(key, upload_id); !s.ok()) spdlog::warn("{}", s.ToString());
}

void Filesystem::Impl::JournalEnded(const std::string& upload_id) {
  if (!journal_) return;
  if (Status s = journal_->Ended(upload_id); !s.ok()) spdlog::warn("{}", s.ToString());
}

Status Filesystem::Impl::EnsureLoaded(InodeId ino, OpenFile& file, const std::string& key,
                                      const Caller* who) {
  if (file.staging) return Status::Ok();
  if (file.stream) {
    // Bytes already streamed are only on the server: complete the object, then load it.
    SPACESFS_RETURN_IF_ERROR(UploadLocked(ino, file, who));
  }
  Result<std::unique_ptr<StagingFile>> staging = StagingFile::Create(options_.staging_dir);
  if (!staging.ok()) return staging.status();
  if (file.base_size > 0) {
    s3::GetObjectRequest get;
    get.key = key;
    get.if_match = file.base_etag;
    uint64_t offset = 0;
    StagingFile& out = **staging;
    Result<s3::ObjectInfo> info = client_.GetObject(get, [&](std::string_view chunk) {
      Status s = out.Write(offset, chunk);
      offset += chunk.size();
      return s;
    });
    if (!info.ok()) {
      if (info.status().code() == ErrorCode::kNotFound) {
        return Status(ErrorCode::kStale, key + " was deleted while open");
      }
      return FromServer(info.status(), "GET", key, who);
    }
    if (offset != file.base_size) return Status(ErrorCode::kIoError, key + ": short download");
  }
  file.staging = std::move(*staging);
  return Status::Ok();
}

Result<std::string> Filesystem::Impl::PutEmpty(const std::string& key,
                                               const s3::UserMetadata& metadata,
                                               const std::string& content_type, const Caller* who,
                                               bool if_none_match) {
  return PutWhole(key, s3::BodySource::FromView(""), metadata, content_type, who, if_none_match);
}

Result<std::string> Filesystem::Impl::PutWhole(const std::string& key, s3::BodySource body,
                                               const s3::UserMetadata& metadata,
                                               const std::string& content_type, const Caller* who,
                                               bool if_none_match) {
  s3::PutObjectRequest put;
  put.key = key;
  put.body = std::move(body);
  put.metadata = metadata;
  put.content_type = content_type;
  put.if_none_match = if_none_match;
  Result<std::string> etag = client_.PutObject(put);
  if (!etag.ok()) return PutFailed(etag.status(), key, who);
  return etag;
}

Status Filesystem::Impl::PutFailed(const Status& s, const std::string& key, const Caller* who) {
  if (s.code() != ErrorCode::kPreconditionFailed) return FromServer(s, "PUT", key, who);
  spdlog::warn("PUT {}: another client stored this name after this mount created it with O_EXCL; "
               "its object is kept and these bytes are not uploaded",
               EscapeControlCharacters(key));
  return Status(ErrorCode::kExists, key + " was created elsewhere after an exclusive create");
}

Status Filesystem::Impl::SaveCreated(InodeId ino, OpenFile& file, const Caller* who) {
  std::string key;
  s3::UserMetadata metadata;
  std::string content_type;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr || !inode->unsaved) return Status::Ok();
    key = Key(inode->path);
    metadata = MetadataFor(*inode);
    content_type = inode->content_type;
  }
  Result<std::string> etag = PutEmpty(key, metadata, content_type, who, file.exclusive);
  if (!etag.ok()) {
    if (etag.status().code() == ErrorCode::kExists) DropPendingBytes(file);
    return etag.status();
  }
  file.exclusive = false;
  std::lock_guard lock(mu_);
  if (Inode* inode = FindInode(ino)) {
    inode->unsaved = false;
    inode->etag = *etag;
    inode->metadata = metadata;
    inode->metadata_known = true;
  }
  return Status::Ok();
}

Status Filesystem::Impl::StageStreamedBytes(OpenFile& file) {
  if (!file.stream) return Status::Ok();
  if (file.stream->started()) return Status(ErrorCode::kInternal, "stream already uploading");
  Result<std::unique_ptr<StagingFile>> staging = StagingFile::Create(options_.staging_dir);
  if (!staging.ok()) return staging.status();
  std::string bytes;
  if (!file.stream->ReadBuffered(0, file.stream->size(), &bytes)) {
    return Status(ErrorCode::kInternal, "stream bytes not buffered");
  }
  SPACESFS_RETURN_IF_ERROR((*staging)->Write(0, bytes));
  file.stream->Abort();
  file.stream.reset();
  file.staging = std::move(*staging);
  return Status::Ok();
}

void Filesystem::Impl::DropPendingBytes(OpenFile& file) {
  file.DropBytes();
  file.dirty = false;
  file.exclusive = false;
}

Result<std::string> Filesystem::Impl::Upload(const std::string& key, const StagingFile& staging,
                                             const s3::UserMetadata& metadata,
                                             const std::string& content_type, const Caller* who,
                                             bool if_none_match) {
  uint64_t size = staging.size();
  if (size < options_.multipart_threshold) {
    return PutWhole(key, staging.Body(0, size), metadata, content_type, who, if_none_match);
  }
  uint64_t part_size = std::max<uint64_t>(options_.part_size, 5ull << 20);
  while ((size + part_size - 1) / part_size > 10000) part_size *= 2;
  s3::UserMetadata upload_metadata = metadata;
  upload_metadata[kPartLayoutKey] = FormatPartLayout(s3::PartLayout{part_size, 0});
  // Parts go up from the staging file (no copy in memory).
  return UploadInParts(
      key, upload_metadata, content_type, (size + part_size - 1) / part_size, "UPLOAD-PART",
      [&](const std::string& id, int number) {
        uint64_t off = static_cast<uint64_t>(number - 1) * part_size;
        return client_.UploadPart(key, id, number,
                                  staging.Body(off, std::min(part_size, size - off)));
      },
      who);
}

Result<std::string> Filesystem::Impl::UploadInParts(const std::string& key,
                                                    const s3::UserMetadata& metadata,
                                                    const std::string& content_type, size_t count,
                                                    const char* part_request,
                                                    const PartSender& send, const Caller* who) {
  Result<std::string> id = client_.CreateMultipartUpload(key, metadata, content_type);
  if (!id.ok()) return FromServer(id.status(), "CREATE-MULTIPART", key, who);
  JournalStarted(key, *id);
  struct Ended {
    Impl* impl;
    const std::string& id;
    ~Ended() { impl->JournalEnded(id); }
  } ended{this, *id};
  struct Progress {
    std::mutex mu;
    std::condition_variable cv;
    size_t in_flight = 0;
    Status error;
  } progress;
  std::vector<s3::CompletedPart> parts(count);  // tasks hold pointers into it
  size_t parallel = std::max<size_t>(options_.upload_parallel, 1);
  for (size_t i = 0; i < count; ++i) {
    std::unique_lock lock(progress.mu);
    progress.cv.wait(lock, [&] { return progress.in_flight < parallel; });
    if (!progress.error.ok()) break;
    progress.in_flight++;
    lock.unlock();
    s3::CompletedPart* part = &parts[i];
    part->part_number = static_cast<int>(i + 1);
    pool_.Submit([&progress, &send, &id, part] {
      Result<std::string> etag = send(*id, part->part_number);
      std::lock_guard plock(progress.mu);
      if (etag.ok()) {
        part->etag = *etag;
      } else if (progress.error.ok()) {
        progress.error = etag.status();
      }
      progress.in_flight--;
      progress.cv.notify_all();
    });
  }
  {
    std::unique_lock lock(progress.mu);
    progress.cv.wait(lock, [&] { return progress.in_flight == 0; });
  }
  if (!progress.error.ok()) {
    (void)client_.AbortMultipartUpload(key, *id);
    return FromServer(progress.error, part_request, key, who);
  }
  Result<std::string> etag = client_.CompleteMultipartUpload(key, *id, parts);
  if (!etag.ok()) {
    (void)client_.AbortMultipartUpload(key, *id);
    return FromServer(etag.status(), "COMPLETE-MULTIPART", key, who);
  }
  return etag;
}

Status Filesystem::Impl::UploadLocked(InodeId ino, OpenFile& file, const Caller* who) {
  if (file.unlinked) {
    if (file.stream) {
      file.stream->Abort();
      file.stream.reset();
    }
    return Status::Ok();
  }
  if (!file.dirty) return Status::Ok();
  if (file.exclusive && file.staging && file.staging->size() >= options_.multipart_threshold) {
    // A multipart upload cannot be made conditional: the name is taken with an empty PUT first.
    SPACESFS_RETURN_IF_ERROR(SaveCreated(ino, file, who));
  }
  std::string key;
  s3::UserMetadata metadata;
  std::string content_type;
  {
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(ino);
    if (inode == nullptr) return Status::Ok();
    key = Key(inode->path);
    metadata = MetadataFor(*inode);
    metadata.erase(kPartLayoutKey);  // new bytes: a multipart upload declares its own
    content_type = inode->content_type;
  }
  Result<std::string> etag = Status(ErrorCode::kInternal, "nothing uploaded");
  uint64_t size = 0;
  s3::UserMetadata stored = metadata;
  if (file.stream) {
    bool multipart = file.stream->started();
    size = file.stream->size();
    if (multipart) stored = file.stream->upload_metadata();
    etag = file.stream->Finish(metadata, content_type, file.exclusive);
    if (etag.ok() || file.stream->failed()) file.stream.reset();
    if (!etag.ok()) {
      // A stream that failed for good lost its bytes with its aborted upload: the file is what
      // the server has. Otherwise it is kept, and the next flush (or release) tries again.
      if (!file.stream) file.dirty = false;
      etag = PutFailed(etag.status(), key, who);
    }
  } else if (file.staging) {
    size = file.staging->size();
    etag = Upload(key, *file.staging, metadata, content_type, who, file.exclusive);
  } else {
    // Created and not written, or truncated to empty and not written since.
    etag = PutEmpty(key, metadata, content_type, who, file.exclusive);
  }
  if (!etag.ok()) {
    if (etag.status().code() == ErrorCode::kExists) DropPendingBytes(file);
    if (etag.status().code() == ErrorCode::kAccessDenied) {
      std::lock_guard lock(mu_);
      Inode* inode = FindInode(ino);
      if (Inode* p = inode ? FindInode(inode->parent) : nullptr) p->puts_accepted = false;
    }
    return etag.status();
  }
  file.dirty = false;
  file.exclusive = false;
  file.base_etag = *etag;
  file.base_size = size;
  std::lock_guard lock(mu_);
  if (Inode* inode = FindInode(ino)) {
    inode->etag = *etag;
    inode->cached_etag.clear();  // pages written through the mount: read them anew
    inode->local_dirty = false;
    inode->unsaved = false;
    if (Inode* p = FindInode(inode->parent)) p->puts_accepted = true;
    // A streamed object keeps the mode and owner it was created with: a change since is written
    // by the metadata flusher.
    bool changed = WithoutTimesAndLayout(stored) != WithoutTimesAndLayout(MetadataFor(*inode));
    if (!changed) inode->meta_pending = false;
    if (changed && !inode->meta_pending) {
      inode->meta_pending = true;
      inode->meta_since = Clock::now();
    }
    inode->metadata = stored;
    inode->metadata_known = true;
    inode->attr_expiry = Now() + options_.attr_ttl;
    // Handles of this inode read what was just uploaded.
    for (auto& [fh, handle] : handles_) {
      if (handle->ino != ino) continue;
      std::lock_guard hlock(handle->mu);
      handle->etag = *etag;
      handle->size = size;
    }
  }
  return Status::Ok();
}

}  // namespace spacesfs::fs

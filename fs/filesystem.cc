// Filesystem: its construction, shutdown and background metadata flusher, and the public
// methods (argument checks, then Impl). The other Impl methods are in fs/filesystem_*.cc.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Filesystem::Impl::Impl(s3::ObjectClient& client, Options options)
    : counting_(client),
      client_(counting_),
      options_(std::move(options)),
      mount_time_ns_(WallNowNs()),
      budget_(options_.memory_budget),
      // Idle buffers stay within the budget. A sequential reader frees a chunk just after taking
      // the next: with fewer than two idle chunks, every chunk is fresh memory to fault in (a
      // 1 GiB read took 10 s of CPU instead of 3.5).
      buffers_(budget_, std::max(options_.memory_budget / 8, 2 * options_.read_chunk)),
      pool_(options_.request_threads),
      scope_(options_.scope) {
  Inode root;
  root.ino = kRootInode;
  root.type = FileType::kDirectory;
  root.attr = DefaultDirectoryAttributes(mount_time_ns_, options_);
  root.attr.ino = kRootInode;
  root.lookups = 1;
  inodes_[kRootInode] = std::move(root);
  if (!options_.state_dir.empty()) {
    Result<std::unique_ptr<UploadJournal>> journal =
        UploadJournal::Open(options_.state_dir, options_.space_id);
    if (journal.ok()) {
      journal_ = std::move(*journal);
    } else {
      spdlog::warn("uploads a killed daemon leaves will not be cleaned up: {}",
                   journal.status().ToString());
    }
    pool_.Submit([this] {
      AbortAbandonedUploads(client_, options_.state_dir, options_.space_id);
    });
  }
  flusher_ = std::thread([this] { FlusherLoop(); });
}

Filesystem::Impl::~Impl() {
  if (!destroyed_) (void)Destroy();
}

Status Filesystem::Impl::Destroy() {
  if (destroyed_.exchange(true)) return Status::Ok();
  {
    std::lock_guard lock(flusher_mu_);
    stop_ = true;
  }
  flusher_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  {
    std::unique_lock lock(prefetch_mu_);
    prefetch_cv_.wait(lock, [this] { return prefetch_in_flight_ == 0; });
  }
  Status first = SyncMetadata(false);
  std::vector<std::pair<InodeId, std::shared_ptr<OpenFile>>> files;
  {
    std::lock_guard lock(mu_);
    for (auto& [ino, inode] : inodes_) {
      if (inode.file) files.emplace_back(ino, inode.file);
    }
  }
  // Files still open for writing now were never closed: what they hold is not a file anyone
  // finished, so it is not uploaded (a partial object would replace the last complete one). A
  // stream's multipart upload is aborted; staged bytes are dropped.
  for (auto& [ino, file] : files) {
    std::lock_guard flock(file->mu);
    if (!file->dirty) continue;
    std::string path;
    {
      std::lock_guard lock(mu_);
      if (Inode* inode = FindInode(ino)) path = inode->path;
    }
    spdlog::warn("{} was still open for writing when the mount stopped: not uploaded, the server "
                 "keeps its previous version", Key(path));
    file->DropBytes();
    file->dirty = false;
    if (first.ok()) first = Status(ErrorCode::kIoError, Key(path) + ": still open at unmount");
  }
  return first;
}

void Filesystem::Impl::FlusherLoop() {
  std::unique_lock lock(flusher_mu_);
  while (!stop_) {
    flusher_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (stop_) break;
    lock.unlock();
    (void)SyncMetadata(true);
    lock.lock();
  }
}

Counters Filesystem::Impl::GetCounters() const {
  Counters c;
  c.requests = counting_.requests();
  c.request_errors = counting_.errors();
  c.bytes_downloaded = counting_.bytes_downloaded();
  c.bytes_uploaded = counting_.bytes_uploaded();
  c.denials_local = denials_local_.load(std::memory_order_relaxed);
  c.denials_server = denials_server_.load(std::memory_order_relaxed);
  c.memory_idle = buffers_.idle_bytes();
  c.read_buffers_new = buffers_.allocated();
  c.memory_in_use = budget_.used() - std::min<uint64_t>(budget_.used(), c.memory_idle);
  c.memory_peak = budget_.peak();
  const s3::Md5HashingCounts hashed = s3::Md5JoinedCounts();
  c.verify_lane_bytes = hashed.lane_bytes;
  c.verify_serial_bytes = hashed.serial_bytes;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Filesystem: argument checks common to all methods, then Impl.

Filesystem::Filesystem(s3::ObjectClient& client, Options options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {}
Filesystem::~Filesystem() = default;

Status Filesystem::Destroy() { return impl_->Destroy(); }

Result<Entry> Filesystem::Lookup(const Caller& caller, InodeId parent, std::string_view name) {
  return impl_->Lookup(caller, parent, name);
}
void Filesystem::Forget(InodeId ino, uint64_t nlookup) { impl_->Forget(ino, nlookup); }
void Filesystem::ForgetMulti(std::span<const std::pair<InodeId, uint64_t>> items) {
  for (const auto& [ino, n] : items) impl_->Forget(ino, n);
}
double Filesystem::NegativeTimeoutSeconds() const { return impl_->NegativeTimeoutSeconds(); }

Result<AttrReply> Filesystem::GetAttr(const Caller& caller, InodeId ino,
                                      std::optional<FileHandle> /*fh*/) {
  return impl_->GetAttr(&caller, ino);
}
Result<AttrReply> Filesystem::SetAttr(const Caller& caller, InodeId ino,
                                      const SetAttrRequest& request,
                                      std::optional<FileHandle> fh) {
  return impl_->SetAttr(caller, ino, request, fh);
}
Result<std::string> Filesystem::ReadLink(const Caller& caller, InodeId ino) {
  return impl_->ReadLink(caller, ino);
}

Result<Entry> Filesystem::MkDir(const Caller& caller, InodeId parent, std::string_view name,
                                uint32_t mode) {
  return impl_->MakeObject(caller, parent, name, FileType::kDirectory, mode, "", false);
}
Result<Entry> Filesystem::MkNod(const Caller& caller, InodeId parent, std::string_view name,
                                uint32_t mode) {
  if ((mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != 0) {
    return Status(ErrorCode::kNotSupported, "only regular files can be created with mknod");
  }
  return impl_->MakeObject(caller, parent, name, FileType::kRegular, mode, "", true);
}
Result<Entry> Filesystem::Symlink(const Caller& caller, std::string_view target, InodeId parent,
                                  std::string_view name) {
  if (target.empty() || target.size() > 4095) {
    return Status(ErrorCode::kInvalidArgument, "bad symlink target length");
  }
  return impl_->MakeObject(caller, parent, name, FileType::kSymlink, 0777, target, true);
}
Result<Entry> Filesystem::Link(const Caller& /*caller*/, InodeId /*ino*/, InodeId /*new_parent*/,
                               std::string_view /*new_name*/) {
  return Status(ErrorCode::kNotPermitted, "hard links are not supported");
}
Status Filesystem::Unlink(const Caller& caller, InodeId parent, std::string_view name) {
  return impl_->Unlink(caller, parent, name);
}
Status Filesystem::RmDir(const Caller& caller, InodeId parent, std::string_view name) {
  return impl_->RmDir(caller, parent, name);
}
Status Filesystem::Rename(const Caller& caller, InodeId parent, std::string_view name,
                          InodeId new_parent, std::string_view new_name, unsigned flags) {
  return impl_->Rename(caller, parent, name, new_parent, new_name, flags);
}

Result<OpenReply> Filesystem::Open(const Caller& caller, InodeId ino, int flags) {
  return impl_->Open(caller, ino, flags, false);
}
Result<CreateReply> Filesystem::Create(const Caller& caller, InodeId parent,
                                       std::string_view name, uint32_t mode, int flags) {
  return impl_->Create(caller, parent, name, mode, flags);
}
Result<std::string> Filesystem::Read(FileHandle fh, uint64_t offset, size_t size) {
  std::string out;
  SPACESFS_RETURN_IF_ERROR(ReadInto(fh, offset, size, &out));
  return out;
}
Status Filesystem::ReadInto(FileHandle fh, uint64_t offset, size_t size, std::string* out) {
  out->clear();
  ReadView view;
  SPACESFS_RETURN_IF_ERROR(impl_->Read(fh, offset, size, &view));
  for (std::string_view piece : view.pieces) out->append(piece);
  return Status::Ok();
}
Status Filesystem::ReadViews(FileHandle fh, uint64_t offset, size_t size, ReadView* view) {
  return impl_->Read(fh, offset, size, view);
}
Result<size_t> Filesystem::Write(FileHandle fh, uint64_t offset, std::string_view data) {
  return impl_->Write(fh, offset, data);
}
Status Filesystem::Flush(FileHandle fh) { return impl_->Flush(fh); }
Status Filesystem::Fsync(FileHandle fh, bool /*datasync*/) { return impl_->Flush(fh); }
Status Filesystem::Release(FileHandle fh) { return impl_->Release(fh); }

Result<DirHandle> Filesystem::OpenDir(const Caller& caller, InodeId ino) {
  return impl_->OpenDir(caller, ino);
}
Status Filesystem::ReadDir(DirHandle dh, uint64_t offset, const DirFiller& filler) {
  return impl_->ReadDirImpl(dh, offset, false, filler, nullptr);
}
Status Filesystem::ReadDirPlus(DirHandle dh, uint64_t offset, const DirPlusFiller& filler) {
  return impl_->ReadDirImpl(dh, offset, true, nullptr, filler);
}
Status Filesystem::ReleaseDir(DirHandle dh) { return impl_->ReleaseDir(dh); }
Status Filesystem::FsyncDir(DirHandle /*dh*/, bool /*datasync*/) { return Status::Ok(); }

Result<StatFsReply> Filesystem::StatFs(InodeId /*ino*/) {
  // A bucket has no fixed size: report a large, mostly free filesystem.
  StatFsReply reply;
  reply.blocks = 1ull << 40;
  reply.blocks_free = reply.blocks;
  reply.blocks_available = reply.blocks;
  reply.files = 1ull << 32;
  reply.files_free = reply.files;
  return reply;
}

Status Filesystem::SyncMetadata() { return impl_->SyncMetadata(false); }

Counters Filesystem::GetCounters() const { return impl_->GetCounters(); }

void Filesystem::SetScope(std::shared_ptr<const auth::ScopeChecker> scope) {
  impl_->SetScope(std::move(scope));
}

bool Filesystem::CallerGroupsMatter() const { return impl_->CallerGroupsMatter(); }

}  // namespace spacesfs::fs

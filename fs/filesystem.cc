#include "fs/filesystem.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <functional>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "fs/buffer_pool.h"
#include "fs/counting_client.h"
#include "fs/memory_budget.h"
#include "fs/names.h"
#include "fs/object_metadata.h"
#include "fs/read_ahead.h"
#include "fs/staging_file.h"
#include "fs/upload_journal.h"
#include "fs/worker_pool.h"
#include "fs/write_stream.h"

namespace spacesfs::fs {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

constexpr uint64_t kMaxSinglePartCopy = 5ull << 30;
constexpr uint64_t kCopyPartSize = 128ull << 20;
constexpr const char* kDirectoryContentType = "application/x-directory";

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// Turns a client failure into what the filesystem reports (see docs/SEMANTICS.md).
Status FromClient(const Status& s, std::string_view what, std::string_view key) {
  std::string context = std::string(what) + " " + std::string(key);
  switch (s.code()) {
    case ErrorCode::kNotFound:
    case ErrorCode::kAccessDenied:
    case ErrorCode::kAuthFailed:
    case ErrorCode::kNoSpace:
      return s.WithContext(context);
    case ErrorCode::kPreconditionFailed:
      return Status(ErrorCode::kStale, context + ": object changed: " + s.ToString());
    default:
      spdlog::warn("{}: {}", context, s.ToString());
      return Status(ErrorCode::kIoError, context + ": " + s.ToString());
  }
}

bool Writable(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

// Bytes of one file while it is open: a write stream while it is being written front to back
// from empty, else the staging file once it was written (or must be read locally), and the
// remote version it started from. At most one of stream and staging exists.
struct OpenFile {
  // Lock order: OpenFile::mu before Filesystem::Impl::mu_. Held across this file's download and
  // upload (serialises only operations on this file).
  std::mutex mu;
  // Guarded by mu.
  std::unique_ptr<WriteStream> stream;
  std::unique_ptr<StagingFile> staging;
  bool dirty = false;  // content differs from base (with neither stream nor staging: empty)
  bool unlinked = false;       // deleted (or replaced) through the mount: never uploaded again
  bool exclusive = false;      // created with O_EXCL, not stored yet: the first upload must not
                               // replace an object (If-None-Match: *)
  std::string base_etag;       // the remote version staging is (to be) loaded from
  uint64_t base_size = 0;
};

struct Inode {
  InodeId ino = 0;
  InodeId parent = 0;          // 0 when detached (unlinked, replaced, gone)
  std::string name;
  std::string path;            // relative to the mount root, "" for the root
  FileType type = FileType::kRegular;
  Attributes attr;
  TimePoint attr_expiry{};
  std::string etag;            // files and symlinks
  std::string cached_etag;     // the version the kernel page cache may hold ("" = none known)
  std::string content_type;
  s3::UserMetadata metadata;   // as last read with HEAD (valid when metadata_known)
  bool metadata_known = false;
  bool has_marker = false;     // directories: a "dir/" object exists
  TimePoint marker_expiry{};   // has_marker is known to hold until then
  // Directories: until then children_ names every child (a directory this mount made, empty
  // then), so a name not there is absent without a LIST. Cleared when a child is forgotten.
  TimePoint complete_until{};
  std::string link_target;
  bool link_known = false;
  uint64_t lookups = 0;
  uint64_t opens = 0;
  std::shared_ptr<OpenFile> file;
  bool local_dirty = false;    // file has staged bytes not uploaded yet (mirrors OpenFile::dirty)
  bool unsaved = false;        // created through the mount, no object yet: its first upload (at
                               // flush, or once it outgrows one PUT) stores it
  // Directories: the server accepted a PUT of this mount's below it (its marker, or a child
  // since its last refusal): a file created in it is stored at its first upload, not at once.
  bool puts_accepted = false;
  bool prefetching = false;    // a PrefetchSiblings GET of it is in flight
  std::string small_body;      // the whole content of version small_body_etag (kSmallBodyBytes)
  std::string small_body_etag; // "" when none is held
  bool meta_pending = false;
  TimePoint meta_since{};
};

struct Handle {
  InodeId ino = 0;
  int flags = 0;
  Caller caller;               // who opened it: every check on this handle is made for them
  bool created = false;        // from Create of a new file: writes are kCreate until release
  std::shared_ptr<OpenFile> file;
  std::mutex mu;  // guards the fields below; a leaf lock (nothing is locked while holding it)
  std::string etag;            // the remote version seen at open (or uploaded through the mount)
  uint64_t size = 0;
  std::shared_ptr<ReadAhead> reader;  // reads of version etag from the server
};

struct DirItem {
  std::string name;
  FileType type = FileType::kRegular;
  std::optional<s3::ObjectInfo> object;  // files: what LIST said
};

struct DirState {
  InodeId ino = 0;
  Caller caller;  // who opened it: the listing is filtered for them
  std::mutex mu;  // guards items/loaded; held across the listing of this handle only
  bool loaded = false;
  std::vector<DirItem> items;
};

// What is at a path on the server.
struct Found {
  FileType type = FileType::kRegular;
  s3::ObjectInfo info;  // the object (files) or the marker (directories with has_marker)
  bool has_marker = false;
  bool metadata_known = false;
  std::optional<std::string> body;  // a small file's whole content, when it came with the lookup
};

// A known file this small is revalidated with a GET of its first bytes rather than a HEAD: the
// same round trip also brings the whole content, which the next read is served from.
constexpr uint64_t kSmallBodyBytes = 16 << 10;
// At most this many bytes of such content are held by all inodes together.
constexpr uint64_t kSmallBodiesCap = 4 << 20;
// Reading a small file fetches the content of the next small files of its directory (in name
// order: cat *, grep -r, tar c), this many ahead, at most kPrefetchInFlight GETs at once.
constexpr size_t kPrefetchAhead = 8;
constexpr size_t kPrefetchInFlight = 8;

}  // namespace

class Filesystem::Impl {
 public:
  Impl(s3::ObjectClient& client, Options options);
  ~Impl();

  Status Destroy();
  Result<Entry> Lookup(const Caller& caller, InodeId parent, std::string_view name);
  void Forget(InodeId ino, uint64_t nlookup);
  double NegativeTimeoutSeconds() const { return Seconds(options_.negative_ttl); }
  // caller null: an internal call (no scope check).
  Result<AttrReply> GetAttr(const Caller* caller, InodeId ino);
  Result<AttrReply> SetAttr(const Caller& caller, InodeId ino, const SetAttrRequest& request,
                            std::optional<FileHandle> fh);
  Result<std::string> ReadLink(const Caller& caller, InodeId ino);
  Result<Entry> MakeObject(const Caller& caller, InodeId parent, std::string_view name,
                           FileType type, uint32_t mode, std::string_view link_target, bool excl);
  Status Unlink(const Caller& caller, InodeId parent, std::string_view name);
  Status RmDir(const Caller& caller, InodeId parent, std::string_view name);
  Status Rename(const Caller& caller, InodeId parent, std::string_view name, InodeId new_parent,
                std::string_view new_name, unsigned flags);
  Result<OpenReply> Open(const Caller& caller, InodeId ino, int flags, bool created);
  Result<CreateReply> Create(const Caller& caller, InodeId parent, std::string_view name,
                             uint32_t mode, int flags);
  Status Read(FileHandle fh, uint64_t offset, size_t size, ReadView* view);
  Result<size_t> Write(FileHandle fh, uint64_t offset, std::string_view data);
  Status Flush(FileHandle fh);
  Status Release(FileHandle fh);
  Result<DirHandle> OpenDir(const Caller& caller, InodeId ino);
  Status ReadDirImpl(DirHandle dh, uint64_t offset, bool plus, const DirFiller& filler,
                     const DirPlusFiller& plus_filler);
  Status ReleaseDir(DirHandle dh);
  Status SyncMetadata(bool only_due);
  bool read_only() const { return options_.read_only; }
  Counters GetCounters() const;
  void SetScope(std::shared_ptr<const auth::ScopeChecker> scope);
  bool CallerGroupsMatter() const {
    std::shared_ptr<const auth::ScopeChecker> scope = Scope();
    return scope && scope->uses_groups();
  }

 private:
  struct Resolved {
    bool exists = false;
    InodeId ino = 0;
    FileType type = FileType::kRegular;
    std::string path;
  };

  TimePoint Now() const { return options_.clock ? options_.clock() : Clock::now(); }
  std::string Key(const std::string& path) const { return options_.prefix + path; }
  std::string DirPrefix(const std::string& path) const {
    return path.empty() ? options_.prefix : options_.prefix + path + "/";
  }
  // The scope's key for a path: prefix + path without a trailing '/'.
  std::string ScopeKey(const std::string& path) const;
  // The scope in effect now (null: everything allowed). An operation that makes several checks
  // takes one snapshot, so it is decided under one scope even when SetScope runs meanwhile.
  std::shared_ptr<const auth::ScopeChecker> Scope() const;
  // OK, or the scope's refusal (kReadOnly / kPermissionDenied), counted and logged. Without a
  // scope argument: under the scope in effect now.
  Status Authorize(const Caller& caller, auth::Operation op, const std::string& path) {
    return Authorize(Scope().get(), caller, op, path);
  }
  Status Authorize(const auth::ScopeChecker* scope, const Caller& caller, auth::Operation op,
                   const std::string& path);
  // OK if the path is visible to the caller (is_directory unknown: either kind), else
  // kPermissionDenied, counted and logged.
  Status AuthorizeVisible(const Caller& caller, const std::string& path,
                          std::optional<bool> is_directory);
  // Whether path is a directory that exists only because it leads to a grant of the caller.
  bool LeadsToGrant(const Caller& caller, const std::string& path) const;
  // The operation a write through this handle is (kCreate / kAppend / kOverwrite).
  static auth::Operation WriteOperation(const Handle& handle);
  // Checks a write-side upload through handle: OK when nothing is dirty or the check passes.
  Status AuthorizeUpload(const Handle& handle);
  void LogDenial(const Caller& caller, std::string_view what, const std::string& key,
                 const std::string& why);
  // FromClient, and a server refusal (403) becomes kAccessDenied, counted and logged once per
  // (key, operation, user) at warning level with the user, profile, Space, key and S3 error code.
  // who: the caller the request was made for, named in the log line; null when the request serves
  // no one caller (metadata flushed in the background): "user unknown".
  //
  // The helpers below that make requests take who for the same reason and pass it on.
  Status FromServer(const Status& s, std::string_view what, const std::string& key,
                    const Caller* who = nullptr);
  // "alice (uid 1001)", or "uid 1001" when the uid has no name.
  std::string UserName(uint32_t uid) const;

  // What the server has at path. known_type: what the mount last saw there, if anything; a name
  // known as a file or symlink is asked with one HEAD, and with a LIST only when it is gone.
  // known_size: the size the mount last saw (a small file is asked with HeadOrSmallGet).
  Result<std::optional<Found>> RemoteLookup(const std::string& path, const Caller* who,
                                            std::optional<FileType> known_type = std::nullopt,
                                            uint64_t known_size = 0);
  // A HEAD of key, or for a file last seen 1..kSmallBodyBytes long a GET of its first
  // kSmallBodyBytes, which gives *body the whole content when it is that small and its ETag
  // verifies it. kNotFound as is; other errors as FromServer.
  Result<s3::ObjectInfo> HeadOrSmallGet(const std::string& key, uint64_t known_size,
                                        std::optional<std::string>* body, const Caller* who);
  Result<std::vector<DirItem>> ListDirectory(const std::string& path, const Caller* who);
  Result<Resolved> ResolveChild(InodeId parent, std::string_view name, const Caller* who);
  Result<std::string> ParentPath(InodeId parent);  // kNotDirectory / kNotFound

  // The files created in dir that are not stored yet (so dir is not empty), in name order.
  // Takes mu_.
  std::vector<std::string> UnsavedChildren(InodeId dir);
  // Appends to a listing of dir (at path) the files created in it that are not stored yet, as
  // far as caller may see them. Takes mu_.
  void AddUnsavedChildren(InodeId dir, const std::string& path, const auth::ScopeChecker* scope,
                          const Caller& caller, std::vector<DirItem>* items);

  // All below REQUIRE mu_.
  void DropSmallBody(Inode& inode);
  // After inode.etag was set: holds body (that version's whole content) for the next read,
  // within kSmallBodiesCap; without one, drops a held content of another version.
  void UpdateSmallBody(Inode& inode, std::optional<std::string> body);
  // Starts background GETs of the small files after name in parent (see kPrefetchAhead). Grants
  // name directories, so the reader of name may read them too. Takes prefetch_mu_ and mu_.
  void PrefetchSiblings(InodeId parent, const std::string& name);
  // What one of those GETs of inode ino brought: if ino is still that file, at that key, in the
  // version it fetched, its content is held; if it was also neither changed here nor open, its
  // attributes count as revalidated at `sent`. Wakes readers waiting for it. Takes mu_.
  // If a PrefetchSiblings GET of ino is in flight and its answer would revalidate ino (not open,
  // attributes expired), waits for it: the caller then finds ino fresh instead of asking the
  // server again. Returns the inode, looked up again (null if gone). `lock` holds mu_.
  Inode* AwaitRevalidatingPrefetch(std::unique_lock<std::mutex>& lock, InodeId ino);
  // Waits until no PrefetchSiblings GET of ino is in flight; returns the inode, looked up again
  // (null if gone). `lock` holds mu_.
  Inode* AwaitPrefetch(std::unique_lock<std::mutex>& lock, InodeId ino);
  void ApplyPrefetch(InodeId ino, const std::string& key, TimePoint sent,
                     Result<s3::ObjectInfo> info, std::string body);
  Inode* FindInode(InodeId ino);
  Inode& AttachChild(InodeId parent, const std::string& name, const Found& found);
  Inode& AttachListed(InodeId parent, const DirItem& item);
  void Detach(Inode& inode);
  void MaybeErase(InodeId ino);
  Entry MakeEntry(const Inode& inode) const;
  s3::UserMetadata MetadataFor(const Inode& inode) const;
  void MoveSubtree(Inode& inode, InodeId new_parent, const std::string& new_name);

  // Makes the file's bytes local (staging): a stream is finished first, then the base version
  // is downloaded. REQUIRES file.mu.
  Status EnsureLoaded(InodeId ino, OpenFile& file, const std::string& key, const Caller* who);
  // Writes through a stream when the file is being written front to back from empty; false when
  // the write must go to staging. REQUIRES file.mu.
  Result<bool> TryStreamWrite(InodeId ino, OpenFile& file, uint64_t offset, std::string_view data,
                              const Caller* who);
  // Smallest size a file may be uploaded in parts at (streamed or staged).
  uint64_t OnePutLimit() const;
  // REQUIRES file.mu. who null: no one caller (a read finishing a stream, a background flush).
  Status UploadLocked(InodeId ino, OpenFile& file, const Caller* who = nullptr);
  // PUTs an empty object (a directory marker, a file truncated to empty); errors as PutFailed.
  // if_none_match: only where no object is (O_EXCL).
  Result<std::string> PutEmpty(const std::string& key, const s3::UserMetadata& metadata,
                               const std::string& content_type, const Caller* who,
                               bool if_none_match = false);
  Result<std::string> Upload(const std::string& key, const StagingFile& staging,
                             const s3::UserMetadata& metadata, const std::string& content_type,
                             const Caller* who, bool if_none_match = false);
  // A failed PUT as FromServer, except kPreconditionFailed (an If-None-Match PUT found an
  // object): kExists, logged, since the bytes of that exclusive create are not uploaded.
  Status PutFailed(const Status& s, const std::string& key, const Caller* who);
  // Stores an unsaved file as an empty object now (before a multipart upload, which cannot be
  // conditional, or a write that outgrows one PUT). REQUIRES file.mu.
  Status SaveCreated(InodeId ino, OpenFile& file, const Caller* who);
  // Moves the bytes of a stream that has sent nothing yet into a staging file. REQUIRES file.mu.
  Status StageStreamedBytes(OpenFile& file);
  // Forgets the bytes not uploaded (an exclusive create that lost its name). REQUIRES file.mu.
  void DropPendingBytes(OpenFile& file);
  // A new regular file, known here only: open, dirty and empty (see Inode::unsaved).
  Result<Entry> CreateLocal(const Caller& caller, InodeId parent, std::string_view name,
                            uint32_t mode, bool excl);
  // Creates a multipart upload of key with metadata (recorded in the journal), sends parts
  // 1..count with send(upload id, part number) on the pool, upload_parallel at a time, and
  // completes it; aborts it at the first failure. part_request names the part request in errors.
  using PartSender = std::function<Result<std::string>(const std::string& upload_id, int number)>;
  Result<std::string> UploadInParts(const std::string& key, const s3::UserMetadata& metadata,
                                    const std::string& content_type, size_t count,
                                    const char* part_request, const PartSender& send,
                                    const Caller* who);
  Result<std::string> CopyKey(const std::string& from, const std::string& to, uint64_t size,
                              bool replace, const s3::UserMetadata& metadata,
                              const std::string& content_type, const Caller* who);
  Status FlushMetadata(InodeId ino, const Caller* who);
  Status FlushFilesUnder(const std::string& path, const Caller* who);
  void KeepDirectory(InodeId dir, const Caller* who);
  Result<std::shared_ptr<Handle>> GetHandle(FileHandle fh);
  Status ReadRemote(Handle& handle, const std::string& key, uint64_t offset, size_t size,
                    ReadView* view);
  void FlusherLoop();
  // Records multipart uploads in the journal (failures are logged: the upload goes on).
  void JournalStarted(const std::string& key, const std::string& upload_id);
  void JournalEnded(const std::string& upload_id);

  // Constant after construction.
  CountingClient counting_;
  s3::ObjectClient& client_;  // counting_
  const Options options_;
  const int64_t mount_time_ns_;
  MemoryBudget budget_;
  BufferPool buffers_;  // read-ahead chunk buffers kept for reuse (after budget_: they hold leases)
  std::unique_ptr<UploadJournal> journal_;  // null without a state_dir (or if it cannot be opened)
  WorkerPool pool_;  // after budget_, journal_ and client_: its tasks use them until it is joined

  std::atomic<uint64_t> denials_local_{0};
  std::atomic<uint64_t> denials_server_{0};
  std::mutex log_mu_;  // a leaf lock: guards logged_
  std::set<std::tuple<std::string, std::string, uint32_t>> logged_;  // (key, operation, uid)
  static constexpr uint32_t kNoUser = UINT32_MAX;  // logged_'s uid for a request of no caller

  mutable std::mutex scope_mu_;  // a leaf lock, held only to copy or replace scope_
  std::shared_ptr<const auth::ScopeChecker> scope_;  // guarded by scope_mu_

  mutable std::mutex mu_;  // lock order: after OpenFile::mu; before nothing
  // Guarded by mu_.
  std::unordered_map<InodeId, Inode> inodes_;
  std::map<std::pair<InodeId, std::string>, InodeId> children_;
  std::map<std::pair<InodeId, std::string>, TimePoint> negative_;
  std::unordered_map<FileHandle, std::shared_ptr<Handle>> handles_;
  std::unordered_map<DirHandle, std::shared_ptr<DirState>> dirs_;
  InodeId next_ino_ = kRootInode + 1;
  uint64_t next_handle_ = 1;
  uint64_t small_bodies_bytes_ = 0;  // Inode::small_body of all inodes

  // PrefetchSiblings GETs in flight; Destroy waits for them (they use mu_ and the inodes).
  std::mutex prefetch_mu_;  // a leaf lock
  std::condition_variable prefetch_cv_;
  // Signalled (with mu_) when a PrefetchSiblings GET is taken in or given up: a reader of that
  // file waits for it instead of asking the server again.
  std::condition_variable prefetch_done_;
  size_t prefetch_in_flight_ = 0;  // guarded by prefetch_mu_

  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool stop_ = false;  // guarded by flusher_mu_
  std::thread flusher_;
  std::atomic<bool> destroyed_{false};
};

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
    if (file->stream) {
      file->stream->Abort();
      file->stream.reset();
    }
    file->staging.reset();
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

std::string Filesystem::Impl::ScopeKey(const std::string& path) const {
  std::string key = options_.prefix + path;
  while (!key.empty() && key.back() == '/') key.pop_back();
  return key;
}

namespace {
auth::Caller ToAuthCaller(const Caller& caller) {
  auth::Caller c;
  c.uid = caller.uid;
  c.gid = caller.gid;
  c.supplementary_gids.assign(caller.groups.begin(), caller.groups.end());
  return c;
}
}  // namespace

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

void Filesystem::Impl::JournalStarted(const std::string& key, const std::string& upload_id) {
  if (!journal_) return;
  if (Status s = journal_->Started(key, upload_id); !s.ok()) spdlog::warn("{}", s.ToString());
}

void Filesystem::Impl::JournalEnded(const std::string& upload_id) {
  if (!journal_) return;
  if (Status s = journal_->Ended(upload_id); !s.ok()) spdlog::warn("{}", s.ToString());
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
  return c;
}

Inode* Filesystem::Impl::FindInode(InodeId ino) {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : &it->second;
}

Entry Filesystem::Impl::MakeEntry(const Inode& inode) const {
  Entry e;
  e.ino = inode.ino;
  e.attr = inode.attr;
  e.attr.ino = inode.ino;
  e.attr_timeout_s = Seconds(options_.attr_ttl);
  e.entry_timeout_s = Seconds(options_.entry_ttl);
  return e;
}

s3::UserMetadata Filesystem::Impl::MetadataFor(const Inode& inode) const {
  s3::UserMetadata metadata = inode.metadata_known ? inode.metadata : s3::UserMetadata{};
  StoreAttributes(inode.attr, &metadata);
  return metadata;
}

std::vector<std::string> Filesystem::Impl::UnsavedChildren(InodeId dir) {
  std::vector<std::string> names;
  std::lock_guard lock(mu_);
  for (auto it = children_.lower_bound({dir, std::string()});
       it != children_.end() && it->first.first == dir; ++it) {
    const Inode* inode = FindInode(it->second);
    if (inode != nullptr && inode->unsaved) names.push_back(it->first.second);
  }
  return names;
}

void Filesystem::Impl::Detach(Inode& inode) {
  if (inode.parent != 0) {
    auto it = children_.find({inode.parent, inode.name});
    if (it != children_.end() && it->second == inode.ino) children_.erase(it);
    inode.parent = 0;
  }
  inode.attr.nlink = 0;
  MaybeErase(inode.ino);
}

void Filesystem::Impl::MaybeErase(InodeId ino) {
  if (ino == kRootInode) return;
  Inode* inode = FindInode(ino);
  if (inode == nullptr || inode->lookups > 0 || inode->opens > 0) return;
  if (inode->parent != 0) {
    auto it = children_.find({inode->parent, inode->name});
    if (it != children_.end() && it->second == ino) children_.erase(it);
    // Forgotten, not gone: the parent's children_ no longer names every child.
    if (Inode* p = FindInode(inode->parent)) p->complete_until = {};
  }
  DropSmallBody(*inode);
  inodes_.erase(ino);
}

void Filesystem::Impl::DropSmallBody(Inode& inode) {
  small_bodies_bytes_ -= std::min<uint64_t>(small_bodies_bytes_, inode.small_body.size());
  inode.small_body = std::string();
  inode.small_body_etag.clear();
}

void Filesystem::Impl::UpdateSmallBody(Inode& inode, std::optional<std::string> body) {
  if (!body) {
    if (inode.small_body_etag != inode.etag) DropSmallBody(inode);
    return;
  }
  DropSmallBody(inode);
  if (inode.etag.empty() || small_bodies_bytes_ + body->size() > kSmallBodiesCap) return;
  inode.small_body = std::move(*body);
  inode.small_body_etag = inode.etag;
  small_bodies_bytes_ += inode.small_body.size();
}

void Filesystem::Impl::PrefetchSiblings(InodeId parent, const std::string& name) {
  struct Target {
    InodeId ino;
    std::string key;
  };
  std::vector<Target> targets;
  {
    std::lock_guard plock(prefetch_mu_);
    if (destroyed_) return;  // Destroy waits only for what is counted before it looks
    std::lock_guard lock(mu_);
    size_t room = kPrefetchInFlight - std::min(kPrefetchInFlight, prefetch_in_flight_);
    size_t scanned = 0;
    for (auto it = children_.upper_bound({parent, name});
         it != children_.end() && it->first.first == parent && scanned < kPrefetchAhead &&
         targets.size() < room;
         ++it, ++scanned) {
      Inode* inode = FindInode(it->second);
      if (inode == nullptr || inode->type != FileType::kRegular || inode->prefetching ||
          inode->attr.size == 0 || inode->attr.size > kSmallBodyBytes || inode->etag.empty() ||
          inode->local_dirty || inode->unsaved || inode->meta_pending || inode->file ||
          inode->small_body_etag == inode->etag) {
        continue;
      }
      inode->prefetching = true;
      targets.push_back({inode->ino, Key(inode->path)});
    }
    prefetch_in_flight_ += targets.size();
  }
  for (Target& target : targets) {
    pool_.Submit([this, target = std::move(target)] {
      s3::GetObjectRequest get;
      get.key = target.key;
      get.range = s3::ByteRange{0, kSmallBodyBytes - 1};
      std::string body;
      const TimePoint sent = Now();  // what the GET says holds from then on, not from its answer
      Result<s3::ObjectInfo> info = client_.GetObject(get, [&](std::string_view chunk) {
        body.append(chunk);
        return Status::Ok();
      });
      ApplyPrefetch(target.ino, target.key, sent, std::move(info), std::move(body));
      std::lock_guard plock(prefetch_mu_);
      prefetch_in_flight_--;
      prefetch_cv_.notify_all();
    });
  }
}

Inode* Filesystem::Impl::AwaitRevalidatingPrefetch(std::unique_lock<std::mutex>& lock,
                                                   InodeId ino) {
  Inode* inode = FindInode(ino);
  if (inode == nullptr || !inode->prefetching || inode->file || inode->attr_expiry > Now()) {
    return inode;
  }
  return AwaitPrefetch(lock, ino);
}

Inode* Filesystem::Impl::AwaitPrefetch(std::unique_lock<std::mutex>& lock, InodeId ino) {
  Inode* inode = nullptr;
  prefetch_done_.wait_for(lock, std::chrono::seconds(60), [&] {
    inode = FindInode(ino);
    return inode == nullptr || !inode->prefetching;
  });
  return inode;
}

void Filesystem::Impl::ApplyPrefetch(InodeId ino, const std::string& key, TimePoint sent,
                                     Result<s3::ObjectInfo> info, std::string body) {
  bool verified = false;
  if (info.ok() && body.size() == info->size) {
    s3::ObjectVerifier verifier(info->etag, info->size);
    verifier.Feed(0, body);
    verified = verifier.Finish() == s3::ObjectVerifier::Outcome::kMatch;
  }
  std::lock_guard lock(mu_);
  prefetch_done_.notify_all();  // woken readers look once mu_ is released
  Inode* inode = FindInode(ino);
  if (inode == nullptr) return;
  inode->prefetching = false;
  if (!verified || inode->type != FileType::kRegular || inode->parent == 0 ||
      Key(inode->path) != key || inode->etag != info->etag ||
      TypeFromMetadata(info->metadata).value_or(FileType::kRegular) != FileType::kRegular) {
    return;
  }
  // The content of the version this mount knows (the ETag names it, the GET verified it) is good
  // for any reader of that version, even one that has the file open: a reader of a file written
  // here is served from its local bytes first, and an upload gives it a new ETag.
  if (inode->local_dirty || inode->unsaved || inode->meta_pending || inode->file) {
    // Changed here, or open (a write may be under way): the attributes are this mount's own,
    // not the answer's.
    UpdateSmallBody(*inode, std::move(body));
    return;
  }
  // Unchanged here: the answer also confirms that version's attributes as of `sent`.
  if (!inode->metadata_known) {
    // Listed, never read with HEAD: its metadata (mode, owner, times) comes with the answer. A
    // metadata change made here since would have made it known (FlushMetadata).
    inode->attr = AttributesFromObject(*info, FileType::kRegular, options_);
    inode->attr.ino = ino;
    inode->metadata = info->metadata;
    inode->content_type = info->content_type;
    inode->metadata_known = true;
  }
  inode->attr_expiry = std::max(inode->attr_expiry, sent + options_.attr_ttl);
  UpdateSmallBody(*inode, std::move(body));
}

Inode& Filesystem::Impl::AttachChild(InodeId parent, const std::string& name, const Found& found) {
  negative_.erase({parent, name});
  Inode* inode = nullptr;
  auto it = children_.find({parent, name});
  if (it != children_.end()) {
    inode = FindInode(it->second);
    if (inode != nullptr && inode->type != found.type) {
      Detach(*inode);
      inode = nullptr;
    }
  }
  if (inode == nullptr) {
    Inode fresh;
    fresh.ino = next_ino_++;
    fresh.parent = parent;
    fresh.name = name;
    Inode* p = FindInode(parent);
    fresh.path = JoinPath(p ? p->path : std::string(), name);
    fresh.type = found.type;
    InodeId ino = fresh.ino;
    inodes_[ino] = std::move(fresh);
    children_[{parent, name}] = ino;
    inode = &inodes_[ino];
  }
  bool local_wins = inode->local_dirty || inode->meta_pending;
  if (!local_wins) {
    if (found.type == FileType::kDirectory) {
      if (found.has_marker && found.metadata_known) {
        inode->attr = AttributesFromObject(found.info, FileType::kDirectory, options_);
      } else if (!inode->has_marker || !inode->metadata_known) {
        inode->attr = DefaultDirectoryAttributes(
            found.has_marker ? found.info.last_modified_ns : mount_time_ns_, options_);
      }
      inode->has_marker = found.has_marker;
      inode->marker_expiry = Now() + options_.attr_ttl;
    } else {
      bool same = inode->etag == found.info.etag && !found.metadata_known;
      if (!same) {
        inode->attr = AttributesFromObject(found.info, found.type, options_);
        if (inode->etag != found.info.etag) inode->link_known = false;
      }
      inode->etag = found.info.etag;
    }
    if (found.metadata_known) {
      inode->metadata = found.info.metadata;
      inode->content_type = found.info.content_type;
      inode->metadata_known = true;
    }
    UpdateSmallBody(*inode, found.body);
    inode->attr.ino = inode->ino;
  }
  inode->attr_expiry = Now() + options_.attr_ttl;
  return *inode;
}

Inode& Filesystem::Impl::AttachListed(InodeId parent, const DirItem& item) {
  auto it = children_.find({parent, item.name});
  if (it != children_.end()) {
    Inode* inode = FindInode(it->second);
    if (inode != nullptr && item.type == FileType::kRegular &&
        inode->type == FileType::kSymlink && item.object && inode->etag == item.object->etag) {
      // The listing cannot tell a symlink from a file; what HEAD said still holds.
      inode->attr_expiry = Now() + options_.attr_ttl;
      return *inode;
    }
    if (inode != nullptr && inode->type == FileType::kDirectory &&
        item.type == FileType::kDirectory) {
      inode->attr_expiry = Now() + options_.attr_ttl;
      return *inode;
    }
  }
  Found found;
  found.type = item.type;
  if (item.object) found.info = *item.object;
  return AttachChild(parent, item.name, found);
}

void Filesystem::Impl::MoveSubtree(Inode& inode, InodeId new_parent,
                                   const std::string& new_name) {
  std::string old_path = inode.path;
  auto it = children_.find({inode.parent, inode.name});
  if (it != children_.end() && it->second == inode.ino) children_.erase(it);
  Inode* p = FindInode(new_parent);
  inode.parent = new_parent;
  inode.name = new_name;
  inode.path = JoinPath(p ? p->path : std::string(), new_name);
  children_[{new_parent, new_name}] = inode.ino;
  if (inode.type != FileType::kDirectory) return;
  std::string old_prefix = old_path + "/";
  for (auto& [ino, other] : inodes_) {
    if (other.path.compare(0, old_prefix.size(), old_prefix) == 0 && ino != inode.ino) {
      other.path = inode.path + "/" + other.path.substr(old_prefix.size());
    }
  }
}

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

Result<Filesystem::Impl::Resolved> Filesystem::Impl::ResolveChild(InodeId parent,
                                                                  std::string_view name_view,
                                                                  const Caller* who) {
  std::string name(name_view);
  Result<std::string> parent_path = ParentPath(parent);
  if (!parent_path.ok()) return parent_path.status();
  Resolved r;
  r.path = JoinPath(*parent_path, name);
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
  return r;
}

Result<Entry> Filesystem::Impl::Lookup(const Caller& caller, InodeId parent,
                                       std::string_view name) {
  if (name.size() > kMaxNameBytes) return Status(ErrorCode::kNameTooLong, "name too long");
  if (Scope()) {
    Result<std::string> parent_path = ParentPath(parent);
    if (!parent_path.ok()) return parent_path.status();
    SPACESFS_RETURN_IF_ERROR(AuthorizeVisible(caller, JoinPath(*parent_path, name), std::nullopt));
  }
  Result<Resolved> r = ResolveChild(parent, name, &caller);
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
  SPACESFS_RETURN_IF_ERROR(
      AuthorizeVisible(caller, r->path, r->type == FileType::kDirectory));
  std::lock_guard lock(mu_);
  Inode* inode = FindInode(r->ino);
  if (inode == nullptr) return Status(ErrorCode::kNotFound, std::string(name));
  inode->lookups++;
  return MakeEntry(*inode);
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
  Result<std::string> parent_path = ParentPath(parent);
  if (!parent_path.ok()) return parent_path.status();
  std::string path = JoinPath(*parent_path, name);
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
  Result<std::string> parent_path = ParentPath(parent);
  if (!parent_path.ok()) return parent_path.status();
  SPACESFS_RETURN_IF_ERROR(
      Authorize(caller, auth::Operation::kDelete, JoinPath(*parent_path, name)));
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
  Result<std::string> parent_path = ParentPath(parent);
  if (!parent_path.ok()) return parent_path.status();
  SPACESFS_RETURN_IF_ERROR(
      Authorize(caller, auth::Operation::kRmdir, JoinPath(*parent_path, name)));
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

Result<std::string> Filesystem::Impl::CopyKey(const std::string& from, const std::string& to,
                                              uint64_t size, bool replace,
                                              const s3::UserMetadata& metadata,
                                              const std::string& content_type, const Caller* who) {
  if (size <= kMaxSinglePartCopy) {
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
  // Parts small enough for a server to copy well within the client's request timeouts (a server
  // sends nothing until a part is copied).
  uint64_t part_size = kCopyPartSize;
  while ((size + part_size - 1) / part_size > 10000) part_size *= 2;
  meta[kPartLayoutKey] = FormatPartLayout(s3::PartLayout{part_size, 0});
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
  Result<std::string> new_parent_path = ParentPath(new_parent);
  if (!new_parent_path.ok()) return new_parent_path.status();
  const std::shared_ptr<const auth::ScopeChecker> scope = Scope();  // one scope for all checks
  {
    // Before any request. The scope key of a directory is its own key, and the engine's
    // permission never shrinks going down, so checking a directory covers every key below it.
    Result<std::string> parent_path = ParentPath(parent);
    if (!parent_path.ok()) return parent_path.status();
    SPACESFS_RETURN_IF_ERROR(Authorize(scope.get(), caller, auth::Operation::kRenameFrom,
                                       JoinPath(*parent_path, name)));
    SPACESFS_RETURN_IF_ERROR(Authorize(scope.get(), caller, auth::Operation::kRenameTo,
                                       JoinPath(*new_parent_path, new_name)));
  }
  Result<Resolved> src = ResolveChild(parent, name, &caller);
  if (!src.ok()) return src.status();
  if (!src->exists) return Status(ErrorCode::kNotFound, name);
  std::string dst_path = JoinPath(*new_parent_path, new_name);
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
  s3::PutObjectRequest put;
  put.key = key;
  put.body = s3::BodySource::FromView("");
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
  if (file.stream) {
    file.stream->Abort();
    file.stream.reset();
  }
  file.staging.reset();
  file.dirty = false;
  file.exclusive = false;
}

Result<std::string> Filesystem::Impl::Upload(const std::string& key, const StagingFile& staging,
                                             const s3::UserMetadata& metadata,
                                             const std::string& content_type, const Caller* who,
                                             bool if_none_match) {
  uint64_t size = staging.size();
  if (size < options_.multipart_threshold) {
    s3::PutObjectRequest put;
    put.key = key;
    put.body = staging.Body(0, size);
    put.metadata = metadata;
    put.content_type = content_type;
    put.if_none_match = if_none_match;
    Result<std::string> etag = client_.PutObject(put);
    if (!etag.ok()) return PutFailed(etag.status(), key, who);
    return etag;
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

namespace {

// Metadata without the times (a streamed object's mtime is its Last-Modified, the time it was
// completed, not the time its upload started) and without the part layout (which belongs to an
// upload, not to the file's attributes).
s3::UserMetadata WithoutTimesAndLayout(s3::UserMetadata metadata) {
  for (const char* key : {"mtime", "ctime", "atime", kPartLayoutKey}) metadata.erase(key);
  return metadata;
}

}  // namespace

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
      if (file->stream) {
        file->stream->Abort();
        file->stream.reset();
      }
      file->staging.reset();
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
  Result<std::string> parent_path = ParentPath(parent);
  if (!parent_path.ok()) return parent_path.status();
  std::string path = JoinPath(*parent_path, name);
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
    Result<std::string> parent_path = ParentPath(parent);
    if (!parent_path.ok()) return parent_path.status();
    SPACESFS_RETURN_IF_ERROR(
        Authorize(caller, auth::Operation::kCreate, JoinPath(*parent_path, name)));
  }
  Result<Resolved> existing = ResolveChild(parent, name, &caller);
  if (!existing.ok()) return existing.status();
  CreateReply reply;
  if (existing->exists) {
    if (excl) return Status(ErrorCode::kExists, existing->path);
    if (existing->type == FileType::kDirectory) {
      return Status(ErrorCode::kIsDirectory, existing->path);
    }
    std::lock_guard lock(mu_);
    Inode* inode = FindInode(existing->ino);
    if (inode == nullptr) return Status(ErrorCode::kNotFound, existing->path);
    inode->lookups++;
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
      params.cache = options_.disk_cache.get();
      params.buffers = &buffers_;
      if (known_etag == handle.etag) params.layout = known_layout;
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
      if (file->stream) {
        file->stream->Abort();
        file->stream.reset();
      }
      file->staging.reset();
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

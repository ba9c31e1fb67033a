// Private to fs/filesystem*.cc: the state behind Filesystem (inodes, open files, handles,
// directory listings) and the Impl class that holds it. Each fs/filesystem_*.cc defines one group
// of Impl's methods; fs/filesystem.h is the contract.
//
// Threading: Impl::mu_ guards the tables; OpenFile::mu serialises the operations of one file and
// is taken before mu_. Each member's comment says what guards it.
#pragma once

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
#include "fs/unequal_part_objects.h"
#include "fs/upload_journal.h"
#include "fs/worker_pool.h"
#include "fs/write_stream.h"

namespace spacesfs::fs {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

constexpr const char* kDirectoryContentType = "application/x-directory";

inline int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline double Seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

// Turns a client failure into what the filesystem reports (see docs/SEMANTICS.md).
inline Status FromClient(const Status& s, std::string_view what, std::string_view key) {
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

inline bool Writable(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

inline auth::Caller ToAuthCaller(const Caller& caller) {
  auth::Caller c;
  c.uid = caller.uid;
  c.gid = caller.gid;
  c.supplementary_gids.assign(caller.groups.begin(), caller.groups.end());
  return c;
}

// Metadata without the times (a streamed object's mtime is its Last-Modified, the time it was
// completed, not the time its upload started) and without the part layout (which belongs to an
// upload, not to the file's attributes).
inline s3::UserMetadata WithoutTimesAndLayout(s3::UserMetadata metadata) {
  for (const char* key : {"mtime", "ctime", "atime", kPartLayoutKey}) metadata.erase(key);
  return metadata;
}

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

  // Forgets the bytes held here: a stream's multipart upload is aborted, staging is dropped.
  // REQUIRES mu.
  void DropBytes() {
    if (stream) {
      stream->Abort();
      stream.reset();
    }
    staging.reset();
  }
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
  // What is at name in parent: from the cache while fresh, else from the server (RemoteLookup).
  // With pin, an existing child's lookup count is raised under the same hold of mu_ that found
  // it, so a concurrent Forget cannot erase it before the caller answers it to the kernel (the
  // caller owns that count: it answers the entry, or gives it back with Unpin).
  Result<Resolved> ResolveChild(InodeId parent, std::string_view name, const Caller* who,
                                bool pin = false);
  // Gives back the count ResolveChild(pin) took, when the entry is not answered after all. The
  // inode stays cached as it was before the pin (unlike Forget, which erases an inode the kernel
  // no longer holds), unless it was detached meanwhile. Takes mu_.
  void Unpin(InodeId ino);
  Result<std::string> ParentPath(InodeId parent);  // kNotDirectory / kNotFound
  // The path of name in directory parent; errors as ParentPath.
  Result<std::string> ChildPath(InodeId parent, std::string_view name);

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
  // One PUT of body; errors as PutFailed.
  Result<std::string> PutWhole(const std::string& key, s3::BodySource body,
                               const s3::UserMetadata& metadata, const std::string& content_type,
                               const Caller* who, bool if_none_match);
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
  // Copies from to to (the same key rewrites its metadata): one CopyObject up to
  // options_.max_single_copy bytes, else UploadPartCopy in the parts CopyLayout gives, with the
  // layout recorded in the copy's metadata. replace: metadata and content_type are the copy's;
  // otherwise the source's are kept.
  Result<std::string> CopyKey(const std::string& from, const std::string& to, uint64_t size,
                              bool replace, const s3::UserMetadata& metadata,
                              const std::string& content_type, const Caller* who);
  s3::PartLayout CopyLayout(uint64_t size) const;
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
  UnequalPartObjects unequal_parts_;  // versions cut in parts of unequal size
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

}  // namespace spacesfs::fs

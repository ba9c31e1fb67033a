// Filesystem: a POSIX-like filesystem over one bucket (optionally under a key prefix), without FUSE.
//
// One method per FUSE low-level operation, taking plain types and returning Status/Result. The
// FUSE adapter (fs/fuse/) calls these from libfuse's multi-threaded loop and maps ErrorCode to an
// errno in one switch; no errno exists in this layer. docs/SEMANTICS.md lists, per operation, what
// is supported and which ErrorCode (and intended errno) each failure gives.
//
// Mapping: the key of a path is options.prefix + the path relative to the mount root, components
// joined by '/'. A directory exists if some key starts with "<dir key>/" (a common prefix) or a
// marker object "<dir key>/" exists; mkdir writes the marker. A regular file is an object; a
// symlink is an object whose body is the target and whose x-amz-meta-mode has S_IFLNK (s3fs
// format). When a directory and a file have the same name, the directory wins and the file is
// hidden. Keys that cannot be a path (NUL, "." or "..", an empty component as in "a//b", a
// component over 255 bytes) are hidden (one warning per key in the log).
//
// Inodes: InodeId 1 (kRootInode) is the mount root; it is never forgotten. Every Entry returned by
// Lookup, MkDir, Create, MkNod, Symlink (and every entry ReadDirPlus's filler accepts, except "."
// and "..") adds one to the inode's lookup count; Forget(ino, n) subtracts n. An inode lives while
// its lookup count is above zero or a file handle refers to it; ids are never reused during the
// life of a Filesystem, so generation is always 0. An inode is bound to a path, not to an object:
// if the object behind a path changes type (file <-> directory) the path gets a new inode.
//
// File handles: Open/Create return a FileHandle (opaque, never 0); every Read/Write/Flush/Fsync on
// it is valid until Release. Directory handles: OpenDir returns a DirHandle valid until
// ReleaseDir. Offsets given to ReadDir/ReadDirPlus are those returned with earlier entries of the
// same handle (0 = from the start).
//
// Consistency: close-to-open. Open re-validates the object (HEAD, unless attributes fetched within
// attr_ttl are cached) and a changed ETag invalidates cached data; reads of an object fetch byte
// ranges with If-Match on the ETag seen at open and fail with kStale if the object changed. Writes
// go to a local staging file and are uploaded on Flush, Fsync and Release: when one of these
// returns OK the data is on the server. Attribute, entry and negative caches expire after the TTLs
// in Options; changes made behind the mount's back are seen after they expire.
//
// Permissions: the Filesystem does not check POSIX permission bits (mount with default_permissions
// so the kernel does). Caller is used for the owner of new files and directories, and for the
// scope (Options::scope, auth/scope.h, docs/SCOPES.md), checked before any request is sent, on the
// key's current path (a handle follows its file through renames):
//   Lookup/GetAttr: the name must be visible (IsVisible), else kPermissionDenied;
//   OpenDir/ReadDir: kList, and entries are filtered (PlanList/IsVisible);
//   Open: kRead for reading; for writing kOverwrite (kAppend with O_APPEND); the same again on
//   every Write and Flush/Release that uploads; a handle from Create (a new file) uses kCreate
//   until it is released; Read: kRead; ReadLink: kRead;
//   Create/MkNod/Symlink: kCreate; MkDir: kMkdir; RmDir: kRmdir; Unlink: kDelete;
//   Rename: kRenameFrom (source), kRenameTo (destination) and kOverwrite if the destination exists;
//   SetAttr: size is kOverwrite (kCreate through the creating handle); mode/owner/times are
//   kSetattr (times only, while the caller's creating handle is open: kCreate, so touch works).
// A decision kReadOnly is kReadOnly (only on a scope where every grant is `read`), kDenied is
// kPermissionDenied. Each denial is counted and logged (warning) once per key, operation and uid
// (per scope: SetScope starts afresh). A read-only mount gives kReadOnly for every modification.
// SetScope replaces the scope for operations that start afterwards; an operation that makes
// several checks (rename, readdir) makes them all under one scope. A server refusal (403) is kAccessDenied, logged once per key and operation with the
// profile, Space, key and S3 error code.
//
// Errors common to all methods: kNotFound for an unknown inode or handle, or a missing name;
// kAccessDenied / kAuthFailed when the server refused (403); kIoError for network, timeout, server
// or integrity failures (the log line has the detail); kStale when the object changed under an
// open handle.
//
// Threading: every method may be called concurrently from any number of threads. The inode table
// lock is never held across a network call. Per-object locks are: a file's data lock during its
// download/upload (serialises operations on that file only), a file handle's read-ahead lock
// during its ranged GET, and a directory handle's lock while it lists. Filler callbacks are
// called with only their directory handle's lock held and must not call back into the
// Filesystem.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/scope.h"
#include "common/result.h"
#include "common/status.h"
#include "s3/object_client.h"

namespace spacesfs::fs {

using InodeId = uint64_t;
using FileHandle = uint64_t;
using DirHandle = uint64_t;

inline constexpr InodeId kRootInode = 1;
inline constexpr size_t kMaxNameBytes = 255;   // one path component
inline constexpr size_t kMaxKeyBytes = 1024;   // a whole key, prefix included

class DiskCache;

enum class FileType { kRegular, kDirectory, kSymlink };

// The bytes of one read, in order: views into buffers that keep holds alive.
struct ReadView {
  std::vector<std::string_view> pieces;
  std::vector<std::shared_ptr<const void>> keep;
};

// Who is calling (from fuse_req_ctx). groups are the supplementary groups (may be empty).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::vector<uint32_t> groups;
};

// What stat(2) shows. mode has the type bits (S_IFREG/S_IFDIR/S_IFLNK) and the permission bits.
struct Attributes {
  InodeId ino = 0;
  FileType type = FileType::kRegular;
  uint32_t mode = 0;
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;      // 512-byte blocks
  uint32_t blksize = 4096;
  int64_t atime_ns = 0;     // Unix time in nanoseconds
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
};

// A reply to getattr/setattr: the attributes and how long the kernel may cache them.
struct AttrReply {
  Attributes attr;
  double attr_timeout_s = 0;
};

// A reply to lookup/mkdir/create/mknod/symlink (fuse_entry_param).
struct Entry {
  InodeId ino = 0;
  uint64_t generation = 0;
  Attributes attr;
  double attr_timeout_s = 0;
  double entry_timeout_s = 0;
};

// One directory entry as readdir lists it. offset is the value to pass to continue after it.
struct DirEntry {
  std::string name;
  InodeId ino = 0;        // informational for ReadDir (0 if not yet known); the entry's inode for ReadDirPlus
  FileType type = FileType::kRegular;
  uint64_t offset = 0;
};

// Returns false if the entry did not fit (it is then not counted and will be listed again at its
// offset by the next call). For ReadDirPlus an accepted entry (other than "." and "..") adds one
// to the lookup count of entry.ino.
using DirFiller = std::function<bool(const DirEntry& entry)>;
using DirPlusFiller = std::function<bool(const DirEntry& entry, const Entry& attributes)>;

struct OpenReply {
  FileHandle fh = 0;
  bool keep_cache = false;   // the kernel page cache for this inode is still valid
  bool direct_io = false;
};

struct CreateReply {
  Entry entry;
  OpenReply open;
};

// setattr: the fields present are changed. The adapter resolves UTIME_NOW to the current time.
struct SetAttrRequest {
  std::optional<uint32_t> mode;       // permission bits (07777); type bits are ignored
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;       // truncate / extend with zeros
  std::optional<int64_t> atime_ns;
  std::optional<int64_t> mtime_ns;
};

struct StatFsReply {
  uint64_t block_size = 4096;
  uint64_t fragment_size = 4096;
  uint64_t blocks = 0;
  uint64_t blocks_free = 0;
  uint64_t blocks_available = 0;
  uint64_t files = 0;
  uint64_t files_free = 0;
  uint64_t name_max = kMaxNameBytes;
};

// rename(2) flags (RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2 as in <linux/fs.h>).
inline constexpr unsigned kRenameNoReplace = 1;
inline constexpr unsigned kRenameExchange = 2;

struct Options {
  // Key prefix of the mount root: "" (the whole bucket) or a prefix ending in '/'.
  std::string prefix;
  bool read_only = false;

  // Defaults for objects without s3fs metadata: owner, and permission bits file_mode & ~umask /
  // dir_mode & ~umask. mtime defaults to Last-Modified.
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t umask = 0022;
  uint32_t file_mode = 0644;
  uint32_t dir_mode = 0755;

  // Caches. Zero disables a cache.
  std::chrono::nanoseconds attr_ttl = std::chrono::seconds(1);
  std::chrono::nanoseconds entry_ttl = std::chrono::seconds(1);
  std::chrono::nanoseconds negative_ttl = std::chrono::seconds(1);

  // Local staging files for writes are created (and immediately unlinked) in this directory.
  std::string staging_dir = "/tmp";
  // Files at least this large are uploaded with multipart, in parts of part_size (>= 5 MiB).
  // A file written front to back from empty is streamed instead: its parts go up while it is
  // being written, upload_parallel at a time, and nothing is staged on disk.
  uint64_t multipart_threshold = 8ull << 20;
  uint64_t part_size = 8ull << 20;
  // Objects over max_single_copy bytes are copied in parts of copy_part_size (UploadPartCopy),
  // by rename and by the metadata write of chmod/chown/utimens: S3 refuses a CopyObject over
  // 5 GiB. Tests lower both.
  uint64_t max_single_copy = 5ull << 30;
  uint64_t copy_part_size = 128ull << 20;
  size_t upload_parallel = 8;
  // Sequential reads fetch ahead in chunks of up to read_chunk bytes, several in parallel; the
  // window ahead grows from min_read_ahead to max_read_ahead per handle.
  uint64_t min_read_ahead = 1ull << 20;
  uint64_t max_read_ahead = 64ull << 20;
  uint64_t read_chunk = 8ull << 20;
  // Whether a file read front to back is checked against its ETag (the MD5 of a single-part
  // object, or of each part when the uploader declared its part sizes): a mismatch fails the read
  // that reaches the end with kCorrupt. The MD5 costs about 1.5 CPU seconds per GiB.
  bool verify_reads = true;
  // Optional local disk cache of read data (fs/disk_cache.h), opened by the caller (so that a
  // cache directory another mount holds is refused before mounting) and owned from then on by
  // the Filesystem. Reads from the server consult it before a GET and store what they fetched.
  std::shared_ptr<DiskCache> disk_cache;
  // Bytes held in memory by read-ahead chunks and upload part buffers together (all files).
  uint64_t memory_budget = 128ull << 20;
  // Threads sending the background requests (prefetch GETs, upload parts).
  size_t request_threads = 16;
  // Where the journal of multipart uploads in progress is kept ("" = none), and what identifies
  // the Space in it ("<endpoint>|<bucket>|<prefix>"). At construction, uploads that an earlier
  // daemon of the same Space started and never finished (it was killed) are aborted in the
  // background; see fs/upload_journal.h.
  std::string state_dir;
  std::string space_id;
  // chmod/chown/utimens are written after this delay, so changes within it cost one request.
  std::chrono::milliseconds metadata_flush_delay = std::chrono::seconds(1);

  // The scope of the mount at start (null: everything allowed; Filesystem::SetScope replaces it).
  // Keys given to it are full keys (prefix included) without a leading or trailing '/'.
  std::shared_ptr<const auth::ScopeChecker> scope;
  // For log lines: the credential profile and the Space (bucket) name.
  std::string profile_name;
  std::string space_name;
  // For log lines: the name of a uid ("alice"); empty or unset gives no name.
  std::function<std::string(uint32_t uid)> user_name;
  // Optional monotonic clock for the caches (tests inject one); steady_clock when empty. Called
  // from any thread (background prefetches too): it must be thread-safe.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// What the Filesystem has done so far (monotonic counts).
struct Counters {
  uint64_t requests = 0;          // requests sent to the server
  uint64_t request_errors = 0;    // requests that failed (see CountingClient::errors)
  uint64_t bytes_downloaded = 0;  // object bytes received (GET bodies)
  uint64_t bytes_uploaded = 0;    // object bytes sent (PUT and UploadPart bodies)
  uint64_t denials_local = 0;     // operations refused by the scope (no request sent)
  uint64_t denials_server = 0;    // requests the server refused (403)
  uint64_t memory_in_use = 0;     // bytes of the memory budget held now by data in use
  uint64_t memory_idle = 0;       // bytes of it held by idle read buffers kept for reuse
  uint64_t memory_peak = 0;       // the most held at once (in use and idle)
  uint64_t read_buffers_new = 0;  // read chunk buffers made anew (not reused from idle ones)
  // Bytes of read checks hashed in the MD5 vector lanes, and one stream at a time (the daemon's,
  // s3::Md5JoinedCounts: every mount of the process).
  uint64_t verify_lane_bytes = 0;
  uint64_t verify_serial_bytes = 0;
};

class Filesystem {
 public:
  // client must outlive the Filesystem. Starts the background metadata flusher.
  Filesystem(s3::ObjectClient& client, Options options);
  // Calls Destroy() if it was not called.
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // FUSE destroy: writes pending metadata, stops the background flusher. Files still open for
  // writing (never closed) are not uploaded: their streams are aborted and staged bytes dropped,
  // so no partial object replaces a complete one (kIoError names the first). Returns the first
  // failure. Other methods must not be called afterwards.
  Status Destroy();

  // --- names and attributes ---
  // kNotFound (the adapter may reply a negative entry valid NegativeTimeoutSeconds()),
  // kNotDirectory if parent is not a directory, kNameTooLong.
  Result<Entry> Lookup(const Caller& caller, InodeId parent, std::string_view name);
  void Forget(InodeId ino, uint64_t nlookup);
  void ForgetMulti(std::span<const std::pair<InodeId, uint64_t>> items);
  double NegativeTimeoutSeconds() const;

  // fh, when given, is an open handle of ino (its unflushed size is reported).
  Result<AttrReply> GetAttr(const Caller& caller, InodeId ino, std::optional<FileHandle> fh);
  // mode/uid/gid/times are persisted (deferred, coalesced) with CopyObject onto itself; size is a
  // truncate (uploaded at once if no handle is open, else on flush/release). kIsDirectory for a
  // size change on a directory, kInvalidArgument on a symlink.
  Result<AttrReply> SetAttr(const Caller& caller, InodeId ino, const SetAttrRequest& request,
                            std::optional<FileHandle> fh);
  // kInvalidArgument if ino is not a symlink.
  Result<std::string> ReadLink(const Caller& caller, InodeId ino);

  // --- creating and removing names ---
  // kExists, kNameTooLong, kInvalidArgument (bad name), kNotDirectory.
  Result<Entry> MkDir(const Caller& caller, InodeId parent, std::string_view name, uint32_t mode);
  // Regular files only (S_IFREG in mode); other types kNotSupported.
  Result<Entry> MkNod(const Caller& caller, InodeId parent, std::string_view name, uint32_t mode);
  Result<Entry> Symlink(const Caller& caller, std::string_view target, InodeId parent,
                        std::string_view name);
  // Always kNotPermitted: hard links cannot be represented.
  Result<Entry> Link(const Caller& caller, InodeId ino, InodeId new_parent,
                     std::string_view new_name);
  // kIsDirectory for a directory. Open handles of the file keep reading and writing their data
  // (now local only).
  Status Unlink(const Caller& caller, InodeId parent, std::string_view name);
  // kNotEmpty, kNotDirectory.
  Status RmDir(const Caller& caller, InodeId parent, std::string_view name);
  // Copy then delete (every key below a renamed directory). flags: kRenameNoReplace gives kExists
  // if new_name exists; kRenameExchange is kNotSupported. Replacing: a directory over a file is
  // kNotDirectory, a file over a directory kIsDirectory, over a non-empty directory kNotEmpty.
  // Renaming a directory is not atomic: a failure midway leaves keys in both places.
  Status Rename(const Caller& caller, InodeId parent, std::string_view name, InodeId new_parent,
                std::string_view new_name, unsigned flags);

  // --- files ---
  // flags are open(2) flags (O_ACCMODE, O_TRUNC, O_APPEND; O_CREAT/O_EXCL are handled by the
  // kernel or Create). kIsDirectory for a directory.
  Result<OpenReply> Open(const Caller& caller, InodeId ino, int flags);
  // Creates an empty object at once (with If-None-Match when O_EXCL is in flags); kExists if the
  // name exists and O_EXCL was given, otherwise an existing file is opened (and truncated with
  // O_TRUNC).
  Result<CreateReply> Create(const Caller& caller, InodeId parent, std::string_view name,
                             uint32_t mode, int flags);
  // Returns up to size bytes (fewer only at end of file).
  Result<std::string> Read(FileHandle fh, uint64_t offset, size_t size);
  // The same into *out (its old contents replaced, its capacity reused).
  Status ReadInto(FileHandle fh, uint64_t offset, size_t size, std::string* out);
  // The same without a copy: views into the read-ahead chunks (or into a buffer of its own for
  // bytes held here), kept alive by view->keep until the caller clears it.
  Status ReadViews(FileHandle fh, uint64_t offset, size_t size, ReadView* view);
  // Returns the number of bytes written (all of data). With O_APPEND offset is the end of file.
  Result<size_t> Write(FileHandle fh, uint64_t offset, std::string_view data);
  // Upload if dirty. OK means the data is on the server (or the file was unlinked).
  Status Flush(FileHandle fh);
  Status Fsync(FileHandle fh, bool datasync);
  // Uploads if dirty, then frees the handle (the handle is gone even when the upload failed).
  Status Release(FileHandle fh);

  // --- directories ---
  // kNotDirectory for a file.
  Result<DirHandle> OpenDir(const Caller& caller, InodeId ino);
  // Lists "." and ".." then the entries, sorted by key, from offset. The listing is taken when
  // offset 0 is read and served from the handle afterwards.
  Status ReadDir(DirHandle dh, uint64_t offset, const DirFiller& filler);
  // As ReadDir, with attributes from the listing itself (no request per entry).
  Status ReadDirPlus(DirHandle dh, uint64_t offset, const DirPlusFiller& filler);
  Status ReleaseDir(DirHandle dh);
  Status FsyncDir(DirHandle dh, bool datasync);

  // --- the mount ---
  Result<StatFsReply> StatFs(InodeId ino);
  // Extended attributes are not part of the Filesystem: the adapter leaves them to the kernel
  // (EOPNOTSUPP; docs/SEMANTICS.md).

  // Writes pending chmod/chown/utimens changes now (instead of after metadata_flush_delay).
  Status SyncMetadata();

  // A snapshot of the counters; may be called at any time from any thread.
  Counters GetCounters() const;

  // Replaces the scope (a reloaded profile): operations that start afterwards are decided under
  // the new one; operations already running finish under the old one. Any thread, any time. The
  // caller is responsible for the new scope being for this Space; read_only in Options is not
  // changed (a scope that became read-only as a whole refuses modifications with kReadOnly).
  void SetScope(std::shared_ptr<const auth::ScopeChecker> scope);

  // Whether the scope in effect names a group, so that a Caller's supplementary groups decide
  // anything (reading them costs the adapter a read of /proc per request). Any thread.
  bool CallerGroupsMatter() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spacesfs::fs

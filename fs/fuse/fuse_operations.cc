#include "fs/fuse/fuse_operations.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "fs/fuse/errno_map.h"
#include "fs/fuse/stats_report.h"

namespace spacesfs::fuse {
namespace {

using fs::Caller;
using fs::Filesystem;

FuseUserdata& Userdata(fuse_req_t req) { return *static_cast<FuseUserdata*>(fuse_req_userdata(req)); }

Filesystem& Fs(fuse_req_t req) { return *Userdata(req).fs.load(); }

bool OpensForWriting(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }

// The caller of req. Its supplementary groups are read (from /proc, by libfuse) only when a grant
// of the scope names a group; a request that races a reload bringing the first such grant is
// decided without them (as if the caller were in none).
Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller caller;
  caller.uid = ctx->uid;
  caller.gid = ctx->gid;
  caller.pid = ctx->pid;
  if (!Fs(req).CallerGroupsMatter()) return caller;
  gid_t groups[64];
  int n = fuse_req_getgroups(req, 64, groups);
  if (n > 64) {
    std::vector<gid_t> all(static_cast<size_t>(n));
    n = fuse_req_getgroups(req, n, all.data());
    if (n > 0) caller.groups.assign(all.begin(), all.begin() + std::min<size_t>(all.size(), n));
  } else if (n > 0) {
    caller.groups.assign(groups, groups + n);
  }
  return caller;
}

void ToTimespec(int64_t ns, timespec* ts) {
  ts->tv_sec = ns / 1'000'000'000;
  ts->tv_nsec = ns % 1'000'000'000;
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1'000'000'000;
    ts->tv_sec -= 1;
  }
}

struct stat ToStat(const fs::Attributes& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  st.st_blksize = a.blksize;
  ToTimespec(a.atime_ns, &st.st_atim);
  ToTimespec(a.mtime_ns, &st.st_mtim);
  ToTimespec(a.ctime_ns, &st.st_ctim);
  return st;
}

fuse_entry_param ToEntryParam(const fs::Entry& e) {
  fuse_entry_param p;
  std::memset(&p, 0, sizeof p);
  p.ino = e.ino;
  p.generation = e.generation;
  p.attr = ToStat(e.attr);
  p.attr_timeout = e.attr_timeout_s;
  p.entry_timeout = e.entry_timeout_s;
  return p;
}

void ReplyError(fuse_req_t req, const Status& status) { fuse_reply_err(req, ToErrno(status)); }

void ReplyEntry(fuse_req_t req, const Result<fs::Entry>& entry) {
  if (!entry.ok()) return ReplyError(req, entry.status());
  fuse_entry_param p = ToEntryParam(*entry);
  fuse_reply_entry(req, &p);
}

void ReplyAttr(fuse_req_t req, const Result<fs::AttrReply>& reply) {
  if (!reply.ok()) return ReplyError(req, reply.status());
  struct stat st = ToStat(reply->attr);
  fuse_reply_attr(req, &st, reply->attr_timeout_s);
}

void ReplyStatus(fuse_req_t req, const Status& status) { fuse_reply_err(req, ToErrno(status)); }

std::optional<fs::FileHandle> HandleOf(fuse_file_info* fi) {
  if (fi == nullptr) return std::nullopt;
  return fi->fh;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t ToNs(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Runs a callback body; an escaping exception (a bug) becomes EIO instead of crossing into libfuse.
template <typename Body>
void Guard(fuse_req_t req, const char* op, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("{}: internal error: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("{}: internal error", op);
    fuse_reply_err(req, EIO);
  }
}

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* ud = static_cast<FuseUserdata*>(userdata);
  // Readdirplus always: one LIST page carries every entry's attributes.
  if (conn->capable & FUSE_CAP_READDIRPLUS) {
    conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  }
  if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // The stats ioctl is made on the root directory.
  if (conn->capable & FUSE_CAP_IOCTL_DIR) conn->want |= FUSE_CAP_IOCTL_DIR;
  // No writeback cache: a write() must reach spacesfs so close()/fsync() can report upload errors.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->max_write = ud->max_write;
  conn->max_readahead = ud->max_write;
}

void OpDestroy(void* userdata) {
  auto* ud = static_cast<FuseUserdata*>(userdata);
  if (Filesystem* fs = ud->fs.load()) {
    Status st = fs->Destroy();
    if (!st.ok()) spdlog::error("unmount: pending uploads failed: {}", st.ToString());
  }
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "lookup", [&] {
    Filesystem& fs = Fs(req);
    Result<fs::Entry> entry = fs.Lookup(CallerOf(req), parent, name);
    if (!entry.ok() && entry.status().code() == ErrorCode::kNotFound &&
        fs.NegativeTimeoutSeconds() > 0) {
      fuse_entry_param p;  // a negative entry: the kernel remembers the miss
      std::memset(&p, 0, sizeof p);
      p.entry_timeout = fs.NegativeTimeoutSeconds();
      fuse_reply_entry(req, &p);
      return;
    }
    ReplyEntry(req, entry);
  });
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  try {
    Fs(req).Forget(ino, nlookup);
  } catch (...) {
  }
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  try {
    std::vector<std::pair<fs::InodeId, uint64_t>> items;
    items.reserve(count);
    for (size_t i = 0; i < count; ++i) items.emplace_back(forgets[i].ino, forgets[i].nlookup);
    Fs(req).ForgetMulti(items);
  } catch (...) {
  }
  fuse_reply_none(req);
}

void OpGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "getattr", [&] { ReplyAttr(req, Fs(req).GetAttr(CallerOf(req), ino, HandleOf(fi))); });
}

void OpSetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Guard(req, "setattr", [&] {
    fs::SetAttrRequest r;
    if (to_set & FUSE_SET_ATTR_MODE) r.mode = attr->st_mode & 07777;
    if (to_set & FUSE_SET_ATTR_UID) r.uid = attr->st_uid;
    if (to_set & FUSE_SET_ATTR_GID) r.gid = attr->st_gid;
    if (to_set & FUSE_SET_ATTR_SIZE) r.size = static_cast<uint64_t>(attr->st_size);
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) r.atime_ns = NowNs();
    else if (to_set & FUSE_SET_ATTR_ATIME) r.atime_ns = ToNs(attr->st_atim);
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) r.mtime_ns = NowNs();
    else if (to_set & FUSE_SET_ATTR_MTIME) r.mtime_ns = ToNs(attr->st_mtim);
    ReplyAttr(req, Fs(req).SetAttr(CallerOf(req), ino, r, HandleOf(fi)));
  });
}

void OpReadLink(fuse_req_t req, fuse_ino_t ino) {
  Guard(req, "readlink", [&] {
    Result<std::string> target = Fs(req).ReadLink(CallerOf(req), ino);
    if (!target.ok()) return ReplyError(req, target.status());
    fuse_reply_readlink(req, target->c_str());
  });
}

void OpMkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  Guard(req, "mknod", [&] {
    if (Userdata(req).writers.stopping()) return (void)fuse_reply_err(req, EROFS);
    ReplyEntry(req, Fs(req).MkNod(CallerOf(req), parent, name, mode));
  });
}

void OpMkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Guard(req, "mkdir", [&] { ReplyEntry(req, Fs(req).MkDir(CallerOf(req), parent, name, mode)); });
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "unlink", [&] { ReplyStatus(req, Fs(req).Unlink(CallerOf(req), parent, name)); });
}

void OpRmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "rmdir", [&] { ReplyStatus(req, Fs(req).RmDir(CallerOf(req), parent, name)); });
}

void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Guard(req, "symlink",
        [&] { ReplyEntry(req, Fs(req).Symlink(CallerOf(req), link, parent, name)); });
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) {
  Guard(req, "rename", [&] {
    ReplyStatus(req, Fs(req).Rename(CallerOf(req), parent, name, newparent, newname, flags));
  });
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Guard(req, "link",
        [&] { ReplyEntry(req, Fs(req).Link(CallerOf(req), ino, newparent, newname)); });
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "open", [&] {
    const bool writing = OpensForWriting(fi->flags);
    WriteTracker::Reservation slot = Userdata(req).writers.Reserve(writing);
    if (writing && !slot.ok()) return (void)fuse_reply_err(req, EROFS);  // stopping
    Result<fs::OpenReply> r = Fs(req).Open(CallerOf(req), ino, fi->flags);
    if (!r.ok()) return ReplyError(req, r.status());
    fi->fh = r->fh;
    fi->keep_cache = r->keep_cache;
    fi->direct_io = r->direct_io;
    // A reader's close has nothing to upload (a writer's bytes are uploaded by the writer's own
    // close): no FLUSH round trip for it (FOPEN_NOFLUSH, Linux 5.16+; older kernels ignore it).
    fi->noflush = !writing && (fi->flags & O_TRUNC) == 0;
    if (fuse_reply_open(req, fi) == -ENOENT) {
      (void)Fs(req).Release(r->fh);  // interrupted
      return;
    }
    slot.Keep();
  });
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  Guard(req, "create", [&] {
    WriteTracker::Reservation slot = Userdata(req).writers.Reserve(OpensForWriting(fi->flags));
    if (!slot.ok()) return (void)fuse_reply_err(req, EROFS);  // stopping
    Result<fs::CreateReply> r = Fs(req).Create(CallerOf(req), parent, name, mode, fi->flags);
    if (!r.ok()) return ReplyError(req, r.status());
    fi->fh = r->open.fh;
    fi->keep_cache = r->open.keep_cache;
    fi->direct_io = r->open.direct_io;
    fuse_entry_param p = ToEntryParam(r->entry);
    if (fuse_reply_create(req, &p, fi) == -ENOENT) {
      (void)Fs(req).Release(r->open.fh);
      return;
    }
    slot.Keep();
  });
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Guard(req, "read", [&] {
    // The reply is written to the kernel straight from the read-ahead chunks: no copy, and no
    // megabyte buffer per FUSE thread. (The vectors keep their capacity from read to read.)
    thread_local fs::ReadView view;
    thread_local std::vector<iovec> iov;
    // However this read ends (an allocation failure too), the chunks go back to the buffer pool:
    // the thread keeps no lease on the memory budget until its next read.
    struct Release {
      ~Release() {
        view.pieces.clear();
        view.keep.clear();
      }
    } release;
    Status s = Fs(req).ReadViews(fi->fh, static_cast<uint64_t>(off), size, &view);
    if (!s.ok()) return ReplyError(req, s);
    iov.clear();
    for (std::string_view piece : view.pieces) {
      iov.push_back(iovec{const_cast<char*>(piece.data()), piece.size()});
    }
    if (iov.empty()) {
      fuse_reply_buf(req, nullptr, 0);  // at or past the end of the file
    } else {
      fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
    }
  });
}

void OpWrite(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  Guard(req, "write", [&] {
    Result<size_t> n = Fs(req).Write(fi->fh, static_cast<uint64_t>(off), std::string_view(buf, size));
    if (!n.ok()) return ReplyError(req, n.status());
    fuse_reply_write(req, *n);
  });
}

void OpFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Guard(req, "flush", [&] { ReplyStatus(req, Fs(req).Flush(fi->fh)); });
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Guard(req, "release", [&] {
    Status st = Fs(req).Release(fi->fh);
    if (OpensForWriting(fi->flags)) Userdata(req).writers.Released();
    ReplyStatus(req, st);
  });
}

void OpFsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  Guard(req, "fsync", [&] { ReplyStatus(req, Fs(req).Fsync(fi->fh, datasync != 0)); });
}

void OpOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "opendir", [&] {
    Result<fs::DirHandle> dh = Fs(req).OpenDir(CallerOf(req), ino);
    if (!dh.ok()) return ReplyError(req, dh.status());
    fi->fh = *dh;
    if (fuse_reply_open(req, fi) == -ENOENT) (void)Fs(req).ReleaseDir(*dh);
  });
}

mode_t TypeBits(fs::FileType type) {
  switch (type) {
    case fs::FileType::kRegular: return S_IFREG;
    case fs::FileType::kDirectory: return S_IFDIR;
    case fs::FileType::kSymlink: return S_IFLNK;
  }
  return S_IFREG;
}

void OpReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Guard(req, "readdir", [&] {
    std::string buf(size, '\0');
    size_t used = 0;
    Status st = Fs(req).ReadDir(fi->fh, static_cast<uint64_t>(off), [&](const fs::DirEntry& e) {
      struct stat st;
      std::memset(&st, 0, sizeof st);
      st.st_ino = e.ino;
      st.st_mode = TypeBits(e.type);
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                                      static_cast<off_t>(e.offset));
      if (need > size - used) return false;
      used += need;
      return true;
    });
    if (!st.ok() && used == 0) return ReplyError(req, st);
    fuse_reply_buf(req, buf.data(), used);
  });
}

void OpReadDirPlus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Guard(req, "readdirplus", [&] {
    std::string buf(size, '\0');
    size_t used = 0;
    Status st = Fs(req).ReadDirPlus(
        fi->fh, static_cast<uint64_t>(off), [&](const fs::DirEntry& e, const fs::Entry& attrs) {
          fuse_entry_param p = ToEntryParam(attrs);
          size_t need = fuse_add_direntry_plus(req, buf.data() + used, size - used, e.name.c_str(),
                                               &p, static_cast<off_t>(e.offset));
          if (need > size - used) return false;
          used += need;
          return true;
        });
    if (!st.ok() && used == 0) return ReplyError(req, st);
    fuse_reply_buf(req, buf.data(), used);
  });
}

void OpReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Guard(req, "releasedir", [&] { ReplyStatus(req, Fs(req).ReleaseDir(fi->fh)); });
}

void OpFsyncDir(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  Guard(req, "fsyncdir", [&] { ReplyStatus(req, Fs(req).FsyncDir(fi->fh, datasync != 0)); });
}

void OpStatFs(fuse_req_t req, fuse_ino_t ino) {
  Guard(req, "statfs", [&] {
    Result<fs::StatFsReply> r = Fs(req).StatFs(ino);
    if (!r.ok()) return ReplyError(req, r.status());
    struct statvfs sv;
    std::memset(&sv, 0, sizeof sv);
    sv.f_bsize = r->block_size;
    sv.f_frsize = r->fragment_size;
    sv.f_blocks = r->blocks;
    sv.f_bfree = r->blocks_free;
    sv.f_bavail = r->blocks_available;
    sv.f_files = r->files;
    sv.f_ffree = r->files_free;
    sv.f_favail = r->files_free;
    sv.f_namemax = r->name_max;
    fuse_reply_statfs(req, &sv);
  });
}

// The stats ioctl of the root directory (stats_report.h): the owner and root read the counters.
// Every other ioctl, and this one on any other inode, is ENOTTY.
void OpIoctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void* /*arg*/, fuse_file_info* /*fi*/,
             unsigned /*flags*/, const void* /*in_buf*/, size_t /*in_bufsz*/, size_t out_bufsz) {
  Guard(req, "ioctl", [&] {
    if (ino != fs::kRootInode || cmd != kStatsIoctl) {
      return (void)fuse_reply_err(req, ENOTTY);
    }
    const FuseUserdata& ud = Userdata(req);
    const fuse_ctx* ctx = fuse_req_ctx(req);
    if (ctx->uid != ud.owner_uid && ctx->uid != 0) return (void)fuse_reply_err(req, EACCES);
    std::string text = FormatStats(ud.fs.load()->GetCounters(), getpid(), ud.writers.Open());
    if (text.size() > out_bufsz) return (void)fuse_reply_err(req, EOVERFLOW);
    fuse_reply_ioctl(req, static_cast<int>(text.size()), text.data(), text.size());
  });
}

fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = OpInit;
  ops.destroy = OpDestroy;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetAttr;
  ops.setattr = OpSetAttr;
  ops.readlink = OpReadLink;
  ops.mknod = OpMkNod;
  ops.mkdir = OpMkDir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmDir;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.open = OpOpen;
  ops.create = OpCreate;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.opendir = OpOpenDir;
  ops.readdir = OpReadDir;
  ops.readdirplus = OpReadDirPlus;
  ops.releasedir = OpReleaseDir;
  ops.fsyncdir = OpFsyncDir;
  ops.statfs = OpStatFs;
  // No xattr operations: libfuse answers them ENOSYS, after which the kernel answers EOPNOTSUPP
  // itself and stops asking. Answering getxattr at all would cost a round trip per write(2), the
  // kernel's "security.capability" check.
  ops.ioctl = OpIoctl;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& SpacesfsOperations() {
  static const fuse_lowlevel_ops kOps = MakeOperations();
  return kOps;
}

}  // namespace spacesfs::fuse

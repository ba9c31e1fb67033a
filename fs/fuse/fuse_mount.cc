#include "fs/fuse/fuse_mount.h"

#include <fuse_lowlevel.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

namespace spacesfs::fuse {
namespace {

std::atomic<int> g_reload_fd{-1};

void OnSighup(int) {
  int fd = g_reload_fd.load();
  if (fd >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof one);
    (void)ignored;
  }
}

// The mount points listed in /proc/self/mountinfo (field 5, with octal escapes decoded).
bool IsMountPoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mp;
    fields >> id >> parent >> devno >> root >> mp;
    std::string decoded;
    for (size_t i = 0; i < mp.size(); ++i) {
      if (mp[i] == '\\' && i + 3 < mp.size()) {
        decoded.push_back(static_cast<char>(std::stoi(mp.substr(i + 1, 3), nullptr, 8)));
        i += 3;
      } else {
        decoded.push_back(mp[i]);
      }
    }
    if (decoded == path) return true;
  }
  return false;
}

}  // namespace

Status CheckMountPoint(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOTCONN) {
      return Status(ErrorCode::kConfig, "mount point " + path +
                                            " is a dead spacesfs mount: run fusermount3 -u " + path);
    }
    return Status(ErrorCode::kConfig,
                  "mount point " + path + " does not exist (" + std::strerror(errno) + ")");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kConfig, "mount point " + path + " is not a directory");
  }
  char resolved[PATH_MAX];
  std::string canonical = realpath(path.c_str(), resolved) ? resolved : path;
  if (IsMountPoint(canonical)) {
    return Status(ErrorCode::kConfig, "mount point " + path + " is busy: something is already mounted there");
  }
  return Status::Ok();
}

Result<std::unique_ptr<FuseMount>> FuseMount::Mount(const MountConfig& config) {
  SPACESFS_RETURN_IF_ERROR(CheckMountPoint(config.mountpoint));
  std::unique_ptr<FuseMount> mount(new FuseMount(config));
  mount->userdata_.max_write = config.max_write;

  std::string opts = "fsname=" + config.fsname + ",subtype=spacesfs";
  if (config.allow_other) opts += ",allow_other";
  if (config.allow_root) opts += ",allow_root";
  if (config.default_permissions) opts += ",default_permissions";
  if (config.read_only) opts += ",ro";
  std::vector<std::string> arg_strings = {"spacesfs", "-o", opts};
  if (config.debug) arg_strings.push_back("-d");
  std::vector<char*> argv;
  for (std::string& s : arg_strings) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_lowlevel_ops& ops = SpacesfsOperations();
  mount->session_ = fuse_session_new(&args, &ops, sizeof ops, &mount->userdata_);
  if (mount->session_ == nullptr) {
    return Status(ErrorCode::kConfig, "cannot create the FUSE session (bad options: " + opts + ")");
  }
  if (fuse_session_mount(mount->session_, config.mountpoint.c_str()) != 0) {
    fuse_session_destroy(mount->session_);
    mount->session_ = nullptr;
    std::string hint = config.allow_other && getuid() != 0
                           ? " (allow_other needs 'user_allow_other' in /etc/fuse.conf)"
                           : "";
    return Status(ErrorCode::kIoError,
                  "the kernel refused to mount on " + config.mountpoint + hint +
                      " (is /dev/fuse available and fusermount3 installed?)");
  }
  mount->mounted_ = true;
  return mount;
}

Status FuseMount::Serve(fs::Filesystem& filesystem, std::function<void()> on_reload) {
  userdata_.fs.store(&filesystem);
  if (fuse_set_signal_handlers(session_) != 0) {
    return Status(ErrorCode::kInternal, "cannot install signal handlers");
  }
  // SIGHUP reloads instead of ending the session.
  int reload_fd = eventfd(0, EFD_CLOEXEC);
  g_reload_fd = reload_fd;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSighup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  std::atomic<bool> stopping{false};
  std::thread reloader([&] {
    for (;;) {
      uint64_t count;
      if (read(reload_fd, &count, sizeof count) != sizeof count) {
        if (errno == EINTR) continue;
        return;
      }
      if (stopping.load()) return;
      spdlog::info("SIGHUP: reloading");
      if (on_reload) on_reload();
    }
  });

  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, config_.max_threads);
  fuse_loop_cfg_set_clone_fd(loop, 0);
  int rc = fuse_session_loop_mt(session_, loop);
  fuse_loop_cfg_destroy(loop);

  stopping = true;
  uint64_t one = 1;
  ssize_t ignored = write(reload_fd, &one, sizeof one);
  (void)ignored;
  reloader.join();
  g_reload_fd = -1;
  close(reload_fd);
  fuse_remove_signal_handlers(session_);
  if (rc != 0 && rc != -EINTR && rc != SIGTERM && rc != SIGINT && rc != SIGHUP) {
    return Status(ErrorCode::kIoError, "FUSE session ended with error " + std::to_string(rc));
  }
  return Status::Ok();
}

void FuseMount::Close() {
  if (session_ == nullptr) return;
  if (mounted_) {
    fuse_session_unmount(session_);
    mounted_ = false;
  }
  fuse_session_destroy(session_);  // calls the destroy callback: pending uploads finish
  session_ = nullptr;
}

FuseMount::~FuseMount() { Close(); }

}  // namespace spacesfs::fuse

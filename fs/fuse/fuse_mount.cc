#include "fs/fuse/fuse_mount.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// The write end of the pipe the signal handlers report to: 'H' for SIGHUP, 'T' for SIGTERM and
// SIGINT. The control thread reads the other end; 'Q' (written by Serve) tells it to return.
std::atomic<int> g_signal_fd{-1};

void OnSignal(int sig) {
  int fd = g_signal_fd.load();
  if (fd < 0) return;
  const int saved_errno = errno;
  char c = sig == SIGHUP ? 'H' : 'T';
  ssize_t ignored = write(fd, &c, 1);
  (void)ignored;
  errno = saved_errno;
}

constexpr int kHandledSignals[] = {SIGHUP, SIGTERM, SIGINT, SIGPIPE};

// Whether /etc/fuse.conf has the line "user_allow_other" (as fusermount3 reads it).
bool FuseConfAllowsOther() {
  std::ifstream in("/etc/fuse.conf");
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    size_t last = line.find_last_not_of(" \t\r");
    if (line.substr(first, last - first + 1) == "user_allow_other") return true;
  }
  return false;
}

// What fusermount3 (or libfuse before it) would refuse in a mount by a user other than root, as
// one line that says what to do.
Status CheckUserMount(const MountConfig& config) {
  if (geteuid() == 0) return Status::Ok();
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    if (errno == ENOENT) {
      return Status(ErrorCode::kConfig, "/dev/fuse does not exist: load the fuse module (modprobe fuse)");
    }
    return Status(ErrorCode::kConfig,
                  "/dev/fuse is not readable and writable by uid " + std::to_string(getuid()) +
                      ": mounts by users other than root need it mode 0666 (as udev sets it); ask "
                      "the administrator");
  }
  if ((config.allow_other || config.allow_root) && !FuseConfAllowsOther()) {
    const std::string option = config.allow_other ? "allow_other" : "allow_root";
    return Status(ErrorCode::kConfig,
                  option + " in a mount by a user other than root needs the line "
                           "'user_allow_other' in /etc/fuse.conf: ask the administrator to add it, "
                           "or mount without " + option);
  }
  return Status::Ok();
}

// A value for libfuse's -o list: ',' and '\\' escaped with '\\'.
std::string EscapeOptionValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// The mount points listed in /proc/self/mountinfo (field 5, with octal escapes decoded).
// The device ("major:minor") of the newest mount on path, from /proc/self/mountinfo; "" if none.
std::string MountDevice(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string device;
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
    if (decoded == path) device = devno;
  }
  return device;
}

bool IsMountPoint(const std::string& path) { return !MountDevice(path).empty(); }

// The kernel reads ahead 128 KiB on a FUSE mount unless told otherwise, so a sequential reader's
// pages come in 128 KiB READ requests. Raising the mount's read-ahead to max_write (before INIT,
// which then agrees to it) makes them max_write long: fewer round trips and less CPU per byte
// (1 GiB cold read: +7% throughput, -5% daemon CPU). Only root may write the setting; elsewhere
// the default stays.
void RaiseReadAhead(const std::string& mountpoint, unsigned max_write) {
  char resolved[PATH_MAX];
  std::string canonical = realpath(mountpoint.c_str(), resolved) ? resolved : mountpoint;
  std::string device = MountDevice(canonical);
  if (device.empty()) return;
  std::ofstream out("/sys/class/bdi/" + device + "/read_ahead_kb");
  out << (max_write / 1024) << "\n";
  out.flush();
  if (!out) {
    spdlog::debug("read-ahead of {} left at the kernel's default (cannot write /sys/class/bdi/{})",
                  mountpoint, device);
  }
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
  SPACESFS_RETURN_IF_ERROR(CheckUserMount(config));
  std::unique_ptr<FuseMount> mount(new FuseMount(config));
  mount->userdata_.max_write = config.max_write;
  mount->userdata_.owner_uid = getuid();

  std::string opts = "fsname=" + EscapeOptionValue(config.fsname) + ",subtype=spacesfs,nosuid,nodev";
  if (config.allow_other) opts += ",allow_other";
  if (config.allow_root) opts += ",allow_root";
  if (config.default_permissions) opts += ",default_permissions";
  if (config.read_only) opts += ",ro";
  if (config.no_exec) opts += ",noexec";
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
    return Status(ErrorCode::kIoError,
                  "the kernel refused to mount on " + config.mountpoint +
                      " (is /dev/fuse available and fusermount3 installed?)");
  }
  mount->mounted_ = true;
  RaiseReadAhead(config.mountpoint, config.max_write);
  return mount;
}

Status FuseMount::Serve(fs::Filesystem& filesystem, ServeCallbacks callbacks) {
  userdata_.fs.store(&filesystem);
  int signal_pipe[2];
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status(ErrorCode::kInternal, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  g_signal_fd = signal_pipe[1];
  // SIGTERM and SIGINT without SA_RESTART, as libfuse installs them: the main thread waits in
  // sem_wait() inside the session loop, and only an interrupted wait lets it see that the session
  // was told to exit. (libfuse's workers block these signals.)
  struct sigaction previous[std::size(kHandledSignals)];
  for (size_t i = 0; i < std::size(kHandledSignals); ++i) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = kHandledSignals[i] == SIGPIPE ? SIG_IGN : OnSignal;
    sa.sa_flags = kHandledSignals[i] == SIGHUP ? SA_RESTART : 0;
    sigaction(kHandledSignals[i], &sa, &previous[i]);
  }

  const pthread_t main_thread = pthread_self();
  std::atomic<bool> loop_done{false};
  std::thread control(
      [&] { ControlLoop(signal_pipe[0], callbacks, main_thread, loop_done); });

  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, config_.max_threads);
  fuse_loop_cfg_set_clone_fd(loop, 0);
  int rc = fuse_session_loop_mt(session_, loop);
  fuse_loop_cfg_destroy(loop);

  loop_done = true;
  const char quit = 'Q';
  while (write(signal_pipe[1], &quit, 1) != 1 && errno == EINTR) {
  }
  control.join();
  g_signal_fd = -1;
  for (size_t i = 0; i < std::size(kHandledSignals); ++i) {
    sigaction(kHandledSignals[i], &previous[i], nullptr);
  }
  close(signal_pipe[0]);
  close(signal_pipe[1]);
  if (rc != 0 && rc != -EINTR && rc != SIGTERM && rc != SIGINT && rc != SIGHUP) {
    return Status(ErrorCode::kIoError, "FUSE session ended with error " + std::to_string(rc));
  }
  return Status::Ok();
}

void FuseMount::ControlLoop(int signal_fd, const ServeCallbacks& callbacks, pthread_t main_thread,
                            const std::atomic<bool>& loop_done) {
  using Clock = std::chrono::steady_clock;
  enum class State { kServing, kDraining, kExiting };
  State state = State::kServing;
  Clock::time_point next_tick = Clock::now() + config_.tick_interval;
  Clock::time_point deadline = Clock::time_point::max();
  auto end_session = [&] {
    fuse_session_exit(session_);
    state = State::kExiting;
  };
  for (;;) {
    int timeout_ms = 100;
    if (state == State::kServing) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000));
    }
    pollfd p{signal_fd, POLLIN, 0};
    char events[64];
    ssize_t got = 0;
    if (poll(&p, 1, timeout_ms) > 0) got = read(signal_fd, events, sizeof events);
    for (ssize_t i = 0; i < got; ++i) {
      if (events[i] == 'Q') return;
      if (events[i] == 'H' && state == State::kServing) {
        spdlog::info("SIGHUP: reloading");
        if (callbacks.on_reload) callbacks.on_reload();
      } else if (events[i] == 'T' && state == State::kServing) {
        userdata_.writers.BeginStop();
        spdlog::info("stopping: new writes are refused; waiting up to {} ms for {} file(s) open "
                     "for writing", config_.stop_timeout.count(), userdata_.writers.Open());
        if (callbacks.on_stopping) callbacks.on_stopping();
        deadline = Clock::now() + config_.stop_timeout;
        state = State::kDraining;
      } else if (events[i] == 'T' && state == State::kDraining) {
        spdlog::warn("stopping: second signal, not waiting for {} file(s) open for writing",
                     userdata_.writers.Open());
        end_session();
      }
    }
    if (state == State::kServing && Clock::now() >= next_tick) {
      if (callbacks.on_tick) callbacks.on_tick();
      next_tick = Clock::now() + config_.tick_interval;
    }
    if (state == State::kDraining) {
      if (userdata_.writers.Open() == 0) {
        end_session();
      } else if (Clock::now() >= deadline) {
        spdlog::warn("stopping: {} file(s) still open for writing after {} ms; unmounting anyway",
                     userdata_.writers.Open(), config_.stop_timeout.count());
        end_session();
      }
    }
    // The main thread waits in the session loop until a signal interrupts it; repeat until it left.
    if (state == State::kExiting && !loop_done.load()) pthread_kill(main_thread, SIGTERM);
  }
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

#include "cli/mount_command.h"

#include <fuse_lowlevel.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include <spdlog/spdlog.h>

#include "auth/scope.h"
#include "auth/secret_options.h"
#include "cli/mount_options.h"
#include "cli/space_client.h"
#include "cli/state_dir.h"
#include "common/logging.h"
#include "common/sd_notify.h"
#include "fs/disk_cache.h"
#include "fs/filesystem.h"
#include "fs/fuse/fuse_mount.h"
#include "fs/fuse/stats_report.h"

namespace spacesfs::cli {
namespace {

constexpr const char* kUsage =
    "usage: spacesfs SPACE[:/PREFIX] MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d]\n"
    "       options: profile=NAME, credentials=FILE, uid=, gid=, umask=, file_mode=, dir_mode=,\n"
    "       allow_other, allow_root, default_permissions, ro, attr_timeout=, entry_timeout=,\n"
    "       negative_timeout=, stop_timeout=, metadata_flush_delay=, connect_timeout=,\n"
    "       request_timeout=, retries=, noexec, memory_budget=, part_size=, upload_parallel=,\n"
    "       max_read_ahead=, noverify_reads, staging_dir=, state_dir=, cache=, cache_size=,\n"
    "       log_level=, log_file=, fsname=\n";

int Fail(const std::string& line) {
  std::fprintf(stderr, "spacesfs: %s\n", line.c_str());
  return 1;
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

// Explains a failed first request in terms of what the user has to fix.
std::string DescribeFirstRequestFailure(const Status& st, const std::string& space,
                                        const auth::Profile& profile) {
  std::string who = "profile '" + profile.name + "'";
  if (st.s3_code() == "NoSuchBucket") return "Space '" + space + "' does not exist at " + profile.endpoint;
  if (st.code() == ErrorCode::kAuthFailed) {
    return "the key of " + who + " was refused by " + profile.endpoint + " (" + st.s3_code() +
           "): check access_key_id and the secret in " + profile.source_file;
  }
  if (st.code() == ErrorCode::kAccessDenied) {
    return "the key of " + who + " may not list Space '" + space + "' (" + st.s3_code() + ")";
  }
  if (st.code() == ErrorCode::kTimeout) {
    return profile.endpoint + " does not answer (" + st.message() + ")";
  }
  if (st.code() == ErrorCode::kNetwork) {
    return "cannot reach " + profile.endpoint + ": " + st.message();
  }
  if (st.message().find("TLS certificate is refused") != std::string::npos) {
    // curl's own words are the last parenthesis ("SSL certificate problem: ...").
    const std::string& m = st.message();
    size_t open = m.rfind(" (");
    std::string detail = open != std::string::npos && m.back() == ')'
                             ? " (" + m.substr(open + 2, m.size() - open - 3) + ")"
                             : "";
    return profile.endpoint + ": TLS certificate is refused" + detail +
           (profile.ca_bundle.empty()
                ? "; to trust a private authority, name its PEM file with ca_bundle in " + who
                : "; not signed by an authority in ca_bundle " + profile.ca_bundle);
  }
  return "first request to Space '" + space + "' failed: " + st.ToString();
}

// The first request, through a client of its own with the short limits of FirstRequestLimits():
// proves the endpoint answers, the Space exists and the key is accepted. Returns what it answered.
Status FirstRequest(const auth::Profile& profile, const MountTarget& target,
                    const RequestLimits& limits) {
  Result<std::unique_ptr<s3::CurlObjectClient>> client = OpenSpace(profile, target.space, limits);
  if (!client.ok()) return client.status();
  s3::ListObjectsRequest probe;
  probe.prefix = target.prefix;
  probe.delimiter = "/";
  probe.max_keys = 1;
  return (*client)->ListObjects(probe).status();
}

// WHO names of grants, resolved through the system's user and group databases.
auth::NameLookup SystemNameLookup() {
  auth::NameLookup lookup;
  lookup.user_id = [](std::string_view name) -> std::optional<uid_t> {
    std::string n(name);
    std::vector<char> buf(16384);
    struct passwd pw;
    struct passwd* found = nullptr;
    if (getpwnam_r(n.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
      return std::nullopt;
    }
    return found->pw_uid;
  };
  lookup.group_id = [](std::string_view name) -> std::optional<gid_t> {
    std::string n(name);
    std::vector<char> buf(65536);
    struct group gr;
    struct group* found = nullptr;
    if (getgrnam_r(n.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
      return std::nullopt;
    }
    return found->gr_gid;
  };
  return lookup;
}

// The user name of a uid for log lines ("" when unknown).
std::string UserName(uint32_t uid) {
  std::vector<char> buf(16384);
  struct passwd pw;
  struct passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return "";
  return found->pw_name;
}

std::string DescribeScope(const auth::Profile& profile, const std::string& space) {
  std::string out;
  for (const auth::Grant& grant : profile.grants) {
    if (grant.space != space) continue;
    if (!out.empty()) out += ", ";
    out += auth::FormatGrant(grant);
  }
  return out;
}

// What a reloaded profile changes that only a new mount applies (the connection's endpoint,
// region and trusted authorities): "" when nothing.
std::string ChangesForTheNextMount(const auth::Profile& mounted, const auth::Profile& fresh) {
  std::string changed;
  auto add = [&](const char* what, const std::string& was, const std::string& now) {
    if (was == now) return;
    changed += changed.empty() ? "" : ", ";
    changed += std::string(what) + " '" + now + "'";
  };
  add("endpoint", mounted.endpoint, fresh.endpoint);
  add("region", mounted.region, fresh.region);
  add("ca_bundle", mounted.ca_bundle, fresh.ca_bundle);
  if (changed.empty()) return "";
  return "; from the next mount: " + changed + " (this mount stays on " + mounted.endpoint + ")";
}

// SIGHUP: reads the profile again and, when it still grants the mounted Space, switches the key
// and the scope together (the scope for operations that start afterwards); otherwise keeps both
// and logs one line. mounted: the profile as mounted (endpoint, region and ca_bundle stay
// those; the line says when the file names others). mounted_read_only: the kernel mount is
// `ro`, which a reload cannot change.
void ReloadProfile(const std::string& credentials_file, const auth::Profile& mounted,
                   const std::string& space, bool mounted_read_only, s3::CurlObjectClient& client,
                   fs::Filesystem& filesystem) {
  const std::string& profile_name = mounted.name;
  Result<auth::Profile> fresh = LoadCallerProfile(credentials_file, profile_name);
  if (!fresh.ok()) {
    spdlog::error("reload: keeping the current key and scope: {}", fresh.status().message());
    return;
  }
  Result<auth::ScopeChecker> scope =
      auth::ScopeChecker::Create(space, fresh->grants, SystemNameLookup());
  if (!scope.ok()) {
    spdlog::error("reload: keeping the current key and scope: profile '{}' in {}: {}",
                  profile_name, fresh->source_file, scope.status().message());
    return;
  }
  const bool scope_read_only = scope->read_only();
  client.SetSigningKey(SigningKeyOf(*fresh));
  filesystem.SetScope(std::make_shared<const auth::ScopeChecker>(std::move(*scope)));
  const char* note = "";
  if (scope_read_only && !mounted_read_only) {
    note = " (every grant is read: writes fail with EROFS; a remount shows `ro`)";
  } else if (!scope_read_only && mounted_read_only) {
    note = " (the mount itself stays read-only until it is remounted)";
  }
  spdlog::info("reload: profile '{}' reloaded (key {}), scope {}{}{}", profile_name,
               RedactKeyId(fresh->access_key_id), DescribeScope(*fresh, space), note,
               ChangesForTheNextMount(mounted, *fresh));
}

}  // namespace

int RunMount(const std::vector<std::string>& args, bool as_mount_helper) {
  std::vector<std::string> positional;
  std::vector<std::string> option_lists;
  bool foreground = false;
  bool debug = false;
  bool fake = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o") {
      if (i + 1 >= args.size()) return Fail("-o needs a value");
      option_lists.push_back(args[++i]);
    } else if (a.starts_with("-o") && a.size() > 2) {
      option_lists.push_back(a.substr(2));
    } else if (a == "-f" && as_mount_helper) {
      fake = true;  // mount(8)'s -f: do everything but the mount itself
    } else if (a == "-f") {
      foreground = true;
    } else if (a == "-d") {
      debug = true;
      foreground = true;
    } else if (a == "-s" || a == "-n" || a == "-v") {
      // mount(8) helper flags (sloppy, no mtab, verbose): nothing to do.
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a.starts_with("-")) {
      // Named without its value, which may be a secret.
      return Fail("unknown flag '" + a.substr(0, a.find('=')) + "'\n" + kUsage);
    } else if (auth::LooksLikeSecret(a) || auth::LooksLikeDigitalOceanToken(a)) {
      return Fail("argument " + std::to_string(i + 1) +
                  " looks like a secret key or API token: secrets are never given as arguments "
                  "(they show in ps); put secret_access_key in the profile's section of the "
                  "credentials file");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  Result<MountTarget> target = ParseMountTarget(positional[0]);
  if (!target.ok()) return Fail(target.status().message());
  Result<MountOptions> options = ParseMountOptions(option_lists);
  if (!options.ok()) return Fail(options.status().message());
  options->foreground = options->foreground || foreground;
  options->debug = options->debug || debug;
  const std::string mountpoint = Absolute(positional[1]);

  LogOptions log;
  log.level = options->debug ? "debug" : options->log_level;
  log.file = Absolute(options->log_file);
  log.target = DefaultLogTarget(log.file);
  if (Status st = SetupLogging(log); !st.ok()) return Fail(st.message());

  const std::string credentials_file = Absolute(options->credentials_file);
  Result<auth::Profile> profile = LoadCallerProfile(credentials_file, options->profile);
  if (!profile.ok()) return Fail(profile.status().message());
  if (!ProfileGrantsSpace(*profile, target->space)) {
    return Fail("profile '" + profile->name + "' has no grant for Space '" + target->space +
                "': add a line 'grant = " + target->space + ":read' (or another permission) to [" +
                profile->name + "] in " + profile->source_file);
  }
  Result<auth::ScopeChecker> scope =
      auth::ScopeChecker::Create(target->space, profile->grants, SystemNameLookup());
  if (!scope.ok()) {
    return Fail("profile '" + profile->name + "' in " + profile->source_file + ": " +
                scope.status().message());
  }
  // Only `read` grants: the whole mount is read-only (`ro` in its options, EROFS for writes).
  const bool read_only = options->read_only || scope->read_only();
  RequestLimits limits;
  limits.connect_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(options->connect_timeout * 1000));
  limits.stall_timeout =
      std::chrono::seconds(static_cast<int64_t>(std::ceil(options->request_timeout)));
  limits.max_attempts = options->retries + 1;
  limits.sign_payload_over_tls = options->sign_payload_over_tls;
  Result<std::unique_ptr<s3::CurlObjectClient>> client =
      OpenSpace(*profile, target->space, limits);
  if (!client.ok()) return Fail(client.status().message());
  if (Status st = FirstRequest(*profile, *target, FirstRequestLimits(limits)); !st.ok()) {
    return Fail(DescribeFirstRequestFailure(st, target->space, *profile));
  }
  spdlog::debug("profile '{}' from {}: the first request to Space '{}' at {} succeeded",
                profile->name, profile->source_file, target->space, profile->endpoint);

  // The disk cache is opened (and locked) now, so a directory another mount holds is refused here.
  std::shared_ptr<fs::DiskCache> disk_cache;
  if (!options->cache_dir.empty()) {
    Result<std::unique_ptr<fs::DiskCache>> cache =
        fs::DiskCache::Open(Absolute(options->cache_dir), options->cache_size);
    if (!cache.ok()) return Fail(cache.status().message());
    disk_cache = std::move(*cache);
  }

  if (fake) return 0;

  fuse::MountConfig mount_config;
  mount_config.mountpoint = mountpoint;
  // The source as mount(8) wrote it, so `mount -a` recognises the mount as already there.
  mount_config.fsname = options->fsname.empty() ? positional[0] : options->fsname;
  mount_config.allow_other = options->allow_other;
  mount_config.allow_root = options->allow_root;
  mount_config.default_permissions = options->EffectiveDefaultPermissions();
  mount_config.read_only = read_only;
  mount_config.no_exec = options->no_exec;
  mount_config.debug = options->debug;
  mount_config.stop_timeout = std::chrono::milliseconds(static_cast<int64_t>(options->stop_timeout * 1000));
  Result<std::unique_ptr<fuse::FuseMount>> mount = fuse::FuseMount::Mount(mount_config);
  if (!mount.ok()) return Fail(mount.status().message());

  spdlog::info("mounted Space '{}'{} on {}: profile '{}' (key {}), endpoint {}, scope {}{}",
               target->space, target->prefix.empty() ? "" : " prefix '" + target->prefix + "'",
               mountpoint, profile->name, RedactKeyId(profile->access_key_id), profile->endpoint,
               DescribeScope(*profile, target->space), read_only ? " (read-only mount)" : "");

  // Relative directories are resolved before detaching (which changes to "/").
  std::string staging_dir;
  if (!options->staging_dir.empty()) {
    staging_dir = Absolute(options->staging_dir);
  } else if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') {
    staging_dir = tmp;
  } else {
    staging_dir = "/var/tmp";
  }
  std::string state_dir =
      options->state_dir.empty() ? DefaultStateDir() : Absolute(options->state_dir);
  if (state_dir.empty()) {
    spdlog::warn("no state_dir (no home directory): uploads a killed daemon leaves are not cleaned up");
  }

  // Detach now that every check has passed; no thread may exist before this point.
  if (fuse_daemonize(options->foreground ? 1 : 0) != 0) return Fail("cannot detach from the terminal");

  fs::Options fs_options;
  fs_options.prefix = target->prefix;
  fs_options.read_only = read_only;
  fs_options.scope = std::make_shared<const auth::ScopeChecker>(std::move(*scope));
  fs_options.profile_name = profile->name;
  fs_options.space_name = target->space;
  fs_options.user_name = UserName;
  fs_options.uid = options->uid.value_or(getuid());
  fs_options.gid = options->gid.value_or(getgid());
  fs_options.umask = options->umask;
  if (options->file_mode) fs_options.file_mode = *options->file_mode;
  if (options->dir_mode) fs_options.dir_mode = *options->dir_mode;
  auto seconds = [](double s) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
  };
  fs_options.attr_ttl = seconds(options->attr_timeout);
  fs_options.entry_ttl = seconds(options->entry_timeout);
  fs_options.negative_ttl = seconds(options->negative_timeout);
  fs_options.metadata_flush_delay =
      std::chrono::duration_cast<std::chrono::milliseconds>(seconds(options->metadata_flush_delay));
  fs_options.memory_budget = DataPathBudget(options->memory_budget);
  fs_options.part_size = options->part_size;
  fs_options.multipart_threshold = options->part_size;
  fs_options.max_read_ahead = std::min(options->max_read_ahead, fs_options.memory_budget / 2);
  fs_options.verify_reads = options->verify_reads;
  fs_options.upload_parallel = options->upload_parallel;
  fs_options.staging_dir = staging_dir;
  // The journal is opened by the daemon itself (after detaching), so the lock is its own.
  fs_options.state_dir = state_dir;
  fs_options.space_id = profile->endpoint + "|" + target->space + "|" + target->prefix;
  fs_options.disk_cache = std::move(disk_cache);
  profile->secret_access_key.Wipe();  // the client holds its own copy

  int status = 0;
  {
    fs::Filesystem filesystem(**client, fs_options);
    // The mount is live and the first request to the Space succeeded.
    (void)NotifyReady();
    const std::string serving = "serving Space '" + target->space + "' on " + mountpoint +
                                " (profile '" + profile->name + "')";
    auto status_line = [&] {
      return serving + ": " + fuse::FormatStatsLine(filesystem.GetCounters());
    };
    (void)NotifyStatus(status_line());
    s3::CurlObjectClient& s3_client = **client;
    std::atomic<bool> stopping_sent{false};
    fuse::ServeCallbacks callbacks;
    callbacks.on_stopping = [&] {
      stopping_sent = true;
      (void)NotifyStopping();
    };
    callbacks.on_tick = [&] {
      (void)NotifyStatus(status_line());
    };
    callbacks.on_reload = [&] {
      (void)NotifyReloading();
      if (Status st = ReopenLogFile(); !st.ok()) spdlog::error("{}", st.message());
      ReloadProfile(credentials_file, *profile, target->space, read_only, s3_client, filesystem);
      (void)NotifyReady();
    };
    Status served = (*mount)->Serve(filesystem, std::move(callbacks));
    if (!stopping_sent) (void)NotifyStopping();  // unmounted from outside
    if (!served.ok()) {
      spdlog::error("{}", served.ToString());
      status = 1;
    }
    (*mount)->Close();  // unmount, then Filesystem::Destroy() uploads what is pending
  }
  spdlog::info("unmounted {}", mountpoint);
  return status;
}

}  // namespace spacesfs::cli

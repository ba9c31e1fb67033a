#include "cli/mount_options.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/space_client.h"
#include "cli/state_dir.h"

namespace spacesfs::cli {
namespace {

TEST(MountTargetTest, SpaceAndPrefix) {
  Result<MountTarget> t = ParseMountTarget("photos:/2024/trips/");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->space, "photos");
  EXPECT_EQ(t->prefix, "2024/trips/");
  Result<MountTarget> plain = ParseMountTarget("team-a");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->prefix, "");
}

TEST(MountTargetTest, RejectsBadNames) {
  EXPECT_EQ(ParseMountTarget("Photos").status().code(), ErrorCode::kConfig);
  EXPECT_EQ(ParseMountTarget("ab").status().code(), ErrorCode::kConfig);
  EXPECT_EQ(ParseMountTarget(":/x").status().code(), ErrorCode::kConfig);
  EXPECT_EQ(ParseMountTarget("photos:/a/../b").status().code(), ErrorCode::kConfig);
  EXPECT_EQ(ParseMountTarget("photos:/a//b").status().code(), ErrorCode::kConfig);
}

TEST(MountOptionsTest, ParsesTheUsualOptions) {
  Result<MountOptions> o = ParseMountOptions(
      {"profile=photos-ro,allow_other,uid=1000,gid=100", "umask=027,file_mode=0640,_netdev,nofail",
       "x-systemd.automount,attr_timeout=2.5,log_level=debug"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->profile, "photos-ro");
  EXPECT_TRUE(o->allow_other);
  EXPECT_TRUE(o->EffectiveDefaultPermissions());
  EXPECT_EQ(*o->uid, 1000u);
  EXPECT_EQ(*o->gid, 100u);
  EXPECT_EQ(o->umask, 027u);
  EXPECT_EQ(*o->file_mode, 0640u);
  EXPECT_DOUBLE_EQ(o->attr_timeout, 2.5);
  EXPECT_EQ(o->log_level, "debug");
}

TEST(MountOptionsTest, DefaultPermissionsCanBeTurnedOff) {
  Result<MountOptions> o = ParseMountOptions({"allow_other,nodefault_permissions"});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->EffectiveDefaultPermissions());
  Result<MountOptions> plain = ParseMountOptions({});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->EffectiveDefaultPermissions());
}

TEST(MountOptionsTest, UnknownOptionsAreNamed) {
  Result<MountOptions> o = ParseMountOptions({"profile=x,bogus,allow_othr=1"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), ErrorCode::kConfig);
  EXPECT_NE(o.status().message().find("'bogus'"), std::string::npos) << o.status().message();
  EXPECT_NE(o.status().message().find("'allow_othr'"), std::string::npos);
}

TEST(MountOptionsTest, SecretsAreRefusedWithoutEchoingThem) {
  Result<MountOptions> o = ParseMountOptions({"profile=x,secret_access_key=hunter2SECRET"});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("credentials file"), std::string::npos);
  EXPECT_EQ(o.status().message().find("hunter2SECRET"), std::string::npos);
}

// Shape, not name: a secret key or a DigitalOcean token under any option, or as a bare item, is
// refused without being echoed (an unknown option would otherwise be quoted in the error).
TEST(MountOptionsTest, ValuesShapedLikeSecretsAreRefusedWithoutEchoingThem) {
  const std::string secret = "YR3ycQPtg/qhmoSN86b4yoaNwyN+WfeS9VdlKEcU";
  const std::string token =
      "dop_v1_3f9a0c6be2d14f7a8b5c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";
  for (const std::string& list : {"fsname=" + secret, "ro," + secret, "profile=" + token,
                                  token + ",allow_other"}) {
    Result<MountOptions> o = ParseMountOptions({list});
    ASSERT_FALSE(o.ok()) << list;
    EXPECT_EQ(o.status().code(), ErrorCode::kConfig);
    EXPECT_NE(o.status().message().find("looks like a secret key or API token"), std::string::npos)
        << o.status().message();
    EXPECT_EQ(o.status().message().find(secret), std::string::npos) << o.status().message();
    EXPECT_EQ(o.status().message().find("3f9a0c6b"), std::string::npos) << o.status().message();
  }
  // A bare item the shape check lets through (no capitals side by side) is still not repeated
  // in the unknown-option error.
  const std::string escaped = "q8x2m4k7a9w1e5r3t6y0u8i2o4p7s1d3f5g7h9j0";
  Result<MountOptions> unknown = ParseMountOptions({"ro," + escaped + ",bogus"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message().find(escaped), std::string::npos)
      << unknown.status().message();
  EXPECT_NE(unknown.status().message().find("'(40 characters, not shown)', 'bogus'"),
            std::string::npos)
      << unknown.status().message();
  // Ordinary values are not taken for secrets.
  EXPECT_TRUE(ParseMountOptions({"fsname=photos-2024,credentials=/etc/spacesfs/credentials,"
                                 "staging_dir=/var/tmp/spacesfs,profile=PhotosReadOnly2024"})
                  .ok());
}

// memory_budget bounds the whole daemon: the data path gets it less the daemon's own 32 MiB.
TEST(MountOptionsTest, TheDataPathGetsTheBudgetLessTheDaemonsOwnMemory) {
  constexpr uint64_t kMiB = 1ull << 20;
  EXPECT_EQ(DataPathBudget(128 * kMiB), 96 * kMiB);
  EXPECT_EQ(DataPathBudget(1024 * kMiB), 992 * kMiB);
  EXPECT_EQ(DataPathBudget(64 * kMiB), 32 * kMiB);
  EXPECT_EQ(DataPathBudget(16 * kMiB), 8 * kMiB);  // the least budget accepted
}

TEST(MountOptionsTest, BadValuesAreNamed) {
  EXPECT_NE(ParseMountOptions({"uid=abc"}).status().message().find("'uid'"), std::string::npos);
  EXPECT_NE(ParseMountOptions({"umask=999"}).status().message().find("octal"), std::string::npos);
  EXPECT_EQ(ParseMountOptions({"profile="}).status().code(), ErrorCode::kConfig);
  EXPECT_EQ(ParseMountOptions({"log_level=loud"}).status().code(), ErrorCode::kConfig);
  EXPECT_NE(ParseMountOptions({"memory_budget=lots"}).status().message().find("'memory_budget'"),
            std::string::npos);
  EXPECT_NE(ParseMountOptions({"memory_budget=1M"}).status().message().find("at least 16M"),
            std::string::npos);
  EXPECT_NE(ParseMountOptions({"part_size=1M"}).status().message().find("5M and 5G"),
            std::string::npos);
  EXPECT_EQ(ParseMountOptions({"upload_parallel=0"}).status().code(), ErrorCode::kConfig);
}

TEST(MountOptionsTest, DiskCache) {
  Result<MountOptions> none = ParseMountOptions({"ro"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->cache_dir, "");
  Result<MountOptions> o = ParseMountOptions({"cache=/var/cache/spacesfs/photos"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->cache_dir, "/var/cache/spacesfs/photos");
  EXPECT_EQ(o->cache_size, 1ull << 30);
  o = ParseMountOptions({"cache=c,cache_size=512M"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->cache_dir, "c");
  EXPECT_EQ(o->cache_size, 512ull << 20);
  EXPECT_NE(ParseMountOptions({"cache_size=2G"}).status().message().find("needs 'cache=DIR'"),
            std::string::npos);
  EXPECT_NE(ParseMountOptions({"cache=c,cache_size=1M"}).status().message().find("at least 16M"),
            std::string::npos);
  EXPECT_NE(ParseMountOptions({"cache=c,cache_size=big"}).status().message().find("'cache_size'"),
            std::string::npos);
  EXPECT_EQ(ParseMountOptions({"cache="}).status().code(), ErrorCode::kConfig);
}

TEST(MountOptionsTest, DataPathSizes) {
  Result<MountOptions> o = ParseMountOptions(
      {"memory_budget=256M,part_size=16m,max_read_ahead=32M,upload_parallel=4"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->memory_budget, 256ull << 20);
  EXPECT_EQ(o->part_size, 16ull << 20);
  EXPECT_EQ(o->max_read_ahead, 32ull << 20);
  EXPECT_EQ(o->upload_parallel, 4u);
  Result<MountOptions> g = ParseMountOptions({"memory_budget=1G"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->memory_budget, 1ull << 30);
}

TEST(MountOptionsTest, ReadsAreVerifiedUnlessTurnedOff) {
  Result<MountOptions> plain = ParseMountOptions({});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->verify_reads);
  Result<MountOptions> off = ParseMountOptions({"noverify_reads"});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->verify_reads);
  // The later item wins, as everywhere.
  Result<MountOptions> again = ParseMountOptions({"noverify_reads", "verify_reads"});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->verify_reads);
}

TEST(MountOptionsTest, StateDir) {
  Result<MountOptions> o = ParseMountOptions({"state_dir=/srv/spacesfs-state"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->state_dir, "/srv/spacesfs-state");
  Result<MountOptions> plain = ParseMountOptions({});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->state_dir, "");
  Result<MountOptions> empty = ParseMountOptions({"state_dir="});
  EXPECT_EQ(empty.status().code(), ErrorCode::kConfig);
  EXPECT_NE(empty.status().message().find("'state_dir' needs a value"), std::string::npos)
      << empty.status().message();
}

TEST(StateDirTest, DefaultsForRootAndUsers) {
  EXPECT_EQ(DefaultStateDirFor(0, "/home/x/.state", "/root"), "/var/lib/spacesfs");
  EXPECT_EQ(DefaultStateDirFor(1000, "/home/alice/.st", "/home/alice"), "/home/alice/.st/spacesfs");
  EXPECT_EQ(DefaultStateDirFor(1000, "", "/home/alice"), "/home/alice/.local/state/spacesfs");
  EXPECT_EQ(DefaultStateDirFor(1000, "", "/home/alice/"), "/home/alice/.local/state/spacesfs");
  // A relative XDG_STATE_HOME is invalid and ignored.
  EXPECT_EQ(DefaultStateDirFor(1000, "state", "/home/alice"), "/home/alice/.local/state/spacesfs");
  EXPECT_EQ(DefaultStateDirFor(1000, "", "/"), "/.local/state/spacesfs");
  EXPECT_EQ(DefaultStateDirFor(1000, "", ""), "");
  EXPECT_EQ(DefaultStateDirFor(1000, "", "relative"), "");
}

// DefaultStateDir() in a child process running as uid (when this one is root and uid is not).
std::string DefaultStateDirAs(uid_t uid) {
  if (getuid() == uid || getuid() != 0) return DefaultStateDir();
  int fds[2];
  if (pipe(fds) != 0) return "<pipe failed>";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (setuid(uid) != 0) _exit(1);
    std::string dir = DefaultStateDir();
    if (write(fds[1], dir.data(), dir.size()) < 0) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "<child failed>";
}

TEST(StateDirTest, DefaultReadsTheEnvironment) {
  const char* xdg = getenv("XDG_STATE_HOME");
  const char* home = getenv("HOME");
  std::string saved_xdg = xdg != nullptr ? xdg : "";
  std::string saved_home = home != nullptr ? home : "";
  const uid_t user = getuid() == 0 ? 65534 : getuid();
  setenv("XDG_STATE_HOME", "/tmp/xdg-state", 1);
  setenv("HOME", "/tmp/home", 1);
  EXPECT_EQ(DefaultStateDirAs(user), "/tmp/xdg-state/spacesfs");
  unsetenv("XDG_STATE_HOME");
  EXPECT_EQ(DefaultStateDirAs(user), "/tmp/home/.local/state/spacesfs");
  if (getuid() == 0) {
    EXPECT_EQ(DefaultStateDir(), "/var/lib/spacesfs");
  }
  if (xdg != nullptr) setenv("XDG_STATE_HOME", saved_xdg.c_str(), 1);
  if (home != nullptr) setenv("HOME", saved_home.c_str(), 1); else unsetenv("HOME");
}

TEST(MountOptionsTest, FstabUserImpliesNoexecWhichIsHonoured) {
  // mount(8) hands a `user` fstab line to the helper as "rw,noexec,nosuid,nodev,...,user".
  Result<MountOptions> o = ParseMountOptions({"rw,noexec,nosuid,nodev,profile=p,user"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->no_exec);
  Result<MountOptions> back = ParseMountOptions({"noexec,exec,dev,suid"});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->no_exec);
}

TEST(MountOptionsTest, StopTimeoutIsSeconds) {
  Result<MountOptions> o = ParseMountOptions({"stop_timeout=2.5"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(o->stop_timeout, 2.5);
  EXPECT_DOUBLE_EQ(ParseMountOptions({})->stop_timeout, 30.0);
  EXPECT_NE(ParseMountOptions({"stop_timeout=soon"}).status().message().find("'stop_timeout'"),
            std::string::npos);
}

TEST(MountOptionsTest, MetadataFlushDelayIsSecondsUpToAnHour) {
  Result<MountOptions> o = ParseMountOptions({"metadata_flush_delay=0.25"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(o->metadata_flush_delay, 0.25);
  EXPECT_DOUBLE_EQ(ParseMountOptions({})->metadata_flush_delay, 1.0);
  ASSERT_TRUE(ParseMountOptions({"metadata_flush_delay=0"}).ok());
  Result<MountOptions> too_long = ParseMountOptions({"metadata_flush_delay=3601"});
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("'metadata_flush_delay' must be 0 to 3600"),
            std::string::npos)
      << too_long.status().message();
  EXPECT_FALSE(ParseMountOptions({"metadata_flush_delay=-1"}).ok());
  EXPECT_FALSE(ParseMountOptions({"metadata_flush_delay"}).ok());
}

TEST(MountOptionsTest, RequestTimeoutsAndRetries) {
  Result<MountOptions> defaults = ParseMountOptions({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_DOUBLE_EQ(defaults->connect_timeout, 10.0);
  EXPECT_DOUBLE_EQ(defaults->request_timeout, 30.0);
  EXPECT_EQ(defaults->retries, 4);
  Result<MountOptions> o = ParseMountOptions({"connect_timeout=3,request_timeout=5", "retries=0"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(o->connect_timeout, 3.0);
  EXPECT_DOUBLE_EQ(o->request_timeout, 5.0);
  EXPECT_EQ(o->retries, 0);
  for (const char* bad : {"request_timeout=0", "request_timeout=0.5", "connect_timeout=4000",
                          "retries=11", "retries=-1", "retries=two", "request_timeout"}) {
    Result<MountOptions> r = ParseMountOptions({bad});
    ASSERT_FALSE(r.ok()) << bad;
    std::string name = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r.status().message().find("'" + name + "'"), std::string::npos)
        << bad << ": " << r.status().message();
  }
}

// The mount-time request is bounded by its own short limits, or by the configured ones if smaller.
TEST(FirstRequestLimitsTest, ShortUnlessConfiguredShorter) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  RequestLimits defaults;  // connect 10 s, stall 30 s, 5 attempts: the mounted filesystem's
  RequestLimits first = FirstRequestLimits(defaults);
  EXPECT_EQ(first.connect_timeout, milliseconds(5000));
  EXPECT_EQ(first.stall_timeout, seconds(10));
  EXPECT_EQ(first.max_attempts, 2);

  RequestLimits small{milliseconds(1500), seconds(2), 1};
  RequestLimits kept = FirstRequestLimits(small);
  EXPECT_EQ(kept.connect_timeout, milliseconds(1500));
  EXPECT_EQ(kept.stall_timeout, seconds(2));
  EXPECT_EQ(kept.max_attempts, 1);

  RequestLimits large{milliseconds(60'000), seconds(600), 11};
  EXPECT_EQ(FirstRequestLimits(large).connect_timeout, milliseconds(5000));
  EXPECT_EQ(FirstRequestLimits(large).stall_timeout, seconds(10));
  EXPECT_EQ(FirstRequestLimits(large).max_attempts, 2);
}

}  // namespace
}  // namespace spacesfs::cli

#include "cli/object_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

#include "cli/mount_options.h"
#include "cli/space_client.h"
#include "s3/transfer.h"

namespace spacesfs::cli {
namespace {

int Fail(const std::string& line) {
  std::fprintf(stderr, "spacesfs: %s\n", line.c_str());
  return 1;
}

struct OpenedSpace {
  auth::Profile profile;
  std::unique_ptr<s3::CurlObjectClient> client;
};

Result<OpenedSpace> Open(const SpaceCommandOptions& options, const std::string& space) {
  Result<auth::Profile> profile = LoadCallerProfile(options.credentials_file, options.profile);
  if (!profile.ok()) return profile.status();
  if (!ProfileGrantsSpace(*profile, space)) {
    return Status(ErrorCode::kPermissionDenied,
                  "profile '" + profile->name + "' has no grant for Space '" + space + "'");
  }
  Result<std::unique_ptr<s3::CurlObjectClient>> client = OpenSpace(*profile, space);
  if (!client.ok()) return client.status();
  return OpenedSpace{std::move(*profile), std::move(*client)};
}

std::string FormatTime(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// "SPACE:/KEY" -> {space, key}; a plain local path -> nullopt.
std::optional<std::pair<std::string, std::string>> SplitRemote(const std::string& arg) {
  size_t colon = arg.find(":/");
  if (colon == std::string::npos || arg.find('/') < colon) return std::nullopt;
  std::string key = arg.substr(colon + 2);
  return std::make_pair(arg.substr(0, colon), key);
}

}  // namespace

int RunList(const SpaceCommandOptions& options, const std::string& target_text, bool recursive) {
  Result<MountTarget> target = ParseMountTarget(target_text);
  if (!target.ok()) return Fail(target.status().message());
  Result<OpenedSpace> space = Open(options, target->space);
  if (!space.ok()) return Fail(space.status().ToString());
  s3::ListObjectsRequest request;
  request.prefix = target->prefix;
  request.delimiter = recursive ? "" : "/";
  for (;;) {
    Result<s3::ListObjectsPage> page = space->client->ListObjects(request);
    if (!page.ok()) return Fail(page.status().ToString());
    for (const std::string& p : page->common_prefixes) {
      std::printf("%-19s %12s  %s\n", "", "DIR", p.c_str());
    }
    for (const s3::ObjectInfo& o : page->objects) {
      std::printf("%s %12llu  %s\n", FormatTime(o.last_modified_ns).c_str(),
                  static_cast<unsigned long long>(o.size), o.key.c_str());
    }
    if (!page->is_truncated) break;
    request.continuation_token = page->next_continuation_token;
  }
  return 0;
}

int RunCopy(const SpaceCommandOptions& options, const std::string& source,
            const std::string& destination) {
  auto remote_source = SplitRemote(source);
  auto remote_destination = SplitRemote(destination);
  if (remote_source.has_value() == remote_destination.has_value()) {
    return Fail("cp copies between a local file and SPACE:/KEY (exactly one side remote)");
  }
  if (remote_destination) {
    auto [space_name, key] = *remote_destination;
    if (key.empty() || key.back() == '/') {
      std::string base = source.substr(source.find_last_of('/') + 1);
      key += base;
    }
    Result<OpenedSpace> space = Open(options, space_name);
    if (!space.ok()) return Fail(space.status().ToString());
    int fd = open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("cannot open " + source + ": " + std::strerror(errno));
    struct stat st;
    fstat(fd, &st);
    Result<std::string> etag =
        s3::UploadFromFd(*space->client, key, fd, static_cast<uint64_t>(st.st_size), {});
    close(fd);
    if (!etag.ok()) return Fail(etag.status().ToString());
    std::printf("%s -> %s:/%s (%lld bytes, ETag %s)\n", source.c_str(), space_name.c_str(),
                key.c_str(), static_cast<long long>(st.st_size), etag->c_str());
    return 0;
  }
  auto [space_name, key] = *remote_source;
  Result<OpenedSpace> space = Open(options, space_name);
  if (!space.ok()) return Fail(space.status().ToString());
  std::string path = destination;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    path += "/" + key.substr(key.find_last_of('/') + 1);
  }
  std::string partial = path + ".spacesfs-partial";
  int fd = open(partial.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);  // read back: MD5
  if (fd < 0) return Fail("cannot create " + partial + ": " + std::strerror(errno));
  Result<s3::ObjectInfo> info = s3::DownloadToFd(*space->client, key, fd, {});
  int close_rc = close(fd);
  if (!info.ok() || close_rc != 0 || rename(partial.c_str(), path.c_str()) != 0) {
    unlink(partial.c_str());
    return Fail(info.ok() ? "cannot write " + path : info.status().ToString());
  }
  std::printf("%s:/%s -> %s (%llu bytes)\n", space_name.c_str(), key.c_str(), path.c_str(),
              static_cast<unsigned long long>(info->size));
  return 0;
}

}  // namespace spacesfs::cli

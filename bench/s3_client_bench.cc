// s3_client_bench: drives s3::CurlObjectClient the way `aws s3 cp` is driven, for bench/s3-client and
// for seeding the data of bench/filesystems.
//
//   s3_client_bench put-file   LOCAL_FILE KEY        one object; multipart above --part-size
//   s3_client_bench get-file   KEY LOCAL_FILE        ranged parallel GETs into LOCAL_FILE
//   s3_client_bench put-dir    LOCAL_DIR PREFIX      every regular file under LOCAL_DIR (recursive)
//                                                    to PREFIX/relative/path
//   s3_client_bench get-prefix PREFIX LOCAL_DIR      lists PREFIX, downloads every object under it
//                                                    to LOCAL_DIR/relative/path
// Options: --endpoint URL (required)  --bucket NAME (required)  --concurrency N (default 8)
//          --part-size BYTES (default 8388608)
// Keys come from the environment, never argv: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_DEFAULT_REGION (default us-east-1), the same variables aws and boto3 read; over https,
// AWS_CA_BUNDLE names the authority to trust, as for them.
//
// put-dir/get-prefix run --concurrency requests in flight (1 = sequential), one object per request
// below the part size. put-file/get-file split into parts sent by --concurrency threads.
// On success prints one line "ok objects=N bytes=N seconds=S" (S measured inside the process, from
// the first request to the last response) and exits 0; on any failure prints the first error to
// stderr and exits 1. Verification of contents is left to the caller (checksums of the files).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "common/status.h"
#include "s3/client_config.h"
#include "s3/curl_object_client.h"
#include "s3/object_client.h"
#include "s3/transfer.h"

namespace spacesfs::bench {
namespace {

struct Options {
  std::string command;
  std::vector<std::string> args;
  std::string endpoint;
  std::string bucket;
  int concurrency = 8;
  uint64_t part_size = 8ull << 20;
};

// One file or object to move, with its path relative to the directory or prefix.
struct Item {
  std::string relative;
  uint64_t size = 0;
};

void Usage() {
  std::fprintf(stderr,
               "usage: s3_client_bench put-file FILE KEY | get-file KEY FILE | put-dir DIR PREFIX |"
               " get-prefix PREFIX DIR\n"
               "       --endpoint URL --bucket NAME [--concurrency N] [--part-size BYTES]\n"
               "keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION\n");
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string value;
    if (arg == "--endpoint") {
      if (!next(&options->endpoint)) return false;
    } else if (arg == "--bucket") {
      if (!next(&options->bucket)) return false;
    } else if (arg == "--concurrency") {
      if (!next(&value)) return false;
      options->concurrency = std::atoi(value.c_str());
      if (options->concurrency < 1) return false;
    } else if (arg == "--part-size") {
      if (!next(&value)) return false;
      options->part_size = std::strtoull(value.c_str(), nullptr, 10);
      if (options->part_size == 0) return false;
    } else if (options->command.empty()) {
      options->command = arg;
    } else {
      options->args.push_back(arg);
    }
  }
  return !options->command.empty() && options->args.size() == 2 && !options->endpoint.empty() &&
         !options->bucket.empty();
}

Result<std::unique_ptr<s3::CurlObjectClient>> MakeClient(const Options& options) {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  const char* region = std::getenv("AWS_DEFAULT_REGION");
  if (id == nullptr || secret == nullptr || *id == '\0' || *secret == '\0') {
    return Status(ErrorCode::kConfig, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
  }
  s3::ClientConfig config;
  config.endpoint = options.endpoint;
  config.region = (region != nullptr && *region != '\0') ? region : "us-east-1";
  config.bucket = options.bucket;
  config.key = s3::SigningKey{id, Secret(secret), ""};
  config.addressing = s3::Addressing::kPath;
  config.max_idle_handles = static_cast<size_t>(options.concurrency) + 8;
  if (const char* ca = std::getenv("AWS_CA_BUNDLE"); ca != nullptr && *ca != '\0') {
    config.ca_bundle_path = ca;
  }
  return s3::CurlObjectClient::Create(std::move(config));
}

std::string JoinKey(const std::string& prefix, const std::string& relative) {
  if (prefix.empty()) return relative;
  if (prefix.back() == '/') return prefix + relative;
  return prefix + "/" + relative;
}

// Runs job(i) for every i in [0, count) on `threads` threads; returns the first failure.
template <typename Job>
Status RunParallel(size_t count, int threads, Job job) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;  // guarded by mu
  auto worker = [&] {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      Status st = job(i);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failed.exchange(true)) first = st;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads && static_cast<size_t>(t) < count; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  return first;
}

Status ErrnoStatus(const std::string& what) {
  return Status(ErrorCode::kIoError, what + ": " + std::strerror(errno));
}

// Uploads one local file: a single PUT up to the part size, multipart above it.
Status PutOne(s3::ObjectClient& client, const std::string& path, const std::string& key,
              uint64_t size, const s3::TransferOptions& transfer) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path);
  Result<std::string> etag = s3::UploadFromFd(client, key, fd, size, transfer);
  ::close(fd);
  return etag.ok() ? Status() : etag.status();
}

// Downloads one object into a new local file, in one GET up to the part size, ranged GETs above.
Status GetOne(s3::ObjectClient& client, const std::string& key, uint64_t size,
              const std::string& path, const s3::TransferOptions& transfer) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open " + path);
  Status st;
  if (size > transfer.part_size) {
    Result<s3::ObjectInfo> info = s3::DownloadToFd(client, key, fd, transfer);
    if (!info.ok()) st = info.status();
  } else {
    s3::GetObjectRequest get;
    get.key = key;
    Result<s3::ObjectInfo> info = client.GetObject(get, [fd, &path](std::string_view chunk) {
      while (!chunk.empty()) {
        ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          return ErrnoStatus("write " + path);
        }
        chunk.remove_prefix(static_cast<size_t>(n));
      }
      return Status();
    });
    if (!info.ok()) st = info.status();
  }
  if (::close(fd) != 0 && st.ok()) st = ErrnoStatus("close " + path);
  return st;
}

Result<std::vector<Item>> ListLocal(const std::string& dir) {
  std::vector<Item> items;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status(ErrorCode::kIoError, "cannot read " + dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status(ErrorCode::kIoError, "cannot read " + dir + ": " + ec.message());
    if (!it->is_regular_file()) continue;
    items.push_back(Item{std::filesystem::relative(it->path(), dir).string(), it->file_size()});
  }
  return items;
}

Result<std::vector<Item>> ListRemote(s3::ObjectClient& client, const std::string& prefix) {
  std::vector<Item> items;
  s3::ListObjectsRequest request;
  request.prefix = prefix.empty() || prefix.back() == '/' ? prefix : prefix + "/";
  while (true) {
    Result<s3::ListObjectsPage> page = client.ListObjects(request);
    if (!page.ok()) return page.status();
    for (const s3::ObjectInfo& object : page->objects) {
      std::string relative = object.key.substr(request.prefix.size());
      if (relative.empty() || relative.back() == '/') continue;  // directory markers
      items.push_back(Item{relative, object.size});
    }
    if (!page->is_truncated) break;
    request.continuation_token = page->next_continuation_token;
  }
  return items;
}

int Run(const Options& options) {
  Result<std::unique_ptr<s3::CurlObjectClient>> made = MakeClient(options);
  if (!made.ok()) {
    std::fprintf(stderr, "s3_client_bench: %s\n", made.status().ToString().c_str());
    return 1;
  }
  s3::ObjectClient& client = **made;
  s3::TransferOptions transfer;
  transfer.part_size = options.part_size;
  transfer.concurrency = options.concurrency;
  s3::TransferOptions single = transfer;  // one object among many in flight: no extra threads
  single.concurrency = 1;

  const auto start = std::chrono::steady_clock::now();
  Status st;
  uint64_t objects = 0, bytes = 0;
  const std::string& a = options.args[0];
  const std::string& b = options.args[1];
  if (options.command == "put-file") {
    struct stat sb;
    if (::stat(a.c_str(), &sb) != 0) {
      st = ErrnoStatus("stat " + a);
    } else {
      st = PutOne(client, a, b, static_cast<uint64_t>(sb.st_size), transfer);
      objects = 1;
      bytes = static_cast<uint64_t>(sb.st_size);
    }
  } else if (options.command == "get-file") {
    Result<s3::ObjectInfo> head = client.HeadObject(a);
    st = head.ok() ? GetOne(client, a, head->size, b, transfer) : head.status();
    objects = 1;
    bytes = head.ok() ? head->size : 0;
  } else if (options.command == "put-dir") {
    Result<std::vector<Item>> items = ListLocal(a);
    if (!items.ok()) {
      st = items.status();
    } else {
      const std::vector<Item>& list = *items;
      st = RunParallel(list.size(), options.concurrency, [&](size_t i) {
        const s3::TransferOptions& t = list[i].size > transfer.part_size ? transfer : single;
        return PutOne(client, a + "/" + list[i].relative, JoinKey(b, list[i].relative),
                      list[i].size, t);
      });
      objects = list.size();
      for (const Item& item : list) bytes += item.size;
    }
  } else if (options.command == "get-prefix") {
    Result<std::vector<Item>> items = ListRemote(client, a);
    if (!items.ok()) {
      st = items.status();
    } else {
      const std::vector<Item>& list = *items;
      std::error_code ec;
      for (const Item& item : list) {
        std::filesystem::create_directories(
            std::filesystem::path(b + "/" + item.relative).parent_path(), ec);
      }
      st = RunParallel(list.size(), options.concurrency, [&](size_t i) {
        const s3::TransferOptions& t = list[i].size > transfer.part_size ? transfer : single;
        return GetOne(client, JoinKey(a, list[i].relative), list[i].size,
                      b + "/" + list[i].relative, t);
      });
      objects = list.size();
      for (const Item& item : list) bytes += item.size;
    }
  } else {
    Usage();
    return 2;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!st.ok()) {
    std::fprintf(stderr, "s3_client_bench %s: %s\n", options.command.c_str(),
                 st.ToString().c_str());
    return 1;
  }
  std::printf("ok objects=%llu bytes=%llu seconds=%.6f\n",
              static_cast<unsigned long long>(objects), static_cast<unsigned long long>(bytes),
              seconds);
  return 0;
}

}  // namespace
}  // namespace spacesfs::bench

int main(int argc, char** argv) {
  spacesfs::bench::Options options;
  if (!spacesfs::bench::ParseOptions(argc, argv, &options)) {
    spacesfs::bench::Usage();
    return 2;
  }
  return spacesfs::bench::Run(options);
}

// Fuzzes the mapping between paths and keys: the name functions of fs/names.h, and fs::Filesystem
// over s3::MemoryObjectClient driven by a byte-coded sequence of Lookup / Create / Write /
// Release / MkDir / Symlink / Rename / Unlink / RmDir / ReadDir calls with arbitrary names, in a
// bucket where the input first plants arbitrary keys (as another writer of the Space could).
//
// Invariants (beyond "no crash, no sanitizer report, no leak"):
//   - IsValidComponent(n) is exactly: non-empty, not "." or "..", no '/' or NUL, <= 255 bytes;
//     CheckNewName agrees with it and with the 1,024-byte key limit; JoinPath joins with one '/';
//   - no call that takes a name (Lookup, Create, MkDir, Symlink, Rename's new name) succeeds
//     with a name that is not a valid component (no '/', NUL, "." or ".." ever accepted);
//   - ReadDir lists "." and ".." first, then only valid, distinct names;
//   - keys outside the mount's prefix are never created, changed or deleted;
//   - every key the filesystem creates is prefix + valid components ('/'-separated; a directory
//     marker ends with '/').
#include <fcntl.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fs/filesystem.h"
#include "fs/names.h"
#include "fuzz_check.h"
#include "s3/memory_object_client.h"

namespace spacesfs::fs {
namespace {

using fuzz::Printable;

bool ExpectedValid(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= kMaxNameBytes &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

void CheckNames(std::string_view name, std::string_view parent) {
  const bool valid = ExpectedValid(name);
  FUZZ_CHECK(IsValidComponent(name) == valid, "IsValidComponent(\"" + Printable(name) + "\")");
  std::string key = std::string(parent) + "/" + std::string(name);
  Status s = CheckNewName(name, key);
  if (valid && key.size() <= kMaxKeyBytes) {
    FUZZ_CHECK(s.ok(), "CheckNewName refused \"" + Printable(name) + "\": " + s.message());
  } else {
    FUZZ_CHECK(!s.ok(), "CheckNewName accepted \"" + Printable(name) + "\"");
    FUZZ_CHECK(s.code() == ErrorCode::kNameTooLong || s.code() == ErrorCode::kInvalidArgument,
               "CheckNewName: " + s.ToString());
  }
  FUZZ_CHECK(JoinPath("", name) == name, "JoinPath(\"\", name)");
  if (!parent.empty()) {
    FUZZ_CHECK(JoinPath(parent, name) == std::string(parent) + "/" + std::string(name),
               "JoinPath");
  }
}

// A name for an operation: mostly from a small alphabet (so operations meet the same names),
// sometimes hostile, sometimes arbitrary bytes.
std::string PickName(FuzzedDataProvider& in, const std::vector<std::string>& planted) {
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0: return in.PickValueInArray({"a", "b", "c", "d.txt", "dir", "x y", "ro"});
    case 1: return in.PickValueInArray({".", "..", "", "/", "a/b", "../a", "a/", "/a"});
    case 2: return std::string("a\0b", 3);
    case 3: return std::string(in.ConsumeIntegralInRange<size_t>(250, 1100), 'n');
    case 4:
      if (!planted.empty()) {
        const std::string& key = planted[in.ConsumeIntegralInRange<size_t>(0, planted.size() - 1)];
        size_t slash = key.rfind('/', key.size() > 1 ? key.size() - 2 : 0);
        return slash == std::string::npos ? key : key.substr(slash + 1);
      }
      [[fallthrough]];
    default: return in.ConsumeRandomLengthString(300);
  }
}

void CheckListing(Filesystem& fs, const Caller& caller, InodeId dir) {
  Result<DirHandle> dh = fs.OpenDir(caller, dir);
  if (!dh.ok()) return;
  std::vector<std::string> names;
  std::vector<InodeId> looked_up;
  Status s = fs.ReadDirPlus(*dh, 0, [&](const DirEntry& e, const Entry& entry) {
    names.push_back(e.name);
    if (e.name != "." && e.name != "..") looked_up.push_back(entry.ino);
    return names.size() < 10000;
  });
  fs.ReleaseDir(*dh);
  for (InodeId ino : looked_up) fs.Forget(ino, 1);
  if (!s.ok()) return;
  FUZZ_CHECK(names.size() >= 2 && names[0] == "." && names[1] == "..",
             "ReadDirPlus does not start with . and ..");
  std::set<std::string> seen;
  for (size_t i = 2; i < names.size(); ++i) {
    FUZZ_CHECK(ExpectedValid(names[i]), "ReadDirPlus listed \"" + Printable(names[i]) + "\"");
    FUZZ_CHECK(seen.insert(names[i]).second, "ReadDirPlus listed twice: " + Printable(names[i]));
  }
}

// Components of a key the filesystem wrote, below the prefix.
bool IsPathKey(std::string_view rest) {
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // directory marker
  if (rest.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    std::string_view part = rest.substr(start, slash == rest.npos ? rest.npos : slash - start);
    if (!ExpectedValid(part)) return false;
    if (slash == rest.npos) return true;
    start = slash + 1;
  }
}

// A key the filesystem may have produced: a path, or a path followed by the tail of a planted key
// (renaming a directory moves the hidden keys below it along).
bool IsPathOrMovedKey(std::string_view rest, const std::vector<std::string>& planted) {
  if (IsPathKey(rest)) return true;
  for (size_t slash = rest.find('/'); slash != rest.npos; slash = rest.find('/', slash + 1)) {
    std::string_view head = rest.substr(0, slash), tail = rest.substr(slash + 1);
    if (!IsPathKey(head)) continue;
    for (const std::string& key : planted) {
      if (key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0) {
        return true;
      }
    }
  }
  return false;
}

void Run(FuzzedDataProvider& in) {
  s3::MemoryObjectClient client;
  const std::string prefix = in.ConsumeBool() ? "" : "mnt/";

  // Keys planted behind the mount's back, inside and outside the prefix.
  std::vector<std::string> planted;
  for (int n = in.ConsumeIntegralInRange(0, 6); n > 0; --n) {
    std::string key = in.ConsumeRandomLengthString(64);
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0: key = prefix + key; break;
      case 1: key = prefix + "ro/" + key; break;
      default: break;
    }
    if (key.empty() || key.size() > kMaxKeyBytes) continue;
    std::string body = "planted";
    s3::PutObjectRequest put;
    put.key = key;
    put.body = s3::BodySource::FromView(body);
    if (client.PutObject(put).ok()) planted.push_back(key);
  }
  // key -> body, for keys outside the mount's prefix (scope checks have their own tests in
  // tests/unit/scope_*_test.cc and tests/fs/scope_filesystem_test.cc).
  auto is_protected = [&](const std::string& key) {
    return key.compare(0, prefix.size(), prefix) != 0;
  };
  std::map<std::string, std::optional<std::string>> outside;
  for (const std::string& key : client.Keys()) {
    if (is_protected(key)) outside[key] = client.Data(key);
  }

  Options options;
  options.prefix = prefix;
  options.attr_ttl = options.entry_ttl = options.negative_ttl = std::chrono::nanoseconds(0);
  options.metadata_flush_delay = std::chrono::milliseconds(0);
  options.uid = 1000;
  options.gid = 1000;
  Caller caller{1000, 1000, 1, {}};

  {
    Filesystem fs(client, options);
    std::vector<InodeId> dirs = {kRootInode};
    std::vector<FileHandle> open;
    auto pick_dir = [&] { return dirs[in.ConsumeIntegralInRange<size_t>(0, dirs.size() - 1)]; };
    auto must_be_valid = [](std::string_view op, std::string_view name) {
      FUZZ_CHECK(ExpectedValid(name), std::string(op) + " accepted \"" + Printable(name) + "\"");
    };

    for (int step = 0; step < 40 && in.remaining_bytes() > 0; ++step) {
      const int op = in.ConsumeIntegralInRange(0, 10);
      const InodeId parent = pick_dir();
      std::string name = PickName(in, planted);
      CheckNames(name, prefix + "some/dir");
      switch (op) {
        case 0: {
          Result<Entry> e = fs.Lookup(caller, parent, name);
          if (e.ok()) {
            must_be_valid("Lookup", name);
            if (e->attr.type == FileType::kDirectory) dirs.push_back(e->ino);
          }
          break;
        }
        case 1: {
          Result<CreateReply> r = fs.Create(caller, parent, name, 0100644, O_WRONLY | O_CREAT);
          if (r.ok()) {
            must_be_valid("Create", name);
            open.push_back(r->open.fh);
          }
          break;
        }
        case 2: {
          Result<Entry> e = fs.MkDir(caller, parent, name, 0755);
          if (e.ok()) {
            must_be_valid("MkDir", name);
            dirs.push_back(e->ino);
          }
          break;
        }
        case 3: {
          std::string target = in.ConsumeRandomLengthString(64);
          if (fs.Symlink(caller, target, parent, name).ok()) must_be_valid("Symlink", name);
          break;
        }
        case 4: {
          const InodeId new_parent = pick_dir();
          std::string new_name = PickName(in, planted);
          unsigned flags = in.ConsumeBool() ? kRenameNoReplace : 0;
          if (fs.Rename(caller, parent, name, new_parent, new_name, flags).ok()) {
            must_be_valid("Rename (new name)", new_name);
          }
          break;
        }
        case 5:
          fs.Unlink(caller, parent, name);
          break;
        case 6:
          fs.RmDir(caller, parent, name);
          break;
        case 7:
          if (!open.empty()) {
            FileHandle fh = open[in.ConsumeIntegralInRange<size_t>(0, open.size() - 1)];
            (void)fs.Write(fh, in.ConsumeIntegralInRange<uint64_t>(0, 4096),
                     in.ConsumeRandomLengthString(64));
          }
          break;
        case 8:
          if (!open.empty()) {
            fs.Release(open.back());
            open.pop_back();
          }
          break;
        default:
          CheckListing(fs, caller, parent);
      }
    }
    for (FileHandle fh : open) fs.Release(fh);
    fs.Destroy();
  }

  // Nothing outside the prefix was touched; what the filesystem wrote is a path.
  std::set<std::string> planted_set(planted.begin(), planted.end());
  for (const std::string& key : client.Keys()) {
    if (is_protected(key)) {
      FUZZ_CHECK(outside.count(key) && outside[key] == client.Data(key),
                 "a key outside the prefix or the scope was created or changed: " + Printable(key));
    } else if (!planted_set.count(key)) {
      FUZZ_CHECK(IsPathOrMovedKey(std::string_view(key).substr(prefix.size()), planted),
                 "the filesystem wrote a key that is not a path: " + Printable(key));
    }
  }
  for (const auto& [key, body] : outside) {
    FUZZ_CHECK(client.Data(key).has_value(), "a key outside the prefix or the scope was deleted: " + Printable(key));
  }
}

}  // namespace
}  // namespace spacesfs::fs

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::off);  // hidden-key warnings would flood the output
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  spacesfs::fs::Run(in);
  return 0;
}

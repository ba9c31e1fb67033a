// Reference model: seeded random operation sequences run against the Filesystem (over a
// MemoryObjectClient) and against a plain map of keys, compared after every step.
//
// Operations: create (with and without O_EXCL), write at offsets (and O_APPEND), truncate,
// rename (files and directories, with and without RENAME_NOREPLACE), unlink, mkdir, rmdir, and
// objects put or deleted directly in the bucket behind the mount's back (after which the clock is
// advanced past the cache TTLs). After each step the whole tree seen through the Filesystem
// (readdir or readdirplus, lookup, read) must equal the tree the model's keys imply, and each
// operation must fail exactly when the model says it must, with the same error code.
//
// SPACESFS_MODEL_SEED=<n> replays one seed; SPACESFS_MODEL_STEPS=<n> changes the step count.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include "fs/filesystem.h"
#include "s3/memory_object_client.h"

namespace spacesfs::fs {
namespace {

enum class Kind { kNone, kFile, kDir };

// The bucket as a map of keys, and the tree those keys imply (directory wins over file).
class Model {
 public:
  std::map<std::string, std::string> keys;

  static bool ValidComponent(const std::string& c) {
    return !c.empty() && c != "." && c != ".." && c.size() <= 255;
  }

  Kind KindOf(const std::string& path) const {
    if (path.empty()) return Kind::kDir;
    auto it = keys.lower_bound(path + "/");
    if (it != keys.end() && it->first.compare(0, path.size() + 1, path + "/") == 0) {
      return Kind::kDir;
    }
    return keys.count(path) ? Kind::kFile : Kind::kNone;
  }

  // Resolving the parent directory of path, component by component, as lookups would.
  ErrorCode ResolveParent(const std::string& path) const {
    std::string prefix;
    size_t pos = 0;
    for (;;) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) return ErrorCode::kOk;
      prefix = path.substr(0, slash);
      Kind k = KindOf(prefix);
      if (k == Kind::kNone) return ErrorCode::kNotFound;
      if (k == Kind::kFile) return ErrorCode::kNotDirectory;
      pos = slash + 1;
    }
  }

  std::map<std::string, Kind> Children(const std::string& dir) const {
    std::string prefix = dir.empty() ? "" : dir + "/";
    std::map<std::string, Kind> out;
    for (auto it = keys.lower_bound(prefix);
         it != keys.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string rest = it->first.substr(prefix.size());
      if (rest.empty()) continue;  // the marker
      size_t slash = rest.find('/');
      std::string name = rest.substr(0, slash);
      if (!ValidComponent(name)) continue;
      if (slash != std::string::npos) {
        out[name] = Kind::kDir;
      } else if (!out.count(name)) {
        out[name] = Kind::kFile;
      }
    }
    return out;
  }

  // The filesystem keeps a directory the mount emptied (it writes the marker).
  void KeepDirectory(const std::string& dir) {
    if (dir.empty()) return;
    auto it = keys.lower_bound(dir + "/");
    if (it == keys.end() || it->first.compare(0, dir.size() + 1, dir + "/") != 0) {
      keys[dir + "/"] = "";
    }
  }

  bool HasKeysBelow(const std::string& dir) const {
    std::string prefix = dir + "/";
    for (auto it = keys.lower_bound(prefix);
         it != keys.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (it->first != prefix) return true;
    }
    return false;
  }
};

std::string Describe(ErrorCode c) { return std::string(ErrorCodeName(c)); }

class ReferenceModelTest : public ::testing::Test {
 protected:
  void Start(uint64_t seed) {
    rng_.seed(seed);
    Options o;
    o.staging_dir = ::testing::TempDir();
    o.attr_ttl = std::chrono::seconds(1);
    o.entry_ttl = std::chrono::seconds(1);
    o.negative_ttl = std::chrono::seconds(1);
    o.metadata_flush_delay = std::chrono::seconds(3600);
    o.clock = [this] { return now_.load(); };
    fs_ = std::make_unique<Filesystem>(*client_, o);
  }

  uint64_t Rand(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  std::string RandomPath() {
    static const char* kNames[] = {"a", "b", "c", "d"};
    int depth = 1 + static_cast<int>(Rand(3));
    std::string path;
    for (int i = 0; i < depth; ++i) {
      if (i) path += "/";
      path += kNames[Rand(4)];
    }
    return path;
  }
  std::string RandomData(size_t max) {
    std::string s(Rand(max + 1), '\0');
    for (char& c : s) c = static_cast<char>('a' + Rand(26));
    return s;
  }
  std::string RandomExistingFile() {
    std::vector<std::string> files;
    for (auto& [key, data] : model_.keys) {
      if (!key.empty() && key.back() != '/' && model_.KindOf(key) == Kind::kFile &&
          model_.ResolveParent(key) == ErrorCode::kOk && Visible(key)) {
        files.push_back(key);
      }
    }
    if (files.empty()) return "";
    return files[Rand(files.size())];
  }
  static bool Visible(const std::string& path) {
    std::stringstream ss(path);
    std::string c;
    while (std::getline(ss, c, '/')) {
      if (!Model::ValidComponent(c)) return false;
    }
    return true;
  }

  static std::string Parent(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
  }
  static std::string Base(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }

  // Walks lookups from the root; kOk and the inode, or the error.
  std::pair<ErrorCode, InodeId> ResolveDir(const std::string& dir) {
    InodeId ino = kRootInode;
    if (dir.empty()) return {ErrorCode::kOk, ino};
    std::stringstream ss(dir);
    std::string c;
    while (std::getline(ss, c, '/')) {
      Result<Entry> e = fs_->Lookup(caller_, ino, c);
      if (!e.ok()) return {e.status().code(), 0};
      ino = e->ino;
      if (e->attr.type != FileType::kDirectory) return {ErrorCode::kNotDirectory, 0};
    }
    return {ErrorCode::kOk, ino};
  }
  std::pair<ErrorCode, InodeId> ResolveParentDir(const std::string& path) {
    auto [code, ino] = ResolveDir(Parent(path));
    if (code != ErrorCode::kOk) return {code, 0};
    return {code, ino};
  }

  // One random step. Returns a description; records a failure when FS and model disagree.
  std::string HoldOrRelease() {
    if (held_.size() >= 2 || (!held_.empty() && Rand(2))) {
      size_t i = Rand(held_.size());
      Status s = fs_->Release(held_[i].fh);
      std::string what = "release held handle of " + held_[i].path;
      if (!s.ok()) ADD_FAILURE() << what << ": " << s.ToString();
      held_.erase(held_.begin() + i);
      return what;
    }
    std::string path = RandomExistingFile();
    if (path.empty()) return "nothing to hold";
    auto [code, parent] = ResolveParentDir(path);
    Result<Entry> e = fs_->Lookup(caller_, parent, Base(path));
    if (code != ErrorCode::kOk || !e.ok()) {
      ADD_FAILURE() << "lookup to hold " << path;
      return "hold failed";
    }
    Result<OpenReply> o = fs_->Open(caller_, e->ino, Rand(2) ? O_RDONLY : O_RDWR);
    if (!o.ok()) {
      ADD_FAILURE() << "open to hold " << path << ": " << o.status().ToString();
      return "hold failed";
    }
    fs_->Forget(e->ino, 1);
    held_.push_back(Held{o->fh, path, "", true, false});
    return "hold a handle of " + path;
  }

  void ForgetHeldBehindTheBack() {
    for (Held& h : held_) h.unknown = true;
  }
  void HeldUnlinked(const std::string& path) {
    for (Held& h : held_) {
      if (h.linked && h.path == path) {
        h.linked = false;
        h.frozen = model_.keys.count(path) ? model_.keys.at(path) : "";
      }
    }
  }
  void HeldMoved(const std::string& from, const std::string& to, bool dir) {
    for (Held& h : held_) {
      if (!h.linked) continue;
      if (!dir && h.path == from) {
        h.path = to;
      } else if (dir && h.path.compare(0, from.size() + 1, from + "/") == 0) {
        h.path = to + h.path.substr(from.size());
      }
    }
  }

  std::string Step() {
    if (Rand(100) < 6) return HoldOrRelease();
    uint64_t op = Rand(100);
    std::string path = RandomPath();
    std::ostringstream what;
    ErrorCode want = ErrorCode::kOk, got = ErrorCode::kOk;
    if (op < 18) {  // create
      bool excl = Rand(2);
      what << "create " << path << (excl ? " O_EXCL" : "");
      want = model_.ResolveParent(path);
      if (want == ErrorCode::kOk) {
        Kind k = model_.KindOf(path);
        if (k == Kind::kDir) want = excl ? ErrorCode::kExists : ErrorCode::kIsDirectory;
        if (k == Kind::kFile && excl) want = ErrorCode::kExists;
      }
      auto [code, parent] = ResolveParentDir(path);
      got = code;
      if (got == ErrorCode::kOk) {
        Result<CreateReply> c = fs_->Create(caller_, parent, Base(path), 0644,
                                            O_CREAT | O_WRONLY | (excl ? O_EXCL : 0));
        got = c.status().code();
        if (c.ok()) got = fs_->Release(c->open.fh).code();
      }
      if (want == ErrorCode::kOk && !model_.keys.count(path)) model_.keys[path] = "";
    } else if (op < 40) {  // write
      path = RandomExistingFile();
      if (path.empty()) return "nothing to write";
      std::string& data = model_.keys[path];
      bool append = Rand(4) == 0;
      uint64_t offset = append ? data.size() : Rand(data.size() + 8);
      std::string bytes = RandomData(12);
      what << "write " << path << " at " << offset << (append ? " O_APPEND" : "") << " "
           << bytes.size() << " bytes";
      auto [code, parent] = ResolveParentDir(path);
      got = code;
      if (got == ErrorCode::kOk) {
        Result<Entry> e = fs_->Lookup(caller_, parent, Base(path));
        got = e.status().code();
        if (e.ok()) {
          Result<OpenReply> o =
              fs_->Open(caller_, e->ino, (Rand(2) ? O_WRONLY : O_RDWR) | (append ? O_APPEND : 0));
          got = o.status().code();
          if (o.ok()) {
            Result<size_t> n = fs_->Write(o->fh, append ? 0 : offset, bytes);
            got = n.status().code();
            Status r = fs_->Release(o->fh);
            if (got == ErrorCode::kOk) got = r.code();
          }
        }
      }
      if (data.size() < offset + bytes.size()) data.resize(offset + bytes.size(), '\0');
      data.replace(offset, bytes.size(), bytes);
    } else if (op < 48) {  // truncate
      path = RandomExistingFile();
      if (path.empty()) return "nothing to truncate";
      std::string& data = model_.keys[path];
      uint64_t size = Rand(data.size() + 8);
      what << "truncate " << path << " to " << size;
      auto [code, parent] = ResolveParentDir(path);
      got = code;
      if (got == ErrorCode::kOk) {
        Result<Entry> e = fs_->Lookup(caller_, parent, Base(path));
        got = e.status().code();
        if (e.ok()) {
          SetAttrRequest req;
          req.size = size;
          got = fs_->SetAttr(caller_, e->ino, req, std::nullopt).status().code();
        }
      }
      data.resize(size, '\0');
    } else if (op < 60) {  // rename
      std::string to = RandomPath();
      bool noreplace = Rand(3) == 0;
      what << "rename " << path << " -> " << to << (noreplace ? " NOREPLACE" : "");
      want = model_.ResolveParent(path);
      if (want == ErrorCode::kOk) want = model_.ResolveParent(to);
      Kind src = model_.KindOf(path), dst = model_.KindOf(to);
      if (want == ErrorCode::kOk) {
        if (src == Kind::kNone) {
          want = ErrorCode::kNotFound;
        } else if (to == path) {
          want = ErrorCode::kOk;
        } else if (src == Kind::kDir && to.compare(0, path.size() + 1, path + "/") == 0) {
          want = ErrorCode::kInvalidArgument;
        } else if (dst != Kind::kNone && noreplace) {
          want = ErrorCode::kExists;
        } else if (src == Kind::kDir && dst == Kind::kFile) {
          want = ErrorCode::kNotDirectory;
        } else if (src == Kind::kFile && dst == Kind::kDir) {
          want = ErrorCode::kIsDirectory;
        } else if (dst == Kind::kDir && model_.HasKeysBelow(to)) {
          want = ErrorCode::kNotEmpty;
        }
      }
      auto [c1, from_parent] = ResolveParentDir(path);
      got = c1;
      if (got == ErrorCode::kOk) {
        auto [c2, to_parent] = ResolveParentDir(to);
        got = c2;
        if (got == ErrorCode::kOk) {
          got = fs_->Rename(caller_, from_parent, Base(path), to_parent, Base(to),
                            noreplace ? kRenameNoReplace : 0)
                    .code();
        }
      }
      if (want == ErrorCode::kOk && to != path) {
        if (src == Kind::kFile) HeldUnlinked(to);
        HeldMoved(path, to, src == Kind::kDir);
        if (src == Kind::kFile) {
          model_.keys[to] = model_.keys[path];
          model_.keys.erase(path);
        } else {
          std::string from_prefix = path + "/";
          std::vector<std::pair<std::string, std::string>> moved;
          for (auto it = model_.keys.lower_bound(from_prefix);
               it != model_.keys.end() &&
               it->first.compare(0, from_prefix.size(), from_prefix) == 0;) {
            moved.emplace_back(to + "/" + it->first.substr(from_prefix.size()), it->second);
            it = model_.keys.erase(it);
          }
          for (auto& [k, v] : moved) model_.keys[k] = v;
        }
        if (Parent(path) != Parent(to)) model_.KeepDirectory(Parent(path));
      }
    } else if (op < 70) {  // unlink
      what << "unlink " << path;
      want = model_.ResolveParent(path);
      Kind k = model_.KindOf(path);
      if (want == ErrorCode::kOk) {
        if (k == Kind::kNone) want = ErrorCode::kNotFound;
        if (k == Kind::kDir) want = ErrorCode::kIsDirectory;
      }
      auto [code, parent] = ResolveParentDir(path);
      got = code;
      if (got == ErrorCode::kOk) got = fs_->Unlink(caller_, parent, Base(path)).code();
      if (want == ErrorCode::kOk) {
        HeldUnlinked(path);
        model_.keys.erase(path);
        model_.KeepDirectory(Parent(path));
      }
    } else if (op < 80) {  // mkdir
      what << "mkdir " << path;
      want = model_.ResolveParent(path);
      if (want == ErrorCode::kOk && model_.KindOf(path) != Kind::kNone) want = ErrorCode::kExists;
      auto [code, parent] = ResolveParentDir(path);
      got = code;
      if (got == ErrorCode::kOk) got = fs_->MkDir(caller_, parent, Base(path), 0755).status().code();
      if (want == ErrorCode::kOk) model_.keys[path + "/"] = "";
    } else if (op < 87) {  // rmdir
      what << "rmdir " << path;
      want = model_.ResolveParent(path);
      Kind k = model_.KindOf(path);
      if (want == ErrorCode::kOk) {
        if (k == Kind::kNone) want = ErrorCode::kNotFound;
        if (k == Kind::kFile) want = ErrorCode::kNotDirectory;
        if (k == Kind::kDir && model_.HasKeysBelow(path)) want = ErrorCode::kNotEmpty;
      }
      auto [code, parent] = ResolveParentDir(path);
      got = code;
      if (got == ErrorCode::kOk) got = fs_->RmDir(caller_, parent, Base(path)).code();
      if (want == ErrorCode::kOk) {
        model_.keys.erase(path + "/");
        model_.KeepDirectory(Parent(path));
      }
    } else if (op < 95) {  // put behind the mount's back
      std::string key = path;
      uint64_t shape = Rand(10);
      if (shape < 2) key += "/";
      if (shape == 2) key += "//hidden";
      if (shape == 3) key += "/./hidden";
      std::string data = key.back() == '/' ? "" : RandomData(10);
      what << "behind the back: put " << key;
      s3::PutObjectRequest put;
      put.key = key;
      put.body = s3::BodySource::FromView(data);
      EXPECT_TRUE(client_->PutObject(put).ok());
      model_.keys[key] = data;
      ForgetHeldBehindTheBack();
      now_ = now_.load() + std::chrono::seconds(2);
      return what.str();
    } else {  // delete behind the mount's back
      if (model_.keys.empty()) return "nothing to delete";
      auto it = model_.keys.begin();
      std::advance(it, Rand(model_.keys.size()));
      what << "behind the back: delete " << it->first;
      EXPECT_TRUE(client_->DeleteObject(it->first).ok());
      model_.keys.erase(it);
      ForgetHeldBehindTheBack();
      now_ = now_.load() + std::chrono::seconds(2);
      return what.str();
    }
    if (want != got) {
      ADD_FAILURE() << what.str() << ": filesystem said " << Describe(got) << ", model says "
                    << Describe(want);
    }
    if (Rand(4) == 0) now_ = now_.load() + std::chrono::milliseconds(Rand(1500));
    return what.str() + " -> " + Describe(got);
  }

  // The whole tree through the Filesystem equals the model's.
  void Compare(const std::string& dir, InodeId ino) {
    std::map<std::string, Kind> want = model_.Children(dir);
    std::map<std::string, std::pair<Kind, InodeId>> got;
    Result<DirHandle> dh = fs_->OpenDir(caller_, ino);
    ASSERT_TRUE(dh.ok()) << dir << ": " << dh.status().ToString();
    bool plus = Rand(2);
    auto add = [&](const DirEntry& e) {
      if (e.name != "." && e.name != "..") {
        got[e.name] = {e.type == FileType::kDirectory ? Kind::kDir : Kind::kFile, e.ino};
      }
      return true;
    };
    std::vector<InodeId> looked_up;
    Status s = plus ? fs_->ReadDirPlus(*dh, 0,
                                       [&](const DirEntry& e, const Entry&) {
                                         add(e);
                                         if (e.name != "." && e.name != "..") {
                                           looked_up.push_back(e.ino);
                                         }
                                         return true;
                                       })
                    : fs_->ReadDir(*dh, 0, add);
    for (InodeId child : looked_up) fs_->Forget(child, 1);  // as the kernel would, later
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(fs_->ReleaseDir(*dh).ok());
    std::map<std::string, Kind> got_kinds;
    for (auto& [name, v] : got) got_kinds[name] = v.first;
    ASSERT_EQ(got_kinds, want) << "listing of '" << dir << "' differs";
    for (auto& [name, kind] : want) {
      std::string path = dir.empty() ? name : dir + "/" + name;
      Result<Entry> e = fs_->Lookup(caller_, ino, name);
      ASSERT_TRUE(e.ok()) << "lookup " << path << ": " << e.status().ToString();
      ASSERT_EQ(e->attr.type == FileType::kDirectory, kind == Kind::kDir) << path;
      if (kind == Kind::kDir) {
        Compare(path, e->ino);
      } else {
        const std::string& data = model_.keys.at(path);
        ASSERT_EQ(e->attr.size, data.size()) << "size of " << path;
        Result<OpenReply> o = fs_->Open(caller_, e->ino, O_RDONLY);
        ASSERT_TRUE(o.ok()) << path << ": " << o.status().ToString();
        Result<std::string> bytes = fs_->Read(o->fh, 0, data.size() + 10);
        ASSERT_TRUE(bytes.ok()) << path << ": " << bytes.status().ToString();
        ASSERT_EQ(*bytes, data) << "contents of " << path;
        ASSERT_TRUE(fs_->Release(o->fh).ok());
      }
      fs_->Forget(e->ino, 1);
    }
  }

  void CompareHeld() {
    for (const Held& h : held_) {
      if (h.unknown) continue;
      std::string want;
      if (h.linked) {
        auto it = model_.keys.find(h.path);
        if (it == model_.keys.end()) continue;
        want = it->second;
      } else {
        want = h.frozen;
      }
      Result<std::string> got = fs_->Read(h.fh, 0, want.size() + 10);
      ASSERT_TRUE(got.ok()) << "held handle of " << h.path << (h.linked ? "" : " (unlinked)")
                            << ": " << got.status().ToString();
      ASSERT_EQ(*got, want) << "held handle of " << h.path << (h.linked ? "" : " (unlinked)");
    }
  }

  void Run(uint64_t seed, int steps) {
    held_.clear();
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with SPACESFS_MODEL_SEED=" +
                 std::to_string(seed) + ")");
    Start(seed);
    std::vector<std::string> history;
    for (int i = 0; i < steps; ++i) {
      history.push_back(Step());
      Compare("", kRootInode);
      CompareHeld();
      if (HasFailure()) {
        std::ostringstream out;
        size_t from = history.size() > 15 ? history.size() - 15 : 0;
        for (size_t j = from; j < history.size(); ++j) out << "  " << j << ": " << history[j] << "\n";
        ADD_FAILURE() << "seed " << seed << " failed at step " << i << "; last steps:\n"
                      << out.str();
        return;
      }
    }
    for (Held& h : held_) EXPECT_TRUE(fs_->Release(h.fh).ok());
    held_.clear();
    EXPECT_TRUE(fs_->Destroy().ok());
  }

  std::unique_ptr<s3::MemoryObjectClient> client_ = std::make_unique<s3::MemoryObjectClient>();
  Model model_;
  // Handles kept open across steps. While linked, a handle reads what the model holds at path;
  // once the mount unlinked or replaced its file, the bytes it had then. Changes behind the
  // mount's back make its outcome unknown (the version it opened, or kStale).
  struct Held {
    FileHandle fh = 0;
    std::string path;
    std::string frozen;
    bool linked = true;
    bool unknown = false;
  };
  std::vector<Held> held_;
  std::mt19937_64 rng_;
  // Read by the filesystem's background prefetches too.
  std::atomic<std::chrono::steady_clock::time_point> now_{std::chrono::steady_clock::now()};
  Caller caller_{1000, 1000, 1, {}};
  std::unique_ptr<Filesystem> fs_;
};

int StepsFromEnv(int fallback) {
  const char* s = std::getenv("SPACESFS_MODEL_STEPS");
  return s ? std::atoi(s) : fallback;
}

TEST_F(ReferenceModelTest, RandomSequencesMatchTheModel) {
  if (const char* seed = std::getenv("SPACESFS_MODEL_SEED")) {
    Run(std::strtoull(seed, nullptr, 10), StepsFromEnv(2000));
    return;
  }
  uint64_t base = std::random_device{}();
  for (uint64_t i = 0; i < 4 && !HasFailure(); ++i) {
    client_ = std::make_unique<s3::MemoryObjectClient>();
    model_ = Model();
    fs_.reset();
    Run(base + i, StepsFromEnv(1500));
  }
}

// Fixed seeds, so a regression shows up the same way on every run.
TEST_F(ReferenceModelTest, FixedSeeds) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    if (HasFailure()) break;
    fs_.reset();
    client_ = std::make_unique<s3::MemoryObjectClient>();
    model_ = Model();
    Run(seed, StepsFromEnv(1000));
  }
}

}  // namespace
}  // namespace spacesfs::fs

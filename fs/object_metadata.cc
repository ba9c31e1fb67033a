#include "fs/object_metadata.h"

#include <sys/stat.h>

#include <charconv>
#include <cstdio>

namespace spacesfs::fs {

std::string FormatTime(int64_t ns) {
  int64_t sec = ns / 1'000'000'000;
  int64_t nsec = ns % 1'000'000'000;
  if (nsec < 0) {
    nsec += 1'000'000'000;
    sec -= 1;
  }
  if (nsec == 0) return std::to_string(sec);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(sec),
                static_cast<long long>(nsec));
  return buf;
}

std::optional<int64_t> ParseTime(std::string_view text) {
  size_t dot = text.find('.');
  std::string_view sec_part = text.substr(0, dot);
  int64_t sec = 0;
  auto [p, ec] = std::from_chars(sec_part.data(), sec_part.data() + sec_part.size(), sec);
  if (ec != std::errc() || p != sec_part.data() + sec_part.size() || sec_part.empty()) {
    return std::nullopt;
  }
  int64_t nsec = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 9) return std::nullopt;
    for (char c : frac) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    std::string padded(frac);
    padded.resize(9, '0');
    nsec = std::stoll(padded);
  }
  return sec * 1'000'000'000 + nsec;
}

std::optional<uint32_t> ParseDecimal32(std::string_view text) {
  uint32_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string FormatPartLayout(const s3::PartLayout& layout) {
  return std::to_string(layout.part_size) + "," + std::to_string(layout.parts_per_doubling);
}

std::optional<s3::PartLayout> PartLayoutFromMetadata(const s3::UserMetadata& metadata) {
  auto it = metadata.find(kPartLayoutKey);
  if (it == metadata.end()) return std::nullopt;
  std::string_view text = it->second;
  size_t comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  auto parse = [](std::string_view digits) -> std::optional<uint64_t> {
    uint64_t value = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) return {};
    return value;
  };
  std::optional<uint64_t> part_size = parse(text.substr(0, comma));
  std::optional<uint64_t> per_doubling = parse(text.substr(comma + 1));
  if (!part_size || !per_doubling || *part_size == 0) return std::nullopt;
  return s3::PartLayout{*part_size, *per_doubling};
}

uint32_t ModeBitsFor(FileType type) {
  switch (type) {
    case FileType::kRegular: return S_IFREG;
    case FileType::kDirectory: return S_IFDIR;
    case FileType::kSymlink: return S_IFLNK;
  }
  return S_IFREG;
}

std::optional<FileType> TypeFromMetadata(const s3::UserMetadata& metadata) {
  auto it = metadata.find("mode");
  if (it == metadata.end()) return std::nullopt;
  std::optional<uint32_t> mode = ParseDecimal32(it->second);
  if (!mode) return std::nullopt;
  switch (*mode & S_IFMT) {
    case S_IFDIR: return FileType::kDirectory;
    case S_IFLNK: return FileType::kSymlink;
    case S_IFREG: return FileType::kRegular;
    default: return std::nullopt;
  }
}

namespace {
template <typename T>
std::optional<T> Lookup(const s3::UserMetadata& metadata, const char* name,
                        std::optional<T> (*parse)(std::string_view)) {
  auto it = metadata.find(name);
  if (it == metadata.end()) return std::nullopt;
  return parse(it->second);
}
}  // namespace

Attributes DefaultDirectoryAttributes(int64_t mtime_ns, const Options& options) {
  Attributes attr;
  attr.type = FileType::kDirectory;
  attr.mode = S_IFDIR | (options.dir_mode & ~options.umask & 07777);
  attr.nlink = 2;
  attr.uid = options.uid;
  attr.gid = options.gid;
  attr.size = 4096;
  attr.blocks = 8;
  attr.atime_ns = attr.mtime_ns = attr.ctime_ns = mtime_ns;
  return attr;
}

Attributes AttributesFromObject(const s3::ObjectInfo& info, FileType type,
                                const Options& options) {
  Attributes attr;
  if (type == FileType::kDirectory) {
    attr = DefaultDirectoryAttributes(info.last_modified_ns, options);
  } else {
    attr.type = type;
    uint32_t perms = type == FileType::kSymlink ? 0777 : (options.file_mode & ~options.umask);
    attr.mode = ModeBitsFor(type) | (perms & 07777);
    attr.uid = options.uid;
    attr.gid = options.gid;
    attr.size = info.size;
    attr.blocks = (info.size + 511) / 512;
    attr.atime_ns = attr.mtime_ns = attr.ctime_ns = info.last_modified_ns;
  }
  const s3::UserMetadata& m = info.metadata;
  if (auto mode = Lookup<uint32_t>(m, "mode", ParseDecimal32)) {
    attr.mode = ModeBitsFor(type) | (*mode & 07777);
  }
  if (auto uid = Lookup<uint32_t>(m, "uid", ParseDecimal32)) attr.uid = *uid;
  if (auto gid = Lookup<uint32_t>(m, "gid", ParseDecimal32)) attr.gid = *gid;
  if (auto mtime = Lookup<int64_t>(m, "mtime", ParseTime)) {
    attr.mtime_ns = *mtime;
    attr.atime_ns = *mtime;
    attr.ctime_ns = *mtime;
  }
  if (auto ctime = Lookup<int64_t>(m, "ctime", ParseTime)) attr.ctime_ns = *ctime;
  if (auto atime = Lookup<int64_t>(m, "atime", ParseTime)) attr.atime_ns = *atime;
  return attr;
}

void StoreAttributes(const Attributes& attr, s3::UserMetadata* metadata) {
  (*metadata)["mode"] = std::to_string(attr.mode);
  (*metadata)["uid"] = std::to_string(attr.uid);
  (*metadata)["gid"] = std::to_string(attr.gid);
  (*metadata)["mtime"] = FormatTime(attr.mtime_ns);
  (*metadata)["ctime"] = FormatTime(attr.ctime_ns);
  (*metadata)["atime"] = FormatTime(attr.atime_ns);
}

}  // namespace spacesfs::fs

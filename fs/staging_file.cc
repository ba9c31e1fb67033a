#include "fs/staging_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace spacesfs::fs {
namespace {
Status SystemError(const char* what) {
  int e = errno;
  return Status(e == ENOSPC ? ErrorCode::kNoSpace : ErrorCode::kIoError,
                std::string("staging file: ") + what + ": " + std::strerror(e));
}
}  // namespace

Result<std::unique_ptr<StagingFile>> StagingFile::Create(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string tmpl = directory + "/spacesfs-staging-XXXXXX";
    fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return SystemError("create");
    ::unlink(tmpl.c_str());
  }
  return std::unique_ptr<StagingFile>(new StagingFile(fd));
}

StagingFile::~StagingFile() { ::close(fd_); }

Status StagingFile::Write(uint64_t offset, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("write");
    }
    done += n;
  }
  size_ = std::max<uint64_t>(size_, offset + data.size());
  return Status::Ok();
}

Result<size_t> StagingFile::ReadInto(uint64_t offset, std::span<char> out) const {
  if (offset >= size_) return size_t{0};
  size_t want = std::min<uint64_t>(out.size(), size_ - offset);
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::pread(fd_, out.data() + done, want - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("read");
    }
    if (n == 0) {  // a hole past the written end cannot happen: size_ tracks ftruncate
      std::memset(out.data() + done, 0, want - done);
      break;
    }
    done += n;
  }
  return want;
}

Status StagingFile::Read(uint64_t offset, size_t length, std::string* out) const {
  out->clear();
  if (offset >= size_) return Status::Ok();
  out->resize(std::min<uint64_t>(length, size_ - offset));
  Result<size_t> n = ReadInto(offset, std::span<char>(out->data(), out->size()));
  if (!n.ok()) {
    out->clear();
    return n.status();
  }
  out->resize(*n);
  return Status::Ok();
}

Status StagingFile::Truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return SystemError("truncate");
  size_ = size;
  return Status::Ok();
}

s3::BodySource StagingFile::Body(uint64_t offset, uint64_t length) const {
  s3::BodySource body;
  body.size = length;
  body.read = [this, offset, length](uint64_t at, std::span<char> out) -> Result<size_t> {
    if (at >= length) return size_t{0};
    size_t n = std::min<uint64_t>(out.size(), length - at);
    return ReadInto(offset + at, out.subspan(0, n));
  };
  return body;
}

}  // namespace spacesfs::fs

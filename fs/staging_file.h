// StagingFile: a local temporary file holding a file's bytes while it is written.
//
// Created in a directory and unlinked at once, so nothing is left behind after a crash. Errors are
// kIoError (kNoSpace when the disk is full) with the system's message.
//
// Threading: not synchronised; the owner (an open file, under its lock) serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "s3/object_client.h"

namespace spacesfs::fs {

class StagingFile {
 public:
  static Result<std::unique_ptr<StagingFile>> Create(const std::string& directory);
  ~StagingFile();
  StagingFile(const StagingFile&) = delete;
  StagingFile& operator=(const StagingFile&) = delete;

  uint64_t size() const { return size_; }
  Status Write(uint64_t offset, std::string_view data);
  // Up to length bytes at offset (fewer at the end) into *out, replacing what it held (its
  // capacity is reused).
  Status Read(uint64_t offset, size_t length, std::string* out) const;
  Result<size_t> ReadInto(uint64_t offset, std::span<char> out) const;
  Status Truncate(uint64_t size);
  // A request body over [offset, offset + length), valid while this file lives.
  s3::BodySource Body(uint64_t offset, uint64_t length) const;

 private:
  explicit StagingFile(int fd) : fd_(fd) {}
  int fd_;
  uint64_t size_ = 0;
};

}  // namespace spacesfs::fs

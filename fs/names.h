// Names: which path components and keys spacesfs can show, and how paths map to keys.
//
// A path is relative to the mount root, components joined by '/', "" for the root. Its object key
// is prefix + path; a directory's children are the keys under prefix + path + "/".
//
// Threading: pure functions, plus a process-wide "warned once" set guarded by its own mutex.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace spacesfs::fs {

// True if name can be one path component: non-empty, not "." or "..", no '/' or NUL, at most
// kMaxNameBytes bytes.
bool IsValidComponent(std::string_view name);

// For names a caller wants to create: kNameTooLong (component > 255 bytes, or the whole key over
// 1024 bytes), kInvalidArgument (empty, ".", "..", '/' or NUL), OK otherwise.
Status CheckNewName(std::string_view name, std::string_view key);

// path of name inside the directory at parent_path.
std::string JoinPath(std::string_view parent_path, std::string_view name);

// Logs (spdlog warning) that key is hidden because it cannot be a path; once per key.
void WarnHiddenKeyOnce(std::string_view key, std::string_view why);

}  // namespace spacesfs::fs

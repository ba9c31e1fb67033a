#include "fs/fuse/errno_map.h"

#include <cerrno>

namespace spacesfs::fuse {

int ToErrno(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 0;
    case ErrorCode::kNotFound: return ENOENT;
    case ErrorCode::kAccessDenied: return EACCES;        // the server refused (403)
    case ErrorCode::kAuthFailed: return EACCES;          // wrong or unknown key
    case ErrorCode::kPreconditionFailed: return ESTALE;  // the object changed under us
    case ErrorCode::kThrottled: return EIO;              // still throttled after retries
    case ErrorCode::kServerError: return EIO;
    case ErrorCode::kBadRequest: return EIO;
    case ErrorCode::kNetwork: return EIO;
    case ErrorCode::kTimeout: return ETIMEDOUT;
    case ErrorCode::kCorrupt: return EIO;
    case ErrorCode::kInvalidArgument: return EINVAL;
    case ErrorCode::kConfig: return EINVAL;
    case ErrorCode::kCancelled: return EINTR;
    case ErrorCode::kInternal: return EIO;
    case ErrorCode::kExists: return EEXIST;
    case ErrorCode::kNotEmpty: return ENOTEMPTY;
    case ErrorCode::kNotDirectory: return ENOTDIR;
    case ErrorCode::kIsDirectory: return EISDIR;
    case ErrorCode::kNameTooLong: return ENAMETOOLONG;
    case ErrorCode::kReadOnly: return EROFS;
    case ErrorCode::kPermissionDenied: return EACCES;    // refused by the mount's scope
    case ErrorCode::kNotPermitted: return EPERM;
    case ErrorCode::kNotSupported: return ENOTSUP;
    case ErrorCode::kStale: return ESTALE;
    case ErrorCode::kNoSpace: return ENOSPC;
    case ErrorCode::kIoError: return EIO;
  }
  return EIO;
}

}  // namespace spacesfs::fuse

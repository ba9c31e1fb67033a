// The one mapping from spacesfs ErrorCode to the errno a system call returns.
// Exhaustive switch without default: adding an ErrorCode fails the build until it is mapped here.
#pragma once

#include "common/status.h"

namespace spacesfs::fuse {

int ToErrno(ErrorCode code);
inline int ToErrno(const Status& status) { return ToErrno(status.code()); }

}  // namespace spacesfs::fuse

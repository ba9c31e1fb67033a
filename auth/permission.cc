#include "auth/permission.h"

namespace spacesfs::auth {

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kRead: return "read";
    case Permission::kAppendOnly: return "append-only";
    case Permission::kReadWriteNoDelete: return "readwrite-nodelete";
    case Permission::kReadWrite: return "readwrite";
    case Permission::kFullAccess: return "fullaccess";
  }
  return "unknown";
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (Permission p : {Permission::kRead, Permission::kAppendOnly, Permission::kReadWriteNoDelete,
                       Permission::kReadWrite, Permission::kFullAccess}) {
    if (name == PermissionName(p)) return p;
  }
  return std::nullopt;
}

}  // namespace spacesfs::auth

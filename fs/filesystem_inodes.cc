// Filesystem::Impl: the inode table (find, attach, detach, move, erase).

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

Inode* Filesystem::Impl::FindInode(InodeId ino) {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : &it->second;
}

Entry Filesystem::Impl::MakeEntry(const Inode& inode) const {
  Entry e;
  e.ino = inode.ino;
  e.attr = inode.attr;
  e.attr.ino = inode.ino;
  e.attr_timeout_s = Seconds(options_.attr_ttl);
  e.entry_timeout_s = Seconds(options_.entry_ttl);
  return e;
}

s3::UserMetadata Filesystem::Impl::MetadataFor(const Inode& inode) const {
  s3::UserMetadata metadata = inode.metadata_known ? inode.metadata : s3::UserMetadata{};
  StoreAttributes(inode.attr, &metadata);
  return metadata;
}

std::vector<std::string> Filesystem::Impl::UnsavedChildren(InodeId dir) {
  std::vector<std::string> names;
  std::lock_guard lock(mu_);
  for (auto it = children_.lower_bound({dir, std::string()});
       it != children_.end() && it->first.first == dir; ++it) {
    const Inode* inode = FindInode(it->second);
    if (inode != nullptr && inode->unsaved) names.push_back(it->first.second);
  }
  return names;
}

void Filesystem::Impl::Detach(Inode& inode) {
  if (inode.parent != 0) {
    auto it = children_.find({inode.parent, inode.name});
    if (it != children_.end() && it->second == inode.ino) children_.erase(it);
    inode.parent = 0;
  }
  inode.attr.nlink = 0;
  MaybeErase(inode.ino);
}

void Filesystem::Impl::MaybeErase(InodeId ino) {
  if (ino == kRootInode) return;
  Inode* inode = FindInode(ino);
  if (inode == nullptr || inode->lookups > 0 || inode->opens > 0) return;
  if (inode->parent != 0) {
    auto it = children_.find({inode->parent, inode->name});
    if (it != children_.end() && it->second == ino) children_.erase(it);
    // Forgotten, not gone: the parent's children_ no longer names every child.
    if (Inode* p = FindInode(inode->parent)) p->complete_until = {};
  }
  DropSmallBody(*inode);
  inodes_.erase(ino);
}

Inode& Filesystem::Impl::AttachChild(InodeId parent, const std::string& name, const Found& found) {
  negative_.erase({parent, name});
  Inode* inode = nullptr;
  auto it = children_.find({parent, name});
  if (it != children_.end()) {
    inode = FindInode(it->second);
    if (inode != nullptr && inode->type != found.type) {
      Detach(*inode);
      inode = nullptr;
    }
  }
  if (inode == nullptr) {
    Inode fresh;
    fresh.ino = next_ino_++;
    fresh.parent = parent;
    fresh.name = name;
    Inode* p = FindInode(parent);
    fresh.path = JoinPath(p ? p->path : std::string(), name);
    fresh.type = found.type;
    InodeId ino = fresh.ino;
    inodes_[ino] = std::move(fresh);
    children_[{parent, name}] = ino;
    inode = &inodes_[ino];
  }
  bool local_wins = inode->local_dirty || inode->meta_pending;
  if (!local_wins) {
    if (found.type == FileType::kDirectory) {
      if (found.has_marker && found.metadata_known) {
        inode->attr = AttributesFromObject(found.info, FileType::kDirectory, options_);
      } else if (!inode->has_marker || !inode->metadata_known) {
        inode->attr = DefaultDirectoryAttributes(
            found.has_marker ? found.info.last_modified_ns : mount_time_ns_, options_);
      }
      inode->has_marker = found.has_marker;
      inode->marker_expiry = Now() + options_.attr_ttl;
    } else {
      bool same = inode->etag == found.info.etag && !found.metadata_known;
      if (!same) {
        inode->attr = AttributesFromObject(found.info, found.type, options_);
        if (inode->etag != found.info.etag) inode->link_known = false;
      }
      inode->etag = found.info.etag;
    }
    if (found.metadata_known) {
      inode->metadata = found.info.metadata;
      inode->content_type = found.info.content_type;
      inode->metadata_known = true;
    }
    UpdateSmallBody(*inode, found.body);
    inode->attr.ino = inode->ino;
  }
  inode->attr_expiry = Now() + options_.attr_ttl;
  return *inode;
}

Inode& Filesystem::Impl::AttachListed(InodeId parent, const DirItem& item) {
  auto it = children_.find({parent, item.name});
  if (it != children_.end()) {
    Inode* inode = FindInode(it->second);
    if (inode != nullptr && item.type == FileType::kRegular &&
        inode->type == FileType::kSymlink && item.object && inode->etag == item.object->etag) {
      // The listing cannot tell a symlink from a file; what HEAD said still holds.
      inode->attr_expiry = Now() + options_.attr_ttl;
      return *inode;
    }
    if (inode != nullptr && inode->type == FileType::kDirectory &&
        item.type == FileType::kDirectory) {
      inode->attr_expiry = Now() + options_.attr_ttl;
      return *inode;
    }
  }
  Found found;
  found.type = item.type;
  if (item.object) found.info = *item.object;
  return AttachChild(parent, item.name, found);
}

void Filesystem::Impl::MoveSubtree(Inode& inode, InodeId new_parent,
                                   const std::string& new_name) {
  std::string old_path = inode.path;
  auto it = children_.find({inode.parent, inode.name});
  if (it != children_.end() && it->second == inode.ino) children_.erase(it);
  Inode* p = FindInode(new_parent);
  inode.parent = new_parent;
  inode.name = new_name;
  inode.path = JoinPath(p ? p->path : std::string(), new_name);
  children_[{new_parent, new_name}] = inode.ino;
  if (inode.type != FileType::kDirectory) return;
  std::string old_prefix = old_path + "/";
  for (auto& [ino, other] : inodes_) {
    if (other.path.compare(0, old_prefix.size(), old_prefix) == 0 && ino != inode.ino) {
      other.path = inode.path + "/" + other.path.substr(old_prefix.size());
    }
  }
}

}  // namespace spacesfs::fs

// Filesystem::Impl: small files' content held with their inode, and the background GETs of the
// next small files of a directory being read.

#include "fs/filesystem_impl.h"

namespace spacesfs::fs {

void Filesystem::Impl::DropSmallBody(Inode& inode) {
  small_bodies_bytes_ -= std::min<uint64_t>(small_bodies_bytes_, inode.small_body.size());
  inode.small_body = std::string();
  inode.small_body_etag.clear();
}

void Filesystem::Impl::UpdateSmallBody(Inode& inode, std::optional<std::string> body) {
  if (!body) {
    if (inode.small_body_etag != inode.etag) DropSmallBody(inode);
    return;
  }
  DropSmallBody(inode);
  if (inode.etag.empty() || small_bodies_bytes_ + body->size() > kSmallBodiesCap) return;
  inode.small_body = std::move(*body);
  inode.small_body_etag = inode.etag;
  small_bodies_bytes_ += inode.small_body.size();
}

void Filesystem::Impl::PrefetchSiblings(InodeId parent, const std::string& name) {
  struct Target {
    InodeId ino;
    std::string key;
  };
  std::vector<Target> targets;
  {
    std::lock_guard plock(prefetch_mu_);
    if (destroyed_) return;  // Destroy waits only for what is counted before it looks
    std::lock_guard lock(mu_);
    size_t room = kPrefetchInFlight - std::min(kPrefetchInFlight, prefetch_in_flight_);
    size_t scanned = 0;
    for (auto it = children_.upper_bound({parent, name});
         it != children_.end() && it->first.first == parent && scanned < kPrefetchAhead &&
         targets.size() < room;
         ++it, ++scanned) {
      Inode* inode = FindInode(it->second);
      if (inode == nullptr || inode->type != FileType::kRegular || inode->prefetching ||
          inode->attr.size == 0 || inode->attr.size > kSmallBodyBytes || inode->etag.empty() ||
          inode->local_dirty || inode->unsaved || inode->meta_pending || inode->file ||
          inode->small_body_etag == inode->etag) {
        continue;
      }
      inode->prefetching = true;
      targets.push_back({inode->ino, Key(inode->path)});
    }
    prefetch_in_flight_ += targets.size();
  }
  for (Target& target : targets) {
    pool_.Submit([this, target = std::move(target)] {
      s3::GetObjectRequest get;
      get.key = target.key;
      get.range = s3::ByteRange{0, kSmallBodyBytes - 1};
      std::string body;
      const TimePoint sent = Now();  // what the GET says holds from then on, not from its answer
      Result<s3::ObjectInfo> info = client_.GetObject(get, [&](std::string_view chunk) {
        body.append(chunk);
        return Status::Ok();
      });
      ApplyPrefetch(target.ino, target.key, sent, std::move(info), std::move(body));
      std::lock_guard plock(prefetch_mu_);
      prefetch_in_flight_--;
      prefetch_cv_.notify_all();
    });
  }
}

Inode* Filesystem::Impl::AwaitRevalidatingPrefetch(std::unique_lock<std::mutex>& lock,
                                                   InodeId ino) {
  Inode* inode = FindInode(ino);
  if (inode == nullptr || !inode->prefetching || inode->file || inode->attr_expiry > Now()) {
    return inode;
  }
  return AwaitPrefetch(lock, ino);
}

Inode* Filesystem::Impl::AwaitPrefetch(std::unique_lock<std::mutex>& lock, InodeId ino) {
  Inode* inode = nullptr;
  prefetch_done_.wait_for(lock, std::chrono::seconds(60), [&] {
    inode = FindInode(ino);
    return inode == nullptr || !inode->prefetching;
  });
  return inode;
}

void Filesystem::Impl::ApplyPrefetch(InodeId ino, const std::string& key, TimePoint sent,
                                     Result<s3::ObjectInfo> info, std::string body) {
  bool verified = false;
  if (info.ok() && body.size() == info->size) {
    s3::ObjectVerifier verifier(info->etag, info->size);
    verifier.Feed(0, body);
    verified = verifier.Finish() == s3::ObjectVerifier::Outcome::kMatch;
  }
  std::lock_guard lock(mu_);
  prefetch_done_.notify_all();  // woken readers look once mu_ is released
  Inode* inode = FindInode(ino);
  if (inode == nullptr) return;
  inode->prefetching = false;
  if (!verified || inode->type != FileType::kRegular || inode->parent == 0 ||
      Key(inode->path) != key || inode->etag != info->etag ||
      TypeFromMetadata(info->metadata).value_or(FileType::kRegular) != FileType::kRegular) {
    return;
  }
  // The content of the version this mount knows (the ETag names it, the GET verified it) is good
  // for any reader of that version, even one that has the file open: a reader of a file written
  // here is served from its local bytes first, and an upload gives it a new ETag.
  if (inode->local_dirty || inode->unsaved || inode->meta_pending || inode->file) {
    // Changed here, or open (a write may be under way): the attributes are this mount's own,
    // not the answer's.
    UpdateSmallBody(*inode, std::move(body));
    return;
  }
  // Unchanged here: the answer also confirms that version's attributes as of `sent`.
  if (!inode->metadata_known) {
    // Listed, never read with HEAD: its metadata (mode, owner, times) comes with the answer. A
    // metadata change made here since would have made it known (FlushMetadata).
    inode->attr = AttributesFromObject(*info, FileType::kRegular, options_);
    inode->attr.ino = ino;
    inode->metadata = info->metadata;
    inode->content_type = info->content_type;
    inode->metadata_known = true;
  }
  inode->attr_expiry = std::max(inode->attr_expiry, sent + options_.attr_ttl);
  UpdateSmallBody(*inode, std::move(body));
}

}  // namespace spacesfs::fs

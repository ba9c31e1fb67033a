#include "fs/write_stream.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "fs/object_metadata.h"

namespace spacesfs::fs {
namespace {

// Parts double in size after every this many (so that 10,000 parts reach past 5 TiB).
constexpr uint64_t kPartsPerDoubling = 1000;

}  // namespace

// State shared with the upload tasks. Guarded by mu.
struct WriteStream::Shared {
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;
  std::vector<MemoryBudget::Lease> free_leases;  // buffers whose part finished
  std::vector<std::string> free_buffers;         // their memory, reused (no new pages to fault in)
  std::map<int, std::string> etags;              // part number -> ETag
  // Parts whose upload failed (after the client's own retries), kept with their bytes and lease
  // to be sent again by the owner thread.
  struct FailedPart {
    std::shared_ptr<std::string> body;
    MemoryBudget::Lease lease;
    Status error;
  };
  std::map<int, FailedPart> failed;
};

std::unique_ptr<WriteStream> WriteStream::Start(s3::ObjectClient& client, WorkerPool& pool,
                                                MemoryBudget& budget, WriteStreamParams params) {
  params.part_size = std::max<uint64_t>(params.part_size, 5ull << 20);
  params.max_parallel = std::max<size_t>(params.max_parallel, 1);
  MemoryBudget::Lease first = budget.TryAcquire(params.part_size);
  if (!first.held()) return nullptr;
  return std::unique_ptr<WriteStream>(
      new WriteStream(client, pool, budget, std::move(params), std::move(first)));
}

WriteStream::WriteStream(s3::ObjectClient& client, WorkerPool& pool, MemoryBudget& budget,
                         WriteStreamParams params, MemoryBudget::Lease first)
    : client_(client),
      pool_(pool),
      budget_(budget),
      params_(std::move(params)),
      layout_{params_.part_size, kPartsPerDoubling},
      shared_(std::make_shared<Shared>()),
      buffer_lease_(std::move(first)) {}

WriteStream::~WriteStream() {
  if (!done_) Abort();
}

bool WriteStream::started() const { return !upload_id_.empty(); }

Status WriteStream::Append(std::string_view data) {
  if (!failed_.ok()) return failed_;
  if (done_) return Status(ErrorCode::kInternal, "write stream already finished");
  while (!data.empty()) {
    uint64_t part = PartSizeFor(next_part_);
    if (buffer_.capacity() < part && buffer_.size() + data.size() > buffer_.capacity()) {
      buffer_.reserve(std::min<uint64_t>(part, std::max<uint64_t>(buffer_.size() + data.size(),
                                                                  2 * buffer_.capacity())));
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(part - buffer_.size(), data.size()));
    buffer_.append(data.data(), take);
    data.remove_prefix(take);
    size_ += take;
    if (buffer_.size() == part) {
      Status sent = SendBuffer();
      if (!sent.ok()) {
        failed_ = sent;
        AbortUpload();
        return failed_;
      }
    }
  }
  return Status::Ok();
}

bool WriteStream::ReadBuffered(uint64_t offset, size_t n, std::string* out) const {
  if (offset < buffer_start_ || offset + n > buffer_start_ + buffer_.size()) return false;
  out->assign(buffer_, offset - buffer_start_, n);
  return true;
}

Status WriteStream::SendBuffer() {
  if (upload_id_.empty()) {
    params_.metadata[kPartLayoutKey] = FormatPartLayout(layout_);
    Result<std::string> id =
        client_.CreateMultipartUpload(params_.key, params_.metadata, params_.content_type);
    if (!id.ok()) return id.status();
    upload_id_ = *id;
    if (params_.on_upload_started) params_.on_upload_started(params_.key, upload_id_);
  }
  int number = next_part_++;
  auto body = std::make_shared<std::string>(std::move(buffer_));
  buffer_ = std::string();
  buffer_start_ += body->size();
  auto lease = std::make_shared<MemoryBudget::Lease>(std::move(buffer_lease_));
  {
    std::lock_guard lock(shared_->mu);
    shared_->in_flight++;
  }
  std::shared_ptr<Shared> shared = shared_;
  s3::ObjectClient* client = &client_;
  std::string key = params_.key;
  std::string upload_id = upload_id_;
  pool_.Submit([shared, client, key, upload_id, number, body, lease] {
    Result<std::string> etag =
        client->UploadPart(key, upload_id, number, s3::BodySource::FromView(*body));
    std::lock_guard lock(shared->mu);
    if (etag.ok()) {
      body->clear();
      shared->etags[number] = *etag;
      shared->free_leases.push_back(std::move(*lease));
      shared->free_buffers.push_back(std::move(*body));
    } else {
      shared->failed[number] = Shared::FailedPart{body, std::move(*lease), etag.status()};
    }
    shared->in_flight--;
    shared->cv.notify_all();
  });

  // A buffer for the next part: one this stream already holds, a new one from the budget while
  // fewer than max_parallel parts are out, a failed part's once it went up on a second try, or
  // else the next to come back from the pool.
  uint64_t next_size = PartSizeFor(next_part_);
  std::unique_lock lock(shared_->mu);
  for (;;) {
    while (!shared_->free_leases.empty()) {
      MemoryBudget::Lease l = std::move(shared_->free_leases.back());
      shared_->free_leases.pop_back();
      std::string reused;
      if (!shared_->free_buffers.empty()) {
        reused = std::move(shared_->free_buffers.back());
        shared_->free_buffers.pop_back();
      }
      if (l.bytes() >= next_size) {
        buffer_lease_ = std::move(l);
        buffer_ = std::move(reused);
        buffer_.clear();
        buffer_.reserve(next_size);
        return Status::Ok();
      }
      // Smaller than the (doubled) part size: give it back and ask the budget anew below.
    }
    if (shared_->in_flight < params_.max_parallel) {
      buffer_lease_ = budget_.TryAcquire(next_size);
      if (buffer_lease_.held()) {
        buffer_.reserve(next_size);  // a whole part from the start: no copies while it grows
        return Status::Ok();
      }
    }
    if (!shared_->failed.empty()) {
      lock.unlock();
      SPACESFS_RETURN_IF_ERROR(RetryFailedParts());
      lock.lock();
      continue;
    }
    if (shared_->in_flight == 0) {
      // Nothing of ours to wait for and no budget left: go on over budget rather than stop.
      return Status::Ok();
    }
    shared_->cv.wait(lock);
  }
}

void WriteStream::WaitForAll() {
  std::unique_lock lock(shared_->mu);
  shared_->cv.wait(lock, [&] { return shared_->in_flight == 0; });
  shared_->free_leases.clear();
  shared_->free_buffers.clear();
}

Status WriteStream::RetryFailedParts() {
  for (;;) {
    int number = 0;
    Shared::FailedPart part;
    {
      std::lock_guard lock(shared_->mu);
      if (shared_->failed.empty()) return Status::Ok();
      number = shared_->failed.begin()->first;
      part = std::move(shared_->failed.begin()->second);
      shared_->failed.erase(shared_->failed.begin());
    }
    Result<std::string> etag =
        client_.UploadPart(params_.key, upload_id_, number, s3::BodySource::FromView(*part.body));
    std::lock_guard lock(shared_->mu);
    if (!etag.ok()) {
      part.error = etag.status();
      Status error = part.error;
      shared_->failed[number] = std::move(part);
      return error;
    }
    shared_->etags[number] = *etag;
    shared_->free_leases.push_back(std::move(part.lease));
    part.body->clear();
    shared_->free_buffers.push_back(std::move(*part.body));
  }
}

void WriteStream::AbortUpload() {
  WaitForAll();
  {
    std::lock_guard lock(shared_->mu);
    shared_->failed.clear();
    shared_->free_leases.clear();
    shared_->free_buffers.clear();
  }
  if (!upload_id_.empty()) {
    (void)client_.AbortMultipartUpload(params_.key, upload_id_);
    if (params_.on_upload_ended) params_.on_upload_ended(upload_id_);
    upload_id_.clear();
  }
  buffer_.clear();
  buffer_.shrink_to_fit();
  buffer_lease_.Reset();
}

void WriteStream::Abort() {
  if (done_) return;
  done_ = true;
  AbortUpload();
}

Result<std::string> WriteStream::Finish(const s3::UserMetadata& metadata,
                                        const std::string& content_type, bool if_none_match) {
  if (!failed_.ok()) return failed_;
  if (done_) return Status(ErrorCode::kInternal, "write stream already finished");
  if (upload_id_.empty()) {
    s3::PutObjectRequest put;
    put.key = params_.key;
    put.body = s3::BodySource::FromView(buffer_);
    put.metadata = metadata;
    put.content_type = content_type;
    put.if_none_match = if_none_match;
    Result<std::string> etag = client_.PutObject(put);
    if (!etag.ok()) return etag;  // the bytes are kept: Finish may be called again
    done_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    buffer_lease_.Reset();
    return etag;
  }
  if (!buffer_.empty()) {
    Status sent = SendBuffer();
    if (!sent.ok()) {
      failed_ = sent;
      AbortUpload();
      return sent;
    }
  }
  WaitForAll();
  // A part that failed is sent once more; if it fails again the stream stays as it is (the
  // upload open, the bytes kept) for a later Finish, or Abort.
  SPACESFS_RETURN_IF_ERROR(RetryFailedParts());
  std::vector<s3::CompletedPart> parts;
  {
    std::lock_guard lock(shared_->mu);
    for (const auto& [number, etag] : shared_->etags) parts.push_back({number, etag});
  }
  Result<std::string> etag = client_.CompleteMultipartUpload(params_.key, upload_id_, parts);
  if (!etag.ok()) return etag;
  done_ = true;
  if (params_.on_upload_ended) params_.on_upload_ended(upload_id_);
  upload_id_.clear();
  buffer_lease_.Reset();
  std::lock_guard lock(shared_->mu);
  shared_->free_leases.clear();
  shared_->free_buffers.clear();
  return etag;
}

}  // namespace spacesfs::fs

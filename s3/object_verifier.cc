#include "s3/object_verifier.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <vector>

#include "s3/sigv4.h"

namespace spacesfs::s3 {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kMinPartSize = 5 * kMiB;
constexpr uint64_t kMaxParts = 10000;
// Above this many parts a uniform part size is not derived (streaming uploaders grow parts).
constexpr uint64_t kMaxDerivedParts = 1000;
constexpr uint64_t kMaxDoublings = 40;
constexpr size_t kMd5Size = 16;

// The part count N of a multipart ETag "<32 hex>-N" (unquoted), or 0 for any other form.
uint64_t MultipartCount(std::string_view etag) {
  if (etag.size() < 34 || etag[32] != '-' || !IsPlainMd5Etag(etag.substr(0, 32))) return 0;
  std::string_view digits = etag.substr(33);
  if (digits.empty() || digits.size() > 5 || digits[0] == '0') return 0;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n > kMaxParts) return 0;
  return n;
}

// The one whole-MiB part size of at least 5 MiB that fits, if exactly one does (n >= 2).
std::optional<uint64_t> DerivePartSize(uint64_t n, uint64_t size) {
  if (size == 0) return std::nullopt;
  uint64_t per_mib_n = n * kMiB;
  uint64_t low =
      std::max<uint64_t>(kMinPartSize / kMiB, size / per_mib_n + (size % per_mib_n != 0));
  uint64_t high = (size - 1) / ((n - 1) * kMiB);
  if (low != high) return std::nullopt;
  return low * kMiB;
}

}  // namespace

uint64_t PartLayout::PartSize(uint64_t index) const {
  if (parts_per_doubling == 0) return part_size;
  uint64_t doublings = std::min(index / parts_per_doubling, kMaxDoublings);
  if (part_size > (UINT64_MAX >> doublings)) return UINT64_MAX;
  return part_size << doublings;
}

uint64_t PartLayout::PartCount(uint64_t size) const {
  if (size == 0 || part_size == 0) return 0;
  if (parts_per_doubling == 0) return size / part_size + (size % part_size != 0);
  uint64_t count = 0;
  for (uint64_t doublings = 0;; ++doublings) {
    uint64_t each = PartSize(count);
    uint64_t group = doublings < kMaxDoublings ? parts_per_doubling : UINT64_MAX;
    if (each != 0 && size / each < group) return count + size / each + (size % each != 0);
    size -= group * each;
    count += group;
    if (size == 0) return count;
  }
}

ObjectVerifier::ObjectVerifier(std::string etag, uint64_t size,
                               std::optional<PartLayout> layout_hint)
    : etag_(UnquoteEtag(etag)), size_(size) {
  if (IsPlainMd5Etag(etag_)) {
    layout_ = PartLayout{size_, 0};
  } else if (uint64_t n = MultipartCount(etag_); n == 1) {
    multipart_ = true;
    layout_ = PartLayout{size_, 0};
  } else if (n > 1) {
    multipart_ = true;
    if (layout_hint && layout_hint->PartCount(size_) == n) {
      layout_ = layout_hint;
    } else if (n <= kMaxDerivedParts) {
      if (std::optional<uint64_t> derived = DerivePartSize(n, size_)) {
        layout_ = PartLayout{*derived, 0};
        layout_derived_ = true;
      }
    }
    if (layout_) part_md5s_.reserve(n * kMd5Size);
  }
  verifiable_ = layout_.has_value();
  if (verifiable_) StartPart();
}

uint64_t ObjectVerifier::PartEnd(uint64_t start, uint64_t index) const {
  uint64_t end = start + layout_->PartSize(index);
  return end < start ? UINT64_MAX : end;  // overflow: the rest of the object
}

void ObjectVerifier::StartPart() {
  part_md5_.emplace();
  part_end_ = PartEnd(fed_, part_index_);
}

void ObjectVerifier::EndPart() {
  part_md5s_ += part_md5_->FinalRaw();
  part_md5_.reset();
  ++part_index_;
}

bool ObjectVerifier::Feed(uint64_t offset, std::string_view data) {
  if (!verifiable_) return false;
  if (offset != fed_ || data.size() > size_ - fed_) {
    verifiable_ = false;
    part_md5_.reset();
    return false;
  }
  while (!data.empty()) {
    if (fed_ == part_end_) {
      EndPart();
      StartPart();
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), part_end_ - fed_));
    part_md5_->Update(data.substr(0, take));
    fed_ += take;
    data.remove_prefix(take);
  }
  return true;
}

bool ObjectVerifier::FeedMany(uint64_t offset, std::span<const std::string_view> pieces) {
  if (!verifiable_) return false;
  uint64_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  if (offset != fed_ || total > size_ - fed_) {
    verifiable_ = false;
    part_md5_.reset();
    return false;
  }
  // Cut the bytes where parts end: segments[0] goes on with the current part, segments[j] is
  // part part_index_ + j, hashed by opened[j - 1]. As in Feed, a part ends when a byte after it
  // comes.
  std::vector<std::vector<std::string_view>> segments(1);
  std::deque<Md5Lane> opened;  // a deque: the lanes stay where Md5Piece points to them
  uint64_t pos = fed_;
  uint64_t index = part_index_;
  uint64_t part_end = part_end_;
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      if (pos == part_end) {
        ++index;
        part_end = PartEnd(pos, index);
        segments.emplace_back();
        opened.emplace_back();
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(piece.size(), part_end - pos));
      segments.back().push_back(piece.substr(0, take));
      pos += take;
      piece.remove_prefix(take);
    }
  }
  // Round r hashes every part's r-th segment (a part spans several pieces only where a piece
  // ends inside it, so there are one or two rounds).
  std::vector<Md5Piece> round;
  for (size_t r = 0;; ++r) {
    round.clear();
    for (size_t j = 0; j < segments.size(); ++j) {
      if (r < segments[j].size()) {
        round.push_back({j == 0 ? &*part_md5_ : &opened[j - 1], segments[j][r]});
      }
    }
    if (round.empty()) break;
    Md5UpdateManyJoined(round);
  }
  // Every part but the last is complete.
  if (!opened.empty()) {
    part_md5s_ += part_md5_->FinalRaw();
    for (size_t j = 0; j + 1 < opened.size(); ++j) part_md5s_ += opened[j].FinalRaw();
    part_md5_ = std::move(opened.back());
  }
  part_index_ = index;
  part_end_ = part_end;
  fed_ = pos;
  return true;
}

ObjectVerifier::Outcome ObjectVerifier::Finish() {
  if (!verifiable_ || fed_ < size_) return Outcome::kUnverifiable;
  if (outcome_) return *outcome_;
  std::string actual;
  if (multipart_) {
    EndPart();
    actual = HexEncode(Md5(part_md5s_)) + "-" + std::to_string(part_md5s_.size() / kMd5Size);
  } else {
    actual = HexEncode(part_md5_->FinalRaw());
    part_md5_.reset();
  }
  outcome_ = EtagsEqual(actual, etag_) ? Outcome::kMatch : Outcome::kMismatch;
  computed_etag_ = std::move(actual);
  return *outcome_;
}

}  // namespace spacesfs::s3

#include "s3/object_verifier.h"

#include <algorithm>
#include <charconv>

#include "s3/sigv4.h"

namespace spacesfs::s3 {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kMinPartSize = 5 * kMiB;
constexpr uint64_t kMaxParts = 10000;
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

// Whether n parts of part_size bytes (the last one shorter) make size bytes:
// (n-1)*part_size < size <= n*part_size, with n >= 2.
bool Fits(uint64_t n, uint64_t size, uint64_t part_size) {
  if (size == 0 || part_size == 0) return false;
  uint64_t smallest = size / n + (size % n != 0 ? 1 : 0);  // ceil(size / n)
  uint64_t largest = (size - 1) / (n - 1);
  return part_size >= smallest && part_size <= largest;
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

ObjectVerifier::ObjectVerifier(std::string etag, uint64_t size,
                               std::optional<uint64_t> part_size_hint)
    : etag_(UnquoteEtag(etag)), size_(size) {
  if (IsPlainMd5Etag(etag_)) {
    part_size_ = size_;
  } else if (uint64_t n = MultipartCount(etag_); n == 1) {
    multipart_ = true;
    part_size_ = size_;
  } else if (n > 1) {
    multipart_ = true;
    if (part_size_hint && Fits(n, size_, *part_size_hint)) {
      part_size_ = part_size_hint;
    } else {
      part_size_ = DerivePartSize(n, size_);
    }
    if (part_size_) part_md5s_.reserve(n * kMd5Size);
  }
  verifiable_ = part_size_.has_value();
  if (verifiable_) StartPart();
}

void ObjectVerifier::StartPart() {
  part_md5_.emplace();
  in_part_ = 0;
}

void ObjectVerifier::EndPart() {
  part_md5s_ += part_md5_->FinalRaw();
  part_md5_.reset();
}

bool ObjectVerifier::Feed(uint64_t offset, std::string_view data) {
  if (!verifiable_) return false;
  if (offset != fed_ || data.size() > size_ - fed_) {
    verifiable_ = false;
    part_md5_.reset();
    return false;
  }
  while (!data.empty()) {
    if (in_part_ == *part_size_) {
      EndPart();
      StartPart();
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), *part_size_ - in_part_));
    part_md5_->Update(data.substr(0, take));
    in_part_ += take;
    fed_ += take;
    data.remove_prefix(take);
  }
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
  return *outcome_;
}

}  // namespace spacesfs::s3

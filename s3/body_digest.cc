#include "s3/body_digest.h"

#include <openssl/evp.h>

#include <memory>

#include "s3/sigv4.h"

namespace spacesfs::s3 {
namespace {

constexpr size_t kChunk = 1 << 20;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx NewCtx(const EVP_MD* md) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx) EVP_DigestInit_ex(ctx.get(), md, nullptr);
  return ctx;
}

std::string Final(EVP_MD_CTX* ctx) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

}  // namespace

Result<BodyDigest> DigestBody(const BodySource& body, bool with_sha256, bool with_md5) {
  MdCtx md5 = with_md5 ? NewCtx(EVP_md5()) : nullptr;
  MdCtx sha = with_sha256 ? NewCtx(EVP_sha256()) : nullptr;
  if ((with_md5 && !md5) || (with_sha256 && !sha)) {
    return Status(ErrorCode::kInternal, "EVP_MD_CTX_new failed");
  }
  auto update = [&](const char* data, size_t n) {
    if (md5) EVP_DigestUpdate(md5.get(), data, n);
    if (sha) EVP_DigestUpdate(sha.get(), data, n);
  };
  if (body.in_memory.data() != nullptr && body.in_memory.size() == body.size) {
    update(body.in_memory.data(), body.in_memory.size());  // no copy
  } else {
    std::string buffer(static_cast<size_t>(std::min<uint64_t>(kChunk, body.size)), '\0');
    uint64_t offset = 0;
    while (offset < body.size) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), body.size - offset));
      Result<size_t> got = body.read(offset, std::span<char>(buffer.data(), want));
      if (!got.ok()) return got.status();
      if (*got == 0 || *got > want) {
        return Status(ErrorCode::kInternal, "request body source ended at " +
                                                std::to_string(offset) + " of " +
                                                std::to_string(body.size) + " bytes");
      }
      update(buffer.data(), *got);
      offset += *got;
    }
  }
  BodyDigest digest;
  if (md5) digest.md5 = Final(md5.get());
  if (sha) digest.sha256_hex = HexEncode(Final(sha.get()));
  return digest;
}

std::string Md5(std::string_view data) {
  MdCtx md5 = NewCtx(EVP_md5());
  EVP_DigestUpdate(md5.get(), data.data(), data.size());
  return Final(md5.get());
}

bool EtagsEqual(std::string_view a, std::string_view b) {
  a = UnquoteEtag(a);
  b = UnquoteEtag(b);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool IsPlainMd5Etag(std::string_view etag) {
  std::string_view hex = UnquoteEtag(etag);
  if (hex.size() != 32) return false;
  for (char c : hex) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!ok) return false;
  }
  return true;
}

std::string QuotedMd5Etag(std::string_view md5_raw) { return "\"" + HexEncode(md5_raw) + "\""; }

std::string_view UnquoteEtag(std::string_view etag) {
  for (std::string_view quote : {"\"", "&quot;"}) {
    if (etag.size() >= 2 * quote.size() && etag.starts_with(quote) && etag.ends_with(quote)) {
      return etag.substr(quote.size(), etag.size() - 2 * quote.size());
    }
  }
  return etag;
}

std::string QuotedEtag(std::string_view etag) {
  return "\"" + std::string(UnquoteEtag(etag)) + "\"";
}

Result<std::string> MultipartEtag(const std::vector<CompletedPart>& parts) {
  std::string concatenated;
  for (const CompletedPart& part : parts) {
    std::string_view hex = UnquoteEtag(part.etag);
    std::optional<std::string> md5 = HexDecode(hex);
    if (hex.size() != 32 || !md5) {
      return Status(ErrorCode::kInvalidArgument, "part ETag " + part.etag + " is not an MD5");
    }
    concatenated += *md5;
  }
  return "\"" + HexEncode(Md5(concatenated)) + "-" + std::to_string(parts.size()) + "\"";
}

}  // namespace spacesfs::s3

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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<BodyDigest> DigestBody(const BodySource& body, bool with_sha256) {
  MdCtx md5 = NewCtx(EVP_md5());
  MdCtx sha = with_sha256 ? NewCtx(EVP_sha256()) : nullptr;
  if (!md5 || (with_sha256 && !sha)) return Status(ErrorCode::kInternal, "EVP_MD_CTX_new failed");
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
    EVP_DigestUpdate(md5.get(), buffer.data(), *got);
    if (sha) EVP_DigestUpdate(sha.get(), buffer.data(), *got);
    offset += *got;
  }
  BodyDigest digest;
  digest.md5 = Final(md5.get());
  if (sha) digest.sha256_hex = HexEncode(Final(sha.get()));
  return digest;
}

std::string Md5(std::string_view data) {
  MdCtx md5 = NewCtx(EVP_md5());
  EVP_DigestUpdate(md5.get(), data.data(), data.size());
  return Final(md5.get());
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
    if (hex.size() != 32) {
      return Status(ErrorCode::kInvalidArgument, "part ETag " + part.etag + " is not an MD5");
    }
    for (size_t i = 0; i < 32; i += 2) {
      int hi = HexValue(hex[i]);
      int lo = HexValue(hex[i + 1]);
      if (hi < 0 || lo < 0) {
        return Status(ErrorCode::kInvalidArgument, "part ETag " + part.etag + " is not an MD5");
      }
      concatenated.push_back(static_cast<char>(hi * 16 + lo));
    }
  }
  return "\"" + HexEncode(Md5(concatenated)) + "-" + std::to_string(parts.size()) + "\"";
}

}  // namespace spacesfs::s3

// Fuzzes the credential file parser (auth/credentials.h ParseCredentials) and the grant parser
// (auth/grant.h ParseGrant) with arbitrary text.
//
// A secret is planted: every "$$" in the input becomes kMarker, so the fuzzer can put a known
// secret on any line (the corpus has "secret_access_key = $$" and "session_token = $$" lines).
//
// Invariants (beyond "no crash, no sanitizer report"):
//   - ParseCredentials errors are kConfig, one line, start with "<file>:<line>: ", and never contain
//     the value of a secret_access_key or session_token line (checked when kMarker appears only
//     on such lines; elsewhere a name or key id may legitimately be quoted);
//   - an accepted file gives profiles with a name, an access key id, a secret (inline or a
//     reference), a region, an endpoint and at least one grant; no non-secret field holds the
//     planted secret;
//   - every accepted grant (from a file or from ParseGrant on one input line) re-parses from
//     FormatGrant to the same Grant with ParseGrant, and a grant read from a file also reads
//     back the same from a "grant = " line (ParseGrant alone accepts prefixes such as "a #b/"
//     that a file line cannot hold: " #" starts a comment there);
//   - ParseGrant errors are kConfig.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/credentials.h"
#include "auth/grant.h"
#include "fuzz_check.h"

namespace spacesfs::auth {
namespace {

constexpr std::string_view kMarker = "Zx9sEcReTmArKeR7Q";
constexpr std::string_view kFile = "fuzz.ini";

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl == text.npos ? text.npos : nl - start));
    if (nl == text.npos) break;
    start = nl + 1;
  }
  return out;
}

// The line holds a secret value: its key (before the first '=' or ':') is one of the keys whose
// values are secrets.
bool IsSecretLine(std::string_view line) {
  size_t sep = line.find_first_of("=:");
  if (sep == line.npos) return false;
  std::string_view key = Trim(line.substr(0, sep));
  return key == "secret_access_key" || key == "session_token";
}

bool HasMarker(std::string_view s) { return s.find(kMarker) != std::string_view::npos; }

// A grant must survive FormatGrant through ParseGrant and, when it was read from a credential
// file (so it can be written in one), as a "grant = " line of a file.
void CheckGrantRoundTrip(const Grant& grant, bool through_file) {
  const std::string text = FormatGrant(grant);
  Result<Grant> again = ParseGrant(text);
  FUZZ_CHECK(again.ok(), "FormatGrant gave '" + text + "', which ParseGrant refuses: " +
                             again.status().message());
  FUZZ_CHECK(*again == grant, "ParseGrant(FormatGrant(g)) != g for '" + text + "'");
  FUZZ_CHECK(FormatGrant(*again) == text, "FormatGrant is not canonical for '" + text + "'");
  if (!through_file) return;

  const std::string file =
      "[p]\naccess_key_id = AKID\nsecret_access_key = " + std::string(kMarker) +
      "\nregion = nyc3\ngrant = " + text + "\n";
  Result<std::vector<Profile>> profiles = ParseCredentials(file, kFile);
  FUZZ_CHECK(profiles.ok(), "the line 'grant = " + text + "' is refused in a file: " +
                                profiles.status().message());
  FUZZ_CHECK(profiles->size() == 1 && profiles->front().grants.size() == 1 &&
                 profiles->front().grants.front() == grant,
             "the line 'grant = " + text + "' reads back as a different grant");
}

void CheckCredentials(std::string_view text) {
  Result<std::vector<Profile>> parsed = ParseCredentials(text, kFile);

  // Where does the planted secret appear?
  bool marker_in_secret_line = false, marker_elsewhere = false;
  for (std::string_view line : Lines(text)) {
    if (!HasMarker(line)) continue;
    (IsSecretLine(line) ? marker_in_secret_line : marker_elsewhere) = true;
  }
  const bool must_hide = marker_in_secret_line && !marker_elsewhere;

  if (!parsed.ok()) {
    const Status& s = parsed.status();
    FUZZ_CHECK(s.code() == ErrorCode::kConfig, "ParseCredentials: not kConfig: " + s.ToString());
    FUZZ_CHECK(fuzz::IsOneLine(s.message()), "ParseCredentials: not one line: " + s.message());
    FUZZ_CHECK(s.message().rfind(std::string(kFile) + ":", 0) == 0,
               "ParseCredentials: message does not start with the file: " + s.message());
    if (must_hide) {
      FUZZ_CHECK(!HasMarker(s.message()), "ParseCredentials: the secret is in: " + s.message());
      FUZZ_CHECK(!HasMarker(s.ToString()), "ParseCredentials: the secret is in ToString()");
    }
    return;
  }
  for (const Profile& p : *parsed) {
    FUZZ_CHECK(!p.name.empty(), "profile without a name");
    FUZZ_CHECK(!p.access_key_id.empty(), "profile [" + p.name + "] without access_key_id");
    FUZZ_CHECK(!p.grants.empty(), "profile [" + p.name + "] without grants");
    FUZZ_CHECK(!p.region.empty() && !p.endpoint.empty(), "profile [" + p.name + "] region");
    FUZZ_CHECK(p.source_file == kFile && p.line >= 1, "profile [" + p.name + "] origin");
    if (p.secret_source == SecretSource::kInline) {
      FUZZ_CHECK(!p.secret_access_key.empty(), "profile [" + p.name + "] with an empty secret");
    } else {
      FUZZ_CHECK(p.secret_access_key.empty() && !p.secret_reference.empty(),
                 "profile [" + p.name + "] secret reference");
    }
    if (must_hide) {
      bool leaked = HasMarker(p.name) || HasMarker(p.access_key_id) || HasMarker(p.region) ||
                    HasMarker(p.endpoint) || HasMarker(p.secret_reference);
      for (const Grant& g : p.grants) leaked = leaked || HasMarker(FormatGrant(g));
      FUZZ_CHECK(!leaked, "a secret value ended up in a non-secret field of [" + p.name + "]");
    }
    for (const Grant& g : p.grants) CheckGrantRoundTrip(g, /*through_file=*/true);
  }
}

void CheckGrantLines(std::string_view text) {
  for (std::string_view line : Lines(text)) {
    Result<Grant> grant = ParseGrant(line);
    if (!grant.ok()) {
      FUZZ_CHECK(grant.status().code() == ErrorCode::kConfig,
                 "ParseGrant: not kConfig: " + grant.status().ToString());
      continue;
    }
    FUZZ_CHECK(ValidateSpaceName(grant->space).ok(), "ParseGrant accepted a bad Space name");
    FUZZ_CHECK(grant->prefix.empty() || grant->prefix.back() == '/',
               "ParseGrant: prefix not normalised: " + grant->prefix);
    FUZZ_CHECK(grant->who.empty() || IsValidPrincipalName(grant->who),
               "ParseGrant: bad principal " + grant->who);
    CheckGrantRoundTrip(*grant, /*through_file=*/false);
  }
}

}  // namespace
}  // namespace spacesfs::auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spacesfs::auth;
  if (size > 64 * 1024) return 0;  // credential files are small; keep executions fast
  std::string text;
  text.reserve(size + 64);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '$' && i + 1 < size && data[i + 1] == '$') {
      text += kMarker;
      ++i;
    } else {
      text += static_cast<char>(data[i]);
    }
  }
  CheckCredentials(text);
  CheckGrantLines(text);
  return 0;
}

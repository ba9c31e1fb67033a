// ParseCredentials: the INI credential format, tokenised by inih.
//
// inih reads lines through Parser::ReadLine, which hands it a cleaned line:
//  - leading whitespace is removed, so inih never sees a multi-line continuation (in Debian's
//    build INI_ALLOW_MULTILINE is on and an indented line would silently extend the previous
//    value); every line stands alone and each repeated "grant" line reaches the handler;
//  - comment lines and section headers are handled here (inih's handler has no line numbers and,
//    in Debian's build, is not called for sections) and handed to inih as empty lines;
//  - values of secret-looking keys, and lines too long for inih's 200-byte stack buffer, are kept
//    here and handed over as a reference marker, so secrets never pass through inih's buffers and
//    long session tokens are not cut.
// inih splits "key = value" (or "key: value"), trims, and drops inline "; comments"; the handler
// also drops inline "# comments" (a '#' after whitespace), which Debian's inih keeps.
#include <ini.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "auth/credentials.h"
#include "auth/endpoint.h"

namespace spacesfs::auth {
namespace {

constexpr char kRefMarker = '\x1f';
constexpr size_t kMaxKeyName = 64;

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  return s;
}
std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Drops an inline comment: '#' or ';' preceded by whitespace. Then trims.
std::string_view CleanValue(std::string_view value) {
  value = TrimLeft(value);
  for (size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && IsBlank(value[i - 1])) {
      value = value.substr(0, i);
      break;
    }
  }
  return Trim(value);
}

bool IsKeyName(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyName) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Keys whose values are kept away from inih and never quoted.
bool IsSensitiveKey(std::string_view key) {
  std::string lower;
  for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word : {"secret", "token", "password", "passwd", "key"}) {
    if (lower.find(word) != lower.npos) return true;
  }
  return false;
}

bool IsProfileName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Printable ASCII without spaces: what access key ids and secrets are made of.
bool IsTokenText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool IsCredentialName(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         name.find('/') == name.npos && IsTokenText(name);
}

struct ProfileState {
  Profile profile;
  std::map<std::string, int, std::less<>> single_keys;  // key -> line of first occurrence
  std::string secret_key;                                // which secret source, "" if none
  int secret_line = 0;
};

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  Result<std::vector<Profile>> Run() {
    // Control characters (NUL included) are refused up front; this also keeps kRefMarker unique.
    auto bad = std::find_if(text_.begin(), text_.end(), [](char c) {
      return (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') ||
             c == 0x7f;
    });
    if (bad != text_.end()) {
      int line = 1 + static_cast<int>(std::count(text_.begin(), bad, '\n'));
      return Status(ErrorCode::kConfig, Where(line) + ": control character in file");
    }
    int rc = ini_parse_stream(&Parser::ReadThunk, this, &Parser::HandleThunk, this);
    if (!error_ && rc != 0) {
      Fail(rc > 0 ? rc : line_, "cannot parse (inih error " + std::to_string(rc) + ")");
    }
    if (!error_) {
      for (ProfileState& state : profiles_) Finish(state);
    }
    if (error_) return Status(ErrorCode::kConfig, error_->second);
    std::vector<Profile> out;
    out.reserve(profiles_.size());
    for (ProfileState& state : profiles_) out.push_back(std::move(state.profile));
    return out;
  }

 private:
  static char* ReadThunk(char* str, int num, void* stream) {
    return static_cast<Parser*>(stream)->ReadLine(str, num);
  }
  static int HandleThunk(void* user, const char* /*section*/, const char* name, const char* value) {
    static_cast<Parser*>(user)->OnKey(name, value);
    return 1;  // errors are collected here; inih's own error count is not used
  }

  std::string Where(int line) const { return file_ + ":" + std::to_string(line); }

  // Keeps the error with the lowest line number.
  void Fail(int line, std::string message) {
    if (!error_ || line < error_->first) error_.emplace(line, Where(line) + ": " + message);
  }

  static char* Hand(char* str, int num, std::string_view out) {
    size_t n = std::min(out.size(), static_cast<size_t>(num > 0 ? num - 1 : 0));
    std::copy_n(out.data(), n, str);
    str[n] = '\0';
    return str;
  }

  char* ReadLine(char* str, int num) {
    if (pos_ >= text_.size()) return nullptr;
    size_t nl = text_.find('\n', pos_);
    std::string_view raw = text_.substr(pos_, nl == text_.npos ? text_.npos : nl - pos_);
    pos_ = nl == text_.npos ? text_.size() : nl + 1;
    ++line_;
    if (line_ == 1 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);

    std::string_view s = TrimLeft(raw);
    std::string_view trimmed = Trim(s);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == ';') return Hand(str, num, "\n");
    if (trimmed.front() == '[') {
      OnSection(trimmed);
      return Hand(str, num, "\n");
    }
    size_t sep = s.find_first_of("=:");
    std::string_view key = sep == s.npos ? std::string_view() : Trim(s.substr(0, sep));
    if (!IsKeyName(key)) {
      Fail(line_, "malformed line (expected 'key = value', '[profile]' or a comment)");
      return Hand(str, num, "\n");
    }
    if (IsSensitiveKey(key) || s.size() + 2 > static_cast<size_t>(num)) {
      refs_.emplace_back(std::string(CleanValue(s.substr(sep + 1))));
      std::string out(key);
      out += '=';
      out += kRefMarker;
      out += std::to_string(refs_.size() - 1);
      out += '\n';
      return Hand(str, num, out);
    }
    std::string out(s);
    out += '\n';
    return Hand(str, num, out);
  }

  void OnSection(std::string_view header) {
    current_ = -2;  // keys after a bad header are ignored (the header's error is reported)
    size_t close = header.find(']');
    if (close == header.npos) {
      Fail(line_, "malformed section header (expected [profile-name])");
      return;
    }
    std::string_view name = header.substr(1, close - 1);
    std::string_view after = Trim(header.substr(close + 1));
    if (!after.empty() && after.front() != '#' && after.front() != ';') {
      Fail(line_, "unexpected text after [" + std::string(name) + "]");
      return;
    }
    if (!IsProfileName(name)) {
      Fail(line_, "invalid profile name [" + std::string(name) +
                      "] (use letters, digits, '.', '_' and '-', starting with a letter or digit)");
      return;
    }
    for (const ProfileState& state : profiles_) {
      if (state.profile.name == name) {
        Fail(line_, "profile [" + std::string(name) + "] defined twice (first at line " +
                        std::to_string(state.profile.line) + ")");
        return;
      }
    }
    ProfileState state;
    state.profile.name = std::string(name);
    state.profile.source_file = file_;
    state.profile.line = line_;
    profiles_.push_back(std::move(state));
    current_ = static_cast<int>(profiles_.size()) - 1;
  }

  void OnKey(std::string_view name, std::string_view raw_value) {
    const int line = line_;
    if (current_ == -2) return;
    if (current_ < 0) {
      Fail(line, "key '" + std::string(name) + "' outside any [profile] section");
      return;
    }
    std::string_view value = CleanValue(raw_value);
    if (!raw_value.empty() && raw_value.front() == kRefMarker) {
      size_t index = refs_.size();
      std::from_chars(raw_value.data() + 1, raw_value.data() + raw_value.size(), index);
      if (index >= refs_.size()) return Fail(line, "internal error: bad value reference");
      value = refs_[index].reveal();
    }
    ProfileState& state = profiles_[current_];
    Profile& p = state.profile;
    const std::string in = " in [" + p.name + "]";
    const std::string key(name);

    if (key == "grant") {
      Result<Grant> grant = ParseGrant(value);
      if (!grant.ok()) {
        Fail(line, grant.status().message() + in);
      } else {
        p.grants.push_back(std::move(*grant));
      }
      return;
    }
    if (key == "secret_access_key" || key == "secret_file" || key == "secret_credential") {
      if (!state.secret_key.empty()) {
        Fail(line, "more than one secret" + in + " (" + key + " here, " + state.secret_key +
                       " at line " + std::to_string(state.secret_line) +
                       "); keep exactly one of secret_access_key, secret_file, secret_credential");
        return;
      }
      state.secret_key = key;
      state.secret_line = line;
      if (value.empty()) {
        Fail(line, "empty " + key + in);
      } else if (key == "secret_access_key") {
        if (!IsTokenText(value)) {
          Fail(line, "secret_access_key" + in + " contains spaces or control characters");
          return;
        }
        p.secret_source = SecretSource::kInline;
        p.secret_access_key = Secret(std::string(value));
      } else if (key == "secret_file") {
        if (value.front() != '/') {
          Fail(line, "secret_file" + in + " must be an absolute path");
          return;
        }
        p.secret_source = SecretSource::kFile;
        p.secret_reference = std::string(value);
      } else {
        if (!IsCredentialName(value)) {
          Fail(line, "secret_credential" + in + " must be a credential name without '/'");
          return;
        }
        p.secret_source = SecretSource::kSystemdCredential;
        p.secret_reference = std::string(value);
      }
      return;
    }
    if (key != "access_key_id" && key != "session_token" && key != "region" && key != "endpoint" &&
        key != "ca_bundle") {
      Fail(line, "unknown key '" + key + "'" + in);
      return;
    }
    auto [it, inserted] = state.single_keys.emplace(key, line);
    if (!inserted) {
      Fail(line, "duplicate key '" + key + "'" + in + " (first at line " +
                     std::to_string(it->second) + ")");
      return;
    }
    if (value.empty()) {
      Fail(line, "empty " + key + in);
    } else if (key == "access_key_id") {
      if (!IsTokenText(value) || value.size() > 128) {
        Fail(line, "access_key_id" + in + " must be 1-128 printable characters without spaces");
        return;
      }
      p.access_key_id = std::string(value);
    } else if (key == "session_token") {
      if (!IsTokenText(value)) {
        Fail(line, "session_token" + in + " contains spaces or control characters");
        return;
      }
      p.session_token = Secret(std::string(value));
    } else if (key == "region") {
      if (!IsValidRegion(value)) {
        Fail(line, "invalid region '" + std::string(value) + "'" + in +
                       " (expected a name like nyc3 or us-east-1)");
        return;
      }
      p.region = std::string(value);
    } else if (key == "ca_bundle") {
      if (value.front() != '/' || !IsTokenText(value)) {
        Fail(line, "ca_bundle" + in + " must be an absolute path without spaces");
        return;
      }
      p.ca_bundle = std::string(value);
    } else {
      Status ok = ValidateEndpoint(value);
      if (!ok.ok()) {
        Fail(line, ok.message() + in);
        return;
      }
      p.endpoint = NormalizeEndpoint(value);
    }
  }

  void Finish(ProfileState& state) {
    Profile& p = state.profile;
    const std::string profile = "profile [" + p.name + "]";
    if (p.access_key_id.empty()) {
      Fail(p.line, profile + " has no access_key_id");
    } else if (state.secret_key.empty()) {
      Fail(p.line, profile +
                       " has no secret; add one of secret_access_key, secret_file, "
                       "secret_credential");
    } else if (p.region.empty() && p.endpoint.empty()) {
      Fail(p.line, profile + " has neither region nor endpoint");
    } else if (p.grants.empty()) {
      Fail(p.line, profile + " has no grant; add e.g. 'grant = SPACE:read'");
    }
    if (p.endpoint.empty()) p.endpoint = EndpointForRegion(p.region);
    if (!p.ca_bundle.empty() && !p.endpoint.starts_with("https://")) {
      Fail(state.single_keys.find("ca_bundle")->second, "ca_bundle in [" + p.name + "] needs an https endpoint");
    }
    if (p.region.empty()) p.region = std::string(kDefaultSigningRegion);
    p.path_style = UsesPathStyle(p.endpoint);
  }

  std::string_view text_;
  std::string file_;
  size_t pos_ = 0;
  int line_ = 0;
  int current_ = -1;         // index into profiles_; -1 before any section, -2 after a bad one
  std::vector<Secret> refs_;  // values handed to inih by reference
  std::vector<ProfileState> profiles_;
  std::optional<std::pair<int, std::string>> error_;  // the first error (lowest line)
};

}  // namespace

Result<std::vector<Profile>> ParseCredentials(std::string_view text, std::string_view file_name) {
  Parser parser(text, file_name);
  return parser.Run();
}

}  // namespace spacesfs::auth

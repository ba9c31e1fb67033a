#include "auth/secret_options.h"

#include <cctype>

namespace spacesfs::auth {
namespace {

std::string NormalizeName(std::string_view name) {
  while (!name.empty() && name.front() == '-') name.remove_prefix(1);
  std::string out;
  for (char c : name) {
    out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

int CharClass(char c) {
  if (c >= 'A' && c <= 'Z') return 0;
  if (c >= 'a' && c <= 'z') return 1;
  if (c >= '0' && c <= '9') return 2;
  return 3;
}

}  // namespace

std::string SecretAdvice(std::string_view credential_path) {
  return "secrets must not be passed as arguments or mount options (they are visible in ps and "
         "/proc); put secret_access_key = ... in the profile's section of " +
         std::string(credential_path) + " (mode 0600) instead";
}

namespace {

Status Refuse(std::string what, std::string_view credential_path) {
  return Status(ErrorCode::kInvalidArgument, what + "; " + SecretAdvice(credential_path));
}

// Checks one "name[=value]" item; `label` is how to name it in the message ("mount option").
Status CheckNameValue(std::string_view item, std::string_view label,
                      std::string_view credential_path) {
  size_t eq = item.find('=');
  std::string_view name = item.substr(0, eq);
  std::string shown = NormalizeName(name).empty() ? "(empty)" : std::string(name);
  if (IsSecretOptionName(name)) {
    return Refuse(std::string(label) + " '" + shown + "' would carry a secret", credential_path);
  }
  if (eq != item.npos && LooksLikeSecret(item.substr(eq + 1))) {
    return Refuse(std::string(label) + " '" + shown + "' has a value that looks like a secret key",
                  credential_path);
  }
  if (eq == item.npos && LooksLikeSecret(item)) {
    return Refuse(std::string(label) + " looks like a secret key", credential_path);
  }
  if (eq != item.npos && LooksLikeDigitalOceanToken(item.substr(eq + 1))) {
    return Refuse(std::string(label) + " '" + shown +
                      "' has a value that looks like a DigitalOcean API token",
                  credential_path);
  }
  if (LooksLikeDigitalOceanToken(item)) {
    return Refuse(std::string(label) + " looks like a DigitalOcean API token", credential_path);
  }
  return Status::Ok();
}

}  // namespace

bool IsSecretOptionName(std::string_view raw_name) {
  std::string name = NormalizeName(raw_name);
  if (name.empty()) return false;
  if (EndsWith(name, "_file") || EndsWith(name, "_path") || EndsWith(name, "_credential")) {
    return false;
  }
  for (std::string_view exact : {"secret", "secret_key", "secret_access_key",
                                 "aws_secret_access_key", "password", "passwd", "token",
                                 "session_token", "aws_session_token"}) {
    if (name == exact) return true;
  }
  for (std::string_view word : {"secret", "password", "token"}) {
    if (name.find(word) != name.npos) return true;
  }
  return false;
}

bool LooksLikeSecret(std::string_view value) {
  if (value.size() < 30 || value.size() > 4096) return false;
  bool lower = false;
  size_t pairs = 0, changes = 0, upper_pairs = 0, letter_digit = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return false;
    }
    int cls = CharClass(c);
    lower |= cls == 1;
    if (i == 0) continue;
    int prev = CharClass(value[i - 1]);
    if (cls == 3 || prev == 3) continue;  // only pairs of letters and digits count
    ++pairs;
    if (cls != prev) ++changes;
    if (cls == 0 && prev == 0) ++upper_pairs;
    if ((cls == 2) != (prev == 2)) ++letter_digit;
  }
  // Random base64 changes character class at ~60% of positions, has adjacent capitals and mixes
  // digits into letters; words, CamelCase names and paths do not do all three.
  return lower && upper_pairs >= 1 && letter_digit >= 2 && changes * 10 >= pairs * 4;
}

bool MayBeSecret(std::string_view value) {
  if (value.size() < 30) return false;
  for (char c : value) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') {
      return false;
    }
  }
  return true;
}

std::string RedactPossibleSecrets(std::string text, const std::vector<std::string>& args,
                                  bool* redacted) {
  *redacted = false;
  auto redact = [&](std::string_view piece) {
    if (!MayBeSecret(piece)) return;
    const std::string shown = "(" + std::to_string(piece.size()) + " characters, not shown)";
    for (size_t at = text.find(piece); at != std::string::npos;
         at = text.find(piece, at + shown.size())) {
      text.replace(at, piece.size(), shown);
      *redacted = true;
    }
  };
  for (const std::string& arg : args) {
    redact(arg);
    std::string_view rest = arg;
    while (!rest.empty()) {
      const size_t cut = rest.find_first_of("=,");
      redact(rest.substr(0, cut));
      if (cut == std::string_view::npos) break;
      rest.remove_prefix(cut + 1);
    }
  }
  return text;
}

bool LooksLikeDigitalOceanToken(std::string_view text) {
  auto hex_run = [](std::string_view s) {
    size_t n = 0;
    while (n < s.size() && std::isxdigit(static_cast<unsigned char>(s[n]))) ++n;
    return n;
  };
  if (text.size() == 64 && hex_run(text) == 64) return true;
  for (size_t at = text.find("do"); at != std::string_view::npos; at = text.find("do", at + 1)) {
    std::string_view rest = text.substr(at + 2);
    if (rest.size() < 4 || !std::isalpha(static_cast<unsigned char>(rest[0])) ||
        rest.substr(1, 2) != "_v") {
      continue;
    }
    size_t i = 3;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    if (i == 3 || i >= rest.size() || rest[i] != '_') continue;
    if (hex_run(rest.substr(i + 1)) >= 32) return true;
  }
  return false;
}

Status RefuseSecretInOptions(std::string_view options, std::string_view credential_path) {
  size_t start = 0;
  while (start <= options.size()) {
    size_t comma = options.find(',', start);
    std::string_view item =
        options.substr(start, comma == options.npos ? options.npos : comma - start);
    SPACESFS_RETURN_IF_ERROR(CheckNameValue(item, "mount option", credential_path));
    if (comma == options.npos) break;
    start = comma + 1;
  }
  return Status::Ok();
}

Status RefuseSecretInArgs(const std::vector<std::string>& args, std::string_view credential_path) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    const std::string position = "argument " + std::to_string(i + 1);
    if (arg == "-o") {
      if (i + 1 < args.size()) SPACESFS_RETURN_IF_ERROR(RefuseSecretInOptions(args[++i], credential_path));
      continue;
    }
    if (arg.substr(0, 2) == "-o" && arg.size() > 2 && arg[2] != '-') {
      SPACESFS_RETURN_IF_ERROR(RefuseSecretInOptions(arg.substr(2), credential_path));
      continue;
    }
    if (arg.substr(0, 2) == "--" && arg.size() > 2) {
      std::string_view body = arg.substr(2);
      size_t eq = body.find('=');
      if (eq == body.npos && IsSecretOptionName(body)) {
        // "--secret-access-key VALUE": the value is the next argument.
        return Refuse("option '--" + std::string(body) + "' would carry a secret",
                      credential_path);
      }
      SPACESFS_RETURN_IF_ERROR(CheckNameValue(body, "option", credential_path));
      continue;
    }
    if (LooksLikeSecret(arg)) return Refuse(position + " looks like a secret key", credential_path);
    if (LooksLikeDigitalOceanToken(arg)) {
      return Refuse(position + " looks like a DigitalOcean API token", credential_path);
    }
  }
  return Status::Ok();
}

}  // namespace spacesfs::auth

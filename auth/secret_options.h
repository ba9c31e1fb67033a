// Refusing secrets on the command line and in mount options. Anything in argv is visible to every
// user through ps and /proc/PID/cmdline, and mount options end up in /proc/mounts and logs, so
// spacesfs takes secrets only from the credential file (or a secret_file / systemd credential it
// names). These checks refuse, never echo the value, and say where the secret belongs.
//
// Refused: an option named secret, secret_key, secret_access_key, aws_secret_access_key, password,
// passwd, token, session_token, aws_session_token, or any name containing "secret", "password" or
// "token" (names are compared in lower case with '-' read as '_'; names ending in _file, _path or
// _credential only point at a secret and are allowed); and any value that looks like a secret
// (LooksLikeSecret) or like a DigitalOcean API token (LooksLikeDigitalOceanToken).
//
// Pure functions; thread-safe. Errors are kInvalidArgument, one line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace spacesfs::auth {

// True for the option names listed above.
bool IsSecretOptionName(std::string_view name);

// True for a value shaped like an S3 secret key or session token: 30 or more characters of
// A-Z a-z 0-9 + / = that mix upper case, lower case and digits the way random base64 does
// (between adjacent letters/digits the character class changes at 40% or more of positions, two adjacent capitals somewhere, at least
// two letter/digit boundaries). Words, CamelCase names and paths do not. A heuristic: about 1% of
// random 40-character secrets escape it (3% at 30 characters); option names are the main check.
bool LooksLikeSecret(std::string_view value);

// True when `text` holds something shaped like a DigitalOcean API token: "do" + a letter + "_v" +
// digits + "_" followed by 32 or more hex digits anywhere in it (dop_v1_..., doo_v1_...,
// dor_v1_...), or exactly 64 hex digits (the older form).
bool LooksLikeDigitalOceanToken(std::string_view text);

// True for any value that could be a secret key by its alphabet and length alone: 30 or more
// characters, all of A-Z a-z 0-9 + / =. Unlike LooksLikeSecret it misses no secret key, and it
// also takes in long plain words and paths; it only decides what an error message may repeat.
bool MayBeSecret(std::string_view value);

// `text` with every piece of `args` that MayBeSecret (a whole argument, or a piece of one between
// '=' and ',') replaced by "(N characters, not shown)". *redacted tells whether any was.
std::string RedactPossibleSecrets(std::string text, const std::vector<std::string>& args,
                                  bool* redacted);

// Where secrets belong, for the end of a refusal: "secrets must not be passed as arguments ...;
// put secret_access_key = ... in the profile's section of <credential_path> (mode 0600) instead".
std::string SecretAdvice(std::string_view credential_path);

// Checks a FUSE-style option string "ro,profile=photos,allow_other" (the argument of -o).
// credential_path is where the message tells the user to put the secret.
Status RefuseSecretInOptions(std::string_view options, std::string_view credential_path);

// Checks a whole argument vector (without argv[0]): "--name=value", "--name value", "-o opts",
// "-oopts" and positional arguments.
Status RefuseSecretInArgs(const std::vector<std::string>& args, std::string_view credential_path);

}  // namespace spacesfs::auth

// End to end: the scope matrix. Linux user x profile scope x operation -> the expected result, on
// real allow_other FUSE mounts of the local radosgw, with the real server keys of the test tenants:
//
//   users       alice (owns the files: uid= of the mount), bob (in spacesfs-editors), carol (in
//               neither); each cell runs as that user (uid, gid, supplementary groups).
//   scopes      per-user and per-group grants with the owner's key; a broad key narrowed to read;
//               a read-only key whose profile claims readwrite; a key limited by IAM to team-b.
//   operations  list, read, create, overwrite, append, rename, delete, mkdir, rmdir, chmod, each as
//               the syscalls a program makes (opendir/readdir, open/read, open/write/close, ...).
//
// Every cell has a directory of its own on the server, so the cells of one mount run in one child
// process per user, and each is checked twice: the errno of the first failing syscall, and the
// server afterwards (read with the test's own client once the mount is gone, so deferred chmods
// and uploads are done): an allowed operation did exactly its change, a refused one changed
// nothing. The daemon talks to the server through tests/tools/fault_proxy.py (no faults), whose
// request journal shows that a refusal decided on the machine (by the scope or the kernel) sent
// no request that could change the server, and one refused by the server did send it.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/e2e.h"
#include "support/fault_proxy.h"
#include "support/linux_users.h"
#include "support/tenant_client.h"

namespace spacesfs {
namespace {

using testing::Identity;

// Column order of the expected rows.
const char* const kOperations[] = {"list",   "read",   "create", "overwrite", "append",
                                   "rename", "delete", "mkdir",  "rmdir",     "chmod"};
constexpr size_t kOperationCount = std::size(kOperations);

// One cell of a row:
//   .  allowed: the syscalls succeed and the server holds exactly the change
//   A  EACCES decided by spacesfs on the machine (the scope): no request that changes anything
//   S  EACCES because the server refused (403): the request was sent, nothing changed
//   R  EROFS: the mount is read-only (the kernel refuses; nothing sent)
//   P  EPERM: the kernel refuses (chmod of a file one does not own; nothing sent)
struct Scope {
  std::string name;     // profile name, and the directory of its cells
  std::string tenant;   // server key: OWNER, BROAD, READER, SCOPED
  std::string space;    // team-a or team-b
  std::vector<std::string> grants;
  std::map<std::string, std::string> rows;  // Linux user -> one cell per operation
};

const std::vector<Scope>& Scopes() {
  static const std::vector<Scope> scopes = {
      // One shared mount, three users, three grants: the most permissive matching grant wins.
      // The mount is writable (for alice and bob), so carol's refused writes are EACCES.
      {"shared", "OWNER", "team-a",
       {"team-a:fullaccess alice", "team-a:readwrite @spacesfs-editors", "team-a:read"},
       {{"alice", ".........."}, {"bob", ".........P"}, {"carol", "..AAAAAAAP"}}},
      // The two permissions DigitalOcean keys cannot express; carol has no grant: she sees
      // nothing, so even list and read are refused (before any request).
      {"dropbox", "OWNER", "team-a",
       {"team-a:readwrite-nodelete alice", "team-a:append-only @spacesfs-editors"},
       {{"alice", ".....AA.AA"}, {"bob", "...AAAA.AP"}, {"carol", "AAAAAAAAAA"}}},
      // A broad key (s3:* on team-a) narrowed to read: the mount is read-only (`ro`).
      {"narrowed", "BROAD", "team-a",
       {"team-a:read"},
       {{"alice", "..RRRRRRRR"}, {"bob", "..RRRRRRRR"}, {"carol", "..RRRRRRRR"}}},
      // A read-only key (bucket policy) whose profile gives the editors readwrite: the server's
      // 403 comes back as EACCES; the others are refused by the scope first.
      {"overclaimed", "READER", "team-a",
       {"team-a:readwrite @spacesfs-editors", "team-a:read"},
       {{"alice", "..AAAAAAAA"}, {"bob", "..SSSSSSSP"}, {"carol", "..AAAAAAAP"}}},
      // A key limited to team-b by an IAM user policy, on team-b.
      {"limited", "SCOPED", "team-b",
       {"team-b:readwrite", "team-b:fullaccess alice"},
       {{"alice", ".........."}, {"bob", ".........P"}, {"carol", ".........P"}}},
  };
  return scopes;
}

const char* const kUsers[] = {"alice", "bob", "carol"};

// --- the syscalls of one operation, run by the child as the user -----------------------------

std::string ErrnoName(int e) {
  const char* name = strerrorname_np(e);
  return name != nullptr ? name : "errno " + std::to_string(e);
}

// "0" and what was seen (list: the names, read: the bytes), or the errno of the first failing call.
std::string WriteFile(const std::string& path, int flags, const std::string& data) {
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoName(errno);
  if (write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    int e = errno;
    close(fd);
    return ErrnoName(e);
  }
  if (close(fd) != 0) return ErrnoName(errno);
  return "0";
}

std::string RunOperation(const std::string& op, const std::string& dir) {
  if (op == "list") {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoName(errno);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    int e = errno;
    closedir(d);
    if (e != 0) return ErrnoName(e);
    std::sort(names.begin(), names.end());
    std::string out = "0:";
    for (const std::string& n : names) out += n + " ";
    return out;
  }
  if (op == "read") {
    int fd = open((dir + "/existing").c_str(), O_RDONLY);
    if (fd < 0) return ErrnoName(errno);
    char buffer[64];
    ssize_t n = read(fd, buffer, sizeof buffer);
    int e = errno;
    close(fd);
    if (n < 0) return ErrnoName(e);
    return "0:" + std::string(buffer, static_cast<size_t>(n));
  }
  if (op == "create") return WriteFile(dir + "/created", O_WRONLY | O_CREAT | O_EXCL, "new");
  if (op == "overwrite") return WriteFile(dir + "/existing", O_WRONLY | O_TRUNC, "x");
  if (op == "append") return WriteFile(dir + "/existing", O_WRONLY | O_APPEND, "x");
  int rc = -1;
  if (op == "rename") rc = rename((dir + "/existing").c_str(), (dir + "/renamed").c_str());
  if (op == "delete") rc = unlink((dir + "/existing").c_str());
  if (op == "mkdir") rc = mkdir((dir + "/newdir").c_str(), 0755);
  if (op == "rmdir") rc = rmdir((dir + "/emptydir").c_str());
  if (op == "chmod") rc = chmod((dir + "/existing").c_str(), 0600);
  return rc == 0 ? "0" : ErrnoName(errno);
}

// Runs RunOperation(op, directory) for each {op, directory} in a child process that has become
// the user (its supplementary groups, gid and uid, in that order). One result per pair.
std::vector<std::string> RunAs(const Identity& who,
                               const std::vector<std::pair<std::string, std::string>>& work) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (setgroups(who.groups.size(), who.groups.data()) != 0 ||
        setresgid(who.gid, who.gid, who.gid) != 0 || setresuid(who.uid, who.uid, who.uid) != 0) {
      _exit(3);
    }
    std::string out;
    for (const auto& [op, dir] : work) out += RunOperation(op, dir) + "\n";
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = write(fds[1], out.data() + sent, out.size() - sent);
      if (n <= 0) _exit(4);
      sent += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  std::vector<std::string> results;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    results.push_back(text.substr(start, end - start));
  }
  return results;
}

// --- expectations ------------------------------------------------------------------------------

// The cell's objects as "name=body" (files) and "name/" (markers), sorted; with_mode: " mode=NNN"
// after `existing` when its metadata holds a mode (every upload through the mount stores one).
std::string ServerState(s3::ObjectClient& client, const std::string& cell_prefix,
                        bool with_mode) {
  std::string out;
  for (const std::string& key : testing::KeysUnder(client, cell_prefix)) {
    std::string name = key.substr(cell_prefix.size());
    if (!out.empty()) out += " ";
    if (name.ends_with("/")) {
      out += name;
      continue;
    }
    out += name + "=" + testing::GetBody(client, key);
    if (with_mode && name == "existing") {
      Result<s3::ObjectInfo> head = client.HeadObject(key);
      if (head.ok() && head->metadata.contains("mode")) {
        char octal[16];
        std::snprintf(octal, sizeof octal, "%o", std::stoi(head->metadata.at("mode")) & 07777);
        out += std::string(" mode=") + octal;
      }
    }
  }
  return out;
}

const std::string kUntouched = "emptydir/ existing=old";

// The server state after the operation succeeded.
std::string StateAfter(const std::string& op) {
  static const std::map<std::string, std::string> after = {
      {"list", kUntouched},
      {"read", kUntouched},
      {"create", "created=new emptydir/ existing=old"},
      {"overwrite", "emptydir/ existing=x"},
      {"append", "emptydir/ existing=oldx"},
      {"rename", "emptydir/ renamed=old"},
      {"delete", "emptydir/"},
      {"mkdir", "emptydir/ existing=old newdir/"},
      {"rmdir", "existing=old"},
      {"chmod", "emptydir/ existing=old mode=600"},
  };
  return after.at(op);
}

// What the syscalls report for a cell.
std::string ExpectedResult(char cell, const std::string& op) {
  switch (cell) {
    case '.':
      if (op == "list") return "0:emptydir existing ";
      if (op == "read") return "0:old";
      return "0";
    case 'A':
    case 'S':
      return "EACCES";
    case 'R':
      return "EROFS";
    case 'P':
      return "EPERM";
  }
  return "?";
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool ChangesTheServer(const std::string& request) {
  return request.starts_with("PUT ") || request.starts_with("POST ") ||
         request.starts_with("DELETE ");
}

// The journal's requests that name the directory (as a path or a prefix parameter).
std::vector<std::string> RequestsFor(const std::vector<std::string>& journal,
                                     const std::string& directory) {
  std::vector<std::string> out;
  for (const std::string& r : journal) {
    std::string decoded = PercentDecode(r);
    for (size_t at = decoded.find(directory); at != std::string::npos;
         at = decoded.find(directory, at + 1)) {
      size_t end = at + directory.size();
      if (end == decoded.size() || decoded[end] == '/' || decoded[end] == '&') {
        out.push_back(r);
        break;
      }
    }
  }
  return out;
}

class ScopeMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::EnsureUsers(); }
};

TEST_F(ScopeMatrixTest, LinuxUserTimesScopeTimesOperation) {
  testing::TempDir dir;
  const std::string endpoint = testing::RequireEnv("SPACESFS_TEST_ENDPOINT");
  std::unique_ptr<testing::FaultProxy> proxy = testing::FaultProxy::Start(endpoint);
  ASSERT_NE(proxy, nullptr);
  const std::string base = testing::UniquePrefix("scope-matrix");
  std::map<std::string, Identity> users;
  for (const char* user : kUsers) {
    users[user] = testing::IdentityOf(user);
    ASSERT_NE(users[user].uid, 0u) << user;
  }

  std::string credentials_text;
  for (const Scope& scope : Scopes()) {
    std::string section = testing::ProfileSection(scope.name, scope.tenant, scope.grants);
    section.replace(section.find(endpoint), endpoint.size(), proxy->endpoint());
    credentials_text += section;
  }
  const std::string credentials =
      testing::WriteCredentialFile(dir.path() + "/credentials", credentials_text);

  for (const Scope& scope : Scopes()) {
    SCOPED_TRACE("profile " + scope.name);
    std::unique_ptr<s3::ObjectClient> server = testing::TenantClient(
        scope.tenant == "SCOPED" ? "SCOPED" : "OWNER", scope.space);
    const std::string scope_prefix = base + scope.name + "/";
    for (const char* user : kUsers) {
      for (const char* op : kOperations) {
        const std::string cell = scope_prefix + user + "-" + op + "/";
        for (const auto& [key, body] : {std::pair<std::string, std::string>{"existing", "old"},
                                        {"emptydir/", ""}}) {
          s3::PutObjectRequest put;
          put.key = cell + key;
          put.body = s3::BodySource::FromView(body);
          ASSERT_TRUE(server->PutObject(put).ok()) << put.key;
        }
      }
    }
    ASSERT_TRUE(proxy->ResetStats());

    const std::string mnt = dir.path() + "/" + scope.name;
    mkdir(mnt.c_str(), 0755);
    const Identity& alice = users["alice"];
    auto mount = std::make_unique<testing::TestMount>(
        SPACESFS_BINARY,
        std::vector<std::string>{
            scope.space + ":/" + scope_prefix, mnt, "-o",
            "profile=" + scope.name + ",credentials=" + credentials +
                ",allow_other,uid=" + std::to_string(alice.uid) +
                ",gid=" + std::to_string(alice.gid) +
                ",file_mode=0666,dir_mode=0777,umask=0,attr_timeout=0,entry_timeout=0,"
                "negative_timeout=0"},
        mnt);
    ASSERT_TRUE(mount->mounted()) << mount->log();
    const bool mounted_ro =
        testing::RunShell("grep " + testing::ShellQuote(" " + mnt + " ") + " /proc/mounts")
            .output.find(" ro,") != std::string::npos;
    EXPECT_EQ(mounted_ro, scope.name == "narrowed") << "ro exactly when every grant is read";

    std::map<std::string, std::vector<std::string>> results;
    for (const char* user : kUsers) {
      std::vector<std::pair<std::string, std::string>> work;
      for (const char* op : kOperations) work.emplace_back(op, mnt + "/" + user + "-" + op);
      results[user] = RunAs(users[user], work);
      ASSERT_EQ(results[user].size(), kOperationCount) << user;
    }
    (void)mount->Unmount();  // uploads and deferred chmods are on the server when it returns
    const std::vector<std::string> journal = proxy->Requests();
    ASSERT_FALSE(journal.empty());

    for (const char* user : kUsers) {
      const std::string& row = scope.rows.at(user);
      ASSERT_EQ(row.size(), kOperationCount);
      for (size_t i = 0; i < kOperationCount; ++i) {
        const std::string op = kOperations[i];
        const char expected = row[i];
        SCOPED_TRACE(std::string(user) + " x " + scope.name + " x " + op + " (" + expected + ")");
        const std::string cell = scope_prefix + user + "-" + op;
        EXPECT_EQ(results[user][i], ExpectedResult(expected, op));
        EXPECT_EQ(ServerState(*server, cell + "/", op == "chmod"),
                  expected == '.' ? StateAfter(op) : kUntouched);
        std::vector<std::string> sent = RequestsFor(journal, cell);
        std::vector<std::string> changing;
        std::copy_if(sent.begin(), sent.end(), std::back_inserter(changing), ChangesTheServer);
        std::string all;
        for (const std::string& r : sent) all += "\n  " + r;
        if (expected == 'S') {
          EXPECT_FALSE(changing.empty()) << "the server refused a request that was sent:" << all;
        } else if (expected != '.') {
          EXPECT_TRUE(changing.empty()) << "refused on the machine, yet sent:" << all;
        }
        if (expected != '.' && (op == "list" || op == "read")) {
          EXPECT_TRUE(sent.empty()) << "an invisible name costs no request:" << all;
        }
      }
    }
    // Each refusal by spacesfs is logged once (the operation's syscalls may ask several times),
    // naming the user; nothing else about the cell is logged as denied.
    const std::string log = mount->log();
    for (const char* user : kUsers) {
      const std::string& row = scope.rows.at(user);
      for (size_t i = 0; i < kOperationCount; ++i) {
        const std::string cell = scope_prefix + user + "-" + kOperations[i];
        size_t lines = 0, naming_the_user = 0;
        for (size_t at = log.find("denied: "); at != std::string::npos;
             at = log.find("denied: ", at + 1)) {
          std::string line = log.substr(at, log.find('\n', at) - at);
          if (line.find("'" + cell + "'") == std::string::npos &&
              line.find("'" + cell + "/") == std::string::npos) {
            continue;
          }
          ++lines;
          if (line.starts_with("denied: user " + std::string(user) + " (uid " +
                               std::to_string(users[user].uid) + ") may not ")) {
            ++naming_the_user;
          }
        }
        EXPECT_EQ(lines, row[i] == 'A' ? 1u : 0u) << user << " " << kOperations[i] << "\n" << log;
        EXPECT_EQ(naming_the_user, lines);
      }
    }
    std::vector<std::string> leftovers = testing::KeysUnder(*server, scope_prefix);
    if (!leftovers.empty()) (void)server->DeleteObjects(leftovers);
  }
}

// The key limited to team-b cannot mount team-a at all, whatever its profile claims: the first
// request is refused and the mount fails at once with one line.
TEST_F(ScopeMatrixTest, AKeyLimitedToAnotherSpaceCannotMount) {
  testing::TempDir dir;
  const std::string credentials = testing::WriteCredentialFile(
      dir.path() + "/credentials",
      testing::ProfileSection("limited", "SCOPED", {"team-a:fullaccess", "team-b:readwrite"}));
  const std::string mnt = dir.path() + "/mnt";
  mkdir(mnt.c_str(), 0755);
  testing::CommandResult r = testing::RunShell(
      std::string(SPACESFS_BINARY) + " team-a " + testing::ShellQuote(mnt) + " -o " +
      testing::ShellQuote("profile=limited,credentials=" + credentials));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output, "spacesfs: the key of profile 'limited' may not list Space 'team-a' "
                      "(AccessDenied)\n");
  EXPECT_FALSE(testing::IsMounted(mnt));
}

}  // namespace
}  // namespace spacesfs

// FaultProxy: runs tests/tools/fault_proxy.py (a fault-injecting HTTP reverse proxy) in front of the
// local radosgw for one test, and talks to its control endpoint.
//
//   auto proxy = testing::FaultProxy::Start(env.endpoint);   // nullptr (and log()) on failure
//   proxy->Configure(R"({"fault_rate": 0.2, "faults": ["slowdown", "reset"]})");
//   client endpoint: proxy->endpoint()                        // http://127.0.0.1:PORT
//   int n = proxy->Counter("faults", "slowdown");
//   std::vector<std::string> sent = proxy->Requests();        // {"PUT /team-a/key", ...}
//
// The proxy is started with --exit-with-stdin and a pipe as its stdin, so it exits when the test
// process does, whatever happens; the destructor closes the pipe and reaps it (SIGKILL after 10 s).
// Its stderr goes to a temporary log file, readable with log().
//
// Threading: single-threaded test code (Configure/Stats may be called from any one thread at a time).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace spacesfs::testing {

class FaultProxy {
 public:
  // upstream_endpoint: "http://127.0.0.1:PORT". extra_args: more fault_proxy.py flags.
  static std::unique_ptr<FaultProxy> Start(const std::string& upstream_endpoint,
                                           const std::vector<std::string>& extra_args = {}) {
    std::unique_ptr<FaultProxy> proxy(new FaultProxy());
    std::string upstream = upstream_endpoint;
    if (upstream.starts_with("http://")) upstream = upstream.substr(7);
    while (!upstream.empty() && upstream.back() == '/') upstream.pop_back();
    char log_template[] = "/tmp/spacesfs-fault-proxy-log-XXXXXX";
    int log_fd = mkstemp(log_template);
    proxy->log_path_ = log_template;
    int in_pipe[2], out_pipe[2];
    if (log_fd < 0 || pipe(in_pipe) != 0 || pipe(out_pipe) != 0) return nullptr;
    std::vector<std::string> args = {"/usr/bin/python3",
                                     std::string(SPACESFS_SOURCE_DIR) + "/tests/tools/fault_proxy.py",
                                     "--listen", "0", "--upstream", upstream, "--exit-with-stdin"};
    for (const std::string& a : extra_args) args.push_back(a);
    proxy->pid_ = fork();
    if (proxy->pid_ == 0) {
      dup2(in_pipe[0], STDIN_FILENO);
      dup2(out_pipe[1], STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      close(in_pipe[1]);
      close(out_pipe[0]);
      std::vector<char*> argv;
      for (std::string& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(log_fd);
    close(in_pipe[0]);
    close(out_pipe[1]);
    proxy->stdin_fd_ = in_pipe[1];
    // Read the "listening" line (20 s at most).
    std::string out;
    const std::regex listening("fault_proxy listening on 127\\.0\\.0\\.1:([0-9]+)");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_pipe[0], POLLIN, 0};
      if (poll(&p, 1, 200) > 0) {
        char buffer[256];
        ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
        if (n <= 0) break;
        out.append(buffer, n);
        std::smatch m;
        if (std::regex_search(out, m, listening)) {
          proxy->port_ = std::stoi(m[1]);
          break;
        }
      }
    }
    proxy->stdout_fd_ = out_pipe[0];
    if (proxy->port_ == 0) {
      std::fprintf(stderr, "fault_proxy did not start: %s\n%s\n", out.c_str(), proxy->log().c_str());
      return nullptr;
    }
    return proxy;
  }

  ~FaultProxy() {
    if (stdin_fd_ >= 0) close(stdin_fd_);
    if (stdout_fd_ >= 0) close(stdout_fd_);
    if (pid_ > 0) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      int status = 0;
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::remove(log_path_.c_str());
  }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Ends the proxy at once with SIGKILL and reaps it, as a server that crashes ends: the kernel
  // closes its connections and its port refuses new ones. Start another proxy with
  // {"--listen", std::to_string(port())} to bring the server back on the same port.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // POSTs a JSON settings object to /__fault_proxy__/config; true on HTTP 200.
  bool Configure(const std::string& json) {
    std::string body;
    return Request("POST", "/__fault_proxy__/config", json, &body) == 200;
  }
  // Zeroes the counters.
  bool ResetStats() {
    std::string body;
    return Request("POST", "/__fault_proxy__/reset", "{}", &body) == 200;
  }
  // The stats JSON ("" on failure).
  std::string Stats() {
    std::string body;
    return Request("GET", "/__fault_proxy__/stats", "", &body) == 200 ? body : "";
  }
  // A counter from the stats: Counter("requests"), Counter("faults", "slowdown"). 0 if absent.
  long Counter(const std::string& name, const std::string& sub = "") {
    std::string stats = Stats();
    std::string text = stats;
    if (!sub.empty()) {
      size_t at = stats.find("\"" + name + "\"");
      if (at == std::string::npos) return 0;
      size_t end = stats.find('}', at);
      text = stats.substr(at, end == std::string::npos ? std::string::npos : end - at);
    }
    std::smatch m;
    std::regex re("\"" + (sub.empty() ? name : sub) + "\"\\s*:\\s*([0-9]+)");
    if (std::regex_search(text, m, re)) return std::stol(m[1]);
    return 0;
  }

  // Every request the proxy received since the last ResetStats, in order, as "METHOD TARGET" with
  // the target as sent (percent-encoded). Empty on failure.
  std::vector<std::string> Requests() {
    std::string body;
    if (Request("GET", "/__fault_proxy__/requests", "", &body) != 200) return {};
    return JsonStrings(body);
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  FaultProxy() = default;

  // One HTTP/1.1 exchange on a fresh connection (Connection: close); returns the status code.
  int Request(const std::string& method, const std::string& path, const std::string& body,
              std::string* response_body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return -1;
    }
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                          "Connection: close\r\nContent-Type: application/json\r\n" +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = write(fd, request.data() + sent, request.size() - sent);
      if (n <= 0) {
        close(fd);
        return -1;
      }
      sent += n;
    }
    std::string reply;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) reply.append(buffer, n);
    close(fd);
    int status = -1;
    if (std::sscanf(reply.c_str(), "HTTP/1.%*d %d", &status) != 1) return -1;
    size_t head_end = reply.find("\r\n\r\n");
    *response_body = head_end == std::string::npos ? "" : reply.substr(head_end + 4);
    return status;
  }

  // The strings of the first JSON array in text (escapes decoded; \u only for ASCII).
  static std::vector<std::string> JsonStrings(const std::string& text) {
    std::vector<std::string> out;
    size_t i = text.find('[');
    if (i == std::string::npos) return out;
    for (++i; i < text.size() && text[i] != ']'; ++i) {
      if (text[i] != '"') continue;
      std::string s;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] != '\\' || i + 1 >= text.size()) {
          s += text[i];
          continue;
        }
        char e = text[++i];
        if (e == 'u' && i + 4 < text.size()) {
          s += static_cast<char>(std::stoi(text.substr(i + 1, 4), nullptr, 16) & 0x7f);
          i += 4;
        } else {
          s += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string log_path_;
};

}  // namespace spacesfs::testing

// ScriptedHttpServer: a hostile stand-in for an S3 server, on 127.0.0.1 only, for client tests.
//
//   ScriptedHttpServer server([](const ScriptedHttpServer::Request& r, ScriptedHttpServer::Conn& c) {
//     c.Write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
//     return true;                                   // keep the connection for the next request
//   });
//   endpoint: server.endpoint()                      // http://127.0.0.1:PORT
//
// Each accepted connection gets its own thread, which reads one request head at a time (and
// discards a Content-Length request body) and hands it to the handler; the handler writes whatever
// raw bytes it likes (a broken status line, a lying Content-Length, a body that never ends) and
// returns whether to wait for another request on the connection. Writes fail, never block for long,
// once the client has gone away or the server is being destroyed, so endless answers end by
// themselves. bytes_sent() counts every byte the handlers managed to hand to the kernel: a client
// that keeps memory bounded stops reading long before an endless answer has been sent.
//
// Threading: the handler runs on the connection threads, concurrently when the client opens
// several connections; requests() and bytes_sent() may be read from any thread. The destructor
// stops every connection and joins its thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace spacesfs::testing {

class ScriptedHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;  // as sent: path and query
    std::string head;    // the whole request head, for tests that look at a header
  };

  class Conn {
   public:
    // Sends all of bytes; false once the client is gone or the server is stopping.
    bool Write(std::string_view bytes) {
      while (!bytes.empty()) {
        if (server_->stopping_.load()) return false;
        pollfd p{fd_, POLLOUT, 0};
        if (poll(&p, 1, 100) <= 0) continue;  // client not reading: check stopping_ again
        ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        server_->bytes_sent_ += static_cast<uint64_t>(n);
        bytes.remove_prefix(static_cast<size_t>(n));
      }
      return true;
    }
    // Writes piece again and again until the client goes away, or `limit` bytes (then false).
    bool WriteForever(std::string_view piece, uint64_t limit = uint64_t{4} << 30) {
      for (uint64_t sent = 0; sent < limit; sent += piece.size()) {
        if (!Write(piece)) return false;
      }
      return false;
    }
    // Waits, reading and discarding, until the client closes the connection or the server stops.
    void WaitForClose() {
      char buffer[4096];
      while (!server_->stopping_.load()) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        if (recv(fd_, buffer, sizeof buffer, 0) <= 0) return;
      }
    }

   private:
    friend class ScriptedHttpServer;
    Conn(ScriptedHttpServer* server, int fd) : server_(server), fd_(fd) {}
    ScriptedHttpServer* server_;
    int fd_;
  };

  using Handler = std::function<bool(const Request&, Conn&)>;

  explicit ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;  // port_ stays 0: endpoint() then names a port nothing listens on
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~ScriptedHttpServer() {
    stopping_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }

  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  uint64_t bytes_sent() const { return bytes_sent_.load(); }

 private:
  void AcceptLoop() {
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    Conn conn(this, fd);
    std::string buffer;
    while (!stopping_.load()) {
      size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (!ReadMore(fd, &buffer)) break;
        continue;
      }
      Request request;
      request.head = buffer.substr(0, end + 4);
      buffer.erase(0, end + 4);
      size_t sp1 = request.head.find(' ');
      size_t sp2 = request.head.find(' ', sp1 + 1);
      request.method = request.head.substr(0, sp1);
      request.target = request.head.substr(sp1 + 1, sp2 - sp1 - 1);
      uint64_t body = ContentLength(request.head);
      while (buffer.size() < body && ReadMore(fd, &buffer)) {
      }
      buffer.erase(0, std::min<uint64_t>(body, buffer.size()));
      ++requests_;
      if (!handler_(request, conn)) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
    close(fd);
  }

  bool ReadMore(int fd, std::string* buffer) {
    char chunk[16384];
    while (!stopping_.load()) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer->append(chunk, static_cast<size_t>(n));
      return true;
    }
    return false;
  }

  static uint64_t ContentLength(const std::string& head) {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::strtoull(lower.c_str() + at + 17, nullptr, 10);
  }

  const Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<uint64_t> bytes_sent_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_fds_;         // guarded by mu_
  std::vector<std::thread> threads_;  // guarded by mu_
};

}  // namespace spacesfs::testing

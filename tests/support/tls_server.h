// Test TLS: certificates made for the run, and a TLS listener on 127.0.0.1 that presents one.
//
//   TestCertificates certs(dir);           // ca.pem, and localhost.pem / other.pem with keys
//   TlsServer server(certs.Path("localhost.pem"), certs.Path("localhost.key"));
//   endpoint: "https://localhost:" + std::to_string(server.port())
//
// TestCertificates runs the openssl command: an authority (CN spacesfs-test-ca) and two
// certificates it signed, "localhost" (DNS:localhost, IP:127.0.0.1) and "other" (DNS:other.example
// only). TlsServer answers every request that completes a handshake with the headers of a 5-byte
// object (200, ETag of "hello", Connection: close; a PUT's body is read and answered with an empty
// 200), one connection at a time, counts the connections it accepted and the requests it read,
// and keeps each request's head. Writes to a client that went away raise
// SIGPIPE: the process using it must ignore that signal.
//
// Threading: the server accepts on its own thread; the counters may be read from any thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

namespace spacesfs::testing {

// Runs a shell command; true when it exits 0.
inline bool RunQuietly(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A test authority and two certificates it signed: one for localhost and 127.0.0.1, one for
// another host name only.
class TestCertificates {
 public:
  explicit TestCertificates(const std::filesystem::path& dir) : dir_(dir) {
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    ok_ = RunQuietly("cd " + dir_.string() + " && openssl req -x509" + key +
                     " -keyout ca.key -out ca.pem -days 2 -subj /CN=spacesfs-test-ca") &&
          Leaf("localhost", "DNS:localhost,IP:127.0.0.1") && Leaf("other", "DNS:other.example");
  }
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  bool Leaf(const std::string& name, const std::string& alt_names) {
    {
      std::ofstream ext(dir_ / (name + ".ext"));
      ext << "subjectAltName=" << alt_names << "\n";
      if (!ext.flush()) return false;
    }
    const std::string d = "cd " + dir_.string() + " && ";
    return RunQuietly(d + "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes" +
                      " -keyout " + name + ".key -out " + name + ".csr -subj /CN=" + name) &&
           RunQuietly(d + "openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key" +
                      " -CAcreateserial -out " + name + ".pem -days 2 -extfile " + name + ".ext");
  }

  std::filesystem::path dir_;
  bool ok_ = false;
};

// Accepts TLS connections on 127.0.0.1 with one certificate; after a completed handshake it reads
// the request head and answers 200 with the headers of a 5-byte object.
class TlsServer {
 public:
  TlsServer(const std::string& cert, const std::string& key) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    ok_ = ctx_ != nullptr && SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) == 1 &&
          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) == 1;
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ok_ = ok_ && listener_ >= 0 && bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
          listen(listener_, 16) == 0 &&
          getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
    if (ok_) thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(listener_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  // The heads of the requests read so far (request line and headers, each line ending in CRLF).
  std::vector<std::string> heads() const {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  // The Content-Length of a request head (header names in any case), 0 without one.
  static size_t ContentLength(const std::string& head) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("\r\ncontent-length:");
    return at == std::string::npos ? 0 : std::strtoull(head.c_str() + at + 17, nullptr, 10);
  }

  void Serve() {
    while (!stop_) {
      int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) break;
          head.append(buf, static_cast<size_t>(n));
        }
        const size_t end = head.find("\r\n\r\n");
        if (end != std::string::npos) {
          // A PUT's body is read and dropped, and answered with an empty 200.
          const bool put = head.compare(0, 4, "PUT ") == 0;
          size_t body_left = put ? ContentLength(head.substr(0, end)) : 0;
          body_left -= std::min(body_left, head.size() - end - 4);
          while (body_left > 0) {
            int n = SSL_read(ssl, buf, static_cast<int>(std::min(sizeof buf, body_left)));
            if (n <= 0) break;
            body_left -= static_cast<size_t>(n);
          }
          {
            std::lock_guard lock(mu_);
            heads_.push_back(head.substr(0, end + 2));
          }
          ++requests_;
          const std::string reply =
              "HTTP/1.1 200 OK\r\nETag: \"5d41402abc4b2a76b9719d911017c592\"\r\n"
              "Last-Modified: Wed, 01 Mar 2023 12:00:00 GMT\r\nContent-Length: " +
              std::string(put ? "0" : "5") + "\r\nConnection: close\r\n\r\n";
          SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
        }
        SSL_shutdown(ssl);
      }
      ERR_clear_error();
      SSL_free(ssl);
      close(fd);
    }
  }

  SSL_CTX* ctx_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace spacesfs::testing

// Shared by the subscriptions integration tests: a real HTTPS rest-hook subscriber on
// 127.0.0.1, the `courier serve` config (HTTPS FHIR listener with bearer tokens, MLLP in,
// subscriptions trusting the test CA) and the ports file reader.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tests/integration/test_support.h"

namespace courier::testing::subscriptions_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A rest-hook subscriber: HTTPS with the trusted test server certificate, answers 200 to
// every POST and keeps the bodies. stop() closes the listener and every connection (the
// endpoint goes down: connection refused); start(port) brings it back on the same port.
class Subscriber {
 public:
  Subscriber() : ctx_(asio::ssl::context::tls_server) {
    ctx_.use_certificate_chain_file((certDir() / "server.crt").string());
    ctx_.use_private_key_file((certDir() / "server.key").string(), asio::ssl::context::pem);
  }
  ~Subscriber() { stop(); }

  std::uint16_t start(std::uint16_t port = 0) {
    acceptor_ = std::make_unique<tcp::acceptor>(io_);
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor_->open(ep.protocol(), ec);
    acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_->bind(ep, ec);
    if (ec) return 0;
    acceptor_->listen(64, ec);
    acceptor_->non_blocking(true, ec);
    stopping_ = false;
    port_ = acceptor_->local_endpoint().port();
    thread_ = std::thread([this] { acceptLoop(); });
    return port_;
  }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(mu_);
      // Reset rather than close: no FIN_WAIT/TIME_WAIT keeps the port from being bound again.
      linger hard{1, 0};
      for (int fd : fds_) ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
    conns_.clear();
    fds_.clear();
    acceptor_.reset();
  }

  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket s(io_);
      acceptor_->accept(s, ec);
      if (ec) {
        std::this_thread::sleep_for(5ms);  // non-blocking accept: poll until stopped (no deadline needed: stop() ends it)
        continue;
      }
      s.non_blocking(false, ec);
      std::lock_guard lock(mu_);
      fds_.push_back(s.native_handle());
      conns_.emplace_back([this, s = std::move(s)]() mutable { serve(std::move(s)); });
    }
    boost::system::error_code ec;
    acceptor_->close(ec);
  }

  void serve(tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), ctx_);
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::server, ec);
    beast::flat_buffer buf;
    while (!ec && !stopping_) {
      bhttp::request<bhttp::string_body> req;
      bhttp::read(stream, buf, req, ec);
      if (ec) break;
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(req.body());
      }
      bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (!req.keep_alive()) break;
    }
    stream.next_layer().close(ec);
  }

  asio::io_context io_;
  asio::ssl::context ctx_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::thread thread_;
  std::vector<std::thread> conns_;
  std::vector<int> fds_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;
};

constexpr const char* kRegistryToken = "registry-token-0123456789abcdef0123456789";
constexpr const char* kOtherToken = "other-token-0123456789abcdef0123456789abcd";

// `max_attempts`: the subscriptions' retry limit (0: none), past which a notification is
// dead-lettered and its subscription goes to error.
inline fs::path writeConfig(const fs::path& dir, int max_attempts = 0) {
  {
    std::ofstream t(dir / "tokens");
    t << "cancer-registry " << kRegistryToken << "\nother-client " << kOtherToken << "\n";
  }
  const fs::path file = dir / "courier.yaml";
  std::ofstream out(file);
  out << "data_dir: ./var\nio_threads: 2\nstore: {kind: sqlite, path: courier.db}\n"
         "listeners:\n"
         "  - name: mllp-in\n    address: 127.0.0.1\n    port: 0\n    tls: {enabled: false}\n"
         "  - name: fhir\n    kind: http\n    address: 127.0.0.1\n    port: 0\n    tls:\n      enabled: true\n"
      << "      cert_file: " << (certDir() / "server.crt").string() << "\n"
      << "      key_file: " << (certDir() / "server.key").string() << "\n"
      << "    http: {token_file: " << (dir / "tokens").string() << "}\n"
      << "pipeline: {workers: 2, batch: 64}\n"
      << "subscriptions:\n  ca_files: [" << (certDir() / "ca.crt").string() << "]\n"
      << "  retry: {initial_backoff: 50ms, max_backoff: 200ms, max_attempts: " << max_attempts
      << "}\n  heartbeat_check: 100ms\n";
  return file;
}

inline std::uint16_t portOf(const fs::path& ports_file, const std::string& name) {
  std::ifstream in(ports_file);
  std::string n;
  int p = 0;
  while (in >> n >> p) {
    if (n == name) return static_cast<std::uint16_t>(p);
  }
  return 0;
}

}  // namespace courier::testing::subscriptions_support

#include "adapters/mllp/client.h"

#include <poll.h>

#include <deque>
#include <optional>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "adapters/mllp/framer.h"

namespace courier::mllp {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(const ClientOptions& o)
      : options_(o), socket_(ioc_), framer_(FramerLimits{.max_frame_bytes = o.max_frame_bytes}) {}

  Result<void> open(std::string_view host, std::uint16_t port) {
    if (options_.tls && options_.tls_context) {
      tls_ctx_ = options_.tls_context;
    } else if (options_.tls) {
      auto ctx = makeClientTlsContext(options_.tls_options);
      if (!ctx) return Unexpected(ctx.error());
      tls_ctx_ = std::move(*ctx);
    }
    error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(std::string(host), std::to_string(port), ec);
    if (ec) return Unexpected(Error(ErrorCode::kUnavailable, "cannot resolve " + std::string(host) + ": " + ec.message()));
    auto r = run(options_.connect_timeout, [&](auto handler) {
      asio::async_connect(socket_, endpoints, [handler](const error_code& e, const tcp::endpoint&) { handler(e, 0); });
    });
    if (!r) return Unexpected(r.error());
    socket_.set_option(tcp::no_delay(true), ec);
    if (!options_.tls) return Ok();

    tls_.emplace(std::move(socket_), *tls_ctx_);
    const std::string name = options_.server_name.empty() ? std::string(host) : options_.server_name;
    SSL* ssl = tls_->native_handle();
    error_code addr_ec;
    asio::ip::make_address(name, addr_ec);
    if (addr_ec) SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI only for DNS names
    if (options_.tls_options.verify_server || options_.tls_context) {
      tls_->set_verify_callback(asio::ssl::host_name_verification(name), ec);
    }
    r = run(options_.connect_timeout, [&](auto handler) {
      tls_->async_handshake(asio::ssl::stream_base::client, [handler](const error_code& e) { handler(e, 0); });
    });
    if (!r) {
      Error e = r.error();
      if (e.code == ErrorCode::kIo) e.code = ErrorCode::kUnavailable;
      e.message = "TLS handshake failed: " + e.message;
      return Unexpected(std::move(e));
    }
    return Ok();
  }

  Result<void> send(std::string_view payload) override { return sendRaw(Framer::frame(payload)); }

  Result<void> sendRaw(std::string_view bytes) override {
    if (broken_) return Unexpected(*broken_);
    auto r = run(options_.write_timeout, [&](auto handler) {
      if (tls_) asio::async_write(*tls_, asio::buffer(bytes), handler);
      else asio::async_write(socket_, asio::buffer(bytes), handler);
    });
    if (!r) return Unexpected(r.error());
    return Ok();
  }

  Result<std::string> receive(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (!frames_.empty()) {
        FrameEvent e = std::move(frames_.front());
        frames_.pop_front();
        if (e.kind != FrameEvent::Kind::kFrame) {
          return Unexpected(Error(ErrorCode::kTooLarge, "answer of " + std::to_string(e.size) + " bytes over the limit"));
        }
        return std::move(e.payload);
      }
      if (broken_) return Unexpected(*broken_);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Unexpected(Error(ErrorCode::kTimeout, "no answer within the timeout"));
      auto n = readSome(left);
      if (!n) return Unexpected(n.error());
    }
  }

  bool peerClosed() const override { return peer_closed_; }

  bool waitForClose(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!peer_closed_) {
      if (!frames_.empty()) return false;
      if (broken_) return broken_->code != ErrorCode::kTimeout;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      auto n = readSome(left);
      if (!n && n.error().code == ErrorCode::kTimeout) return false;
    }
    return true;
  }

  bool reusable() const override {
    if (broken_ || peer_closed_ || !frames_.empty()) return false;
    const tcp::socket& s = tls_ ? tls_->next_layer() : socket_;
    pollfd p{};
    p.fd = const_cast<tcp::socket&>(s).native_handle();
    p.events = POLLIN;
    return ::poll(&p, 1, 0) == 0;
  }

  std::string tlsVersion() const override {
    if (!tls_) return {};
    return SSL_get_version(const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle());
  }

  void close() override {
    error_code ec;
    tcp::socket& s = tls_ ? tls_->next_layer() : socket_;
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
    if (!broken_) broken_ = Error(ErrorCode::kIo, "connection closed");
  }

 private:
  Result<std::size_t> readSome(std::chrono::milliseconds timeout) {
    std::size_t got = 0;
    auto r = run(timeout, [&](auto handler) {
      if (tls_) tls_->async_read_some(asio::buffer(buffer_), handler);
      else socket_.async_read_some(asio::buffer(buffer_), handler);
    });
    if (!r) return Unexpected(r.error());
    got = *r;
    std::vector<FrameEvent> events;
    framer_.feed(std::string_view(buffer_.data(), got), events);
    for (auto& e : events) frames_.push_back(std::move(e));
    return got;
  }

  // Runs one async operation on our io_context with a deadline. On timeout the socket
  // is closed (which completes the operation) and the client is broken for good.
  template <typename Start>
  Result<std::size_t> run(std::chrono::milliseconds timeout, Start&& start) {
    if (broken_) return Unexpected(*broken_);
    bool done = false;
    error_code result;
    std::size_t bytes = 0;
    start([&done, &result, &bytes](const error_code& ec, std::size_t n) {
      done = true;
      result = ec;
      bytes = n;
    });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done) {
      error_code ignored;
      (tls_ ? tls_->next_layer() : socket_).close(ignored);
      ioc_.restart();
      ioc_.run();
      broken_ = Error(ErrorCode::kTimeout, "no progress within the timeout");
      return Unexpected(*broken_);
    }
    if (result) {
      if (result == asio::error::eof || result == asio::ssl::error::stream_truncated ||
          result == asio::error::connection_reset) {
        peer_closed_ = true;
        broken_ = Error(ErrorCode::kIo, "connection closed by peer");
      } else {
        broken_ = Error(ErrorCode::kIo, result.message());
      }
      return Unexpected(*broken_);
    }
    return bytes;
  }

  ClientOptions options_;
  asio::io_context ioc_{1};
  tcp::socket socket_;
  SslContextPtr tls_ctx_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  Framer framer_;
  std::deque<FrameEvent> frames_;
  std::vector<char> buffer_ = std::vector<char>(64 * 1024);
  std::optional<Error> broken_;
  bool peer_closed_ = false;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::connect(std::string_view host, std::uint16_t port,
                                                const ClientOptions& options) {
  auto c = std::make_unique<ClientImpl>(options);
  if (auto r = c->open(host, port); !r) return Unexpected(r.error());
  return std::unique_ptr<Client>(std::move(c));
}

}  // namespace courier::mllp

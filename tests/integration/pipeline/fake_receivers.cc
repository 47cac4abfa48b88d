#include "tests/integration/pipeline/fake_receivers.h"

#include <array>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "adapters/mllp/ack_mapping.h"
#include "adapters/mllp/framer.h"
#include "engine/config/config.h"
#include "engine/tls/tls_context.h"

namespace courier::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

tls::SslContextPtr serverContext(const std::filesystem::path& cert_dir) {
  config::TlsConfig tls;
  tls.cert_file = cert_dir / "server.crt";
  tls.key_file = cert_dir / "server.key";
  return tls::makeServerTlsContext(tls).value();
}

// An acceptor on 127.0.0.1 port 0 and the thread running its io_context. The io thread
// is joined before members die, so handlers never outlive what they use.
struct Loop {
  explicit Loop(const std::filesystem::path& cert_dir) : ctx(serverContext(cert_dir)) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
  }
  // Accepts connections until stopped, each into a new Session(owner, socket), started.
  template <class Session, class Owner>
  void accept(Owner* owner) {
    acceptor.async_accept([this, owner](const error_code& ec, tcp::socket s) {
      if (ec) return;
      error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(owner, std::move(s))->start();
      accept<Session>(owner);
    });
  }
  void run() { thread = std::thread([this] { ioc.run(); }); }
  void stop() {
    ioc.stop();
    if (thread.joinable()) thread.join();
  }
  asio::io_context ioc{1};
  tls::SslContextPtr ctx;
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  std::thread thread;
};

}  // namespace

// ---------------------------------------------------------------- insurer

struct FakeInsurer::Impl {
  Impl(FakeInsurer* o, const std::filesystem::path& cert_dir, bool record)
      : owner(o), loop(cert_dir), record_bodies(record) {}

  // Pipelined requests already here are all answered in one write, as a server reading
  // a window of them at once would (the benchmark's driver, sinks and courier share two
  // cores: one TLS record and one send per answer was most of this receiver's cost).
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl* i, tcp::socket s) : impl(i), stream(std::move(s), *i->loop.ctx) {}
    Impl* impl;
    asio::ssl::stream<tcp::socket> stream;
    beast::flat_buffer buffer;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser;
    std::string out, writing;
    bool close_after = false;

    void start() {
      stream.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
        if (!ec) self->doRead();
      });
    }
    void newParser() {
      parser.emplace();
      parser->body_limit(64u << 20);
    }
    void doRead() {
      if (!parser) newParser();
      bhttp::async_read(stream, buffer, *parser,
                        [self = shared_from_this()](const error_code& ec, std::size_t) { self->onRead(ec); });
    }
    void onRead(const error_code& ec) {
      if (ec) return;
      answer(parser->release());
      parser.reset();
      // The next requests, as far as they are here already.
      while (!close_after && buffer.size() > 0) {
        newParser();
        error_code pec;
        buffer.consume(parser->put(buffer.data(), pec));
        if (pec == bhttp::error::need_more || (!pec && !parser->is_done())) break;  // the rest comes by reading
        if (pec) return;
        answer(parser->release());
        parser.reset();
      }
      // More of the window is here already (decrypted in TLS's buffer, or in the socket):
      // read it before answering, so that a window's answers leave in one write instead
      // of one per TLS record read (each send wakes the sender's deliverer once more).
      error_code aec;
      if (!close_after && out.size() < kAnswerBytes &&
          (SSL_pending(stream.native_handle()) > 0 || stream.next_layer().available(aec) > 0)) {
        doRead();
        return;
      }
      writing.swap(out);
      out.clear();
      asio::async_write(stream, asio::buffer(writing), [self = shared_from_this()](const error_code& wec, std::size_t) {
        if (!wec && !self->close_after) self->doRead();
      });
    }
    static constexpr std::size_t kAnswerBytes = 256u << 10;  // answers held back at most
    void answer(const bhttp::request<bhttp::string_body>& req) {
      static constexpr std::string_view kCreatedBody = R"({"resourceType":"OperationOutcome","issue":[]})";
      const bool busy = impl->owner->busy_;
      ++impl->owner->requests_;
      (busy ? impl->owner->refused_ : impl->owner->accepted_)++;
      if (impl->record_bodies) {
        const std::string key(req["Idempotency-Key"]);
        std::lock_guard<std::mutex> g(impl->mu);
        if (!busy) impl->accepted_keys.insert(key);
        impl->requests.push_back({key, req.body(), busy ? 503 : 201});
      }
      if (busy) {
        out += "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n";
      } else {
        out += "HTTP/1.1 201 Created\r\nContent-Type: application/fhir+json\r\nContent-Length: ";
        out += std::to_string(kCreatedBody.size());
        out += "\r\n";
      }
      if (!req.keep_alive()) {
        out += "Connection: close\r\n";
        close_after = true;
      }
      out += "\r\n";
      if (!busy) out += kCreatedBody;
    }
  };

  FakeInsurer* owner;
  Loop loop;
  bool record_bodies;
  mutable std::mutex mu;
  std::vector<InsurerRequest> requests;
  std::set<std::string> accepted_keys;
};

FakeInsurer::FakeInsurer(const std::filesystem::path& cert_dir, bool record_bodies)
    : impl_(std::make_unique<Impl>(this, cert_dir, record_bodies)) {
  impl_->loop.accept<Impl::Session>(impl_.get());
  impl_->loop.run();
}

FakeInsurer::~FakeInsurer() { impl_->loop.stop(); }

std::uint16_t FakeInsurer::port() const { return impl_->loop.port; }

std::size_t FakeInsurer::acceptedKeys() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->accepted_keys.size();
}

std::vector<InsurerRequest> FakeInsurer::seen() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->requests;
}

// ---------------------------------------------------------------- registry

struct FakeRegistry::Impl {
  Impl(FakeRegistry* o, const std::filesystem::path& cert_dir, bool record)
      : owner(o), loop(cert_dir), record_messages(record) {}

  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl* i, tcp::socket s) : impl(i), stream(std::move(s), *i->loop.ctx) {}
    Impl* impl;
    asio::ssl::stream<tcp::socket> stream;
    mllp::Framer framer;
    std::array<char, 65536> buffer;
    std::string pending, writing;

    void start() {
      stream.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
        if (!ec) self->doRead();
      });
    }
    void doRead() {
      stream.async_read_some(asio::buffer(buffer), [self = shared_from_this()](const error_code& ec, std::size_t n) {
        self->onRead(ec, n);
      });
    }
    void onRead(const error_code& ec, std::size_t n) {
      if (ec) return;
      std::vector<mllp::FrameEvent> frames;
      framer.feed(std::string_view(buffer.data(), n), frames);
      for (auto& f : frames) {
        const std::string id = mllp::controlIdOf(f.payload);
        ++impl->owner->received_;
        if (impl->record_messages) {
          std::lock_guard<std::mutex> g(impl->mu);
          impl->messages.push_back(f.payload);
        }
        pending += mllp::Framer::frame("MSH|^~\\&|REGISTRY|REG|COURIER|HUB|20260101000000||ACK^P03^ACK|R" + id +
                                       "|P|2.5.1\rMSA|AA|" + id + "\r");
      }
      doWrite();
      doRead();
    }
    void doWrite() {
      if (!writing.empty() || pending.empty()) return;
      writing.swap(pending);
      asio::async_write(stream, asio::buffer(writing), [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->writing.clear();
        if (!ec) self->doWrite();
      });
    }
  };

  FakeRegistry* owner;
  Loop loop;
  bool record_messages;
  mutable std::mutex mu;
  std::vector<std::string> messages;
};

FakeRegistry::FakeRegistry(const std::filesystem::path& cert_dir, bool record_messages)
    : impl_(std::make_unique<Impl>(this, cert_dir, record_messages)) {
  impl_->loop.accept<Impl::Session>(impl_.get());
  impl_->loop.run();
}

FakeRegistry::~FakeRegistry() { impl_->loop.stop(); }

std::uint16_t FakeRegistry::port() const { return impl_->loop.port; }

std::vector<std::string> FakeRegistry::messages() const {
  std::lock_guard<std::mutex> g(impl_->mu);
  return impl_->messages;
}

}  // namespace courier::testing

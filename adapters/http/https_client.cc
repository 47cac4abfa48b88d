#include "adapters/http/https_client.h"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace courier::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint64_t kMaxResponseBody = std::uint64_t{16} << 20;
constexpr std::size_t kKeptWireBytes = std::size_t{256} << 10;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

bool peerClosed(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == bhttp::error::end_of_stream;
}

// A header name is an RFC 9110 token; a value or a target must not break the framing.
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("\"(),/:;<=>?@[\\]{}").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}
bool hasControl(std::string_view s, bool allow_tab) {
  for (unsigned char c : s) {
    if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return true;
  }
  return false;
}

// Appends one HTTP/1.1 request to `wire`, written out directly rather than through a
// Beast message and serializer: the deliverers send tens of thousands a second and the
// message's field table and the serializer's buffers were ~1% of serve's CPU. Host and
// User-Agent are ours unless the caller's headers name them; Content-Length is ours
// (the caller's and any Transfer-Encoding are dropped: the body is framed here), sent
// when there is a body and for POST, PUT, PATCH and OPTIONS, as Beast's prepare_payload.
Result<void> appendRequest(std::string& wire, std::string_view method, std::string_view target, std::string_view host,
                           const HttpHeaders* headers, std::string_view body) {
  if (bhttp::string_to_verb(method) == bhttp::verb::unknown) {
    return Unexpected(Error(ErrorCode::kInvalidArgument, "unknown HTTP method " + std::string(method)));
  }
  if (target.empty() || hasControl(target, false) || target.find(' ') != std::string_view::npos) {
    return Unexpected(Error(ErrorCode::kInvalidArgument, "HTTP request: invalid target"));
  }
  bool own_host = true, own_agent = true;
  if (headers != nullptr) {
    for (const auto& [name, value] : *headers) {
      if (!isToken(name) || hasControl(value, true)) {
        return Unexpected(Error(ErrorCode::kInvalidArgument, "HTTP request: invalid header " + name));
      }
      if (iequals(name, "host")) own_host = false;
      if (iequals(name, "user-agent")) own_agent = false;
    }
  }
  wire.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (own_host) wire.append("Host: ").append(host).append("\r\n");
  if (own_agent) wire.append("User-Agent: courier\r\n");
  if (headers != nullptr) {
    for (auto h = headers->begin(); h != headers->end(); ++h) {
      const std::string& name = h->first;
      if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
      // A name given again later replaces this one (as Beast's set() did).
      if (std::any_of(h + 1, headers->end(), [&](const auto& later) { return iequals(later.first, name); })) continue;
      wire.append(name).append(": ").append(h->second).append("\r\n");
    }
  }
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH" || method == "OPTIONS") {
    wire.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  wire.append("\r\n").append(body);
  return Ok();
}

}  // namespace

Result<HttpsUrl> parseHttpsUrl(std::string_view url) {
  auto bad = [&](std::string why) { return Unexpected(Error(ErrorCode::kConfig, "URL: " + why)); };
  constexpr std::string_view kScheme = "https://";
  if (url.size() < kScheme.size() || !iequals(url.substr(0, kScheme.size()), kScheme)) {
    return bad("only https:// URLs are allowed");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos) return bad("a fragment (#) has no meaning here");
  const std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed (use token_file)");
  HttpsUrl out;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after the host");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const std::size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (out.host.empty()) return bad("no host");
  if (has_port) {
    if (port.empty() || port.size() > 5) return bad("bad port");
    unsigned value = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad("bad port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return bad("the port must be between 1 and 65535");
    out.port = static_cast<std::uint16_t>(value);
  }
  if (path.empty()) {
    out.path = "/";
  } else if (path.front() == '?') {
    out.path = "/" + std::string(path);
  } else {
    out.path = std::string(path);
  }
  return out;
}

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

struct HttpsConnection::Impl {
  std::string host;
  std::uint16_t port;
  std::string server_name;
  tls::SslContextPtr context;
  asio::io_context ioc{1};
  tcp::resolver resolver{ioc};
  std::optional<beast::ssl_stream<tcp::socket>> stream;
  beast::flat_buffer buffer;
  std::string wire;  // pipeline(): the window's requests, serialized (reused)
  bool open = false;
  bool keep_alive = false;
  bool name_mismatch = false;  // set by the verify callback of the last handshake

  std::string hostHeader() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != 443) h += ":" + std::to_string(port);
    return h;
  }

  void closeSocket() {
    if (!stream) return;
    error_code ignored;
    stream->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream->next_layer().close(ignored);
  }

  // Runs one asynchronous operation (which may chain others) until it calls `done` or
  // `timeout` passes; on timeout `cancel` (by default: close the socket) completes it.
  // Runs handler by handler, so a stale completion left by an abandoned resolve cannot
  // keep it waiting.
  template <typename Start, typename Cancel>
  error_code run(std::chrono::milliseconds timeout, bool& timed_out, Start&& start, Cancel&& cancel) {
    auto state = std::make_shared<std::pair<bool, error_code>>(false, error_code());
    start([state](const error_code& ec) {
      state->first = true;
      state->second = ec;
    });
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    ioc.restart();
    while (!state->first && std::chrono::steady_clock::now() < deadline) {
      if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) break;
    }
    timed_out = !state->first;
    if (timed_out && cancel()) {
      while (!state->first) {
        ioc.restart();
        if (ioc.run_one() == 0) break;
      }
    }
    return state->second;
  }

  template <typename Start>
  error_code run(std::chrono::milliseconds timeout, bool& timed_out, Start&& start) {
    return run(timeout, timed_out, std::forward<Start>(start), [this] {
      closeSocket();
      return true;  // closing completes every pending socket operation: wait for it
    });
  }
};

HttpsConnection::HttpsConnection(std::string host, std::uint16_t port, std::string server_name,
                                 tls::SslContextPtr context)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->server_name = server_name.empty() ? impl_->host : std::move(server_name);
  impl_->context = std::move(context);
}

HttpsConnection::~HttpsConnection() { close(); }

void HttpsConnection::close() {
  impl_->closeSocket();
  impl_->open = false;
  impl_->keep_alive = false;
}

Result<void> HttpsConnection::connect(std::chrono::milliseconds timeout) {
  close();
  Impl& m = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now()));
  };
  const std::string where = m.host + ":" + std::to_string(m.port);
  bool timed_out = false;

  // Name lookups run on Asio's resolver thread and cannot be interrupted: on timeout the
  // lookup is abandoned (its late completion only touches shared state), never waited for.
  auto endpoints = std::make_shared<tcp::resolver::results_type>();
  error_code ec = m.run(
      left(), timed_out,
      [&](auto done) {
        m.resolver.async_resolve(m.host, std::to_string(m.port),
                                 [endpoints, done](const error_code& e, tcp::resolver::results_type r) {
                                   *endpoints = std::move(r);
                                   done(e);
                                 });
      },
      [&] {
        m.resolver.cancel();
        return false;
      });
  if (timed_out) return Unexpected(Error(ErrorCode::kTimeout, "resolve " + m.host + ": timed out after " + ms(timeout)));
  if (ec) return Unexpected(Error(ErrorCode::kUnavailable, "resolve " + m.host + ": " + ec.message()));

  m.stream.emplace(m.ioc, *m.context);
  m.buffer.clear();
  ec = m.run(left(), timed_out, [&](auto done) {
    asio::async_connect(m.stream->next_layer(), *endpoints,
                        [done](const error_code& e, const tcp::endpoint&) { done(e); });
  });
  if (timed_out) return Unexpected(Error(ErrorCode::kTimeout, "connect to " + where + ": timed out after " + ms(timeout)));
  if (ec) {
    close();
    return Unexpected(Error(ErrorCode::kUnavailable, "connect to " + where + ": " + ec.message()));
  }
  m.stream->next_layer().set_option(tcp::no_delay(true), ec);

  SSL* ssl = m.stream->native_handle();
  error_code addr_ec;
  asio::ip::make_address(m.server_name, addr_ec);
  if (addr_ec) SSL_set_tlsext_host_name(ssl, m.server_name.c_str());  // SNI for DNS names only
  m.stream->set_verify_mode(asio::ssl::verify_peer, ec);
  m.name_mismatch = false;
  m.stream->set_verify_callback(
      [&m, check = asio::ssl::host_name_verification(m.server_name)](bool preverified,
                                                                     asio::ssl::verify_context& vc) mutable {
        const bool ok = check(preverified, vc);
        if (preverified && !ok) m.name_mismatch = true;  // chain fine, name not
        return ok;
      },
      ec);
  ec = m.run(left(), timed_out, [&](auto done) {
    m.stream->async_handshake(asio::ssl::stream_base::client, [done](const error_code& e) { done(e); });
  });
  if (timed_out) {
    close();
    return Unexpected(Error(ErrorCode::kTimeout, "TLS handshake with " + where + ": timed out after " + ms(timeout)));
  }
  if (ec) {
    std::string reason = ec.message();
    const long verify = SSL_get_verify_result(ssl);
    if (m.name_mismatch) {
      reason += " (the certificate is not for " + m.server_name + ")";
    } else if (verify != X509_V_OK) {
      reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    close();
    return Unexpected(Error(ErrorCode::kUnavailable, "TLS handshake with " + where + " failed: " + reason));
  }
  m.open = true;
  m.keep_alive = true;
  return Ok();
}

Result<HttpResponse> HttpsConnection::request(std::string_view method, std::string_view target,
                                              const HttpHeaders& headers, std::string_view body,
                                              std::chrono::milliseconds timeout) {
  failed_before_response_ = false;
  Impl& m = *impl_;
  if (!m.open) return Unexpected(Error(ErrorCode::kIo, "not connected"));
  std::string wire;
  if (auto a = appendRequest(wire, method, target, m.hostHeader(), &headers, body); !a) return Unexpected(a.error());

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  bool timed_out = false;
  error_code ec = m.run(timeout, timed_out, [&](auto done) {
    asio::async_write(*m.stream, asio::buffer(wire), [&m, &parser, done](const error_code& e, std::size_t) {
      if (e) return done(e);
      bhttp::async_read(*m.stream, m.buffer, parser, [done](const error_code& e2, std::size_t) { done(e2); });
    });
  });
  if (timed_out) {
    close();
    return Unexpected(Error(ErrorCode::kTimeout, "no response within " + ms(timeout)));
  }
  if (ec) {
    failed_before_response_ = !parser.got_some();
    close();
    return Unexpected(Error(ErrorCode::kIo, peerClosed(ec) ? "connection closed by peer" : ec.message()));
  }
  auto res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  m.keep_alive = res.keep_alive();
  if (!m.keep_alive) close();
  return out;
}

PipelinedResponses HttpsConnection::pipeline(std::span<const HttpRequest> requests,
                                             std::chrono::milliseconds timeout) {
  failed_before_response_ = false;
  PipelinedResponses out;
  Impl& m = *impl_;
  if (requests.empty()) return out;
  auto fail = [&](Error e) {
    close();
    out.error = std::move(e);
    return std::move(out);
  };
  if (!m.open) return fail(Error(ErrorCode::kIo, "not connected"));
  // Every request serialized into one buffer: one TLS write for the window. The buffer
  // is the connection's, kept from window to window (a window is up to 1 MiB: growing a
  // new one each time cost reallocations and fresh pages); appendRequest copies each
  // body into it once, after its head.
  std::string& wire = m.wire;
  wire.clear();
  const std::string host = m.hostHeader();
  for (const auto& r : requests) {
    if (auto a = appendRequest(wire, r.method, r.target, host, r.headers, r.body); !a) return fail(a.error());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now()));
  };
  bool timed_out = false;
  error_code ec = m.run(left(), timed_out, [&](auto done) {
    asio::async_write(*m.stream, asio::buffer(wire), [done](const error_code& e, std::size_t) { done(e); });
  });
  // A connection keeps a window's worth (64 claims of ~3 KB), not the largest ever sent:
  // subscription deliverers hold a connection each.
  if (wire.capacity() > kKeptWireBytes) std::string().swap(wire);
  if (timed_out) return fail(Error(ErrorCode::kTimeout, "no response within " + ms(timeout)));
  if (ec) {
    failed_before_response_ = true;
    return fail(Error(ErrorCode::kIo, peerClosed(ec) ? "connection closed by peer" : ec.message()));
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    // An answer already whole in the buffer (a server answers a window in one write) is
    // parsed here: a read through the io_context for each was ~5% of serve's CPU. What
    // is not whole yet is read on with the same parser.
    ec = {};
    while (m.buffer.size() > 0 && !parser.is_done() && !ec) {
      m.buffer.consume(parser.put(m.buffer.data(), ec));
    }
    if (ec == bhttp::error::need_more) ec = {};
    if (!ec && !parser.is_done()) {
      ec = m.run(left(), timed_out, [&](auto done) {
        bhttp::async_read(*m.stream, m.buffer, parser, [done](const error_code& e, std::size_t) { done(e); });
      });
    }
    if (timed_out) return fail(Error(ErrorCode::kTimeout, "no response within " + ms(timeout)));
    if (ec) {
      failed_before_response_ = i == 0 && !parser.got_some();
      return fail(Error(ErrorCode::kIo, peerClosed(ec) ? "connection closed by peer" : ec.message()));
    }
    auto res = parser.release();
    HttpResponse one;
    one.status = static_cast<int>(res.result_int());
    for (const auto& field : res) one.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    one.body = std::move(res.body());
    out.responses.push_back(std::move(one));
    m.keep_alive = res.keep_alive();
    if (!m.keep_alive) {
      close();  // the server takes no more on this connection: the rest were not taken
      return out;
    }
  }
  return out;
}

bool HttpsConnection::reusable() const {
  const Impl& m = *impl_;
  if (!m.open || !m.keep_alive || !m.stream || m.buffer.size() != 0) return false;
  pollfd p{};
  p.fd = const_cast<Impl&>(m).stream->next_layer().native_handle();
  p.events = POLLIN;
  return ::poll(&p, 1, 0) == 0;
}

Result<HttpResponse> httpsRequest(const HttpsTarget& target, std::string_view method, std::string_view path,
                                  const HttpHeaders& headers, std::string_view body,
                                  std::chrono::milliseconds timeout) {
  auto context = tls::makeDestinationTlsContext(target.tls);
  if (!context) return Unexpected(context.error());
  HttpsConnection connection(target.host, target.port, target.tls.server_name, std::move(*context));
  if (auto r = connection.connect(target.connect_timeout); !r) return Unexpected(r.error());
  HttpHeaders all = headers;
  all.emplace_back("Connection", "close");
  return connection.request(method, path, all, body, timeout);
}

}  // namespace courier::http

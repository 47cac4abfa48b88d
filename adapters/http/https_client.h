// HTTPS client pieces shared by the HTTPS destination (https_sink.h) and subscription
// rest-hook handshakes: URL parsing, one blocking keep-alive connection with a deadline
// on every step, and a one-shot request.
//
//   auto r = http::httpsRequest({.host = "registry.example", .port = 443, .tls = tls},
//                               "POST", "/hook", {{"Content-Type", "application/fhir+json"}},
//                               body, 10s);
//   if (r && r->status == 200) ...
//
// The server is always verified (chain to the system CAs and/or ca_files, and the host
// name, or tls.server_name, against the certificate); there is no switch to turn that off.
// Errors: kConfig (URL, TLS files), kUnavailable (resolve, connect, TLS handshake: the
// message names OpenSSL's verify reason), kTimeout, kIo (closed or broken mid-request).
//
// Thread-safety: none; one thread uses one HttpsConnection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/tls/tls_context.h"

namespace courier::http {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpsUrl {
  std::string host;
  std::uint16_t port = 443;
  std::string path = "/";  // with its query, never empty
};

// "https://host[:port][/path][?query]"; IPv6 hosts in brackets. Other schemes, user info
// and fragments are refused (kConfig).
[[nodiscard]] Result<HttpsUrl> parseHttpsUrl(std::string_view url);

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // The first header with that name (case-insensitive); empty when absent.
  std::string_view header(std::string_view name) const;
};

// One request of a pipelined run (HttpsConnection::pipeline); views into the caller's data.
struct HttpRequest {
  std::string_view method;
  std::string_view target;
  const HttpHeaders* headers = nullptr;  // may be null: none
  std::string_view body;
};

// What a pipelined run got: the answers read, in request order, and why it stopped short
// when there are fewer answers than requests (the server closed the connection after an
// answer without keep-alive: no error; a timeout or broken connection: the error).
struct PipelinedResponses {
  std::vector<HttpResponse> responses;
  std::optional<Error> error;
};

// One HTTPS connection to one host, reused for several requests (HTTP/1.1 keep-alive).
class HttpsConnection {
 public:
  // `server_name`: the name checked against the certificate and sent as SNI (IP
  // addresses are checked against IP SANs, without SNI); empty: `host`.
  HttpsConnection(std::string host, std::uint16_t port, std::string server_name, tls::SslContextPtr context);
  ~HttpsConnection();
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;

  // Resolves, connects and completes the TLS handshake within `timeout`.
  [[nodiscard]] Result<void> connect(std::chrono::milliseconds timeout);
  // Writes the request and reads the whole response within `timeout`. Host,
  // Content-Length and User-Agent are added. After an error the connection is closed.
  [[nodiscard]] Result<HttpResponse> request(std::string_view method, std::string_view target,
                                             const HttpHeaders& headers, std::string_view body,
                                             std::chrono::milliseconds timeout);
  // HTTP/1.1 pipelining: writes every request in one go, then reads the answers in
  // order, all within `timeout`. A server answers pipelined requests in order (RFC 9112
  // 9.3.2); one that does not keep the connection alive answers the first and closes,
  // and the rest were never taken (the caller sends them again). After an error, or
  // when fewer answers than requests were read, the connection is closed.
  // failedBeforeResponse() then tells whether no byte of any answer arrived.
  [[nodiscard]] PipelinedResponses pipeline(std::span<const HttpRequest> requests, std::chrono::milliseconds timeout);
  // Open, the last response allowed keep-alive, and nothing arrived since (an idle
  // HTTP/1.1 connection never receives; input means the server closed it). No I/O.
  bool reusable() const;
  // After a failed request: true when the server sent no byte of a response (it
  // closed or reset first), so the request may be repeated on a new connection.
  bool failedBeforeResponse() const { return failed_before_response_; }
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool failed_before_response_ = false;
};

// Where a one-shot request goes.
struct HttpsTarget {
  std::string host;
  std::uint16_t port = 443;
  config::ClientTlsConfig tls;  // `enabled` is ignored: HTTPS is always TLS
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

// Connects, sends one request, reads the answer, closes. Builds its TLS context per call
// (kConfig for unreadable CA or certificate files); for many requests keep an
// HttpsConnection instead. `timeout` bounds the request after the connection is up.
[[nodiscard]] Result<HttpResponse> httpsRequest(const HttpsTarget& target, std::string_view method,
                                                std::string_view path, const HttpHeaders& headers,
                                                std::string_view body, std::chrono::milliseconds timeout);

}  // namespace courier::http

// Client: a blocking MLLP client (plain or TLS) with a deadline on every call, for
// `courier send`, the integration tests and, later, outbound MLLP destinations.
//
//   auto c = mllp::Client::connect("127.0.0.1", port, {.tls = true, .tls_options = {...}});
//   c.value()->send(message);                  // frames and writes
//   auto ack = c.value()->receive(5s);         // next frame's payload (an ACK)
//
// Pipelining: call send() several times, then receive() as many answers; they come
// back in order. After a timeout or an I/O error the connection is unusable (every
// later call fails with the same error) and should be dropped.
//
// Thread-safety: none; one thread uses one Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/mllp/tls.h"
#include "engine/core/result.h"

namespace courier::mllp {

struct ClientOptions {
  bool tls = false;
  ClientTlsOptions tls_options;
  std::string server_name;  // SNI and certificate host check; empty: the host given
  // A context built once by the caller (outbound destinations reconnect often); when set
  // it is used instead of building one from tls_options, and the server is verified.
  SslContextPtr tls_context;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  std::size_t max_frame_bytes = std::size_t{64} << 20;
};

class Client {
 public:
  // Connects (and completes the TLS handshake). Errors: kUnavailable (refused,
  // unreachable, handshake failed), kTimeout, kConfig (TLS files).
  [[nodiscard]] static Result<std::unique_ptr<Client>> connect(std::string_view host, std::uint16_t port,
                                                               const ClientOptions& options);
  virtual ~Client() = default;

  // Frames `payload` and writes it. Errors: kIo, kTimeout.
  [[nodiscard]] virtual Result<void> send(std::string_view payload) = 0;
  // Writes bytes as they are (tests: partial frames, junk, oversize runs).
  [[nodiscard]] virtual Result<void> sendRaw(std::string_view bytes) = 0;
  // The next frame's payload. Errors: kTimeout, kIo (includes the peer closing: the
  // message then says "connection closed by peer"), kTooLarge.
  [[nodiscard]] virtual Result<std::string> receive(std::chrono::milliseconds timeout) = 0;
  // True once the peer closed the connection (seen by receive()).
  virtual bool peerClosed() const = 0;
  // Waits until the peer closes the connection; false on timeout or if a frame arrives.
  virtual bool waitForClose(std::chrono::milliseconds timeout) = 0;
  // For a connection kept open between uses: true when it is still open, every frame
  // received was taken, and nothing has arrived since. An idle MLLP connection never
  // receives, so input means the peer closed (or sent junk): reconnect instead.
  // Does not read or block.
  virtual bool reusable() const { return false; }
  // The negotiated protocol, e.g. "TLSv1.3"; empty for plain TCP.
  virtual std::string tlsVersion() const = 0;
  virtual void close() = 0;
};

}  // namespace courier::mllp

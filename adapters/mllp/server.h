// Server: the MLLP (optionally TLS) listeners of one Courier process.
//
//   auto server = mllp::Server::create(config.listeners, store, {.io_threads = 0});
//   server.value()->start();                 // binds (port 0: any free port), runs threads
//   uint16_t port = server.value()->port("mllp");
//   ...                                      // SIGTERM:
//   server->stopAccepting();                 // phase 1: no new connections or frames
//   server->waitForInFlight(10s);            //   every frame already read gets its answer
//   store.close();                           // phase 2: the store drains
//   server->stop();                          //   close connections, join threads
//
// Threading: one io_context per thread (io_threads, 0 = one per core); a connection
// lives on one of them for its whole life, so it needs no locks. Acceptors run on the
// first. A frame's answer is written only after MessageStore::submit's callback said the
// message is durable; that callback (on the store thread) posts back to the
// connection's io_context. Answers go back in the order the frames came, whatever order
// the store finishes them in (pipelining).
//
// Every async operation has a deadline: the TLS handshake, a frame once started
// (read_timeout), an idle connection (idle_timeout), and every write.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.h"
#include "engine/core/clock.h"
#include "engine/core/result.h"
#include "engine/metrics/metrics.h"
#include "engine/store/message_store.h"

namespace courier::mllp {

struct ServerOptions {
  std::size_t io_threads = 0;  // 0: one per core
  // Frames read but not yet answered, per connection; reading pauses beyond it.
  std::size_t max_pipelined_frames = 2048;
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  std::string ack_id_prefix = "CR";  // MSH-10 prefix of the ACKs this node sends
  Clock* clock = nullptr;            // null: Clock::system()
  // Per listener and message type: received, stored, duplicate, rejected (by reason),
  // ACK latency and store latency, open connections (what GET /metrics shows). Null: none.
  metrics::Registry* metrics = nullptr;
};

// Counters since start. A snapshot; thread-safe.
struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;   // over max_connections, or identity not allowed
  std::uint64_t connections_active = 0;
  std::uint64_t tls_handshake_failures = 0;
  std::uint64_t timeouts = 0;              // handshake, read, idle or write deadline hit
  std::uint64_t frames = 0;
  std::uint64_t submitted = 0;             // frames handed to the store
  std::uint64_t accepted = 0;              // positive answers (AA/CA/commit ACK)
  std::uint64_t refused = 0;               // negative answers before the store (AE/AR)
  std::uint64_t store_errors = 0;          // store said kUnavailable (AE/CE 207)
  std::uint64_t duplicates = 0;
  std::uint64_t oversize_frames = 0;
  std::uint64_t skipped_bytes = 0;         // outside frames (counted when a connection ends)
  std::uint64_t in_flight = 0;             // frames read, answer not yet written
};

class Server {
 public:
  // Validates the listeners and loads their TLS material (errors: kConfig). Nothing is
  // bound yet. The store must outlive the server.
  [[nodiscard]] static Result<std::unique_ptr<Server>> create(std::vector<config::ListenerConfig> listeners,
                                                              store::MessageStore& store,
                                                              ServerOptions options = {});
  virtual ~Server() = default;

  // Binds every listener and starts the I/O threads. Errors: kUnavailable (cannot bind).
  [[nodiscard]] virtual Result<void> start() = 0;
  // The bound port of a listener (after start); 0 when unknown.
  virtual std::uint16_t port(std::string_view listener_name) const = 0;

  // Shutdown phase 1: closes the acceptors and stops reading new frames; frames already
  // read keep going to the store and get their answers. Idle connections close at once.
  virtual void stopAccepting() = 0;
  // Waits until every frame read has been answered (or its connection died). Returns
  // false on timeout.
  virtual bool waitForInFlight(std::chrono::milliseconds timeout) = 0;
  // Closes every connection and joins the I/O threads. Idempotent.
  virtual void stop() = 0;

  virtual ServerStats stats() const = 0;
};

}  // namespace courier::mllp

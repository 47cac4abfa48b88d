// Server: the HTTPS listeners (`kind: http`) of one Courier process: the FHIR REST front
// door, plus /health, /ready and /metrics.
//
//   auto server = http::Server::create(http_listeners, store, {.metrics = &registry});
//   server.value()->start();                 // binds (port 0: any free port), runs threads
//   ...                                      // SIGTERM:
//   server->stopAccepting();                 // phase 1: no new connections or requests
//   server->waitForInFlight(10s);            //   requests already read get their answers
//   store.close();                           // phase 2: the store drains
//   server->stop();                          //   close connections, join threads
//
// A request with a body is answered 201/200 only after MessageStore::submit's callback
// said the message is durable (503 OperationOutcome when the store failed); that callback
// posts back to the connection's io_context. One io_context per thread; a connection lives
// on one, so it has no locks. Deadlines on every operation: TLS handshake, headers
// (idle_timeout between requests, request_timeout for the first), body and every write
// (request_timeout). /ready reads the store on a worker thread, never on an I/O thread.
// No exceptions: Beast/Asio error_code overloads. Logs carry connection ids, methods,
// routes, sizes and statuses, never bodies, tokens or identifiers from bodies.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/config/config.h"
#include "engine/core/clock.h"
#include "engine/core/result.h"
#include "engine/metrics/metrics.h"
#include "engine/store/message_store.h"
#include "engine/subscriptions/subscription_api.h"

namespace courier::http {

struct ServerOptions {
  std::size_t io_threads = 1;  // 0: one per core
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  metrics::Registry* metrics = nullptr;  // null: a registry of the server's own
  Clock* clock = nullptr;                // null: Clock::system()
  // /fhir/Subscription is answered by this (null: 404); /fhir/SubscriptionTopic always.
  subscriptions::SubscriptionApi* subscriptions = nullptr;
};

class Server {
 public:
  // Validates the listeners (each `kind: http`, TLS on), loads TLS material and token
  // files (errors: kConfig). Nothing is bound yet. The store must outlive the server.
  [[nodiscard]] static Result<std::unique_ptr<Server>> create(std::vector<config::ListenerConfig> listeners,
                                                              store::MessageStore& store,
                                                              ServerOptions options = {});
  virtual ~Server() = default;

  // Binds every listener and starts the I/O threads. Errors: kUnavailable (cannot bind).
  [[nodiscard]] virtual Result<void> start() = 0;
  virtual std::uint16_t port(std::string_view listener_name) const = 0;  // 0 when unknown

  virtual void stopAccepting() = 0;                                       // shutdown phase 1
  virtual bool waitForInFlight(std::chrono::milliseconds timeout) = 0;    // false on timeout
  virtual void stop() = 0;                                                // idempotent

  virtual metrics::Registry& metrics() = 0;
};

}  // namespace courier::http

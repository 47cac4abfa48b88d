// HttpsSink: an outbound HTTPS destination (`kind: https`), a delivery::Sink over one
// keep-alive HttpsConnection (https_client.h).
//
//   auto sink = http::makeHttpsSink(destination);  // kConfig: URL, method, TLS or token files
//   auto r = sink.value()->deliver(item);          // POST item.payload to url
//
// Each request carries Content-Type (the item's), Idempotency-Key and X-Request-ID (the
// item's idempotency key, the same on every try), the configured headers, and
// `Authorization: Bearer <token>` when token_file is set (its first line that is not
// empty or a '#' comment; re-read when the file changes, so tokens can rotate). PUT goes
// to url/{resourceType}/{id}, read from the payload.
//
// Answers (mapHttpResponse): 2xx delivered; 408, 429, 5xx retry, with retry_after from
// Retry-After; other 4xx dead-letter; 1xx/3xx retry (redirects are not followed). The body
// (an OperationOutcome, say) is kept in `response`. Connection errors, failed TLS
// verification and timeouts are kRetry with the reason in `detail`. The server is always
// verified (chain and host name); there is no option to turn that off.
//
// Connections: opened on first use, reused while the server keeps them alive; a request
// that a kept connection lost before any byte of the answer (the server closed it while
// idle) is sent once more on a new one, which the Idempotency-Key makes safe. Closed after
// keepalive_idle without use. A batch (deliverBatch) is pipelined: up to 64 requests
// (1 MiB) written at once on the kept connection, answers read in order; results stop at
// the first answer that is not 2xx, and items the server did not take (it closed after an
// answer without keep-alive) stay queued without a try counted. A window never holds two
// items of one patient (Delivery::patient_key; an item without one goes alone), so a
// receiver that refuses one request and takes the next cannot get a patient's items out
// of order.
// Threading: one deliverer thread calls it (Sink's contract).
#pragma once

#include <chrono>
#include <memory>

#include "adapters/http/https_client.h"
#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/delivery/sink.h"

namespace courier::http {

[[nodiscard]] Result<std::unique_ptr<delivery::Sink>> makeHttpsSink(const config::DestinationConfig& destination);

// What an HTTP answer means for delivery (no I/O); `now` resolves a Retry-After date.
[[nodiscard]] delivery::DeliveryResult mapHttpResponse(const HttpResponse& response,
                                                       std::chrono::system_clock::time_point now);

}  // namespace courier::http

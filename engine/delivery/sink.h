// Sink: where an outbox delivers, seen from the engine. Adapters implement it (MLLP/TLS
// client in adapters/mllp, HTTPS client in adapters/http, files in adapters/file); the
// deliverer (deliverer.h) owns one per destination and calls it from that destination's
// own thread, so a sink may block (bounded by its timeouts) and needs no locking.
//
// A sink never decides to give up for good on its own except for answers that mean
// "this will never be accepted" (HTTP 4xx other than 408/429, MLLP AR when configured):
// those are kDeadLetter. Everything else that did not succeed (connection refused,
// timeouts, 5xx, 429, AE when configured) is kRetry; the deliverer backs off.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace courier::delivery {

struct Delivery {
  std::int64_t outbox_id = 0;
  std::string destination;
  std::string idempotency_key;  // the same for every try of the same item (and after a crash)
  std::string content_type;     // "application/fhir+json", "x-application/hl7-v2+er7", "application/edi-x12"
  std::string payload;
  std::string file_name;        // file sinks: the name to write (unique per item)
  // The outbox's patient key; empty: none known. A sink that has several items in flight
  // before reading answers (MLLP windows) never has two of one patient, or one without a
  // key, in flight together: a receiver that refuses one and accepts the next would
  // otherwise get that patient's messages out of order.
  std::string patient_key;
  std::uint32_t attempt = 1;    // 1 for the first try
};

enum class DeliveryStatus { kDelivered, kRetry, kDeadLetter };

struct DeliveryResult {
  DeliveryStatus status = DeliveryStatus::kRetry;
  std::string detail;    // one line for operators: "HTTP 503", "AE: ERR 207 ...", "connection refused"
  std::string response;  // what the receiver answered (OperationOutcome, ACK), kept with the item
  std::optional<std::chrono::milliseconds> retry_after;  // the receiver asked (Retry-After)
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers one item; blocks until the receiver answered or a timeout passed.
  virtual DeliveryResult deliver(const Delivery& item) = 0;
  // Delivers several items in order; the default calls deliver() for each and stops
  // after the first that is not kDelivered (results has one entry per item tried).
  virtual std::vector<DeliveryResult> deliverBatch(const std::vector<Delivery>& items) {
    std::vector<DeliveryResult> results;
    for (const auto& item : items) {
      results.push_back(deliver(item));
      if (results.back().status != DeliveryStatus::kDelivered) break;
    }
    return results;
  }
  // Drops connections; the next deliver() reconnects. Called before destruction too.
  virtual void close() {}
};

}  // namespace courier::delivery

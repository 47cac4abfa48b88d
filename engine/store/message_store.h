// MessageStore: the durable inbox and message archive, behind one narrow interface.
//
// A source adapter (adapters/mllp, later http/file) hands every received message to
// submit() BEFORE it answers the sender. submit() never blocks on disk: the message is
// queued for the store's own writer thread, which commits messages in groups (one
// fsync serves every message that arrived meanwhile). The callback `done` runs on a
// store thread only after the commit holding the message returned, i.e. once the
// message is durable. Only then may the adapter answer AA/CA. Callbacks run one at a
// time, in submission order (per group, groups in commit order).
//
//   store.submit(std::move(msg), [conn](courier::Result<StoreReceipt> r) {
//     // runs on the store thread: do not block here, post back to your executor.
//     if (!r)                      -> AE/CE with ERR 207 (r.error().code == kUnavailable)
//     else if (r->duplicate)       -> answer r->previous_ack again, store nothing new
//     else                         -> AA (original mode) / CA (enhanced mode)
//   });
//
// Duplicates: (sending_facility, control_id) is a unique key. A message whose key was
// already stored is not stored again; the receipt says `duplicate` and carries the ACK
// code recorded for the first one, and the duplicate counter goes up. A message with an
// empty control id is never treated as a duplicate.
//
// Failures: disk full, database locked, I/O error, or a store that is closed or
// overloaded: the callback receives Error{ErrorCode::kUnavailable, ...} for every message
// of the failed group. The store keeps running; the next group tries again, so it
// recovers as soon as storage does.
//
// Reading (list/get/duplicateCount) is synchronous and blocking: call it from the CLI or
// from a worker thread, never from an I/O thread. Readers see committed data and may run
// while another process writes (SQLite WAL readers; PostgreSQL MVCC).
//
// Shutdown is two-phase: first the adapters stop accepting input, then close() drains:
// every message already submitted is committed and its callback runs, then the writer
// stops. After close(), or while more than max_pending messages wait for a commit
// (overload), submit() answers kUnavailable at once, ON THE CALLING THREAD: a caller must
// not hold a lock in submit() that its callback takes.
//
// Implementations: SQLite (engine/store/sqlite_store.h) and PostgreSQL
// (engine/store/postgres_store.h, cluster mode). Callers hold a
// MessageStore& and never know which. Open one from config with
// engine/store/store_factory.h. Never log PHI: no raw bytes, no patient ids.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace courier::store {

class ResourceIndex;

using MessageId = std::int64_t;                                // > 0 once stored
using TimePoint = std::chrono::system_clock::time_point;       // Clock::SystemTime

// How the sender asked to be acknowledged (HL7 v2 MSH-15/MSH-16).
enum class AckMode {
  kOriginal,  // no MSH-15/16: AA once stored
  kEnhanced,  // MSH-15 set: commit accept CA once stored
};

// HL7 v2 acknowledgment codes (table 0008).
enum class AckCode { kAA, kAE, kAR, kCA, kCE, kCR };

std::string_view ackCodeName(AckCode code);            // "AA", "CA", ...
std::optional<AckCode> parseAckCode(std::string_view text);

// The positive answer a stored message gets in that mode (AA or CA). The store records
// it with the message, so a duplicate is answered with the same code again.
AckCode positiveAck(AckMode mode);

// Where a stored message is in its life. Only kReceived exists until the pipeline lands.
enum class MessageStatus { kReceived, kProcessing, kProcessed, kFailed };
std::string_view messageStatusName(MessageStatus status);  // "received", ...

// A FHIR resource inside a message, for the resource index (engine/store/resource_index.h).
struct ResourceRef {
  std::string type;         // "Patient"
  std::string id;           // its logical id (the listener assigns one on create)
  std::int32_t entry = -1;  // -1: the message body is the resource; else its Bundle.entry index
};

// One message as a source adapter received it. The store owns it once submitted.
struct InboundMessage {
  std::string raw;                  // exact bytes of the message (MLLP frame payload)
  std::string listener;             // config name of the listener that received it
  std::string peer_identity;        // client certificate CN/SAN; empty when anonymous
  TimePoint received_at{};          // from Clock::now() on the I/O thread
  std::string message_type;         // MSH-9.1, e.g. "ADT"
  std::string trigger;              // MSH-9.2, e.g. "A01"
  std::string control_id;           // MSH-10; dedup key together with sending_facility
  std::string sending_application;  // MSH-3 (HD, as sent)
  std::string sending_facility;     // MSH-4 (HD, as sent)
  std::string patient_id;           // PID-3 first identifier when present, else empty
  AckMode ack_mode = AckMode::kOriginal;
  // FHIR resources to index under (type, id), written in the message's own transaction
  // (ignored by a store whose resourceIndex() is null, and for a duplicate). A later
  // reference to the same (type, id) in one message replaces an earlier one.
  std::vector<ResourceRef> resources{};
};

// What the store says once the message is durable (or was already).
struct StoreReceipt {
  MessageId id = 0;            // the stored message (for a duplicate: the first one)
  bool duplicate = false;      // true: (facility, control id) was already stored
  AckCode previous_ack = AckCode::kAA;  // duplicate only: the code to answer again
  // Per InboundMessage::resources, in order: true when (type, id) had a version before
  // this message (an update), false when this message created it. Empty for a duplicate
  // and for stores without a resource index.
  std::vector<bool> resource_existed{};
};

using SubmitCallback = std::function<void(Result<StoreReceipt>)>;

// Filters for list(); unset/empty fields do not filter. Results are newest first.
struct MessageFilter {
  std::optional<TimePoint> since;     // received_at >= since
  std::optional<TimePoint> until;     // received_at <  until
  std::string message_type;           // "ADT" or "ADT^A01"
  std::string control_id;
  std::string patient_id;
  std::string sending_facility;
  std::optional<MessageId> before_id;  // paging: only ids < before_id
  std::size_t limit = 100;             // 0 = no limit
};

// Metadata of a stored message (no raw bytes), as list() returns it.
struct MessageSummary {
  MessageId id = 0;
  TimePoint received_at{};
  std::string listener;
  std::string peer_identity;
  std::string message_type;
  std::string trigger;
  std::string control_id;
  std::string sending_application;
  std::string sending_facility;
  std::string patient_id;
  AckMode ack_mode = AckMode::kOriginal;
  AckCode ack_code = AckCode::kAA;   // what the sender was answered
  MessageStatus status = MessageStatus::kReceived;
  std::int64_t duplicates = 0;       // how many times it was received again
  std::size_t size_bytes = 0;
};

// One stored message with its raw bytes, as get() returns it.
struct StoredMessage {
  MessageSummary summary;
  std::string raw;
};

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // Queues `msg` for the next grouped commit and returns at once (never touches disk).
  // `done` runs exactly once, on a store thread, after that commit returned
  // (durable) or failed (kUnavailable); or inline when the store is closed or overloaded
  // (kUnavailable). Keep `done` short and non-blocking: post the answer to your executor.
  // Thread-safe: call from any number of threads.
  virtual void submit(InboundMessage msg, SubmitCallback done) = 0;

  // Blocking reads of committed data. Thread-safe. Errors: kNotFound (get of an unknown
  // id), kUnavailable (storage failed).
  [[nodiscard]] virtual Result<std::vector<MessageSummary>> list(const MessageFilter& filter) = 0;
  [[nodiscard]] virtual Result<StoredMessage> get(MessageId id) = 0;
  // Total duplicates received over the life of the store (persisted).
  [[nodiscard]] virtual Result<std::int64_t> duplicateCount() = 0;

  // FHIR resources by type and id (resource_index.h), or nullptr when this store does not
  // index them (then InboundMessage::resources is ignored). Lives as long as the store.
  virtual ResourceIndex* resourceIndex() { return nullptr; }

  // Phase two of shutdown: commits everything already submitted, runs those callbacks,
  // stops the writer. Idempotent; blocks until drained. Later submits get kUnavailable.
  virtual void close() = 0;
};

}  // namespace courier::store

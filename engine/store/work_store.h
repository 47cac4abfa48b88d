// WorkStore: what happens to a message after it was stored: the pipeline's progress
// through the inbox, each message's outcome, the per-destination outboxes and the
// coder's review worklist. Same database as the MessageStore (one file for SQLite), its
// own connection, so the pipeline and the deliverers never queue behind ingest.
//
// The pipeline's contract (engine/pipeline): it reads a batch with nextInbox(), works
// it out in memory, and hands every result to completeInbox(), which writes the outbox
// entries, the review items, the outcomes and the new inbox mark in ONE transaction. A
// crash before that commit repeats the batch; one after it never repeats it. Outbox
// entries are unique by idempotency key, so a batch repeated for any other reason (a
// requeue after review) never enqueues the same delivery twice.
//
// Outboxes are FIFO per destination: dueItems() returns the oldest pending items of a
// destination, and nothing when the oldest waits for its retry time, so a receiver sees
// every patient's messages in order. Dead-lettered items leave the queue (an operator
// retries or replays them); delivered items stay as the audit trail.
//
// Worklist: an item per coded element that needs a person. When every item of a
// message is resolved the message is requeued and the pipeline runs it again with the
// reviewer's codes (CodeOverride), so a held claim goes out then. When those codes do
// not hold (not valid for the date), the pipeline's review item opens that item again.
//
// Deliverers record their rounds with recordAttempts; when several share a connection
// (subscriptions in `courier serve`), rounds that arrive while a commit is under way are
// written together by the next one (group commit), so 50 deliverers each settling one
// notification pay one fdatasync, not 50.
//
// Checkpoints (SQLite): the commits of a store and of those connect() made from it do not
// copy the shared WAL into the database file themselves; one thread per such family does,
// and keeps the WAL bounded when only they write (sqlite_work_store.cc, WalCheckpointer).
//
// Thread-safety: every method may be called from any thread (one connection, one
// mutex); calls block on disk. Times are system_clock; errors are kUnavailable
// (storage), kNotFound, kInvalidArgument (a state change that does not apply).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/result.h"
#include "engine/store/message_store.h"

namespace courier::store {

// A reviewer's codes for one item, handed back to the pipeline with a requeued message.
struct ResolvedItem {
  std::string kind;   // "diagnosis" | "procedure" | "charge"
  int item_index = 0;
  std::vector<std::string> codes;
  std::string reviewer;
};

struct InboxItem {
  MessageId id = 0;
  std::string raw;
  std::string listener;
  std::string patient_id;
  bool requeued = false;               // after review: run again with `resolved`
  std::vector<ResolvedItem> resolved;
};

struct OutboxEntry {
  std::string destination;
  std::string route;
  std::string patient_key;
  std::string idempotency_key;  // unique over the whole outbox
  std::string content_type;
  std::string file_name;
  std::string payload;
  // The payload is the message's own bytes as stored (HL7 v2 sent on as received): in
  // completeInbox the store keeps no second copy and reads the message for it. Ignored by
  // enqueue(), whose items belong to no stored message.
  bool payload_is_message = false;
};

struct ReviewEntry {
  std::string kind;        // "diagnosis" | "procedure" | "charge"
  int item_index = 0;
  std::string source;      // what was sent: "I10 E119" or "DG1-4: chest pain"
  std::string reason;
  std::string query;       // draft physician query
  std::string suggestions; // "E11.9 Type 2 diabetes ... (0.62); ..."
};

// A FHIR Subscription as stored (migration 5). `json` is the resource with header values
// in full (engine/subscriptions/subscription.h parses it back); status and reason live in
// their own columns, which win over the resource's.
struct SubscriptionRecord {
  std::string id;
  std::string owner;   // the authenticated client identity that created it
  std::string json;
  std::string status;  // requested | active | error | off
  std::string reason;  // why it is in error; no PHI
  std::uint64_t events_since_start = 0;
  TimePoint created_at{};
  TimePoint updated_at{};
};

// One notification event of one subscription, kept for $events.
struct SubscriptionEventRecord {
  std::string subscription_id;
  std::uint64_t event_number = 0;
  MessageId message_id = 0;
  std::string notification;  // the Bundle sent
  TimePoint created_at{};
};

// What the pipeline did with one inbox message.
struct ProcessedMessage {
  MessageId id = 0;
  bool requeued = false;
  std::string outcome;  // "routed" | "no-route" | "held-for-review" | "failed"
  std::string detail;   // why (parse error location, not-claimable reason); no PHI
  std::string codes;    // "E11.9 I10 | 99213" — what the coder assigned
  std::vector<OutboxEntry> outbox;
  std::vector<ReviewEntry> review;
  // Notifications raised by this message (their outbox entries are in `outbox`); the
  // commit also moves each subscription's events_since_start up to its highest number.
  std::vector<SubscriptionEventRecord> subscription_events;
};

enum class OutboxState { kPending, kDelivered, kDead };
std::string_view outboxStateName(OutboxState state);  // "pending", "delivered", "dead"

struct OutboxItem {
  std::int64_t id = 0;
  std::string destination;
  MessageId message_id = 0;
  std::string route;
  std::string patient_key;
  std::string idempotency_key;
  std::string content_type;
  std::string file_name;
  std::string payload;          // empty in list()
  OutboxState state = OutboxState::kPending;
  std::uint32_t attempts = 0;
  TimePoint created_at{};
  TimePoint next_attempt_at{};
  std::optional<TimePoint> delivered_at;
  std::string last_error;
  std::string last_response;    // empty in list()
};

// The result of one delivery try, as the deliverer records it.
struct AttemptRecord {
  std::int64_t outbox_id = 0;
  OutboxState new_state = OutboxState::kPending;  // kPending: retry at next_attempt_at
  TimePoint next_attempt_at{};
  std::string error;
  std::string response;
};

// recordAttempts' group commit, counted since the store was opened.
struct AttemptCommitStats {
  std::uint64_t calls = 0;           // recordAttempts calls with records
  std::uint64_t records = 0;         // attempt records in them
  std::uint64_t commits = 0;         // transactions that wrote them (one fdatasync each)
  std::uint64_t failed_commits = 0;  // of which failed (every call in the group got the error)
};

struct OutboxFilter {
  std::string destination;                 // empty: all
  std::optional<OutboxState> state;
  std::optional<MessageId> message_id;
  std::string patient_key;
  std::optional<TimePoint> since;          // created_at >= since
  std::optional<TimePoint> until;          // created_at < until
  std::size_t limit = 100;                 // 0: no limit
};

struct DestinationStats {
  std::string destination;
  std::int64_t pending = 0;
  std::int64_t delivered = 0;
  std::int64_t dead = 0;
  std::optional<TimePoint> oldest_pending;
};

enum class ReviewState { kOpen, kResolved };

struct WorklistItem {
  std::int64_t id = 0;
  MessageId message_id = 0;
  ReviewEntry entry;
  ReviewState state = ReviewState::kOpen;
  TimePoint created_at{};
  std::vector<std::string> resolved_codes;
  std::string reviewer;
  std::optional<TimePoint> resolved_at;
};

struct MessageOutcome {
  MessageId message_id = 0;
  std::string outcome;
  std::string detail;
  std::string codes;
  TimePoint processed_at{};
};

class WorkStore {
 public:
  virtual ~WorkStore() = default;

  // ---- pipeline
  // Requeued messages first, then messages above the inbox mark, in id order.
  [[nodiscard]] virtual Result<std::vector<InboxItem>> nextInbox(std::size_t limit) = 0;
  // One transaction: outbox entries, review items, outcomes, requeues cleared, the mark
  // moved to the highest non-requeued id in `done`. Once it committed, the outbox entries'
  // payloads are moved out of `done` (the store keeps them for the deliverers, see
  // recent_payloads.h); everything else in `done` stays as it was.
  [[nodiscard]] virtual Result<void> completeInbox(std::vector<ProcessedMessage>& done) = 0;
  // The same for a batch the caller keeps whole: its payloads are copied.
  [[nodiscard]] Result<void> completeInbox(const std::vector<ProcessedMessage>& done) {
    std::vector<ProcessedMessage> copy = done;
    return completeInbox(copy);
  }
  [[nodiscard]] virtual Result<MessageId> inboxMark() = 0;
  [[nodiscard]] virtual Result<std::optional<MessageOutcome>> outcome(MessageId id) = 0;

  // ---- outboxes
  // Up to `limit` oldest pending items of `destination` if the oldest is due at `now`;
  // empty otherwise. `next_due` (optional) gets the oldest's retry time when not due.
  // Items carry what a delivery needs, with their payloads; route and last_error may be
  // left empty (listOutbox and getOutbox have them).
  [[nodiscard]] virtual Result<std::vector<OutboxItem>> dueItems(const std::string& destination, TimePoint now,
                                                                 std::size_t limit,
                                                                 std::optional<TimePoint>* next_due = nullptr) = 0;
  // Durable when it returns: one transaction for a whole delivered batch, attempts count
  // up by one each. Concurrent calls (deliverers sharing a connection) may share one
  // commit (group commit); an error means none of these records was written.
  [[nodiscard]] virtual Result<void> recordAttempts(const std::vector<AttemptRecord>& attempts) = 0;
  // How recordAttempts calls became commits (zero where not counted).
  virtual AttemptCommitStats attemptCommitStats() { return {}; }
  // Another connection to the same store (a deliverer's own), sharing the file's WAL
  // checkpointer: the connections' commits leave the copying of the WAL to it (SQLite:
  // one checkpoint thread per file for the inbox writer and every work store, see
  // wal_checkpointer.h).
  [[nodiscard]] virtual Result<std::unique_ptr<WorkStore>> connect() = 0;
  [[nodiscard]] virtual Result<std::vector<OutboxItem>> listOutbox(const OutboxFilter& filter) = 0;
  [[nodiscard]] virtual Result<OutboxItem> getOutbox(std::int64_t id) = 0;
  // Pending again, due now, attempts reset: a dead item (retry) or a delivered one (replay).
  // Returns how many items changed.
  [[nodiscard]] virtual Result<std::int64_t> requeueOutbox(const OutboxFilter& filter) = 0;
  [[nodiscard]] virtual Result<std::vector<DestinationStats>> outboxStats() = 0;

  // ---- worklist
  [[nodiscard]] virtual Result<std::vector<WorklistItem>> listWorklist(std::optional<ReviewState> state,
                                                                       std::size_t limit) = 0;
  [[nodiscard]] virtual Result<WorklistItem> getWorklist(std::int64_t id) = 0;
  // Records the reviewer's codes; when the message has no open item left it is requeued.
  // kInvalidArgument when already resolved or codes is empty.
  [[nodiscard]] virtual Result<void> resolveWorklist(std::int64_t id, const std::vector<std::string>& codes,
                                                     const std::string& reviewer) = 0;

  // ---- subscriptions (FHIR topic-based; notifications go out as outbox destination
  // `subscription/<id>`)
  // kAlreadyExists when the id is taken.
  [[nodiscard]] virtual Result<void> createSubscription(const SubscriptionRecord& sub) = 0;
  [[nodiscard]] virtual Result<std::optional<SubscriptionRecord>> getSubscription(const std::string& id) = 0;
  [[nodiscard]] virtual Result<std::vector<SubscriptionRecord>> listSubscriptions() = 0;
  // Status and reason (kNotFound when there is no such subscription). A non-empty `json`
  // replaces the stored resource too (PUT).
  [[nodiscard]] virtual Result<void> updateSubscription(const std::string& id, const std::string& status,
                                                        const std::string& reason, const std::string& json = {}) = 0;
  // Removes the subscription, its events and its pending notifications; false when there
  // was none.
  [[nodiscard]] virtual Result<bool> deleteSubscription(const std::string& id) = 0;
  // Events with from <= event_number <= to, in order, at most `limit` (0: no limit).
  [[nodiscard]] virtual Result<std::vector<SubscriptionEventRecord>> subscriptionEvents(const std::string& id,
                                                                                       std::uint64_t from,
                                                                                       std::uint64_t to,
                                                                                       std::size_t limit) = 0;
  // Outbox entries that no inbox message raised (heartbeats): message id 0, one
  // transaction, idempotency keys as in completeInbox.
  [[nodiscard]] virtual Result<void> enqueue(const std::vector<OutboxEntry>& entries) = 0;
};

struct WorkStoreOptions {
  std::filesystem::path path;  // the SQLite store file (made by SqliteStore, schema >= 5)
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens the work side of an SQLite store that SqliteStore created and migrated.
[[nodiscard]] Result<std::unique_ptr<WorkStore>> openSqliteWorkStore(const WorkStoreOptions& options);

}  // namespace courier::store

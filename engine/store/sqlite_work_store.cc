// The SQLite WorkStore: its own connection to the store file, one mutex around it.
// Tables are made by SqliteStore's migrations 4 and 5 (sqlite_store.cc).
#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/core/log.h"
#include "engine/store/recent_payloads.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/sqlite_util.h"
#include "engine/store/wal_checkpointer.h"
#include "engine/store/work_store.h"

namespace courier::store {

std::string_view outboxStateName(OutboxState state) {
  switch (state) {
    case OutboxState::kPending: return "pending";
    case OutboxState::kDelivered: return "delivered";
    case OutboxState::kDead: return "dead";
  }
  return "pending";
}

namespace {

std::int64_t micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
TimePoint fromMicros(std::int64_t us) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(us)));
}

std::vector<std::string> splitSpaces(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::string joinSpaces(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// What a delivery needs of a due item (dueItems): no route, state, delivered_at or
// last_error, and the destination is the caller's. Every deliverer reads its queue with
// this each round; the fewer strings made per item, the fewer allocations on its thread.
constexpr const char* kDueColumns =
    "id, message_id, patient_key, idempotency_key, content_type, file_name, attempts, created_at, next_attempt_at";
// The whole row (list, show): the due columns, then the rest (readOutbox).
const std::string kOutboxColumns = std::string(kDueColumns) + ", destination, route, state, delivered_at, last_error";

OutboxItem readDue(const Statement& s, std::string_view destination) {
  OutboxItem o;
  o.id = s.integer(0);
  o.destination = destination;
  o.message_id = s.integer(1);
  o.patient_key = s.text(2);
  o.idempotency_key = s.text(3);
  o.content_type = s.text(4);
  o.file_name = s.text(5);
  o.attempts = static_cast<std::uint32_t>(s.integer(6));
  o.created_at = fromMicros(s.integer(7));
  o.next_attempt_at = fromMicros(s.integer(8));
  return o;
}

OutboxItem readOutbox(const Statement& s) {
  OutboxItem o = readDue(s, s.textView(9));
  o.route = s.text(10);
  o.state = static_cast<OutboxState>(std::clamp<std::int64_t>(s.integer(11), 0, 2));
  if (sqlite3_column_type(s.get(), 12) != SQLITE_NULL) o.delivered_at = fromMicros(s.integer(12));
  o.last_error = s.text(13);
  return o;
}

constexpr const char* kWorklistColumns =
    "id, message_id, kind, item_index, source, reason, query, suggestions, state, created_at, resolved_codes,"
    " reviewer, resolved_at";

WorklistItem readWorklist(const Statement& s) {
  WorklistItem w;
  w.id = s.integer(0);
  w.message_id = s.integer(1);
  w.entry.kind = s.text(2);
  w.entry.item_index = static_cast<int>(s.integer(3));
  w.entry.source = s.text(4);
  w.entry.reason = s.text(5);
  w.entry.query = s.text(6);
  w.entry.suggestions = s.text(7);
  w.state = s.integer(8) == 0 ? ReviewState::kOpen : ReviewState::kResolved;
  w.created_at = fromMicros(s.integer(9));
  w.resolved_codes = splitSpaces(s.text(10));
  w.reviewer = s.text(11);
  if (sqlite3_column_type(s.get(), 12) != SQLITE_NULL) w.resolved_at = fromMicros(s.integer(12));
  return w;
}

constexpr std::uint64_t kMaxInt64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

constexpr const char* kSubscriptionColumns =
    "id, owner, json, status, reason, events_since_start, created_at, updated_at";

SubscriptionRecord readSubscription(const Statement& s) {
  SubscriptionRecord r;
  r.id = s.text(0);
  r.owner = s.text(1);
  r.json = s.text(2);
  r.status = s.text(3);
  r.reason = s.text(4);
  r.events_since_start = static_cast<std::uint64_t>(s.integer(5));
  r.created_at = fromMicros(s.integer(6));
  r.updated_at = fromMicros(s.integer(7));
  return r;
}

// WHERE clause and bindings for an OutboxFilter.
struct OutboxWhere {
  std::string sql;
  std::vector<std::string> texts;   // bound as ?1.. in order of `kinds`
  std::vector<std::int64_t> ints;
  std::vector<bool> is_text;
};

OutboxWhere outboxWhere(const OutboxFilter& f) {
  OutboxWhere w;
  auto add = [&](const std::string& cond) { w.sql += w.sql.empty() ? " WHERE " + cond : " AND " + cond; };
  auto text = [&](const std::string& col, const std::string& v) {
    w.texts.push_back(v);
    w.is_text.push_back(true);
    add(col + " = ?" + std::to_string(w.is_text.size()));
  };
  auto integer = [&](const std::string& cond, std::int64_t v) {
    w.ints.push_back(v);
    w.is_text.push_back(false);
    add(cond + std::to_string(w.is_text.size()));
  };
  if (!f.destination.empty()) text("destination", f.destination);
  if (f.state) integer("state = ?", static_cast<std::int64_t>(*f.state));
  if (f.message_id) integer("message_id = ?", *f.message_id);
  if (!f.patient_key.empty()) text("patient_key", f.patient_key);
  if (f.since) integer("created_at >= ?", micros(*f.since));
  if (f.until) integer("created_at < ?", micros(*f.until));
  return w;
}

void bindWhere(Statement& s, const OutboxWhere& w) {
  std::size_t t = 0, n = 0;
  for (std::size_t i = 0; i < w.is_text.size(); ++i) {
    if (w.is_text[i]) s.bindText(static_cast<int>(i + 1), w.texts[t++]);
    else s.bindInt(static_cast<int>(i + 1), w.ints[n++]);
  }
}

// A work-store connection to a store SqliteStore created and migrated.
Result<sqlite3*> openWorkConnection(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  configureSqliteOnce();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqliteError(db, rc, "open " + path.string());
    sqlite3_close_v2(db);
    return Unexpected(std::move(e));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  // As the inbox writer: WAL, every commit fsynced (an enqueued delivery or a recorded
  // attempt is a promise too). The page cache is 4 MiB, not 16: each connection's cache
  // fills up to its size as the outboxes grow and serve opens one connection per
  // destination, while the queue reads touch only the head of an index and the newest
  // pages (issue 6: memory flat under a long backlog).
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA cache_size=-4096",
                             "PRAGMA secure_delete=OFF"}) {
    if (auto r = exec(db, pragma); !r) {
      sqlite3_close_v2(db);
      return Unexpected(r.error());
    }
  }
  auto v = Statement::prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  int version = -1;
  if (v && sqlite3_step(v->get()) == SQLITE_ROW) version = static_cast<int>(v->integer(0));
  v = Statement();
  if (version < SqliteStore::kSchemaVersion) {
    sqlite3_close_v2(db);
    return Unexpected(Error(ErrorCode::kUnavailable,
                            "the message store has no pipeline or subscription tables yet (schema " + std::to_string(version) +
                                "); open it with the message store first",
                            path.string()));
  }
  return db;
}

class SqliteWorkStore final : public WorkStore {
 public:
  SqliteWorkStore(sqlite3* db, std::filesystem::path path, std::chrono::milliseconds busy_timeout,
                  std::shared_ptr<WalCheckpointer> checkpointer, std::shared_ptr<RecentPayloads> recent)
      : db_(db),
        path_(std::move(path)),
        busy_timeout_(busy_timeout),
        checkpointer_(std::move(checkpointer)),
        recent_(std::move(recent)) {
    checkpointer_->attach(db_);
  }
  ~SqliteWorkStore() override {
    due_ = Statement();
    payload_ = Statement();
    record_ = Statement();
    complete_ = CompleteStatements();
    next_requeued_ = Statement();
    next_new_ = Statement();
    sqlite3_close_v2(db_);
  }

  Result<std::vector<InboxItem>> nextInbox(std::size_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<InboxItem> items;
    // Requeued messages (after review) with their reviewer's codes.
    // Both queries prepared once per connection: the pipeline asks for every batch.
    auto rq = cached(next_requeued_,
                     "SELECT m.id, m.raw, m.listener, COALESCE(m.patient_id, '') FROM requeued r"
                     " JOIN messages m ON m.id = r.message_id ORDER BY r.message_id LIMIT ?1");
    if (!rq) return Unexpected(rq.error());
    {
      ResetOnExit done{**rq};
      (*rq)->bindInt(1, static_cast<std::int64_t>(limit));
      if (auto r = readInbox(**rq, true, items); !r) return Unexpected(r.error());
    }
    for (auto& item : items) {
      auto res = Statement::prepare(db_,
                                    "SELECT kind, item_index, resolved_codes, reviewer FROM worklist"
                                    " WHERE message_id = ?1 AND state = 1 ORDER BY id");
      if (!res) return Unexpected(res.error());
      res->bindInt(1, item.id);
      int rc;
      while ((rc = sqlite3_step(res->get())) == SQLITE_ROW) {
        item.resolved.push_back(ResolvedItem{res->text(0), static_cast<int>(res->integer(1)),
                                             splitSpaces(res->text(2)), res->text(3)});
      }
      if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "read resolved review items"));
    }
    if (items.size() >= limit) return items;
    auto q = cached(next_new_,
                    "SELECT id, raw, listener, COALESCE(patient_id, '') FROM messages"
                    " WHERE id > (SELECT processed_through FROM pipeline_state) ORDER BY id LIMIT ?1");
    if (!q) return Unexpected(q.error());
    ResetOnExit done{**q};
    (*q)->bindInt(1, static_cast<std::int64_t>(limit - items.size()));
    if (auto r = readInbox(**q, false, items); !r) return Unexpected(r.error());
    return items;
  }

  using WorkStore::completeInbox;
  Result<void> completeInbox(std::vector<ProcessedMessage>& done) override {
    std::lock_guard lock(mu_);
    if (done.empty()) return Ok();
    Written<OutboxEntry> written;
    auto committed = transaction([&]() -> Result<void> {
      const std::int64_t now = micros(std::chrono::system_clock::now());
      if (auto r = prepareComplete(); !r) return r;
      // Reset and their bindings (views into `done`) dropped on the way out.
      CompleteStatements& c = complete_;
      Statement &outcome = c.outcome, &outbox = c.enqueue, &payload = c.payload, &review = c.review,
                &unqueue = c.unqueue, &event = c.event, &counter = c.counter, &up = c.mark;
      ResetOnExit reset[] = {{outcome}, {outbox}, {payload}, {review}, {unqueue}, {event}, {counter}, {up}};
      MessageId mark = 0;
      for (auto& m : done) {
        if (!m.requeued) mark = std::max(mark, m.id);
        outcome.bindInt(1, m.id);
        outcome.bindText(2, m.outcome);
        outcome.bindText(3, m.detail);
        outcome.bindText(4, m.codes);
        outcome.bindInt(5, now);
        if (auto r = step(outcome, "record outcome"); !r) return r;
        for (auto& e : m.outbox) {
          outbox.bindText(1, e.destination);
          outbox.bindInt(2, m.id);
          outbox.bindText(3, e.route);
          outbox.bindText(4, e.patient_key);
          outbox.bindText(5, e.idempotency_key);
          outbox.bindText(6, e.content_type);
          outbox.bindText(7, e.file_name);
          outbox.bindInt(8, now);
          if (auto r = step(outbox, "enqueue"); !r) return r;
          if (auto r = insertPayload(payload, e, written, /*message_known=*/true); !r) return r;
        }
        for (const auto& e : m.review) {
          review.bindInt(1, m.id);
          review.bindText(2, e.kind);
          review.bindInt(3, e.item_index);
          review.bindText(4, e.source);
          review.bindText(5, e.reason);
          review.bindText(6, e.query);
          review.bindText(7, e.suggestions);
          review.bindInt(8, now);
          if (auto r = step(review, "add review item"); !r) return r;
        }
        for (const auto& e : m.subscription_events) {
          event.bindText(1, e.subscription_id);
          event.bindInt(2, static_cast<std::int64_t>(e.event_number));
          event.bindInt(3, m.id);
          event.bindText(4, e.notification);
          event.bindInt(5, now);
          if (auto r = step(event, "record subscription event"); !r) return r;
          counter.bindText(1, e.subscription_id);
          counter.bindInt(2, static_cast<std::int64_t>(e.event_number));
          if (auto r = step(counter, "count subscription event"); !r) return r;
        }
        if (m.requeued) {
          unqueue.bindInt(1, m.id);
          if (auto r = step(unqueue, "clear requeue"); !r) return r;
        }
      }
      if (mark > 0) {
        up.bindInt(1, mark);
        if (auto r = step(up, "move inbox mark"); !r) return r;
      }
      return Ok();
    });
    if (committed) keepRecent(written);
    return committed;
  }

  Result<MessageId> inboxMark() override {
    std::lock_guard lock(mu_);
    auto q = Statement::prepare(db_, "SELECT processed_through FROM pipeline_state");
    if (!q) return Unexpected(q.error());
    int rc = sqlite3_step(q->get());
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(db_, rc, "read inbox mark"));
    return q->integer(0);
  }

  Result<std::optional<MessageOutcome>> outcome(MessageId id) override {
    std::lock_guard lock(mu_);
    auto q = Statement::prepare(db_,
                                "SELECT outcome, detail, codes, processed_at FROM message_outcomes WHERE message_id = ?1");
    if (!q) return Unexpected(q.error());
    q->bindInt(1, id);
    int rc = sqlite3_step(q->get());
    if (rc == SQLITE_DONE) return std::optional<MessageOutcome>();
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(db_, rc, "read outcome"));
    return std::optional<MessageOutcome>(MessageOutcome{id, q->text(0), q->text(1), q->text(2), fromMicros(q->integer(3))});
  }

  Result<std::vector<OutboxItem>> dueItems(const std::string& destination, TimePoint now, std::size_t limit,
                                           std::optional<TimePoint>* next_due) override {
    std::lock_guard lock(mu_);
    if (next_due != nullptr) next_due->reset();
    // Every deliverer runs this each round: prepared once, reset after each use (a
    // statement left stepping would hold its read transaction open).
    static const std::string sql =
        std::string("SELECT ") + kDueColumns + " FROM outbox WHERE destination = ?1 AND state = 0 ORDER BY id LIMIT ?2";
    auto kept = cached(due_, sql);
    if (!kept) return Unexpected(kept.error());
    // The payloads the pipeline committed a moment ago come from memory; the others are
    // read in the same snapshot (the outer statement holds it open): the payload row, or
    // for an item without one the message as stored (OutboxEntry::payload_is_message).
    auto lookup = cached(payload_, kReadPayload);
    if (!lookup) return Unexpected(lookup.error());
    Statement& q = **kept;
    Statement& p = **lookup;
    ResetOnExit done{q};
    q.bindText(1, destination);
    q.bindInt(2, static_cast<std::int64_t>(limit));
    std::vector<OutboxItem> items;
    int rc;
    while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
      OutboxItem o = readDue(q, destination);
      // FIFO: stop at the first item that is not due yet (its retry time).
      if (o.next_attempt_at > now) {
        if (items.empty() && next_due != nullptr) *next_due = o.next_attempt_at;
        break;
      }
      if (!recent_->take(destination, o.id, o.idempotency_key, o.payload)) {
        ResetOnExit looked{p};
        p.bindInt(1, o.id);
        p.bindInt(2, o.message_id);
        const int prc = sqlite3_step(p.get());
        if (prc != SQLITE_ROW) return Unexpected(sqliteError(db_, prc, "read outbox payload"));
        if (sqlite3_column_type(p.get(), 0) == SQLITE_NULL) continue;  // no payload at all: never handed out
        o.payload = p.blob(0);
      }
      items.push_back(std::move(o));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "read outbox"));
    return items;
  }

  // Group commit: the deliverers sharing this connection (every subscription's, in
  // `courier serve`) each record their rounds; a caller that finds a commit under way
  // queues its records, and the next commit takes every queued round at once: one
  // transaction and one fdatasync for many deliverers. Each caller still returns only
  // once its own records are durable, or with the error of the commit that held them; a
  // failed group fails every round in it, and each deliverer sends those items again with
  // the same idempotency keys (at least once, never lost).
  Result<void> recordAttempts(const std::vector<AttemptRecord>& attempts) override {
    if (attempts.empty()) return Ok();
    PendingAttempts mine{&attempts};
    std::unique_lock g(group_mu_);
    ++commit_stats_.calls;
    commit_stats_.records += attempts.size();
    queued_.push_back(&mine);
    // Someone else's commit may take mine; when none is under way and mine is not done,
    // it is still queued and this caller commits the queue.
    group_cv_.wait(g, [&] { return mine.done || !committing_; });
    if (mine.done) return mine.result;
    committing_ = true;
    std::vector<PendingAttempts*> group;
    group.swap(queued_);
    g.unlock();
    Result<void> r = commitAttempts(group);
    g.lock();
    ++commit_stats_.commits;
    if (!r) ++commit_stats_.failed_commits;
    for (PendingAttempts* p : group) {
      p->result = r;
      p->done = true;
    }
    committing_ = false;
    g.unlock();
    group_cv_.notify_all();
    return r;
  }

  AttemptCommitStats attemptCommitStats() override {
    std::lock_guard g(group_mu_);
    return commit_stats_;
  }

  Result<std::unique_ptr<WorkStore>> connect() override {
    auto db = openWorkConnection(path_, busy_timeout_);
    if (!db) return Unexpected(db.error());
    return std::unique_ptr<WorkStore>(new SqliteWorkStore(*db, path_, busy_timeout_, checkpointer_, recent_));
  }

  Result<std::vector<OutboxItem>> listOutbox(const OutboxFilter& filter) override {
    std::lock_guard lock(mu_);
    auto where = outboxWhere(filter);
    std::string sql = std::string("SELECT ") + kOutboxColumns + " FROM outbox" + where.sql + " ORDER BY id DESC";
    if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);
    auto q = Statement::prepare(db_, sql);
    if (!q) return Unexpected(q.error());
    bindWhere(*q, where);
    std::vector<OutboxItem> items;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) items.push_back(readOutbox(*q));
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "list outbox"));
    return items;
  }

  Result<OutboxItem> getOutbox(std::int64_t id) override {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kOutboxColumns +
                      ", COALESCE(payload, (SELECT raw FROM messages WHERE messages.id = outbox.message_id)),"
                      " last_response FROM outbox LEFT JOIN outbox_payload ON outbox_id = outbox.id"
                      " WHERE outbox.id = ?1";
    auto q = Statement::prepare(db_, sql);
    if (!q) return Unexpected(q.error());
    q->bindInt(1, id);
    int rc = sqlite3_step(q->get());
    if (rc == SQLITE_DONE) return Unexpected(Error(ErrorCode::kNotFound, "no outbox item " + std::to_string(id)));
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(db_, rc, "read outbox item"));
    OutboxItem o = readOutbox(*q);
    o.payload = q->blob(14);
    o.last_response = q->text(15);
    return o;
  }

  Result<std::int64_t> requeueOutbox(const OutboxFilter& filter) override {
    std::lock_guard lock(mu_);
    auto where = outboxWhere(filter);
    std::string sql = "UPDATE outbox SET state = 0, attempts = 0, next_attempt_at = " +
                      std::to_string(micros(std::chrono::system_clock::now())) + " WHERE id IN (SELECT id FROM outbox" +
                      where.sql + (where.sql.empty() ? " WHERE" : " AND") + " state != 0 ORDER BY id" +
                      (filter.limit > 0 ? " LIMIT " + std::to_string(filter.limit) : std::string()) + ")";
    auto q = Statement::prepare(db_, sql);
    if (!q) return Unexpected(q.error());
    bindWhere(*q, where);
    std::int64_t changed = 0;
    auto r = transaction([&]() -> Result<void> {
      if (auto s = step(*q, "requeue outbox items"); !s) return s;
      changed = sqlite3_changes(db_);
      return Ok();
    });
    if (!r) return Unexpected(r.error());
    return changed;
  }

  Result<std::vector<DestinationStats>> outboxStats() override {
    std::lock_guard lock(mu_);
    auto q = Statement::prepare(db_,
                                "SELECT destination, SUM(state = 0), SUM(state = 1), SUM(state = 2),"
                                " MIN(CASE WHEN state = 0 THEN created_at END) FROM outbox GROUP BY destination"
                                " ORDER BY destination");
    if (!q) return Unexpected(q.error());
    std::vector<DestinationStats> out;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
      DestinationStats d{q->text(0), q->integer(1), q->integer(2), q->integer(3), std::nullopt};
      if (sqlite3_column_type(q->get(), 4) != SQLITE_NULL) d.oldest_pending = fromMicros(q->integer(4));
      out.push_back(std::move(d));
    }
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "outbox stats"));
    return out;
  }

  Result<std::vector<WorklistItem>> listWorklist(std::optional<ReviewState> state, std::size_t limit) override {
    std::lock_guard lock(mu_);
    std::string sql = std::string("SELECT ") + kWorklistColumns + " FROM worklist";
    if (state) sql += *state == ReviewState::kOpen ? " WHERE state = 0" : " WHERE state = 1";
    sql += " ORDER BY id";
    if (limit > 0) sql += " LIMIT " + std::to_string(limit);
    auto q = Statement::prepare(db_, sql);
    if (!q) return Unexpected(q.error());
    std::vector<WorklistItem> out;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) out.push_back(readWorklist(*q));
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "list worklist"));
    return out;
  }

  Result<WorklistItem> getWorklist(std::int64_t id) override {
    std::lock_guard lock(mu_);
    return getWorklistLocked(id);
  }

  Result<void> resolveWorklist(std::int64_t id, const std::vector<std::string>& codes,
                               const std::string& reviewer) override {
    std::lock_guard lock(mu_);
    if (codes.empty()) return Unexpected(Error(ErrorCode::kInvalidArgument, "resolving a review item needs at least one code"));
    return transaction([&]() -> Result<void> {
      auto item = getWorklistLocked(id);
      if (!item) return Unexpected(item.error());
      if (item->state != ReviewState::kOpen) {
        return Unexpected(Error(ErrorCode::kInvalidArgument, "review item " + std::to_string(id) + " is already resolved"));
      }
      auto up = Statement::prepare(db_,
                                   "UPDATE worklist SET state = 1, resolved_codes = ?2, reviewer = ?3, resolved_at = ?4"
                                   " WHERE id = ?1");
      if (!up) return Unexpected(up.error());
      up->bindInt(1, id);
      const std::string joined = joinSpaces(codes);
      up->bindText(2, joined);
      up->bindText(3, reviewer);
      up->bindInt(4, micros(std::chrono::system_clock::now()));
      if (auto r = step(*up, "resolve review item"); !r) return r;
      // The last open item of the message: run the message again with these codes.
      auto rq = Statement::prepare(db_,
                                   "INSERT OR IGNORE INTO requeued(message_id) SELECT ?1 WHERE NOT EXISTS"
                                   " (SELECT 1 FROM worklist WHERE message_id = ?1 AND state = 0)");
      if (!rq) return Unexpected(rq.error());
      rq->bindInt(1, item->message_id);
      return step(*rq, "requeue message");
    });
  }

  Result<void> createSubscription(const SubscriptionRecord& sub) override {
    std::lock_guard lock(mu_);
    return transaction([&]() -> Result<void> {
      auto exists = Statement::prepare(db_, "SELECT 1 FROM subscriptions WHERE id = ?1");
      if (!exists) return Unexpected(exists.error());
      exists->bindText(1, sub.id);
      if (sqlite3_step(exists->get()) == SQLITE_ROW) {
        return Unexpected(Error(ErrorCode::kAlreadyExists, "subscription " + sub.id + " exists"));
      }
      auto q = Statement::prepare(db_,
                                  "INSERT INTO subscriptions(id, owner, json, status, reason, events_since_start,"
                                  " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)");
      if (!q) return Unexpected(q.error());
      q->bindText(1, sub.id);
      q->bindText(2, sub.owner);
      q->bindText(3, sub.json);
      q->bindText(4, sub.status);
      q->bindText(5, sub.reason);
      q->bindInt(6, static_cast<std::int64_t>(sub.events_since_start));
      q->bindInt(7, micros(std::chrono::system_clock::now()));
      return step(*q, "create subscription");
    });
  }

  Result<std::optional<SubscriptionRecord>> getSubscription(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto q = Statement::prepare(db_, std::string("SELECT ") + kSubscriptionColumns + " FROM subscriptions WHERE id = ?1");
    if (!q) return Unexpected(q.error());
    q->bindText(1, id);
    int rc = sqlite3_step(q->get());
    if (rc == SQLITE_DONE) return std::optional<SubscriptionRecord>();
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(db_, rc, "read subscription"));
    return std::optional<SubscriptionRecord>(readSubscription(*q));
  }

  Result<std::vector<SubscriptionRecord>> listSubscriptions() override {
    std::lock_guard lock(mu_);
    auto q = Statement::prepare(db_, std::string("SELECT ") + kSubscriptionColumns + " FROM subscriptions ORDER BY id");
    if (!q) return Unexpected(q.error());
    std::vector<SubscriptionRecord> out;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) out.push_back(readSubscription(*q));
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "list subscriptions"));
    return out;
  }

  Result<void> updateSubscription(const std::string& id, const std::string& status, const std::string& reason,
                                  const std::string& json) override {
    std::lock_guard lock(mu_);
    auto q = Statement::prepare(db_,
                                "UPDATE subscriptions SET status = ?2, reason = ?3, updated_at = ?4,"
                                " json = CASE WHEN ?5 = '' THEN json ELSE ?5 END WHERE id = ?1");
    if (!q) return Unexpected(q.error());
    q->bindText(1, id);
    q->bindText(2, status);
    q->bindText(3, reason);
    q->bindInt(4, micros(std::chrono::system_clock::now()));
    q->bindText(5, json);
    return transaction([&]() -> Result<void> {
      if (auto r = step(*q, "update subscription"); !r) return r;
      if (sqlite3_changes(db_) == 0) return Unexpected(Error(ErrorCode::kNotFound, "no subscription " + id));
      return Ok();
    });
  }

  Result<bool> deleteSubscription(const std::string& id) override {
    std::lock_guard lock(mu_);
    bool existed = false;
    auto r = transaction([&]() -> Result<void> {
      auto del = Statement::prepare(db_, "DELETE FROM subscriptions WHERE id = ?1");
      if (!del) return Unexpected(del.error());
      del->bindText(1, id);
      if (auto s = step(*del, "delete subscription"); !s) return s;
      existed = sqlite3_changes(db_) > 0;
      for (const char* sql : {"DELETE FROM subscription_events WHERE subscription_id = ?1",
                              "DELETE FROM outbox_payload WHERE outbox_id IN (SELECT id FROM outbox"
                              " WHERE destination = 'subscription/' || ?1 AND state = 0)",
                              "DELETE FROM outbox WHERE destination = 'subscription/' || ?1 AND state = 0"}) {
        auto q = Statement::prepare(db_, sql);
        if (!q) return Unexpected(q.error());
        q->bindText(1, id);
        if (auto s = step(*q, "delete subscription data"); !s) return s;
      }
      return Ok();
    });
    if (!r) return Unexpected(r.error());
    recent_->forget("subscription/" + id);  // its pending items are gone, their ids free again
    return existed;
  }

  Result<std::vector<SubscriptionEventRecord>> subscriptionEvents(const std::string& id, std::uint64_t from,
                                                                  std::uint64_t to, std::size_t limit) override {
    std::lock_guard lock(mu_);
    std::string sql =
        "SELECT subscription_id, event_number, message_id, notification, created_at FROM subscription_events"
        " WHERE subscription_id = ?1 AND event_number >= ?2 AND event_number <= ?3 ORDER BY event_number";
    if (limit > 0) sql += " LIMIT " + std::to_string(limit);
    auto q = Statement::prepare(db_, sql);
    if (!q) return Unexpected(q.error());
    q->bindText(1, id);
    q->bindInt(2, static_cast<std::int64_t>(std::min<std::uint64_t>(from, kMaxInt64)));
    q->bindInt(3, static_cast<std::int64_t>(std::min<std::uint64_t>(to, kMaxInt64)));
    std::vector<SubscriptionEventRecord> out;
    int rc;
    while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
      out.push_back(SubscriptionEventRecord{q->text(0), static_cast<std::uint64_t>(q->integer(1)), q->integer(2),
                                            q->text(3), fromMicros(q->integer(4))});
    }
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "read subscription events"));
    return out;
  }

  Result<void> enqueue(const std::vector<OutboxEntry>& entries) override {
    std::lock_guard lock(mu_);
    if (entries.empty()) return Ok();
    Written<const OutboxEntry> written;
    auto committed = transaction([&]() -> Result<void> {
      const std::int64_t now = micros(std::chrono::system_clock::now());
      auto outbox = Statement::prepare(
          db_,
          "INSERT OR IGNORE INTO outbox(destination, message_id, route, patient_key, idempotency_key, content_type,"
          " file_name, state, created_at, next_attempt_at) VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)");
      auto payload = Statement::prepare(db_, kInsertPayload);
      if (!outbox) return Unexpected(outbox.error());
      if (!payload) return Unexpected(payload.error());
      for (const auto& e : entries) {
        outbox->bindText(1, e.destination);
        outbox->bindText(2, e.route);
        outbox->bindText(3, e.patient_key);
        outbox->bindText(4, e.idempotency_key);
        outbox->bindText(5, e.content_type);
        outbox->bindText(6, e.file_name);
        outbox->bindInt(7, now);
        if (auto r = step(*outbox, "enqueue"); !r) return r;
        if (auto r = insertPayload(*payload, e, written, /*message_known=*/false); !r) return r;
      }
      return Ok();
    });
    if (committed) keepRecent(written);
    return committed;
  }

 private:
  // The payload of the outbox row just inserted (migration 7: payloads live apart, so a
  // recorded attempt rewrites a small row). Nothing when INSERT OR IGNORE met an item with
  // the same idempotency key: that item keeps its payload. Nothing either for an item whose
  // payload is its message as stored (completeInbox only): kReadPayload reads it from
  // `messages`, one copy of those bytes in the file instead of two.
  static constexpr const char* kInsertPayload = "INSERT INTO outbox_payload(outbox_id, payload) VALUES (?1, ?2)";
  static constexpr const char* kReadPayload =
      "SELECT COALESCE((SELECT payload FROM outbox_payload WHERE outbox_id = ?1),"
      " (SELECT raw FROM messages WHERE id = ?2))";
  // The items written in the transaction under way (with their ids), for recent_ once it
  // commits.
  template <typename Entry>
  using Written = std::vector<std::pair<Entry*, std::int64_t>>;
  template <typename Entry>
  Result<void> insertPayload(Statement& insert, Entry& e, Written<Entry>& written, bool message_known) {
    if (sqlite3_changes(db_) == 0) return Ok();
    const std::int64_t id = sqlite3_last_insert_rowid(db_);
    if (!(message_known && e.payload_is_message)) {
      insert.bindInt(1, id);
      insert.bindBlob(2, e.payload);
      if (auto r = step(insert, "enqueue payload"); !r) return r;
    }
    written.emplace_back(&e, id);
    return Ok();
  }
  // After the COMMIT: the deliverers take these payloads from memory (recent_payloads.h),
  // moved out of the caller's entries when it gave them up, copied when it keeps them.
  template <typename Entry>
  void keepRecent(const Written<Entry>& written) {
    for (const auto& [e, id] : written) {
      if constexpr (std::is_const_v<Entry>) {
        recent_->put(e->destination, id, e->idempotency_key, e->payload);
      } else {
        recent_->put(e->destination, id, e->idempotency_key, std::move(e->payload));
      }
    }
  }

  Result<void> readInbox(Statement& q, bool requeued, std::vector<InboxItem>& items) {
    int rc;
    while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
      InboxItem item;
      item.id = q.integer(0);
      item.raw = q.blob(1);
      item.listener = q.text(2);
      item.patient_id = q.text(3);
      item.requeued = requeued;
      items.push_back(std::move(item));
    }
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db_, rc, "read inbox"));
    return Ok();
  }

  Result<WorklistItem> getWorklistLocked(std::int64_t id) {
    std::string sql = std::string("SELECT ") + kWorklistColumns + " FROM worklist WHERE id = ?1";
    auto q = Statement::prepare(db_, sql);
    if (!q) return Unexpected(q.error());
    q->bindInt(1, id);
    int rc = sqlite3_step(q->get());
    if (rc == SQLITE_DONE) return Unexpected(Error(ErrorCode::kNotFound, "no review item " + std::to_string(id)));
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(db_, rc, "read review item"));
    return readWorklist(*q);
  }

  Result<void> step(Statement& s, std::string_view what) {
    int rc = sqlite3_step(s.get());
    s.reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Unexpected(sqliteError(db_, rc, what));
    return Ok();
  }

  // In the file's write turn (see WalCheckpointer): waits for the process's other writers
  // of the file and the checkpointer's last copy instead of SQLite's busy sleeps. Every
  // write of this connection goes through here.
  template <typename F>
  Result<void> transaction(F&& body) {
    WalCheckpointer::WriteScope turn(*checkpointer_);
    if (auto r = exec(db_, "BEGIN IMMEDIATE"); !r) return r;
    auto r = body();
    if (!r) {
      (void)exec(db_, "ROLLBACK");
      return r;
    }
    if (auto c = exec(db_, "COMMIT"); !c) {
      (void)exec(db_, "ROLLBACK");
      return c;
    }
    return Ok();
  }

  // One round's records waiting for a group commit (recordAttempts).
  struct PendingAttempts {
    const std::vector<AttemptRecord>* records;
    bool done = false;
    Result<void> result{};
  };

  // One transaction for the whole group (one fdatasync), on the store's connection.
  Result<void> commitAttempts(const std::vector<PendingAttempts*>& group) {
    std::lock_guard lock(mu_);
    return transaction([&]() -> Result<void> {
      const std::int64_t now = micros(std::chrono::system_clock::now());
      auto up = cached(record_,
                       "UPDATE outbox SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3,"
                       " last_error = ?4, last_response = ?5,"
                       " delivered_at = CASE WHEN ?2 = 1 THEN ?6 ELSE delivered_at END WHERE id = ?1");
      if (!up) return Unexpected(up.error());
      Statement& st = **up;
      ResetOnExit done{st};
      for (const PendingAttempts* p : group) {
        for (const auto& a : *p->records) {
          st.bindInt(1, a.outbox_id);
          st.bindInt(2, static_cast<std::int64_t>(a.new_state));
          st.bindInt(3, micros(a.next_attempt_at));
          st.bindText(4, a.error);
          st.bindText(5, a.response);
          st.bindInt(6, now);
          if (auto r = step(st, "record delivery attempt"); !r) return r;
        }
      }
      return Ok();
    });
  }

  // completeInbox's statements, prepared once per connection (the pipeline calls it for
  // every batch).
  Result<void> prepareComplete() {
    CompleteStatements& c = complete_;
    const std::pair<Statement*, std::string_view> all[] = {
        {&c.outcome,
         "INSERT OR REPLACE INTO message_outcomes(message_id, outcome, detail, codes, processed_at)"
         " VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&c.enqueue,
         "INSERT OR IGNORE INTO outbox(destination, message_id, route, patient_key, idempotency_key, content_type,"
         " file_name, state, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)"},
        {&c.payload, kInsertPayload},
        {&c.review,
         "INSERT INTO worklist(message_id, kind, item_index, source, reason, query, suggestions, created_at)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
         // A reviewer's codes that did not hold (invalid for the date): the item opens
         // again, saying why.
         " ON CONFLICT(message_id, kind, item_index) DO UPDATE SET state = 0, reason = excluded.reason,"
         " query = excluded.query, suggestions = excluded.suggestions, resolved_at = NULL"},
        {&c.unqueue, "DELETE FROM requeued WHERE message_id = ?1"},
        {&c.event,
         "INSERT OR IGNORE INTO subscription_events(subscription_id, event_number, message_id, notification,"
         " created_at) VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&c.counter, "UPDATE subscriptions SET events_since_start = MAX(events_since_start, ?2) WHERE id = ?1"},
        {&c.mark, "UPDATE pipeline_state SET processed_through = MAX(processed_through, ?1)"},
    };
    for (const auto& [slot, sql] : all) {
      if (auto r = cached(*slot, sql); !r) return Unexpected(r.error());
    }
    return Ok();
  }

  // A statement prepared once on db_ (under mu_), kept in `slot`.
  Result<Statement*> cached(Statement& slot, std::string_view sql) {
    if (slot.get() == nullptr) {
      auto q = Statement::prepare(db_, sql);
      if (!q) return Unexpected(q.error());
      slot = std::move(*q);
    }
    return &slot;
  }
  // Resets a kept statement and drops its bindings (they point into the caller's strings).
  struct ResetOnExit {
    Statement& s;
    ~ResetOnExit() {
      s.reset();
      sqlite3_clear_bindings(s.get());
    }
  };

  std::mutex mu_;
  sqlite3* db_;
  std::filesystem::path path_;                     // for connect()
  std::chrono::milliseconds busy_timeout_;
  std::shared_ptr<WalCheckpointer> checkpointer_;  // shared with connect()'s stores
  std::shared_ptr<RecentPayloads> recent_;         // likewise
  // The deliverers' per-round statements (dueItems, commitAttempts), finalized before db_
  // is closed.
  Statement due_, payload_, record_;
  // completeInbox's statements (the pipeline's batches).
  struct CompleteStatements {
    Statement outcome, enqueue, payload, review, unqueue, event, counter, mark;
  } complete_;
  Statement next_requeued_, next_new_;  // nextInbox's
  // recordAttempts' group commit: group_mu_ guards the queue and the stats; the group's
  // leader (committing_) takes mu_ for the commit without holding group_mu_.
  std::mutex group_mu_;
  std::condition_variable group_cv_;
  std::vector<PendingAttempts*> queued_;
  bool committing_ = false;
  AttemptCommitStats commit_stats_;
};

}  // namespace

Result<std::unique_ptr<WorkStore>> openSqliteWorkStore(const WorkStoreOptions& options) {
  auto db = openWorkConnection(options.path, options.busy_timeout);
  if (!db) return Unexpected(db.error());
  auto checkpointer = WalCheckpointer::forFile(options.path, options.busy_timeout);
  if (!checkpointer) {
    sqlite3_close_v2(*db);
    return Unexpected(checkpointer.error());
  }
  return std::unique_ptr<WorkStore>(new SqliteWorkStore(*db, options.path, options.busy_timeout,
                                                        std::move(*checkpointer), std::make_shared<RecentPayloads>()));
}

}  // namespace courier::store

// PostgresStore implementation: one writer thread doing grouped commits on its own
// connection, a completion thread for callbacks, a small pool of read connections. See
// postgres_store.h for the contract.
#include "engine/store/postgres_store.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/core/log.h"
#include "engine/store/pg_util.h"

namespace courier::store {
namespace {

using Micros = std::chrono::microseconds;

std::int64_t toMicros(TimePoint t) { return std::chrono::duration_cast<Micros>(t.time_since_epoch()).count(); }
TimePoint fromMicros(std::int64_t us) { return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Micros(us))); }

// Schema, one entry per version; never edit an entry that has shipped. The columns are
// those of SQLite's messages table. received_at: microseconds since the Unix epoch, UTC
// (as in SQLite), with a BRIN index: a few pages to maintain per thousands of rows, and
// ids and times grow together. The patient index is a plain B-tree: PostgreSQL keeps it
// cheaply enough on the commit path (SQLite moved it to a sidecar).
constexpr const char* kMigrations[] = {
    // 1: the inbox / message archive.
    R"sql(
CREATE TABLE messages (
  id                  BIGSERIAL PRIMARY KEY,
  received_at         BIGINT NOT NULL,
  listener            TEXT   NOT NULL,
  peer_identity       TEXT   NOT NULL,
  message_type        TEXT   NOT NULL,
  trigger_event       TEXT   NOT NULL,
  control_id          TEXT,                    -- NULL when absent (never a duplicate)
  sending_application TEXT   NOT NULL,
  sending_facility    TEXT   NOT NULL,
  patient_id          TEXT,
  ack_mode            TEXT   NOT NULL,         -- 'original' | 'enhanced'
  ack_code            TEXT   NOT NULL,
  status              TEXT   NOT NULL DEFAULT 'received',
  duplicates          BIGINT NOT NULL DEFAULT 0,
  size_bytes          BIGINT NOT NULL,
  raw                 BYTEA  NOT NULL
);
CREATE UNIQUE INDEX messages_dedup ON messages(control_id, sending_facility);
CREATE INDEX messages_received_at ON messages USING brin (received_at);
CREATE INDEX messages_patient ON messages(patient_id) WHERE patient_id IS NOT NULL;
CREATE TABLE store_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO store_counters(name, value) VALUES ('duplicates', 0);
)sql",
};
constexpr int kLatestVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
static_assert(kLatestVersion == PostgresStore::kSchemaVersion);

// Serializes migrations of nodes starting together (pg_advisory_xact_lock key: "cour").
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(1668248946)";

constexpr const char* kSummaryColumns =
    "id, received_at, listener, peer_identity, message_type, trigger_event, COALESCE(control_id, ''), "
    "sending_application, sending_facility, COALESCE(patient_id, ''), ack_mode, ack_code, status, duplicates, "
    "size_bytes";

// One multi-row INSERT per chunk of a group; prepared once per connection for each size.
constexpr std::size_t kInsertRows[] = {1, 16, 256};
constexpr const char* kInsertNames[] = {"insert1", "insert16", "insert256"};
constexpr int kInsertColumns = 14;

std::string insertSql(std::size_t rows) {
  std::string sql =
      "INSERT INTO messages(id, received_at, listener, peer_identity, message_type, trigger_event, control_id, "
      "sending_application, sending_facility, patient_id, ack_mode, ack_code, size_bytes, raw) VALUES ";
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 1; c <= kInsertColumns; ++c) {
      if (c > 1) sql += ',';
      sql += '$';
      sql += std::to_string(r * kInsertColumns + static_cast<std::size_t>(c));
    }
    sql += ')';
  }
  sql += " ON CONFLICT (control_id, sending_facility) DO NOTHING RETURNING id";
  return sql;
}

struct Pending {
  InboundMessage msg;
  SubmitCallback done;
  std::chrono::steady_clock::time_point enqueued;
};

struct Completion {
  SubmitCallback done;
  Result<StoreReceipt> result;
};

// Up to `size` read connections, opened on demand; a broken one is dropped.
class ReadPool {
 public:
  ReadPool(std::string conninfo, std::size_t size) : conninfo_(std::move(conninfo)), size_(std::max<std::size_t>(size, 1)) {}

  // Runs `fn(conn)` on a pooled connection (blocking while all are busy).
  template <typename T, typename F>
  Result<T> with(F&& fn) {
    pg::Conn conn;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (conn == nullptr) {
      auto c = pg::connect(conninfo_, "courier-read");
      if (!c) {
        release(nullptr);
        return Unexpected(c.error());
      }
      conn = std::move(*c);
    }
    Result<T> r = fn(conn.get());
    if (!r && PQstatus(conn.get()) != CONNECTION_OK) {
      // An idle connection the server closed (restart, failover) is noticed only now:
      // reads are idempotent, so try once more on a new one.
      auto fresh = pg::connect(conninfo_, "courier-read");
      conn.reset();
      if (fresh) {
        conn = std::move(*fresh);
        r = fn(conn.get());
      }
    }
    if (conn != nullptr && PQstatus(conn.get()) != CONNECTION_OK) conn.reset();
    release(std::move(conn));
    return r;
  }

 private:
  void release(pg::Conn conn) {
    {
      std::lock_guard lock(mu_);
      if (conn != nullptr) idle_.push_back(std::move(conn));
      else --open_;
    }
    cv_.notify_one();
  }

  const std::string conninfo_;
  const std::size_t size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pg::Conn> idle_;
  std::size_t open_ = 0;  // connections existing (idle or lent)
};

MessageSummary readSummary(const PGresult* r, int row) {
  MessageSummary m;
  m.id = pg::integer(r, row, 0);
  m.received_at = fromMicros(pg::integer(r, row, 1));
  m.listener = pg::text(r, row, 2);
  m.peer_identity = pg::text(r, row, 3);
  m.message_type = pg::text(r, row, 4);
  m.trigger = pg::text(r, row, 5);
  m.control_id = pg::text(r, row, 6);
  m.sending_application = pg::text(r, row, 7);
  m.sending_facility = pg::text(r, row, 8);
  m.patient_id = pg::text(r, row, 9);
  m.ack_mode = pg::text(r, row, 10) == "enhanced" ? AckMode::kEnhanced : AckMode::kOriginal;
  m.ack_code = parseAckCode(pg::text(r, row, 11)).value_or(AckCode::kAA);
  const std::string status = pg::text(r, row, 12);
  for (MessageStatus st :
       {MessageStatus::kReceived, MessageStatus::kProcessing, MessageStatus::kProcessed, MessageStatus::kFailed}) {
    if (messageStatusName(st) == status) m.status = st;
  }
  m.duplicates = pg::integer(r, row, 13);
  m.size_bytes = static_cast<std::size_t>(pg::integer(r, row, 14));
  return m;
}

class PostgresStoreImpl final : public PostgresStore {
 public:
  explicit PostgresStoreImpl(PostgresStoreOptions options)
      : options_(std::move(options)), log_(logger("store")), readers_(options_.conninfo, options_.pool) {}

  ~PostgresStoreImpl() override { close(); }

  Result<void> init() {
    auto conn = pg::connect(options_.conninfo, "courier-store");
    if (!conn) return Unexpected(conn.error());
    if (!options_.start_writer) {
      auto v = schemaVersion(conn->get());
      if (!v) return Unexpected(v.error());
      if (*v == 0) return Unexpected(Error(ErrorCode::kNotFound, "no message store in this database"));
      if (*v > kLatestVersion) return Unexpected(newerSchema(*v));
      return Ok();
    }
    if (auto m = migrate(conn->get()); !m) return m;
    if (auto p = prepareWriter(conn->get()); !p) return p;
    writer_ = std::move(*conn);
    ++connects_;
    accepting_ = true;
    completer_ = std::thread([this] { complete(); });
    completer_id_ = completer_.get_id();
    thread_ = std::thread([this] {
      run();
      {
        std::lock_guard lock(done_mu_);
        writer_finished_ = true;
      }
      done_cv_.notify_all();
    });
    writer_id_ = thread_.get_id();
    return Ok();
  }

  void submit(InboundMessage msg, SubmitCallback done) override {
    {
      std::unique_lock lock(mu_);
      if (accepting_ && queue_.size() < options_.max_pending) {
        queue_.push_back(Pending{std::move(msg), std::move(done), std::chrono::steady_clock::now()});
        lock.unlock();
        cv_.notify_one();
        return;
      }
    }
    bool closed = !accepting_.load();
    done(Unexpected(Error(ErrorCode::kUnavailable,
                          closed ? "the message store is closed" : "the message store is overloaded")));
  }

  Result<std::vector<MessageSummary>> list(const MessageFilter& filter) override {
    std::string sql = std::string("SELECT ") + kSummaryColumns + " FROM messages WHERE true";
    pg::Params p;
    auto arg = [&] { return "$" + std::to_string(p.count()); };
    std::string type = filter.message_type, trigger;
    if (auto caret = type.find('^'); caret != std::string::npos) {
      trigger = type.substr(caret + 1);
      type.resize(caret);
    }
    std::string control_id = filter.control_id, patient_id = filter.patient_id, facility = filter.sending_facility;
    for (std::string* s : {&type, &trigger, &control_id, &patient_id, &facility}) pg::makeValidText(*s);
    if (filter.since) {
      p.integer(toMicros(*filter.since));
      sql += " AND received_at >= " + arg();
    }
    if (filter.until) {
      p.integer(toMicros(*filter.until));
      sql += " AND received_at < " + arg();
    }
    auto text = [&](const char* column, const std::string& value) {
      if (value.empty()) return;
      p.view(value);
      sql += std::string(" AND ") + column + " = " + arg();
    };
    text("message_type", type);
    text("trigger_event", trigger);
    text("control_id", control_id);
    text("patient_id", patient_id);
    text("sending_facility", facility);
    if (filter.before_id) {
      p.integer(*filter.before_id);
      sql += " AND id < " + arg();
    }
    sql += " ORDER BY id DESC";
    if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);
    return readers_.with<std::vector<MessageSummary>>([&](PGconn* c) -> Result<std::vector<MessageSummary>> {
      auto rows = pg::exec(c, sql, p, "list messages");
      if (!rows) return Unexpected(rows.error());
      std::vector<MessageSummary> out;
      out.reserve(static_cast<std::size_t>(PQntuples(rows->get())));
      for (int i = 0; i < PQntuples(rows->get()); ++i) out.push_back(readSummary(rows->get(), i));
      return out;
    });
  }

  Result<StoredMessage> get(MessageId id) override {
    return readers_.with<StoredMessage>([&](PGconn* c) -> Result<StoredMessage> {
      pg::Params p;
      p.integer(id);
      auto rows = pg::exec(c, std::string("SELECT ") + kSummaryColumns + ", raw FROM messages WHERE id = $1", p,
                           "get message");
      if (!rows) return Unexpected(rows.error());
      if (PQntuples(rows->get()) == 0) {
        return Unexpected(Error(ErrorCode::kNotFound, "no message with id " + std::to_string(id)));
      }
      StoredMessage m;
      m.summary = readSummary(rows->get(), 0);
      m.raw = pg::bytea(rows->get(), 0, 15);
      return m;
    });
  }

  Result<std::int64_t> duplicateCount() override {
    return readers_.with<std::int64_t>([&](PGconn* c) -> Result<std::int64_t> {
      auto rows = pg::exec(c, "SELECT value FROM store_counters WHERE name = 'duplicates'", "count duplicates");
      if (!rows) return Unexpected(rows.error());
      if (PQntuples(rows->get()) == 0) return std::int64_t{0};
      return pg::integer(rows->get(), 0, 0);
    });
  }

  void close() override {
    {
      std::lock_guard lock(mu_);
      accepting_ = false;
      closing_ = true;
    }
    cv_.notify_all();
    // From a callback (a store thread itself): stop taking input; a later close() or the
    // destructor joins.
    auto self = std::this_thread::get_id();
    if (self == writer_id_ || self == completer_id_) return;
    std::lock_guard join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();        // every group committed or failed
    if (completer_.joinable()) completer_.join();  // every callback ran
    writer_.reset();
  }

  PostgresStoreStats stats() const override {
    PostgresStoreStats s;
    s.commits = commits_.load();
    s.failed_commits = failed_commits_.load();
    s.messages_stored = stored_.load();
    s.duplicates = duplicates_.load();
    s.largest_batch = largest_batch_.load();
    s.connects = connects_.load();
    return s;
  }

 private:
  // 0 when the database has no store yet.
  static Result<int> schemaVersion(PGconn* c) {
    auto exists = pg::exec(c, "SELECT to_regclass('schema_version') IS NOT NULL", "read schema version");
    if (!exists) return Unexpected(exists.error());
    if (pg::text(exists->get(), 0, 0) != "t") return 0;
    auto v = pg::exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", "read schema version");
    if (!v) return Unexpected(v.error());
    return static_cast<int>(pg::integer(v->get(), 0, 0));
  }

  static Error newerSchema(int version) {
    return Error(ErrorCode::kUnsupported, "the message store has schema version " + std::to_string(version) +
                                              ", newer than this program supports (" +
                                              std::to_string(kLatestVersion) + ")");
  }

  Result<void> migrate(PGconn* c) {
    int from = 0;
    auto r = pg::transaction(c, [&]() -> Result<void> {
      if (auto l = pg::exec(c, kMigrationLock, "lock for migration"); !l) return Unexpected(l.error());
      if (auto t = pg::exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                            "create schema_version");
          !t) {
        return Unexpected(t.error());
      }
      auto v = schemaVersion(c);
      if (!v) return Unexpected(v.error());
      from = *v;
      if (from > kLatestVersion) return Unexpected(newerSchema(from));
      for (int next = from; next < kLatestVersion; ++next) {
        if (auto m = pg::exec(c, kMigrations[next], "migrate"); !m) return Unexpected(m.error());
        std::string record = "INSERT INTO schema_version(version) VALUES (" + std::to_string(next + 1) + ")";
        if (auto m = pg::exec(c, record.c_str(), "record schema version"); !m) return Unexpected(m.error());
      }
      return Ok();
    });
    if (r && from < kLatestVersion) log_->info("message store schema migrated from version {} to {}", from, kLatestVersion);
    return r;
  }

  static Result<void> prepareWriter(PGconn* c) {
    for (std::size_t i = 0; i < std::size(kInsertRows); ++i) {
      if (auto r = pg::prepare(c, kInsertNames[i], insertSql(kInsertRows[i]), "prepare insert"); !r) return r;
    }
    if (auto r = pg::prepare(c, "ids", "SELECT nextval('messages_id_seq') FROM generate_series(1, $1::int)",
                             "prepare ids");
        !r) {
      return r;
    }
    if (auto r = pg::prepare(c, "dup",
                             "UPDATE messages SET duplicates = duplicates + 1 WHERE control_id = $1 AND "
                             "sending_facility = $2 RETURNING id, ack_code",
                             "prepare duplicate");
        !r) {
      return r;
    }
    return pg::prepare(c, "counter", "UPDATE store_counters SET value = value + $1 WHERE name = 'duplicates'",
                       "prepare counter");
  }

  // ---- the completion thread ---------------------------------------------------------

  void complete() {
    pthread_setname_np(pthread_self(), "courier-cb");
    for (;;) {
      std::vector<Completion> items;
      {
        std::unique_lock lock(done_mu_);
        done_cv_.wait(lock, [&] { return !done_queue_.empty() || writer_finished_; });
        if (done_queue_.empty()) return;
        items = std::move(done_queue_.front());
        done_queue_.pop_front();
      }
      for (auto& c : items) c.done(std::move(c.result));
    }
  }

  void deliver(std::vector<Completion> items) {
    {
      std::lock_guard lock(done_mu_);
      done_queue_.push_back(std::move(items));
    }
    done_cv_.notify_one();
  }

  // ---- the writer thread ------------------------------------------------------------

  void run() {
    pthread_setname_np(pthread_self(), "courier-store");
    std::vector<Pending> batch;
    batch.reserve(options_.max_batch);
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) break;  // closing and drained
        if (queue_.size() < options_.max_batch && options_.max_delay.count() > 0 && !closing_) {
          auto deadline = queue_.front().enqueued + options_.max_delay;
          cv_.wait_until(lock, deadline, [&] { return queue_.size() >= options_.max_batch || closing_; });
        }
        std::size_t n = std::min(queue_.size(), options_.max_batch);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      commitGroup(batch);
      batch.clear();
    }
  }

  void commitGroup(std::vector<Pending>& batch) {
    std::vector<Result<StoreReceipt>> results;
    results.reserve(batch.size());
    std::uint64_t dups = 0;
    Result<void> outcome = writeGroup(batch, results, dups);
    if (outcome) {
      ++commits_;
      stored_ += batch.size() - dups;
      duplicates_ += dups;
      std::uint64_t size = batch.size(), prev = largest_batch_.load();
      while (size > prev && !largest_batch_.compare_exchange_weak(prev, size)) {
      }
      if (failing_) {
        failing_ = false;
        log_->info("message store recovered; commits succeed again");
      }
      std::vector<Completion> items;
      items.reserve(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) items.push_back({std::move(batch[i].done), std::move(results[i])});
      deliver(std::move(items));
      return;
    }
    ++failed_commits_;
    if (!failing_) {
      failing_ = true;
      log_->warn("message store commit failed ({} messages answered as unavailable): {}", batch.size(),
                 outcome.error().message);
    } else {
      log_->debug("message store commit failed again ({} messages): {}", batch.size(), outcome.error().message);
    }
    if (writer_ != nullptr && PQstatus(writer_.get()) != CONNECTION_OK) writer_.reset();  // reconnect next group
    Error e(ErrorCode::kUnavailable, "the message could not be stored: " + outcome.error().message);
    std::vector<Completion> items;
    items.reserve(batch.size());
    for (auto& p : batch) items.push_back({std::move(p.done), Unexpected(e)});
    deliver(std::move(items));
  }

  Result<void> ensureWriter() {
    if (writer_ != nullptr) return Ok();
    auto now = std::chrono::steady_clock::now();
    if (last_connect_failure_ && now - *last_connect_failure_ < options_.reconnect_interval) {
      return Unexpected(Error(ErrorCode::kUnavailable, "no connection to the database (retrying shortly)"));
    }
    auto conn = pg::connect(options_.conninfo, "courier-store");
    Result<void> ready = conn ? migrate(conn->get()) : Result<void>(Unexpected(conn.error()));
    if (ready) ready = prepareWriter(conn->get());
    if (!ready) {
      last_connect_failure_ = now;
      return ready;
    }
    last_connect_failure_.reset();
    writer_ = std::move(*conn);
    ++connects_;
    log_->info("message store connected to the database");
    return Ok();
  }

  // One transaction for the whole group; on success `results` holds one receipt per
  // message. Ids come from the sequence before BEGIN (a rolled-back group leaves a gap,
  // as a duplicate does), so the multi-row INSERT tells which rows it stored.
  Result<void> writeGroup(std::vector<Pending>& batch, std::vector<Result<StoreReceipt>>& results,
                          std::uint64_t& dups) {
    if (auto r = ensureWriter(); !r) return r;
    PGconn* c = writer_.get();
    pg::Params count;
    count.integer(static_cast<std::int64_t>(batch.size()));
    auto ids_rows = pg::execPrepared(c, "ids", count, "allocate ids");
    if (!ids_rows && PQstatus(c) != CONNECTION_OK) {
      // The server closed the connection while it was idle (restart, failover). Nothing
      // was written yet: connect again and carry on with this group.
      writer_.reset();
      if (auto r = ensureWriter(); !r) return r;
      c = writer_.get();
      ids_rows = pg::execPrepared(c, "ids", count, "allocate ids");
    }
    if (!ids_rows) return Unexpected(ids_rows.error());
    if (static_cast<std::size_t>(PQntuples(ids_rows->get())) != batch.size()) {
      return Unexpected(Error(ErrorCode::kUnavailable, "allocate ids: wrong number of ids"));
    }
    std::vector<MessageId> ids(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) ids[i] = pg::integer(ids_rows->get(), static_cast<int>(i), 0);
    std::sort(ids.begin(), ids.end());  // submission order = id order within a group
    ids_rows->reset();

    for (Pending& p : batch) {
      InboundMessage& m = p.msg;
      for (std::string* s : {&m.listener, &m.peer_identity, &m.message_type, &m.trigger, &m.control_id,
                             &m.sending_application, &m.sending_facility, &m.patient_id}) {
        pg::makeValidText(*s);
      }
    }
    return pg::transaction(c, [&]() -> Result<void> {
      std::unordered_set<MessageId> inserted;
      inserted.reserve(batch.size() * 2);
      for (std::size_t done = 0; done < batch.size();) {
        const std::size_t left = batch.size() - done;
        std::size_t which = left >= kInsertRows[2] ? 2 : left >= kInsertRows[1] ? 1 : 0;
        const std::size_t rows = kInsertRows[which];
        pg::Params p;
        for (std::size_t r = 0; r < rows; ++r) bindRow(p, ids[done + r], batch[done + r].msg);
        auto ins = pg::execPrepared(c, kInsertNames[which], p, "insert messages");
        if (!ins) return Unexpected(ins.error());
        for (int i = 0; i < PQntuples(ins->get()); ++i) inserted.insert(pg::integer(ins->get(), i, 0));
        done += rows;
      }
      dups = 0;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (inserted.count(ids[i]) != 0) {
          results.push_back(StoreReceipt{ids[i], false, AckCode::kAA});
          continue;
        }
        // Not inserted: the dedup key exists (in an earlier commit, another node's, or this
        // group). The first copy's counter goes up and its ACK code is answered again.
        const InboundMessage& m = batch[i].msg;
        pg::Params key;
        key.view(m.control_id);
        key.view(m.sending_facility);
        auto first = m.control_id.empty() ? Result<pg::Rows>(Unexpected(Error(ErrorCode::kUnavailable, "not stored")))
                                          : pg::execPrepared(c, "dup", key, "count duplicate");
        if (!first) return Unexpected(first.error());
        if (PQntuples(first->get()) != 1) {
          return Unexpected(Error(ErrorCode::kUnavailable, "a message was not stored and has no first copy"));
        }
        results.push_back(StoreReceipt{pg::integer(first->get(), 0, 0), true,
                                       parseAckCode(pg::text(first->get(), 0, 1)).value_or(AckCode::kAA)});
        ++dups;
      }
      if (dups > 0) {
        pg::Params n;
        n.integer(static_cast<std::int64_t>(dups));
        if (auto r = pg::execPrepared(c, "counter", n, "count duplicates"); !r) return Unexpected(r.error());
      }
      return Ok();
    });
  }

  // Binds one row of an insert. Integers are text parameters; raw is binary (BYTEA).
  static void bindRow(pg::Params& p, MessageId id, const InboundMessage& m) {
    p.integer(id);
    p.integer(toMicros(m.received_at));
    p.view(m.listener);
    p.view(m.peer_identity);
    p.view(m.message_type);
    p.view(m.trigger);
    p.viewOrNull(m.control_id);
    p.view(m.sending_application);
    p.view(m.sending_facility);
    p.viewOrNull(m.patient_id);
    p.view(m.ack_mode == AckMode::kEnhanced ? kEnhanced : kOriginal);
    p.view(m.ack_mode == AckMode::kEnhanced ? kCa : kAa);
    p.integer(static_cast<std::int64_t>(m.raw.size()));
    p.binary(m.raw);
  }

  static inline const std::string kEnhanced = "enhanced", kOriginal = "original", kCa = "CA", kAa = "AA";

  PostgresStoreOptions options_;
  std::shared_ptr<spdlog::logger> log_;

  // Writer state: the writer thread only (and init/close after join).
  pg::Conn writer_;
  bool failing_ = false;
  std::optional<std::chrono::steady_clock::time_point> last_connect_failure_;

  std::mutex mu_;  // guards queue_, closing_
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;
  std::atomic<bool> accepting_{false};
  std::mutex join_mu_;
  std::thread thread_;
  std::thread::id writer_id_;

  std::mutex done_mu_;  // guards done_queue_, writer_finished_
  std::condition_variable done_cv_;
  std::deque<std::vector<Completion>> done_queue_;
  bool writer_finished_ = false;
  std::thread completer_;
  std::thread::id completer_id_;

  ReadPool readers_;

  std::atomic<std::uint64_t> commits_{0}, failed_commits_{0}, stored_{0}, duplicates_{0}, largest_batch_{0},
      connects_{0};
};

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const PostgresStoreOptions& options) {
  if (options.max_batch == 0) return Unexpected(Error(ErrorCode::kInvalidArgument, "max_batch must be at least 1"));
  if (options.conninfo.empty()) return Unexpected(Error(ErrorCode::kInvalidArgument, "conninfo is empty"));
  auto store = std::make_unique<PostgresStoreImpl>(options);
  if (auto r = store->init(); !r) return Unexpected(r.error());
  return std::unique_ptr<PostgresStore>(std::move(store));
}

}  // namespace courier::store

// SqliteStore implementation: one writer thread doing grouped commits, reads on a
// separate connection. See sqlite_store.h for the contract.
#include "engine/store/sqlite_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/core/log.h"
#include "engine/core/thread.h"
#include "engine/store/resource_index.h"
#include "engine/store/sqlite_util.h"
#include "engine/store/wal_checkpointer.h"

namespace courier::store {
namespace {

using Micros = std::chrono::microseconds;

std::int64_t toMicros(TimePoint t) {
  return std::chrono::duration_cast<Micros>(t.time_since_epoch()).count();
}
TimePoint fromMicros(std::int64_t us) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(Micros(us)));
}

// Schema, one entry per version. Later issues append (outboxes, worklist); never edit
// an entry that has shipped.
constexpr const char* kMigrations[] = {
    // 1: the inbox / message archive.
    R"sql(
CREATE TABLE messages (
  id                  INTEGER PRIMARY KEY,
  received_at         INTEGER NOT NULL,          -- microseconds since the Unix epoch, UTC
  listener            TEXT    NOT NULL,
  peer_identity       TEXT    NOT NULL,
  message_type        TEXT    NOT NULL,          -- MSH-9.1
  trigger_event       TEXT    NOT NULL,          -- MSH-9.2
  control_id          TEXT,                      -- MSH-10; NULL when absent (never a duplicate)
  sending_application TEXT    NOT NULL,          -- MSH-3
  sending_facility    TEXT    NOT NULL,          -- MSH-4
  patient_id          TEXT,                      -- NULL when absent
  ack_mode            TEXT    NOT NULL,          -- 'original' | 'enhanced'
  ack_code            TEXT    NOT NULL,          -- what the sender was answered
  status              TEXT    NOT NULL DEFAULT 'received',
  duplicates          INTEGER NOT NULL DEFAULT 0,
  size_bytes          INTEGER NOT NULL,
  raw                 BLOB    NOT NULL
);
-- Dedup key; control id first so that a search by control id alone uses it too.
CREATE UNIQUE INDEX messages_dedup ON messages(control_id, sending_facility);
CREATE INDEX messages_received_at ON messages(received_at);
CREATE INDEX messages_patient ON messages(patient_id) WHERE patient_id IS NOT NULL;
CREATE TABLE store_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO store_counters(name, value) VALUES ('duplicates', 0);
)sql",
    // 2: no index on received_at (one B-tree insert less per message, ~10% of the
    // writer's work). Instead one row per committed group bounds the ids and the times
    // of the messages it holds, so a time filter becomes an id range (see list()).
    R"sql(
DROP INDEX messages_received_at;
CREATE TABLE commit_groups (
  first_id        INTEGER PRIMARY KEY,  -- ids of the group's messages are in [first_id, last_id]
  last_id         INTEGER NOT NULL,
  min_received_at INTEGER NOT NULL,     -- their received_at are in [min, max]
  max_received_at INTEGER NOT NULL
);
INSERT INTO commit_groups(first_id, last_id, min_received_at, max_received_at)
  SELECT MIN(id), MAX(id), MIN(received_at), MAX(received_at) FROM messages HAVING COUNT(*) > 0;
)sql",
    // 3: the patient index leaves the commit path. Its random B-tree inserts were most of
    // the writer's work (the writer ran ~2x faster without it). The index now lives in
    // the sidecar file (kPatientIndexSchema), built in large sorted batches by the
    // indexer thread; after this migration it rebuilds it from id 0 (list() scans the
    // unindexed part meanwhile, with the same results).
    R"sql(
DROP INDEX IF EXISTS messages_patient;
)sql",
    // 4: what happens after ingest (engine/store/work_store.h): the pipeline's inbox
    // mark, each message's outcome, the outboxes and the review worklist. Times are
    // microseconds since the Unix epoch, UTC.
    R"sql(
CREATE TABLE pipeline_state (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  processed_through INTEGER NOT NULL      -- messages with id <= this were processed
);
INSERT INTO pipeline_state(id, processed_through) VALUES (1, 0);
CREATE TABLE message_outcomes (
  message_id   INTEGER PRIMARY KEY,       -- messages.id
  outcome      TEXT    NOT NULL,          -- routed | no-route | held-for-review | failed
  detail       TEXT    NOT NULL,
  codes        TEXT    NOT NULL,
  processed_at INTEGER NOT NULL
);
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  destination     TEXT    NOT NULL,
  message_id      INTEGER NOT NULL,
  route           TEXT    NOT NULL,
  patient_key     TEXT    NOT NULL,
  idempotency_key TEXT    NOT NULL UNIQUE,
  content_type    TEXT    NOT NULL,
  file_name       TEXT    NOT NULL,
  payload         BLOB    NOT NULL,
  state           INTEGER NOT NULL,       -- 0 pending, 1 delivered, 2 dead
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  delivered_at    INTEGER,
  last_error      TEXT    NOT NULL DEFAULT '',
  last_response   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox(destination, id) WHERE state = 0;
CREATE INDEX outbox_message ON outbox(message_id);
CREATE TABLE worklist (
  id             INTEGER PRIMARY KEY,
  message_id     INTEGER NOT NULL,
  kind           TEXT    NOT NULL,
  item_index     INTEGER NOT NULL,
  source         TEXT    NOT NULL,
  reason         TEXT    NOT NULL,
  query          TEXT    NOT NULL,
  suggestions    TEXT    NOT NULL,
  state          INTEGER NOT NULL DEFAULT 0,   -- 0 open, 1 resolved
  created_at     INTEGER NOT NULL,
  resolved_codes TEXT    NOT NULL DEFAULT '',  -- space separated
  reviewer       TEXT    NOT NULL DEFAULT '',
  resolved_at    INTEGER,
  UNIQUE (message_id, kind, item_index)
);
CREATE INDEX worklist_open ON worklist(id) WHERE state = 0;
CREATE TABLE requeued (message_id INTEGER PRIMARY KEY);
)sql",
    // 5: FHIR topic-based subscriptions (engine/subscriptions, work_store.h): each
    // subscription with its owner (the authenticated client), status and event counter,
    // and every notification sent, by event number, for $events. Notifications travel
    // through the outbox as destination `subscription/<id>`.
    R"sql(
CREATE TABLE subscriptions (
  id                 TEXT    PRIMARY KEY,
  owner              TEXT    NOT NULL,      -- authenticated client identity
  json               TEXT    NOT NULL,      -- the Subscription as stored (header values in full)
  status             TEXT    NOT NULL,      -- requested | active | error | off
  reason             TEXT    NOT NULL DEFAULT '',  -- why it is in error; no PHI
  events_since_start INTEGER NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
);
CREATE TABLE subscription_events (
  subscription_id TEXT    NOT NULL,
  event_number    INTEGER NOT NULL,
  message_id      INTEGER NOT NULL,
  notification    TEXT    NOT NULL,         -- the notification Bundle sent
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (subscription_id, event_number)
);
)sql",
    // 6: FHIR read/vread (resource_index.h): one row per version of a resource, pointing at
    // the message that carried it (the message id is the version id). IF NOT EXISTS / OR
    // IGNORE: safe to run again over a file whose version rows were edited by hand. The
    // FHIR messages stored before it are indexed here from their JSON (top-level resources
    // and Bundle entries that have an id; malformed JSON is skipped), so they read back.
    R"sql(
CREATE TABLE IF NOT EXISTS resource_index (
  resource_type TEXT    NOT NULL,
  resource_id   TEXT    NOT NULL,
  message_id    INTEGER NOT NULL,   -- messages.id, also the version id
  entry         INTEGER NOT NULL,   -- -1: the message body is the resource; else its Bundle.entry index
  PRIMARY KEY (resource_type, resource_id, message_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO resource_index(resource_type, resource_id, message_id, entry)
  SELECT json_extract(j, '$.resourceType'), json_extract(j, '$.id'), id, -1
  FROM (SELECT id, CAST(raw AS TEXT) AS j FROM messages
        WHERE message_type = 'FHIR' AND trigger_event <> 'Bundle' AND json_valid(CAST(raw AS TEXT)))
  WHERE json_type(j, '$.id') = 'text' AND json_type(j, '$.resourceType') = 'text';
INSERT OR IGNORE INTO resource_index(resource_type, resource_id, message_id, entry)
  SELECT json_extract(e.value, '$.resource.resourceType'), json_extract(e.value, '$.resource.id'), m.id,
         CAST(e.key AS INTEGER)
  FROM (SELECT id, CASE WHEN json_valid(CAST(raw AS TEXT)) AND json_type(CAST(raw AS TEXT), '$.entry') = 'array'
                        THEN CAST(raw AS TEXT) ELSE '{"entry":[]}' END AS j
        FROM messages WHERE message_type = 'FHIR' AND trigger_event = 'Bundle') AS m,
       json_each(m.j, '$.entry') AS e
  WHERE json_type(e.value, '$.resource.id') = 'text' AND json_type(e.value, '$.resource.resourceType') = 'text';
)sql",
    // 7: an outbox item's payload in a table of its own, written once. Every recorded
    // delivery attempt rewrites the item's row (state, attempts, times, last response);
    // with the payload in that row each attempt rewrote a whole page (a 3 KB claim left
    // no room on its page for another row), and the database grew by ~9.4 KB per routed
    // message. The outbox rows are now ~250 bytes, ~15 to a page.
    R"sql(
CREATE TABLE outbox_payload (
  outbox_id INTEGER PRIMARY KEY,   -- outbox.id
  payload   BLOB    NOT NULL
);
INSERT INTO outbox_payload(outbox_id, payload) SELECT id, payload FROM outbox;
ALTER TABLE outbox DROP COLUMN payload;
)sql",
    // 8: the dedup key leaves the commit path, as the patient index did (3). Senders
    // number their messages each on their own, so with 16 senders a commit of ~18
    // messages wrote ~16 different leaves of messages_dedup: most of its ~30 WAL frames
    // (~120 KB to fsync for ~10 KB of messages). The writer now finds duplicates in the
    // keys it committed above the sidecar's mark (held in memory) and, below it, in the
    // sidecar's dedup_index, which the indexer thread fills in large sorted batches.
    R"sql(
DROP INDEX IF EXISTS messages_dedup;
)sql",
    // 9: an outbox item may have no payload row: its payload is its message as stored
    // (HL7 v2 sent on as received, OutboxEntry::payload_is_message), read from `messages`.
    // No table changes; the version is the point: a program from before would join the
    // payload table and never deliver such an item, so it must refuse the file (a schema
    // newer than it supports) rather than strand those items.
    R"sql(
SELECT 1;
)sql",
};
constexpr int kLatestVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
static_assert(kLatestVersion == SqliteStore::kSchemaVersion);

struct Pending {
  InboundMessage msg;
  SubmitCallback done;
  std::chrono::steady_clock::time_point enqueued;
};

// A callback with its answer, handed from the writer to the completion thread.
struct Completion {
  SubmitCallback done;
  Result<StoreReceipt> result;
};

// The index sidecar, attached as `pidx` by the readers and the indexer. Derived data,
// for every message with id <= indexed_through: (patient, id) when it has a patient, and
// its dedup key (control id, facility) when it has a control id. It has no migrations: a
// sidecar that does not match is rebuilt (see openIndexer).
constexpr const char* kPatientIndexSchema = R"sql(
CREATE TABLE IF NOT EXISTS pidx.patient_index (
  patient_id TEXT    NOT NULL,
  id         INTEGER NOT NULL,
  PRIMARY KEY (patient_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pidx.dedup_index (
  control_id       TEXT    NOT NULL,   -- first: a search by control id alone uses it too
  sending_facility TEXT    NOT NULL,
  id               INTEGER NOT NULL,
  PRIMARY KEY (control_id, sending_facility)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pidx.index_state (
  one             INTEGER PRIMARY KEY CHECK (one = 1),
  indexed_through INTEGER NOT NULL      -- high-water mark: every id <= it is indexed
);
INSERT OR IGNORE INTO pidx.index_state(one, indexed_through) VALUES (1, 0);
)sql";

// At most this many ids per index round (see indexOnce: the rows are read first, then
// written, so that the indexer never holds a read snapshot of the store for long).
constexpr std::int64_t kIndexChunkIds = 4096;
// A writer opening a store whose sidecar lags by more than this many ids (new, rebuilt,
// or made before the dedup index) indexes them before accepting, instead of holding all
// their keys in memory (see SqliteStoreImpl::recent_).
constexpr std::int64_t kIndexBeforeAccepting = 200000;

std::string patientIndexPath(const std::filesystem::path& db) { return db.string() + "-patient-index"; }

// The dedup keys at or below the index mark, as a set that answers "certainly not" or
// "perhaps" (a Bloom filter, 10 bits and 7 probes per key: ~1% false "perhaps"). Nearly
// every message is new, and this answers it in memory: a lookup in the sidecar (a B-tree
// descent and page reads, ~2 us of the writer per message) is left for the rare perhaps.
// It grows by layers, each twice the last, so it never needs rebuilding; a layer is
// 1.25 bytes per key (12.5 MB for ten million messages). Keys are never removed: a
// superset only costs lookups.
class KeyFilter {
 public:
  static std::uint64_t hash(std::string_view key) {
    // 64-bit FNV-1a, then a finalizer (splitmix64) so that the probes spread.
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
  }
  void add(std::uint64_t h) {
    if (layers_.empty() || layers_.back().count == layers_.back().capacity) {
      const std::size_t capacity = layers_.empty() ? kFirstCapacity : layers_.back().capacity * 2;
      layers_.push_back(Layer{std::vector<std::uint64_t>(capacity * kBitsPerKey / 64), capacity, 0});
    }
    Layer& l = layers_.back();
    forEachProbe(l, h, [&](std::size_t bit) { l.bits[bit / 64] |= std::uint64_t{1} << (bit % 64); });
    ++l.count;
  }
  bool mayContain(std::uint64_t h) const {
    for (const Layer& l : layers_) {
      bool all = true;
      forEachProbe(l, h, [&](std::size_t bit) { all = all && (l.bits[bit / 64] >> (bit % 64) & 1) != 0; });
      if (all) return true;
    }
    return false;
  }
  void clear() { layers_.clear(); }

 private:
  static constexpr std::size_t kFirstCapacity = 1 << 16;
  static constexpr std::size_t kBitsPerKey = 10;
  static constexpr int kProbes = 7;
  struct Layer {
    std::vector<std::uint64_t> bits;
    std::size_t capacity;
    std::size_t count;
  };
  template <typename Fn>
  static void forEachProbe(const Layer& l, std::uint64_t h, Fn&& fn) {
    const std::size_t nbits = l.bits.size() * 64;
    const std::uint64_t step = (h >> 32) | 1;  // double hashing: h, h + step, h + 2 step...
    for (int i = 0; i < kProbes; ++i, h += step) fn(static_cast<std::size_t>(h % nbits));
  }
  std::vector<Layer> layers_;
};

class SqliteStoreImpl final : public SqliteStore, public ResourceIndex {
 public:
  explicit SqliteStoreImpl(SqliteStoreOptions options) : options_(std::move(options)), log_(logger("store")) {}

  ~SqliteStoreImpl() override {
    close();
    if (index_db_ != nullptr) sqlite3_close_v2(index_db_);
    closeIndexedReader();
    writer_statements_.clear();
    if (writer_ != nullptr) sqlite3_close_v2(writer_);
    if (reader_ != nullptr) sqlite3_close_v2(reader_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  // One writer per store file: the keys above the index mark live in the writer's memory,
  // so a second process writing the same file would miss the first one's duplicates. The
  // lock is an flock on `<path>-writer.lock`, released by the kernel when the process
  // ends however it ends (kill -9 included).
  Result<void> lockForWriting() {
    const std::string path = options_.path.string() + "-writer.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Unexpected(
          Error(ErrorCode::kUnavailable, std::string("cannot open the writer lock: ") + std::strerror(errno), path));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return Unexpected(Error(ErrorCode::kUnavailable,
                              "another Courier process is writing this message store (one `courier serve` per data "
                              "directory)",
                              options_.path.string()));
    }
    lock_fd_ = fd;
    return Ok();
  }

  Result<void> init() {
    if (!options_.create_if_missing) {
      std::error_code ec;
      if (!std::filesystem::exists(options_.path, ec)) {
        return Unexpected(Error(ErrorCode::kNotFound, "no message store at this path", options_.path.string()));
      }
    }
    if (options_.start_writer) {
      if (auto r = lockForWriting(); !r) return r;
    }
    sqlite3* db = nullptr;
    auto opened =
        openConnection(options_.create_if_missing, &db, options_.start_writer ? kWriterCacheKiB : kReaderCacheKiB);
    if (!opened) return opened;
    // A reader (CLI) does not take the write lock unless the file really needs migrating.
    bool current = !options_.start_writer && schemaVersion(db) == kLatestVersion;
    if (auto migrated = current ? Ok() : migrate(db); !migrated) {
      sqlite3_close_v2(db);
      return migrated;
    }
    if (options_.start_writer) {
      writer_ = db;
      // The file's checkpointer (wal_checkpointer.h), shared with the work stores on it.
      // Without it the writer checkpoints itself (SQLite's automatic checkpoint), slower
      // but correct.
      if (auto c = WalCheckpointer::forFile(options_.path, options_.busy_timeout); c) {
        checkpointer_ = std::move(*c);
      } else {
        log_->warn("no checkpoint connection, the writer checkpoints itself: {}", c.error().message);
      }
      if (auto prepared = prepareWriter(); !prepared) return prepared;
      // The sidecar is opened before anything is submitted, so that readers find it and
      // the writer knows its mark; when that fails the indexer thread keeps trying, and
      // the writer holds every key in memory meanwhile.
      if (options_.index_patients) {
        if (auto r = openIndexer(); !r) {
          log_->warn("index sidecar unavailable, will retry: {}", r.error().message);
        } else if (last_at_open_ - indexed_through_.load() > kIndexBeforeAccepting) {
          log_->info("indexing {} messages before accepting (the index sidecar is new or was rebuilt)",
                     last_at_open_ - indexed_through_.load());
          catchUp(last_at_open_);
        }
      }
      {
        std::lock_guard lock(mark_mu_);
        dedup_generation_ = mark_generation_;
      }
      int rc = SQLITE_OK;
      if (auto r = loadRecent(indexed_through_.load(), rc); !r) return r;
      loadFilter();
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
      if (options_.index_patients) {
        indexer_ = std::thread([this] { indexLoop(); });
      }
    } else {
      reader_ = db;
    }
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
    std::lock_guard lock(read_mu_);
    auto db = readConnection();
    if (!db) return Unexpected(db.error());
    const bool indexed = !filter.patient_id.empty() || !filter.control_id.empty();
    if (indexed && !reader_has_index_) (void)attachPatientIndex(*db, false);  // absent: scan
    auto result = listWith(*db, filter, indexed && reader_has_index_);
    // A sidecar without its tables (being created by a server right now): plain scan.
    if (!result && indexed && reader_has_index_) result = listWith(*db, filter, false);
    return result;
  }

  // The query of list(). `use_index`: a patient or control id filter uses the sidecar's
  // index for ids up to its high-water mark and scans the rows above it, in one statement
  // (one snapshot of each file, so the mark and the entries agree; the outer tests keep
  // even a sidecar that lags or leads the store from returning a wrong row).
  Result<std::vector<MessageSummary>> listWith(sqlite3* db, const MessageFilter& filter, bool use_index) {
    std::string sql =
        "SELECT id, received_at, listener, peer_identity, message_type, trigger_event, control_id, "
        "sending_application, sending_facility, patient_id, ack_mode, ack_code, status, duplicates, size_bytes "
        "FROM messages WHERE 1=1";
    std::string type = filter.message_type, trigger;
    if (auto caret = type.find('^'); caret != std::string::npos) {
      trigger = type.substr(caret + 1);
      type.resize(caret);
    }
    // received_at has no index: the commit groups turn a time bound into an id bound
    // (NULL, i.e. nothing, when no group has such a time), then the exact test applies.
    if (filter.since) {
      sql += " AND id >= (SELECT MIN(first_id) FROM commit_groups WHERE max_received_at >= :since)"
             " AND received_at >= :since";
    }
    if (filter.until) {
      sql += " AND id <= (SELECT MAX(last_id) FROM commit_groups WHERE min_received_at < :until)"
             " AND received_at < :until";
    }
    if (!type.empty()) sql += " AND message_type = :type";
    if (!trigger.empty()) sql += " AND trigger_event = :trigger";
    // column = :param, through the sidecar's `table` below its mark when use_index.
    auto indexed = [&](const char* column, const char* param, const char* table) {
      sql += fmt::format(" AND {0} = {1}", column, param);
      if (use_index) {
        sql += fmt::format(
            " AND id IN (SELECT id FROM pidx.{2} WHERE {0} = {1} UNION ALL SELECT id FROM messages"
            " WHERE {0} = {1} AND id > (SELECT COALESCE(MAX(indexed_through), 0) FROM pidx.index_state))",
            column, param, table);
      }
    };
    if (!filter.control_id.empty()) indexed("control_id", ":control_id", "dedup_index");
    if (!filter.patient_id.empty()) indexed("patient_id", ":patient", "patient_index");
    if (!filter.sending_facility.empty()) sql += " AND sending_facility = :facility";
    if (filter.before_id) sql += " AND id < :before";
    sql += " ORDER BY id DESC";
    if (filter.limit > 0) sql += " LIMIT :limit";
    auto stmt = Statement::prepare(db, sql);
    if (!stmt) return Unexpected(stmt.error());
    auto bind = [&](const char* name, auto&& fn) {
      int i = sqlite3_bind_parameter_index(stmt->get(), name);
      if (i > 0) fn(i);
    };
    if (filter.since) bind(":since", [&](int i) { stmt->bindInt(i, toMicros(*filter.since)); });
    if (filter.until) bind(":until", [&](int i) { stmt->bindInt(i, toMicros(*filter.until)); });
    bind(":type", [&](int i) { stmt->bindText(i, type); });
    bind(":trigger", [&](int i) { stmt->bindText(i, trigger); });
    bind(":control_id", [&](int i) { stmt->bindText(i, filter.control_id); });
    bind(":patient", [&](int i) { stmt->bindText(i, filter.patient_id); });
    bind(":facility", [&](int i) { stmt->bindText(i, filter.sending_facility); });
    if (filter.before_id) bind(":before", [&](int i) { stmt->bindInt(i, *filter.before_id); });
    bind(":limit", [&](int i) { stmt->bindInt(i, static_cast<std::int64_t>(filter.limit)); });

    std::vector<MessageSummary> out;
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) out.push_back(readSummary(*stmt));
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db, rc, "list messages"));
    return out;
  }

  Result<StoredMessage> get(MessageId id) override {
    std::lock_guard lock(read_mu_);
    auto db = readConnection();
    if (!db) return Unexpected(db.error());
    auto stmt = Statement::prepare(
        *db,
        "SELECT id, received_at, listener, peer_identity, message_type, trigger_event, control_id, "
        "sending_application, sending_facility, patient_id, ack_mode, ack_code, status, duplicates, size_bytes, raw "
        "FROM messages WHERE id = ?");
    if (!stmt) return Unexpected(stmt.error());
    stmt->bindInt(1, id);
    int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) {
      return Unexpected(Error(ErrorCode::kNotFound, "no message with id " + std::to_string(id)));
    }
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(*db, rc, "get message"));
    StoredMessage m;
    m.summary = readSummary(*stmt);
    m.raw = stmt->blob(15);
    return m;
  }

  Result<std::int64_t> duplicateCount() override {
    std::lock_guard lock(read_mu_);
    auto db = readConnection();
    if (!db) return Unexpected(db.error());
    auto stmt = Statement::prepare(*db, "SELECT value FROM store_counters WHERE name = 'duplicates'");
    if (!stmt) return Unexpected(stmt.error());
    int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_ROW) return stmt->integer(0);
    if (rc == SQLITE_DONE) return std::int64_t{0};
    return Unexpected(sqliteError(*db, rc, "count duplicates"));
  }

  ResourceIndex* resourceIndex() override { return this; }

  Result<ResourceVersion> findResource(std::string_view type, std::string_view id,
                                       std::optional<MessageId> version) override {
    std::lock_guard lock(read_mu_);
    auto db = readConnection();
    if (!db) return Unexpected(db.error());
    // Newest first: the primary key (type, id, message_id) answers it without sorting.
    auto stmt = Statement::prepare(
        *db,
        "SELECT r.message_id, r.entry, m.received_at, m.raw FROM resource_index r JOIN messages m ON m.id = r.message_id "
        "WHERE r.resource_type = ?1 AND r.resource_id = ?2 AND (?3 IS NULL OR r.message_id = ?3) "
        "ORDER BY r.message_id DESC LIMIT 1");
    if (!stmt) return Unexpected(stmt.error());
    stmt->bindText(1, type);
    stmt->bindText(2, id);
    if (version) stmt->bindInt(3, *version);
    int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) return Unexpected(Error(ErrorCode::kNotFound, "no such resource or version"));
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(*db, rc, "read resource"));
    ResourceVersion v;
    v.message_id = stmt->integer(0);
    v.entry = static_cast<std::int32_t>(stmt->integer(1));
    v.received_at = fromMicros(stmt->integer(2));
    v.raw = stmt->blob(3);
    return v;
  }

  void close() override {
    {
      std::lock_guard lock(mu_);
      accepting_ = false;
      closing_ = true;
    }
    cv_.notify_all();
    // From a callback (a store thread itself): stop taking input, let the threads drain
    // and end; a later close() or the destructor joins them.
    auto self = std::this_thread::get_id();
    if (self == writer_id_ || self == completer_id_) return;
    std::lock_guard join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();        // every group committed or failed
    if (completer_.joinable()) completer_.join();  // every callback ran
    // Last: the indexer catches up with everything the writer committed, then ends.
    {
      std::lock_guard lock(index_mu_);
      index_stop_ = true;
    }
    index_cv_.notify_all();
    if (indexer_.joinable()) indexer_.join();
  }

  SqliteStoreStats stats() const override {
    SqliteStoreStats s;
    s.commits = commits_.load();
    s.failed_commits = failed_commits_.load();
    s.messages_stored = stored_.load();
    s.duplicates = duplicates_.load();
    s.largest_batch = largest_batch_.load();
    if (checkpointer_) {
      s.checkpoints = checkpointer_->checkpoints();
      s.wal_restarts = checkpointer_->walRestarts();
    }
    s.patient_indexed_through = indexed_through_.load();
    s.patient_index_runs = index_runs_.load();
    s.patient_index_failures = index_failures_.load();
    return s;
  }

 private:
  // The insert exists for 1, 8 and 32 rows: one step of a multi-row INSERT opens the
  // table and index cursors once and builds records in the same registers, which costs
  // far less per message than one statement run per row.
  enum StatementIndex {
    kInsert1,
    kInsert8,
    kInsert32,
    kMaxId,
    kAckCodeOf,
    kBumpDuplicate,
    kBumpCounter,
    kRecordGroup,
    kResourceExists,
    kIndexResource,
    kStatementCount
  };
  static constexpr std::size_t kInsertRows[] = {1, 8, 32};
  static constexpr int kInsertColumns = 14;  // parameters per row, see insertSql()

  // Page cache per connection, KiB. Each one fills up to its size as the file grows and
  // stays there, so together they are most of what the store adds to the process's RSS
  // (issue 6: flat under 200 MB with a million messages waiting). Only the writer's cache
  // is on the ACK path: 8 MiB keeps the upper levels and the pages it inserts into of the
  // table and its indexes (the default 2 MiB made every insert read index pages back; 16
  // MiB measured the same as 8 at 43-46k msg/s closed loop, alternated). The
  // checkpointer copies WAL frames without the cache, and the indexer reads the newest
  // rows once, in order: 1 MiB each. The sidecar the indexer writes gets 4 MiB (it is not
  // on the ACK path; a miss is a read from the OS's cache). Readers (CLI, HTTP) get 4 MiB.
  static constexpr int kWriterCacheKiB = 8192;
  static constexpr int kScanCacheKiB = 1024;
  static constexpr int kReaderCacheKiB = 4096;
  static constexpr const char* kIndexCachePragma = "PRAGMA pidx.cache_size=-4096";
  // A new store's pages are 16 KiB, not SQLite's 4: every row an item of work needs is
  // written once as a WAL frame, copied once by the checkpointer and read back by a
  // deliverer, one pread or pwrite per page. With a 3 KB FHIR Claim and a message per
  // input, 16 KiB pages take a quarter of those calls and no overflow chains (a payload
  // fits its page). bench_pipeline --messages 100000, alternated on the 2-core VM: the
  // checkpoint thread 4.4 vs 9.7 CPU-us per message, `courier serve` 74-99 vs 96-103.
  // Only an empty file takes it: a store made with 4 KiB pages keeps them (SQLite changes
  // a WAL file's page size only through a VACUUM out of WAL mode) and works as before.
  static constexpr const char* kPageSizePragma = "PRAGMA page_size=16384";

  Result<void> openConnection(bool create, sqlite3** out, int cache_kib = kReaderCacheKiB) {
    configureSqliteOnce();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(options_.path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      Error e = sqliteError(db, rc, "open " + options_.path.string());
      sqlite3_close_v2(db);
      return Unexpected(std::move(e));
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count()));
    // WAL: readers never block the writer and see the last commit. synchronous=FULL:
    // every COMMIT fsyncs the WAL before returning, which is what an ACK promises
    // (NORMAL would survive a process crash but not a power loss).
    // cache_size: see kWriterCacheKiB.
    // journal_size_limit: a WAL that grew under a burst is cut back to 64 MiB when reset.
    // secure_delete=OFF: the system SQLite (Debian) is built with SECURE_DELETE, which
    // zeroes every byte a B-tree page split moves away; the store only appends, so that
    // was pure cost on the commit path. (A later purge of old messages must turn it back
    // on for its own connection.)
    // page_size: see kPageSizePragma.
    const std::string cache = "PRAGMA cache_size=-" + std::to_string(cache_kib);
    for (const char* pragma : {kPageSizePragma, "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", cache.c_str(),
                               "PRAGMA journal_size_limit=67108864", "PRAGMA secure_delete=OFF"}) {
      if (auto r = exec(db, pragma); !r) {
        sqlite3_close_v2(db);
        return r;
      }
    }
    *out = db;
    return Ok();
  }

  // The schema version, or -1 when it cannot be read (no table yet).
  static int schemaVersion(sqlite3* db) {
    auto q = Statement::prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!q || sqlite3_step(q->get()) != SQLITE_ROW) return -1;
    return static_cast<int>(q->integer(0));
  }

  Result<void> migrate(sqlite3* db) {
    if (auto r = exec(db, "BEGIN IMMEDIATE"); !r) return r;
    auto fail = [&](Error e) -> Result<void> {
      (void)exec(db, "ROLLBACK");
      return Unexpected(std::move(e));
    };
    if (auto r = exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !r) {
      return fail(r.error());
    }
    auto q = Statement::prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!q) return fail(q.error());
    int rc = sqlite3_step(q->get());
    if (rc != SQLITE_ROW) return fail(sqliteError(db, rc, "read schema version"));
    int version = static_cast<int>(q->integer(0));
    q = Statement();
    if (version > kLatestVersion) {
      return fail(Error(ErrorCode::kUnsupported,
                        "the message store has schema version " + std::to_string(version) +
                            ", newer than this program supports (" + std::to_string(kLatestVersion) + ")",
                        options_.path.string()));
    }
    for (int v = version; v < kLatestVersion; ++v) {
      if (auto r = exec(db, kMigrations[v]); !r) return fail(r.error());
      std::string record = "INSERT INTO schema_version(version) VALUES (" + std::to_string(v + 1) + ")";
      if (auto r = exec(db, record.c_str()); !r) return fail(r.error());
    }
    if (auto r = exec(db, "COMMIT"); !r) return fail(r.error());
    if (version < kLatestVersion) {
      log_->info("message store schema migrated from version {} to {}", version, kLatestVersion);
    }
    return Ok();
  }

  // INSERT of `rows` messages, all new (writeGroup found the duplicates before). Ids are
  // given by the writer, so that a multi-row insert still tells which row got which id.
  // OR IGNORE: a multi-row statement that may abort half-way needs a statement journal,
  // which SQLite writes to a temp file, a pwrite per page touched (it doubled the
  // writer's syscalls). With IGNORE nothing can abort. The only constraints are the id
  // (fresh by construction) and NOT NULL columns (always bound); a row skipped anyway
  // fails the group (writeGroup counts the rows written).
  static std::string insertSql(std::size_t rows) {
    std::string sql =
        "INSERT OR IGNORE INTO messages(id, received_at, listener, peer_identity, message_type, trigger_event, control_id, "
        "sending_application, sending_facility, patient_id, ack_mode, ack_code, size_bytes, raw) VALUES ";
    for (std::size_t r = 0; r < rows; ++r) {
      sql += r == 0 ? "(" : ",(";
      for (int c = 1; c <= kInsertColumns; ++c) {
        if (c > 1) sql += ',';
        sql += '?';
        sql += std::to_string(r * kInsertColumns + static_cast<std::size_t>(c));
      }
      sql += ')';
    }
    return sql;
  }

  Result<void> prepareWriter() {
    const std::string sql[kStatementCount] = {
        insertSql(kInsertRows[0]),
        insertSql(kInsertRows[1]),
        insertSql(kInsertRows[2]),
        "SELECT COALESCE(MAX(id), 0) FROM messages",
        "SELECT ack_code FROM messages WHERE id = ?1",
        "UPDATE messages SET duplicates = duplicates + 1 WHERE id = ?1",
        "UPDATE store_counters SET value = value + ?1 WHERE name = 'duplicates'",
        "INSERT INTO commit_groups(first_id, last_id, min_received_at, max_received_at) VALUES (?1, ?2, ?3, ?4)",
        "SELECT 1 FROM resource_index WHERE resource_type = ?1 AND resource_id = ?2 LIMIT 1",
        "INSERT OR REPLACE INTO resource_index(resource_type, resource_id, message_id, entry) VALUES (?1, ?2, ?3, ?4)",
    };
    if (checkpointer_) checkpointer_->attach(writer_);
    writer_statements_.clear();
    for (const std::string& text : sql) {
      auto stmt = Statement::prepare(writer_, text);
      if (!stmt) return Unexpected(stmt.error());
      writer_statements_.push_back(std::move(*stmt));
    }
    return Ok();
  }

  // Reopens the write connection after an error that may have broken it.
  Result<void> reopenWriter() {
    writer_statements_.clear();
    if (writer_ != nullptr) sqlite3_close_v2(writer_);
    writer_ = nullptr;
    sqlite3* db = nullptr;
    if (auto r = openConnection(true, &db, kWriterCacheKiB); !r) return r;
    writer_ = db;
    if (auto r = migrate(writer_); !r) return r;
    return prepareWriter();
  }

  Result<sqlite3*> readConnection() {
    if (reader_ == nullptr) {
      sqlite3* db = nullptr;
      if (auto r = openConnection(false, &db); !r) return Unexpected(r.error());
      reader_ = db;
      reader_has_index_ = false;
    }
    return reader_;
  }

  // Attaches the patient index sidecar as `pidx`. `create`: the indexer's connection
  // makes the file and its tables; a reader only attaches an existing file (SQLite opens
  // attached files with the connection's flags, i.e. without CREATE for a reader).
  Result<void> attachPatientIndex(sqlite3* db, bool create) {
    const std::string path = patientIndexPath(options_.path);
    if (!create) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) return Unexpected(Error(ErrorCode::kNotFound, "no patient index"));
    }
    auto attach = Statement::prepare(db, "ATTACH DATABASE ?1 AS pidx");
    if (!attach) return Unexpected(attach.error());
    attach->bindText(1, path);
    int rc = sqlite3_step(attach->get());
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(db, rc, "attach patient index"));
    if (db == reader_) reader_has_index_ = true;
    return Ok();
  }


  static MessageSummary readSummary(const Statement& s) {
    MessageSummary m;
    m.id = s.integer(0);
    m.received_at = fromMicros(s.integer(1));
    m.listener = s.text(2);
    m.peer_identity = s.text(3);
    m.message_type = s.text(4);
    m.trigger = s.text(5);
    m.control_id = s.text(6);
    m.sending_application = s.text(7);
    m.sending_facility = s.text(8);
    m.patient_id = s.text(9);
    m.ack_mode = s.text(10) == "enhanced" ? AckMode::kEnhanced : AckMode::kOriginal;
    m.ack_code = parseAckCode(s.text(11)).value_or(AckCode::kAA);
    std::string status = s.text(12);
    for (MessageStatus st : {MessageStatus::kReceived, MessageStatus::kProcessing, MessageStatus::kProcessed,
                             MessageStatus::kFailed}) {
      if (messageStatusName(st) == status) m.status = st;
    }
    m.duplicates = s.integer(13);
    m.size_bytes = static_cast<std::size_t>(s.integer(14));
    return m;
  }

  // ---- the patient indexer thread -----------------------------------------------------

  // Writer thread, after a commit: wakes the indexer once enough rows are unindexed (at
  // most one wake-up per run; below the batch size the indexer's timer picks them up).
  void noteCommitted(MessageId last_id) {
    if (options_.index_patients &&
        last_id - indexed_through_.load(std::memory_order_relaxed) >=
            static_cast<std::int64_t>(options_.patient_index_batch) &&
        !index_wake_sent_.exchange(true)) {
      {
        std::lock_guard lock(index_mu_);
        index_wake_ = true;
      }
      index_cv_.notify_one();
    }
  }

  // The indexer's own connection: the store file (read only in practice) with the
  // sidecar attached. The sidecar is rebuilt when its mark is beyond the store's last id
  // (a different or restored store file). synchronous=NORMAL there: a power loss may take
  // back the last index transactions, mark included, which the next run redoes.
  Result<void> openIndexer() {
    if (index_db_ != nullptr) sqlite3_close_v2(index_db_);
    index_db_ = nullptr;
    sqlite3* db = nullptr;
    // With CREATE: ATTACH opens the sidecar with the connection's flags. The store file
    // itself exists already (the writer made it).
    if (auto r = openConnection(true, &db, kScanCacheKiB); !r) return r;
    auto fail = [&](Error e) -> Result<void> {
      sqlite3_close_v2(db);
      return Unexpected(std::move(e));
    };
    if (auto r = attachPatientIndex(db, true); !r) return fail(r.error());
    for (const char* sql : {"PRAGMA pidx.journal_mode=WAL", "PRAGMA pidx.synchronous=NORMAL", kIndexCachePragma}) {
      if (auto r = exec(db, sql); !r) return fail(r.error());
    }
    // A sidecar made before schema 8 has a mark but no dedup entries: the missing table
    // is made and the mark set back to 0 in one transaction (a reader never sees the new
    // table with the old mark); the patient entries are written again, OR IGNORE.
    auto tables = Statement::prepare(db,
                                     "SELECT (SELECT COUNT(*) FROM pidx.sqlite_master WHERE name = 'index_state'),"
                                     " (SELECT COUNT(*) FROM pidx.sqlite_master WHERE name = 'dedup_index')");
    if (!tables) return fail(tables.error());
    if (int rc = sqlite3_step(tables->get()); rc != SQLITE_ROW) {
      return fail(sqliteError(db, rc, "read the index tables"));
    }
    const bool without_dedup = tables->integer(0) > 0 && tables->integer(1) == 0;
    tables = Statement();
    const std::string ensure = std::string("BEGIN;") + kPatientIndexSchema +
                               (without_dedup ? "; UPDATE pidx.index_state SET indexed_through = 0" : "") + "; COMMIT";
    if (auto r = exec(db, ensure.c_str()); !r) {
      (void)exec(db, "ROLLBACK");
      return fail(r.error());
    }
    if (without_dedup) log_->info("the index sidecar has no dedup index yet; it is built again from the first message");
    auto range = readIndexRange(db);
    if (!range) return fail(range.error());
    auto [through, last] = *range;
    if (through > last) {
      log_->warn("the index sidecar is ahead of the message store (mark {}, last id {}); rebuilding it", through, last);
      // Published before its entries go: the writer stops relying on them first.
      publishIndexMark(0, true);
      if (auto r = exec(db,
                        "BEGIN; DELETE FROM pidx.patient_index; DELETE FROM pidx.dedup_index;"
                        " UPDATE pidx.index_state SET indexed_through = 0; COMMIT");
          !r) {
        (void)exec(db, "ROLLBACK");
        return fail(r.error());
      }
      through = 0;
    }
    index_db_ = db;
    publishIndexMark(through, true);
    last_at_open_ = last;
    return Ok();
  }

  // The sidecar's mark (ids <= it are indexed) and the store's last id, read together.
  static Result<std::pair<std::int64_t, std::int64_t>> readIndexRange(sqlite3* db) {
    auto q = Statement::prepare(db,
                                "SELECT (SELECT indexed_through FROM pidx.index_state),"
                                " (SELECT COALESCE(MAX(id), 0) FROM messages)");
    if (!q) return Unexpected(q.error());
    int rc = sqlite3_step(q->get());
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(db, rc, "read patient index range"));
    return std::pair{q->integer(0), q->integer(1)};
  }

  // One index round: the rows above the mark (at most kIndexChunkIds ids) are read in
  // autocommit statements, so the read snapshot of the store lasts as long as the scan and
  // no longer (a checkpoint cannot copy WAL frames past a reader's snapshot, and this
  // thread runs at nice 10: holding one through the writes below stalled checkpoints for
  // up to 120 ms at 10k msg/s); then one transaction on the sidecar alone writes them,
  // sorted by (patient, id) so its B-tree is written in order, and the new mark. Only this
  // thread writes the sidecar, so the mark read first is still the mark at the write.
  // Indexes no id above `bound`. Returns whether rows above the new mark (and within the
  // bound) remain.
  Result<bool> indexOnce(std::int64_t bound) {
    if (index_db_ == nullptr) {
      if (auto r = openIndexer(); !r) return Unexpected(r.error());
    }
    auto range = readIndexRange(index_db_);
    if (!range) return Unexpected(range.error());
    const std::int64_t from = range->first;
    const std::int64_t last = std::min(range->second, bound);
    if (last <= from) return false;
    const std::int64_t to = std::min(last, from + kIndexChunkIds);
    index_rows_.clear();
    dedup_rows_.clear();
    {
      auto scan = Statement::prepare(index_db_,
                                     "SELECT patient_id, control_id, sending_facility, id FROM messages"
                                     " WHERE id > ?1 AND id <= ?2");
      if (!scan) return Unexpected(scan.error());
      scan->bindInt(1, from);
      scan->bindInt(2, to);
      int rc;
      while ((rc = sqlite3_step(scan->get())) == SQLITE_ROW) {
        const std::int64_t id = scan->integer(3);
        if (sqlite3_column_type(scan->get(), 0) != SQLITE_NULL) index_rows_.emplace_back(scan->text(0), id);
        if (sqlite3_column_type(scan->get(), 1) != SQLITE_NULL) {
          dedup_rows_.push_back(DedupRow{scan->text(1), scan->text(2), id});
        }
      }
      if (rc != SQLITE_DONE) return Unexpected(sqliteError(index_db_, rc, "read messages to index"));
    }  // the statement is finalized here: the read snapshot ends
    std::sort(index_rows_.begin(), index_rows_.end());
    std::sort(dedup_rows_.begin(), dedup_rows_.end());
    if (auto r = exec(index_db_, "BEGIN"); !r) return Unexpected(r.error());
    auto fail = [&](Error e) -> Result<bool> {
      (void)exec(index_db_, "ROLLBACK");
      return Unexpected(std::move(e));
    };
    {
      auto insert = Statement::prepare(index_db_, "INSERT OR IGNORE INTO pidx.patient_index(patient_id, id) VALUES (?1, ?2)");
      if (!insert) return fail(insert.error());
      for (const auto& [patient, id] : index_rows_) {
        insert->bindText(1, patient);
        insert->bindInt(2, id);
        int rc = sqlite3_step(insert->get());
        insert->reset();
        if (rc != SQLITE_DONE) return fail(sqliteError(index_db_, rc, "index patients"));
      }
      auto dedup = Statement::prepare(
          index_db_, "INSERT OR IGNORE INTO pidx.dedup_index(control_id, sending_facility, id) VALUES (?1, ?2, ?3)");
      if (!dedup) return fail(dedup.error());
      for (const DedupRow& row : dedup_rows_) {
        dedup->bindText(1, row.control_id);
        dedup->bindText(2, row.sending_facility);
        dedup->bindInt(3, row.id);
        int rc = sqlite3_step(dedup->get());
        dedup->reset();
        if (rc != SQLITE_DONE) return fail(sqliteError(index_db_, rc, "index dedup keys"));
      }
      auto mark = Statement::prepare(index_db_, "UPDATE pidx.index_state SET indexed_through = ?1");
      if (!mark) return fail(mark.error());
      mark->bindInt(1, to);
      int rc = sqlite3_step(mark->get());
      if (rc != SQLITE_DONE) return fail(sqliteError(index_db_, rc, "move patient index mark"));
    }
    if (auto r = exec(index_db_, "COMMIT"); !r) return fail(r.error());
    publishIndexMark(to, false);  // after the commit: the writer may now drop these keys
    ++index_runs_;
    return to < last;
  }

  // Indexes until caught up. A failure is logged (once per failure streak), counted and
  // left for the next round; it never reaches the writer or a sender.
  void catchUp(std::int64_t bound = std::numeric_limits<std::int64_t>::max()) {
    for (;;) {
      auto more = indexOnce(bound);
      if (!more) {
        ++index_failures_;
        if (!index_failing_) log_->warn("patient indexing failed, will retry: {}", more.error().message);
        else log_->debug("patient indexing failed again: {}", more.error().message);
        index_failing_ = true;
        if (index_db_ != nullptr && !sqlite3_get_autocommit(index_db_)) (void)exec(index_db_, "ROLLBACK");
        if (index_db_ != nullptr) sqlite3_close_v2(index_db_);
        index_db_ = nullptr;  // reopened (and the sidecar checked again) next round
        return;
      }
      if (index_failing_) {
        index_failing_ = false;
        log_->info("patient indexing works again");
      }
      if (!*more) return;
    }
  }

  // Low priority (nice 10 for this thread only): on a busy machine the writer and the
  // I/O threads go first. Wakes every patient_index_delay, or when the writer says a
  // batch is ready, or to stop (after a last catch-up).
  void indexLoop() {
    pthread_setname_np(pthread_self(), "courier-pidx");
    lowerThisThreadPriority(10);
    // The first round indexes what was there at open (a crash's unindexed tail), not
    // the rows being submitted meanwhile: those wait for a batch, the timer or close().
    catchUp(last_at_open_);
    for (bool stop = false; !stop;) {
      std::unique_lock lock(index_mu_);
      index_cv_.wait_for(lock, options_.patient_index_delay, [&] { return index_wake_ || index_stop_; });
      stop = index_stop_;
      index_wake_ = false;
      index_wake_sent_ = false;
      lock.unlock();
      catchUp();
    }
  }

  // ---- the completion thread ---------------------------------------------------------

  // Runs callbacks in commit order, so the writer can start the next group at once.
  void complete() {
    pthread_setname_np(pthread_self(), "courier-cb");
    for (;;) {
      std::vector<Completion> items;
      {
        std::unique_lock lock(done_mu_);
        done_cv_.wait(lock, [&] { return !done_queue_.empty() || writer_finished_; });
        if (done_queue_.empty()) return;  // the writer ended and everything was answered
        items = std::move(done_queue_.front());
        done_queue_.pop_front();
      }
      for (auto& c : items) c.done(std::move(c.result));
    }
  }

  // The writer's transactions take the file's write turn (wal_checkpointer.h): just
  // before BEGIN, until COMMIT or ROLLBACK, so that it never sleeps in SQLite's busy
  // handler behind the pipeline's commits.
  void takeTurn() {
    if (checkpointer_ && !turn_) turn_.emplace(*checkpointer_);
  }
  void endTurn() { turn_.reset(); }

  void deliver(std::vector<Completion> items) {
    {
      std::lock_guard lock(done_mu_);
      done_queue_.push_back(std::move(items));
    }
    done_cv_.notify_one();
  }

  // ---- the writer thread ------------------------------------------------------------

  void run() {
    pthread_setname_np(pthread_self(), "courier-store");  // visible in top/perf/gdb
    std::vector<Pending> batch;
    batch.reserve(options_.max_batch);
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) break;  // closing and drained
        // Let the group fill up to max_batch, for at most max_delay after the oldest
        // message arrived. Closing commits at once.
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
    int rc = SQLITE_OK;
    Result<void> outcome = writeGroup(batch, results, rc);
    if (outcome) {
      endTurn();  // committed: the next writer (or a catch-up copy) goes while the answers go out
      ++commits_;
      std::uint64_t size = batch.size();
      std::uint64_t prev = largest_batch_.load();
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
    if (writer_ != nullptr && !sqlite3_get_autocommit(writer_)) (void)exec(writer_, "ROLLBACK");
    endTurn();
    if (writer_ == nullptr || needsReopen(rc)) {
      if (auto r = reopenWriter(); !r) log_->debug("message store reopen failed: {}", r.error().message);
    }
    Error e(ErrorCode::kUnavailable, "the message could not be stored: " + outcome.error().message);
    std::vector<Completion> items;
    items.reserve(batch.size());
    for (auto& p : batch) items.push_back({std::move(p.done), Unexpected(e)});
    deliver(std::move(items));
  }

  // One transaction for the whole group. On success `results` holds one receipt per
  // message; on failure the caller rolls back. `rc` receives the failing SQLite code.
  Result<void> writeGroup(std::vector<Pending>& batch, std::vector<Result<StoreReceipt>>& results, int& rc) {
    if (writer_ == nullptr) {
      if (auto r = reopenWriter(); !r) {
        rc = SQLITE_CANTOPEN;
        return r;
      }
    }
    if (auto r = followIndexMark(rc); !r) return r;
    if (options_.index_patients && recent_.size() >= options_.max_unindexed_keys) {
      if (auto r = waitForIndexer(rc); !r) return r;
    }
    if (options_.fault_hook) {
      if (auto r = options_.fault_hook(SqliteFaultPoint::kBeforeBegin, writer_); !r) return r;
    }
    takeTurn();
    rc = sqlite3_exec(writer_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Unexpected(sqliteError(writer_, rc, "begin"));

    // Ids continue after the largest stored one, read inside the transaction (so a
    // rolled-back group leaves nothing to undo here).
    Statement& max_id = writer_statements_[kMaxId];
    rc = sqlite3_step(max_id.get());
    MessageId next_id = rc == SQLITE_ROW ? max_id.integer(0) + 1 : 0;
    max_id.reset();
    if (rc != SQLITE_ROW) return Unexpected(sqliteError(writer_, rc, "read largest id"));
    const MessageId first_id = next_id;
    std::int64_t min_received = INT64_MAX, max_received = INT64_MIN;
    for (const Pending& p : batch) {
      const std::int64_t t = toMicros(p.msg.received_at);
      min_received = std::min(min_received, t);
      max_received = std::max(max_received, t);
    }

    // Which messages are new, before anything is written: a key is looked up among the
    // group's earlier messages, then the keys committed above the sidecar's mark, then
    // the sidecar. A message without a control id is never a duplicate.
    group_keys_.clear();
    fresh_.clear();
    results.reserve(batch.size());
    std::uint64_t dup_messages = 0;
    bool reading = false;  // a read transaction is open on dedup_db_
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const InboundMessage& m = batch[i].msg;
      if (!m.control_id.empty()) {
        dedupKey(m, key_);
        std::optional<StoreReceipt> first;
        if (auto g = group_keys_.find(key_); g != group_keys_.end()) {
          first = StoreReceipt{g->second.id, true, g->second.ack};
        } else if (auto r = recent_.find(key_); r != recent_.end()) {
          first = StoreReceipt{r->second.id, true, r->second.ack};
        } else if (dedup_floor_ > 0 && (!filter_complete_ || filter_.mayContain(KeyFilter::hash(key_)))) {
          auto found = findIndexed(m, reading, rc);
          if (found && *found) {
            auto ack = ackCodeOf(**found, rc);
            // An entry whose message is not in this file (a sidecar left by another
            // store file) is not a first copy: the message is stored.
            if (!ack) {
              found = Unexpected(ack.error());
            } else if (*ack) {
              first = StoreReceipt{**found, true, **ack};
            }
          }
          if (!found) {
            endIndexedRead(reading);
            return Unexpected(found.error());
          }
        }
        if (first) {
          results.push_back(*first);
          ++dup_messages;
          continue;
        }
        group_keys_.emplace(key_, DedupEntry{next_id, positiveAck(m.ack_mode)});
      }
      results.push_back(StoreReceipt{next_id++, false, AckCode::kAA});
      fresh_.push_back(i);
    }
    endIndexedRead(reading);

    for (std::size_t done = 0; done < fresh_.size();) {
      std::size_t left = fresh_.size() - done;
      int which = left >= kInsertRows[2] ? kInsert32 : left >= kInsertRows[1] ? kInsert8 : kInsert1;
      std::size_t rows = kInsertRows[which - kInsert1];
      Statement& insert = writer_statements_[which];
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = fresh_[done + r];
        bindRow(insert, static_cast<int>(r * kInsertColumns), results[i]->id, batch[i].msg);
      }
      rc = sqlite3_step(insert.get());
      insert.reset();
      if (rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "insert messages"));
      if (static_cast<std::size_t>(sqlite3_changes(writer_)) != rows) {
        rc = SQLITE_CONSTRAINT;
        return Unexpected(Error(ErrorCode::kInternal, "insert messages: a row was not written"));
      }
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = fresh_[done + r];
        const InboundMessage& m = batch[i].msg;
        if (m.resources.empty()) continue;
        if (auto indexed = indexResources(m, results[i]->id, *results[i], rc); !indexed) return indexed;
      }
      done += rows;
    }
    // After the inserts: a duplicate of a message of this group counts on its row.
    if (dup_messages > 0) {
      for (const auto& r : results) {
        if (!r->duplicate) continue;
        Statement& bump = writer_statements_[kBumpDuplicate];
        bump.bindInt(1, r->id);
        rc = sqlite3_step(bump.get());
        bump.reset();
        if (rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "count duplicate"));
      }
      Statement& counter = writer_statements_[kBumpCounter];
      counter.bindInt(1, static_cast<std::int64_t>(dup_messages));
      rc = sqlite3_step(counter.get());
      counter.reset();
      if (rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "count duplicates"));
    }
    const std::uint64_t new_messages = fresh_.size();
    if (new_messages > 0) {
      Statement& group = writer_statements_[kRecordGroup];
      group.bindInt(1, first_id);
      group.bindInt(2, next_id - 1);
      group.bindInt(3, min_received);
      group.bindInt(4, max_received);
      rc = sqlite3_step(group.get());
      group.reset();
      if (rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "record commit group"));
    }
    if (options_.fault_hook) {
      if (auto r = options_.fault_hook(SqliteFaultPoint::kBeforeCommit, writer_); !r) return r;
    }
    rc = sqlite3_exec(writer_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Unexpected(sqliteError(writer_, rc, "commit"));
    stored_ += new_messages;
    duplicates_ += dup_messages;
    // Committed: the group's keys join those above the mark, in id order; their map
    // nodes move over, nothing is allocated or copied again.
    for (std::size_t i : fresh_) {
      const InboundMessage& m = batch[i].msg;
      if (m.control_id.empty()) continue;
      dedupKey(m, key_);
      auto node = group_keys_.extract(key_);
      if (node.empty()) continue;
      auto moved = recent_.insert(std::move(node));
      if (moved.inserted) remember(moved.position);  // never already there: it was new
    }
    if (new_messages > 0) noteCommitted(next_id - 1);
    return Ok();
  }

  // ---- duplicates (writer thread) ---------------------------------------------------
  //
  // A message is a duplicate when (control id, sending facility) was stored before. The
  // keys of messages with ids above the sidecar's mark are in recent_ (every committed
  // one: loaded at open, added after each commit); those at or below it are in the
  // sidecar's dedup_index. The indexer publishes its mark only after the entries up to it
  // are committed, so a key leaves recent_ only once the sidecar answers for it.

  struct DedupEntry {
    MessageId id = 0;
    AckCode ack = AckCode::kAA;  // what the first copy was answered
  };

  // A key just added to recent_ goes to the back of the id order (its id is the largest).
  void remember(std::unordered_map<std::string, DedupEntry>::iterator it) {
    recent_order_.emplace_back(it->second.id, &it->first);
  }

  // One string per key: the control id's length, then both values (no separator can be
  // confused with the values' own bytes).
  static void dedupKey(std::string_view control_id, std::string_view sending_facility, std::string& out) {
    char length[24];
    const auto end = std::to_chars(length, length + sizeof length, control_id.size()).ptr;
    out.assign(length, end);
    out += ':';
    out += control_id;
    out += sending_facility;
  }
  static void dedupKey(const InboundMessage& m, std::string& out) { dedupKey(m.control_id, m.sending_facility, out); }

  // The indexer's side: a new mark, and whether it (re)opened the sidecar (the writer
  // then reopens its own connection to it, which may be another file now).
  void publishIndexMark(MessageId mark, bool opened) {
    {
      std::lock_guard lock(mark_mu_);
      if (opened) ++mark_generation_;
      published_mark_ = mark;
      indexed_through_ = mark;
    }
    mark_cv_.notify_all();
  }

  // Backpressure: the keys above the mark are in memory, so an indexer that falls behind
  // (starved at nice 10 by a sustained burst, or failing) would let memory grow without
  // bound. Past max_unindexed_keys the writer wakes it and waits for its next round, for
  // a second at most; then the group fails as a storage failure would (AE/CE, ERR 207),
  // and the senders' retries find an indexer that caught up.
  Result<void> waitForIndexer(int& rc) {
    {
      std::lock_guard lock(index_mu_);
      index_wake_ = true;
    }
    index_cv_.notify_one();
    {
      // Until the mark moves past the one followIndexMark() last saw (it may have already).
      std::unique_lock lock(mark_mu_);
      mark_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return published_mark_ != dedup_floor_; });
    }
    if (auto r = followIndexMark(rc); !r) return r;
    if (recent_.size() < options_.max_unindexed_keys) return Ok();
    rc = SQLITE_BUSY;
    return Unexpected(Error(ErrorCode::kUnavailable, "the dedup index is behind; retry shortly"));
  }

  // Before each group: keys at or below the indexer's mark leave memory. A mark that went
  // back (the sidecar was rebuilt) brings the keys above it back from the store itself.
  Result<void> followIndexMark(int& rc) {
    std::uint64_t generation;
    MessageId mark;
    {
      std::lock_guard lock(mark_mu_);
      generation = mark_generation_;
      mark = published_mark_;
    }
    if (generation != dedup_generation_) {
      closeIndexedReader();
      dedup_generation_ = generation;
    }
    if (mark < dedup_floor_) return loadRecent(mark, rc);
    while (!recent_order_.empty() && recent_order_.front().first <= mark) {
      auto it = recent_.find(*recent_order_.front().second);
      filter_.add(KeyFilter::hash(it->first));
      recent_order_.pop_front();
      recent_.erase(it);
    }
    dedup_floor_ = mark;
    return Ok();
  }

  // recent_ := the keys of every stored message with an id above `floor` (at open, and
  // after the sidecar was rebuilt).
  Result<void> loadRecent(MessageId floor, int& rc) {
    recent_.clear();
    recent_order_.clear();
    auto scan = Statement::prepare(writer_,
                                   "SELECT control_id, sending_facility, id, ack_code FROM messages"
                                   " WHERE id > ?1 AND control_id IS NOT NULL ORDER BY id");
    if (!scan) {
      rc = SQLITE_ERROR;
      return Unexpected(scan.error());
    }
    scan->bindInt(1, floor);
    while ((rc = sqlite3_step(scan->get())) == SQLITE_ROW) {
      dedupKey(scan->textView(0), scan->textView(1), key_);
      const MessageId id = scan->integer(2);
      auto [it, added] = recent_.emplace(key_, DedupEntry{id, parseAckCode(scan->text(3)).value_or(AckCode::kAA)});
      if (added) remember(it);
    }
    if (rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "read the keys above the index mark"));
    dedup_floor_ = floor;
    return Ok();
  }

  // At open: filter_ := every key in the sidecar (all at or below its mark). When the
  // sidecar cannot be read now, every key is looked up there instead (slower, correct).
  void loadFilter() {
    filter_.clear();
    filter_complete_ = false;
    if (dedup_floor_ == 0) {
      filter_complete_ = true;  // nothing at or below the mark yet
      return;
    }
    int rc = SQLITE_OK;
    if (dedup_db_ == nullptr) {
      if (auto r = openIndexedReader(rc); !r) {
        log_->warn("dedup index unreadable at open, every key will be looked up: {}", r.error().message);
        return;
      }
    }
    auto scan = Statement::prepare(dedup_db_, "SELECT control_id, sending_facility FROM dedup_index");
    if (!scan) return;
    std::size_t n = 0;
    while ((rc = sqlite3_step(scan->get())) == SQLITE_ROW) {
      dedupKey(scan->textView(0), scan->textView(1), key_);
      filter_.add(KeyFilter::hash(key_));
      ++n;
    }
    if (rc != SQLITE_DONE) {
      log_->warn("dedup index unreadable at open, every key will be looked up: {}", sqlite3_errmsg(dedup_db_));
      filter_.clear();
      return;
    }
    filter_complete_ = true;
    log_->debug("dedup filter loaded with {} keys", n);
  }

  // The id of the message with m's key at or below the mark, if the sidecar has one. The
  // first lookup of a group opens a read transaction (`reading`), so that every lookup
  // of the group sees one snapshot, at least as new as the mark followIndexMark() read.
  Result<std::optional<MessageId>> findIndexed(const InboundMessage& m, bool& reading, int& rc) {
    if (dedup_db_ == nullptr) {
      if (auto r = openIndexedReader(rc); !r) return Unexpected(r.error());
    }
    if (!reading) {
      rc = sqlite3_exec(dedup_db_, "BEGIN", nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) return Unexpected(sqliteError(dedup_db_, rc, "begin reading the dedup index"));
      reading = true;
    }
    dedup_find_.bindText(1, m.control_id);
    dedup_find_.bindText(2, m.sending_facility);
    rc = sqlite3_step(dedup_find_.get());
    std::optional<MessageId> id;
    if (rc == SQLITE_ROW) id = dedup_find_.integer(0);
    dedup_find_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Unexpected(sqliteError(dedup_db_, rc, "read the dedup index"));
    return id;
  }

  void endIndexedRead(bool& reading) {
    if (reading) (void)sqlite3_exec(dedup_db_, "COMMIT", nullptr, nullptr, nullptr);
    reading = false;
  }

  // The writer's read-only use of the sidecar: its own connection, on the sidecar as the
  // main database (attached to the write connection, BEGIN IMMEDIATE would lock it too).
  Result<void> openIndexedReader(int& rc) {
    const std::string path = patientIndexPath(options_.path);
    sqlite3* db = nullptr;
    rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Error e = sqliteError(db, rc, "open the dedup index " + path);
      sqlite3_close_v2(db);
      return Unexpected(std::move(e));
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count()));
    auto find = Statement::prepare(db, "SELECT id FROM dedup_index WHERE control_id = ?1 AND sending_facility = ?2");
    if (!find) {
      rc = SQLITE_ERROR;
      sqlite3_close_v2(db);
      return Unexpected(find.error());
    }
    if (auto r = exec(db, "PRAGMA cache_size=-2048"); !r) {
      rc = SQLITE_ERROR;
      find = Statement();
      sqlite3_close_v2(db);
      return r;
    }
    dedup_db_ = db;
    dedup_find_ = std::move(*find);
    return Ok();
  }

  void closeIndexedReader() {
    dedup_find_ = Statement();
    if (dedup_db_ != nullptr) sqlite3_close_v2(dedup_db_);
    dedup_db_ = nullptr;
  }

  // The code the stored message `id` was answered (nullopt: no such message).
  Result<std::optional<AckCode>> ackCodeOf(MessageId id, int& rc) {
    Statement& q = writer_statements_[kAckCodeOf];
    q.bindInt(1, id);
    rc = sqlite3_step(q.get());
    std::optional<AckCode> ack;
    if (rc == SQLITE_ROW) ack = parseAckCode(q.text(0)).value_or(AckCode::kAA);
    q.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "read the first copy"));
    return ack;
  }

  // Binds one row of an insert: parameters base+1 .. base+kInsertColumns.
  static void bindRow(Statement& insert, int base, MessageId id, const InboundMessage& m) {
    insert.bindInt(base + 1, id);
    insert.bindInt(base + 2, toMicros(m.received_at));
    insert.bindText(base + 3, m.listener);
    insert.bindText(base + 4, m.peer_identity);
    insert.bindText(base + 5, m.message_type);
    insert.bindText(base + 6, m.trigger);
    insert.bindTextOrNull(base + 7, m.control_id);
    insert.bindText(base + 8, m.sending_application);
    insert.bindText(base + 9, m.sending_facility);
    insert.bindTextOrNull(base + 10, m.patient_id);
    insert.bindText(base + 11, m.ack_mode == AckMode::kEnhanced ? "enhanced" : "original");
    insert.bindText(base + 12, ackCodeName(positiveAck(m.ack_mode)));
    insert.bindInt(base + 13, static_cast<std::int64_t>(m.raw.size()));
    insert.bindBlob(base + 14, m.raw);
  }

  // The resource index entries of a new message (migration 6), in its transaction. OR
  // REPLACE: a second reference to the same resource in one message replaces the first
  // instead of failing the group.
  Result<void> indexResources(const InboundMessage& m, MessageId id, StoreReceipt& receipt, int& rc) {
    Statement& exists = writer_statements_[kResourceExists];
    Statement& insert = writer_statements_[kIndexResource];
    receipt.resource_existed.reserve(m.resources.size());
    for (const ResourceRef& ref : m.resources) {
      exists.bindText(1, ref.type);
      exists.bindText(2, ref.id);
      rc = sqlite3_step(exists.get());
      exists.reset();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "find resource"));
      receipt.resource_existed.push_back(rc == SQLITE_ROW);
      insert.bindText(1, ref.type);
      insert.bindText(2, ref.id);
      insert.bindInt(3, id);
      insert.bindInt(4, ref.entry);
      rc = sqlite3_step(insert.get());
      insert.reset();
      if (rc != SQLITE_DONE) return Unexpected(sqliteError(writer_, rc, "index resource"));
    }
    return Ok();
  }

  SqliteStoreOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  int lock_fd_ = -1;  // the writer lock (lockForWriting)

  // Writer state: touched only by the writer thread (and init/destructor).
  sqlite3* writer_ = nullptr;
  std::vector<Statement> writer_statements_;
  bool failing_ = false;
  // Duplicates (see followIndexMark): the keys of the messages above dedup_floor_, by key
  // and in id order; the connection reading the sidecar's dedup_index.
  std::unordered_map<std::string, DedupEntry> recent_;
  // Ids and keys (the map nodes' own: a node's key stays put until it is erased).
  std::deque<std::pair<MessageId, const std::string*>> recent_order_;
  MessageId dedup_floor_ = 0;
  std::uint64_t dedup_generation_ = 0;
  sqlite3* dedup_db_ = nullptr;
  Statement dedup_find_;
  KeyFilter filter_;                                        // the keys at or below dedup_floor_ (and maybe more)
  bool filter_complete_ = false;                            // false: filter_ may miss some, every key is looked up
  std::unordered_map<std::string, DedupEntry> group_keys_;  // writeGroup's scratch
  std::vector<std::size_t> fresh_;                          // ... the new messages' positions
  std::string key_;                                         // ... one key

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

  std::shared_ptr<WalCheckpointer> checkpointer_;  // null: SQLite's automatic checkpoint
  std::optional<WalCheckpointer::WriteScope> turn_;  // writer thread: held from BEGIN to COMMIT/ROLLBACK

  std::mutex read_mu_;  // guards reader_, reader_has_index_
  sqlite3* reader_ = nullptr;
  bool reader_has_index_ = false;

  sqlite3* index_db_ = nullptr;  // the indexer's connection: indexer thread (and init) only
  bool index_failing_ = false;   // indexer thread only
  // The store's last id when the indexer first opened (the first round's bound).
  std::int64_t last_at_open_ = std::numeric_limits<std::int64_t>::max();
  std::mutex index_mu_;          // guards the two flags
  std::condition_variable index_cv_;
  bool index_wake_ = false;
  bool index_stop_ = false;
  std::atomic<bool> index_wake_sent_{false};
  std::atomic<MessageId> indexed_through_{0};  // for stats(); the writer reads the pair below
  std::mutex mark_mu_;                         // guards the two below (publishIndexMark)
  std::condition_variable mark_cv_;            // the mark moved (waitForIndexer)
  std::uint64_t mark_generation_ = 0;          // +1 each time the indexer opens the sidecar
  MessageId published_mark_ = 0;
  std::vector<std::pair<std::string, std::int64_t>> index_rows_;  // indexOnce's scratch (indexer thread)
  struct DedupRow {
    std::string control_id, sending_facility;
    std::int64_t id;
    bool operator<(const DedupRow& o) const {
      return std::tie(control_id, sending_facility, id) < std::tie(o.control_id, o.sending_facility, o.id);
    }
  };
  std::vector<DedupRow> dedup_rows_;  // ... and its dedup keys
  std::atomic<std::uint64_t> index_runs_{0}, index_failures_{0};
  std::thread indexer_;

  std::atomic<std::uint64_t> commits_{0}, failed_commits_{0}, stored_{0}, duplicates_{0}, largest_batch_{0};
};

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteStoreOptions& options) {
  if (options.max_batch == 0) {
    return Unexpected(Error(ErrorCode::kInvalidArgument, "max_batch must be at least 1"));
  }
  auto store = std::make_unique<SqliteStoreImpl>(options);
  if (auto r = store->init(); !r) return Unexpected(r.error());
  return std::unique_ptr<SqliteStore>(std::move(store));
}

}  // namespace courier::store
